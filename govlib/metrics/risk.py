"""Risk prioritisation: which creators and which (policy, product category) segments first.

A documented, explainable score, as integrity teams use for proactive review queues:

    risk = likelihood x severity x reach

* **likelihood** - the recent violation rate (enforcement actions per content item published
  in the window), shrunk towards the market mean with empirical Bayes (gamma-Poisson,
  method-of-moments hyper-parameters; Marshall 1991) so a creator with two items and one
  action is not ranked above an established creator on noise
  (:func:`govlib.stats.shrinkage.shrink_rates_gamma_poisson`);
* **severity** - the mean ``severity_weights`` (market params) of the actions; the market's
  mean weight when there are none;
* **reach** - views and GMV of the content published in the window, relative to the
  market's average (1 = an average creator / segment).

:func:`score_creator_risk` and :func:`score_segment_risk` compute it; a report computes the
per-creator inputs on the engine (:func:`creator_risk_inputs_expr`) and scores them with
:func:`score_creator_risk_inputs`;
:func:`build_watchlist` ranks the top N with the reasons for each rank, pseudonymised for
circulated reports; :func:`plot_risk_matrix` draws likelihood x impact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from govlib.errors import GovlibError
from govlib.metrics.frames import require_columns
from govlib.stats.shrinkage import shrink_rates_gamma_poisson
from govlib.text import N_
from govlib.timeutil import month_bounds, parse_month, shift_month, to_utc

__all__ = [
    "RiskError",
    "build_watchlist",
    "plot_risk_matrix",
    "creator_risk_inputs_expr",
    "score_creator_risk",
    "score_creator_risk_inputs",
    "score_segment_risk",
]

UNKNOWN_CATEGORY = "(none)"


class RiskError(GovlibError):
    """Input to the risk scores is missing columns or holds unusable values."""


def _identity(text: str) -> str:
    return text


# --------------------------------------------------------------------------- inputs


def _require(df: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    require_columns(df, table, columns, error=RiskError)


def _window(values: pd.Series, month: str, tz: str, months: int, table: str, column: str) -> pd.Series:
    start, _ = month_bounds(shift_month(month, -(months - 1)), tz)
    _, end = month_bounds(month, tz)
    ts = to_utc(values)
    bad = ts.isna()
    if bad.any():
        raise RiskError(
            f"table {table!r} column {column!r}: {int(bad.sum())} row(s) without a timestamp "
            f"(row labels {', '.join(map(str, values.index[bad][:5]))}); run `govlib validate`"
        )
    return (ts >= start) & (ts < end)


def _severity_weight(sev: pd.Series, weights: Mapping[str, float]) -> pd.Series:
    w = sev.astype(str).map(dict(weights))
    bad = w.isna()
    if bad.any():
        vals = ", ".join(sorted(set(sev.astype(str)[bad]))[:5])
        raise RiskError(
            f"table 'enforcement_actions' column 'severity': {int(bad.sum())} row(s) with a severity "
            f"without a weight in params severity_weights ({vals}); add it to params/markets/<CC>.yaml"
        )
    return w.astype(float)


def _recent(actions, content, market, month, tz, months, need_a, need_c):
    parse_month(month)
    if months < 1:
        raise RiskError(f"months must be >= 1, got {months}")
    _require(actions, "enforcement_actions", need_a)
    _require(content, "content", need_c)
    a = actions.loc[actions["market"].astype(str) == market]
    c = content.loc[content["market"].astype(str) == market]
    a = a.loc[_window(a["actioned_at"], month, tz, months, "enforcement_actions", "actioned_at")]
    c = c.loc[_window(c["published_at"], month, tz, months, "content", "published_at")]
    return a, c


def _relative(x: pd.Series) -> pd.Series:
    mean = float(x.mean()) if len(x) else np.nan
    return x / mean if mean and np.isfinite(mean) and mean > 0 else pd.Series(np.nan, index=x.index)


def _assemble(
    units: pd.DataFrame, keys: list[str], reach_weights: tuple[float, float], mean_severity: float
) -> pd.DataFrame:
    units["exposure"] = units["published"].clip(lower=1).astype(float)
    eb = shrink_rates_gamma_poisson(units["actions"].to_numpy(), units["exposure"].to_numpy())
    units["raw_rate"] = eb["raw_rate"].to_numpy()
    units["likelihood"] = eb["rate"].to_numpy()
    units["credibility"] = eb["weight"].to_numpy()
    units["severity"] = (units["severity_sum"] / units["actions"]).where(units["actions"] > 0, mean_severity)
    wv, wg = reach_weights
    rv, rg = _relative(units["views"].astype(float)), _relative(units["gmv_eur"].astype(float))
    units["reach"] = (wv * rv.fillna(0) + wg * rg.fillna(0)) / (wv + wg)
    units["impact"] = units["severity"] * units["reach"]
    units["risk"] = units["likelihood"] * units["impact"]
    prior = eb.attrs.get("prior_mean", np.nan)
    units["likelihood_rel"] = units["likelihood"] / prior if prior else np.nan
    units["severity_rel"] = units["severity"] / mean_severity if mean_severity else np.nan
    units["views_rel"], units["gmv_rel"] = rv, rg
    units = units.sort_values(["risk"] + keys, ascending=[False] + [True] * len(keys), kind="mergesort")
    units.insert(0, "rank", np.arange(1, len(units) + 1))
    units.attrs.update(eb.attrs, mean_severity=mean_severity)
    cols = [
        "rank",
        *keys,
        "market",
        "actions",
        "published",
        "exposure",
        "raw_rate",
        "likelihood",
        "credibility",
        "severity",
        "views",
        "gmv_eur",
        "reach",
        "impact",
        "risk",
        "likelihood_rel",
        "severity_rel",
        "views_rel",
        "gmv_rel",
    ]
    return units[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- scores


def score_creator_risk(
    actions: pd.DataFrame,
    content: pd.DataFrame,
    market: str,
    month: str,
    tz: str,
    *,
    severity_weights: Mapping[str, float],
    months: int = 3,
    reach_weights: tuple[float, float] = (0.5, 0.5),
) -> pd.DataFrame:
    """Risk score of every creator active in a market's recent months.

    The window is the ``months`` local months ending with ``month`` (``tz`` is the market's
    time zone). A creator is scored when they published content or were acted on in the
    window, in ``market``.

    Definitions
    -----------
    * ``likelihood``: enforcement actions actioned in the window per content item published
      in the window (``exposure = max(published, 1)``: actions on older content or
      account-level actions still count), shrunk with :func:`~govlib.stats.shrinkage.shrink_rates_gamma_poisson`
      across the market's creators;
    * ``severity``: mean ``severity_weights[severity]`` of the creator's actions in the
      window; creators without actions get the market's mean over all actions;
    * ``reach``: ``(wv * views / mean(views) + wg * gmv / mean(gmv)) / (wv + wg)`` over the
      content published in the window, means over the scored creators,
      ``reach_weights = (wv, wg)``; 1 = the average creator;
    * ``impact = severity x reach``; ``risk = likelihood x impact``.

    Parameters
    ----------
    actions, content : DataFrame
        ``enforcement_actions`` and ``content`` rows (other markets and months are ignored).
    severity_weights : mapping
        ``MarketParams.severity_weights`` (``low, medium, high, critical`` -> weight).

    Returns
    -------
    DataFrame
        Ranked (``rank`` 1 = highest risk): ``creator_id, market, actions, published,
        exposure, raw_rate, likelihood, credibility, severity, views, gmv_eur, reach, impact,
        risk`` and the factors relative to the market (``likelihood_rel, severity_rel,
        views_rel, gmv_rel``) used by :func:`build_watchlist` to explain a rank. Contains raw
        creator IDs: pass it through :func:`build_watchlist` with a pseudonymiser before it
        leaves the team.
    """
    a, c = _recent(
        actions,
        content,
        market,
        month,
        tz,
        months,
        ["creator_id", "market", "severity", "actioned_at"],
        ["creator_id", "market", "published_at", "views", "gmv_eur"],
    )
    w = _severity_weight(a["severity"], severity_weights)
    per_a = pd.DataFrame({"creator_id": a["creator_id"].astype(str).to_numpy(), "sev": w.to_numpy()})
    per_a = per_a.groupby("creator_id").agg(actions=("sev", "size"), severity_sum=("sev", "sum"))
    per_c = pd.DataFrame(
        {
            "creator_id": c["creator_id"].astype(str).to_numpy(),
            "views": c["views"].astype(float).to_numpy(),
            "gmv_eur": c["gmv_eur"].astype(float).to_numpy(),
        }
    )
    per_c = per_c.groupby("creator_id").agg(
        published=("views", "size"), views=("views", "sum"), gmv_eur=("gmv_eur", "sum")
    )
    units = per_c.join(per_a, how="outer").fillna(0.0).reset_index()
    return score_creator_risk_inputs(
        units, market, month, severity_weights=severity_weights, months=months, reach_weights=reach_weights
    )


def creator_risk_inputs_expr(
    actions,
    content,
    market: str,
    month: str,
    tz: str,
    *,
    severity_weights: Mapping[str, float],
    months: int = 3,
):
    """The per-creator inputs of :func:`score_creator_risk`, an Ibis expression (DuckDB or Spark).

    The same window and definitions: the ``months`` local months ending with ``month``;
    per creator of ``market`` who published content or was acted on in it, ``actions``
    and ``severity_sum`` (sum of ``severity_weights[severity]``) of the actions actioned in
    the window, and ``published``, ``views`` and ``gmv_eur`` of the content published in it.
    Only these five numbers per active creator reach pandas
    (:func:`score_creator_risk_inputs` scores them), never the actions or the content.

    Parameters
    ----------
    actions, content : ibis.Table
        ``enforcement_actions`` and ``content`` (e.g. ``ReportContext.expr``).
    severity_weights : mapping
        ``MarketParams.severity_weights``.

    Returns
    -------
    ibis.Table
        ``creator_id, actions, severity_sum, published, views, gmv_eur``, ordered by creator.

    Raises
    ------
    RiskError
        When a severity of the window's actions has no weight (counted by the engine).
    """
    import ibis

    from govlib.data.dataset import utc_literal

    parse_month(month)
    if months < 1:
        raise RiskError(f"months must be >= 1, got {months}")
    lo = utc_literal(month_bounds(shift_month(month, -(months - 1)), tz)[0])
    hi = utc_literal(month_bounds(month, tz)[1])
    a = actions.filter((actions.market == market) & (actions.actioned_at >= lo) & (actions.actioned_at < hi))
    _check_severities(a, severity_weights)
    sev = ibis.cases(*[(a.severity == k, float(v)) for k, v in severity_weights.items()], else_=None)
    per_a = (
        a.mutate(_sev=sev).group_by("creator_id").agg(actions=ibis._.count(), severity_sum=ibis._._sev.sum())
    )
    c = content.filter(
        (content.market == market) & (content.published_at >= lo) & (content.published_at < hi)
    )
    per_c = c.group_by("creator_id").agg(
        published=ibis._.count(),
        views=ibis._.views.cast("float64").sum(),
        gmv_eur=ibis._.gmv_eur.cast("float64").sum(),
    )
    j = per_c.outer_join(per_a, per_c.creator_id == per_a.creator_id)
    return j.select(
        creator_id=ibis.coalesce(per_c.creator_id, per_a.creator_id),
        actions=per_a.actions.fill_null(0),
        severity_sum=per_a.severity_sum.fill_null(0.0),
        published=per_c.published.fill_null(0),
        views=per_c.views.fill_null(0.0),
        gmv_eur=per_c.gmv_eur.fill_null(0.0),
    ).order_by("creator_id")


def _check_severities(a, severity_weights: Mapping[str, float]) -> None:
    """Raise :class:`RiskError` naming the severities without a weight (counted by the engine)."""
    bad = a.filter(~a.severity.isin(list(severity_weights)) | a.severity.isnull())
    found = bad.group_by("severity").agg(n=bad.count()).order_by("severity").execute()
    if len(found):
        raise RiskError(
            f"table 'enforcement_actions' column 'severity': {int(found['n'].sum())} row(s) with a severity "
            f"without a weight in params severity_weights ({', '.join(map(str, found['severity'].head(5)))}); "
            f"add it to params/markets/<CC>.yaml"
        )


def score_creator_risk_inputs(
    units: pd.DataFrame,
    market: str,
    month: str,
    *,
    severity_weights: Mapping[str, float],
    months: int = 3,
    reach_weights: tuple[float, float] = (0.5, 0.5),
) -> pd.DataFrame:
    """:func:`score_creator_risk` from its per-creator inputs (e.g. :func:`creator_risk_inputs_expr`, executed).

    Parameters
    ----------
    units : DataFrame
        One row per active creator: ``creator_id, actions, severity_sum, published, views,
        gmv_eur``.
    market, month : str
        Labels of the result (``market`` column, ``attrs``).
    severity_weights, months, reach_weights
        As in :func:`score_creator_risk`; the market's mean severity is
        ``sum(severity_sum) / sum(actions)`` (the mean weight over the window's actions).

    Returns
    -------
    DataFrame
        As :func:`score_creator_risk`.
    """
    _require(units, "risk inputs", ["creator_id", "actions", "severity_sum", "published", "views", "gmv_eur"])
    units = units.copy()
    units["creator_id"] = units["creator_id"].astype(str).astype(object)
    units["market"] = market
    units[["actions", "published"]] = units[["actions", "published"]].astype("int64")
    for col in ("severity_sum", "views", "gmv_eur"):
        units[col] = units[col].astype(float)
    n_actions = int(units["actions"].sum())
    mean_sev = (
        float(units["severity_sum"].sum()) / n_actions
        if n_actions
        else float(np.mean(list(severity_weights.values())))
    )
    out = _assemble(units, ["creator_id"], reach_weights, mean_sev)
    out.attrs.update(unit="creator", month=month, months=months)
    return out


def score_segment_risk(
    actions: pd.DataFrame,
    content: pd.DataFrame,
    market: str,
    month: str,
    tz: str,
    *,
    severity_weights: Mapping[str, float],
    months: int = 3,
    reach_weights: tuple[float, float] = (0.5, 0.5),
) -> pd.DataFrame:
    """Risk score of every (policy, product category) segment of a market's recent months.

    As :func:`score_creator_risk`, with the segment as the unit: ``likelihood`` = actions
    under ``policy`` on content of ``product_category`` (actioned in the window) per content
    item of that category published in the window, shrunk across segments; ``severity`` =
    mean weight of those actions; ``reach`` = views and GMV of the category's content
    published in the window, relative to the mean over the scored segments. Actions without
    content or on content without a category count under category ``"(none)"``.
    Segments are the (policy, category) pairs with at least one action.

    Returns
    -------
    DataFrame
        Ranked: ``rank, policy, product_category, market, actions, published, ...`` as in
        :func:`score_creator_risk`.
    """
    a, c = _recent(
        actions,
        content,
        market,
        month,
        tz,
        months,
        ["content_id", "market", "policy", "severity", "actioned_at"],
        ["content_id", "market", "published_at", "product_category", "views", "gmv_eur"],
    )
    w = _severity_weight(a["severity"], severity_weights)
    cats_all = content[["content_id", "product_category"]].drop_duplicates("content_id")
    cat_of = pd.Series(
        cats_all["product_category"].astype(object).to_numpy(),
        index=cats_all["content_id"].astype(object).to_numpy(),
    )
    acat = a["content_id"].astype(object).map(cat_of)
    per_a = pd.DataFrame(
        {
            "policy": a["policy"].astype(str).to_numpy(),
            "product_category": acat.fillna(UNKNOWN_CATEGORY).astype(str).to_numpy(),
            "sev": w.to_numpy(),
        }
    )
    per_a = per_a.groupby(["policy", "product_category"]).agg(
        actions=("sev", "size"), severity_sum=("sev", "sum")
    )
    per_c = pd.DataFrame(
        {
            "product_category": c["product_category"]
            .astype(object)
            .fillna(UNKNOWN_CATEGORY)
            .astype(str)
            .to_numpy(),
            "views": c["views"].astype(float).to_numpy(),
            "gmv_eur": c["gmv_eur"].astype(float).to_numpy(),
        }
    )
    per_c = per_c.groupby("product_category").agg(
        published=("views", "size"), views=("views", "sum"), gmv_eur=("gmv_eur", "sum")
    )
    units = per_a.reset_index().join(per_c, on="product_category")
    units[["published", "views", "gmv_eur"]] = units[["published", "views", "gmv_eur"]].fillna(0.0)
    units[["actions", "published"]] = units[["actions", "published"]].astype("int64")
    for k in ("policy", "product_category"):
        units[k] = units[k].astype(object)
    units["market"] = market
    mean_sev = float(w.mean()) if len(w) else float(np.mean(list(severity_weights.values())))
    out = _assemble(units, ["policy", "product_category"], reach_weights, mean_sev)
    out.attrs.update(unit="segment", month=month, months=months)
    return out


# --------------------------------------------------------------------------- watchlist


def _reasons(row: pd.Series, tr: Callable[[str], str], threshold: float) -> tuple[str, str]:
    factors = {
        "likelihood": row["likelihood_rel"],
        "severity": row["severity_rel"],
        "views": row["views_rel"],
        "GMV": row["gmv_rel"],
    }
    labels = {
        "likelihood": tr(N_("violation rate {x:.1f}x market")),
        "severity": tr(N_("severity {x:.1f}x market")),
        "views": tr(N_("views {x:.1f}x market")),
        "GMV": tr(N_("GMV {x:.1f}x market")),
    }
    finite = {k: float(v) for k, v in factors.items() if pd.notna(v) and v > 0}
    if not finite:
        return "", ""
    top = max(finite, key=lambda k: (np.log(finite[k]), k))
    drivers = sorted((k for k, v in finite.items() if v >= threshold), key=lambda k: -finite[k])
    if not drivers:
        drivers = [top]
    text = "; ".join(labels[k].format(x=finite[k]) for k in drivers)
    if row.get("credibility", 1.0) < 0.5 and "likelihood" in drivers:
        text += "; " + tr(N_("few items: rate shrunk towards market"))
    return top, text


def build_watchlist(
    scores: pd.DataFrame,
    top_n: int = 20,
    pseudonymise: Callable | None = None,
    *,
    reason_threshold: float = 1.5,
    _: Callable[[str], str] | None = None,
) -> pd.DataFrame:
    """The top-N risk watchlist with the reasons for each rank.

    Parameters
    ----------
    scores : DataFrame
        Output of :func:`score_creator_risk` or :func:`score_segment_risk`.
    top_n : int
        Rows kept (highest ``risk`` first).
    pseudonymise : callable, optional
        Maps a Series of creator IDs to pseudonyms, e.g.
        ``functools.partial(govlib.privacy.pseudonymise, key=load_pseudonym_key())``. When
        given, the watchlist shows ``creator`` = pseudonym and carries no ``creator_id``
        column; circulated reports must pass it. Without it ``creator`` is the raw ID
        (investigations only).
    reason_threshold : float
        A factor is named as a reason when it is at least this many times the market's
        average (the largest factor is always named).
    _ : callable, optional
        Translator for the reason texts (gettext ``_``); default identity.

    Returns
    -------
    DataFrame
        ``rank, creator`` (creator watchlists) or ``rank, policy, product_category``
        (segments), then ``risk, likelihood, severity, reach, impact, actions, published,
        top_factor, reasons``. ``top_factor`` is the factor furthest above the market average
        (``likelihood``, ``severity``, ``views`` or ``GMV``).
    """
    tr = _ or _identity
    if top_n < 1:
        raise RiskError(f"top_n must be >= 1, got {top_n}")
    need = ["rank", "risk", "likelihood_rel", "severity_rel", "views_rel", "gmv_rel"]
    _require(scores, "risk scores", need)
    top = scores.sort_values("rank", kind="mergesort").head(top_n).copy()
    why = [_reasons(r, tr, reason_threshold) for _i, r in top.iterrows()]
    top["top_factor"] = [w[0] for w in why]
    top["reasons"] = [w[1] for w in why]
    tail = [
        "risk",
        "likelihood",
        "severity",
        "reach",
        "impact",
        "actions",
        "published",
        "top_factor",
        "reasons",
    ]
    if "creator_id" in top.columns:
        ids = top["creator_id"].astype(str)
        top["creator"] = list(pseudonymise(ids)) if pseudonymise is not None else ids.to_list()
        cols = ["rank", "creator", *tail]
    else:
        cols = ["rank", "policy", "product_category", *tail]
    return top[cols].reset_index(drop=True)


def plot_risk_matrix(
    scores: pd.DataFrame,
    *,
    ax=None,
    label_top: int = 10,
    _: Callable[[str], str] | None = None,
):
    """Likelihood x impact matrix, both relative to the market average (log scales).

    Each point is a creator or segment; the quadrant lines at 1 split above/below the
    market average of likelihood (x) and impact = severity x reach (y). The ``label_top``
    highest risks are labelled with their rank (never with an ID). Titles and labels go
    through the translator ``_``.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    tr = _ or _identity
    _require(scores, "risk scores", ["rank", "likelihood", "impact", "risk"])
    if ax is None:
        _fig, ax = plt.subplots(figsize=(6, 5))
    x = scores["likelihood"] / scores["likelihood"].mean()
    y = scores["impact"] / scores["impact"].mean()
    ok = (x > 0) & (y > 0)
    ax.scatter(x[ok], y[ok], s=12, alpha=0.5, color="0.5")
    top = scores.loc[ok].nsmallest(label_top, "rank")
    ax.scatter(x[top.index], y[top.index], s=24, color="C3")
    for i, r in top.iterrows():
        ax.annotate(str(int(r["rank"])), (x[i], y[i]), xytext=(3, 3), textcoords="offset points", fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axvline(1, color="0.3", lw=0.8, ls="--")
    ax.axhline(1, color="0.3", lw=0.8, ls="--")
    unit = scores.attrs.get("unit", "creator")
    ax.set_title(tr(N_("Risk matrix: segments")) if unit == "segment" else tr(N_("Risk matrix: creators")))
    ax.set_xlabel(tr(N_("Likelihood (violation rate, x market average)")))
    ax.set_ylabel(tr(N_("Impact (severity x reach, x market average)")))
    return ax
