"""Time to action as a distribution, and the ageing of what is still open at month end.

A median hides the long tail a case-management lead is asked about: how long the slowest
tenth and hundredth of cases take, and what share met each service level. Per-item work
runs on the engine (Ibis expressions, e.g. ``ReportContext.expr``; a DataFrame is wrapped in
``ibis.memtable``); pandas sees one row per group.

- :func:`time_to_action_distribution`: p50, p90, p99 of the hours from detection to action
  (``enforcement_actions`` actioned in the month: ``actioned_at - detected_at``) and from
  notice to action (``notices`` actioned and handled in the month: ``handled_at -
  received_at``, the clock of the KPI ``notice_median_hours_to_action``), and the share
  within each SLA of the market's ``action_sla_hours``, per policy x detection source (a
  notice's source is its reporter: ``user`` -> ``user_report``, ``trusted_flagger``,
  ``authority`` -> ``authority_order``), with pooled rows ``"(all)"``.
- :func:`open_notice_ageing`: notices received before the month's end and not handled by
  then, by age at the month's end.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from govlib.stats.intervals import proportion_interval

__all__ = ["AGE_BUCKETS", "ALL", "open_notice_ageing", "time_to_action_distribution"]

ALL = "(all)"
REPORTER_SOURCE = {
    "user": "user_report",
    "trusted_flagger": "trusted_flagger",
    "authority": "authority_order",
}
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
# (label, upper bound in hours): ages at month end
AGE_BUCKETS = (
    ("< 24 h", 24.0),
    ("1-3 d", 72.0),
    ("3-7 d", 168.0),
    ("7-30 d", 720.0),
    ("> 30 d", float("inf")),
)
_US_PER_HOUR = 3_600_000_000.0


def _expr(t: Any):
    import ibis

    return ibis.memtable(t) if isinstance(t, pd.DataFrame) else t


def _bounds(month: str, tz: str):
    from govlib.data.dataset import utc_literal
    from govlib.timeutil import month_bounds

    start, end = month_bounds(month, tz)
    return utc_literal(start), utc_literal(end)


def _source_of_reporter(col):
    import ibis

    return ibis.cases(*[(col == k, v) for k, v in REPORTER_SOURCE.items()], else_=col)


def _hours(later, earlier):
    return later.delta(earlier, unit="microsecond").cast("float64") / _US_PER_HOUR


def _clock_items(actions: Any, notices: Any, market: str, month: str, tz: str):
    """Per-item ``clock, policy, detection_source, hours`` of both clocks (one expression), or None."""
    import ibis

    lo, hi = _bounds(month, tz)
    parts = []
    if actions is not None:
        a = _expr(actions)
        a = a.filter((a.market == market) & (a.actioned_at >= lo) & (a.actioned_at < hi))
        parts.append(
            a.select(
                clock=ibis.literal("detection"),
                policy=a.policy,
                detection_source=a.detection_source,
                hours=_hours(a.actioned_at, a.detected_at),
            )
        )
    if notices is not None:
        n = _expr(notices)
        n = n.filter(
            (n.market == market) & (n.outcome == "actioned") & (n.handled_at >= lo) & (n.handled_at < hi)
        )
        parts.append(
            n.select(
                clock=ibis.literal("notice"),
                policy=n.policy,
                detection_source=_source_of_reporter(n.reporter_type),
                hours=_hours(n.handled_at, n.received_at),
            )
        )
    return ibis.union(*parts, distinct=False) if len(parts) > 1 else (parts[0] if parts else None)


def _pooled(items, by: list[str], levels: list[list[str]], aggs) -> pd.DataFrame:
    """``aggs(items)`` per ``by`` + each level of keys, pooled keys set to :data:`ALL`: one engine query."""
    import ibis

    exprs = []
    for keys in levels:
        group = [*by, *keys]
        agg = items.group_by(group).aggregate(**aggs(items)) if group else items.aggregate(**aggs(items))
        pooled = {k: ibis.literal(ALL) for k in ("policy", "detection_source") if k not in keys}
        exprs.append(agg.mutate(**pooled).select(*by, "policy", "detection_source", *aggs(items).keys()))
    return ibis.union(*exprs, distinct=False).to_pandas()


def time_to_action_distribution(
    actions: Any, notices: Any, market: str, month: str, tz: str, sla_hours: list[float]
) -> pd.DataFrame:
    """Hours to action from detection and from notice: p50, p90, p99 and share within each SLA.

    Parameters
    ----------
    actions, notices : ibis.Table or DataFrame or None
        ``enforcement_actions`` and ``notices`` (contract columns); ``None`` leaves that clock out.
    market, month, tz : str
    sla_hours : list of float
        Service levels (hours), from the market's params ``action_sla_hours``.

    Returns
    -------
    DataFrame
        ``clock`` (``detection`` or ``notice``), ``policy``, ``detection_source`` (``"(all)"``
        pools), ``n``, ``p50``, ``p90``, ``p99`` (hours), and per SLA ``s``:
        ``n_within_<s>h``, ``within_<s>h`` (share with hours <= s) and its Wilson interval
        ``within_<s>h_low``, ``within_<s>h_high``. Empty groups are left out.

    Notes
    -----
    Quantiles interpolate linearly between order statistics (DuckDB ``quantile_cont``,
    numpy's default ``np.percentile``), so p50 is the ordinary median of the KPIs.

    References
    ----------
    .. [1] Hyndman, R. J., Fan, Y. (1996). Sample quantiles in statistical packages. The
       American Statistician 50(4), 361-365 (definition 7).
    """
    cols = ["clock", "policy", "detection_source", "n", *QUANTILES]
    items = _clock_items(actions, notices, market, month, tz)
    if items is None:
        return pd.DataFrame(columns=cols)

    def aggs(t):
        out = {"n": t.count(), **{k: t.hours.quantile(q) for k, q in QUANTILES.items()}}
        out.update({f"n_within_{s:g}h": (t.hours <= s).cast("int64").sum() for s in sla_hours})
        return out

    levels = [["policy", "detection_source"], ["policy"], ["detection_source"], []]
    out = _pooled(items, ["clock"], levels, aggs)
    out = out[out["n"] > 0].copy()
    out["n"] = out["n"].astype("int64")
    for s in sla_hours:
        k = f"within_{s:g}h"
        out[f"n_{k}"] = out[f"n_{k}"].astype("int64")
        out[k] = out[f"n_{k}"] / out["n"]
        ci = [proportion_interval(c, n) for c, n in zip(out[f"n_{k}"], out["n"])]
        out[f"{k}_low"], out[f"{k}_high"] = [lo for lo, _ in ci], [hi for _, hi in ci]
        cols += [f"n_{k}", k, f"{k}_low", f"{k}_high"]
    out = out.sort_values(["clock", "policy", "detection_source"], kind="mergesort")
    return out[cols].reset_index(drop=True)


def open_notice_ageing(notices: Any, market: str, month: str, tz: str) -> pd.DataFrame:
    """Notices still open at the month's end, by policy x source and age.

    A notice is open at the end *E* of the local month when ``received_at < E`` and it was not
    handled before *E* (``handled_at`` null or ``>= E``). Its age is ``E - received_at``.

    Returns
    -------
    DataFrame
        ``policy``, ``detection_source`` (the reporter's source; ``"(all)"`` pools), ``open``,
        ``p50_age_hours``, ``p90_age_hours`` and one count column per :data:`AGE_BUCKETS` label.
    """
    _, hi = _bounds(month, tz)
    n = _expr(notices)
    n = n.filter((n.market == market) & (n.received_at < hi) & (n.handled_at.isnull() | (n.handled_at >= hi)))
    items = n.select(
        "policy", detection_source=_source_of_reporter(n.reporter_type), age=_hours(hi, n.received_at)
    )

    def aggs(t):
        out = {"open": t.count(), "p50_age_hours": t.age.quantile(0.5), "p90_age_hours": t.age.quantile(0.9)}
        lower = 0.0
        for label, upper in AGE_BUCKETS:
            out[label] = ((t.age >= lower) & (t.age < upper)).cast("int64").sum()
            lower = upper
        return out

    out = _pooled(items, [], [["policy", "detection_source"], ["policy"], []], aggs)
    out = out[out["open"].fillna(0) > 0].copy()
    for c in ["open", *(label for label, _ in AGE_BUCKETS)]:
        out[c] = out[c].astype("int64")
    cols = [
        "policy",
        "detection_source",
        "open",
        "p50_age_hours",
        "p90_age_hours",
        *(b for b, _ in AGE_BUCKETS),
    ]
    return out.sort_values(["policy", "detection_source"], kind="mergesort")[cols].reset_index(drop=True)
