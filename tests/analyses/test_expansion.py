"""Expansion readiness (govlib.analyses.expansion, notebooks/expansion_readiness.ipynb).

Demo data: the generator plants a Polish signal quality far below German (ground_truth.json
``signal.by_language``), PL params have reviewers in English only, no ``calibrated_on`` and
three months of history. Hand-made cases check each rule on its own.
"""

from __future__ import annotations

import math
import re

import nbformat
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from govlib import config
from govlib.analyses import expansion as ex
from govlib.data.load import open_dataset
from govlib.metrics import signals
from govlib.params import AlertSettings, MarketParams, load_market, load_reports
from govlib.report.i18n import formatter_for, get_translator
from govlib.timeutil import month_bounds, shift_month

MONTH = "2026-10"


def _market(**kw) -> MarketParams:
    base = dict(
        code="PL",
        name="Poland",
        locale="pl_PL",
        report_language="pl_PL",
        languages=["pl"],
        timezone="Europe/Warsaw",
        currency="PLN",
        fx_rate_per_eur=4.25,
        regime="DSA",
        launched="2026-08",
        reference_market="DE",
    )
    base.update(kw)
    return MarketParams(**base)


# ---------------------------------------------------------------------------------------------
# demo data: the planted gaps are found
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_readiness(demo_dir):
    pl, de = load_market("PL"), load_market("DE")
    assert pl.reference_market == "DE"
    ds = open_dataset(demo_dir)
    start, _e = month_bounds(shift_month(MONTH, -5), pl.timezone)
    _s, end = month_bounds(MONTH, pl.timezone)
    frames = []
    for m in ("PL", "DE"):
        sc = ds.load("signal_scores", market=m, start=start, end=end)
        ct = ds.load(
            "content",
            market=m,
            start=start - pd.Timedelta(days=31),
            end=end,
            columns=["content_id", "market", "language"],
        )
        frames.append(
            signals.prepare_signal_labels(
                sc, ds.load("review_labels", market=m), ct, market=m, start=start, end=end
            )
        )
    labelled = pd.concat(frames, ignore_index=True)
    content = ds.load("content", market="PL", end=end, columns=["language", "published_at"])
    sig = ex.assess_signal_readiness(labelled, "PL", "DE", pl.languages, de.languages[0])
    pol = ex.assess_policy_mapping(
        pl, de, ds.load("enforcement_actions", market="PL", columns=["policy"])["policy"]
    )
    rev = ex.assess_reviewer_coverage(pl.languages, pl.reviewer_languages, content["language"])
    weeks = ex.count_history_weeks(content["published_at"].min(), end)
    cal = ex.assess_calibration(pl, weeks)
    gaps = ex.list_gaps(sig, pol, rev, cal)
    return {
        "sig": sig,
        "pol": pol,
        "rev": rev,
        "cal": cal,
        "weeks": weeks,
        "gaps": gaps,
        "decisions": ex.decide_mechanisms(gaps),
        "labelled": labelled,
    }


def test_demo_signal_language_gap_is_no_go(demo_readiness, ground_truth):
    sig = demo_readiness["sig"]
    row = sig[sig["language"] == "pl"].iloc[0]
    truth = ground_truth["signal"]["by_language"]
    # planted: pl far below de (precision ~0.31 vs ~0.91, recall ~0.47 vs ~0.94)
    assert truth["pl"]["precision"] < truth["de"]["precision"] - 0.3
    assert row["enough_labels"]
    assert row["precision_gap_flagged"] and row["recall_gap_flagged"]
    assert (row["decision"], row["reason"]) == ("no_go", "transfer_gap")
    # the estimates are the QA sample's; the planted truth lies in their 99.9% Wilson intervals
    for metric, den in (("precision", "n_flagged"), ("recall", "n_violating")):
        tp = round(row[metric] * row[den])
        lo, hi = proportion_confint(tp, row[den], alpha=0.001, method="wilson")
        assert lo <= truth["pl"][metric] <= hi, metric
    assert row["reference_precision"] > 0.8 and row["reference_recall"] > 0.8
    # independent count: labelled Polish QA items of the window
    lab = demo_readiness["labelled"]
    assert row["n_labelled"] == int(((lab["market"] == "PL") & (lab["language"] == "pl")).sum())


def test_demo_reviewer_and_calibration_gaps(demo_readiness):
    rev = demo_readiness["rev"]
    assert rev.set_index("language").loc["pl", "decision"] == "no_go"
    assert rev.set_index("language").loc["pl", "content_share"] == 1.0
    # PL launched 2026-08: Aug 1 - Oct 31 is 92 days = 13 full weeks < 26 + 2
    assert demo_readiness["weeks"] == 13
    cal = demo_readiness["cal"]
    reasons = set(zip(cal["mechanism"], cal["reason"]))
    assert ("alert_sensitivity", "short_history") in reasons
    for mech in ("health_thresholds", "alert_sensitivity", "severity_weights"):
        assert (mech, "defaults_uncalibrated") in reasons
    dec = demo_readiness["decisions"].set_index("mechanism")["decision"]
    assert set(dec.index) == set(ex.MECHANISMS)
    assert (dec == "no_go").all()


