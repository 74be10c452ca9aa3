"""Tests of govlib.stats.shrinkage: empirical-Bayes gamma-Poisson rates."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from govlib.stats.shrinkage import ShrinkageError, shrink_rates_gamma_poisson


def test_gamma_poisson_shrinkage_by_hand():
    # events y = (0, 2, 10, 1), exposure n = (10, 10, 20, 5); Marshall (1991) moments, by hand:
    # m = 13/45; s2 = sum n (y/n - m)^2 / sum n = 83/2025; v = s2 - m / mean(n) = 83/2025 - (13/45)/(45/4)
    #   = 31/2025; beta = m / v = 585/31; alpha = m beta = 169/31
    # posterior (alpha + y) / (beta + n) = 169/895, 231/895, 479/1205, 200/740
    out = shrink_rates_gamma_poisson([0, 2, 10, 1], [10, 10, 20, 5])
    assert out.attrs["prior_mean"] == pytest.approx(13 / 45)
    assert out.attrs["prior_var"] == pytest.approx(31 / 2025)
    assert out.attrs["beta"] == pytest.approx(585 / 31)
    assert out.attrs["alpha"] == pytest.approx(169 / 31)
    expected = [Fraction(169, 895), Fraction(231, 895), Fraction(479, 1205), Fraction(200, 740)]
    np.testing.assert_allclose(out["rate"], [float(f) for f in expected], rtol=1e-12)
    # the smaller unit (n = 5) keeps less of its own rate than a larger one
    assert out["weight"].iloc[3] < out["weight"].iloc[0] < out["weight"].iloc[2]


def test_no_extra_variation_means_full_shrinkage():
    # identical raw rates: s2 = 0 < m / mean(n): everyone gets the pooled rate
    out = shrink_rates_gamma_poisson([1, 2, 4], [10, 20, 40])
    np.testing.assert_allclose(out["rate"], 0.1)
    assert (out["weight"] == 0).all()
    with pytest.raises(ShrinkageError, match="exposure"):
        shrink_rates_gamma_poisson([1, 2], [1, 0])


def test_small_creators_are_not_ranked_on_noise():
    # 40 creators with 20 items (half with 0, half with 4 actions); one with 1 item and 1 action;
    # one with 40 items and 12 actions
    n = [20] * 40 + [1, 40]
    y = [0] * 20 + [4] * 20 + [1, 12]
    out = shrink_rates_gamma_poisson(y, n)
    assert out["raw_rate"].iloc[40] > out["raw_rate"].iloc[41]  # 1.0 vs 0.3 raw
    assert out["rate"].iloc[40] < out["rate"].iloc[41]  # after shrinkage the big one leads
