"""Tests of govlib.metrics.signals: hand-computed confusion matrices, reference formulas, planted truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from govlib.metrics import signals as S
from govlib.metrics.frames import MetricInputError

# Toy: sorted by score  .9T .8T .7F .6T .5F .4T .2F .1F
Y = np.array([True, True, True, False, False, False, True, False])
SCORE = np.array([0.9, 0.8, 0.4, 0.7, 0.2, 0.5, 0.6, 0.1])


def wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval written out (Wilson 1927; R: prop.test(k, n, correct = FALSE)$conf.int)."""
    z = sps.norm.ppf(1 - alpha / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def test_count_confusion_by_hand():
    c = S.count_confusion(Y, SCORE, [0.5, 0.85, 0.0, 1.01])
    # t=0.5 flags .9T .8T .7F .6T .5F -> TP 3, FP 2; missed .4T -> FN 1; TN .2 .1 -> 2
    assert c.iloc[0][["n_flagged", "tp", "fp", "fn", "tn"]].tolist() == [5, 3, 2, 1, 2]
    assert c.iloc[1][["n_flagged", "tp", "fp", "fn", "tn"]].tolist() == [1, 1, 0, 3, 4]  # only .9
    assert c.iloc[2][["n_flagged", "tp", "fp", "fn", "tn"]].tolist() == [8, 4, 4, 0, 0]  # everything
    assert c.iloc[3][["n_flagged", "tp", "fp", "fn", "tn"]].tolist() == [0, 0, 0, 4, 4]  # nothing
    assert (c["n_labelled"] == 8).all() and (c["n_violating"] == 4).all()


def test_evaluate_thresholds_rates_and_wilson():
    frame = pd.DataFrame({"score": SCORE, "is_violating": Y, "language": ["de"] * 4 + ["pl"] * 4})
    ev = S.evaluate_thresholds(frame, [0.5, 1.01])
    r = ev.iloc[0]
    assert r["precision"] == pytest.approx(3 / 5)
    assert r["recall"] == pytest.approx(3 / 4)
    assert r["f1"] == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))
    assert (r["precision_low"], r["precision_high"]) == pytest.approx(wilson(3, 5))
    assert (r["recall_low"], r["recall_high"]) == pytest.approx(wilson(3, 4))
    # nothing flagged: precision has an empty denominator -> NaN, not 0; recall is 0 of 4
    r = ev.iloc[1]
    assert math.isnan(r["precision"]) and math.isnan(r["precision_low"])
    assert r["recall"] == 0.0 and r["f1"] == 0.0

    by = S.evaluate_thresholds(frame, 0.5, by="language")
    assert by["language"].tolist() == ["de", "pl"]
    # de rows: .9T .8T .4T .7F -> flagged .9 .8 .7: TP 2 FP 1 FN 1; pl: .2F .5F .6T .1F -> TP 1 FP 1 FN 0
    assert by.iloc[0][["tp", "fp", "fn", "tn"]].tolist() == [2, 1, 1, 0]
    assert by.iloc[1][["tp", "fp", "fn", "tn"]].tolist() == [1, 1, 0, 2]


def test_pr_curve_matches_brute_force_and_average_precision_by_hand():
    curve = S.compute_pr_curve(Y, SCORE)
    assert curve["threshold"].tolist() == sorted(SCORE, reverse=True)
    for t, p, r in zip(curve["threshold"], curve["precision"], curve["recall"]):
        flagged = SCORE >= t
        assert p == pytest.approx((flagged & Y).sum() / flagged.sum())
        assert r == pytest.approx((flagged & Y).sum() / Y.sum())
    # AP = sum dR * P = .25*1 + .25*1 + .25*(3/4) + .25*(4/6)  (sklearn.metrics.average_precision_score)
    assert S.compute_average_precision(Y, SCORE) == pytest.approx(0.25 * (1 + 1 + 0.75 + 4 / 6))
    # ties collapse to one point per distinct score
    tied = S.compute_pr_curve([True, False, True], [0.5, 0.5, 0.2])
    assert tied["threshold"].tolist() == [0.5, 0.2]
    assert tied["tp"].tolist() == [1, 2] and tied["fp"].tolist() == [1, 1]
    assert math.isnan(S.compute_average_precision([False, False], [0.3, 0.7]))


