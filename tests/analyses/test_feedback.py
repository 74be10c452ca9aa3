"""Review queue export and label import: round trip, bad rows, idempotency, layouts, privacy."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from govlib.analyses import feedback as F
from govlib.cli import main as cli_main
from govlib.data.load import open_dataset

MONTH = "2026-10"
STAMP = "2026-11-02T09:00:00Z"
NOW = pd.Timestamp("2026-11-05 10:00", tz="UTC")


@pytest.fixture()
def data(demo_dir, tmp_path) -> Path:
    """A private copy of the demo dataset (imports write into it)."""
    dest = tmp_path / "data"
    shutil.copytree(demo_dir, dest, ignore=shutil.ignore_patterns(".*"))
    return dest


@pytest.fixture(scope="module")
def queue(demo_dir, tmp_path_factory, ground_truth):
    """The DE queue of the wave month, exported once (export only reads the data)."""
    wave = ground_truth["emerging_wave"]
    out = tmp_path_factory.mktemp("queue")
    csv_path, xlsx_path = F.export_queue(
        wave["market"],
        MONTH,
        demo_dir,
        out,
        top=5,
        per_creator=2,
        alarm_items=4,
        qa_sample=40,
        exported_at=STAMP,
    )
    return csv_path, xlsx_path


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_export_contents(queue, demo_dir, ground_truth):
    csv_path, xlsx_path = queue
    q = _read(csv_path)
    assert list(q.columns) == F.QUEUE_COLUMNS
    assert (q[["is_violating", "reviewer_note", "reviewed_at"]] == "").all().all()  # empty for the reviewer
    assert q["queue_item_id"].is_unique
    # the planted wave's policy is in the alarm items
    wave = ground_truth["emerging_wave"]
    alarm = q[q["reason"].str.startswith("emerging-abuse alarm")]
    assert wave["policy"] in set(alarm["suggested_policy"])
    assert (q["source"] == "qa_sample").sum() == 40
    # every row is content of the market (importable keys)
    content = open_dataset(demo_dir).load("content", market="DE", columns=["content_id", "creator_id"])
    assert set(q["content_id"]) <= set(content["content_id"])
    # no raw creator ids anywhere in the files, creators pseudonymised
    assert q["creator"].str.match(r"^p_[0-9a-f]{12}$").all()
    ids = set(content.loc[content["content_id"].isin(q["content_id"]), "creator_id"])
    text = csv_path.read_text(encoding="utf-8")
    assert ids and not any(i in text for i in ids)
    # the xlsx holds the same rows
    lines, rows = F.read_queue(xlsx_path)
    assert lines[0] == 2 and len(rows) == len(q)
    assert [r["content_id"] for r in rows] == q["content_id"].tolist()


def test_export_is_deterministic(queue, demo_dir, tmp_path):
    csv_path, xlsx_path = queue
    again = F.export_queue(
        "DE", MONTH, demo_dir, tmp_path, top=5, per_creator=2, alarm_items=4, qa_sample=40, exported_at=STAMP
    )
    assert again[0].read_bytes() == csv_path.read_bytes()
    assert again[1].read_bytes() == xlsx_path.read_bytes()


def _fill(q: pd.DataFrame, n: int) -> pd.DataFrame:
    """Verdicts on the first n // 2 targeted rows and the first n - n // 2 QA-sample rows."""
    q = q.copy()
    rows = (
        q.index[q["source"] == "investigation"][: n // 2].tolist()
        + q.index[q["source"] == "qa_sample"][: n - n // 2].tolist()
    )
    q.loc[rows, "is_violating"] = ["yes" if i % 3 else "no" for i in range(len(rows))]
    no_policy = (q["is_violating"] == "yes") & (q["policy"] == "")
    q.loc[no_policy, "policy"] = "other"  # a violation needs a policy (QA-sample rows carry no suggestion)
    return q


def _labels(data: Path) -> pd.DataFrame:
    return open_dataset(data).load("review_labels")


def test_round_trip_idempotent_and_nothing_lost(queue, data, tmp_path):
    from govlib.metrics import signals as S

    q = _fill(_read(queue[0]), 30)
    q.loc[0, "reviewed_at"] = "2026-11-03 14:30"  # local time of DE (CET) -> 13:30 UTC
    filled = tmp_path / "filled.csv"
    q.to_csv(filled, index=False)
    before = _labels(data)
    ds = open_dataset(data)
    sample_before = S.prepare_signal_labels(ds.load("signal_scores", market="DE"), before, None, market="DE")

    res = F.import_labels(filled, data, now=NOW)
    assert (res.added, res.duplicates, res.unreviewed, res.rejected) == (30, 0, len(q) - 30, [])
    after = _labels(data)
    assert len(after) == len(before) + 30
    # nothing stored is lost: every old row is still there, unchanged
    keys = ["content_id", "market", "reviewed_at", "source"]
    merged = before.merge(after, on=keys + ["is_violating"], how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    new = after.merge(before[keys], on=keys, how="left", indicator=True)
    new = new[new["_merge"] == "left_only"].set_index("content_id")
    first = q.iloc[0]
    assert new.loc[first["content_id"], "reviewed_at"] == pd.Timestamp("2026-11-03 13:30", tz="UTC")
    assert bool(new.loc[first["content_id"], "is_violating"]) is False  # i = 0 -> "no"
    assert pd.isna(new.loc[first["content_id"], "policy"])  # no policy on a non-violation
    second = q.iloc[1]
    assert bool(new.loc[second["content_id"], "is_violating"]) is True
    assert new.loc[second["content_id"], "policy"] == (second["policy"] or None)
    assert (
        new.drop(index=first["content_id"])["reviewed_at"] == NOW
    ).all()  # empty reviewed_at -> time of import

    # a second import of the same file adds nothing
    res2 = F.import_labels(filled, data, now=NOW + pd.Timedelta(days=1))
    assert (res2.added, res2.duplicates, res2.rejected) == (0, 30, [])
    assert len(_labels(data)) == len(after)

    # a corrected verdict is a new, later label, and the evaluation uses it
    q2 = q.copy()
    q2.loc[1, "is_violating"] = "no"
    q2.to_csv(filled, index=False)
    res3 = F.import_labels(filled, data, now=NOW + pd.Timedelta(days=2))
    assert (res3.added, res3.duplicates) == (1, 29)

    # signal evaluation picks up the new qa_sample labels on the next run (targeted ones stay out of the sample)
    labels_now = _labels(data)
    sample_after = S.prepare_signal_labels(
        ds.load("signal_scores", market="DE"), labels_now, None, market="DE"
    )
    qa_new = set(q[(q["is_violating"] != "") & (q["source"] == "qa_sample")]["content_id"]) - set(
        sample_before["content_id"]
    )
    assert qa_new and qa_new <= set(sample_after["content_id"])
    assert len(sample_after) == len(sample_before) + len(qa_new)


def test_bad_rows_rejected_with_line_numbers(queue, data, tmp_path, capsys):
    q = _read(queue[0])
    q.loc[:7, "is_violating"] = "yes"
    q.loc[1, "is_violating"] = "maybe"  # line 3
    q.loc[2, "content_id"] = "ct_999999999"  # line 4
    q.loc[3, ["is_violating", "policy"]] = ["yes", "jaywalking"]  # line 5
    q.loc[4, "reviewed_at"] = "2030-01-01"  # line 6
    q.loc[5, "market"] = "XX"  # line 7
    q = pd.concat([q.iloc[:8], q.iloc[[0]]], ignore_index=True)  # line 10 duplicates line 2
    path = tmp_path / "bad.csv"
    q.to_csv(path, index=False)
    before = len(_labels(data))

    code = cli_main(["labels", "import", str(path), "--data", str(data)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    for line, word in (
        (3, "maybe"),
        (4, "ct_999999999"),
        (5, "jaywalking"),
        (6, "future"),
        (7, "XX"),
        (10, "duplicate of line 2"),
    ):
        assert f"line {line}: " in err and word in err, (line, word, err)
    # the valid rows (lines 2, 8, 9) are kept
    assert len(_labels(data)) == before + 3
    assert "6 row(s) rejected" in err


def test_missing_column_is_a_clear_error(queue, tmp_path, data, capsys):
    q = _read(queue[0]).drop(columns=["content_id"])
    path = tmp_path / "nocol.csv"
    q.to_csv(path, index=False)
    assert cli_main(["labels", "import", str(path), "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert "lacks column(s) content_id" in err and "Traceback" not in err


def test_xlsx_import_and_partitioned_layout(queue, data, tmp_path):
    from openpyxl import load_workbook

    # store review_labels Hive-partitioned by market, as a lake would
    table = pq.read_table(data / "review_labels.parquet")
    (data / "review_labels.parquet").unlink()
    df = table.to_pandas()
    for m, g in df.groupby("market"):
        folder = data / "review_labels" / f"market={m}"
        folder.mkdir(parents=True)
        g.drop(columns="market").to_parquet(folder / "part-00000.parquet", index=False)
    before = _labels(data)
    old_files = {p: p.read_bytes() for p in (data / "review_labels").rglob("*.parquet")}

    wb = load_workbook(queue[1])
    ws = wb["queue"]
    col = [c.value for c in ws[1]].index("is_violating") + 1
    for r in range(2, 7):  # sheet rows 2-6
        ws.cell(row=r, column=col, value="yes")
    ws.cell(row=7, column=col, value="perhaps")  # sheet row 7
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)

    res = F.import_labels(filled, data, now=NOW)
    assert res.added == 5 and len(res.rejected) == 1 and res.rejected[0][0] == 7
    assert Path(res.table_path).parent.name == "market=DE"
    assert all(p.read_bytes() == b for p, b in old_files.items())  # stored parts untouched
    assert len(_labels(data)) == len(before) + 5
    assert F.import_labels(filled, data, now=NOW).added == 0


def test_csv_layout_and_missing_table(queue, data, tmp_path):
    q = _fill(_read(queue[0]), 4)
    filled = tmp_path / "filled.csv"
    q.to_csv(filled, index=False)
    # CSV layout
    df = pq.read_table(data / "review_labels.parquet").to_pandas()
    (data / "review_labels.parquet").unlink()
    df.to_csv(data / "review_labels.csv", index=False, date_format="%Y-%m-%dT%H:%M:%S.%f+00:00")
    n = len(_labels(data))
    assert F.import_labels(filled, data, now=NOW).added == 4
    assert len(_labels(data)) == n + 4
    with open(data / "review_labels.csv", newline="") as fh:
        assert sum(1 for _ in csv.reader(fh)) == n + 5
    # no review_labels at all: the table is created
    (data / "review_labels.csv").unlink()
    assert F.import_labels(filled, data, now=NOW).added == 4
    assert len(_labels(data)) == 4


# ---------------------------------------------------------------------------------------
# hostile text: spreadsheet formulas (CSV injection); an empty policy: tests/test_bad_inputs_security.py

# content ids a spreadsheet would run as formulas; DE October content of the hand-made dataset
HOSTILE_IDS = {
    "ct_02": "@SUM(1+1)*cmd|' /C calc'!A0",
    "ct_03": '=HYPERLINK("http://evil.example","x")',
    "ct_04": "-2+3",
}


@pytest.fixture()
def hostile(tmp_path, monkeypatch) -> Path:
    """The hand-made dataset (tests/datasets.py) with DE content ids that look like formulas."""

    from datasets import valid_tables, write_valid_dataset

    monkeypatch.setenv("GOVLIB_PSEUDONYM_KEY", "test-key-0123456789abcdef")  # not demo data
    tables = {
        name: (df.assign(content_id=df["content_id"].replace(HOSTILE_IDS)) if "content_id" in df else df)
        for name, df in valid_tables().items()
    }
    return write_valid_dataset(tmp_path / "hostile", tables=tables)


def test_hostile_ids_never_become_formulas_and_round_trip(hostile, tmp_path):
    from openpyxl import load_workbook

    csv_path, xlsx_path = F.export_queue(
        "DE", MONTH, hostile, tmp_path / "q", top=0, alarm_items=0, qa_sample=10, exported_at=STAMP
    )
    # CSV: every text cell that a spreadsheet would run starts with ' (numbers stay numbers)
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    col = rows[0].index("content_id")
    assert sorted(r[col] for r in rows[1:]) == sorted("'" + v for v in HOSTILE_IDS.values())
    risky = [c for r in rows for c in r if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert risky == [], risky
    # XLSX: no formula cell anywhere; the ids are text cells
    wb = load_workbook(xlsx_path)
    cells = [c for ws in wb.worksheets for r in ws.iter_rows() for c in r if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    ids = [c.value for c in cells if c.column == col + 1 and c.row > 1 and c.parent.title == "queue"]
    assert sorted(ids) == sorted("'" + v for v in HOSTILE_IDS.values())
    assert all(
        isinstance(c.value, (int, float))
        for c in cells
        if c.parent.title == "queue" and c.row > 1 and rows[0][c.column - 1] == "views"
    )  # numbers stay numbers
    # import of the filled XLSX and CSV gives the ids back exactly
    for path in (csv_path, xlsx_path):
        assert sorted(r["content_id"] for r in F.read_queue(path)[1]) == sorted(HOSTILE_IDS.values())
    ws = wb["queue"]
    head = [c.value for c in ws[1]]
    for r in range(2, ws.max_row + 1):
        ws.cell(row=r, column=head.index("is_violating") + 1, value="yes")
        ws.cell(row=r, column=head.index("policy") + 1, value="scam_fraud")
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    res = F.import_labels(filled, hostile, now=NOW)
    assert (res.added, res.rejected) == (3, [])
    labels = _labels(hostile)
    assert set(HOSTILE_IDS.values()) <= set(labels["content_id"])


def test_formula_in_filled_xlsx_is_rejected_naming_the_cell(hostile, tmp_path):
    from openpyxl import load_workbook

    _, xlsx_path = F.export_queue(
        "DE", MONTH, hostile, tmp_path / "q", top=0, alarm_items=0, qa_sample=10, exported_at=STAMP
    )
    wb = load_workbook(xlsx_path)
    ws = wb["queue"]
    head = [c.value for c in ws[1]]
    for r in (2, 3, 4):
        ws.cell(row=r, column=head.index("is_violating") + 1, value="yes")
        ws.cell(row=r, column=head.index("policy") + 1, value="scam_fraud")
    letter = ws.cell(row=1, column=head.index("policy") + 1).column_letter
    ws.cell(row=3, column=head.index("policy") + 1, value='=IF(1,"scam_fraud")')  # a formula, no cached value
    filled = tmp_path / "filled.xlsx"
    wb.save(filled)
    res = F.import_labels(filled, hostile, now=NOW)
    assert res.added == 2 and len(res.rejected) == 1
    line, reason = res.rejected[0]
    assert line == 3 and f"{letter}3 (policy)" in reason and "formula" in reason
