"""Publishing a batch: staging, the month's lock, replacing folders, the month's files.

Everything is written under ``<out>/.staging/`` and each market folder is renamed into
``<out>/<YYYY-MM>/<MARKET>/`` once all its notebooks are done, so a folder a reader finds
is complete. A market's (or the roll-up's) new folder replaces the published one only
when all of its reports succeeded: otherwise the published folder is kept untouched and
the index lists its reports as "from the previous run". The month's ``kpis.csv`` and
``index.html`` are replaced atomically, last.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import ExitStack
from pathlib import Path

from govlib.errors import UsageError
from govlib.io import LockHeld, file_lock, replace_dir, write_bytes_atomic
from govlib.report.batch.arguments import MARKET_CODE
from govlib.report.batch.errors import DiskFull, RunError, writing
from govlib.report.batch.index import render_index
from govlib.report.batch.result import BatchResult
from govlib.report.render.pdf import html_to_pdf

STAGING = ".staging"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out: Path, month_dir: Path) -> None:
    """Delete staging folders of dead runs; put back a folder a killed run had moved aside."""
    staging = out / STAGING
    if staging.exists():
        for d in staging.iterdir():
            m = re.match(r"^\d{4}-\d{2}-(\d+)$", d.name)
            if d.is_dir() and m and not _pid_alive(int(m.group(1))):
                shutil.rmtree(d, ignore_errors=True)
    if month_dir.exists():  # called under the month's lock: no other run is publishing into month_dir
        for d in month_dir.glob(".*.old-*"):
            m = re.match(r"^\.(.+)\.old-\d+\Z", d.name)
            if m and not (month_dir / m.group(1)).exists():
                # a run killed between replace_dir's renames: put it back
                os.rename(d, month_dir / m.group(1))
            else:
                shutil.rmtree(d, ignore_errors=True)


def publish_or_keep(
    src: Path, dest: Path, result: BatchResult, *, failed: bool, complete: bool = True
) -> None:
    """Publish ``src`` at ``dest`` unless that would replace published reports by failed ones.

    ``failed``: some report of the folder failed in this run; then a published ``dest`` is
    kept untouched (:func:`~govlib.report.batch.index.render_index` lists it as the previous run). With nothing
    published yet, a ``complete`` folder is published with its failed reports (their HTML
    shows the error); an incomplete one (a write failed) never is.
    """
    if failed and (dest.exists() or not complete):
        return
    replace_dir(src, dest)
    result.published.add(dest.name)


def write_month_files(
    result: BatchResult, _=lambda s: s, fmt=None, lang: str = "en_GB", pdf: str = ""
) -> None:
    """The month's ``kpis.csv`` then ``index.html`` (in ``lang``, formats ``fmt``), each atomically.

    With ``pdf`` (a browser), also ``index.pdf``. A full disk raises :class:`DiskFull` after all.
    """

    month_dir, first = result.month_dir, None
    for target in (month_dir / "kpis.csv", result.index):
        try:
            with writing(target):
                month_dir.mkdir(parents=True, exist_ok=True)
                if target.name == "kpis.csv":
                    write_month_kpis(month_dir)
                else:
                    write_bytes_atomic(target, render_index(result, month_dir, _, fmt, lang).encode("utf-8"))
                    if pdf:
                        html_to_pdf(target, target.with_suffix(".pdf"), browser=pdf)
        except DiskFull as exc:  # the previous file stays; still try the index, which names the failures
            first = first or exc
    if first is not None:
        raise first


def write_month_kpis(month_dir: Path) -> Path | None:
    """``<month>/kpis.csv``: the published markets' ``kpis.csv`` concatenated in market order."""

    parts = sorted(p for p in month_dir.glob("*/kpis.csv") if MARKET_CODE.match(p.parent.name))
    target = month_dir / "kpis.csv"
    if not parts:
        if target.exists():
            target.unlink()
        return None
    lines: list[bytes] = []
    for i, p in enumerate(parts):
        body = p.read_bytes().splitlines(keepends=True)
        lines += body if i == 0 else body[1:]
    write_bytes_atomic(target, b"".join(lines))
    return target


def open_staging(out: Path, month: str) -> tuple[ExitStack, Path]:
    """Take the month's lock and make this run's staging folder; return the lock file and the folder.

    Raises
    ------
    UsageError
        ``out`` cannot be written.
    RunError
        Another run of ``month`` holds the lock on ``out``.
    """
    lock = ExitStack()  # released by the caller with .close()
    try:
        (out / STAGING).mkdir(parents=True, exist_ok=True)
        lock.enter_context(file_lock(out / STAGING / f"{month}.lock", blocking=False))
    except LockHeld:
        raise RunError(
            f"another 'govlib run' for {month} is writing to {out}; wait for it to finish"
        ) from None
    except OSError as exc:  # e.g. a read-only file system
        raise UsageError(f"cannot write to {out}: {(exc.strerror or str(exc)).lower()}") from None
    clean_stale(out, out / month)
    stage = out / STAGING / f"{month}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    (stage / ".work").mkdir(parents=True)
    return lock, stage
