"""The month's front page (``index.html`` tiles, ``govlib.report.batch.front``) on a planted month folder.

Every figure a tile shows is read back from the rendered page and compared with the CSVs it was
rendered from (``kpis.csv``, ``kpi_history.csv``, ``alerts.csv``), with changes, significance and
sparkline coordinates computed here by hand or with statsmodels.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from front_page import numbers, spark_points, tiles
from statsmodels.stats import proportion as sm_proportion
from statsmodels.stats import rates as sm_rates

from govlib.metrics.kpis import KPI_DEFINITIONS
from govlib.report.batch import front
from govlib.report.batch.index import render_index
from govlib.report.batch.result import BatchResult, Outcome
from govlib.report.cube import write_alerts_csv, write_kpis_csv
from govlib.report.i18n import Formatter, get_translator
from govlib.report.render.html import list_external_references
from govlib.timeutil import shift_month

MONTH = "2026-10"
MONTHS = [shift_month(MONTH, -k) for k in range(12, -1, -1)]
# DE: actions 100 -> 200 (a significant, material rise), proactive 55% -> 60% (not significant)
ACTIONS = [100, 110, 90, 95, 105, math.nan, 98, 102, 97, 101, 99, 100, 200]
PROACTIVE = [(55, 100)] * 12 + [(120, 200)]


def _kpis(market: str, month: str, **values) -> pd.DataFrame:
    """One month's KPI rows in the export format; ``values``: kpi_id -> (value, num, den, lo, hi)."""
    rows = []
    for kid, d in KPI_DEFINITIONS.items():
        v, num, den, lo, hi = values.get(kid, (0.5, 50, 100, 0.4, 0.6) if d.unit == "share" else (12.0,) * 5)
        rows.append(
            {
                "market": market,
                "month": month,
                "kpi_id": kid,
                "value": v,
                "numerator": num,
                "denominator": den,
                "ci_low": lo if d.unit == "share" else math.nan,
                "ci_high": hi if d.unit == "share" else math.nan,
                "unit": d.unit,
                "status": "ok",
            }
        )
    return pd.DataFrame(rows)


def _de_history() -> pd.DataFrame:
    parts = []
    for m, n, (pn, pd_) in zip(MONTHS, ACTIONS, PROACTIVE):
        parts.append(
            _kpis(
                "DE",
                m,
                actions_total=(n, n, math.nan, math.nan, math.nan),
                proactive_rate=(pn / pd_, pn, pd_, pn / pd_ - 0.05, pn / pd_ + 0.05),
                notice_median_hours_to_action=(14.7 if m == MONTH else 14.0,) + (math.nan,) * 4,
                appeal_median_hours_to_resolve=(math.nan,) * 5 if m == MONTH else (30.0,) * 5,
            )
        )
    return pd.concat(parts, ignore_index=True)


def _alerts() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "market": ["DE", "DE"],
            "month": [MONTH] * 2,
            "policy": ["scam_fraud", "counterfeit_ip"],
            "content_type": ["livestream", "all"],
            "week_start": ["2026-10-12", "2026-10-05"],
            "observed": [19, 14],
            "expected": [1.5, 4.0],
            "ratio": [12.6667, 3.5],
            "p_value": [2.8e-06, 1e-4],
            "q_value": [0.000951919823137, 0.02],
            "method": ["farrington+cusum", "cusum"],
        }
    )


