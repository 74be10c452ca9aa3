"""Bad input to ``govlib dsa sync``: each is a clear error or a recorded warning naming the file and
the number of rows, and nothing already stored is lost or duplicated."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from paths import FIXTURES

from govlib import cli
from govlib.dsa.archive import open_statements, read_manifest
from govlib.dsa.synth import build_dump

V2 = FIXTURES / "dsa" / "sor_rows" / "sor-global-2025-07-01-full-00000-00000.csv"
GOOD, BAD = "2025-07-01", "2025-07-02"


def _sha1(path: Path) -> None:
    path.with_name(path.name + ".sha1").write_text(hashlib.sha1(path.read_bytes()).hexdigest() + "\n")


def _archive(tmp: Path, bad_parts: list) -> Path:
    """Day GOOD = the real v2 rows; day BAD = the given part list (checksummed as it is)."""
    d = tmp / "archive"
    d.mkdir()
    build_dump(d / f"sor-global-{GOOD}-full.zip", [[(V2.name, V2)]])
    build_dump(d / f"sor-global-{BAD}-full.zip", bad_parts)
    for day in (GOOD, BAD):
        _sha1(d / f"sor-global-{day}-full.zip")
    return d


def _sync(archive: Path, store: Path, capsys) -> tuple[int, str, str]:
    code = cli.main(["dsa", "sync", "--archive", str(archive), "--store", str(store)])
    out, err = capsys.readouterr()
    return code, out, err


def _good_day_intact(store: Path) -> None:
    meta = read_manifest(store)
    assert list(meta["days"]) == [GOOD]
    assert not (store / "statements" / f"day={BAD}").exists()
    t = open_statements(store).to_pandas()
    assert sorted(t["uuid"]) == sorted(pd.read_csv(V2, dtype=str)["uuid"].unique())


def test_truncated_zip(tmp_path, capsys):
    archive = _archive(tmp_path, [[("a.csv", V2)]])
    dump = archive / f"sor-global-{BAD}-full.zip"
    dump.write_bytes(dump.read_bytes()[: dump.stat().st_size // 2])
    _sha1(dump)  # the checksum matches the truncated file: the zip reader must catch it
    code, _, err = _sync(archive, tmp_path / "store", capsys)
    assert code == 1 and "Traceback" not in err
    assert f"sor-global-{BAD}-full.zip: not a readable zip" in err and "download it again" in err
    _good_day_intact(tmp_path / "store")


def test_part_cut_inside_a_row(tmp_path, capsys):
    text = V2.read_bytes()
    archive = _archive(tmp_path, [[("whole.csv", V2)], [("cut.csv", text[: len(text) // 2])]])
    code, _, err = _sync(archive, tmp_path / "store", capsys)
    assert code == 1
    assert f"sor-global-{BAD}-full.zip/sor-global-{BAD}-full-00001.csv.zip/cut.csv" in err
    assert "could not be read to the end" in err
    _good_day_intact(tmp_path / "store")


def test_part_with_a_different_header(tmp_path, capsys):
    df = pd.read_csv(V2, dtype=str, keep_default_na=False).drop(columns=["territorial_scope"])
    archive = _archive(tmp_path, [[("ok.csv", V2)], [("other.csv", df.to_csv(index=False).encode())]])
    code, _, err = _sync(archive, tmp_path / "store", capsys)
    assert code == 1 and "other.csv" in err and "territorial_scope" in err
    _good_day_intact(tmp_path / "store")


def test_unknown_category_is_a_recorded_warning(tmp_path, capsys):
    df = pd.read_csv(V2, dtype=str, keep_default_na=False)
    df.loc[[0, 1], "category"] = "STATEMENT_CATEGORY_SOMETHING_NEW"
    df["uuid"] = df["uuid"].str.replace("-", "-x", n=1)  # other statements than day GOOD's
    archive = _archive(tmp_path, [[("new.csv", df.to_csv(index=False).encode())]])
    code, out, _ = _sync(archive, tmp_path / "store", capsys)
    assert code == 0
    warning = f"sor-global-{BAD}-full.zip: 2 row(s) with a category the archive does not know"
    assert warning in out
    assert any(w.startswith(warning) for w in read_manifest(tmp_path / "store")["days"][BAD]["warnings"])
    t = open_statements(tmp_path / "store", date_from=BAD).to_pandas()
    new = t[t["category_raw"] == "STATEMENT_CATEGORY_SOMETHING_NEW"]
    assert len(t) == len(df) and len(new) == 2 and new["category"].isna().all()
