"""Difference-in-differences with staggered adoption: stacked cohorts of treated units
against matched not-yet-treated ("clean") controls, with a unit bootstrap.

Flat functions on unit x period arrays (no governance tables);
:func:`govlib.metrics.effectiveness.estimate_deterrence_did` builds the creator x month
arrays and reads the result as a deterrence effect.

Functions
---------
build_did_cohorts
    One cohort per adoption period: the treated units, their clean controls, the change
    of each unit's rate from the ``w`` periods before to the ``w`` after, and the exact
    matching cells (base cell x prior-activity band).
estimate_att
    Effect on the treated (ATT) and rate ratio of the cohorts, for unit weights (1 for
    the estimate, bootstrap counts for a replication).
bootstrap_att
    Seeded percentile intervals of both by resampling units with replacement.
att_from_cells
    Both, and the bootstrap percentiles, from per-(replicate, cohort, cell, group) sums
    computed by an engine (:func:`govlib.metrics.effectiveness.did_cell_sums_expr`).

References
----------
Callaway, B., Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time
periods. Journal of Econometrics 225(2), 200-230. Cengiz, D., Dube, A., Lindner, A.,
Zipperer, B. (2019). The effect of minimum wages on low-wage jobs. QJE 134(3),
1405-1454 (stacked event design).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["build_did_cohorts", "estimate_att", "bootstrap_att", "att_from_cells"]


def _rate(Y: np.ndarray, E: np.ndarray, sl: slice) -> np.ndarray:
    """Rate ``sum(Y) / sum(E)`` of each unit over the periods ``sl`` (NaN without exposure)."""
    e = np.nansum(E[:, sl], axis=1)
    return np.divide(np.nansum(Y[:, sl], axis=1), e, out=np.full(len(Y), np.nan), where=e > 0)


def build_did_cohorts(Y, A, E, G, eligible, base_code, window: int) -> list[dict]:
    """Stacked clean-control cohorts of a unit x period panel.

    Parameters
    ----------
    Y, A, E : ndarray
        Units x periods: outcome, activity (for the prior-activity band) and exposure;
        NaN where the unit has no row for the period.
    G : ndarray
        Adoption period index of each unit (``inf`` never, ``-inf`` before the panel).
    eligible : ndarray of bool
        Units that may be treated or controls.
    base_code : ndarray of int
        Exact-matching cell of each unit (before the activity band).
    window : int
        Periods ``w`` before and after; the adoption period itself is left out.

    Returns
    -------
    list of dict
        One per period ``g`` with treated units: ``t, c`` (treated and control indices),
        ``dt, dc`` (their rate changes), ``ct, cc`` (their cells), ``ncell``, ``pre_t,
        post_t`` (treated rates) and ``c_total`` (controls' outcome in the window).
    """
    T = Y.shape[1]
    cohorts = []
    for g in range(window, T - window):
        pre = slice(g - window, g)
        post = slice(g + 1, g + window + 1)
        r_pre, r_post = _rate(Y, E, pre), _rate(Y, E, post)
        present = ~np.isnan(Y[:, g - window : g + window + 1]).any(axis=1)
        full = eligible & present & ~np.isnan(r_pre) & ~np.isnan(r_post)
        treated = full & (G == g)
        if not treated.any():
            continue
        control = full & (G > g + window)
        d = r_post - r_pre
        band = np.floor(np.log2(1.0 + np.nansum(A[:, pre], axis=1))).astype(int)
        cell = base_code * 64 + np.minimum(band, 63)
        _, cell = np.unique(cell, return_inverse=True)
        t_idx, c_idx = np.flatnonzero(treated), np.flatnonzero(control)
        cohorts.append(
            {
                "t": t_idx,
                "c": c_idx,
                "dt": d[t_idx],
                "dc": d[c_idx],
                "ct": cell[t_idx],
                "cc": cell[c_idx],
                "ncell": int(cell.max()) + 1,
                "pre_t": r_pre[t_idx],
                "post_t": r_post[t_idx],
                "c_total": float(np.nansum(Y[c_idx][:, g - window : g + window + 1])),
            }
        )
    return cohorts


def estimate_att(cohorts: list[dict], w: np.ndarray, detail: bool = False):
    """ATT and rate ratio of :func:`build_did_cohorts` cohorts with unit weights ``w``.

    ``ATT = mean over treated i of (d_i - mean d_c of the controls of i's cell)``;
    ``RR = sum post_i / sum (post_i - ATT_i)``. Treated units whose cell has no control
    are left out. Returns ``(att, ratio)``, or with ``detail`` ``(att, ratio, n_treated,
    n_unmatched, sum of pre rates, sum of post rates, sum of control changes)``.
    """
    num = den = post_s = pre_s = cchg = 0.0
    unmatched = 0
    for co in cohorts:
        wc = w[co["c"]]
        s = np.bincount(co["cc"], weights=wc * co["dc"], minlength=co["ncell"])
        k = np.bincount(co["cc"], weights=wc, minlength=co["ncell"])
        ok = k[co["ct"]] > 0
        wt = w[co["t"]] * ok
        # float out: np.bincount of an empty cohort (no controls) returns int64 even with
        # weights, and an int out cannot hold the float quotient (UFuncTypeError)
        cbar = np.divide(s, k, out=np.zeros(s.shape, dtype=float), where=k > 0)[co["ct"]]
        num += float((wt * (co["dt"] - cbar)).sum())
        den += float(wt.sum())
        post_s += float((wt * co["post_t"]).sum())
        if detail:
            unmatched += int((~ok).sum())
            pre_s += float((wt * co["pre_t"]).sum())
            cchg += float((wt * cbar).sum())
    est = num / den if den else math.nan
    cf = post_s - num  # sum of counterfactual post rates
    ratio = post_s / cf if den and cf > 0 else math.nan
    if not detail:
        return est, ratio
    return est, ratio, den, unmatched, pre_s, post_s, cchg


def bootstrap_att(cohorts: list[dict], n: int, n_boot: int, seed: int, alpha: float) -> tuple[float, ...]:
    """Percentile intervals ``(lo, hi, ratio_lo, ratio_hi)`` of :func:`estimate_att`.

    Each of ``n_boot`` replications resamples the ``n`` units with replacement
    (``numpy.random.default_rng(seed)``), which carries the dependence of a unit that is
    a control in several cohorts. NaN when ``n_boot`` is 0 (or no replication gives a ratio).
    """
    lo = hi = r_lo = r_hi = math.nan
    if n_boot <= 0:
        return lo, hi, r_lo, r_hi
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, 2))
    for b in range(n_boot):
        w = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        boots[b] = estimate_att(cohorts, w)
    q = [alpha / 2, 1 - alpha / 2]
    e_b, r_b = boots[:, 0][~np.isnan(boots[:, 0])], boots[:, 1][~np.isnan(boots[:, 1])]
    lo, hi = (float(x) for x in np.quantile(e_b, q))
    if len(r_b):
        r_lo, r_hi = (float(x) for x in np.quantile(r_b, q))
    return lo, hi, r_lo, r_hi


# --------------------------------------------------------------------------- cell sums (engine form)

CELL_SUM_COLUMNS = ("replicate", "g", "cell", "treated", "w", "s_d", "s_pre", "s_post", "y_window", "n")


def att_from_cells(cells, n_boot: int, alpha: float) -> dict:
    """:func:`estimate_att` and :func:`bootstrap_att` from per-(replicate, cohort, cell, group) sums.

    ``cells`` (a DataFrame with :data:`CELL_SUM_COLUMNS`) holds, for each replicate (0: every
    unit weight 1; 1..``n_boot``: bootstrap weights), cohort ``g``, matching ``cell`` and
    ``treated`` flag, the weighted count ``w`` and weighted sums of the rate change ``s_d``,
    pre and post rates, the outcome over the window ``y_window`` and the unweighted count
    ``n``. Since ``sum_i w_i (d_i - cbar) = S_d,treated - W_treated cbar``, the ATT and rate
    ratio of every replicate follow from these sums exactly as :func:`estimate_att` computes
    them from unit rows. Returns ``est, ratio, den, unmatched, pre_s, post_s, cchg, c_total,
    n_cohorts, lo, hi, ratio_lo, ratio_hi``.
    """
    import pandas as pd

    keys = ["replicate", "g", "cell"]
    # an engine returns rows in any order; sorted, the float sums below are the same every run
    cells = cells.sort_values([*keys, "treated"], kind="stable").reset_index(drop=True)
    t = cells[cells["treated"].astype(bool)].set_index(keys)
    c = cells[~cells["treated"].astype(bool)].set_index(keys)
    t = t.join(c[["w", "s_d"]].rename(columns={"w": "k", "s_d": "s"}), how="left").fillna(
        {"k": 0.0, "s": 0.0}
    )
    ok = t["k"] > 0
    cbar = (t["s"] / t["k"]).where(ok, 0.0)
    wt = t["w"].where(ok, 0.0)
    per = (
        pd.DataFrame(
            {
                "num": (t["s_d"] - wt * cbar).where(ok, 0.0),
                "den": wt,
                "post": t["s_post"].where(ok, 0.0),
                "pre": t["s_pre"].where(ok, 0.0),
                "cchg": wt * cbar,
            }
        )
        .groupby(level="replicate")
        .sum()
    )
    per = per.reindex(range(n_boot + 1), fill_value=0.0)
    est = (per["num"] / per["den"]).where(per["den"] > 0)
    cf = per["post"] - per["num"]
    ratio = (per["post"] / cf).where((per["den"] > 0) & (cf > 0))
    cohorts = t.xs(0, level="replicate").index.get_level_values("g").unique()
    c0 = c.xs(0, level="replicate") if 0 in c.index.get_level_values("replicate") else c.iloc[:0]
    out = {
        "est": float(est.iloc[0]) if per["den"].iloc[0] else math.nan,
        "ratio": float(ratio.iloc[0]) if not np.isnan(ratio.iloc[0]) else math.nan,
        "den": float(per["den"].iloc[0]),
        "unmatched": int(t.xs(0, level="replicate").loc[~ok.xs(0, level="replicate"), "n"].sum()),
        "pre_s": float(per["pre"].iloc[0]),
        "post_s": float(per["post"].iloc[0]),
        "cchg": float(per["cchg"].iloc[0]),
        "c_total": float(c0.loc[c0.index.get_level_values("g").isin(cohorts), "y_window"].sum()),
        "n_cohorts": len(cohorts),
        "lo": math.nan,
        "hi": math.nan,
        "ratio_lo": math.nan,
        "ratio_hi": math.nan,
    }
    if n_boot > 0:
        q = [alpha / 2, 1 - alpha / 2]
        e_b, r_b = est.iloc[1:].dropna(), ratio.iloc[1:].dropna()
        if len(e_b):
            out["lo"], out["hi"] = (float(x) for x in np.quantile(e_b.to_numpy(), q))
        if len(r_b):
            out["ratio_lo"], out["ratio_hi"] = (float(x) for x in np.quantile(r_b.to_numpy(), q))
    return out
