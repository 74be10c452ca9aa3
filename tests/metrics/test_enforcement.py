"""Breakdowns and month-over-month / year-over-year changes (govlib.metrics.enforcement)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from govlib import stats
from govlib.contract import POLICIES
from govlib.metrics.enforcement import (
    BREAKDOWN_DIMENSIONS,
    breakdown_actions,
    compare_breakdowns,
    control_false_discoveries,
)
from govlib.metrics.frames import MetricInputError
from govlib.metrics.kpis import compute_kpis

TZ = "Europe/Berlin"
LOCAL = {"de_jugendschutz": "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"}


def _actions(rows):
    df = pd.DataFrame(
        rows,
        columns=[
            "action_id",
            "market",
            "policy",
            "action_type",
            "detection_source",
            "decision_mode",
            "content_id",
            "creator_id",
            "actioned_at",
        ],
    )
    df["actioned_at"] = pd.to_datetime(df["actioned_at"], utc=True)
    return df


@pytest.fixture()
def data():
    ea = _actions(
        [
            (
                "e1",
                "DE",
                "scam_fraud",
                "content_removed",
                "automated",
                "automated",
                "k1",
                "c1",
                "2026-10-03T10:00Z",
            ),
            ("e2", "DE", "scam_fraud", "warning", "user_report", "human", "k2", "c2", "2026-10-04T10:00Z"),
            (
                "e3",
                "DE",
                "counterfeit_ip",
                "warning",
                "proactive_review",
                "hybrid",
                None,
                "c1",
                "2026-09-30T22:30Z",
            ),
            (
                "e4",
                "DE",
                "de_jugendschutz",
                "content_removed",
                "automated",
                "automated",
                "k9",
                "c9",
                "2026-10-20T10:00Z",
            ),
            (
                "e5",
                "DE",
                "scam_fraud",
                "warning",
                "automated",
                "automated",
                "k1",
                "c1",
                "2026-10-31T23:30Z",
            ),  # Nov
            ("e6", "FR", "scam_fraud", "warning", "automated", "automated", "k1", "c1", "2026-10-10T10:00Z"),
        ]
    )
    content = pd.DataFrame(
        {"content_id": ["k1", "k2"], "content_type": ["short_video", "livestream"], "language": ["de", "en"]}
    )
    creators = pd.DataFrame({"creator_id": ["c1", "c2"], "tier": ["new", "top"]})
    return ea, content, creators


def _get(df, dim, group, metric):
    row = df[(df["dimension"] == dim) & (df["group"] == group) & (df["metric"] == metric)]
    assert len(row) == 1, (dim, group, metric)
    return row.iloc[0]


def test_breakdown_hand_computed(data):
    ea, content, creators = data
    out = breakdown_actions(ea, "DE", "2026-10", TZ, content=content, creators=creators, local_policies=LOCAL)
    assert list(out["dimension"].unique()) == list(BREAKDOWN_DIMENSIONS)
    # October (local) DE actions: e1 e2 e3 (Oct 1 00:30 local) e4 -> 4
    r = _get(out, "policy", "scam_fraud", "actions")
    assert r.value == 2
    r = _get(out, "policy", "scam_fraud", "share_of_actions")
    assert (r.value, r.numerator, r.denominator) == (0.5, 2, 4)
    assert (r.ci_low, r.ci_high) == pytest.approx(stats.proportion_interval(2, 4), abs=1e-12)
    assert _get(out, "policy", "scam_fraud", "proactive_rate")[["numerator", "denominator"]].tolist() == [
        1,
        2,
    ]
    assert _get(out, "policy", "counterfeit_ip", "proactive_rate").value == 1.0
    assert _get(out, "policy", "counterfeit_ip", "automated_decision_rate").value == 0.0
    assert _get(out, "dsa_category", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS", "actions").value == 1
    assert _get(out, "dsa_category", "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", "actions").value == 2
    assert _get(out, "content_type", "short_video", "actions").value == 1
    assert _get(out, "content_type", "(no content)", "actions").value == 1  # e3
    assert _get(out, "content_type", "(unknown)", "actions").value == 1  # e4: k9 not in content
    assert _get(out, "language", "en", "actions").value == 1
    assert _get(out, "creator_tier", "new", "actions").value == 2  # e1, e3
    assert _get(out, "creator_tier", "(unknown)", "actions").value == 1  # c9
    assert _get(out, "action_type", "content_removed", "automated_decision_rate").value == 1.0
    # every dimension partitions the month's actions
    counts = out[out["metric"] == "actions"].groupby("dimension")["value"].sum()
    assert (counts == 4).all()


def test_breakdown_errors_and_defaults(data):
    ea = data[0]
    with pytest.raises(MetricInputError, match=r"1 row\(s\).*de_jugendschutz.*local_policies"):
        breakdown_actions(ea, "DE", "2026-10", TZ, by="dsa_category")
    with pytest.raises(MetricInputError, match="needs the 'content' table"):
        breakdown_actions(ea, "DE", "2026-10", TZ, by="language")
    with pytest.raises(ValueError, match="unknown dimension"):
        breakdown_actions(ea, "DE", "2026-10", TZ, by="colour")
    # without content/creators, the default dimensions are the action columns only
    out = breakdown_actions(ea, "DE", "2026-10", TZ, local_policies=LOCAL)
    assert set(out["dimension"]) == {
        "policy",
        "dsa_category",
        "action_type",
        "detection_source",
        "decision_mode",
    }
    empty = breakdown_actions(ea, "DE", "2025-01", TZ, by="policy")
    assert empty.empty and list(empty.columns)[:3] == ["market", "month", "dimension"]


def _bulk(month_counts, start="2026-09-01", seed=0):
    """Actions with `n` scam/other/counterfeit rows per month; proactive fraction given per month."""
    rng = np.random.default_rng(seed)
    rows = []
    i = 0
    for (month, policy), (n, n_proactive) in month_counts.items():
        for j in range(n):
            day = 2 + int(rng.integers(0, 26))
            rows.append(
                (
                    f"b{i}",
                    "DE",
                    policy,
                    "warning",
                    "automated" if j < n_proactive else "user_report",
                    "human",
                    None,
                    f"c{i}",
                    f"{month}-{day:02d}T12:00Z",
                )
            )
            i += 1
    return _actions(rows)


def test_compare_month_over_month_hand_computed():
    ea = _bulk(
        {
            ("2026-09", "scam_fraud"): (10, 8),
            ("2026-10", "scam_fraud"): (40, 4),
            ("2026-09", "other"): (11, 5),
            ("2026-10", "other"): (10, 5),
            ("2026-09", "counterfeit_ip"): (6, 3),
        }
    )
    out = compare_breakdowns(ea, "DE", "2026-10", TZ, by="policy")
    assert (out["against_month"] == "2026-09").all()
    r = _get(out, "policy", "scam_fraud", "actions")
    assert (r.value, r.value_before, r.change) == (40, 10, 30)
    # exposure = elapsed local days: October 2026 in Berlin has 745 h (DST ends 25 Oct), September 720 h.
    # daily rates 40/(745/24) vs 10/30; exact test: 40 of 50 ~ Binomial(50, 745/1465)
    # (R: poisson.test(c(40, 10), c(745, 720)))
    assert r.relative_change == pytest.approx((40 / (745 / 24)) / (10 / 30) - 1, abs=1e-12)
    assert r.pvalue == pytest.approx(sps.binomtest(40, 50, 745 / 1465).pvalue, abs=1e-12)
    assert r.test == "poisson_exact" and r.flagged
    # proactive rate of scam: 4/40 vs 8/10 -> R: prop.test(c(4, 8), c(40, 10), correct = FALSE)
    r = _get(out, "policy", "scam_fraud", "proactive_rate")
    chi2 = sps.chi2_contingency(np.array([[4, 36], [8, 2]]), correction=False)
    assert r.pvalue == pytest.approx(chi2.pvalue, abs=1e-12)
    assert r.change == pytest.approx(0.1 - 0.8) and r.flagged
    # 'other': 10 vs 11 -> not significant, not flagged
    r = _get(out, "policy", "other", "actions")
    assert not r.significant and not r.flagged
    # counterfeit: only in September -> 0 now; its rates are NaN now, never flagged
    r = _get(out, "policy", "counterfeit_ip", "actions")
    assert (r.value, r.value_before) == (0, 6)
    assert r.pvalue == pytest.approx(sps.binomtest(0, 6, 745 / 1465).pvalue, abs=1e-12)
    r = _get(out, "policy", "counterfeit_ip", "proactive_rate")
    assert math.isnan(r.value) and r.denominator == 0 and not r.flagged
    r = _get(out, "policy", "counterfeit_ip", "share_of_actions")
    assert (r.value, r.numerator, r.denominator) == (0.0, 0, 50)
    assert (r.value_before, r.denominator_before) == (6 / 27, 27)


def test_compare_material_threshold():
    # a large sample makes a tiny change significant; it must not be flagged as material
    ea = _bulk({("2026-09", "scam_fraud"): (3000, 1500), ("2026-10", "scam_fraud"): (3100, 1705)})
    out = compare_breakdowns(ea, "DE", "2026-10", TZ, by="policy")
    r = _get(out, "policy", "scam_fraud", "proactive_rate")
    # 0.55 vs 0.50: significant, 10% relative, 5 points absolute -> flagged
    assert r.significant and r.material and r.flagged
    out = compare_breakdowns(ea, "DE", "2026-10", TZ, by="policy", min_absolute_rate=0.06)
    assert not _get(out, "policy", "scam_fraud", "proactive_rate").flagged
    assert _get(out, "policy", "scam_fraud", "proactive_rate").significant


def test_compare_year_over_year():
    ea = _bulk({("2025-10", "other"): (20, 10), ("2026-10", "other"): (20, 10)})
    out = compare_breakdowns(ea, "DE", "2026-10", TZ, by="policy", against="previous_year")
    r = _get(out, "policy", "other", "actions")
    assert r.against_month == "2025-10" and r.value_before == 20 and r.pvalue == pytest.approx(1.0)
    assert not out["flagged"].any()
    with pytest.raises(ValueError, match="against"):
        compare_breakdowns(ea, "DE", "2026-10", TZ, against="last_week")


def test_breakdowns_agree_with_kpis():
    rng = np.random.default_rng(4)
    n = 300
    ea = pd.DataFrame(
        {
            "action_id": [f"a{i}" for i in range(n)],
            "market": rng.choice(["DE", "FR"], n),
            "policy": rng.choice(["scam_fraud", "other", "minor_safety"], n),
            "action_type": rng.choice(["warning", "content_removed"], n),
            "detection_source": rng.choice(["automated", "user_report", "proactive_review"], n),
            "decision_mode": rng.choice(["automated", "human"], n),
            "content_id": None,
            "creator_id": [f"c{i % 40}" for i in range(n)],
            "views_before_action": pd.array([None] * n, dtype="Int64"),
            "actioned_at": pd.Timestamp("2026-09-15", tz="UTC")
            + pd.to_timedelta(rng.uniform(0, 60, n), unit="D"),
        }
    )
    k = compute_kpis(
        {
            "enforcement_actions": ea,
            "content": pd.DataFrame(
                {
                    "content_id": pd.Series([], dtype=object),
                    "published_at": pd.Series([], dtype="datetime64[ns, UTC]"),
                }
            ),
        },
        "DE",
        "2026-10",
        TZ,
    ).set_index("kpi_id")
    b = breakdown_actions(ea, "DE", "2026-10", TZ, by=["policy", "decision_mode"])
    for dim in ("policy", "decision_mode"):
        part = b[b["dimension"] == dim]
        assert part.loc[part["metric"] == "actions", "value"].sum() == k.at["actions_total", "value"]
        assert (
            part.loc[part["metric"] == "proactive_rate", "numerator"].sum()
            == k.at["proactive_rate", "numerator"]
        )


def _null_months(seed: int) -> pd.DataFrame:
    """Every policy with the same expected count and proactive share in both months: no real change."""
    rng = np.random.default_rng(seed)
    counts = {}
    for month in ("2026-09", "2026-10"):
        for policy in POLICIES:
            n = int(rng.poisson(60))
            counts[(month, policy)] = (n, int(rng.binomial(n, 0.4)))
    return _bulk(counts, seed=seed)


def test_compare_on_data_without_change_flags_at_most_the_expected_share():
    # 20 tables of 3 metrics x every policy, two months from one distribution. Under the global null
    # Benjamini-Hochberg flags a table with probability <= 5%; the raw 5% rule flags about 1 cell in 20.
    raw_flags = fdr_flags = tables_flagged = cells = 0
    for seed in range(20):
        out = compare_breakdowns(_null_months(seed), "DE", "2026-10", TZ, by="policy")
        tested = out["pvalue"].notna()
        cells += int(tested.sum())
        raw_flags += int(((out["pvalue"] < 0.05) & out["material"]).sum())
        fdr_flags += int(out["flagged"].sum())
        tables_flagged += bool(out["flagged"].any())
        assert (out.loc[out["flagged"], "qvalue"] < 0.05).all()
        assert (out.loc[tested, "qvalue"] >= out.loc[tested, "pvalue"] - 1e-15).all()
    assert raw_flags >= 0.02 * cells  # without control, chance flags appear (the test can tell)
    assert fdr_flags <= 0.05 * cells / 10 and tables_flagged <= 3


def test_control_false_discoveries_treats_the_concatenated_table_as_one_family():
    ea = _bulk({("2026-09", "scam_fraud"): (10, 8), ("2026-10", "scam_fraud"): (40, 4)})
    month = compare_breakdowns(ea, "DE", "2026-10", TZ, by="policy")
    null = compare_breakdowns(_null_months(1), "DE", "2026-10", TZ, by="policy")
    both = control_false_discoveries(pd.concat([month, null], ignore_index=True))
    p = both["pvalue"].to_numpy(dtype=float)
    tested = ~np.isnan(p)
    # BH by hand over the union: q_(i) = min_{j >= i} p_(j) m / j
    order = np.argsort(p[tested], kind="stable")
    m = int(tested.sum())
    raw = p[tested][order] * m / np.arange(1, m + 1)
    q = np.empty(m)
    q[order] = np.minimum.accumulate(raw[::-1])[::-1]
    assert both.loc[tested, "qvalue"].to_numpy() == pytest.approx(np.minimum(q, 1.0), abs=1e-12)
    scam = (both.index < len(month)) & (both["metric"] == "actions") & (both["group"] == "scam_fraud")
    assert float(both.loc[scam, "qvalue"].iloc[0]) > float(month.loc[scam[: len(month)], "qvalue"].iloc[0])