def test_demo_policy_gaps_against_de(demo_readiness):
    pol = demo_readiness["pol"]
    missing = set(pol.loc[pol["status"] == "missing", "item"])
    assert {"de_jugendschutz", "de_volksverhetzung", "collectibles.nazi_era_symbols"} <= missing
    st = pol.set_index("item")["status"]
    assert st["de_heilmittelwerbung"] == "waived"  # PL params record a waiver
    assert st["health_wellness.prescription_medicines"] == "prohibited"
    observed = pol[pol["kind"] == "observed_policy"]
    assert len(observed) and (observed["decision"] == "go").all()  # demo data uses taxonomy policies only


def test_established_market_is_calibrated():
    de = load_market("DE")
    cal = ex.assess_calibration(de, history_weeks=100)
    assert (cal["decision"] == "go").all()


# ---------------------------------------------------------------------------------------------
# hand-made cases, one rule each
# ---------------------------------------------------------------------------------------------


def _labels(market, language, tp, fp, fn, tn, signal="s1"):
    y = [True] * tp + [False] * fp + [True] * fn + [False] * tn
    score = [0.9] * tp + [0.8] * fp + [0.1] * fn + [0.2] * tn
    return pd.DataFrame(
        {"signal": signal, "market": market, "language": language, "score": score, "is_violating": y}
    )


def test_signal_go_when_quality_matches_reference():
    lab = pd.concat([_labels("DE", "de", 90, 10, 10, 190), _labels("PL", "pl", 88, 12, 12, 188)])
    r = ex.assess_signal_readiness(lab, "PL", "DE", ["pl"], "de").iloc[0]
    assert (r["n_labelled"], r["n_violating"], r["n_flagged"]) == (300, 100, 100)
    assert r["precision"] == pytest.approx(0.88) and r["recall"] == pytest.approx(88 / 100)
    assert r["reference_precision"] == pytest.approx(0.9)
    assert (r["decision"], r["reason"]) == ("go", "")


def test_signal_transfer_gap_precision_only():
    # precision 50/100 vs 90/100 (score test p << 0.001); recall 50/55 = 0.909 vs 0.9 (no shortfall)
    lab = pd.concat([_labels("DE", "de", 90, 10, 10, 190), _labels("PL", "pl", 50, 50, 5, 195)])
    r = ex.assess_signal_readiness(lab, "PL", "DE", ["pl"], "de").iloc[0]
    assert r["precision_gap_flagged"] and not r["recall_gap_flagged"]
    assert (r["decision"], r["reason"]) == ("no_go", "transfer_gap")


def test_signal_too_few_labels_even_when_good():
    lab = pd.concat([_labels("DE", "de", 90, 10, 10, 190), _labels("PL", "pl", 9, 1, 1, 19)])
    r = ex.assess_signal_readiness(lab, "PL", "DE", ["pl"], "de").iloc[0]
    assert r["n_labelled"] == 30
    assert (r["decision"], r["reason"]) == ("no_go", "too_few_labels")
    # thresholds are options: with lower minimums the same sample is a go
    r2 = ex.assess_signal_readiness(lab, "PL", "DE", ["pl"], "de", min_labelled=30, min_violating=10).iloc[0]
    assert r2["decision"] == "go"


def test_signal_language_without_labels_and_no_reference():
    lab = pd.concat([_labels("DE", "de", 90, 10, 10, 190), _labels("PL", "pl", 90, 10, 10, 190)])
    out = ex.assess_signal_readiness(lab, "PL", "DE", ["pl", "uk"], "de")
    uk = out.set_index("language").loc["uk"]
    assert uk["n_labelled"] == 0 and math.isnan(uk["precision"]) and uk["reason"] == "too_few_labels"
    only_pl = lab[lab["market"] == "PL"]
    r = ex.assess_signal_readiness(only_pl, "PL", "DE", ["pl"], "de").iloc[0]
    assert (r["decision"], r["reason"]) == ("no_go", "no_reference_sample")


def test_signal_missing_column_is_clear_error():
    with pytest.raises(ex.ExpansionInputError, match="language.*prepare_signal_labels"):
        ex.assess_signal_readiness(
            pd.DataFrame({"signal": [], "market": [], "score": [], "is_violating": []}),
            "PL",
            "DE",
            ["pl"],
            "de",
        )


