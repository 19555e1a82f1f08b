"""The program's interpreter: ``python -I -u -c <this source> NONCE_FD REPORT_FD WORK MARKER`` (stdlib only).

The pass verdict is a random nonce written to the report pipe, which only this module's audit hook (PEP 578)
holds and writes, and only when called from this module's own frame at its last line: a point reached only when
``exec`` of the program (solution and tests) returned normally. ``sys.exit``, ``os._exit``, an exception, a
printed marker or a call to ``sys.audit`` from anywhere else writes nothing.

The hook is installed before the program's first line and cannot be removed. It holds the nonce in its defaults,
which the program cannot reach: audit hooks are not exposed, and the hook refuses what would reach them or raw
memory (``gc`` object walks, other threads' frames, tracing, ctypes, code objects not compiled from source or read
from the installation's own ``.pyc`` files, ``/proc``, ``/sys``, devices, ``*/mem``), what would start a program
without the hook (exec, spawn), and, for the rlimit backend where the host filesystem is visible, writes and
directory descriptors outside the work directory. The nonce
reached this process through a pipe read before the hook went in; it is in no argv, environment, file or global.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType

# After the program starts, the hook and its helpers call only what was bound when they were made: builtins, str
# and list methods, C functions. Python-level library code (posixpath, os.fsdecode) may have been replaced by then.


Rule = Callable[..., bool]


def _path_rules(work: str) -> tuple[Rule, Rule, Rule]:
    """(open allowed?, mutation allowed?, import refused?) for the hook."""
    import os
    import posixpath
    import stat

    is_type, split, join, decode, any_of = type, str.split, str.join, bytes.decode, any
    text_t, bytes_t, int_t, plain = str, bytes, int, (int, bool, float, tuple)
    cwd, stat_of, is_dir = os.getcwd(), os.stat, stat.S_ISDIR
    inside = (posixpath.realpath(work).rstrip("/") + "/") if work else ""
    devices = frozenset(("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/stdin",
                         "/dev/stdout", "/dev/stderr"))
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    modules = frozenset(("ctypes", "_ctypes", "_posixsubprocess", "_xxsubinterpreters", "_interpreters",
                         "_xxinterpchannels", "cffi", "_cffi_backend", "_dbm", "_gdbm", "readline"))

    def normal(text: str) -> str:
        """Absolute, with . and .. folded away (no symlinks: the work directory has none, and none can be made)."""
        parts: list[str] = []
        for part in split(text if text[:1] == "/" else cwd + "/" + text, "/"):
            if part == "..":
                parts[-1:] = []
            elif part not in ("", "."):
                parts.append(part)
        return "/" + join("/", parts)

    def path_of(value: object) -> str | None:
        """The path an event names, or None when it is not a plain str or bytes (a PathLike could lie twice)."""
        if is_type(value) is text_t:
            return normal(value)  # type: ignore[arg-type]
        if is_type(value) is bytes_t:
            return normal(decode(value, "utf-8", "surrogateescape"))  # type: ignore[arg-type]
        return None

    def open_allowed(value: object, flags: object) -> bool:
        """No /proc, no devices but the harmless ones, no file named like process memory; writes only in work."""
        if is_type(value) is int_t:
            return True
        path = path_of(value)
        if path is None or split(path, "/")[-1] in ("mem", "kcore", "kmem"):
            return False
        if (path + "/").startswith(("/proc/", "/dev/", "/sys/")) and path not in devices:
            return False
        if not inside or (path + "/").startswith(inside):
            return True
        if is_type(flags) is int_t and flags & write_flags:  # type: ignore[operator]
            return False
        try:  # a directory outside would give a dir_fd that every later check reads as the work directory
            return not is_dir(stat_of(path).st_mode)
        except OSError:
            return True

    def mutation_allowed(args: tuple[object, ...]) -> bool:
        """Every path argument of a mutating event is inside the work directory (ints: modes, ids, dir fds)."""
        if not inside:
            return True
        for value in args:
            if is_type(value) is text_t or is_type(value) is bytes_t:
                path = path_of(value)
                if path is None or not (path + "/").startswith(inside):
                    return False
            elif value is not None and is_type(value) not in plain:
                return False
        return True

    def module_refused(name: object, filename: object) -> bool:
        stem = split(split(path_of(filename) or "", "/")[-1], ".")[0]
        first = split(name, ".")[0] if is_type(name) is text_t else ""  # type: ignore[arg-type]
        return any_of(n in modules or n.startswith(("_test", "_xx")) for n in (first, stem) if n)

    return open_allowed, mutation_allowed, module_refused


def _bytecode_rule() -> Rule:
    """marshal.loads only inside a stock SourceFileLoader's get_code reading a .pyc of this installation."""
    import posixpath
    from importlib import _bootstrap_external as external

    is_type, get_attr, keys_of, all_of, any_of, names_of, text_t = type, getattr, vars, all, any, frozenset, str
    roots = tuple(posixpath.realpath(p).rstrip("/") + "/" for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
    loader, get_code = external.SourceFileLoader, external.SourceLoader.get_code.__code__
    compile_bytecode = vars(external)["_compile_bytecode"].__code__
    classes = {cls: names_of(keys_of(cls)) for cls in loader.__mro__}
    methods = {name: get_attr(loader, name) for name in ("get_data", "get_filename", "path_stats")}

    def bytecode_allowed(caller: FrameType) -> bool:
        outer = caller.f_back
        if caller.f_code is not compile_bytecode or outer is None or outer.f_code is not get_code:
            return False
        self, value = outer.f_locals.get("self"), outer.f_locals.get("bytecode_path")
        if is_type(self) is not loader or is_type(value) is not text_t:
            return False
        path: str = value  # type: ignore[assignment]
        if not path.startswith(roots) or ".." in path:
            return False
        if any_of(names_of(keys_of(cls)) != names for cls, names in classes.items()):
            return False
        return all_of(get_attr(loader, n) is f for n, f in methods.items()) and not (keys_of(self).keys() & methods)

    return bytecode_allowed


def _seal(bottom: FrameType, nonce_fd: int, report_fd: int, work: str) -> None:
    """Read the nonce, then install the hook that alone can report a pass; leaves nothing the program can use."""
    import _posixsubprocess
    import os
    import types

    def no_fork_exec(*args: object) -> None:
        raise PermissionError("rankinv sandbox: starting programs refused")

    vars(_posixsubprocess)["fork_exec"] = no_fork_exec  # subprocess imports, but cannot start a program
    nonce = b""
    while chunk := os.read(nonce_fd, 64):
        nonce += chunk
    os.close(nonce_fd)
    tail = max(line for _, _, line in bottom.f_code.co_lines() if line is not None)
    open_allowed, mutation_allowed, module_refused = _path_rules(work)
    bytecode_allowed = _bytecode_rule()
    refused = frozenset((
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
        "sys._current_exceptions", "sys.settrace", "sys.setprofile", "sys._settraceallthreads",
        "sys._setprofileallthreads", "sys.monitoring.register_callback", "marshal.load",
        "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile", "subprocess.Popen", "os.chdir",
        "os.symlink", "os.link", "os.chroot", "os.setns", "os.unshare",
    ))
    mutating = frozenset(("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod",
                          "os.chown", "os.utime", "os.mkfifo", "os.setxattr", "os.removexattr", "shutil.rmtree",
                          "shutil.move", "shutil.chown", "shutil.copytree", "shutil.unpack_archive",
                          "shutil.make_archive", "sqlite3.connect"))

    def hook(event: str, args: tuple[object, ...], *, _bottom: FrameType = bottom, _tail: int = tail,  # type: ignore[no-untyped-def]
             _frame=sys._getframe, _write=os.write, _exit=os._exit, _fd: int = report_fd,
             _nonce: bytes = nonce + b"\n", _refused=refused, _mutating=mutating, _open=open_allowed,
             _mutation=mutation_allowed, _module=module_refused, _bytecode=bytecode_allowed,
             _coroutine=types.coroutine.__code__, _err=PermissionError) -> None:
        if event == "rankinv.pass":
            if _frame(1) is _bottom and _bottom.f_lineno == _tail:
                _write(_fd, _nonce)
                _exit(0)
            return
        if (event in _refused or event.startswith("ctypes.")
                or (event == "import" and _module(args[0], args[1]))
                or (event == "open" and not _open(args[0], args[2]))
                or (event == "marshal.loads" and not _bytecode(_frame(1)))
                or (event == "code.__new__" and _frame(1).f_code is not _coroutine)  # it only sets a flag
                or (event in _mutating and not _mutation(args))):
            raise _err(f"rankinv sandbox: {event} refused")

    sys.addaudithook(hook)


_seal(sys._getframe(0), int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])  # argv[4]: the sample's marker
with open("main.py", encoding="utf-8") as _file:
    _code = compile(_file.read(), "main.py", "exec")
_globals = {"__name__": "__main__", "__file__": "main.py", "__builtins__": __builtins__}
sys.argv[:] = ["main.py"]
exec(_code, _globals)
sys.audit("rankinv.pass")
