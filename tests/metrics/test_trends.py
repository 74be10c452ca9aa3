"""Tests of govlib.metrics.trends: weekly series, quasi-Poisson baseline, control charts, alarms."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests

from govlib.metrics import trends
from govlib.metrics.trends import (
    ALERT_COLUMNS,
    TrendsError,
    alerts_for_month,
    build_weekly_series,
    detect_emerging_risks,
    summarise_alarms,
)
from govlib.params import AlertSettings
from govlib.stats import surveillance
from govlib.stats.surveillance import (
    cusum_poisson,
    ewma_poisson,
    fit_quasi_poisson_baseline,
    predictive_pvalue,
    predictive_upper,
)

# ----------------------------------------------------------------------------- weekly series


def _toy_tables():
    def utc(s):
        return pd.Timestamp(s, tz="UTC")

    content = pd.DataFrame(
        {
            "content_id": ["c1", "c2", "c3", "c4", "c5"],
            "market": ["DE", "DE", "DE", "DE", "FR"],
            "content_type": ["livestream", "short_video", "livestream", "image", "image"],
            # c1: Sunday 29 March 2026 23:30 UTC = Monday 30 March 01:30 in Berlin (CEST)
            "published_at": [
                utc("2026-03-29 23:30"),
                utc("2026-03-29 12:00"),
                utc("2026-04-01 10:00"),
                utc("2026-04-08 10:00"),
                utc("2026-03-30 10:00"),
            ],
        }
    )
    actions = pd.DataFrame(
        {
            "action_id": ["a1", "a2", "a3", "a4", "a5", "a6"],
            "creator_id": ["u1", "u1", "u2", "u3", "u3", "u9"],
            "market": ["DE", "DE", "DE", "DE", "DE", "FR"],
            "policy": [
                "scam_fraud",
                "scam_fraud",
                "scam_fraud",
                "hate_harassment",
                "scam_fraud",
                "scam_fraud",
            ],
            "content_id": ["c1", "c3", None, "c2", "c2", "c5"],
            "actioned_at": [
                utc("2026-03-29 22:30"),  # 00:30 Monday 30 March local
                utc("2026-04-02 09:00"),
                utc("2026-04-03 09:00"),
                utc("2026-03-28 09:00"),
                utc("2026-04-09 09:00"),
                utc("2026-04-01 09:00"),
            ],
        }
    )
    return actions, content


def test_weekly_series_buckets_local_weeks_and_rates():
    actions, content = _toy_tables()
    s = build_weekly_series(actions, content, "DE", "Europe/Berlin", start="2026-03-25", end="2026-04-10")
    allw = s[(s.policy == "scam_fraud") & (s.content_type == "all")].set_index("week_start")
    # weeks: Mon 23 Mar (window from Wed 25: 5 days), 30 Mar (7), 6 Apr (window to Fri 10 excl.: 4)
    assert list(allw.index.strftime("%Y-%m-%d")) == ["2026-03-23", "2026-03-30", "2026-04-06"]
    assert allw["days"].tolist() == [5, 7, 4]
    # a1 falls on Monday 30 March local although Sunday in UTC; a2, a3 the same week; a5 the next
    assert allw["observed"].tolist() == [0, 3, 1]
    assert allw["creators"].tolist() == [0, 2, 1]  # a1 and a2 are the same creator
    # published: c2 (Sun 29 local) in week 23 Mar; c1, c3 in week 30 Mar; c4 in week 6 Apr
    assert allw["published"].tolist() == [1, 2, 1]
    assert allw["rate_per_1000"].tolist() == [0.0, 1500.0, 1000.0]
    live = s[(s.policy == "scam_fraud") & (s.content_type == "livestream")].set_index("week_start")
    assert live["observed"].tolist() == [0, 2, 0]  # a3 is account-level: only in "all"
    assert live["published"].tolist() == [0, 2, 0]
    assert math.isnan(live["rate_per_1000"].iloc[0])  # empty denominator -> NaN, not 0
    sv = s[(s.policy == "scam_fraud") & (s.content_type == "short_video")]
    assert sv["observed"].tolist() == [0, 0, 1]  # a5 acted on c2 (published the week before)
    hh = s[(s.policy == "hate_harassment") & (s.content_type == "all")]
    assert hh["observed"].sum() == 1  # a4 on Sat 28 March, inside the window
    assert set(s["market"]) == {"DE"}  # FR rows ignored


def test_weekly_series_bad_input_is_a_clear_error():
    actions, content = _toy_tables()
    with pytest.raises(TrendsError, match="enforcement_actions.*actioned_at"):
        build_weekly_series(actions.drop(columns="actioned_at"), content, "DE", "Europe/Berlin")
    bad = actions.copy()
    bad["actioned_at"] = bad["actioned_at"].astype(object)
    bad.loc[[0, 2], "actioned_at"] = None
    with pytest.raises(TrendsError, match=r"2 row\(s\) without a timestamp"):
        build_weekly_series(bad, content, "DE", "Europe/Berlin")
    with pytest.raises(TrendsError, match="exposure"):
        fit_quasi_poisson_baseline([1, 2], [1, 0], [0, 1], target_time=2, target_exposure=1)


# ----------------------------------------------------------------------------- GLM baseline


def test_irls_matches_statsmodels_glm_quasi_poisson():
    rng = np.random.default_rng(3)
    t = np.arange(26.0) - 26
    X = np.column_stack([np.ones(26), t])
    off = np.log(rng.uniform(0.5, 1.0, 26))
    w = rng.uniform(0.2, 1.5, 26)
    y = rng.poisson(np.exp(2.5 + 0.03 * t + off)).astype(float)
    ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=off, var_weights=w).fit(scale="X2")
    got = surveillance._glm(y, X, off, w)
    np.testing.assert_allclose(got.params, ref.params, rtol=1e-8)
    assert got.scale == pytest.approx(ref.scale, rel=1e-8)
    np.testing.assert_allclose(got.cov, ref.cov_params(), rtol=1e-7)
    np.testing.assert_allclose(got.pvalues, ref.pvalues, rtol=1e-6)


def test_baseline_without_trend_is_the_exposure_weighted_mean():
    # No trend (flat data): the Poisson MLE of an intercept-only model is sum(y) / sum(e)
    y = [4, 6, 5, 3, 7, 5, 4, 6, 5, 5]
    e = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5]
    fit = fit_quasi_poisson_baseline(y, e, range(10), target_time=12, target_exposure=6 / 7, reweight=False)
    assert not fit.trend
    assert fit.expected == pytest.approx(sum(y) / sum(e) * 6 / 7, rel=1e-9)
    mu = np.array(e) * sum(y) / sum(e)
    x2 = float(np.sum((np.array(y) - mu) ** 2 / mu)) / (10 - 1)
    assert fit.dispersion == pytest.approx(max(1.0, x2))  # Pearson chi2 / df, floored at 1
    # var of log mean of an intercept-only quasi-Poisson model: phi / sum(mu)
    assert fit.var_log_expected == pytest.approx(fit.dispersion / sum(y), rel=1e-6)


def test_significant_trend_is_kept_and_matches_statsmodels_prediction():
    t = np.arange(20.0)
    y = np.round(10 * np.exp(0.08 * t) + np.tile([1, -1], 10))
    fit = fit_quasi_poisson_baseline(y, np.ones(20), t, target_time=21.0, target_exposure=1.0, reweight=False)
    assert fit.trend
    X = sm.add_constant(t)
    ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(scale="X2")
    assert fit.expected == pytest.approx(float(ref.predict(np.array([[1.0, 21.0]]))[0]), rel=1e-7)
    # the trend would extrapolate beyond the largest rate seen: Farrington drops it
    fit2 = fit_quasi_poisson_baseline(
        y, np.ones(20), t, target_time=40.0, target_exposure=1.0, reweight=False, cap_at_max=True
    )
    assert not fit2.trend
    assert fit2.expected == pytest.approx(y.mean())


def test_reweighting_downweights_a_past_outbreak_as_farrington():
    y = np.array([5, 6, 4, 5, 7, 5, 6, 4, 5, 6, 30, 5, 4, 6, 5, 5], dtype=float)
    n = len(y)
    t = np.arange(n, dtype=float)
    fit = fit_quasi_poisson_baseline(y, np.ones(n), t, target_time=n + 1, target_exposure=1.0, trend=False)
    # reference: Farrington (1996) eq. 2 residuals from statsmodels' fit and hat values
    X = np.ones((n, 1))
    f0 = sm.GLM(y, X, family=sm.families.Poisson()).fit(scale="X2")
    phi = max(1.0, f0.scale)
    hat = f0.get_influence().hat_matrix_diag
    r = 1.5 * (y ** (2 / 3) - f0.mu ** (2 / 3)) / f0.mu ** (1 / 6) / np.sqrt(phi * (1 - hat))
    w = np.where(r > 2.58, r**-2.0, 1.0)
    w = w * n / w.sum()
    f1 = sm.GLM(y, X, family=sm.families.Poisson(), var_weights=w).fit(scale="X2")
    assert w[10] < 0.2 and fit.expected == pytest.approx(float(f1.mu[0]), rel=1e-8)
    assert fit.expected < y.mean()  # the outbreak no longer lifts the baseline much
    assert fit.dispersion == pytest.approx(max(1.0, f1.scale), rel=1e-8)


def test_predictive_pvalue_and_upper_bound():
    # Poisson(2): P(Y >= 4) = 1 - e^-2 (1 + 2 + 2 + 4/3), by hand
    assert predictive_pvalue(4, 2.0) == pytest.approx(1 - math.exp(-2) * (1 + 2 + 2 + 4 / 3), rel=1e-10)
    assert predictive_pvalue(0, 2.0) == 1.0
    # quasi-Poisson phi = 3 plus parameter variance 0.1: NB with mean 5, var 3*5 + 25*0.1 = 17.5
    mu, var = 5.0, 17.5
    n, p = mu**2 / (var - mu), mu / var
    ys = np.array([1, 5, 9, 15, 30])
    np.testing.assert_allclose(predictive_pvalue(ys, mu, 3.0, 0.1), stats.nbinom.sf(ys - 1, n, p), rtol=1e-10)
    assert predictive_upper(mu, 3.0, 0.1, level=0.99) == stats.nbinom.ppf(0.99, n, p)
    assert predictive_upper(mu, 1.0, 0.0, level=0.99) == stats.poisson.ppf(0.99, mu)
    assert math.isnan(predictive_pvalue(3, 0.0))


# ----------------------------------------------------------------------------- control charts


def test_cusum_recursion_by_hand():
    # mu = 4 -> sd 2; z = (1/2, 5/2, 0, 4.5); S_t = max(0, S + z - 0.5) = 0, 2, 1.5, 5.5
    out = cusum_poisson([5, 9, 4, 13], [4, 4, 4, 4], k=0.5, h=5.0)
    np.testing.assert_allclose(out["z"], [0.5, 2.5, 0.0, 4.5])
    np.testing.assert_allclose(out["statistic"], [0.0, 2.0, 1.5, 5.5])
    assert out["alarm"].tolist() == [False, False, False, True]
    # S = 5 exactly is not above h
    assert not cusum_poisson([5, 9, 4, 12], [4] * 4, 0.5, 5.0)["alarm"].any()


def test_ewma_recursion_by_hand():
    # z = (1, 3, -1) with sd 1; lam 0.5: Z = 0.5, 1.75, 0.375; UCL = 2 sqrt(0.5 / 1.5) = 1.1547
    out = ewma_poisson([2, 4, 0], [1, 1, 1], lam=0.5, limit=2.0, sd=[1, 1, 1])
    np.testing.assert_allclose(out["statistic"], [0.5, 1.75, 0.375])
    np.testing.assert_allclose(out["limit"], 2 * math.sqrt(1 / 3))
    assert out["alarm"].tolist() == [False, True, False]


# ----------------------------------------------------------------------------- detection


def _simulated(seed=1, n_series=12, weeks=60, outbreak=("p00", 3.0, 6)):
    rng = np.random.default_rng(seed)
    ws = pd.date_range("2025-09-01", periods=weeks, freq="7D")
    rows = []
    for j in range(n_series):
        mu = np.full(weeks, [4.0, 10.0, 25.0, 60.0][j % 4])
        name = f"p{j:02d}"
        if outbreak and name == outbreak[0]:
            mu[-outbreak[2] :] *= outbreak[1]
        y = rng.poisson(mu)
        rows += [("DE", name, "all", w, 7, int(v), 500) for w, v in zip(ws, y)]
    return pd.DataFrame(
        rows, columns=["market", "policy", "content_type", "week_start", "days", "observed", "published"]
    )


def test_planted_outbreak_ranks_first_and_q_values_are_bh():
    s = _simulated()
    month = s["week_start"].max().strftime("%Y-%m")
    res = detect_emerging_risks(s, AlertSettings(), month=month, all_weeks=True)
    ref = multipletests(res["p_value"].to_numpy(float), method="fdr_bh")[1]
    np.testing.assert_allclose(res["q_value"].to_numpy(float), ref)
    alarms = res[res["alarm"]]
    assert alarms["policy"].iloc[0] == "p00"
    assert set(alarms["policy"]) == {"p00"}  # quiet Poisson series stay quiet (seeded)
    assert (alarms["ratio"] >= AlertSettings().min_ratio).all()
    assert (res["score"] == -np.log10(res["p_value"])).all()
    summary = summarise_alarms(alarms)
    assert summary["policy"].tolist() == ["p00"] and summary["weeks"].iloc[0] == len(alarms)


def test_current_weeks_are_excluded_from_their_own_baseline():
    s = _simulated(outbreak=None)
    s = s[s["policy"] == "p02"].reset_index(drop=True)
    target = s["week_start"].iloc[-1]
    base = detect_emerging_risks(s, AlertSettings(), weeks=[target], all_weeks=True, run_in_weeks=0)
    bumped = s.copy()
    bumped.loc[bumped.index[-2:], "observed"] += 500  # the target and the week before it
    again = detect_emerging_risks(bumped, AlertSettings(), weeks=[target], all_weeks=True, run_in_weeks=0)
    assert again["expected"].iloc[0] == pytest.approx(base["expected"].iloc[0])
    assert again["observed"].iloc[0] == base["observed"].iloc[0] + 500
    older = s.copy()
    older.loc[older.index[-3], "observed"] += 5  # in the baseline: changes the expectation
    moved = detect_emerging_risks(older, AlertSettings(), weeks=[target], all_weeks=True, run_in_weeks=0)
    assert moved["expected"].iloc[0] != pytest.approx(base["expected"].iloc[0])


def test_min_expected_floor_keeps_sparse_series_quiet():
    s = _simulated(outbreak=None, n_series=1)
    s["observed"] = 0
    s.loc[s.index[-1], "observed"] = 3  # 3 actions after a year of none
    res = detect_emerging_risks(s, AlertSettings(min_expected=2.0), all_weeks=True)
    last = res.sort_values("week_start").iloc[-1]
    assert last["expected"] == 0 and last["ratio"] == 1.5
    assert last["p_value"] == pytest.approx(stats.poisson.sf(2, 2.0))  # tested against the floor
    assert not res["alarm"].any()


def test_alerts_for_month_has_exactly_the_export_columns():
    s = _simulated()
    month = s["week_start"].max().strftime("%Y-%m")
    out = alerts_for_month(s, "DE", month, AlertSettings())
    assert list(out.columns) == ALERT_COLUMNS
    assert (out["month"] == month).all() and (out["market"] == "DE").all()
    assert out["week_start"].str.startswith(month).all()
    empty = alerts_for_month(s.assign(market="FR"), "DE", month, AlertSettings())
    assert list(empty.columns) == ALERT_COLUMNS and empty.empty


def test_plot_alarm_translates_labels():
    import matplotlib

    matplotlib.use("Agg")
    s = _simulated()
    month = s["week_start"].max().strftime("%Y-%m")
    row = detect_emerging_risks(s, AlertSettings(), month=month).iloc[0]
    ax = trends.plot_alarm(s, row, _=lambda text: "«" + text + "»")
    assert ax.get_title().startswith("«") and ax.get_ylabel() == "«Actions per week»"
    assert len(ax.patches) == 26 + 1  # 26 weeks of history bars plus the marked week
    band = ax.lines[0].get_ydata()
    assert len(band) == 12 and np.all(np.isfinite(band))  # expected line over the last 12 weeks
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


# ----------------------------------------------------------------------------- demo data


def test_planted_wave_tops_its_markets_alerts(demo_dir, ground_truth):
    from govlib.data.load import load_market_window, open_dataset
    from govlib.params import load_market
    from govlib.timeutil import shift_month

    wave = ground_truth["emerging_wave"]
    market, month = wave["market"], ground_truth["end_month"]
    params = load_market(market)
    tables = load_market_window(
        open_dataset(demo_dir), market, month, params.timezone, tables=["enforcement_actions", "content"]
    )
    series = trends.weekly_series_for_month(tables, market, month, params.timezone, by_content_type=False)
    last = series["week_start"].max()
    assert last.strftime("%Y-%m") == month  # cut at the month's end
    assert (
        series.loc[series["week_start"] == last, "days"].iloc[0]
        == (pd.Timestamp(f"{shift_month(month, 1)}-01") - last).days
    )
    alerts = alerts_for_month(series, market, month, params.alerts)
    assert not alerts.empty
    assert alerts["policy"].iloc[0] == wave["policy"]
    assert alerts["q_value"].iloc[0] <= params.alerts.fdr_q


def test_counting_creators_ignores_one_creator_collecting_many_actions():
    s = _simulated(outbreak=None)
    s["creators"] = s["observed"]
    last = s["week_start"].max()
    hit = (s["policy"] == "p03") & (s["week_start"] == last)
    s.loc[hit, "observed"] += 150  # one creator, 150 removals in a sweep
    s.loc[hit, "creators"] += 1
    by_actions = detect_emerging_risks(s, AlertSettings(), weeks=[last])
    by_creators = detect_emerging_risks(s, AlertSettings(), weeks=[last], count="creators")
    assert "p03" in set(by_actions["policy"])
    assert "p03" not in set(by_creators["policy"])
    with pytest.raises(TrendsError, match="count"):
        detect_emerging_risks(s, AlertSettings(), count="views")


def test_predictive_zscore_is_the_normal_score_of_the_mid_p_value():
    # Poisson(2), y = 2: mid-p = P(Y > 2) + P(Y = 2) / 2 = (P(Y >= 2) + P(Y >= 3)) / 2
    mid = 0.5 * (stats.poisson.sf(1, 2.0) + stats.poisson.sf(2, 2.0))
    assert surveillance.predictive_zscore(2, 2.0) == pytest.approx(stats.norm.isf(mid), rel=1e-10)
    # by hand: mid-p = (1 - 3e^-2 + 1 - 5e^-2) / 2 = 1 - 4e^-2, so z = Phi^-1(4e^-2) = Phi^-1(0.541341)
    assert surveillance.predictive_zscore(2, 2.0) == pytest.approx(0.103813, abs=1e-5)
    # far in the tail the score is large but finite
    assert 8 < surveillance.predictive_zscore(40, 2.0) < 40


# ----------------------------------------------------------------------------- stacked (fast) fits


def _design_ref(t, trend, harmonics):
    cols = [np.ones_like(t)] + ([t] if trend else [])
    for j in range(1, harmonics + 1):
        ang = 2 * np.pi * j * t / (365.2425 / 7)
        cols += [np.sin(ang), np.cos(ang)]
    return np.column_stack(cols)


def _baseline_by_statsmodels(y, e, t, t0, e0, alpha=0.05, threshold=2.58):
    """Farrington baseline (docs/trends.md) with statsmodels doing every fit.

    Reference for the stacked IRLS: ``sm.GLM(y, X, family=Poisson(), offset=log(e),
    var_weights=w).fit(scale="X2")``, hat values from ``get_influence()``.
    """
    y, e, t = (np.asarray(v, dtype=float) for v in (y, e, t))
    n = len(y)
    if n == 0 or y.sum() == 0:
        return 0.0, 1.0, 0.0, False, 0
    h = 1 if (t.max() - t.min() + 1) >= 2 * 365.2425 / 7 else 0
    h = h if n > 2 + 2 * h + 2 else 0
    use_trend = n >= 3
    while True:
        X = _design_ref(t - t0, use_trend, h)
        f0 = sm.GLM(y, X, family=sm.families.Poisson(), offset=np.log(e)).fit(scale="X2")
        phi0 = max(1.0, f0.scale)
        hat = f0.get_influence().hat_matrix_diag
        r = (
            1.5
            * (y ** (2 / 3) - f0.mu ** (2 / 3))
            / f0.mu ** (1 / 6)
            / np.sqrt(phi0 * np.clip(1 - hat, 1e-8, None))
        )
        w = np.where(r > threshold, np.maximum(r, 1e-12) ** -2.0, 1.0)
        w = w * n / w.sum()
        f1 = sm.GLM(y, X, family=sm.families.Poisson(), offset=np.log(e), var_weights=w).fit(scale="X2")
        phi = max(1.0, f1.scale)
        x0 = _design_ref(np.array([0.0]), use_trend, h)
        mu0 = float(f1.predict(x0, offset=np.log([e0]))[0])
        if use_trend and not f1.pvalues[1] < alpha:
            use_trend = False
            continue
        var = float(x0[0] @ (np.asarray(f1.cov_params()) * phi / f1.scale) @ x0[0])
        return mu0, phi, var, use_trend, h


def _hand_made_baselines():
    """(name, y, exposure, t, target t, target exposure): planted spike, trend, seasonality, degenerate."""
    rng = np.random.default_rng(11)
    t26 = np.arange(26.0)
    cases = [
        ("flat", rng.poisson(12, 26), np.ones(26), t26, 27.0, 1.0),
        ("spike", np.r_[rng.poisson(8, 12), 60, rng.poisson(8, 13)], np.ones(26), t26, 27.0, 1.0),
        ("trend", rng.poisson(5 * np.exp(0.06 * t26)), np.ones(26), t26, 27.0, 4 / 7),
        (
            "trend_and_spike",
            np.r_[rng.poisson(6 * np.exp(0.05 * t26[:20])), 90, rng.poisson(20, 5)],
            rng.uniform(0.6, 1.0, 26),
            t26 + 30,
            58.0,
            1.0,
        ),
        (
            "seasonal_2y",
            rng.poisson(20 * np.exp(0.6 * np.sin(2 * np.pi * np.arange(110.0) / (365.2425 / 7)))),
            np.ones(110),
            np.arange(110.0),
            112.0,
            1.0,
        ),
        ("single_nonzero", np.r_[np.zeros(10), 5, np.zeros(9)], np.ones(20), np.arange(20.0), 21.0, 1.0),
        ("short_8", np.array([3, 5, 4, 6, 2, 7, 5, 4]), np.ones(8), np.arange(8.0), 9.0, 1.0),
        ("short_3", np.array([2, 9, 4]), np.ones(3), np.arange(3.0), 4.0, 1.0),
        ("short_2", np.array([2, 7]), np.array([1.0, 0.5]), np.arange(2.0), 3.0, 1.0),
        ("all_zero", np.zeros(26), np.ones(26), t26, 27.0, 1.0),
    ]
    return [
        (nm, np.asarray(y, dtype=float), np.asarray(e, dtype=float), t, t0, e0)
        for nm, y, e, t, t0, e0 in cases
    ]


def test_stacked_glm_matches_statsmodels_with_padding():
    # fits of different lengths in one stack: padding rows (w = 0) must not change any fit
    rng = np.random.default_rng(5)
    lengths, k = [26, 17, 9], 2
    L = max(lengths)
    y, X, off, w = np.zeros((3, L)), np.zeros((3, L, k)), np.zeros((3, L)), np.zeros((3, L))
    refs = []
    for m, n in enumerate(lengths):
        t = np.arange(n, dtype=float) - n
        Xm = np.column_stack([np.ones(n), t])
        om = np.log(rng.uniform(0.5, 1.0, n))
        wm = rng.uniform(0.2, 1.5, n)
        ym = rng.poisson(np.exp(2.0 + 0.04 * t + om)).astype(float)
        y[m, :n], X[m, :n], off[m, :n], w[m, :n] = ym, Xm, om, wm
        X[m, n:] = [1.0, 99.0]  # padding: arbitrary finite rows
        refs.append(sm.GLM(ym, Xm, family=sm.families.Poisson(), offset=om, var_weights=wm).fit(scale="X2"))
    got = surveillance._glm_stack(y, X, off, w, lengths)
    for m, (n, ref) in enumerate(zip(lengths, refs)):
        np.testing.assert_allclose(got.params[m], ref.params, rtol=1e-8)
        np.testing.assert_allclose(got.mu[m, :n], ref.mu, rtol=1e-8)
        assert got.scale[m] == pytest.approx(ref.scale, rel=1e-8)
        np.testing.assert_allclose(got.cov[m], ref.cov_params(), rtol=1e-8)
        np.testing.assert_allclose(got.pvalues[m], ref.pvalues, rtol=1e-7)


def test_stacked_baseline_fits_match_statsmodels():
    cases = _hand_made_baselines()
    L = max(len(c[1]) for c in cases)
    m = len(cases)
    y, e, t, mask = np.zeros((m, L)), np.ones((m, L)), np.zeros((m, L)), np.zeros((m, L), dtype=bool)
    for i, (_, yi, ei, ti, _, _) in enumerate(cases):
        n = len(yi)
        y[i, :n], e[i, :n], t[i, :n], mask[i, :n] = yi, ei, ti, True
        y[i, n:], e[i, n:], t[i, n:] = 7.0, 3.0, 500.0  # padding values must be ignored
    stacked = surveillance.fit_quasi_poisson_baselines(
        y, e, t, mask, [c[4] for c in cases], [c[5] for c in cases]
    )
    seen = set()
    for i, (name, yi, ei, ti, t0, e0) in enumerate(cases):
        mu0, phi, var, trend, h = _baseline_by_statsmodels(yi, ei, ti, t0, e0)
        one = fit_quasi_poisson_baseline(yi, ei, ti, target_time=t0, target_exposure=e0)
        for got in (
            (
                stacked["expected"][i],
                stacked["dispersion"][i],
                stacked["var_log_expected"][i],
                bool(stacked["trend"][i]),
                int(stacked["harmonics"][i]),
                int(stacked["n_baseline"][i]),
            ),
            (one.expected, one.dispersion, one.var_log_expected, one.trend, one.harmonics, one.n_baseline),
        ):
            assert got[3:] == (trend, h, len(yi)), name
            assert got[0] == pytest.approx(mu0, rel=1e-8, abs=1e-300), name
            assert got[1] == pytest.approx(phi, rel=1e-8), name
            assert got[2] == pytest.approx(var, rel=1e-8, abs=1e-300), name
        seen.add((trend, h))
    # the cases exercise every design: intercept only, trend, and seasonal harmonics
    assert {(False, 0), (True, 0)} <= seen and any(h == 1 for _, h in seen)
    zero = [c[0] for c in cases].index("all_zero")
    assert (stacked["expected"][zero], stacked["dispersion"][zero], stacked["var_log_expected"][zero]) == (
        0,
        1,
        0,
    )


def _detect_one_series_at_a_time(series, settings, month, run_in_weeks=13, outbreak_alpha=0.01):
    """Reference for the stacked detector: each series alone, week by week, with the public functions."""
    out = []
    for key, g in series.sort_values(["market", "policy", "content_type", "week_start"]).groupby(
        ["market", "policy", "content_type"]
    ):
        y = g["observed"].to_numpy(float)
        expo = g["days"].to_numpy(float) / 7
        targets = np.flatnonzero(g["week_start"].dt.strftime("%Y-%m").to_numpy() == month)
        usable = expo > 0
        rows = []
        for i in range(max(0, targets.min() - run_in_weeks), targets.max() + 1):
            idx = np.flatnonzero(usable[: max(0, i - settings.current_weeks + 1)])[-settings.baseline_weeks :]
            if len(idx) < 8 or not usable[i]:
                continue
            fit = fit_quasi_poisson_baseline(
                y[idx], expo[idx], idx.astype(float), target_time=float(i), target_exposure=expo[i]
            )
            mu = max(fit.expected, settings.min_expected)
            p = predictive_pvalue(y[i], mu, fit.dispersion, fit.var_log_expected)
            if p <= outbreak_alpha and y[i] / mu >= settings.min_ratio:
                usable[i] = False
            if i >= targets.min():
                rows.append((i, fit.expected, mu, fit.dispersion, fit.var_log_expected, p))
        pos, expected, mu, phi, ve, p = map(np.array, zip(*rows))
        z = surveillance.predictive_zscore(y[pos], mu, phi, ve)
        cu = cusum_poisson(y[pos], mu, settings.cusum_k, z=z)["statistic"].to_numpy()
        ew = ewma_poisson(y[pos], mu, settings.ewma_lambda, z=z)["statistic"].to_numpy()
        out.append(
            pd.DataFrame(
                {
                    "policy": key[1],
                    "week_start": g["week_start"].to_numpy()[pos],
                    "expected": expected,
                    "p_value": p,
                    "cusum": cu,
                    "ewma": ew,
                }
            )
        )
    return pd.concat(out).sort_values(["policy", "week_start"]).reset_index(drop=True)


def test_stacked_detection_equals_one_series_at_a_time():
    # series of different lengths, an outbreak in the run-in (left out of later baselines),
    # a week without exposure and a series of zeros, all detected in one call
    s = _simulated(seed=4, n_series=6, weeks=60, outbreak=("p01", 4.0, 9))
    s = s.loc[~((s["policy"] == "p02") & (s["week_start"] < "2025-12-01"))]  # starts later
    s.loc[(s["policy"] == "p03") & (s["week_start"] == "2026-07-06"), "days"] = 0
    s.loc[s["policy"] == "p04", "observed"] = 0
    month = s["week_start"].max().strftime("%Y-%m")
    settings = AlertSettings()
    got = detect_emerging_risks(s, settings, month=month, all_weeks=True)
    got = got.sort_values(["policy", "week_start"]).reset_index(drop=True)
    ref = _detect_one_series_at_a_time(s, settings, month)
    assert got["policy"].tolist() == ref["policy"].tolist()
    assert (got["week_start"].to_numpy() == ref["week_start"].to_numpy()).all()
    for c in ("expected", "p_value", "cusum", "ewma"):
        np.testing.assert_allclose(
            got[c].to_numpy(float), ref[c].to_numpy(float), rtol=1e-12, atol=0, err_msg=c
        )
    assert got.loc[got["policy"] == "p01", "alarm"].any()  # the outbreak is still found
