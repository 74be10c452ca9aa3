"""The month at a glance: one tile per market on the month's ``index.html``.

Each tile reads only what the market's folder publishes: ``kpis.csv`` (the month's headline
KPIs), ``kpi_history.csv`` (the same KPIs for *M - 12* .. *M*: the sparklines and last month)
and ``alerts.csv`` (the month's alarms, strongest first). Changes on last month are tested as
the roll-up tests them (:func:`govlib.report.rollup.compare_kpis`: significant *and*
material); values, intervals and changes are shown as the market report shows them
(:mod:`govlib.report.present`), in the index's language. The page itself is the template
``month_index.html.j2`` (:mod:`govlib.report.batch.index`).
"""

from __future__ import annotations

import html as _html
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from govlib.report import present, rollup
from govlib.report.batch.keys import read_json
from govlib.report.cube import EXPORT_COLUMNS
from govlib.text import N_
from govlib.timeutil import shift_month

HISTORY_FILE = "kpi_history.csv"
# Display names of the report notebooks (params/reports.yaml), on the front page's links.
REPORT_TITLES = {
    "market_report": N_("Market report"),
    "enforcement_effectiveness": N_("Enforcement effectiveness"),
    "creator_health": N_("Creator health"),
    "signal_evaluation": N_("Signal evaluation"),
    "expansion_readiness": N_("Expansion readiness"),
    "emea_overview": N_("EMEA overview"),
}
# Prevalence below this share of views is "rare": the tile adds its 97.5% upper bound (the
# interval's upper end), as transparency reports state "no more than ..." for rare harms.
RARE_PREVALENCE = 0.001
SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120.0, 28.0, 3.0
_H2 = re.compile(r'<h2 id="([^"]+)"[^>]*>(.*?)<', re.DOTALL)


def read_csv(path: Path, columns: list[str]) -> pd.DataFrame | None:
    """A published CSV (``kpis.csv``, ``kpi_history.csv``, ``alerts.csv``).

    ``None`` when it is absent, unreadable or lacks one of ``columns`` (not a file govlib
    wrote): the tile then leaves that part out, and the folder's reports are still listed.
    """
    if not path.exists():
        return None
    try:
        df = pd.read_csv(path, dtype={"month": str, "week_start": str, "policy": str, "content_type": str})
    except (ValueError, pd.errors.ParserError):
        return None
    return df if set(columns) <= set(df.columns) else None


def sparkline(values: list[float]) -> list[list[tuple[float, float]]]:
    """Polyline segments of a sparkline of ``values`` (``SPARK_WIDTH`` x ``SPARK_HEIGHT`` box).

    x spreads the months evenly; y maps the smallest value to the bottom and the largest to the
    top (a flat series sits in the middle). A missing month breaks the line into segments.
    """
    known = [v for v in values if not _nan(v)]
    if not known:
        return []
    lo, hi = min(known), max(known)
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / max(len(values) - 1, 1)
    inner = SPARK_HEIGHT - 2 * SPARK_PAD
    segments: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if _nan(v):
            if segments[-1]:
                segments.append([])
            continue
        y = SPARK_HEIGHT / 2 if hi == lo else SPARK_PAD + inner * (hi - v) / (hi - lo)
        segments[-1].append((round(SPARK_PAD + i * step, 2), round(y, 2)))
    return [s for s in segments if s]


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def month_changes(frames: list[tuple[pd.DataFrame, pd.DataFrame | None]], month: str) -> pd.DataFrame:
    """Changes on last month of every market's KPIs, tested as one table (:func:`rollup.compare_kpis`).

    ``frames``: each market's ``(kpis, history)``; a market without history has no previous
    month (its changes are NaN, never flagged). One call over all markets, as the EMEA
    overview's table of notable changes, so the front page marks the same changes.
    """
    previous = shift_month(month, -1)
    parts = [k[k["month"] == month] for k, _h in frames]
    parts += [h[h["month"] == previous] for _k, h in frames if h is not None]
    return rollup.compare_kpis(pd.concat(parts, ignore_index=True), month, previous).set_index(
        ["market", "kpi_id"]
    )


def kpi_rows(
    _, fmt, kpis: pd.DataFrame, history: pd.DataFrame | None, month: str, changes: pd.DataFrame
) -> list[dict]:
    """One row per headline KPI of ``month``: name, value with interval, change on last month, sparkline.

    ``history`` (may be None: a folder published before ``kpi_history.csv`` existed) gives the
    13 months of the sparkline; the month's figures come from ``kpis``; ``changes`` is
    :func:`month_changes` (the value before and the flag).
    """
    months = [shift_month(month, -k) for k in range(12, -1, -1)]
    now = kpis[kpis["month"] == month]
    rows = []
    for r in now.to_dict("records"):
        kid = r["kpi_id"]
        c = changes.loc[(r["market"], kid)] if (r["market"], kid) in changes.index else None
        series = (
            history[history["kpi_id"] == kid].set_index("month")["value"].reindex(months).tolist()
            if history is not None
            else []
        )
        rare = kid == "violating_view_prevalence" and not _nan(r["value"]) and r["value"] < RARE_PREVALENCE
        spark = sparkline(series)
        rows.append(
            {
                "kpi_id": kid,
                "name": present.kpi_label(_, kid),
                **_value_and_interval(fmt, r),
                "change": present.format_change(
                    fmt, r["value"], None if c is None else c["value_before"], str(r["unit"])
                ),
                "flagged": bool(c is not None and c["flagged"]),
                "upper_bound": _("no more than {n} per {base} views").format(
                    n=fmt.number(r["ci_high"] * 10000, 1), base=fmt.count(10000)
                )
                if rare and not _nan(r["ci_high"])
                else "",
                "spark": [" ".join(f"{x},{y}" for x, y in seg) for seg in spark],
                "spark_last": spark[-1][-1] if spark else None,
            }
        )
    return rows


