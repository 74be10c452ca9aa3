"""Report sections: what each report shows, as functions a notebook calls and a test can check.

A report notebook is its ``parameters`` cell, one setup cell that opens a context, and one
short cell per section::

    ctx = open_market_context(market, month, data_dir=data_dir, lang=lang, cube_path=cube_path)
    creator_health.score_distribution(ctx)       # a Section, displayed by Jupyter

Each section function takes the context and returns a :class:`Section`: the translated blocks
it shows (Markdown, tables, figures) in order, and ``data``, the numbers behind them as
DataFrames, so an analyst can inspect or re-run one section and a test can check its values
and its language without a kernel. Work shared by several sections of a report (e.g. the
health scores) is computed once per context with :meth:`ReportContext.memo`.

One module per report: ``market_report``, ``enforcement_effectiveness``, ``creator_health``,
``signal_evaluation``, ``expansion_readiness``, ``emea_overview``, ``investigation``, ``simulation``, ``dsa_peers``
(its context: :func:`open_dsa_context`, over a statement archive rather than a market's cube).
"""

from govlib.report.sections.base import ReportContext, Section, open_market_context, open_rollup_context
from govlib.report.sections.dsa_peers import open_dsa_context

__all__ = ["ReportContext", "Section", "open_dsa_context", "open_market_context", "open_rollup_context"]
