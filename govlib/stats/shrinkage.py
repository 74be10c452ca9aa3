"""Empirical-Bayes shrinkage of rates towards their pooled rate.

Functions
---------
shrink_rates_gamma_poisson
    Gamma-Poisson posterior-mean rates with method-of-moments hyper-parameters
    (Marshall 1991): units with little exposure move towards the pooled rate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from govlib.errors import GovlibError

__all__ = ["shrink_rates_gamma_poisson", "ShrinkageError"]


class ShrinkageError(GovlibError):
    """Events or exposure given to the shrinkage are unusable (lengths differ, exposure <= 0, events < 0)."""


def shrink_rates_gamma_poisson(events, exposure) -> pd.DataFrame:
    """Empirical-Bayes rates: each unit's rate shrunk towards the pooled rate.

    Model: ``events_i ~ Poisson(exposure_i * lambda_i)``, ``lambda_i ~ Gamma(alpha, beta)``
    (mean ``m = alpha / beta``, variance ``v = alpha / beta**2``). The posterior mean is
    ``(alpha + events_i) / (beta + exposure_i)``: a unit with little exposure stays near
    ``m``, one with much exposure near its own rate ``events_i / exposure_i``.

    Hyper-parameters by the method of moments (Marshall 1991, global estimator):
    ``m = sum(events) / sum(exposure)``,
    ``s2 = sum(exposure_i * (r_i - m)**2) / sum(exposure)`` with ``r_i = events_i / exposure_i``,
    ``v = s2 - m / mean(exposure)``. When ``v <= 0`` the rates show no more spread than
    Poisson noise, and every unit gets ``m``.

    Parameters
    ----------
    events : array-like of int >= 0
    exposure : array-like of float > 0

    Returns
    -------
    DataFrame with ``events``, ``exposure``, ``raw_rate``, ``rate`` (posterior mean) and
    ``weight`` (credibility ``exposure / (beta + exposure)``: 1 = own rate, 0 = pooled), plus
    the hyper-parameters in ``.attrs`` (``prior_mean``, ``prior_var``, ``alpha``, ``beta``).

    References
    ----------
    Marshall R.J. (1991). Mapping disease and mortality rates using empirical Bayes
    estimators. Applied Statistics 40, 283-294.
    Clayton D., Kaldor J. (1987). Empirical Bayes estimates of age-standardized relative
    risks for use in disease mapping. Biometrics 43, 671-681.
    """
    y = np.asarray(events, dtype=float)
    n = np.asarray(exposure, dtype=float)
    if y.shape != n.shape:
        raise ShrinkageError("events and exposure must have the same length")
    if len(n) and (np.any(n <= 0) or np.any(y < 0)):
        raise ShrinkageError(
            f"exposure must be > 0 and events >= 0 ({int(np.sum(n <= 0))} unit(s) with exposure <= 0)"
        )
    out = pd.DataFrame({"events": y, "exposure": n})
    if len(n) == 0 or n.sum() == 0:
        out["raw_rate"] = out["rate"] = out["weight"] = np.nan
        return out
    m = y.sum() / n.sum()
    r = y / n
    s2 = float(np.sum(n * (r - m) ** 2) / n.sum())
    v = s2 - m / n.mean()
    out["raw_rate"] = r
    if v <= 0 or m == 0:
        alpha = beta = np.inf
        out["rate"] = m
        out["weight"] = 0.0
    else:
        beta = m / v
        alpha = m * beta
        out["rate"] = (alpha + y) / (beta + n)
        out["weight"] = n / (beta + n)
    out.attrs.update(prior_mean=float(m), prior_var=float(max(v, 0.0)), alpha=float(alpha), beta=float(beta))
    return out
