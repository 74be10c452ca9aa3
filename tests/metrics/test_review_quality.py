"""Review quality: kappas against statsmodels on a hand-made fixture, the demo's planted truths recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from govlib.metrics import review_quality as rq
from govlib.params import load_market

TZ = "Europe/Berlin"


def _fixture() -> pd.DataFrame:
    """Items of two policies, in October 2026, with 2 or 3 rounds; labels drawn from a seeded rng."""
    rng = np.random.default_rng(11)
    rows = []
    for i in range(120):
        policy = "scam_fraud" if i % 2 else "counterfeit_ip"
        truth = rng.random() < 0.4
        for r in range(1, (3 if i % 3 == 0 else 2) + 1):
            label = truth if rng.random() < 0.85 else not truth
            rows.append(
                {
                    "review_id": f"r{i}-{r}",
                    "content_id": f"c{i}",
                    "market": "DE",
                    "policy": policy,
                    "language": "de" if i % 4 else "en",
                    "reviewer": f"rv{(i + r) % 5}",
                    "review_round": r,
                    "label": "violating" if label else "not_violating",
                    "golden_label": ("violating" if truth else "not_violating") if i % 5 == 0 else None,
                    "reviewed_at": pd.Timestamp("2026-10-05T10:00Z") + pd.Timedelta(hours=i + r),
                }
            )
    rows.append({**rows[0], "review_id": "other-market", "market": "FR"})  # filtered out
    return pd.DataFrame(rows)


def _wide(df: pd.DataFrame) -> pd.DataFrame:
    v = (df["label"] == "violating").astype(int)
    return df.assign(v=v).pivot_table(
        index=["content_id", "policy", "language"], columns="review_round", values="v"
    )


@pytest.mark.parametrize("policy", ["scam_fraud", rq.ALL])
def test_kappas_equal_statsmodels_on_the_items(policy):
    df = _fixture()
    got = rq.review_agreement(df, "DE", "2026-10", TZ)
    w = _wide(df[df["market"] == "DE"])
    if policy != rq.ALL:
        w = w.xs(policy, level="policy", drop_level=False)
    pair = w[[1, 2]].dropna().astype(int)
    table = pd.crosstab(pair[1], pair[2]).reindex(index=[0, 1], columns=[0, 1], fill_value=0).to_numpy()
    cohen = got[(got.measure == "cohen") & (got.policy == policy) & (got.language == rq.ALL)].iloc[0]
    assert cohen.kappa == pytest.approx(sm_cohens_kappa(table, return_results=False), abs=1e-9)
    assert cohen.n_items == len(pair)
    tri = w[[1, 2, 3]].dropna().astype(int).sum(axis=1).to_numpy()
    fl = got[(got.measure == "fleiss") & (got.policy == policy) & (got.language == rq.ALL)].iloc[0]
    assert fl.kappa == pytest.approx(sm_fleiss_kappa(np.column_stack([tri, 3 - tri])), abs=1e-9)
    assert fl.ci_low <= fl.kappa <= fl.ci_high and fl.interval == "bootstrap"


def test_accuracy_counts_and_calibration_list_by_hand():
    df = _fixture()
    acc = rq.reviewer_accuracy(df, "DE", "2026-10", TZ)
    g = df[(df.market == "DE") & df.golden_label.notna()]
    for r in acc.itertuples():
        mine = g[g.reviewer == r.reviewer]
        assert r.golden_reviews == len(mine)
        assert r.correct == int((mine.label == mine.golden_label).sum())
        assert r.ci_low <= r.accuracy <= r.ci_high
    listed = rq.reviewers_for_calibration(acc, min_accuracy=0.95, min_golden_reviews=3)
    expect = acc[(acc.accuracy < 0.95) & (acc.golden_reviews >= 3)]
    assert sorted(listed.reviewer) == sorted(expect.reviewer)
    assert list(listed.accuracy) == sorted(listed.accuracy)
    # another month holds none of these reviews
    assert rq.reviewer_accuracy(df, "DE", "2026-09", TZ).empty


def test_demo_planted_reviewer_accuracies_are_recovered(demo_dir, ground_truth):
    reviews = pd.read_parquet(demo_dir / "qa_reviews.parquet")
    truth = ground_truth["review_quality"]["by_market"]
    inside95, total = 0, 0
    for market, t in truth.items():
        tz = load_market(market).timezone
        acc = rq.reviewer_accuracy(reviews, market, None, tz, alpha=0.001).set_index("reviewer")
        acc95 = rq.reviewer_accuracy(reviews, market, None, tz).set_index("reviewer")
        assert sorted(acc.index) == sorted(t["reviewer_accuracy"])
        for name, planted in t["reviewer_accuracy"].items():
            assert acc.loc[name, "ci_low"] <= planted <= acc.loc[name, "ci_high"], (market, name)
            inside95 += acc95.loc[name, "ci_low"] <= planted <= acc95.loc[name, "ci_high"]
            total += 1
        by_lang = rq.reviewer_accuracy(reviews, market, None, tz, by="language", alpha=0.001).set_index(
            "language"
        )
        for lang, lt in t["by_language"].items():
            assert by_lang.loc[lang, "golden_reviews"] == lt["golden_reviews"]
            assert by_lang.loc[lang, "ci_low"] <= lt["expected_accuracy"] <= by_lang.loc[lang, "ci_high"]
        # the recorded disagreement is what the metric counts
        got = rq.review_disagreement(reviews, market, None, tz)
        assert (got["items"], got["items_multi_reviewed"], got["items_disagreed"]) == (
            t["items"],
            t["items_multi_reviewed"],
            t["items_disagreed"],
        )
    assert inside95 >= 0.9 * total


def test_demo_low_accuracy_reviewers_are_listed_for_calibration(demo_dir, ground_truth):
    reviews = pd.read_parquet(demo_dir / "qa_reviews.parquet")
    acc = rq.reviewer_accuracy(reviews, "DE", None, TZ)
    listed = rq.reviewers_for_calibration(acc, 0.9, 10)
    planted = ground_truth["review_quality"]["by_market"]["DE"]["reviewer_accuracy"]
    assert set(listed.reviewer) == {n for n, a in planted.items() if a < 0.9}
    assert listed.clearly_below.all()


def test_a_month_without_reviews_gives_empty_tables_not_errors():
    df = _fixture()
    assert rq.review_agreement(df, "DE", "2025-01", TZ).empty
    assert rq.review_disagreement(df, "DE", "2025-01", TZ) == {
        "items": 0,
        "items_multi_reviewed": 0,
        "items_disagreed": 0,
        "share_disagreed": pytest.approx(float("nan"), nan_ok=True),
    }
    assert rq.reviewer_accuracy(df.iloc[:0], "DE", None, TZ).empty
