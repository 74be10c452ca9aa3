"""Input checks and market-month slicing shared by the metric modules.

Metric functions may be given more rows than they need (other markets, other
months); they slice with :func:`select_market_month`, which buckets timestamps in
the market's time zone (``govlib.timeutil``). Bad input raises
:class:`MetricInputError` naming the table, the column, how many rows are bad, a few
examples and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from govlib.errors import GovlibError
from govlib.timeutil import month_bounds, to_utc

__all__ = [
    "MetricInputError",
    "require_columns",
    "get_table",
    "select_market",
    "select_market_month",
    "hours_between",
    "as_utc",
]


class MetricInputError(GovlibError):
    """A table given to a metric function lacks a column or holds unusable values."""


def require_columns(
    df: pd.DataFrame, table: str, columns: Iterable[str], error: type[GovlibError] = MetricInputError
) -> None:
    """Raise ``error`` (default :class:`MetricInputError`) if ``df`` lacks any of ``columns``.

    Modules with their own typed error (health, trends, risk, ...) pass it as ``error``.
    """
    if not isinstance(df, pd.DataFrame):
        raise error(f"table {table!r}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise error(
            f"table {table!r} lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, df.columns))}. "
            "Load it with govlib.data.load (contract columns) or rename the columns to the data contract "
            "(docs/data-contract.md)."
        )


def get_table(tables: Mapping[str, pd.DataFrame | None], name: str, required: bool) -> pd.DataFrame | None:
    """``tables[name]``; None when an optional table is absent; error when a required one is."""
    df = tables.get(name) if tables is not None else None
    if df is None and required:
        present = ", ".join(k for k, v in (tables or {}).items() if v is not None) or "none"
        raise MetricInputError(
            f"required table {name!r} is missing (tables given: {present}); pass it in the tables mapping"
        )
    return df


def as_utc(values: pd.Series) -> pd.Series:
    """``govlib.timeutil.to_utc`` with a fast path for columns that already are datetimes.

    ``pd.to_datetime`` on a datetime column still scans it element by element; loaded
    contract tables are datetime already, so convert their time zone directly.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return values if str(dtype.tz) == "UTC" else values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(dtype):
        return values.dt.tz_localize("UTC")
    return to_utc(values)


def _timestamps(df: pd.DataFrame, table: str, column: str) -> pd.Series:
    try:
        return as_utc(df[column])
    except (ValueError, TypeError) as exc:
        examples = df[column].astype(str).head(5).tolist()
        raise MetricInputError(
            f"table {table!r} column {column!r}: values are not timestamps ({exc}); examples: {examples}. "
            "Store timestamps as UTC datetimes."
        ) from None


def select_market(df: pd.DataFrame, table: str, market: str) -> pd.DataFrame:
    """Rows of ``df`` with ``market == market``."""
    require_columns(df, table, ["market"])
    return df.loc[(df["market"] == market).to_numpy(dtype=bool, na_value=False)]


def select_market_month(
    df: pd.DataFrame, table: str, market: str | None, month: str, tz: str, column: str, nullable: bool = False
) -> pd.DataFrame:
    """Rows of market ``market`` (None: every market) whose ``column`` falls in local ``month`` of ``tz``.

    Rows with a missing ``column`` never belong to a month; when the column is not
    nullable in the data contract, missing values are an error.
    """
    require_columns(df, table, [column] + (["market"] if market is not None else []))
    if market is not None:
        df = select_market(df, table, market)
    ts = _timestamps(df, table, column)
    if not nullable and ts.isna().any():
        bad = df.loc[ts.isna().to_numpy()]
        key = bad.columns[0]
        raise MetricInputError(
            f"table {table!r} column {column!r}: {len(bad)} row(s) have no value, but the column is required; "
            f"examples ({key}): {bad[key].astype(str).head(5).tolist()}. Fix the source rows or drop them."
        )
    start, end = month_bounds(month, tz)
    mask = ((ts >= start) & (ts < end)).to_numpy(dtype=bool, na_value=False)
    return df.loc[mask]


def hours_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """``(later - earlier)`` in hours as float (UTC; missing stays NaN)."""
    delta = as_utc(later) - as_utc(earlier)
    return delta.dt.total_seconds() / 3600.0
