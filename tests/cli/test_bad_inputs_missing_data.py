"""Bad-input corpus (issue 13): data that is missing rather than malformed, through the CLI.

- an EMEA roll-up over data without some KPIs (a DSA Transparency Database import has no
  appeals or prevalence; a market without actions has no shares) draws what exists;
- a market-month with no action and no publication, only other events, is published as a
  month *without data* (``status`` ``no_data`` in ``kpis.csv``, a banner), not as 0 / −100 %;
- ``govlib run`` checks the foreign keys of each market's slice and implausible dates of the
  market's rows (``govlib validate`` sees the dates too: ``test_bad_inputs.py``);
- markets in the data without params are listed as skipped by ``govlib run --markets all``
  and ``govlib summary``, instead of being left out silently or failing every market.

Same helpers as ``test_bad_inputs.py``: hand-made datasets (``tests/datasets.py``) and a toy
project (``tests/reliability_support.py``), here with real report notebooks where the fault
is in them.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from datasets import _contract_dtypes, valid_tables, write_valid_dataset
from paths import FIXTURES
from reliability_support import MONTH, govlib, make_toy_project, report_files, run_toy, toy_env

from govlib import config

SOR_ROWS = FIXTURES / "dsa" / "sor_rows"


def _run(root: Path, data: Path, month: str = MONTH, markets: str = "DE,GB"):
    return run_toy(root, data, month=month, markets=markets, GOVLIB_PEER_REPORTS=str(config.PEER_REPORTS_DIR))


def _text(path: Path) -> str:
    return html.unescape(path.read_text(encoding="utf-8"))


def _visible(path: Path) -> str:
    """The text of an HTML report without its tags (``**bold**`` markdown becomes ``<strong>``)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def _only_markets(root: Path, keep: set[str]) -> None:
    for p in (root / "params" / "markets").glob("*.yaml"):
        if p.stem not in keep:
            p.unlink()


# ---------------------------------------------------------------------------------------
# 1. the roll-up draws what exists


@pytest.fixture(scope="module")
def dsa_import(tmp_path_factory):
    """``govlib dsa import`` of the real-row fixture dump (2024-03-14, every EU market) into a toy project."""
    from govlib.dsa.synth import build_dump

    root = make_toy_project(tmp_path_factory.mktemp("dsa") / "proj", real_rollup=("emea_overview",))
    parts = sorted(SOR_ROWS.glob("sor-global-2024-03-14-full-*.csv"))
    dump = build_dump(root / "sor-global-2024-03-14-full.zip", [[(p.name, p) for p in parts]])
    r = govlib(["dsa", "import", "--dump", str(dump), "--out", str(root / "data")], env=toy_env(root))
    assert r.returncode == 0, r.stderr
    return root, root / "data"


def test_rollup_of_a_dsa_import_draws_what_exists(dsa_import):
    """No market of a DSA import has appeals or prevalence: the roll-up used to fail on the empty panels."""
    root, data = dsa_import
    r, out = _run(root, data, month="2024-03", markets="DE,FR")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    _assert_ranking_drawn(out / "2024-03" / "EMEA" / "emea_overview.html")


def _assert_ranking_drawn(page: Path) -> None:
    """The roll-up's ranking section holds its figure (the empty panels' text is in the PNG:
    ``test_rollup_ranking_figure_annotates_empty_panels`` checks it) and no cell failed."""
    text = page.read_text(encoding="utf-8")
    assert "papermill-error-cell" not in text and "Traceback" not in text
    ranking = text.split('id="Ranking"', 1)[1].split('id="Notable-changes-on-last-month"', 1)[0]
    assert re.search(r'<img [^>]*src="data:image/png;base64,', ranking)


def test_rollup_ranking_figure_annotates_empty_panels():
    from govlib.report import rollup
    from govlib.report.i18n import Formatter

    fmt = Formatter(locale="en_GB", currency="EUR", language="en_GB")
    ranks = pd.DataFrame(
        {
            "market": ["DE", "FR"],
            "kpi_id": ["proactive_rate"] * 2,
            "value": [0.5, 0.25],
            "ci_low": [0.4, 0.2],
            "ci_high": [0.6, 0.3],
            "rank": [1.0, 2.0],
        }
    )
    fig = rollup.ranking_figure(lambda s: s, fmt, ranks, ["proactive_rate", "overturn_rate"], "2024-03")
    drawn, empty = fig.axes
    assert len(drawn.patches) == 2 and [t.get_text() for t in drawn.get_yticklabels()] == ["FR", "DE"]
    assert not empty.patches and [t.get_text() for t in empty.texts] == [
        "No market has a value in March 2024"
    ]
    assert empty.get_xlabel() == "Appeal overturn rate (%)" and empty.get_ylabel() == "Market"


