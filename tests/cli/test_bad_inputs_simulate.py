"""Bad-input corpus of ``govlib simulate`` (issue 17), through the real command.

Each case: a clear message naming the file and the key (or the market, month), the exit
code (1 for a bad proposal or data, 2 for a malformed command-line value), no traceback and
nothing written. Then one good run (a comparison on the hand-made dataset) for what a
published simulation holds, and ``govlib run`` leaving the month's ``simulations/`` in place.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from datasets import valid_tables, write_valid_dataset
from reliability_support import govlib, make_toy_project, run_toy, toy_env

from govlib.privacy import assert_no_identifiers


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_valid_dataset(tmp_path_factory.mktemp("sim") / "data")


def _simulate(
    tmp_path: Path, data: Path, proposal: str | None, *args: str, market: str = "DE", month: str = "2026-10"
):
    out = tmp_path / "out"
    cmd = ["simulate", "--market", market, "--month", month, "--data", str(data), "--out", str(out)]
    if proposal is not None:
        path = tmp_path / "proposal.yaml"
        path.write_text(proposal, encoding="utf-8")
        cmd += ["--proposal", str(path)]
    return govlib([*cmd, *args]), out


CASES = {
    "unknown_key": (
        "name: p\nhealth: {deduction_windows_days: 30}\n",
        1,
        ["unknown key 'health.deduction_windows_days'"],
    ),
    "unknown_top_key": ("name: p\npenalty: {1: warning}\n", 1, ["unknown key 'penalty'"]),
    "threshold_above_1": (
        "name: p\nsignals: {scam_signal: {auto_action: {default: 1.5}}}\n",
        1,
        ["key 'signals.scam_signal.auto_action.default'", "less than or equal to 1"],
    ),
    "threshold_negative": (
        "name: p\nsignals: {scam_signal: {review: {de: -0.1}}}\n",
        1,
        ["key 'signals.scam_signal.review.de'", "greater than or equal to 0"],
    ),
    "review_above_auto": (
        "name: p\nsignals: {scam_signal: {auto_action: {default: 0.6}, review: {default: 0.9}}}\n",
        1,
        ["signals.scam_signal.review.default", "above the auto-action threshold"],
    ),
    "milestone_above_max_score": (
        "name: p\nhealth: {milestones: {1200: traffic_limited}}\n",
        1,
        ["key 'health.milestones.1200'", "outside 0..1000"],
    ),
    "unknown_restriction": (
        "name: p\nhealth: {milestones: {150: shadow_ban}}\n",
        1,
        ["key 'health.milestones.150'", "shadow_ban"],
    ),
    "policy_not_in_contract": (
        "name: p\nhealth: {deductions: {crypto_scam: {high: 40}}}\n",
        1,
        ["key 'health.deductions.crypto_scam'", "not in the contract", "de_jugendschutz"],
    ),
    "severity_not_in_contract": (
        "name: p\nhealth: {deductions: {default: {severe: 40}}}\n",
        1,
        ["key 'health.deductions.default.severe'"],
    ),
    "action_not_in_contract": ("name: p\npenalty_ladder: {1: jail}\n", 1, ["key 'penalty_ladder.1'", "jail"]),
    "ladder_step_zero": (
        "name: p\npenalty_ladder: {0: warning}\n",
        1,
        ["penalty_ladder.0", "greater than or equal to 1"],
    ),
    "deduction_window_zero": (
        "name: p\nhealth: {deduction_window_days: 0}\n",
        1,
        ["health.deduction_window_days"],
    ),
    "sla_not_positive": ("name: p\nnotice_sla_hours: {default: 0}\n", 1, ["notice_sla_hours.default"]),
    "bad_name": ("name: Stricter Rules!\n", 1, ["key 'name'"]),
    "no_name": ("health: {repeat_policy_limit: 4}\n", 1, ["key 'name'", "Field required"]),
    "not_a_mapping": ("- name: p\n", 1, ["expected a mapping"]),
    "not_yaml": ("name: [p\n", 1, ["not valid YAML"]),
    "other_market": ("name: p\nmarket: GB\n", 1, ["key 'market' is 'GB'", "'DE'"]),
    "unknown_signal": (
        "name: p\nsignals: {text_v9: {auto_action: {default: 0.7}}}\n",
        1,
        ["key 'signals.text_v9'", "known signals: scam_signal"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_proposal(tmp_path, data, case):
    text, code, fragments = CASES[case]
    r, out = _simulate(tmp_path, data, text)
    assert r.returncode == code, r.stderr
    assert "Traceback" not in r.stderr
    assert str(tmp_path / "proposal.yaml") in r.stderr  # the file is named
    for f in fragments:
        assert f in r.stderr, r.stderr
    assert not out.exists()  # nothing written


@pytest.mark.parametrize(
    ("args", "kwargs", "code", "fragment"),
    [
        ((), {"market": "FR"}, 1, "market FR has no enforcement actions"),
        ((), {"market": "XX"}, 1, "unknown market 'XX'"),
        ((), {"month": "2027-03"}, 2, "outside the DE data"),
        ((), {"month": "2019-03"}, 2, "outside the DE data"),
        ((), {"month": "2026-13"}, 2, "not of the form YYYY-MM"),
        (("--compare", "/nonexistent/a.yaml", "/nonexistent/b.yaml"), {}, 1, "params file not found"),
    ],
    ids=[
        "market_without_data",
        "unknown_market",
        "month_after_data",
        "month_before_data",
        "malformed_month",
        "missing_files",
    ],
)
def test_bad_command_line(tmp_path, data, args, kwargs, code, fragment):
    proposal = None if args else "name: p\n"
    r, out = _simulate(tmp_path, data, proposal, *args, **kwargs)
    assert r.returncode == code, r.stderr
    assert fragment in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_proposal_or_compare_is_required(tmp_path, data):
    r, out = _simulate(tmp_path, data, None)
    assert r.returncode == 2 and "one of the arguments --proposal --compare is required" in r.stderr
    assert not out.exists()


def test_same_name_twice_is_refused(tmp_path, data):
    a = tmp_path / "a.yaml"
    a.write_text("name: same\n")
    r, out = _simulate(tmp_path, data, None, "--compare", str(a), str(a))
    assert r.returncode == 1 and "share a name" in r.stderr
    assert not out.exists()


def test_compare_writes_a_circulated_csv_and_html(tmp_path, data):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text("name: harsh\npenalty_ladder: {1: account_suspended}\nrewards: {min_health: 190}\n")
    b.write_text(
        "name: strict\nhealth: {milestones: {199: traffic_limited, 0: ecommerce_permanently_removed}}\n"
    )
    r, out = _simulate(tmp_path, data, None, "--compare", str(a), str(b), "--lang", "en_GB")
    assert r.returncode == 0, r.stderr
    folder = out / "harsh-vs-strict"
    assert sorted(p.name for p in folder.iterdir()) == ["simulation.csv", "simulation.html"]
    csv = pd.read_csv(folder / "simulation.csv", dtype=str, keep_default_na=False)
    assert list(csv.columns) == ["scenario", "metric", "value", "ci_low", "ci_high", "unit"]
    assert set(csv["scenario"]) == {
        "current",
        "proposed:harsh",
        "delta:harsh",
        "proposed:strict",
        "delta:strict",
    }
    v = csv.set_index(["scenario", "metric"])["value"]
    # 2 warnings of DE in the window become suspensions under "harsh"; hand-made data: 3 DE creators (< 10: hidden)
    assert v[("delta:harsh", "actions:warning")] == "-" + v[("current", "actions:warning")]
    assert v[("current", "creators_restricted:any")] in ("0", "<10")
    # too few creators for a hazard ratio: the projection of "harsh" is not available, the rest is
    rate = csv[csv["metric"] == "reoffence_rate_90d"].set_index("scenario")["value"]
    assert rate["proposed:harsh"] == rate["delta:harsh"] == "not available"
    assert rate["current"] not in ("", "not available") and rate["proposed:strict"] == rate["current"]
    assert rate["delta:strict"] == "0"
    html = (folder / "simulation.html").read_text(encoding="utf-8")
    assert "Policy simulation" in html and "model projection" in html.lower()
    ids = valid_tables()["creators"]["creator_id"].tolist()
    assert_no_identifiers([folder / "simulation.csv", folder / "simulation.html"], ids)


def test_govlib_run_keeps_the_months_simulations(tmp_path, data):
    root = make_toy_project(tmp_path / "toy")
    sims = root / "reports" / "2026-10" / "simulations" / "de_example"
    sims.mkdir(parents=True)
    (sims / "simulation.html").write_text("<html>example</html>")
    (sims / "simulation.csv").write_text("scenario,metric,value,ci_low,ci_high,unit\n")
    r, out = run_toy(root, data)
    assert r.returncode == 0, r.stderr
    assert (out / "2026-10" / "DE").is_dir()  # the run published beside it
    assert (sims / "simulation.html").read_text() == "<html>example</html>"
    assert (sims / "simulation.csv").exists()


def test_a_failing_notebook_leaves_the_published_simulation_untouched(tmp_path, data):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    root = make_toy_project(tmp_path / "toy")
    cells = [
        new_code_cell(
            'market: str = "DE"\nmonth: str = ""\nproposals: str = ""\nresults: str = ""\ndata_dir: str = ""\nlang: str = ""'
        )
    ]
    cells[0].metadata["tags"] = ["parameters"]
    cells.append(new_code_cell("raise RuntimeError('disk on fire')"))
    kernel = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(new_notebook(cells=cells, metadata=kernel), root / "notebooks" / "simulation.ipynb")
    out = tmp_path / "out"
    published = out / "p"
    published.mkdir(parents=True)
    (published / "simulation.csv").write_text("previous\n")
    proposal = tmp_path / "p.yaml"
    proposal.write_text("name: p\n")
    args = ["simulate", "--market", "DE", "--month", "2026-10", "--data", str(data), "--out", str(out)]
    r = govlib([*args, "--proposal", str(proposal)], env=toy_env(root))
    assert (
        r.returncode == 1
        and "the simulation notebook failed in cell" in r.stderr
        and "disk on fire" in r.stderr
    )
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["p"]  # no temporary folder left behind
    assert sorted(p.name for p in published.iterdir()) == ["simulation.csv"]
    assert (published / "simulation.csv").read_text() == "previous\n"
