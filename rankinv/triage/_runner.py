"""The program's interpreter: ``python -I -u -c <this source> NONCE_FD REPORT_FD WORK MARKER`` (stdlib only).

The pass verdict is a random nonce written to the report pipe, which only this module's audit hook (PEP 578)
holds and writes, and only when called from this module's own frame at its last line: a point reached only when
``exec`` of the program (solution and tests) returned normally. ``sys.exit``, ``os._exit``, an exception, a
printed marker or a call to ``sys.audit`` from anywhere else writes nothing.

The hook is installed before the program's first line and cannot be removed. It holds the nonce in its defaults,
which the program cannot reach: audit hooks are not exposed, and the hook refuses what would reach them or raw
memory (``gc`` object walks, other threads' frames, tracing, ctypes, crafted code objects, ``*/mem``), what would
start an interpreter without the hook (exec, spawn), and, for the rlimit backend where the host filesystem is
visible, writes outside the work directory. The nonce reached this process through a pipe read before the hook
went in; it is in no argv, environment, file or global. The harness does not know it.
"""

import sys
from types import FrameType


def _seal(bottom: FrameType, nonce_fd: int, report_fd: int, work: str) -> None:
    """Read the nonce, then install the hook that alone can report a pass; returns nothing the program can use."""
    import os
    import posixpath

    nonce = b""
    while True:
        chunk = os.read(nonce_fd, 64)
        if not chunk:
            break
        nonce += chunk
    os.close(nonce_fd)
    tail = max(line for _, _, line in bottom.f_code.co_lines() if line is not None)
    refused = frozenset((
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
        "sys._current_exceptions", "sys.settrace", "sys.setprofile", "sys._settraceallthreads",
        "sys._setprofileallthreads", "sys.monitoring.register_callback", "code.__new__", "os.exec",
        "os.posix_spawn", "os.spawn", "os.system", "os.startfile", "subprocess.Popen", "os.chdir",
        "os.symlink", "os.link", "os.chroot", "os.setns", "os.unshare",
    ))
    modules = frozenset(("ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters", "_interpreters",
                         "_xxinterpchannels", "cffi", "_cffi_backend"))
    mutating = frozenset(("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod",
                          "os.chown", "os.utime", "os.mkfifo", "os.mknod", "shutil.rmtree", "shutil.move",
                          "shutil.chown", "shutil.copytree", "shutil.unpack_archive", "shutil.make_archive"))
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    memory_files = frozenset(("mem", "kcore", "kmem"))
    inside = (posixpath.realpath(work).rstrip("/") + "/") if work else ""

    def hook(event, args, *, _bottom=bottom, _tail=tail, _frame=sys._getframe, _write=os.write,  # type: ignore[no-untyped-def]
             _exit=os._exit, _fd=report_fd, _nonce=nonce + b"\n", _refused=refused, _modules=modules,
             _mutating=mutating, _write_flags=write_flags, _memory=memory_files, _inside=inside,
             _real=posixpath.realpath, _base=posixpath.basename, _str=str, _bytes=bytes, _int=int,
             _type=type, _err=PermissionError, _decode=os.fsdecode):
        if event == "rankinv.pass":
            if _frame(1) is _bottom and _bottom.f_lineno == _tail:
                _write(_fd, _nonce)
                _exit(0)
            return
        if event in _refused:
            raise _err(f"rankinv sandbox: {event} refused")
        if event == "import":
            name = args[0]
            if _type(name) is _str and (name.split(".")[0] in _modules or name.startswith(("_test", "_xx"))):
                raise _err(f"rankinv sandbox: import {name} refused")
            return
        if event.startswith("ctypes."):
            raise _err(f"rankinv sandbox: {event} refused")
        if event == "open":
            path, flags = args[0], args[2]
            if _type(path) is _int:
                return
            if _type(path) is not _str and _type(path) is not _bytes:
                raise _err("rankinv sandbox: open of a non-str path refused")
            text = _decode(path)
            if _base(text.rstrip("/")) in _memory:
                raise _err("rankinv sandbox: reading process memory refused")
            writes = _type(flags) is _int and flags & _write_flags
            if _inside and writes and not (_real(text) + "/").startswith(_inside):
                raise _err("rankinv sandbox: writing outside the work directory refused")
            return
        if event in _mutating and _inside:
            path = args[0]
            if _type(path) is _int:
                return
            if (_type(path) is not _str and _type(path) is not _bytes) or not (
                    _real(_decode(path)) + "/").startswith(_inside):
                raise _err(f"rankinv sandbox: {event} outside the work directory refused")

    sys.addaudithook(hook)


_seal(sys._getframe(0), int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])  # argv[4]: the sample's marker
del _seal, FrameType
with open("main.py", encoding="utf-8") as _file:
    _code = compile(_file.read(), "main.py", "exec")
_globals = {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__}
sys.argv[:] = ["main.py"]
exec(_code, _globals)
sys.audit("rankinv.pass")
