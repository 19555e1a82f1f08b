# Load code that was never compiled from source: marshal.loads directly, and a hand-written .pyc imported from the
# work directory (the road to out-of-range bytecode that reads memory); passes only if either loads.
import importlib.util
import marshal
import sys

code = compile("VALUE = 42", "forged", "exec")
loaded = []
try:
    exec(marshal.loads(marshal.dumps(code)), {})
    loaded.append("marshal")
except Exception as exc:
    print(type(exc).__name__, exc)
with open("forged.pyc", "wb") as f:
    f.write(importlib.util.MAGIC_NUMBER + b"\0" * 12 + marshal.dumps(code))
sys.path.insert(0, ".")
try:
    import forged

    loaded.append(forged.VALUE)
except Exception as exc:
    print(type(exc).__name__, exc)
assert loaded
