"""Generic statistics under the metrics: flat, verb-named functions on numbers and arrays.

No governance tables here (the metric library and the analyses build those); each
function's numpydoc docstring gives its method, Notes and References.

Modules
-------
intervals
    Proportion intervals, two-proportion and Poisson-rate tests, significant-and-material
    changes (:func:`flag_change`), false-discovery-rate q-values (:func:`adjust_pvalues_bh`).
survey
    Weighted, stratified prevalence estimation (:func:`estimate_prevalence`).
surveillance
    Quasi-Poisson baselines, predictive p-values, CUSUM and EWMA charts.
did
    Difference-in-differences with stacked clean-control cohorts and a unit bootstrap.
shrinkage
    Empirical-Bayes gamma-Poisson shrinkage of rates.
agreement
    Cohen's and Fleiss' kappa with intervals; sample size of a proportion (:func:`sample_size_proportion`).
"""

from govlib.stats.agreement import KappaEstimate, cohens_kappa, fleiss_kappa, sample_size_proportion
from govlib.stats.did import bootstrap_att, build_did_cohorts, estimate_att
from govlib.stats.intervals import (
    PROPORTION_INTERVAL_METHODS,
    TestResult,
    adjust_pvalues_bh,
    flag_change,
    proportion_interval,
    test_poisson_rates,
    test_proportions_2indep,
)
from govlib.stats.shrinkage import ShrinkageError, shrink_rates_gamma_poisson
from govlib.stats.surveillance import (
    BaselineFit,
    SurveillanceError,
    cusum_poisson,
    cusum_statistic,
    ewma_limit,
    ewma_poisson,
    ewma_statistic,
    fit_quasi_poisson_baseline,
    fit_quasi_poisson_baselines,
    predictive_pvalue,
    predictive_upper,
    predictive_zscore,
)
from govlib.stats.survey import PREVALENCE_INTERVAL_METHODS, PrevalenceEstimate, estimate_prevalence

__all__ = [
    "BaselineFit",
    "KappaEstimate",
    "PREVALENCE_INTERVAL_METHODS",
    "PROPORTION_INTERVAL_METHODS",
    "PrevalenceEstimate",
    "ShrinkageError",
    "SurveillanceError",
    "TestResult",
    "adjust_pvalues_bh",
    "bootstrap_att",
    "build_did_cohorts",
    "cohens_kappa",
    "cusum_poisson",
    "cusum_statistic",
    "estimate_att",
    "estimate_prevalence",
    "ewma_limit",
    "ewma_poisson",
    "ewma_statistic",
    "fit_quasi_poisson_baseline",
    "fit_quasi_poisson_baselines",
    "flag_change",
    "fleiss_kappa",
    "predictive_pvalue",
    "predictive_upper",
    "predictive_zscore",
    "proportion_interval",
    "sample_size_proportion",
    "shrink_rates_gamma_poisson",
    "test_poisson_rates",
    "test_proportions_2indep",
]
