"""govlib metric library: pure functions on pandas DataFrames.

Modules by theme: ``kpis`` (the headline KPIs of
``kpis.md``), ``enforcement`` (breakdowns and changes), ``notices``, ``appeals``,
``prevalence``, ``health``, ``rewards``, ``performance``, ``effectiveness``, ``action_times``
(time to action as a distribution), ``review_quality`` (agreement and accuracy of reviewers).
Import functions from their module (``from govlib.metrics.kpis import compute_kpis``);
the generated reference of every public function is ``docs/metrics.md``
(``python -m govlib.metrics.reference``). The generic statistics they use (intervals,
tests, survey estimation) are in :mod:`govlib.stats`.
"""

# Every metric module whose public functions are listed in docs/metrics.md (after govlib.stats), in page order.
METRIC_MODULES = (
    "kpis",
    "enforcement",
    "notices",
    "appeals",
    "prevalence",
    "health",
    "rewards",
    "performance",
    "effectiveness",
    "action_times",
    "review_quality",
)
