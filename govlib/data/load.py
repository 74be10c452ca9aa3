"""Open a dataset with the contract's loader checks, and load pushed-down slices of it.

How a dataset directory is stored and read lives in :mod:`govlib.data.dataset`; the contract
checks in :mod:`govlib.data.validate`, which reads datasets and never imports this module.
:func:`open_dataset` composes the two: a :class:`~govlib.data.dataset.Dataset` that runs
validation's fast loader checks (:class:`govlib.data.validate.LoaderChecks`) when it is opened
and when a table is first used. So the imports go one way:
``dataset`` <- ``validate`` <- ``load``.

Queries run in the engine (DuckDB by default, Spark on request) through Ibis; market
and time filters are part of the query, so loading one market-month never reads the
whole history into pandas.

Examples
--------
>>> ds = open_dataset("data/demo")                                   # doctest: +SKIP
>>> acts = ds.load("enforcement_actions", market="DE",
...                start="2026-09-30 22:00", end="2026-10-31 23:00")  # doctest: +SKIP
>>> window = load_market_window(ds, "DE", "2026-10", "Europe/Berlin")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from govlib import config, contract
from govlib.data.dataset import (
    Dataset,
    DatasetError,
    engine_error_text,
    is_engine_error,
    to_utc_timestamp,
    utc_literal,
)
from govlib.data.validate import LoaderChecks
from govlib.timeutil import month_bounds, shift_month


def open_dataset(path: str | Path | None = None, engine: str | None = None) -> Dataset:
    """Open the dataset at ``path`` (default :data:`govlib.config.DATA_DIR`) on ``engine``.

    Parameters
    ----------
    path : str or Path, optional
        Dataset directory.
    engine : {"duckdb", "spark"}, optional
        Query engine; default ``GOVLIB_ENGINE`` or ``"duckdb"``.

    Raises
    ------
    DatasetError
        The directory is missing or a table is stored twice.
    govlib.data.validate.ContractError
        A required table is missing.
    """
    return Dataset(path or config.DATA_DIR, engine, check=LoaderChecks())


def window_bounds(month: str, tz: str, months_back: int = 13) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC ``[start, end)`` from the start of ``month - months_back`` to the end of ``month``, local ``tz``."""
    start, _ = month_bounds(shift_month(month, -months_back), tz)
    _, end = month_bounds(month, tz)
    return start, end