def test_rollup_of_a_market_without_actions(tmp_path):
    """GB has content but no action in the month: every share is empty, the roll-up still completes."""
    root = make_toy_project(tmp_path / "proj", real_rollup=("emea_overview",))
    t = valid_tables()
    for name in ("enforcement_actions", "appeals", "notices"):
        t[name] = t[name][t[name]["market"] != "GB"].reset_index(drop=True)
    data = write_valid_dataset(root / "data", layout="partitioned", tables=t)
    r, out = _run(root, data, markets="GB")
    assert r.returncode == 0, r.stderr
    _assert_ranking_drawn(out / MONTH / "EMEA" / "emea_overview.html")
    kpis = pd.read_csv(out / MONTH / "GB" / "kpis.csv").set_index("kpi_id")
    assert (
        kpis.loc["actions_total", "value"] == 0 and kpis.loc["actions_total", "status"] == "ok"
    )  # content: a month


# ---------------------------------------------------------------------------------------
# 2. a month without data is marked, not published as zeros


def test_month_with_only_rewards_is_marked_no_data(tmp_path):
    """GB's November 2026 holds one reward and nothing else (DE has an action, a_05)."""
    root = make_toy_project(tmp_path / "proj", real_market=("market_report",), real_rollup=("emea_overview",))
    t = valid_tables()
    reward = pd.DataFrame(
        [
            {
                "reward_id": "rw_4",
                "creator_id": "cr_gb_1",
                "market": "GB",
                "granted_at": "2026-11-10T00:00:00Z",
                "reward_type": "badge",
                "value_eur": 0.0,
            }
        ]
    )
    t["rewards"] = pd.concat([t["rewards"], _contract_dtypes("rewards", reward)], ignore_index=True)
    data = write_valid_dataset(root / "data", layout="partitioned", tables=t)
    r, out = _run(root, data, month="2026-11")
    assert r.returncode == 0, r.stderr
    month_dir = out / "2026-11"
    gb = pd.read_csv(month_dir / "GB" / "kpis.csv")
    assert set(gb["status"]) == {"no_data"}
    assert gb[["value", "numerator", "denominator", "ci_low", "ci_high"]].isna().all().all()  # not 0
    de = pd.read_csv(month_dir / "DE" / "kpis.csv").set_index("kpi_id")
    assert set(de["status"]) == {"ok"} and de.loc["actions_total", "value"] == 1
    both = pd.read_csv(month_dir / "kpis.csv")
    assert list(both.columns)[-1] == "status" and set(both["market"]) == {"DE", "GB"}
    report = _visible(month_dir / "GB" / "market_report.html")
    assert "No data for November 2026. The data has no enforcement action and no content published" in report
    page = (month_dir / "GB" / "market_report.html").read_text(encoding="utf-8")
    headline = html.unescape(
        re.sub(r"<[^>]+>", " ", page.split('id="Headline-indicators"', 1)[1].split("<h2", 1)[0])
    )
    assert "Enforcement actions" in headline
    assert not re.search(r"[−-]\s?100(\.0)?\s?%", headline)  # no change against (or from) an empty month
    assert "No data: GB had no enforcement action" in _visible(month_dir / "EMEA" / "emea_overview.html")


# ---------------------------------------------------------------------------------------
# 3. foreign keys and implausible dates of a market's slice


def test_run_checks_foreign_keys_of_each_market_slice(tmp_path):
    """GB: an action by a creator who exists nowhere fails GB. DE: an appeal of an action taken
    two years before the report window (found outside the slice) is fine, DE publishes."""
    root = make_toy_project(tmp_path / "proj")
    t = valid_tables()
    ea = t["enforcement_actions"].copy()
    ea.loc[ea["action_id"] == "a_07", "creator_id"] = "cr_ghost"
    old = ea[ea["action_id"] == "a_06"].assign(
        action_id="a_old",
        detected_at=pd.Timestamp("2024-09-01", tz="UTC"),
        actioned_at=pd.Timestamp("2024-09-02", tz="UTC"),
    )
    ap = t["appeals"]
    late = ap[ap["appeal_id"] == "ap_1"].assign(appeal_id="ap_old", action_id="a_old")
    t.update(enforcement_actions=pd.concat([ea, old], ignore_index=True), appeals=pd.concat([ap, late]))
    data = write_valid_dataset(root / "data", layout="partitioned", tables=t)
    r, out = _run(root, data)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    failed = [ln for ln in r.stderr.splitlines() if ln.startswith("govlib run:")]
    assert len(failed) == 1 and failed[0].startswith("govlib run: GB: failed:"), r.stderr
    index = _text(out / MONTH / "index.html")
    for needle in (
        "enforcement_actions.creator_id: 1 row reference creators.creator_id values that exist nowhere",
        "(foreign_key) e.g. action_id=a_07",
        "'cr_ghost'",
        "fix: add the missing creators rows",
    ):
        assert needle in index, needle
    files = report_files(out)
    assert f"{MONTH}/DE/toy_ok.html" in files and not any(f.startswith(f"{MONTH}/GB") for f in files)


