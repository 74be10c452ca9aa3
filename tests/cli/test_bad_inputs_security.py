"""Bad-input corpus, security cases (issue 13): through the CLI, in a subprocess.

Spreadsheet formulas in circulated CSVs, demo mode only by the generator's marker, a
``--policy`` that is not a policy (and never a path), a queue of a month with no data, a
violation imported without its policy. Each case: a clear message, the right exit code
(2 for a malformed command-line value, 1 otherwise), no traceback, nothing half-written.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
from datasets import write_valid_dataset
from reliability_support import MONTH, govlib, make_toy_project, toy_env


@pytest.fixture
def proj(tmp_path):
    """A toy project root (allowed output paths) with the hand-made dataset (not demo data)."""
    root = make_toy_project(tmp_path / "proj")
    return root, write_valid_dataset(root / "data")


def _queue(root: Path, data: Path, month: str, env: dict | None = None):
    out = root / "reports" / "queues"
    r = govlib(
        [
            "queue",
            "export",
            "--market",
            "DE",
            "--month",
            month,
            "--data",
            str(data),
            "--out",
            str(out),
            "--top",
            "0",
            "--alarm-items",
            "0",
            "--qa-sample",
            "10",
            "--exported-at",
            "2026-11-02T09:00:00Z",
        ],
        env=env or toy_env(root),
    )
    return r, out


@pytest.mark.parametrize(
    "month, needle",
    [
        ("2099-01", "month 2099-01 is in the future"),
        ("2026-12", "month 2026-12 is after the last month of DE data"),
    ],
)
def test_queue_export_refuses_a_month_without_data(proj, month, needle):
    root, data = proj
    r, out = _queue(root, data, month)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    if month == "2026-12":
        assert "(2026-11)" in r.stderr  # the last month that has data (DE local time)
    assert not out.exists()
    r, out = _queue(root, data, "2026-11")  # the data's last local month of DE is fine
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("truth", ["{}", json.dumps({"seed": 7, "scale": "small"})])
def test_ground_truth_json_does_not_unlock_the_example_key(proj, truth):
    root, data = proj
    (data / "ground_truth.json").write_text(truth)
    env = toy_env(root)
    for k in ("GOVLIB_PSEUDONYM_KEY", "GOVLIB_PSEUDONYM_KEY_FILE", "GOVLIB_DEMO"):
        env.pop(k, None)
    r, out = _queue(root, data, MONTH, env=env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "no pseudonym key: set $GOVLIB_PSEUDONYM_KEY" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    r, out = _queue(root, data, MONTH, env={**env, "GOVLIB_DEMO": "1"})  # the explicit switch still works
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("policy", ["a/b", "../../escape", "scam_fraud/..", ".."])
def test_investigate_policy_must_be_a_policy(proj, policy):
    root, data = proj
    out = root / "reports" / "investigations"
    r = govlib(
        [
            "investigate",
            "--policy",
            policy,
            "--market",
            "DE",
            "--from",
            "2026-10-01",
            "--to",
            "2026-10-31",
            "--data",
            str(data),
            "--out",
            str(out),
        ],
        env=toy_env(root),
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"--policy {policy!r}" in r.stderr and "allowed: prohibited_product" in r.stderr
    assert "de_jugendschutz" in r.stderr  # DE's local policies are listed too
    assert "Traceback" not in r.stderr
    assert not out.exists() and not (root / "escape").exists()


def test_labels_import_rejects_a_violation_without_policy(proj, tmp_path):
    root, data = proj
    r, out = _queue(root, data, MONTH)
    assert r.returncode == 0, r.stderr
    q = pd.read_csv(out / f"review_queue_DE_{MONTH}.csv", dtype=str, keep_default_na=False)
    assert len(q) == 3
    q["is_violating"] = ["yes", "yes", "yes"]
    q["policy"] = ["", "scam_fraud", ""]  # lines 2 and 4: a violation of no policy
    filled = tmp_path / "filled.csv"
    q.to_csv(filled, index=False)
    before = pd.read_parquet(data / "review_labels.parquet")
    r = govlib(["labels", "import", str(filled), "--data", str(data)], env=toy_env(root))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{filled}: 2 row(s) rejected" in r.stderr and "Traceback" not in r.stderr
    for line in (2, 4):
        assert f"line {line}: is_violating is yes but policy is empty" in r.stderr
    after = pd.read_parquet(data / "review_labels.parquet")
    assert len(after) == len(before) + 1  # the valid row (line 3) only
    assert after["policy"].iloc[len(before) :].tolist() == ["scam_fraud"]


def test_dsa_report_service_name_is_not_a_formula(proj):
    root, data = proj
    service = '=HYPERLINK("http://evil.example","Shop")'
    out = root / "reports" / "dsa"
    r = govlib(
        [
            "dsa",
            "report",
            "--period",
            "2026-H2",
            "--data",
            str(data),
            "--out",
            str(out),
            "--service",
            service,
            "--min-cell-size",
            "1",
        ],
        env=toy_env(root),
    )
    assert r.returncode == 0, r.stderr
    files = sorted(out.glob("*.csv"))
    assert files
    for f in files:
        with open(f, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        assert {r[1] for r in rows[1:]} == {"'" + service}, f.name
        risky = [c for r in rows for c in r if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert risky == [], (f.name, risky[:5])
