"""Sections of the policy simulation report: the side-by-side table, suppression, not available, language."""

from __future__ import annotations

import math

import pandas as pd

from govlib.params import Proposal, load_market
from govlib.report.i18n import formatter_for, get_translator
from govlib.report.sections import simulation
from govlib.report.sections.base import ReportContext


def _ctx(results: pd.DataFrame, language: str = "en_GB") -> ReportContext:
    params = load_market("DE")
    return ReportContext(
        market="DE",
        month="2026-10",
        params=params,
        language=language,
        _=get_translator(language).gettext,
        fmt=formatter_for(params, language=language),
        cube=None,
        extra={"results": results, "proposals": [Proposal(name="p")]},
    )


def _results() -> pd.DataFrame:
    rows = []
    for metric, unit, values, ok in [
        ("creators_restricted:any", "creators", (220, 406, 186), True),
        ("creators_restricted_by_tier:top", "creators", (1, 12, 11), True),
        ("rewards_granted", "rewards", (math.nan,) * 3, False),
        ("reoffence_rate_90d", "share (model projection)", (0.8, 0.6, -0.2), True),
    ]:
        for sc, v in zip(("current", "proposed:p", "delta:p"), values):
            ci = (v - 0.1, v + 0.1) if unit.startswith("share") else (math.nan, math.nan)
            rows.append(
                {
                    "scenario": sc,
                    "metric": metric,
                    "value": v,
                    "ci_low": ci[0],
                    "ci_high": ci[1],
                    "unit": unit,
                    "available": ok,
                }
            )
    return pd.DataFrame(rows)


def test_table_shows_scenarios_side_by_side_with_suppression():
    ctx = _ctx(_results())
    t = simulation.table(ctx, prefixes=("creators_", "rewards_", "reoffence_"))
    assert list(t.columns) == ["Metric", "Current rules", "Proposed: p", "Change: p"]
    rows = t.set_index("Metric")
    assert rows.loc["Creators restricted: Any reason"].tolist() == ["220", "406", "186"]
    # 1 top creator today: the count and the change built on it are hidden; 12 is shown
    top = [i for i in rows.index if i.startswith("Restricted creators, size band")][0]
    assert rows.loc[top].tolist() == ["<10", "12", "<10"]
    assert rows.loc["Rewards granted"].tolist() == ["not available"] * 3
    proj = rows.loc["90-day re-offence rate after a first action (model projection)"]
    assert proj["Current rules"] == "80.0% (70.0% – 90.0%)"
    assert proj["Change: p"].startswith("-20.0%")


def test_sections_speak_the_report_language():
    ctx = _ctx(_results(), "de_DE")
    t = simulation.table(ctx, prefixes=("creators_restricted:",))
    assert t.iloc[0, 1] == "220" and "Beliebiger Grund" in t.iloc[0, 0]  # the restriction's German label
    s = simulation.reoffence(ctx)
    assert s.data["table"].shape == (1, 4)
    assert "model projection" in simulation.reoffence(_ctx(_results())).text.lower()