def test_calibration_bins_by_hand():
    y = [False, True, False, True, True, False]
    s = [0.05, 0.15, 0.15, 0.95, 1.0, 0.5]
    cal = S.compute_calibration(y, s, n_bins=2)
    assert cal["n"].tolist() == [3, 3]  # 0.5 opens the upper bin; 1.0 belongs to the last bin
    assert cal["n_violating"].tolist() == [1, 2]
    assert cal["mean_score"].tolist() == pytest.approx([(0.05 + 0.15 + 0.15) / 3, (0.95 + 1.0 + 0.5) / 3])
    assert cal["observed_rate"].tolist() == pytest.approx([1 / 3, 2 / 3])
    assert (cal.loc[0, "ci_low"], cal.loc[0, "ci_high"]) == pytest.approx(wilson(1, 3))
    cal10 = S.compute_calibration(y, s, n_bins=10)
    assert len(cal10) == 10 and cal10["n"].sum() == 6
    assert math.isnan(cal10.loc[3, "observed_rate"])  # empty bin: NaN, never 0
    q = S.compute_calibration(y, s, n_bins=3, strategy="quantile")
    assert q["n"].sum() == 6
    with pytest.raises(MetricInputError, match="strategy"):
        S.compute_calibration(y, s, strategy="isotonic")


def test_find_threshold_for_precision():
    # precision by threshold: .9:1 .8:1 .7:2/3 .6:3/4 .5:3/5 .4:4/6 ...
    r = S.find_threshold_for_precision(Y, SCORE, 0.75).iloc[0]
    assert r["threshold"] == 0.6 and r["tp"] == 3 and r["n_flagged"] == 4
    assert r["precision"] == pytest.approx(0.75) and r["recall"] == pytest.approx(0.75)
    assert (r["recall_low"], r["recall_high"]) == pytest.approx(wilson(3, 4))
    r = S.find_threshold_for_precision(Y, SCORE, 0.8).iloc[0]
    assert r["threshold"] == 0.8 and r["recall"] == pytest.approx(0.5)
    # conservative: Wilson lower bound of 2/2 is 2/(2+z^2) = 0.34 < 0.5 -> nothing qualifies
    r = S.find_threshold_for_precision(Y, SCORE, 0.5, criterion="lower_bound").iloc[0]
    assert math.isnan(r["threshold"]) and r["n_flagged"] == 0
    with pytest.raises(MetricInputError):
        S.find_threshold_for_precision(Y, SCORE, 1.5)


def test_flag_transfer_gaps_against_chi_square():
    ev = pd.DataFrame(
        {
            "language": ["de", "pl", "en"],
            "threshold": 0.5,
            "tp": [40, 10, 39],
            "n_flagged": [50, 50, 50],
            "n_violating": [45, 45, 44],
        }
    )
    gaps = S.flag_transfer_gaps(ev, "de", correction="none")
    pl = gaps[(gaps["language"] == "pl") & (gaps["metric"] == "precision")].iloc[0]
    # one-sided score test = half the two-sided Pearson chi-square p (R: prop.test(c(10, 40), c(50, 50), correct = FALSE))
    _, p2, _, _ = sps.chi2_contingency([[10, 40], [40, 10]], correction=False)
    assert pl["pvalue"] == pytest.approx(p2 / 2, rel=1e-6)
    assert pl["gap"] == pytest.approx(0.2 - 0.8) and bool(pl["flagged"])
    en = gaps[(gaps["language"] == "en")]
    assert not en["flagged"].any()  # 39/50 against 40/50: neither significant nor material
    with pytest.raises(MetricInputError, match="reference"):
        S.flag_transfer_gaps(ev, "fr")


def _scores_labels():
    t0 = pd.Timestamp("2026-10-01", tz="UTC")
    scores = pd.DataFrame(
        {
            "content_id": ["a", "b", "c", "a"],
            "market": "DE",
            "signal": "s",
            "version": "1",
            "score": [0.2, 0.9, 0.7, 0.8],
            "scored_at": [t0, t0, t0, t0 + pd.Timedelta(days=1)],
        }
    )
    labels = pd.DataFrame(
        {
            "content_id": ["a", "a", "b", "c"],
            "market": "DE",
            "policy": None,
            "is_violating": [False, True, True, False],
            "reviewed_at": [t0 + pd.Timedelta(days=2), t0 + pd.Timedelta(days=5), t0, t0],
            "source": ["qa_sample", "investigation", "qa_sample", "investigation"],
        }
    )
    content = pd.DataFrame({"content_id": ["a", "b"], "market": "DE", "language": ["de", "en"]})
    return scores, labels, content


