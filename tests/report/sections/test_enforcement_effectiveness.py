"""Sections of the enforcement-effectiveness report, without a kernel, on the small demo data (GB)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from govlib.metrics.kpis import compute_kpis
from govlib.report.sections import enforcement_effectiveness as report
from govlib.report.sections import open_market_context

MARKET, MONTH = "GB", "2026-10"
SECTIONS = [
    report.intro,
    report.proactive_detection,
    report.detection_trend,
    report.notice_handling,
    report.appeal_outcomes,
    report.recidivism,
    report.deterrence,
]


@pytest.fixture(scope="module")
def ctxs(demo_dir):
    out = {
        lang: open_market_context(MARKET, MONTH, data_dir=str(demo_dir), lang=lang)
        for lang in ("en_GB", "de_DE")
    }
    yield out
    plt.close("all")


def _table(sec, i=0):
    return [b for b in sec.blocks if b[0] == "table"][i][1]


def test_proactive_detection_matches_kpi_function(ctxs):
    ctx = ctxs["en_GB"]
    sec = report.proactive_detection(ctx)
    kpis = compute_kpis(ctx.tables, MARKET, MONTH, ctx.tz).set_index("kpi_id")
    shown = _table(sec).set_index("Indicator")[ctx.fmt.month(MONTH)]
    r = kpis.loc["proactive_rate"]
    assert 0 < r["value"] < 1
    assert shown["Proactive detection rate"] == ctx.fmt.rate_with_interval(
        r["value"], r["ci_low"], r["ci_high"], digits=1
    )
    data = sec.data["kpis"].set_index("kpi_id")
    assert list(data.index) == report.HEADLINE_KPIS
    assert data.loc["overturn_rate", "value"] == pytest.approx(kpis.loc["overturn_rate", "value"])


def test_detection_trend_covers_the_year(ctxs):
    ctx = ctxs["en_GB"]
    sec = report.detection_trend(ctx)
    trend = sec.data["trend"]
    assert set(trend["month"]) <= set(report.history(ctx)) and MONTH in set(trend["month"])
    assert report.history(ctx)[0] == "2025-10" and len(report.history(ctx)) == 13
    now = trend[(trend["month"] == MONTH) & (trend["kpi_id"] == "automated_decision_rate")]["value"].iloc[0]
    kpis = compute_kpis(ctx.tables, MARKET, MONTH, ctx.tz).set_index("kpi_id")
    assert now == pytest.approx(kpis.loc["automated_decision_rate", "value"])
    assert [b[0] for b in sec.blocks] == ["markdown", "figure"]


def test_notice_handling_counts(ctxs):
    ctx = ctxs["en_GB"]
    sec = report.notice_handling(ctx)
    notices = ctx.tables["notices"]
    from govlib.timeutil import in_month

    month_rows = (
        notices[in_month(notices["received_at"], MONTH, ctx.tz)] if "received_at" in notices else notices
    )
    data = sec.data["notices"]
    assert "(all)" not in set(data["group"]) and len(data) > 1
    assert data["actioned"].dropna().sum() <= len(month_rows)  # a notice is actioned at most once
    shown = _table(sec)
    assert list(shown["Reporter"]) == [report.present.label(ctx._, g) for g in data["group"]]


def test_appeal_outcomes_overturn_rates(ctxs):
    from govlib.timeutil import in_month

    ctx = ctxs["en_GB"]
    sec = report.appeal_outcomes(ctx)
    ap, acts = ctx.tables["appeals"], ctx.tables["enforcement_actions"]
    # by hand: appeals of GB resolved in the local month, not pending, by the appealed action's decision mode
    ap = ap[
        (ap["market"] == MARKET) & (ap["outcome"] != "pending") & in_month(ap["resolved_at"], MONTH, ctx.tz)
    ]
    ap = ap.merge(acts[["action_id", "decision_mode"]], on="action_id", how="left")
    by_hand = ap.assign(o=ap["outcome"].isin(["overturned", "partially_overturned"])).groupby(
        "decision_mode"
    )["o"]
    ov = sec.data["overturns"].set_index("group")
    assert ov["decided"].to_dict() == by_hand.size().to_dict()
    assert ov["overturned"].to_dict() == by_hand.sum().astype(int).to_dict()
    assert [b[0] for b in sec.blocks] == ["markdown", "markdown", "figure", "markdown"]
    assert ctx.fmt.percent(sec.data["test"]["overturn_rate_mode"]) in sec.text


def test_recidivism_recovers_planted_hazard_ratio(ctxs, ground_truth):
    ctx = ctxs["en_GB"]
    sec = report.recidivism(ctx)
    hr = sec.data["hazard_ratio"]
    planted = ground_truth["deterrence"]["hazard_ratio_suspension_vs_warning"]
    assert hr["ci_low"] <= planted <= hr["ci_high"] and hr["ci_high"] < 1
    assert ctx.fmt.number(hr["hazard_ratio"], 2) in sec.text
    rt = sec.data["table"]  # the engine's aggregated risk sets: no creator rows reach the report
    assert (
        "creator_id" not in rt.columns
        and not rt.duplicated(["first_action_type", "duration_days", "event"]).any()
    )
    summary = sec.data["summary"].dropna(subset=["creators"]).set_index("group")
    per_type = rt.groupby("first_action_type")["creators"].sum()
    assert len(summary) and (summary["creators"] == per_type.reindex(summary.index)).all()


def test_deterrence_covers_planted_rate_ratio(ctxs, ground_truth):
    ctx = ctxs["en_GB"]
    sec = report.deterrence(ctx)
    did = sec.data["did"]
    assert (
        did["rate_ratio_ci_low"] <= ground_truth["deterrence"]["did_rate_ratio"] <= did["rate_ratio_ci_high"]
    )
    assert did["n_treated"] >= ctx.min_cell and did["estimate"] < 0
    assert ctx.fmt.number(did["estimate"], 3) in sec.text


# German msgstrs of each section's heading or first sentence (locales/de_DE)
GERMAN = {
    "intro": "Wirksamkeit der Durchsetzung",
    "proactive_detection": "Proaktive Erkennung und Zeit bis zur Maßnahme",
    "detection_trend": "Anteil der proaktiv gefundenen Maßnahmen",
    "notice_handling": "Meldungen vertrauenswürdiger Hinweisgeber",
    "appeal_outcomes": "Ergebnisse von Einsprüchen nach Entscheidungsart",
    "recidivism": "Rückfall nach einer ersten Maßnahme",
    "deterrence": "Schätzung der Abschreckung",
}


@pytest.mark.parametrize("section", SECTIONS, ids=lambda f: f.__name__)
def test_section_is_translated(ctxs, section):
    en, de = section(ctxs["en_GB"]), section(ctxs["de_DE"])
    assert [b[0] for b in en.blocks] == [b[0] for b in de.blocks]
    assert de.text != en.text
    assert GERMAN[section.__name__] in de.text and GERMAN[section.__name__] not in en.text
    for (kind, *rest_en), (_k, *rest_de) in zip(en.blocks, de.blocks):
        if kind == "table":
            assert isinstance(rest_de[0], pd.DataFrame) and rest_de[0].shape == rest_en[0].shape
