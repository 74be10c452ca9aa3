"""Tests of govlib.metrics.risk: risk scores, watchlist, matrix (the shrinkage: tests/stats/test_shrinkage.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from govlib.metrics.risk import (
    RiskError,
    build_watchlist,
    plot_risk_matrix,
    score_creator_risk,
    score_segment_risk,
)

WEIGHTS = {"low": 1.0, "medium": 2.0, "high": 4.0, "critical": 8.0}
TZ = "Europe/Berlin"


def _toy():
    def utc(s):
        return pd.Timestamp(s, tz="UTC")

    content = pd.DataFrame(
        {
            "content_id": [f"a{i}" for i in range(5)] + [f"b{i}" for i in range(4)] + ["c0", "c1", "d0"],
            "creator_id": ["A"] * 5 + ["B"] * 4 + ["C", "C", "D"],
            "market": ["DE"] * 11 + ["FR"],
            "published_at": [utc("2026-08-03 10:00")] + [utc("2026-10-05 10:00")] * 10 + [utc("2026-10-05")],
            "product_category": ["beauty"] * 5
            + ["beauty", "beauty", "toys", "toys"]
            + ["toys", None, "toys"],
            "views": [999] + [100] * 4 + [100] * 4 + [400, 400, 5000],
            "gmv_eur": [999.0] + [10.0] * 4 + [10.0] * 4 + [0.0, 0.0, 50.0],
        }
    )
    actions = pd.DataFrame(
        {
            "action_id": ["x1", "x2", "x3", "x4", "x5"],
            "creator_id": ["A", "A", "A", "C", "D"],
            "content_id": ["a1", "a2", "a3", "c1", "d0"],
            "market": ["DE", "DE", "DE", "DE", "FR"],
            "policy": ["spam", "spam", "spam", "scam_fraud", "spam"],
            "severity": ["low", "low", "low", "critical", "low"],
            # x1 at 00:30 on 1 October in Berlin (in the window); x3 23:00 on 30 September (out)
            "actioned_at": [
                utc("2026-09-30 22:30"),
                utc("2026-10-10"),
                utc("2026-09-30 21:00"),
                utc("2026-10-12"),
                utc("2026-10-12"),
            ],
        }
    )
    return actions, content


def test_creator_risk_by_hand():
    actions, content = _toy()
    sc = score_creator_risk(actions, content, "DE", "2026-10", TZ, severity_weights=WEIGHTS, months=1)
    s = sc.set_index("creator_id")
    # window Oct 2026 (Berlin): A 4 items 2 actions, B 4 items 0 actions, C 2 items 1 action; D is FR
    assert s["published"].to_dict() == {"A": 4, "B": 4, "C": 2}
    assert s["actions"].to_dict() == {"A": 2, "B": 0, "C": 1}
    # y = (2, 0, 1), n = (4, 4, 2): m = 0.3, s2 = 0.06 < m / mean(n) = 0.09 -> all shrunk to 0.3
    np.testing.assert_allclose(s["likelihood"], 0.3)
    # severity: A low (1); C critical (8); B none -> mean over actions (1 + 1 + 8) / 3
    assert s.loc["A", "severity"] == 1.0 and s.loc["C", "severity"] == 8.0
    assert s.loc["B", "severity"] == pytest.approx(10 / 3)
    # reach: views (400, 400, 800) / mean 1600/3 = (.75, .75, 1.5); GMV (40, 40, 0) / (80/3) = (1.5, 1.5, 0)
    np.testing.assert_allclose(s.loc[["A", "B", "C"], "reach"], [1.125, 1.125, 0.75])
    np.testing.assert_allclose(s.loc[["A", "B", "C"], "risk"], [0.3375, 1.125, 1.8])
    assert sc["creator_id"].tolist() == ["C", "B", "A"] and sc["rank"].tolist() == [1, 2, 3]


def test_watchlist_reasons_and_pseudonyms():
    from govlib.privacy import pseudonymise

    actions, content = _toy()
    sc = score_creator_risk(actions, content, "DE", "2026-10", TZ, severity_weights=WEIGHTS, months=1)
    key = "a-test-key-of-sufficient-length"
    wl = build_watchlist(sc, top_n=2, pseudonymise=lambda ids: pseudonymise(ids, key))
    assert len(wl) == 2 and "creator_id" not in wl.columns
    assert wl["creator"].tolist() == [pseudonymise("C", key), pseudonymise("B", key)]
    text = wl.astype(str).to_numpy().ravel().tolist()
    assert not any(cell in {"A", "B", "C"} for cell in text)
    # C ranks first through severity 8 / (10/3) = 2.4x and views 1.5x
    assert wl["top_factor"].iloc[0] == "severity"
    assert wl["reasons"].iloc[0] == "severity 2.4x market; views 1.5x market"
    raw = build_watchlist(sc, top_n=3)
    assert raw["creator"].tolist() == ["C", "B", "A"]
    tr = build_watchlist(sc, top_n=1, _=lambda s: s.replace("market", "Markt"))
    assert tr["reasons"].iloc[0] == "severity 2.4x Markt; views 1.5x Markt"


def test_segment_risk_counts():
    actions, content = _toy()
    sg = score_segment_risk(actions, content, "DE", "2026-10", TZ, severity_weights=WEIGHTS, months=1)
    s = sg.set_index(["policy", "product_category"])
    assert set(s.index) == {("spam", "beauty"), ("scam_fraud", "(none)")}
    # beauty content published in October: a1-a4, b0, b1 = 6 items; actions x1, x2
    assert s.loc[("spam", "beauty"), "published"] == 6 and s.loc[("spam", "beauty"), "actions"] == 2
    assert s.loc[("scam_fraud", "(none)"), "published"] == 1  # c1 has no category
    assert s.loc[("scam_fraud", "(none)"), "raw_rate"] == 1.0
    wl = build_watchlist(sg, top_n=5)
    assert list(wl.columns[:3]) == ["rank", "policy", "product_category"]


def test_unknown_severity_is_a_clear_error():
    actions, content = _toy()
    actions.loc[1, "severity"] = "extreme"
    with pytest.raises(RiskError, match=r"severity.*1 row\(s\).*extreme"):
        score_creator_risk(actions, content, "DE", "2026-10", TZ, severity_weights=WEIGHTS, months=1)
    with pytest.raises(RiskError, match="views"):
        score_creator_risk(
            actions, content.drop(columns="views"), "DE", "2026-10", TZ, severity_weights=WEIGHTS
        )


def test_risk_matrix_labels_ranks_not_ids():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    actions, content = _toy()
    sc = score_creator_risk(actions, content, "DE", "2026-10", TZ, severity_weights=WEIGHTS, months=1)
    ax = plot_risk_matrix(sc, label_top=2, _=lambda s: s.upper())
    labels = [t.get_text() for t in ax.texts]
    assert sorted(labels) == ["1", "2"]
    assert ax.get_title() == "RISK MATRIX: CREATORS"
    plt.close(ax.figure)


def test_demo_watchlist_has_no_raw_ids(demo_dir):
    from govlib.data.load import load_market_window, open_dataset
    from govlib.params import load_market
    from govlib.privacy import pseudonymise

    params = load_market("DE")
    tables = load_market_window(
        open_dataset(demo_dir),
        "DE",
        "2026-10",
        params.timezone,
        months_back=3,
        tables=["enforcement_actions", "content"],
    )
    sc = score_creator_risk(
        tables["enforcement_actions"],
        tables["content"],
        "DE",
        "2026-10",
        params.timezone,
        severity_weights=params.severity_weights,
    )
    assert sc["risk"].is_monotonic_decreasing and sc["likelihood"].notna().all()
    wl = build_watchlist(sc, top_n=20, pseudonymise=lambda ids: pseudonymise(ids, "demo-test-key-0123456789"))
    raw = set(sc["creator_id"])
    assert len(wl) == 20
    assert not raw & set(wl.astype(str).to_numpy().ravel())
