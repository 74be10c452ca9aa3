"""Sections of the signal-evaluation report, without a kernel, on the small demo data (PL against DE).

The demo generator plants the signal's precision and recall per language (ground_truth.json
``signal.by_language``): Polish far below German, where the signal was built.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from govlib.report.sections import open_market_context
from govlib.report.sections import signal_evaluation as report

MARKET, MONTH = "PL", "2026-10"
SECTIONS = [
    report.intro,
    report.precision_recall,
    report.transfer,
    report.pr_curve,
    report.calibration,
    report.target_threshold,
]


@pytest.fixture(scope="module")
def ctxs(demo_dir):
    out = {
        lang: open_market_context(MARKET, MONTH, data_dir=str(demo_dir), lang=lang)
        for lang in ("en_GB", "de_DE")
    }
    yield out
    plt.close("all")


def test_evaluation_window_and_groups(ctxs, ground_truth):
    ev = report.evaluation(ctxs["en_GB"])
    assert (
        ev.signal_name == ground_truth["signal"]["name"] and ev.version == ground_truth["signal"]["version"]
    )
    assert ev.first_month == "2026-05" and ev.ref_market == "DE" and ev.ref_language == "de"
    assert set(ev.labelled["market"]) == {"PL", "DE"} and ev.own_languages == ["pl"]
    assert report.evaluation(ctxs["en_GB"]) is ev  # memoised


def test_precision_recall_covers_planted_quality(ctxs, ground_truth):
    ctx = ctxs["en_GB"]
    sec = report.precision_recall(ctx)
    q = sec.data["quality"].set_index("language")
    truth = ground_truth["signal"]["by_language"]
    for lg in ("pl", "de"):
        for metric in ("precision", "recall"):
            assert q.loc[lg, f"{metric}_low"] <= truth[lg][metric] <= q.loc[lg, f"{metric}_high"], (
                lg,
                metric,
            )
    own = report.evaluation(ctx).own
    assert q.loc["pl", "n_labelled"] == len(own) and q.loc["pl", "n_violating"] == own["is_violating"].sum()
    assert q.loc["pl", "n_flagged"] == (own["score"] >= report.THRESHOLD).sum()
    table = [b for b in sec.blocks if b[0] == "table"][0][1]
    assert list(table["Language"]) == ["Polish", "German (Germany)"]


def test_transfer_flags_the_planted_polish_gap(ctxs, ground_truth):
    sec = report.transfer(ctxs["en_GB"])
    gaps = sec.data["gaps"].set_index("metric")
    truth = ground_truth["signal"]["by_language"]
    assert truth["pl"]["precision"] < truth["de"]["precision"] - 0.05  # the planted gap the section must find
    assert bool(gaps.loc["precision", "flagged"]) and bool(gaps.loc["recall", "flagged"])
    assert "**The signal does not transfer to Polish**: its precision and recall" in sec.text


def test_pr_curve_average_precision_by_hand(ctxs):
    ctx = ctxs["en_GB"]
    sec = report.pr_curve(ctx)
    ap = sec.data["average_precision"].set_index("language")["average_precision"]
    own = report.evaluation(ctx).own
    # by hand: sum over distinct score thresholds (high to low) of the recall gained times the precision there
    y, score = own["is_violating"].astype(bool).to_numpy(), own["score"].to_numpy()
    total, ap_hand, prev_recall = y.sum(), 0.0, 0.0
    for t in np.unique(score)[::-1]:
        flagged = score >= t
        recall = y[flagged].sum() / total
        ap_hand += (recall - prev_recall) * y[flagged].mean()
        prev_recall = recall
    assert ap["pl"] == pytest.approx(ap_hand)
    assert ap["de"] > ap["pl"]


def test_calibration_bins_cover_the_sample(ctxs):
    ctx = ctxs["en_GB"]
    cal = report.calibration(ctx).data["calibration"]
    own = report.evaluation(ctx).own
    assert len(cal) == report.N_BINS and cal["n"].sum() == len(own)
    top = own[own["score"] >= 0.9]
    assert cal.iloc[-1]["n"] == len(top)
    assert cal.iloc[-1]["observed_rate"] == pytest.approx(top["is_violating"].mean())


def test_target_threshold_reaches_target_or_is_missing(ctxs):
    ctx = ctxs["en_GB"]
    th = report.target_threshold(ctx).data["thresholds"]
    assert list(th["criterion"]) == ["estimate", "lower_bound"]
    own = report.evaluation(ctx).own
    for _i, r in th.dropna(subset=["threshold"]).iterrows():
        flagged = own[own["score"] >= r["threshold"]]
        assert flagged["is_violating"].mean() == pytest.approx(r["precision"])
        assert r["precision"] >= report.TARGET_PRECISION and len(flagged) >= report.MIN_FLAGGED


GERMAN = {
    "intro": "Signalbewertung: Polen",
    "precision_recall": "Präzision und Trefferquote nach Sprache",
    "transfer": "Lässt sich das Signal auf diesen Markt übertragen?",
    "pr_curve": "Präzisions-Trefferquoten-Kurve",
    "calibration": "## Kalibrierung",
    "target_threshold": "Schwellenwert für eine Zielpräzision",
}


@pytest.mark.parametrize("section", SECTIONS, ids=lambda f: f.__name__)
def test_section_is_translated(ctxs, section):
    en, de = section(ctxs["en_GB"]), section(ctxs["de_DE"])
    assert [b[0] for b in en.blocks] == [b[0] for b in de.blocks]
    assert de.text != en.text
    assert GERMAN[section.__name__] in de.text and GERMAN[section.__name__] not in en.text
