"""govlib metric library: pure functions on pandas DataFrames.

Modules by theme: ``stats`` (intervals and tests), ``kpis`` (the headline KPIs of
``kpis.md``), ``enforcement`` (breakdowns and changes), ``notices``, ``appeals``,
``prevalence``, ``health``, ``rewards``, ``performance``, ``effectiveness``.
Import functions from their module (``from govlib.metrics.kpis import compute_kpis``);
the generated reference of every public function is ``docs/metrics.md``
(``python -m govlib.metrics.reference``).
"""

from govlib.metrics.stats import (  # noqa: F401  (stable, widely used API)
    estimate_prevalence,
    flag_change,
    proportion_interval,
)

# Every module whose public functions are listed in docs/metrics.md, in page order.
METRIC_MODULES = (
    "stats",
    "kpis",
    "enforcement",
    "notices",
    "appeals",
    "prevalence",
    "health",
    "rewards",
    "performance",
    "effectiveness",
)
