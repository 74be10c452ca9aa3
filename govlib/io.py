"""Atomic file and folder writes and file locks: one implementation each.

A reader never sees half a file: :func:`write_bytes_atomic` and :func:`write_text_atomic`
write a temporary sibling (``.<name>.tmp-<pid>``) and rename it over the target;
:func:`atomic_path` gives writers that need a path (Parquet, ZIP) the same guarantee.
On any failure (a full disk, an exception, Ctrl-C) the old file stays as it was and no
temporary file is left behind. :func:`replace_dir` swaps a finished folder in with
renames. :func:`file_lock` is an exclusive inter-process lock (the ``filelock`` library:
``flock`` on POSIX, ``LockFileEx`` on Windows).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["LockHeld", "atomic_path", "file_lock", "replace_dir", "write_bytes_atomic", "write_text_atomic"]


class LockHeld(Exception):
    """:func:`file_lock` with ``blocking=False`` found the lock held by another holder."""


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write; renamed over ``path`` when the block ends without error.

    Parameters
    ----------
    path : path
        The file to replace. Its folder must exist.

    Yields
    ------
    pathlib.Path
        ``.<name>.tmp-<pid>`` beside ``path``; removed if the block raises.
    """
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, p)
    except BaseException:  # e.g. a full disk: the old file stays, no temporary file is left behind
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and a rename: a reader never sees half a file."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` (``encoding``, newlines as given) to ``path`` atomically, as :func:`write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode(encoding))


def replace_dir(src: str | os.PathLike, dest: str | os.PathLike) -> None:
    """Replace folder ``dest`` by the finished folder ``src`` with renames (same file system).

    ``dest`` is at any moment the old or the new folder, or (between two renames) absent
    while the old one waits at ``.<name>.old-<pid>`` beside it; if the second rename fails,
    the old folder is put back. The old folder is removed at the end.
    """
    src, dest = Path(src), Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    if dest.exists():
        os.rename(dest, old)
    try:
        os.rename(src, dest)
    except OSError:
        if old.exists():
            os.rename(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def file_lock(path: str | os.PathLike, *, blocking: bool = True) -> Iterator[Path]:
    """Hold an exclusive lock on the lock file ``path`` (created if absent) for the block.

    Parameters
    ----------
    path : path
        The lock file (e.g. ``<data>/.review_labels.lock``); it is left in place.
    blocking : bool
        Wait for another holder to release it (default); else raise :class:`LockHeld`.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(os.fspath(path), timeout=-1 if blocking else 0)
    try:
        lock.acquire()
    except Timeout:
        raise LockHeld(f"{path} is locked by another process") from None
    try:
        yield Path(path)
    finally:
        lock.release()