def test_run_fails_a_market_with_rows_dated_years_ahead(tmp_path):
    """GB's a_07 actioned in 2031 (outside every report window) and a creator registered at the epoch."""
    root = make_toy_project(tmp_path / "proj")
    t = valid_tables()
    ea, cr = t["enforcement_actions"].copy(), t["creators"].copy()
    ea.loc[ea["action_id"] == "a_07", "actioned_at"] = pd.Timestamp("2031-10-04T10:00:00Z")
    cr.loc[cr["creator_id"] == "cr_gb_2", "registered_at"] = pd.Timestamp("1970-01-01T00:00:00Z")
    t.update(enforcement_actions=ea, creators=cr)
    data = write_valid_dataset(root / "data", layout="partitioned", tables=t)
    r, out = _run(root, data)
    assert r.returncode == 1, r.stderr
    gb = next(ln for ln in r.stderr.splitlines() if ln.startswith("govlib run: GB: failed:"))
    assert "(2 problems)" in gb
    index = _text(out / MONTH / "index.html")
    assert "creators.registered_at: 1 row dated before 2000-01-01" in index and "creator_id=cr_gb_2" in index
    assert "enforcement_actions.actioned_at: 1 row dated after" in index and "action_id=a_07" in index
    assert "'2031-10-04 10:00:00+00'" in index and "must not lie in the future" in index
    files = report_files(out)
    assert f"{MONTH}/DE/toy_ok.html" in files and not any(f.startswith(f"{MONTH}/GB") for f in files)


# ---------------------------------------------------------------------------------------
# 4. markets without params


def _with_market_at(root: Path) -> Path:
    """The hand-made dataset plus an Austrian creator, content and action (no params/markets/AT.yaml)."""
    t = valid_tables()
    for name, key, old, new in (
        ("creators", "creator_id", "cr_de_1", "cr_at_1"),
        ("content", "content_id", "ct_03", "ct_at_1"),
        ("enforcement_actions", "action_id", "a_03", "a_at_1"),
    ):
        row = t[name][t[name][key] == old].assign(market="AT", **{key: new})
        if name != "creators":
            row = row.assign(creator_id="cr_at_1")
        if name == "enforcement_actions":
            row = row.assign(content_id="ct_at_1")
        t[name] = pd.concat([t[name], row], ignore_index=True)
    return write_valid_dataset(root / "data", layout="partitioned", tables=t)


def test_run_all_lists_markets_without_params_as_skipped(tmp_path):
    root = make_toy_project(tmp_path / "proj")
    _only_markets(root, {"DE", "GB"})
    data = _with_market_at(root)
    r, out = _run(root, data, markets="all")
    assert r.returncode == 0, r.stderr
    assert "govlib run: AT: skipped: no params/markets/AT.yaml" in r.stderr
    index = _text(out / MONTH / "index.html")
    assert '<tr class="skipped"><td>AT</td>' in index and "no params/markets/AT.yaml" in index
    assert {f"{MONTH}/DE/toy_ok.html", f"{MONTH}/GB/toy_ok.html"} <= set(report_files(out))


def test_summary_prints_known_markets_and_lists_the_unknown(tmp_path):
    root = make_toy_project(tmp_path / "proj")
    data = _with_market_at(root)
    r = govlib(["summary", "--data", str(data), "--month", MONTH], env=toy_env(root))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    table = pd.read_csv(
        io.StringIO("\n".join(ln for ln in lines[1:] if not ln.startswith(("-", "skipped")))),
        sep=r"\s{2,}",
        engine="python",
    )
    assert table.set_index("market").loc[["DE", "GB"], "actions"].tolist() == [
        4,
        3,
    ]  # tests/datasets.py EXPECTED
    assert "AT" not in set(table["market"])
    assert "skipped AT: no params/markets/AT.yaml" in r.stdout
    r = govlib(["summary", "--data", str(data), "--month", MONTH, "--markets", "DE,AT"], env=toy_env(root))
    assert r.returncode == 1 and "skipped AT:" in r.stdout and "Traceback" not in r.stderr
