"""Ibis helpers of the engine-side metrics (health, rewards, performance).

The per-creator and per-item work of these metrics is written as Ibis expressions, so it
runs where the data are (DuckDB over a cube's Parquet, or Spark) and only aggregates reach
pandas. A metric given pandas frames (tests, a single-creator investigation) runs the same
expressions on an in-memory DuckDB table (:func:`as_table`): one implementation.

Functions
---------
as_table
    An Ibis table from a pandas frame (``ibis.memtable``) or the Ibis table itself.
require_columns
    Raise the metric's typed error when a table lacks columns (pandas or Ibis).
utc_literal
    A moment as a UTC Ibis timestamp literal.
rolling_sum
    Sum of a column over the half-open window ``(t - days, t]`` of each row, per group.
quantile_from_counts
    Type-7 (linear) quantiles of a sample given as a frequency table.
materialise
    Compute an expression once into an engine-side temporary table that several
    summaries read (DuckDB); other engines get the expression back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from govlib.errors import GovlibError

__all__ = ["as_table", "require_columns", "utc_literal", "rolling_sum", "quantile_from_counts", "materialise"]


def as_table(df, table: str | None = None):
    """``df`` as an Ibis table: a pandas frame becomes an ``ibis.memtable``; an Ibis table is returned as is.

    Categorical columns become plain strings (their values), so that the engine compares
    them as the contract's strings. A column whose type pandas cannot tell (empty or all
    missing) takes its type from contract table ``table`` when it is one of its columns,
    else string.
    """
    import ibis

    from govlib.contract import TABLES, ibis_type

    if not isinstance(df, pd.DataFrame):
        return df
    cats = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
    if cats:
        df = df.assign(**{c: df[c].astype(object).where(df[c].notna(), None) for c in cats})
    t = ibis.memtable(df)
    known = {c.name: ibis_type(c.dtype) for c in TABLES[table].columns} if table in TABLES else {}
    untyped = {c: known.get(c, "string") for c, typ in t.schema().items() if typ.is_null()}
    return t.cast(untyped) if untyped else t


def require_columns(t, table: str, columns: Iterable[str], error: type[GovlibError]) -> None:
    """Raise ``error`` naming ``table`` and the missing ``columns`` of ``t`` (pandas frame or Ibis table)."""
    have = list(t.columns)
    missing = [c for c in columns if c not in have]
    if missing:
        raise error(
            f"table {table!r} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, have))}. "
            "Load it with govlib.data.load (contract columns) or rename the columns to the data contract "
            "(docs/data-contract.md)."
        )


def utc_literal(at) -> tuple[pd.Timestamp, object]:
    """``at`` (naive means UTC) as a UTC ``Timestamp`` and the matching Ibis literal."""
    import ibis

    ts = pd.Timestamp(at)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts, ibis.literal(ts, type="timestamp('UTC')")


def rolling_sum(t, value, keys: Sequence[str], time: str, days: int):
    """Per row: sum of ``value`` over the rows of its group with ``t - days < time <= t``.

    Written as two range frames that DuckDB and Spark both support (everything up to ``t``
    minus everything up to ``t - days``), because a range frame's bounds are inclusive and
    the deduction windows are half-open. Rows sharing a timestamp are in each other's
    window (the frame's peers).

    Parameters
    ----------
    t : ibis.Table
        The rows.
    value : ibis.Value
        Numeric column of ``t`` (null contributes nothing).
    keys : sequence of str
        Group columns.
    time : str
        Timestamp column ordering the rows.
    days : int
        Window length.

    Returns
    -------
    ibis.Value
        A column expression of ``t``.
    """
    import ibis

    upto = ibis.window(group_by=list(keys), order_by=time, range=(None, 0))
    before = ibis.window(
        group_by=list(keys), order_by=time, range=(None, -ibis.interval(hours=24 * int(days)))
    )
    return value.sum().over(upto) - value.sum().over(before).fill_null(0)


def quantile_from_counts(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Quantile ``q`` (linear interpolation, R type 7, numpy's default) of the sample ``values`` x ``counts``.

    ``values`` ascending and distinct. The same number as ``np.quantile`` of the expanded
    sample (numpy's interpolation formula), without expanding it: a distribution computed
    on the engine reaches pandas as a frequency table.
    """
    n = int(counts.sum())
    if n == 0:
        return float("nan")
    h = (n - 1) * q
    lo = int(np.floor(h))
    frac = h - lo
    ends = np.cumsum(counts)
    a = values[np.searchsorted(ends, lo, side="right")]
    b = values[np.searchsorted(ends, min(lo + 1, n - 1), side="right")]
    diff = b - a
    # numpy's _lerp: the formula it uses for each half of [0, 1]
    return float(b - diff * (1 - frac) if frac >= 0.5 else a + diff * frac)


def materialise(t, name: str):
    """``t`` computed once into a temporary table of its DuckDB connection (the same rows, read many times).

    A report reads one per-creator ledger in several sections; each summary of the bare
    expression would compute it again (window functions over every action). The table stays
    on the engine, in the connection's memory, until the connection closes. Other backends
    (Spark) and in-memory inputs get ``t`` back unchanged. ``name`` must be unique in the
    connection.
    """
    import ibis.expr.operations as ops

    try:
        con = t._find_backend()
    except Exception:  # noqa: BLE001 - no single backend (e.g. only in-memory tables): nothing to do
        return t
    if con.name != "duckdb" or t.op().find(ops.InMemoryTable):
        return t
    con.raw_sql(f'CREATE OR REPLACE TEMP TABLE "{name}" AS {con.compile(t)}')
    return con.table(name)