@pytest.fixture
def month_dir(tmp_path: Path) -> Path:
    """DE (history, two alarms, a market report with its sections), FR (rare prevalence, no history, no alarm)."""
    d = tmp_path / MONTH
    de, fr = d / "DE", d / "FR"
    de.mkdir(parents=True)
    fr.mkdir()
    history = _de_history()
    write_kpis_csv(history[history["month"] == MONTH], de / "kpis.csv")
    write_kpis_csv(history, de / "kpi_history.csv")
    write_alerts_csv(_alerts(), de / "alerts.csv")
    (de / "market_report.html").write_text(
        '<html lang="en"><body><h2 id="Headline-indicators">Headline indicators</h2>'
        '<h2 id="Emerging-risks">Emerging risks<a class="anchor-link" href="#Emerging-risks">¶</a></h2></body></html>'
    )
    (de / "market_report.manifest.json").write_text(
        '{"notebook": "market_report", "lang": "en_GB", "status": "ok"}'
    )
    (de / "creator_health.html").write_text("<html></html>")
    write_kpis_csv(
        _kpis("FR", MONTH, violating_view_prevalence=(0.0004, 40.0, 100000.0, 0.0001, 0.00093)),
        fr / "kpis.csv",
    )
    write_alerts_csv(_alerts().iloc[:0], fr / "alerts.csv")
    (d / "simulations" / "ban-escalation").mkdir(parents=True)
    (d / "simulations" / "ban-escalation" / "simulation.html").write_text("<html></html>")
    return d


def _page(month_dir: Path, lang: str = "en_GB", **result) -> str:
    res = BatchResult(MONTH, month_dir, **result)
    return render_index(res, month_dir, get_translator(lang).gettext, Formatter(lang, language=lang), lang)


def test_every_figure_equals_the_csvs(month_dir):
    shown = tiles(_page(month_dir))
    assert list(shown) == ["DE", "FR"]
    de = shown["DE"]["kpis"]
    kpis = pd.read_csv(month_dir / "DE" / "kpis.csv").set_index("kpi_id")
    assert list(de) == list(kpis.index)  # every headline KPI of the month, in kpis.md's order
    for kid, row in kpis.iterrows():
        got = numbers(de[kid]["value"])
        if math.isnan(row["value"]):
            assert de[kid]["value"] == "n/a", kid
        elif row["unit"] == "share":  # value (95% CI low–high), in percent with one digit
            want = [
                round(row["value"] * 100, 1),
                95,
                round(row["ci_low"] * 100, 1),
                round(row["ci_high"] * 100, 1),
            ]
            assert got == want, kid
        else:
            assert got == [round(row["value"], 0 if row["unit"] == "count" else 1)], kid
    assert de["actions_total"]["value"] == "200" and de["actions_total"]["change"] == "+100.0%"
    assert de["proactive_rate"]["change"] == "+5.0 pp"  # 60% against 55%
    assert de["notice_median_hours_to_action"]["change"] == "+5.0%"  # 14.7 h against 14.0 h
    assert de["appeal_median_hours_to_resolve"]["change"] == "n/a"  # no value this month
    assert shown["DE"]["alarms"] == "2" and shown["FR"]["alarms"] == "0"
    assert shown["DE"]["top_alarm"] == "Scam or fraud (Livestream)"  # row 1 of alerts.csv, translated
    assert shown["DE"]["top_href"] == "DE/market_report.html#Emerging-risks"
    assert (shown["DE"]["week"], shown["DE"]["q"]) == ("12 Oct 2026", "0.001")
    assert shown["DE"]["reports"] == ["DE/market_report.html", "DE/creator_health.html"]


def test_significance_marks_exactly_the_significant_and_material_changes(month_dir):
    de = tiles(_page(month_dir))["DE"]["kpis"]
    # reference tests (statsmodels): actions 200 in 31 days against 100 in 30 days; 120/200 against 55/100
    p_actions = sm_rates.test_poisson_2indep(200, 31, 100, 30, method="exact-cond").pvalue
    p_share = sm_proportion.test_proportions_2indep(120, 200, 55, 100, method="score", compare="diff").pvalue
    assert p_actions < 0.05 and p_share > 0.05
    assert de["actions_total"]["flagged"] and not de["proactive_rate"]["flagged"]
    assert [k for k, v in de.items() if v["flagged"]] == ["actions_total"]  # untested KPIs never flagged