def test_policy_rules():
    ref = _market(
        code="DE",
        name="Germany",
        languages=["de"],
        reference_market=None,
        local_policies={
            "de_a": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
            "de_b": "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
            "de_c": "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
        },
        prohibited_product_categories=["x.one", "x.two", "x.three"],
    )
    new = _market(
        local_policies={"pl_a": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"},
        prohibited_product_categories=["x.one"],
        local_policy_waivers={"de_c": "covered by law Y", "x.two": "legal here"},
    )
    out = ex.assess_policy_mapping(new, ref, ["scam_fraud", "pl_a", "mystery", None]).set_index("item")
    assert out.loc["de_a", "status"] == "counterpart"  # same DSA category as pl_a
    assert (out.loc["de_b", "status"], out.loc["de_b", "reason"]) == ("missing", "no_local_counterpart")
    assert out.loc["de_c", "status"] == "waived"
    assert out.loc["x.one", "status"] == "prohibited"
    assert out.loc["x.two", "status"] == "waived"
    assert (out.loc["x.three", "decision"], out.loc["x.three", "reason"]) == (
        "no_go",
        "product_not_prohibited",
    )
    assert (out.loc["mystery", "decision"], out.loc["mystery", "reason"]) == ("no_go", "unmapped_policy")
    assert out.loc["scam_fraud", "category"] == "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
    assert out.loc["pl_a", "decision"].tolist() == ["go", "go"]  # observed and own local policy rows
    assert int((out["decision"] == "no_go").sum()) == 3
    no_ref = ex.assess_policy_mapping(new, None, ["scam_fraud"])
    assert set(no_ref["kind"]) == {"observed_policy", "local_policy"}


def test_reviewer_coverage_rules():
    langs = pd.Series(["es"] * 90 + ["ca"] * 9 + ["eu"] * 1 + [None] * 5)
    out = ex.assess_reviewer_coverage(["es", "ca"], ["es", "en"], langs, min_share=0.02).set_index("language")
    assert out.loc["es", "decision"] == "go"
    assert out.loc["ca", "content_share"] == pytest.approx(0.09)  # denominator: 100 items with a language
    assert (out.loc["ca", "decision"], out.loc["ca", "reason"]) == ("no_go", "language_not_covered")
    assert out.loc["eu", "decision"] == "go"  # 1% < min_share, reported but not a gap
    no_data = ex.assess_reviewer_coverage(["pl"], ["en"])
    assert no_data.iloc[0]["decision"] == "no_go" and math.isnan(no_data.iloc[0]["content_share"])


def test_calibration_rules():
    default = _market()
    cal = ex.assess_calibration(default, history_weeks=40)
    assert set(cal["reason"]) == {"defaults_uncalibrated"} and len(cal) == 3
    # locally changed settings without a calibration month count as set locally
    tuned = _market(alerts=AlertSettings(min_ratio=2.0), calibrated_on={"health": "2026-09"})
    cal = ex.assess_calibration(tuned, history_weeks=40).set_index("mechanism")
    assert (
        cal.loc["alert_sensitivity", "decision"] == "go"
        and cal.loc["alert_sensitivity", "differs_from_default"]
    )
    assert cal.loc["health_thresholds", "decision"] == "go"
    assert cal.loc["severity_weights", "reason"] == "defaults_uncalibrated"
    # history: baseline 26 + current 2 = 28 weeks; 27 is short even when calibrated
    calibrated = _market(
        calibrated_on={"health": "2026-01", "alerts": "2026-01", "severity_weights": "2026-01"}
    )
    short = ex.assess_calibration(calibrated, history_weeks=27)
    assert list(zip(short["mechanism"], short["reason"])) == [
        ("health_thresholds", ""),
        ("alert_sensitivity", "short_history"),
        ("severity_weights", ""),
    ]
    assert short.loc[short["reason"] == "short_history", "required_weeks"].item() == 28
    assert (ex.assess_calibration(calibrated, history_weeks=28)["decision"] == "go").all()


def test_calibrated_on_is_validated():
    with pytest.raises(ValueError, match="unknown settings group"):
        _market(calibrated_on={"healthh": "2026-01"})
    with pytest.raises(ValueError, match="YYYY-MM"):
        _market(calibrated_on={"health": "2026-1"})


def test_count_history_weeks():
    end = pd.Timestamp("2026-11-01", tz="Europe/Warsaw")
    assert ex.count_history_weeks(pd.Timestamp("2026-08-01", tz="Europe/Warsaw"), end) == 13  # 92 days
    assert ex.count_history_weeks(end - pd.Timedelta(days=13.9), end) == 1
    assert ex.count_history_weeks(None, end) == 0
    assert ex.count_history_weeks(pd.NaT, end) == 0


def test_is_expansion_market():
    assert ex.is_expansion_market(_market(launched="2026-08"), "2026-10", 12)
    assert ex.is_expansion_market(_market(launched="2025-10"), "2026-10", 12)  # 12 months after launch
    assert not ex.is_expansion_market(_market(launched="2025-09"), "2026-10", 12)
    assert not ex.is_expansion_market(_market(launched="2026-11"), "2026-10", 12)  # not launched yet
    assert not ex.is_expansion_market(_market(reference_market=None), "2026-10", 12)
    # the demo params: only PL in October 2026
    rp = load_reports()
    assert "expansion_readiness" in rp.expansion_notebooks
    from govlib.params import list_markets

    assert [
        m for m in list_markets() if ex.is_expansion_market(load_market(m), MONTH, rp.expansion_months)
    ] == ["PL"]


def test_gaps_decisions_and_descriptions():
    sig = ex.assess_signal_readiness(
        pd.concat([_labels("DE", "de", 90, 10, 10, 190), _labels("PL", "pl", 40, 60, 60, 140)]),
        "PL",
        "DE",
        ["pl"],
        "de",
    )
    rev = ex.assess_reviewer_coverage(["pl"], ["pl"])
    cal = ex.assess_calibration(_market(), history_weeks=13)
    gaps = ex.list_gaps(sig, None, rev, cal)
    assert list(gaps["mechanism"]) == [
        "detection_signal",
        "health_thresholds",
        "alert_sensitivity",
        "alert_sensitivity",
        "severity_weights",
    ]
    dec = ex.decide_mechanisms(
        gaps,
        assessed=[
            "detection_signal",
            "reviewer_coverage",
            "health_thresholds",
            "alert_sensitivity",
            "severity_weights",
        ],
    ).set_index("mechanism")
    assert dec.loc["reviewer_coverage", "decision"] == "go" and dec.loc["alert_sensitivity", "n_gaps"] == 2
    assert "policy_mapping" not in dec.index
    fmt = formatter_for(_market(), language="en_GB")
    t = get_translator("en_GB").gettext
    finding, _action = ex.describe_gap(gaps.iloc[0], t, fmt, {"pl": "Polish"}.get)
    assert finding.startswith("s1 (Polish): precision and recall significantly below") and "40.0%" in finding
    assert "90.0%" in finding
    finding, _a = ex.describe_gap(gaps.iloc[3], t, fmt)
    assert "13 weeks" in finding and "28 weeks" in finding
    # German catalog: the same gap in German (numbers in German format)
    de = formatter_for(_market(), language="de_DE")
    f_de, _a = ex.describe_gap(gaps.iloc[0], get_translator("de_DE").gettext, de)
    assert "40,0" in f_de
    assert ex.list_gaps(None, None, None, None).empty


# ---------------------------------------------------------------------------------------------
# the notebook
# ---------------------------------------------------------------------------------------------

PARAM_LINE = re.compile(r"^[a-z_]+: (str|int|float|bool) = .+  # .+$")
NB = config.NOTEBOOKS_DIR / "expansion_readiness.ipynb"


def test_notebook_structure():
    nb = nbformat.read(str(NB), as_version=4)
    assert [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])] == [0]
    names = []
    for line in nb.cells[0].source.splitlines():
        assert PARAM_LINE.match(line), line
        names.append(line.split(":")[0])
    assert names[:5] == ["market", "reference_market", "month", "data_dir", "lang"]
    assert "ctx = open_market_context(" in nb.cells[1].source
    assert "reference_market=reference_market" in nb.cells[1].source  # the parameter reaches the sections
    assert any("# NBVAL_CHECK_OUTPUT" in c.source for c in nb.cells if c.cell_type == "code")
    for c in nb.cells[1:]:
        assert "execution" not in c.metadata and c.execution_count is not None
        for out in c.outputs:
            assert out.output_type != "error" and not (out.output_type == "stream" and out.name == "stderr")


@pytest.mark.slow
def test_runner_runs_expansion_notebook_for_pl_only(demo_dir, tmp_path):
    from govlib.report.batch.run import run_batch

    res = run_batch(
        MONTH,
        markets="DE,PL",
        reports="expansion_readiness",
        data_dir=demo_dir,
        out_dir=tmp_path,
        jobs=2,
        progress=False,
        lang="en_GB",
    )
    assert res.ok, [(o.market, o.report, o.error) for o in res.outcomes]
    assert [(o.market, o.report) for o in res.outcomes] == [("PL", "expansion_readiness")]
    assert not (tmp_path / MONTH / "DE" / "expansion_readiness.html").exists()
    html = (tmp_path / MONTH / "PL" / "expansion_readiness.html").read_text(encoding="utf-8")
    assert "precision and recall significantly below the reference" in html
    assert "Language Polish" in html and "not among the reviewers" in html
    assert "fewer than the 28 weeks" in html
    assert html.count("no-go") >= 6
