"""Errors of a batch run, and the out-of-space check every writer of the batch shares.

Its own module because the worker, the pool and the publisher all turn ``ENOSPC`` into
the same :class:`DiskFull` message.
"""

from __future__ import annotations

import errno
from contextlib import contextmanager
from pathlib import Path

from govlib.errors import GovlibError


class RunError(GovlibError):
    """The batch could not start (another run holds the lock, the kernel is missing...)."""


class DiskFull(GovlibError):
    """No space left (``ENOSPC``, or a disk quota: ``EDQUOT``) while writing ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(
            f"no space left on {path}: free space on its file system and run again "
            "(--resume reuses the reports already done)"
        )


def is_disk_full(exc: BaseException | None) -> bool:
    """``exc`` or one of its causes is an out-of-space ``OSError`` (pyarrow's carry only the text)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and (
            exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(exc)
        ):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


@contextmanager
def writing(path: str | Path):
    """Turn an out-of-space error of the writes in this block into :class:`DiskFull` naming ``path``."""
    try:
        yield
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(path) from exc
        raise
