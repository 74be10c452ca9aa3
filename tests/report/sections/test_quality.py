"""The shared quality sections: label trust (market report, signal evaluation) and time to action."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from datasets import write_valid_dataset

from govlib.dsa import SOURCE_DSA_TDB, UNAVAILABLE_SECTIONS_DSA_TDB
from govlib.report.sections import market_report, open_market_context, signal_evaluation

from .conftest import MONTH, local_month_rows, read_table, tables


def test_label_trust_accuracy_and_calibration_from_the_month_s_golden_reviews(de_en, demo_dir):
    s = market_report.label_trust(de_en)
    assert s.text.startswith("## How far can these labels be trusted")
    q = local_month_rows(read_table(demo_dir, "qa_reviews", "DE"), "reviewed_at", de_en.tz)
    g = q[q["golden_label"].notna()]
    acc = s.data["accuracy"].set_index("reviewer")
    for reviewer, rows in g.groupby("reviewer"):
        assert acc.loc[reviewer, "golden_reviews"] == len(rows)
        assert acc.loc[reviewer, "correct"] == int((rows["label"] == rows["golden_label"]).sum())
    low = sorted(r for r, a in acc["accuracy"].items() if a < de_en.params.review_quality.min_accuracy)
    assert sorted(s.data["calibration"]["reviewer"]) == low and low
    assert all(name in s.text for name in low)
    shown = tables(s)[1]  # accuracy by reviewer: pseudonyms as they are in the data
    assert sorted(shown.iloc[:, 0]) == sorted(acc.index)
    # agreement: items whose first review is in the month (whenever re-reviewed), round 1 against round 2
    every = read_table(demo_dir, "qa_reviews", "DE")
    items = every.groupby(["content_id", "policy"]).agg(
        first=("reviewed_at", "min"), rounds=("review_round", "max")
    )
    mine = local_month_rows(items, "first", de_en.tz)
    ag = s.data["agreement"]
    cohen = ag[(ag.measure == "cohen") & (ag.policy == "(all)") & (ag.language == "(all)")].iloc[0]
    assert cohen.n_items == int((mine["rounds"] >= 2).sum())
    assert s.data["disagreement"]["items"] == len(mine)


def test_signal_evaluation_shows_the_same_section(de_en):
    a, b = market_report.label_trust(de_en), signal_evaluation.label_trust(de_en)
    assert a.text == b.text


def test_time_to_action_tables_match_the_month_s_actions(de_en, demo_dir):
    s = market_report.time_to_action(de_en)
    acts = local_month_rows(read_table(demo_dir, "enforcement_actions", "DE"), "actioned_at", de_en.tz)
    hours = (acts["actioned_at"] - acts["detected_at"]).dt.total_seconds() / 3600
    d = s.data["times"]
    total = d[(d.clock == "detection") & (d.policy == "(all)") & (d.detection_source == "(all)")].iloc[0]
    assert total.n == len(acts)
    assert total.p90 == pytest.approx(np.percentile(hours, 90), rel=1e-9)
    assert total.within_24h == pytest.approx((hours <= 24).mean())
    t = tables(s)[0]
    assert t.iloc[0]["p50"] == de_en.fmt.hours(np.percentile(hours, 50))
    assert len(tables(s)) == 2 and s.data["ageing"]["open"].iloc[0] > 0


@pytest.fixture(scope="module")
def without_reviews(tmp_path_factory):
    root = tmp_path_factory.mktemp("noqa")
    data = write_valid_dataset(root / "plain", only=["creators", "content", "enforcement_actions"])
    dsa = write_valid_dataset(root / "dsa")
    # what govlib dsa import writes: the importer's "not available" list names review quality
    meta = {"source": SOURCE_DSA_TDB, "unavailable_sections": UNAVAILABLE_SECTIONS_DSA_TDB}
    (dsa / "dataset.json").write_text(json.dumps(meta))
    return data, dsa


def test_label_trust_says_when_the_table_or_the_source_cannot_support_it(
    without_reviews, tmp_path, monkeypatch
):
    from govlib import config

    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    plain, dsa = without_reviews
    ctx = open_market_context("DE", MONTH, data_dir=str(plain), lang="en_GB")
    s = market_report.label_trust(ctx)
    assert "it has no qa_reviews table" in s.text and not tables(s)
    ctx = open_market_context("DE", MONTH, data_dir=str(dsa), lang="en_GB")
    assert "not available for this source" in market_report.label_trust(ctx).text
    # time to action needs no optional table: actions alone give the detection clock
    t = market_report.time_to_action(open_market_context("DE", MONTH, data_dir=str(plain), lang="en_GB"))
    assert set(t.data["times"]["clock"]) <= {"detection"}
    assert isinstance(t.data["times"], pd.DataFrame)
