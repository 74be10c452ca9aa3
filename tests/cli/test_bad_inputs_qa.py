"""Bad-input corpus, ``govlib qa plan``: through the CLI, in a subprocess, on the hand-made dataset.

Each case: a clear message naming the option, exit 2 for a malformed command-line value (1 for
other errors), no traceback, nothing written.
"""

from __future__ import annotations

import pytest
from datasets import write_valid_dataset
from reliability_support import MONTH, govlib, make_toy_project, toy_env


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    root = make_toy_project(tmp_path_factory.mktemp("qa") / "proj")
    return root, write_valid_dataset(root / "data")


def _plan(root, data, *args):
    out = root / "reports" / "queues"
    base = ["qa", "plan", "--market", "DE", "--month", MONTH, "--data", str(data), "--out", str(out)]
    return govlib([*base, *args, "--exported-at", "2026-11-02T09:00:00Z"], env=toy_env(root)), out


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--precision", "0"], "--precision must be a margin between 0 and 0.5"),
        (["--precision", "5"], "--precision must be a margin between 0 and 0.5"),
        (["--precision", "two"], "not a number: 'two'"),
        (["--precision", "0.02", "--format", "pdf"], "--format must be csv or xlsx"),
        (["--precision", "0.02", "--target", "recall"], "--target must be one of precision, prevalence"),
        (["--precision", "0.02", "--confidence", "1.2"], "--confidence must be between 0.5 and 1"),
    ],
)
def test_malformed_values_exit_2_with_the_option_named(proj, args, needle):
    root, data = proj
    r, out = _plan(root, data, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_a_good_plan_prints_the_strata_and_writes_plan_and_sample(proj):
    root, data = proj
    r, out = _plan(root, data, "--precision", "0.05")
    assert r.returncode == 0, r.stderr
    assert "audit plan of DE 2026-10 (precision" in r.stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "audit_plan_DE_2026-10_precision.csv",
        "audit_sample_DE_2026-10_precision.csv",
    ]