def test_prepare_signal_labels_sample_latest_label_and_rescoring():
    scores, labels, content = _scores_labels()
    f = S.prepare_signal_labels(scores, labels, content)
    # c has only a targeted label: not in the random sample
    assert f["content_id"].tolist() == ["a", "b"]
    a = f.iloc[0]
    assert a["score"] == 0.8  # latest score of a re-scored item
    assert (
        bool(a["is_violating"]) and a["label_source"] == "investigation"
    )  # latest label corrects the QA one
    assert f["language"].tolist() == ["de", "en"]
    every = S.prepare_signal_labels(scores, labels, content, sample_sources=None)
    assert every["content_id"].tolist() == ["a", "b", "c"]
    assert every.iloc[2]["language"] == S.UNKNOWN_LANGUAGE
    late = S.prepare_signal_labels(scores, labels, content, start="2026-10-01 12:00")
    assert late["content_id"].tolist() == ["a"]
    # row order does not matter
    shuffled = S.prepare_signal_labels(scores.iloc[::-1], labels.iloc[::-1], content)
    pd.testing.assert_frame_equal(f, shuffled)


def test_prepare_signal_labels_errors():
    scores, labels, content = _scores_labels()
    bad = scores.copy()
    bad.loc[1, "score"] = 1.3
    with pytest.raises(MetricInputError, match=r"1 row\(s\).*\['b'\]"):
        S.prepare_signal_labels(bad, labels, content)
    two = pd.concat([scores, scores.assign(signal="other")])
    with pytest.raises(MetricInputError, match="signal=.*"):
        S.prepare_signal_labels(two, labels, content)
    assert len(S.prepare_signal_labels(two, labels, content, signal="other")) == 2
    nolabel = labels.copy()
    nolabel["is_violating"] = [True, None, False, True]
    with pytest.raises(MetricInputError, match="is_violating"):
        S.prepare_signal_labels(scores, nolabel, content)
    with pytest.raises(MetricInputError, match="lacks column"):
        S.prepare_signal_labels(scores.drop(columns="score"), labels, content)


# --------------------------------------------------------------------------- planted truth (demo data)


@pytest.fixture(scope="module")
def demo_frame(demo_dir):
    from govlib.data.load import open_dataset

    ds = open_dataset(demo_dir)
    content = ds.load("content", columns=["content_id", "market", "language"], ordered=False)
    return S.prepare_signal_labels(
        ds.load("signal_scores", ordered=False), ds.load("review_labels", ordered=False), content
    )


@pytest.mark.parametrize("by", ["language", "market"])
def test_recovers_planted_precision_and_recall(demo_frame, ground_truth, by):
    truth = ground_truth["signal"]["by_" + by]
    thr = ground_truth["signal"]["threshold"]
    groups = sorted(truth)
    # simultaneous 95% intervals: Bonferroni over every group x {precision, recall} checked
    alpha = 0.05 / (2 * len(groups))
    ev = S.evaluate_thresholds(demo_frame, thr, by=by, alpha=alpha).set_index(by)
    assert sorted(ev.index) == groups
    for g in groups:
        r = ev.loc[g]
        for metric in ("precision", "recall"):
            assert r[f"{metric}_low"] <= truth[g][metric] <= r[f"{metric}_high"], (
                g,
                metric,
                r[metric],
                truth[g],
            )
    # intervals are informative where the signal was built (not a test that cannot fail)
    for g in [g for g in ground_truth["signal"]["built_for"] if g in ev.index] or ["DE", "GB"]:
        assert ev.loc[g, "precision_high"] - ev.loc[g, "precision_low"] < 0.12
        assert ev.loc[g, "recall_high"] - ev.loc[g, "recall_low"] < 0.12


def test_planted_polish_gap_flagged(demo_frame, ground_truth):
    thr = ground_truth["signal"]["threshold"]
    ev = S.evaluate_thresholds(demo_frame, thr, by="language")
    gaps = S.flag_transfer_gaps(ev, "de")
    pl = gaps[gaps["language"] == "pl"].set_index("metric")
    assert bool(pl.loc["precision", "flagged"]) and bool(pl.loc["recall", "flagged"])
    # en and de are both languages the signal was built for: no gap between them
    assert not gaps[gaps["language"] == "en"]["flagged"].any()


def test_demo_calibration_and_target_threshold(demo_frame):
    de = demo_frame[demo_frame["language"] == "de"]
    cal = S.compute_calibration(de["is_violating"], de["score"], n_bins=5)
    assert cal["n"].sum() == len(de)
    # a useful signal: the observed violating share rises with the score
    rates = cal.dropna(subset=["observed_rate"])["observed_rate"].to_numpy()
    assert (np.diff(rates) > 0).all()
    hit = S.find_threshold_for_precision(de["is_violating"], de["score"], 0.9).iloc[0]
    assert hit["precision"] >= 0.9
    # every lower threshold has precision below the target
    curve = S.compute_pr_curve(de["is_violating"], de["score"])
    assert (curve.loc[curve["threshold"] < hit["threshold"], "precision"] < 0.9).all()
