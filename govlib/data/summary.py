"""``govlib summary --data DIR --month YYYY-MM``: a per-market table of the month.

The temporary main job until the reports land: for each market of the dataset, the
month's (market's local time zone, from params) content published, enforcement actions,
proactive share of actions, appeals submitted and notices received.
"""

from __future__ import annotations

import math

import pandas as pd

from govlib import contract
from govlib.timeutil import month_bounds, parse_month

COLUMNS = ("market", "content_published", "actions", "proactive_share", "appeals", "notices")


def summarise_month(ds, month: str, markets: list[str] | None = None) -> pd.DataFrame:
    """Per-market counts of ``month`` in each market's time zone, computed in the engine.

    Returns
    -------
    pandas.DataFrame
        Columns ``market, content_published, actions, proactive_share, appeals, notices``;
        ``proactive_share`` = actions detected by ``automated`` or ``proactive_review`` /
        actions (NaN without actions); ``appeals``/``notices`` are NaN when the table is absent.
    """
    from govlib.params import market_timezone

    parse_month(month)
    if markets is None:
        from govlib.data.load import list_data_markets

        markets = list_data_markets(ds)
    rows = []
    for m in markets:
        start, end = month_bounds(month, market_timezone(m))

        def count(name, pred=None, m=m, start=start, end=end):
            if not ds.has(name):
                return math.nan
            t = ds.filter_expr(name, m, start, end)
            if pred is not None:
                t = t.filter(pred(t))
            return int(t.count().to_pandas())

        n_act = count("enforcement_actions")
        n_pro = count(
            "enforcement_actions", lambda t: t.detection_source.isin(list(contract.PROACTIVE_SOURCES))
        )
        rows.append(
            {
                "market": m,
                "content_published": count("content"),
                "actions": n_act,
                "proactive_share": n_pro / n_act if n_act else math.nan,
                "appeals": count("appeals"),
                "notices": count("notices"),
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def format_table(df: pd.DataFrame) -> str:
    """Aligned plain-text table (counts with thousands separators, share as a percentage)."""

    def fmt(col, v):
        if isinstance(v, float) and math.isnan(v):
            return "n/a"
        if col == "proactive_share":
            return f"{v:.1%}"
        if col == "market":
            return str(v)
        return f"{int(v):,}"

    cells = [list(COLUMNS)] + [[fmt(c, r[c]) for c in COLUMNS] for _, r in df.iterrows()]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    out = []
    for k, row in enumerate(cells):
        out.append(
            "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths)))
        )
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def split_known(markets: list[str]) -> tuple[list[str], dict[str, str]]:
    """Markets with params (summarised), and the others with why they are skipped."""
    from govlib.params import list_markets

    known = set(list_markets())
    skipped = {m: f"no params/markets/{m}.yaml (its time zone is unknown)" for m in markets if m not in known}
    return [m for m in markets if m in known], skipped
