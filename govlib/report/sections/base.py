"""The context a report's sections share, and the :class:`Section` they return."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from govlib.report import present

# The notices sections' input: notices received or handled in the month, the columns they read.
NOTICE_TIMES = ["received_at", "handled_at"]
NOTICE_COLUMNS = ["market", "reporter_type", "outcome", "received_at", "handled_at"]
# The appeals sections' input: appeals resolved in the month (their overturn rates and times).
APPEAL_TIMES = ["resolved_at"]
APPEAL_COLUMNS = ["appeal_id", "action_id", "market", "outcome", "submitted_at", "resolved_at"]


@dataclass
class Section:
    """What one report section shows, in order, and the numbers behind it.

    ``blocks`` are ``("markdown", text)``, ``("table", df, caption)`` or ``("figure", fig)``,
    displayed with :mod:`govlib.report.present` exactly as a notebook cell would; ``data``
    holds the section's DataFrames before formatting (for analysts and tests).
    """

    blocks: list[tuple] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def markdown(self, text: str) -> Section:
        self.blocks.append(("markdown", text))
        return self

    def table(self, df: pd.DataFrame, caption: str | None = None) -> Section:
        self.blocks.append(("table", df, caption))
        return self

    def figure(self, fig) -> Section:
        self.blocks.append(("figure", fig))
        return self

    @property
    def text(self) -> str:
        """Every Markdown block and table caption, joined (what a translation test reads)."""
        parts = [b[1] for b in self.blocks if b[0] == "markdown"]
        parts += [b[2] for b in self.blocks if b[0] == "table" and b[2]]
        return "\n".join(parts)

    def show(self) -> None:
        """Display the blocks in order (figures are closed once shown)."""
        for block in self.blocks:
            kind = block[0]
            if kind == "markdown":
                present.show(block[1])
            elif kind == "table":
                present.show_table(block[1], block[2])
            else:
                present.show_figure(block[1])

    def _ipython_display_(self) -> None:  # a section as a cell's last expression shows itself
        self.show()


@dataclass
class ReportContext:
    """Parameters, params, translator, formatter and data of one report run.

    Attributes are those the notebooks' setup cell used to define: ``market``, ``month``,
    ``params`` (:class:`govlib.params.MarketParams`), ``language``, ``_`` (gettext),
    ``fmt`` (:class:`govlib.report.i18n.Formatter`), ``cube`` (the market's
    :class:`govlib.report.cube.Cube`), ``tables``, ``tz``, ``previous`` and ``year_ago``
    (months), ``data_dir``. ``extra`` holds report-specific parameters.
    """

    market: str
    month: str
    params: Any
    language: str
    _: Callable[[str], str]
    fmt: Any
    cube: Any
    data_dir: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return self.cube.tables

    @property
    def tz(self) -> str:
        return self.params.timezone

    @property
    def min_cell(self) -> int:
        return self.params.min_cell_size

    @property
    def previous(self) -> str:
        from govlib.timeutil import shift_month

        return shift_month(self.month, -1)

    @property
    def year_ago(self) -> str:
        from govlib.timeutil import shift_month

        return shift_month(self.month, -12)

    def expr(self, name: str):
        """Table ``name`` of the market's window as an Ibis expression (:meth:`Cube.expr`)."""
        return self.cube.expr(name)

    def month_rows(self, name: str, time_columns: list[str], columns: list[str]) -> pd.DataFrame:
        """The ``columns`` of table ``name``'s rows with any of ``time_columns`` in the report's month
        (:meth:`Cube.month_rows`): what a month's summary in pandas needs, not the whole window."""
        return self.cube.month_rows(name, self.month, self.tz, time_columns, columns)

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per context (work several sections share, e.g. health scores)."""
        if name not in self._memo:
            self._memo[name] = compute()
        return self._memo[name]


def open_market_context(
    market: str, month: str, *, data_dir: str = "", lang: str = "", cube_path: str = "", **extra: Any
) -> ReportContext:
    """The context of a per-market report: what every market notebook's setup cell did.

    Loads the market's params, the translator of ``lang`` (empty: the market's report
    language), the market's formatter, its cube (``cube_path`` from ``govlib run``, else
    built from ``data_dir``) and applies the figure theme.
    """
    from govlib.params import load_market
    from govlib.report import theme
    from govlib.report.cube import open_report_cube
    from govlib.report.i18n import formatter_for, get_translator

    params = load_market(market)
    language = lang or params.report_language
    ctx = ReportContext(
        market=market,
        month=month,
        params=params,
        language=language,
        _=get_translator(language).gettext,
        fmt=formatter_for(params, language=lang or None),
        cube=open_report_cube(market, month, data_dir=data_dir, cube_path=cube_path),
        data_dir=data_dir,
        extra=dict(extra),
    )
    theme.apply_theme()
    return ctx


def open_rollup_context(
    month: str,
    *,
    markets: str = "",
    failed_markets: str = "",
    data_dir: str = "",
    lang: str = "",
    cube_paths: str = "",
) -> ReportContext:
    """The context of the EMEA roll-up: what the ``emea_overview`` notebook's setup cell did.

    The roll-up has no single market: ``market`` is ``"EMEA"``, ``params`` and ``cube`` are
    None, the formatter shows euros in ``lang`` (empty: en_GB). ``extra`` holds ``codes`` (the
    markets of ``markets``, empty: every market with params), ``failed`` (``failed_markets``),
    ``market_params`` and ``cubes`` (by market code) and ``kpis`` (every market's KPI history).

    Parameters
    ----------
    month : str
        ``YYYY-MM``, local time of each market.
    markets : str, default ""
        Comma-separated market codes (``"DE,GB"``); empty: every market with params.
    failed_markets : str, default ""
        Comma-separated markets whose reports failed this month (named by the intro).
    data_dir : str, default ""
        Dataset directory; empty: ``GOVLIB_DATA`` or the demo data.
    lang : str, default ""
        Report language (``"de_DE"``); empty: en_GB.
    cube_paths : str, default ""
        Comma-separated cube folders (``govlib run`` passes the cubes the market reports read);
        a market without one gets its cube from ``data_dir`` (found in the cache or built).

    Returns
    -------
    ReportContext
        The roll-up's context; the figure theme is applied.
    """
    from govlib.params import list_markets, load_market
    from govlib.report import theme
    from govlib.report.cube import load_cube, open_report_cube
    from govlib.report.i18n import Formatter, get_translator

    language = lang or "en_GB"
    codes = [m for m in markets.split(",") if m] if markets else list_markets()
    market_params = {m: load_market(m) for m in codes}
    given = {load_cube(p).market: p for p in cube_paths.split(",") if p}
    cubes = {m: open_report_cube(m, month, data_dir=data_dir, cube_path=given.get(m, "")) for m in codes}
    ctx = ReportContext(
        market="EMEA",
        month=month,
        params=None,
        language=language,
        _=get_translator(language).gettext,
        fmt=Formatter(locale=language, currency="EUR", language=language),
        cube=None,
        data_dir=data_dir,
        extra={
            "codes": codes,
            "failed": [m for m in failed_markets.split(",") if m],
            "market_params": market_params,
            "cubes": cubes,
            "kpis": pd.concat([cubes[m].kpis for m in codes], ignore_index=True),
        },
    )
    theme.apply_theme()
    return ctx