def test_sparklines_plot_the_13_months_of_kpi_history(month_dir):
    (first, second) = tiles(_page(month_dir))["DE"]["kpis"]["actions_total"]["spark"]  # May 2026 is missing
    pts = spark_points(first) + spark_points(second)
    known = [(i, v) for i, v in enumerate(ACTIONS) if not math.isnan(v)]
    assert len(spark_points(first)) == 5 and len(pts) == 12
    lo, hi = 90, 200
    for (x, y), (i, v) in zip(pts, known):
        assert x == pytest.approx(3 + i * 114 / 12, abs=0.01)
        assert y == pytest.approx(3 + 22 * (hi - v) / (hi - lo), abs=0.01)  # highest value at the top
    assert tiles(_page(month_dir))["FR"]["kpis"]["actions_total"]["spark"] == []  # no kpi_history.csv


def test_rare_prevalence_shows_its_upper_bound(month_dir):
    kpis = tiles(_page(month_dir))
    fr = kpis["FR"]["kpis"]["violating_view_prevalence"]
    assert fr["bound"] == "no more than 9.3 per 10,000 views"  # ci_high 0.00093 of kpis.csv
    assert numbers(fr["bound"])[0] == pytest.approx(0.00093 * 10000)
    assert kpis["DE"]["kpis"]["violating_view_prevalence"]["bound"] == ""  # 50% is not rare


def test_failed_reports_come_first_with_their_error_and_kept_markets_say_so(month_dir):
    page = _page(
        month_dir,
        outcomes=[Outcome("DE", "market_report", "failed", 1.0, "ZeroDivisionError: planted")],
        market_errors={"IT": "no data for IT in 2026-10"},
    )
    failed = page.index('<section class="failed"')
    assert failed < page.index('class="tile"') < page.index('<table class="all">')
    box = page[failed : page.index("</section>", failed)]
    assert "no data for IT in 2026-10" in box and "ZeroDivisionError: planted" in box
    assert "from the previous run" in box  # DE's published folder is kept (today's behaviour)
    shown = tiles(page)
    assert shown["DE"]["notes"] == ["Figures of the previous run: this run's reports failed."]
    assert shown["FR"]["notes"] == []
    assert '<section class="failed"' not in _page(month_dir)


def test_german_front_page_uses_german_formats_and_names(month_dir):
    page = _page(month_dir, "de_DE")
    de = tiles(page)["DE"]
    assert '<html lang="de">' in page and "Oktober 2026" in page
    assert de["kpis"]["proactive_rate"]["value"].startswith("60,0\xa0%")
    assert de["kpis"]["proactive_rate"]["name"] == "Quote proaktiver Erkennung"
    assert de["top_alarm"] == "Betrug oder Täuschung (Livestream)"


def test_page_is_self_contained_and_links_the_simulations(month_dir):
    (month_dir / "EMEA").mkdir()
    (month_dir / "EMEA" / "emea_overview.html").write_text("<html></html>")
    page = _page(month_dir)
    assert '<a class="rollup" href="EMEA/emea_overview.html">EMEA overview</a>' in page
    assert list_external_references(page) == [] and "<script" not in page
    assert '<a href="simulations/ban-escalation/simulation.html">ban-escalation</a>' in page
    assert "@media (max-width: 40rem)" in page and "@media print" in page


def test_folders_without_govlib_csvs_get_no_tile(month_dir):
    (month_dir / "FR" / "kpis.csv").write_text("x\n1\n")
    (month_dir / "DE" / "alerts.csv").write_text("policy\n=cmd\n")
    shown = tiles(_page(month_dir))
    assert list(shown) == ["DE"] and shown["DE"]["alarms"] == "0" and shown["DE"]["top_alarm"] is None


def test_sparkline_of_a_flat_or_empty_series():
    assert front.sparkline([math.nan] * 3) == []
    assert front.sparkline([5.0, 5.0]) == [[(3.0, 14.0), (117.0, 14.0)]]
