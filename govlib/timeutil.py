"""Months in a market's time zone.

An event belongs to month *M* of market *m* when its UTC timestamp, converted to
*m*'s time zone, falls in that calendar month (``shared/spec/kpis.md``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pandas as pd

from govlib.errors import UsageError

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z", re.ASCII)  # \Z: no trailing newline; ASCII digits only


def parse_month(month: str, *, allow_future: bool = True) -> str:
    """Validate ``YYYY-MM`` and return it; raise :class:`UsageError` otherwise."""
    if not isinstance(month, str) or not _MONTH.match(month):
        raise UsageError(f"month {month!r} is not of the form YYYY-MM (e.g. 2026-10)")
    if not allow_future:
        now = datetime.now(UTC)
        if month > f"{now.year:04d}-{now.month:02d}":
            raise UsageError(
                f"month {month} is in the future; the latest complete data is at most this month"
            )
    return month


def shift_month(month: str, n: int) -> str:
    """``shift_month("2026-01", -3) == "2025-10"``."""
    parse_month(month)
    y, m = int(month[:4]), int(month[5:])
    k = y * 12 + (m - 1) + n
    return f"{k // 12:04d}-{k % 12 + 1:02d}"


def month_range(first: str, last: str) -> list[str]:
    """Months from ``first`` to ``last`` inclusive."""
    out, m = [], parse_month(first)
    parse_month(last)
    while m <= last:
        out.append(m)
        m = shift_month(m, 1)
    return out


def month_bounds(month: str, tz: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Half-open ``[start, end)`` of a local calendar month, as UTC timestamps."""
    parse_month(month)
    start = pd.Timestamp(f"{month}-01", tz=tz)
    end = pd.Timestamp(f"{shift_month(month, 1)}-01", tz=tz)
    return start.tz_convert("UTC"), end.tz_convert("UTC")


def to_utc(values: pd.Series) -> pd.Series:
    """Timestamps as tz-aware UTC (naive values are taken to be UTC, per the contract)."""
    # to_datetime re-parses even a datetime column (seconds per million rows)
    s = values if pd.api.types.is_datetime64_any_dtype(values) else pd.to_datetime(values)
    if getattr(s.dt, "tz", None) is None:
        return s.dt.tz_localize("UTC")
    return s.dt.tz_convert("UTC")


def local_month(values: pd.Series, tz: str) -> pd.Series:
    """``YYYY-MM`` of each UTC timestamp in time zone ``tz`` (missing stays missing)."""
    local = to_utc(values).dt.tz_convert(tz)
    out = local.dt.strftime("%Y-%m")
    return out.where(local.notna())


def in_month(values: pd.Series, month: str, tz: str) -> pd.Series:
    """Boolean mask: timestamp falls in local ``month`` of ``tz``."""
    start, end = month_bounds(month, tz)
    s = to_utc(values)
    return (s >= start) & (s < end)
