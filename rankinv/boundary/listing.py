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
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

Listing = dict[str, os.DirEntry[str]]
_memo: ContextVar[dict[str, Listing | OSError] | None] = ContextVar("rankinv_listings", default=None)


@contextlib.contextmanager
def listed_once() -> Iterator[None]:
    """Within this block (this thread), every folder is listed at most once."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


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
