"""The bad-input corpus (issue 9): every case through the CLI, in a subprocess.

Each case must give one clear message (what: table/column/key, where: the file or
market, how many rows, up to 5 examples, how to fix), a non-zero exit code, no traceback
unless ``--debug``, and no report file of the failing market in ``reports/``; where the
failure is market-specific, the other markets still complete.

Datasets: the hand-made ones of ``tests/datasets.py`` (two markets, DE and GB) and
their broken variants (``break_dataset``); ``govlib run`` uses a toy project
(``tests/reliability_support.py``) whose one notebook reads the market's cube, so a run
exercises the real engine, contract checks and cube build in a few seconds.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest
from datasets import break_dataset, write_valid_dataset
from reliability_support import MONTH, govlib, make_toy_project, report_files, run_toy

# ---------------------------------------------------------------------------------------
# govlib validate


VALIDATE_CASES = [
    "missing_table",
    "missing_column",
    "wrong_type",
    "not_allowed",
    "duplicate_key",
    "dangling_fk",
    "time_order",
    "null_required",
    "corrupt_parquet",
    "corrupt_partition",
    "csv_delimiter",
    "csv_encoding",
    "market_uk",
    "future_date",
    "epoch_date",
    "review_label_not_allowed",
]
# words of the "how to fix" part each case must carry (from the contract's hints)
FIX_WORDS = {
    "missing_table": "add enforcement_actions.parquet",
    "missing_column": "add column 'language'",
    "wrong_type": "whole numbers",
    "not_allowed": "use one of warning, content_removed",
    "duplicate_key": "make content_id unique",
    "dangling_fk": "add the missing creators rows",
    "time_order": "actioned_at must be at or after detected_at",
    "null_required": "fill tier",
    "corrupt_parquet": "replace the corrupt file",
    "corrupt_partition": "replace the corrupt file",
    "csv_delimiter": "comma-separated",
    "csv_encoding": "as UTF-8",
    "market_uk": "GB",  # UK is not an ISO 3166-1 code: the hint names GB
    "future_date": "actioned_at must not lie in the future",
    "review_label_not_allowed": "use one of violating, not_violating",
    "epoch_date": "1970-01-01 is usually a zero or empty value",
}
# where: the file named for unreadable inputs
WHERE = {
    "corrupt_parquet": "content.parquet",
    "corrupt_partition": "market=GB/part-0.parquet",
    "csv_delimiter": "creators.csv",
    "csv_encoding": "creators.csv",
}


@pytest.mark.parametrize("case", VALIDATE_CASES)
def test_validate_reports_what_where_how_many_examples_and_fix(tmp_path, case):
    expect = break_dataset(tmp_path / "data", case)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = govlib(["validate", "--data", str(tmp_path / "data")], cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    out = r.stdout
    lines = out.strip().splitlines()
    assert lines[-1].startswith("INVALID: 1 problem in 1 table"), out
    problem = lines[1]
    what = f"{expect.table}.{expect.column}" if expect.column else expect.table
    assert what in problem, problem
    assert f"({expect.rule})" in problem, problem
    if expect.n_bad is not None:
        assert f" {expect.n_bad} row" in problem, problem
    for ex in expect.examples:
        assert ex in problem, (ex, problem)
    assert "fix:" in problem and FIX_WORDS[case] in problem.split("fix:", 1)[1], problem
    if case in WHERE:
        assert WHERE[case] in problem, problem
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # validate writes nothing


def test_validate_examples_are_capped_at_five(tmp_path):
    from datasets import valid_tables

    t = valid_tables()
    ct = t["content"].copy()
    ct["content_type"] = "hologram"  # all 12 rows
    t["content"] = ct
    write_valid_dataset(tmp_path / "d", tables=t)
    r = govlib(["validate", "--data", str(tmp_path / "d")])
    assert r.returncode == 1
    line = next(ln for ln in r.stdout.splitlines() if "content.content_type" in ln)
    assert "12 rows" in line
    shown = [f"ct_{i:02d}" for i in range(1, 13) if f"ct_{i:02d}" in line]
    assert shown == ["ct_01", "ct_02", "ct_03", "ct_04", "ct_05"], line  # first five keys, sorted


def test_validate_debug_shows_traceback(tmp_path):
    r = govlib(["validate", "--data", str(tmp_path / "nowhere")])
    assert r.returncode == 1 and "Traceback" not in r.stderr and "nowhere" in r.stderr
    r = govlib(["validate", "--data", str(tmp_path / "nowhere"), "--debug"])
    assert r.returncode != 0 and "Traceback" in r.stderr


# ---------------------------------------------------------------------------------------
# govlib run: inputs refused before anything is written


@pytest.fixture
def toy(tmp_path):
    root = make_toy_project(tmp_path / "proj")
    data = write_valid_dataset(root / "data", layout="partitioned")
    return root, data


def _run(root: Path, data: Path, *args: str, month: str = MONTH, markets: str = "DE,GB", env_extra=None):
    return run_toy(root, data, *args, month=month, markets=markets, **(env_extra or {}))


@pytest.mark.parametrize(
    "month, code, needle",
    [
        ("2026-13", 2, "is not of the form YYYY-MM"),
        ("26-10", 2, "is not of the form YYYY-MM"),
        ("2026-10-01", 2, "is not of the form YYYY-MM"),
        ("2099-01", 2, "is in the future"),
    ],
)
def test_run_malformed_or_future_month(toy, month, code, needle):
    root, data = toy
    r, out = _run(root, data, month=month)
    assert r.returncode == code, r.stderr
    assert needle in r.stderr and month in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_run_unknown_market(toy):
    root, data = toy
    r, out = _run(root, data, markets="DE,XX")
    assert r.returncode == 2
    assert "unknown market(s) XX" in r.stderr and "known: DE, ES, FR, GB" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


@pytest.mark.parametrize(
    "edit, needles",
    [
        ({"min_cel_size": 5}, ["DE.yaml", "unknown key 'min_cel_size'"]),
        ({"min_cell_size": "ten"}, ["DE.yaml", "key 'min_cell_size'", "'ten'"]),
        ({"fx_rate_per_eur": -1}, ["DE.yaml", "key 'fx_rate_per_eur'", "greater than 0"]),
    ],
)
def test_run_bad_market_params_yaml(toy, edit, needles):
    import yaml

    root, data = toy
    path = root / "params" / "markets" / "DE.yaml"
    params = yaml.safe_load(path.read_text())
    params.update(edit)
    path.write_text(yaml.safe_dump(params))
    r, out = _run(root, data)
    assert r.returncode == 1, r.stderr
    for n in needles:
        assert n in r.stderr, (n, r.stderr)
    assert "Traceback" not in r.stderr and not out.exists()
    r, _ = _run(root, data, "--debug")
    assert "Traceback" in r.stderr


def test_run_bad_reports_yaml(toy):
    root, data = toy
    (root / "params" / "reports.yaml").write_text(
        "market_notebooks: [toy_ok]\nrollup_notebooks: []\ntimeout_seconds: soon\n"
    )
    r, out = _run(root, data)
    assert r.returncode == 1
    assert "reports.yaml" in r.stderr and "key 'timeout_seconds'" in r.stderr and "'soon'" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()


# ---------------------------------------------------------------------------------------
# govlib run: bad data


@pytest.mark.parametrize("case", ["missing_table", "missing_column", "corrupt_parquet", "csv_encoding"])
def test_run_dataset_wide_problem_fails_every_market_and_publishes_nothing(tmp_path, case):
    root = make_toy_project(tmp_path / "proj")
    expect = break_dataset(root / "data", case, layout="partitioned")
    r, out = _run(root, root / "data", markets="DE")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert "govlib run: DE: failed:" in r.stderr
    assert expect.table in r.stderr and FIX_WORDS[case] in r.stderr, r.stderr
    if case in WHERE:
        assert WHERE[case] in r.stderr
    # no report, no kpis.csv, no staging: only the index telling what failed
    assert report_files(out) == [f"{MONTH}/index.html"]
    assert FIX_WORDS[case] in html.unescape((out / MONTH / "index.html").read_text())


def test_run_market_specific_problems_fail_that_market_only(tmp_path):
    """GB: a null in a required column, a duplicate key and reversed timestamps.

    DE completes; GB gets no folder, each of its errors named in stderr and in the index.
    """
    from datasets import valid_tables

    root = make_toy_project(tmp_path / "proj")
    data = root / "data"
    t = valid_tables()
    cr = t["creators"].copy()
    cr.loc[cr.creator_id == "cr_gb_3", "tier"] = None
    ct = t["content"]
    ct = pd.concat([ct, ct[ct.content_id == "ct_09"]], ignore_index=True)
    ea = t["enforcement_actions"].copy()
    m = ea.action_id == "a_08"
    ea.loc[m, ["detected_at", "actioned_at"]] = ea.loc[m, ["actioned_at", "detected_at"]].to_numpy()
    t.update(creators=cr, content=ct, enforcement_actions=ea)
    write_valid_dataset(data, layout="partitioned", tables=t)
    r, out = _run(root, data, markets="DE,GB")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    gb = next(ln for ln in r.stderr.splitlines() if ln.startswith("govlib run: GB: failed:"))
    assert "GB data in the report window breaks the data contract (3 problems)" in gb
    index = html.unescape((out / MONTH / "index.html").read_text())
    for needle in (
        "creators.tier: 1 row with a null value",
        "creator_id=cr_gb_3",
        "content.content_id: 2 rows share a primary key",
        "content_id=ct_09",
        "enforcement_actions.actioned_at: 1 row earlier than detected_at",
        "action_id=a_08",
    ):
        assert needle in index, needle
    files = report_files(out)
    assert not any(f.startswith(f"{MONTH}/GB") for f in files), files
    assert {f"{MONTH}/DE/toy_ok.html", f"{MONTH}/DE/kpis.csv", f"{MONTH}/kpis.csv"} <= set(files)
    assert set(pd.read_csv(out / MONTH / "kpis.csv")["market"]) == {"DE"}
    assert not any(f.startswith(".staging/") for f in files)


def test_run_empty_market_month(toy):
    """GB in 2026-11: its window has data, the month itself none (DE has a_05, 1 Nov local time)."""
    root, data = toy
    r, out = _run(root, data, month="2026-11", markets="DE,GB")
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    gb = next(ln for ln in r.stderr.splitlines() if ln.startswith("govlib run: GB: failed:"))
    assert (
        "no data for GB in 2026-11 (Europe/London): 0 rows of" in gb
        and "enforcement_actions.actioned_at" in gb
    )
    assert "DE" not in [
        ln.split()[2].rstrip(":") for ln in r.stderr.splitlines() if ln.startswith("govlib run:")
    ]
    files = report_files(out)
    assert "2026-11/DE/toy_ok.html" in files and not any(f.startswith("2026-11/GB") for f in files)


def test_run_empty_market_month_before_the_data_starts(toy):
    """2023-01: the whole 15-month window is empty (the hand-made data starts in 2024-11)."""
    root, data = toy
    r, out = _run(root, data, month="2023-01", markets="DE")
    assert r.returncode == 1
    assert "no data for DE in 2023-01 (Europe/Berlin): 0 rows of" in r.stderr and "Traceback" not in r.stderr
    assert report_files(out) == ["2023-01/index.html"]