def load_market_window(
    ds: Dataset, market: str, month: str, tz: str, months_back: int = 13, tables: Iterable[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Every present table of ``market`` over the local window ending with ``month``.

    The window is ``[start of month - months_back, end of month)`` in time zone ``tz``,
    applied to each table's ``time_column`` in the engine. Two tables are widened:

    - ``content``: also the content referenced by the window's enforcement actions,
      even if published earlier (a semi-join in the engine), so that per-action
      content attributes (type, language, ``published_at``) are always available;
    - ``creators``: a dimension, not an event log: every creator of ``market``
      whenever registered, plus creators of other markets acted on in the window.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keyed by table name, in contract order; absent optional tables are absent.
    """
    start, end = window_bounds(month, tz, months_back)
    wanted = [t for t in ds.tables if tables is None or t in set(tables)]
    out: dict[str, pd.DataFrame] = {}
    acts = (
        ds.filter_expr("enforcement_actions", market, start, end) if ds.has("enforcement_actions") else None
    )
    for name in wanted:
        if name == "content" and acts is not None:
            t = ds.table("content", market)
            in_window = (
                (t.market == market)
                & (t.published_at >= utc_literal(start))
                & (t.published_at < utc_literal(end))
            )
            ref = acts.filter(acts.content_id.notnull()).select("content_id").distinct()
            out[name] = _with_references(ds, name, market, t, in_window, "content_id", ref)
        elif name == "creators":
            t = ds.table("creators", market)
            ref = acts.select("creator_id").distinct() if acts is not None else None
            out[name] = _with_references(ds, name, market, t, t.market == market, "creator_id", ref)
        else:
            out[name] = ds.load(name, market=market, start=start, end=end)
    return out


def with_references_expr(ds: Dataset, name: str, market: str, t, pred, key: str, ref):
    """Ibis expression: rows of ``t`` matching ``pred`` or whose ``key`` is in ``ref`` (a one-column table).

    ``t`` may be ``market``'s partition only (:meth:`Dataset.table` with a market). Then
    the referenced keys found there are taken from it, and only when some are not (an
    action on another market's content or creator) are the other partitions added, for
    those keys alone. Same rows as filtering the whole table.
    """
    own = t.filter(pred | t[key].isin(ref[key]))
    if ds.market_files(name, market) is None:  # t is already the whole table
        return own
    missing = ref.filter(~ref[key].isin(t[key]))
    try:
        n_missing = int(missing.count().to_pyarrow().as_py())
    except Exception as exc:
        if not is_engine_error(exc):
            raise
        raise DatasetError(
            f"table {name}: query failed while reading {ds.sources[name].path} ({engine_error_text(exc)})",
            f"run `govlib validate --data {ds.path}`",
        ) from None
    if n_missing == 0:
        return own
    full = ds.table(name)
    return own.union(full.filter((full.market != market) & full[key].isin(missing[key])).select(own.columns))


def _with_references(ds: Dataset, name: str, market: str, t, pred, key: str, ref) -> pd.DataFrame:
    """:func:`with_references_expr` as pandas, sorted by primary key (``ref`` None: ``pred`` only)."""
    if ref is None:
        return ds.fetch(name, t.filter(pred))
    return ds.fetch(name, with_references_expr(ds, name, market, t, pred, key, ref))


def count_signal_scores(scores) -> pd.DataFrame:
    """Rows of an Ibis ``signal_scores`` expression per ``signal`` and ``version`` (``rows``), sorted.

    Which signal is a market's main one and which version is the latest are read from all
    its scores, though only labelled items are evaluated.
    """
    counts = scores.group_by(["signal", "version"]).agg(rows=scores.count()).order_by(["signal", "version"])
    df = counts.to_pyarrow().to_pandas()
    return pd.DataFrame(
        {
            "signal": df["signal"].astype(object),
            "version": df["version"].astype(object),
            "rows": df["rows"].astype("int64"),
        }
    )


# Columns govlib.metrics.kpis.compute_kpis reads (a column it starts reading must be added here:
# compute_kpis names a missing column in its error).
KPI_INPUT_COLUMNS = {
    "enforcement_actions": [
        "action_id",
        "market",
        "creator_id",
        "content_id",
        "detection_source",
        "decision_mode",
        "action_type",
        "views_before_action",
        "actioned_at",
    ],
    "content": ["content_id", "published_at"],
    "notices": ["notice_id", "market", "outcome", "received_at", "handled_at"],
    "appeals": ["appeal_id", "market", "outcome", "submitted_at", "resolved_at"],
    "prevalence_samples": ["sample_id", "market", "sampled_at", "weight", "is_violating", "stratum"],
}


def load_kpi_inputs(
    ds: Dataset, market: str, month: str, tz: str, first_month: str | None = None
) -> dict[str, pd.DataFrame]:
    """Only the rows and columns :func:`govlib.metrics.kpis.compute_kpis` reads for one market-month.

    ``compute_kpis(load_kpi_inputs(ds, m, month, tz), m, month, tz)`` equals
    ``compute_kpis(load_market_window(ds, m, month, tz, months_back=3), m, month, tz)``, but the
    engine does the selecting, so pandas receives thousands of rows instead of the market's
    whole content window:

    - ``enforcement_actions``: the market's actions of months ``M-3`` .. ``M`` (the
      ``recidivism_90d`` cohort of ``M-3`` and its 90-day follow-up);
    - ``content``: ``content_id`` and ``published_at`` of the content removed by the month's
      actions (a semi-join in the engine; any market, as in ``load_market_window``);
    - ``notices``: handled in ``M``; ``appeals``: submitted or resolved in ``M``;
      ``prevalence_samples``: sampled in ``M`` (all of ``market``).

    Month bounds are local to ``tz``. Absent optional tables are absent from the result.
    With ``first_month``, the inputs of every month from ``first_month`` to ``month``
    (the same rules over that span), so that ``compute_kpis`` of each of those months is
    exact on one load: the report cube's KPI history.
    """
    _, m_end = month_bounds(month, tz)
    m_start, _ = month_bounds(first_month or month, tz)
    m3_start, _ = month_bounds(shift_month(first_month or month, -3), tz)
    lo, hi = utc_literal(m_start), utc_literal(m_end)

    def cols(name: str, t) -> list[str]:
        return [c for c in KPI_INPUT_COLUMNS[name] if c in t.columns]

    out: dict[str, pd.DataFrame] = {}
    acts = ds.filter_expr("enforcement_actions", market, m3_start, m_end)
    out["enforcement_actions"] = ds.fetch(
        "enforcement_actions", acts, columns=cols("enforcement_actions", acts)
    )
    if ds.has("content"):
        a = out["enforcement_actions"]
        removed = a.loc[
            (a["actioned_at"] >= m_start) & (a["action_type"] == "content_removed") & a["content_id"].notna(),
            "content_id",
        ].unique()
        out["content"] = _load_content_by_id(ds, market, removed, KPI_INPUT_COLUMNS["content"])
    in_month = {
        "notices": lambda t: (t.handled_at >= lo) & (t.handled_at < hi),
        "appeals": lambda t: (
            ((t.submitted_at >= lo) & (t.submitted_at < hi)) | ((t.resolved_at >= lo) & (t.resolved_at < hi))
        ),
        "prevalence_samples": lambda t: (t.sampled_at >= lo) & (t.sampled_at < hi),
    }
    for name, pred in in_month.items():
        if ds.has(name):
            t = ds.filter_expr(name, market)
            out[name] = ds.fetch(name, t.filter(pred(t)), columns=cols(name, t))
    return out


def _load_content_by_id(ds: Dataset, market: str, ids, columns: list[str]) -> pd.DataFrame:
    """Rows of ``content`` whose ``content_id`` is in ``ids`` (any market), sorted by ``content_id``.

    A market's actions act on its own content almost always, so when ``content`` is
    partitioned by market only that partition is scanned for ``ids``; the other partitions
    are read only for ids not found there (a quarter of the scan for a market of four).
    """
    import ibis

    ids = pd.Series(ids, dtype=object).dropna().astype(str).unique()
    keys = ibis.memtable(pd.DataFrame({"content_id": ids}))
    t = ds.table("content", market)
    cols = [c for c in columns if c in t.columns]
    found = ds.fetch("content", t.filter(t.content_id.isin(keys.content_id)), columns=cols)
    if ds.market_files("content", market) is None:  # t is the whole table
        return found
    missing = sorted(set(ids) - set(found["content_id"]))
    if not missing:
        return found
    full = ds.table("content")
    other = ds.fetch(
        "content", full.filter((full.market != market) & full.content_id.isin(missing)), columns=cols
    )
    both = pd.concat([found, other], ignore_index=True)
    return both.sort_values("content_id", kind="stable").reset_index(drop=True)


CONTENT_LOOKBACK = pd.Timedelta(days=31)  # labels may name content published up to a month before the window


def load_signal_evaluation_inputs(
    ds: Dataset, market: str, start: Any, end: Any, content_lookback: pd.Timedelta = CONTENT_LOOKBACK
) -> dict[str, Any]:
    """What :func:`govlib.metrics.signals.prepare_signal_labels` reads for one market, selected in the engine.

    Only labelled content matters to a signal's evaluation, so instead of every score of
    the period (millions of rows for an established market) pandas receives:

    - ``signal_scores``: the market's scores of ``[start, end)`` (``scored_at``) whose
      content has a review label;
    - ``review_labels``: the market's labels (all of them: a label reviewed later still
      describes content scored then);
    - ``content``: ``content_id, market, language`` of the labelled content published in
      ``[start - content_lookback, end)`` (an item scored early in the period was
      published before it);
    - ``signal_counts``: rows of *all* the period's scores per ``signal`` and ``version``
      (which signal is the main one, which version is the latest), a DataFrame.

    Absent tables give empty frames (``signal_counts`` empty).
    """
    start, end = to_utc_timestamp(start), to_utc_timestamp(end)
    out: dict[str, Any] = {
        "signal_counts": pd.DataFrame(
            {
                "signal": pd.Series(dtype=object),
                "version": pd.Series(dtype=object),
                "rows": pd.Series(dtype="int64"),
            }
        )
    }
    if not (ds.has("signal_scores") and ds.has("review_labels")):
        return out
    sc = ds.filter_expr("signal_scores", market, start, end)
    lb = ds.filter_expr("review_labels", market)
    out["signal_counts"] = count_signal_scores(sc)
    out["signal_scores"] = ds.fetch("signal_scores", sc.filter(sc.content_id.isin(lb.content_id)))
    out["review_labels"] = ds.fetch("review_labels", lb)
    if ds.has("content"):
        out["content"] = ds.load(
            "content",
            market=market,
            start=start - content_lookback,
            end=end,
            columns=["content_id", "market", "language"],
            where=lambda t: t.content_id.isin(lb.content_id),
        )
    return out


def list_data_markets(ds: Dataset) -> list[str]:
    """Market codes present in the data: the distinct ``market`` of the required tables, sorted.

    A Hive-partitioned table answers from its partition values; others scan one column.
    """
    import ibis

    exprs = [ds.table(n).select("market").distinct() for n in contract.REQUIRED_TABLES if ds.has(n)]
    if not exprs:
        return []
    both = ibis.union(*exprs, distinct=True) if len(exprs) > 1 else exprs[0]
    return sorted(str(m) for m in both.to_pyarrow().column("market").to_pylist() if m is not None)


def load_tables(
    ds: Dataset, names: Iterable[str] | None = None, **filters: Any
) -> Mapping[str, pd.DataFrame]:
    """Several tables with the same filters (``market``, ``start``, ``end``); absent tables skipped."""
    return {n: ds.load(n, **filters) for n in (names or ds.tables) if ds.has(n)}


__all__ = [
    "load_kpi_inputs",
    "load_market_window",
    "load_signal_evaluation_inputs",
    "load_tables",
    "with_references_expr",
    "open_dataset",
    "window_bounds",
]
