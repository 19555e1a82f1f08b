"""Each folder listed once per one-shot pass, and the questions a listing answers asked of it, not of the disk.

A one-shot ``rankinv status`` of 10,000 runs asks each run folder the same questions several times: the layout walk
lists it, the fingerprint lists it, the inspection lists it for checkpoints, trainer states, logs and event files,
and asks ``is_dir``/``is_file`` of names the listing already holds. Inside :func:`listed_once`, :func:`entries`
lists a folder once and keeps the entries (``os.DirEntry`` keeps its type from the listing and its ``stat`` once
taken), and :func:`is_dir`, :func:`is_file`, :func:`exists` answer from the parent's listing when the parent was
listed and the name is no symlink (a symlink, or an unlisted parent: the disk is asked, as ``Path`` would). Outside
the block every call asks the disk. The answers are those of the moment of the listing: only a one-shot pass (which
reports what it found as it started) turns this on, never the daemon.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path

Listing = dict[str, os.DirEntry[str]]
_memo: ContextVar[dict[str, Listing | OSError] | None] = ContextVar("rankinv_listings", default=None)
_last_real: ContextVar[list[str] | None] = ContextVar("rankinv_last_real", default=None)  # [folder, its real path]


@contextlib.contextmanager
def listed_once() -> Iterator[None]:
    """Within this block (this thread), every folder is listed at most once."""
    token, real = _memo.set({}), _last_real.set(["", ""])
    try:
        yield
    finally:
        _memo.reset(token)
        _last_real.reset(real)


def _scan(folder: str) -> Listing:
    with os.scandir(folder) as it:
        return {e.name: e for e in it}


def listing(folder: str | Path) -> Listing:
    """The folder's entries by name, as ``os.scandir`` lists them (raises its ``OSError`` the same way)."""
    memo = _memo.get()
    if memo is None:
        return _scan(os.fspath(folder))
    key = os.fspath(folder)
    got = memo.get(key)
    if got is None:
        try:
            got = memo[key] = _scan(key)
        except OSError as exc:
            memo[key] = exc
            raise
    if isinstance(got, OSError):
        raise got
    return got


def entries(folder: str | Path) -> list[os.DirEntry[str]]:
    """:func:`listing` as a list, in the order the folder listed them."""
    return list(listing(folder).values())


def _listed(path: Path) -> tuple[bool, os.DirEntry[str] | None]:
    """Whether a kept listing of the path's parent answers for it (not when there is none, nor for a symlink: its
    target is the disk's to say), and the path's entry there (None: no such name)."""
    memo = _memo.get()
    parent = None if memo is None else memo.get(os.path.dirname(os.fspath(path)))
    if parent is None or isinstance(parent, OSError):
        return False, None
    entry = parent.get(path.name)
    return (False, None) if entry is not None and entry.is_symlink() else (True, entry)


def is_dir(path: Path) -> bool:
    """``path.is_dir()``."""
    known, entry = _listed(path)
    return (entry is not None and entry.is_dir()) if known else path.is_dir()


def is_file(path: Path) -> bool:
    """``path.is_file()``."""
    known, entry = _listed(path)
    return (entry is not None and entry.is_file()) if known else path.is_file()


def exists(path: Path) -> bool:
    """``path.exists()``."""
    known, entry = _listed(path)
    return entry is not None if known else path.exists()


def real_child(path: str | Path, real: Callable[[str], str]) -> str | None:
    """``os.path.realpath(path)`` from its parent's kept listing, when that names it and not as a symlink: the
    real path of the parent (``real(parent)``, asked of the disk, kept for the next path in the same folder only)
    joined with the name. None when no kept listing answers (the caller asks the disk as before).

    The parent's real path is that of the first path asked in it since another folder was: a folder swapped for a
    symlink in between is not seen (as :mod:`rankinv.boundary.files` says of an intermediate directory swapped
    between the check and the open); the one-entry keep bounds that to the reads of one folder in a row."""
    memo, last = _memo.get(), _last_real.get()
    if memo is None or last is None:
        return None
    text = os.fspath(path)
    parent, name = os.path.split(text)
    folder = memo.get(parent)
    if folder is None or isinstance(folder, OSError):
        return None
    entry = folder.get(name)
    if entry is None or entry.is_symlink():
        return None
    if last[0] != parent:
        last[:] = [parent, real(parent)]
    return os.path.join(last[1], name)