def _value_and_interval(fmt, r: dict) -> dict[str, str]:
    """``{"value": "67.8%", "interval": "(95% CI 63.6%–71.8%)"}``: the report's text, split to lay out in two lines.

    The text is the market report's (:func:`govlib.report.present.format_kpi`); when a
    translation does not start with the value, the whole text is the value.
    """
    value, full = present.format_kpi(fmt, r, with_interval=False), present.format_kpi(fmt, r)
    if full != value and full.startswith(value):
        return {"value": value, "interval": full[len(value) :].strip()}
    return {"value": full, "interval": ""}


def emerging_risks_anchor(folder: Path) -> str:
    """``market_report.html#<id>`` of the report's "Emerging risks" section, in the report's language.

    The heading's id is nbconvert's; the language is the one the manifest records. Without the
    report or the heading: the report without an anchor (or ``""`` without a report).
    """
    page = folder / "market_report.html"
    if not page.exists():
        return ""
    from govlib.report.i18n import I18nError, get_translator

    lang = (read_json(folder / "market_report.manifest.json") or {}).get("lang") or "en_GB"
    try:
        heading = get_translator(lang).gettext("Emerging risks")
    except I18nError:
        heading = "Emerging risks"
    for anchor, text in _H2.findall(page.read_text(encoding="utf-8")):
        if _html.unescape(text).strip() == heading:
            return f"{folder.name}/market_report.html#{anchor}"
    return f"{folder.name}/market_report.html"


def top_alarm(_, fmt, alerts: pd.DataFrame | None, href: str) -> dict | None:
    """The strongest alarm (row 1 of ``alerts.csv``): translated series, week and q-value, and its link."""
    if alerts is None or alerts.empty:
        return None
    a = alerts.iloc[0]
    kind = _("All content types") if a["content_type"] == "all" else present.label(_, a["content_type"])
    return {
        "policy": present.label(_, a["policy"]),
        "content_type": kind,
        "week": fmt.date(pd.Timestamp(a["week_start"]).date()),
        "q_value": fmt.number(a["q_value"], 3),
        "href": href,
    }


def market_tile(_, fmt, folder: Path, month: str, kept: bool, changes: pd.DataFrame) -> dict:
    """A market's tile from its published folder (``kpis.csv`` checked by :func:`market_tiles`)."""
    from govlib.metrics.trends import ALERT_COLUMNS

    kpis = read_csv(folder / "kpis.csv", EXPORT_COLUMNS)
    alerts = read_csv(folder / "alerts.csv", ALERT_COLUMNS)
    reports = [
        (f"{folder.name}/{p.name}", _(REPORT_TITLES[p.stem]) if p.stem in REPORT_TITLES else p.stem)
        for p in sorted(folder.glob("*.html"), key=lambda p: (p.stem != "market_report", p.stem))
    ]
    return {
        "market": folder.name,
        "name": fmt.market_name(folder.name),
        "kept": kept,
        "no_data": bool((kpis["status"] == "no_data").any()),
        "kpis": kpi_rows(_, fmt, kpis, read_csv(folder / HISTORY_FILE, EXPORT_COLUMNS), month, changes),
        "alarms": fmt.count(0 if alerts is None else len(alerts)),
        "top_alarm": top_alarm(_, fmt, alerts, emerging_risks_anchor(folder)),
        "reports": reports,
    }


def market_tiles(_, fmt, month_dir: Path, month: str, kept: set[str]) -> list[dict]:
    """Tiles of every published market folder of ``month_dir`` (two-letter codes) with a govlib ``kpis.csv``."""
    from govlib.report.batch.arguments import MARKET_CODE

    folders = [
        p
        for p in sorted(month_dir.iterdir())
        if p.is_dir() and MARKET_CODE.match(p.name) and read_csv(p / "kpis.csv", EXPORT_COLUMNS) is not None
    ]
    if not folders:
        return []
    changes = month_changes(
        [
            (read_csv(p / "kpis.csv", EXPORT_COLUMNS), read_csv(p / HISTORY_FILE, EXPORT_COLUMNS))
            for p in folders
        ],
        month,
    )
    return [market_tile(_, fmt, p, month, p.name in kept, changes) for p in folders]


def simulation_links(month_dir: Path) -> list[tuple[str, str]]:
    """``(href, name)`` of each ``simulations/<name>/simulation.html`` of the month, by name."""
    return [
        (p.relative_to(month_dir).as_posix(), p.parent.name)
        for p in sorted(month_dir.glob("simulations/*/simulation.html"))
    ]
