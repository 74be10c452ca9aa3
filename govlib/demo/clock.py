"""Local calendar of one market for the generator: days, months and publishing weights.

Times are int64 microseconds since the Unix epoch (UTC). Local days come from the
market's time zone (params), so a day that changes to or from summer time is 23 or 25
hours long and months start at local midnight, exactly as :mod:`govlib.timeutil` buckets them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from govlib.demo import profiles as P
from govlib.timeutil import month_range, shift_month

US_SECOND = 1_000_000
US_MINUTE = 60 * US_SECOND
US_HOUR = 60 * US_MINUTE
US_DAY = 24 * US_HOUR
US_WEEK = 7 * US_DAY
_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


def local_midnight_us(day: str, tz: str) -> int:
    """UTC microseconds of local midnight starting ``day`` (``YYYY-MM-DD``) in ``tz``."""
    return int((pd.Timestamp(day, tz=tz) - _EPOCH) // pd.Timedelta(microseconds=1))


@dataclass
class Clock:
    """Local days and months of a market's data window ``[start, end)``."""

    market: str
    tz: str
    months: list[str]
    day_start: np.ndarray  # (D + 1,) UTC us of each local midnight, last = end
    day_month: np.ndarray  # (D,) month index of each day
    day_weight: np.ndarray  # (D,) relative publishing intensity (season x weekday)
    weight_cum: np.ndarray  # (D + 1,)
    month_start: np.ndarray  # (M + 1,) UTC us, last = end

    @classmethod
    def build(cls, market: str, tz: str, first_month: str, last_month: str) -> Clock:
        months = month_range(first_month, last_month)
        days = pd.date_range(f"{first_month}-01", f"{shift_month(last_month, 1)}-01", freq="D", tz=tz)
        day_start = ((days - _EPOCH) // pd.Timedelta(microseconds=1)).to_numpy(np.int64)  # any pandas unit
        local = days[:-1]
        day_month = ((local.year - int(first_month[:4])) * 12 + local.month - int(first_month[5:])).to_numpy()
        hours = np.diff(day_start) / US_HOUR
        season = np.array([P.MONTH_SEASON[m] for m in local.month])
        weekday = np.array(P.WEEKDAY)[local.weekday]
        weight = season * weekday * hours / 24.0
        month_start = np.array(
            [local_midnight_us(f"{m}-01", tz) for m in months + [shift_month(last_month, 1)]], dtype=np.int64
        )
        return cls(
            market,
            tz,
            months,
            day_start,
            day_month.astype(np.int64),
            weight,
            np.concatenate([[0.0], np.cumsum(weight)]),
            month_start,
        )

    @property
    def start(self) -> int:
        return int(self.day_start[0])

    @property
    def end(self) -> int:
        return int(self.day_start[-1])

    def month_index(self, t: np.ndarray) -> np.ndarray:
        """Index into :attr:`months` of each time (-1 before the window, M at or after its end)."""
        return np.searchsorted(self.month_start, t, side="right") - 1

    def weight_at(self, t: np.ndarray) -> np.ndarray:
        """Cumulative publishing weight up to each time (linear within a day)."""
        t = np.clip(t, self.start, self.end)
        d = np.clip(np.searchsorted(self.day_start, t, side="right") - 1, 0, len(self.day_weight) - 1)
        frac = (t - self.day_start[d]) / (self.day_start[d + 1] - self.day_start[d])
        return self.weight_cum[d] + self.day_weight[d] * frac

    def time_at_weight(self, w: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`weight_at`, placing each event within its day by the hourly profile."""
        d = np.clip(np.searchsorted(self.weight_cum, w, side="right") - 1, 0, len(self.day_weight) - 1)
        frac = np.clip((w - self.weight_cum[d]) / self.day_weight[d], 0.0, 1.0 - 1e-12)
        hourly = np.asarray(P.HOURLY, dtype=float)
        cum = np.concatenate([[0.0], np.cumsum(hourly)]) / hourly.sum()
        within = np.interp(frac, cum, np.arange(25) / 24.0)
        length = self.day_start[d + 1] - self.day_start[d]
        return self.day_start[d] + np.minimum((within * length).astype(np.int64), length - 1)
