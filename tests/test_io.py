"""govlib.io: atomic writes leave the old file or the new one, never half or a temporary; locks exclude."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from govlib.io import LockHeld, atomic_path, file_lock, replace_dir, write_bytes_atomic, write_text_atomic


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_write_bytes_and_text_replace_the_file(tmp_path):
    p = tmp_path / "a.csv"
    write_bytes_atomic(p, b"old\n")
    write_text_atomic(p, "neu\u00e9\r\n")
    assert p.read_bytes() == "neu\u00e9\r\n".encode()
    assert _leftovers(tmp_path) == []


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "kpis.csv"
    p.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(p) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert p.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_a_write_that_cannot_encode_keeps_the_old_file(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_text_atomic(p, "\u20ac", encoding="ascii")
    assert p.read_text(encoding="utf-8") == "old" and _leftovers(tmp_path) == []


def test_replace_dir_swaps_folders_and_removes_the_old_one(tmp_path):
    dest, new = tmp_path / "case", tmp_path / ".case.tmp"
    dest.mkdir()
    (dest / "old.html").write_text("old")
    new.mkdir()
    (new / "new.html").write_text("new")
    replace_dir(new, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["new.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


def test_replace_dir_puts_the_old_folder_back_when_the_new_one_cannot_move(tmp_path):
    dest = tmp_path / "case"
    dest.mkdir()
    (dest / "old.html").write_text("old")
    with pytest.raises(OSError):
        replace_dir(tmp_path / "missing", dest)
    assert (dest / "old.html").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


def _hold(path: str, ready, release) -> None:
    with file_lock(path):
        ready.set()
        release.wait(30)


def test_the_lock_excludes_a_second_holder_until_released(tmp_path):
    path = str(tmp_path / ".x.lock")
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(path, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(LockHeld, match=".x.lock"), file_lock(path, blocking=False):
            pass
    finally:
        release.set()
        holder.join(30)
    start = time.monotonic()
    with file_lock(path, blocking=False):  # free again once the holder has gone
        assert os.path.exists(path)
    assert time.monotonic() - start < 5
