"""Time to action: quantiles against numpy, SLA shares and open-notice ages counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from govlib.metrics import action_times as at

TZ = "Europe/Berlin"
T0 = pd.Timestamp("2026-10-10T08:00Z")
HOURS_A = [0.5, 3.0, 20.0, 30.0, 100.0, 200.0, 7.25]  # scam_fraud automated x5, user_report x2


def _actions() -> pd.DataFrame:
    src = ["automated"] * 5 + ["user_report"] * 2
    rows = [
        {
            "market": "DE",
            "policy": "scam_fraud",
            "detection_source": s,
            "detected_at": T0,
            "actioned_at": T0 + pd.Timedelta(hours=h),
        }
        for h, s in zip(HOURS_A, src)
    ]
    rows += [
        {
            "market": "DE",
            "policy": "other",
            "detection_source": "automated",
            "detected_at": T0,
            "actioned_at": T0 + pd.Timedelta(hours=48),
        },
        # outside the month (Berlin) or market: not counted
        {
            "market": "DE",
            "policy": "other",
            "detection_source": "automated",
            "detected_at": T0,
            "actioned_at": pd.Timestamp("2026-10-31T23:30Z"),
        },
        {
            "market": "FR",
            "policy": "other",
            "detection_source": "automated",
            "detected_at": T0,
            "actioned_at": T0,
        },
    ]
    return pd.DataFrame(rows)


def _notices() -> pd.DataFrame:
    end = pd.Timestamp("2026-10-31T23:00Z")  # end of October in Berlin (CET)

    def n(received, handled, outcome, reporter="user", policy="scam_fraud"):
        return {
            "market": "DE",
            "policy": policy,
            "reporter_type": reporter,
            "received_at": received,
            "handled_at": handled,
            "outcome": outcome,
        }

    return pd.DataFrame(
        [
            n(T0, T0 + pd.Timedelta(hours=10), "actioned"),
            n(T0, T0 + pd.Timedelta(hours=80), "actioned", "trusted_flagger"),
            n(T0, T0 + pd.Timedelta(hours=5), "no_violation"),  # not actioned: not in the clock
            n(end - pd.Timedelta(hours=5), None, "pending"),  # open, 5 h old
            n(
                end - pd.Timedelta(hours=50), end + pd.Timedelta(hours=1), "actioned"
            ),  # handled after: open, 50 h
            n(end - pd.Timedelta(days=40), None, "pending", "authority"),  # open, 40 days
            n(end + pd.Timedelta(hours=2), None, "pending"),  # received after the month: not open yet
        ]
    )


def test_quantiles_equal_numpy_and_sla_shares_are_hand_counts():
    d = at.time_to_action_distribution(_actions(), _notices(), "DE", "2026-10", TZ, [24, 72])
    row = d[(d.clock == "detection") & (d.policy == "scam_fraud") & (d.detection_source == at.ALL)].iloc[0]
    assert row.n == 7
    for k, q in (("p50", 50), ("p90", 90), ("p99", 99)):
        assert row[k] == pytest.approx(np.percentile(HOURS_A, q), abs=1e-9)
    assert row.n_within_24h == 4 and row.within_24h == pytest.approx(4 / 7)
    assert row.n_within_72h == 5
    assert row.within_24h_low < 4 / 7 < row.within_24h_high
    auto = d[
        (d.clock == "detection") & (d.policy == "scam_fraud") & (d.detection_source == "automated")
    ].iloc[0]
    assert auto.n == 5 and auto.p50 == pytest.approx(np.percentile(HOURS_A[:5], 50))
    total = d[(d.clock == "detection") & (d.policy == at.ALL) & (d.detection_source == at.ALL)].iloc[0]
    assert total.n == 8  # the action at 23:30 UTC on 31 October is in November in Berlin
    notice = d[(d.clock == "notice") & (d.policy == at.ALL) & (d.detection_source == at.ALL)].iloc[0]
    assert notice.n == 2 and notice.p50 == pytest.approx(45.0) and notice.n_within_24h == 1
    assert set(d[d.clock == "notice"].detection_source) == {at.ALL, "user_report", "trusted_flagger"}


def test_open_notice_ageing_by_hand():
    g = at.open_notice_ageing(_notices(), "DE", "2026-10", TZ)
    allrow = g[(g.policy == at.ALL) & (g.detection_source == at.ALL)].iloc[0]
    assert allrow.open == 3
    assert (allrow["< 24 h"], allrow["1-3 d"], allrow["7-30 d"], allrow["> 30 d"]) == (1, 1, 0, 1)
    assert allrow.p50_age_hours == pytest.approx(50.0)
    auth = g[(g.policy == "scam_fraud") & (g.detection_source == "authority_order")].iloc[0]
    assert auth.open == 1 and auth.p90_age_hours == pytest.approx(40 * 24)


def test_no_rows_for_a_month_without_actions():
    d = at.time_to_action_distribution(_actions(), None, "DE", "2026-08", TZ, [24])
    assert d.empty
