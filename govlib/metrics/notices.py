"""Notice handling: how fast notices are acted on, by reporter type.

DSA Article 16 obliges hosting services to process notices "in a timely, diligent,
non-arbitrary and objective manner" and Article 22 to handle trusted flaggers'
notices "with priority and without undue delay"; the transparency templates report
the median time to take action on notices.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from govlib.metrics.frames import hours_between, require_columns, select_market, select_market_month
from govlib.stats import proportion_interval
from govlib.timeutil import parse_month

__all__ = ["summarize_notice_handling", "compare_notice_handling_times"]

ALL = "(all)"
_NEEDED = ["market", "outcome", "received_at", "handled_at"]


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else math.nan


def _hours_to_action(notices: pd.DataFrame, market: str, month: str, tz: str) -> pd.DataFrame:
    handled = select_market_month(notices, "notices", market, month, tz, "handled_at", nullable=True)
    handled = handled.assign(hours=hours_between(handled["handled_at"], handled["received_at"]).to_numpy())
    return handled


def summarize_notice_handling(
    notices: pd.DataFrame, market: str, month: str, tz: str, by: str = "reporter_type"
) -> pd.DataFrame:
    """Notices received, handled and actioned in a month, and the median hours to action, by group.

    Definition, per group of ``by`` and for all notices (group ``"(all)"``, last):

    - ``received``: notices of ``market`` with ``received_at`` in local ``month``;
    - ``handled``: notices with ``handled_at`` in ``month`` (outcome not pending);
    - ``actioned``: handled notices with ``outcome == "actioned"``;
    - ``actioned_rate = actioned / handled`` with a 95% Wilson interval;
    - ``median_hours_to_action``: median of ``handled_at - received_at`` in hours over
      the actioned notices (the KPI ``notice_median_hours_to_action`` for ``"(all)"``);
    - ``median_hours_to_handle``: the same over every handled notice.

    Parameters
    ----------
    notices : DataFrame
        Contract table ``notices`` (may hold other markets and months).
    market, month, tz : str
        Market code, ``YYYY-MM`` and the market's time zone.
    by : {"reporter_type", "policy"}
        Grouping column. ``"reporter_type"`` contrasts ``trusted_flagger``, ``user``
        and ``authority`` notices.

    Returns
    -------
    DataFrame
        ``market, month, by, group, received, handled, actioned, actioned_rate,
        ci_low, ci_high, median_hours_to_action, median_hours_to_handle``; empty
        denominators give NaN.

    References
    ----------
    .. [1] Regulation (EU) 2022/2065 (DSA), Articles 16, 22 and 15(1)(b).
    .. [2] Implementing Regulation (EU) 2024/2835, Annex I, Part 4 (notices: median time to action).
    """
    parse_month(month)
    if by not in ("reporter_type", "policy"):
        raise ValueError(f"by must be 'reporter_type' or 'policy', got {by!r}")
    require_columns(notices, "notices", _NEEDED + [by])
    received = select_market_month(notices, "notices", market, month, tz, "received_at")
    handled = _hours_to_action(notices, market, month, tz)
    handled = handled.loc[(handled["outcome"] != "pending").to_numpy(dtype=bool, na_value=False)]
    groups = sorted(set(received[by].dropna().astype(str)) | set(handled[by].dropna().astype(str)))
    rows = []
    for g in groups + [ALL]:
        rec = received if g == ALL else received.loc[(received[by].astype(str) == g).to_numpy(dtype=bool)]
        han = handled if g == ALL else handled.loc[(handled[by].astype(str) == g).to_numpy(dtype=bool)]
        act = han.loc[(han["outcome"] == "actioned").to_numpy(dtype=bool, na_value=False)]
        n_h, n_a = len(han), len(act)
        low, high = proportion_interval(n_a, n_h)
        rows.append(
            {
                "group": g,
                "received": len(rec),
                "handled": n_h,
                "actioned": n_a,
                "actioned_rate": n_a / n_h if n_h else math.nan,
                "ci_low": low,
                "ci_high": high,
                "median_hours_to_action": _median(act["hours"].dropna().to_numpy(dtype=float)),
                "median_hours_to_handle": _median(han["hours"].dropna().to_numpy(dtype=float)),
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "group",
            "received",
            "handled",
            "actioned",
            "actioned_rate",
            "ci_low",
            "ci_high",
            "median_hours_to_action",
            "median_hours_to_handle",
        ],
    )
    out.insert(0, "by", by)
    out.insert(0, "month", month)
    out.insert(0, "market", market)
    return out


def compare_notice_handling_times(
    notices: pd.DataFrame,
    market: str,
    month: str,
    tz: str,
    group: str = "trusted_flagger",
    reference: str = "user",
    alternative: str = "less",
) -> pd.DataFrame:
    """Are notices of ``group`` acted on faster than those of ``reference``? (Mann-Whitney U)

    Definition: hours to action (``handled_at - received_at``) of actioned notices
    of ``market`` handled in local ``month``, ``reporter_type == group`` against
    ``reporter_type == reference``.

    Parameters
    ----------
    notices : DataFrame
        Contract table ``notices``.
    market, month, tz : str
        Market code, ``YYYY-MM``, time zone.
    group, reference : str
        Reporter types compared (default trusted flaggers against users).
    alternative : {"less", "two-sided", "greater"}
        ``"less"`` (default) tests that ``group`` is handled faster, the priority
        DSA Article 22 requires.

    Returns
    -------
    DataFrame
        One row: ``market, month, group, reference, n_group, n_reference,
        median_hours_group, median_hours_reference, statistic, pvalue``. NaN when a
        side has no actioned notice.

    Notes
    -----
    ``scipy.stats.mannwhitneyu`` (exact for small samples without ties, normal
    approximation with tie correction otherwise). Handling times are skewed, hence a
    rank test rather than a t test on means.

    References
    ----------
    .. [1] Mann, H. B., Whitney, D. R. (1947). Annals of Mathematical Statistics 18, 50-60.
    .. [2] Regulation (EU) 2022/2065 (DSA), Article 22 (trusted flaggers).
    """
    parse_month(month)
    if alternative not in ("less", "two-sided", "greater"):
        raise ValueError(f"alternative must be 'less', 'two-sided' or 'greater', got {alternative!r}")
    require_columns(notices, "notices", _NEEDED + ["reporter_type"])
    h = _hours_to_action(select_market(notices, "notices", market), market, month, tz)
    h = h.loc[(h["outcome"] == "actioned").to_numpy(dtype=bool, na_value=False)]
    a = (
        h.loc[(h["reporter_type"] == group).to_numpy(dtype=bool, na_value=False), "hours"]
        .dropna()
        .to_numpy(float)
    )
    b = (
        h.loc[(h["reporter_type"] == reference).to_numpy(dtype=bool, na_value=False), "hours"]
        .dropna()
        .to_numpy(float)
    )
    if len(a) and len(b):
        from scipy import stats as sps  # lazy: a second of imports, one function uses it

        res = sps.mannwhitneyu(a, b, alternative=alternative)
        stat, p = float(res.statistic), float(res.pvalue)
    else:
        stat = p = math.nan
    return pd.DataFrame(
        [
            {
                "market": market,
                "month": month,
                "group": group,
                "reference": reference,
                "n_group": len(a),
                "n_reference": len(b),
                "median_hours_group": _median(a),
                "median_hours_reference": _median(b),
                "statistic": stat,
                "pvalue": p,
            }
        ]
    )
