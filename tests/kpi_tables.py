"""The hand-computed KPI fixture shared by the metric tests (market DE, month 2026-10, Europe/Berlin).

Europe/Berlin is UTC+2 until 25 October 2026 and UTC+1 after, so 2026-09-30T22:30Z is
1 October 00:30 local (in October) and 2026-10-31T23:30Z is 1 November 00:30 local (not in it).
"""

from __future__ import annotations

import pandas as pd

TZ = "Europe/Berlin"
T = pd.Timestamp


def _ts(values):
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True, format="ISO8601")


def actions_frame(rows):
    cols = [
        "action_id",
        "creator_id",
        "content_id",
        "market",
        "detection_source",
        "decision_mode",
        "action_type",
        "views_before_action",
        "actioned_at",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["views_before_action"] = df["views_before_action"].astype("Int64")
    df["actioned_at"] = _ts(df["actioned_at"])
    return df


def hand_computed_tables() -> dict[str, pd.DataFrame]:
    """The KPI input tables whose KPIs tests/metrics/test_kpis.py computes by hand."""
    ea = actions_frame(
        [
            # id, creator, content, market, detection, decision, type, views, actioned_at
            ("a1", "c1", "x1", "DE", "automated", "automated", "content_removed", 0, "2026-10-02T10:00Z"),
            ("a2", "c2", "x2", "DE", "user_report", "human", "content_removed", 15, "2026-10-10T08:00Z"),
            (
                "a3",
                "c3",
                "x3",
                "DE",
                "proactive_review",
                "hybrid",
                "content_removed",
                None,
                "2026-10-15T00:00Z",
            ),
            (
                "a4",
                "c1",
                None,
                "DE",
                "trusted_flagger",
                "automated",
                "warning",
                None,
                "2026-09-30T22:30Z",
            ),  # local Oct 1
            ("a5", "c4", "x5", "DE", "automated", "automated", "content_removed", 0, "2026-10-20T12:00Z"),
            (
                "a6",
                "c5",
                "x6",
                "DE",
                "user_report",
                "human",
                "account_suspended",
                None,
                "2026-10-31T23:30Z",
            ),  # Nov
            ("a7", "c7", "x7", "FR", "automated", "automated", "content_removed", 0, "2026-10-12T12:00Z"),
            ("a8", "c6", None, "DE", "automated", "human", "visibility_limited", None, "2026-10-25T09:00Z"),
        ]
    )
    content = pd.DataFrame(
        {
            "content_id": ["x1", "x2", "x3", "x6", "x7"],
            "market": ["DE", "DE", "DE", "DE", "FR"],
            "published_at": _ts(
                [
                    "2026-10-01T12:00Z",
                    "2026-10-08T08:00Z",
                    "2026-10-14T00:00Z",
                    "2026-10-31T00:00Z",
                    "2026-10-12T00:00Z",
                ]
            ),
        }
    )
    notices = pd.DataFrame(
        [
            ("n1", "DE", "user", "actioned", "2026-10-01T00:00Z", "2026-10-01T10:00Z"),  # 10 h
            ("n2", "DE", "trusted_flagger", "actioned", "2026-10-03T00:00Z", "2026-10-04T06:00Z"),  # 30 h
            ("n3", "DE", "user", "no_violation", "2026-10-03T00:00Z", "2026-10-03T01:00Z"),  # not actioned
            ("n4", "DE", "user", "actioned", "2026-10-30T20:00Z", "2026-10-31T23:30Z"),  # handled Nov local
            ("n5", "DE", "user", "actioned", "2026-09-29T00:00Z", "2026-09-30T22:30Z"),  # 46.5 h, Oct local
            ("n6", "DE", "user", "pending", "2026-10-29T00:00Z", None),
            ("n7", "FR", "user", "actioned", "2026-10-01T00:00Z", "2026-10-01T01:00Z"),  # other market
            ("n8", "DE", "authority", "actioned", "2026-10-20T00:00Z", "2026-10-20T02:00Z"),  # 2 h
        ],
        columns=["notice_id", "market", "reporter_type", "outcome", "received_at", "handled_at"],
    )
    notices["received_at"] = _ts(notices["received_at"])
    notices["handled_at"] = _ts(notices["handled_at"])
    appeals = pd.DataFrame(
        [
            ("p1", "a1", "DE", "2026-10-03T00:00Z", "2026-10-05T00:00Z", "overturned"),  # 48 h
            ("p2", "a2", "DE", "2026-10-11T00:00Z", "2026-10-11T12:00Z", "upheld"),  # 12 h
            ("p3", "a3", "DE", "2026-10-16T00:00Z", None, "pending"),
            ("p4", "a0", "DE", "2026-09-20T00:00Z", "2026-10-02T00:00Z", "partially_overturned"),  # 288 h
            ("p5", "a5", "DE", "2026-10-31T23:30Z", None, "pending"),  # submitted Nov local
            ("p6", "a7", "FR", "2026-10-13T00:00Z", "2026-10-14T00:00Z", "overturned"),
        ],
        columns=["appeal_id", "action_id", "market", "submitted_at", "resolved_at", "outcome"],
    )
    appeals["submitted_at"] = _ts(appeals["submitted_at"])
    appeals["resolved_at"] = _ts(appeals["resolved_at"])
    samples = pd.DataFrame(
        [
            ("s1", "DE", "2026-10-05T00:00Z", "A", 2.0, True),
            ("s2", "DE", "2026-10-05T00:00Z", "A", 2.0, False),
            ("s3", "DE", "2026-10-06T00:00Z", "B", 4.0, True),
            ("s4", "DE", "2026-10-06T00:00Z", "B", 4.0, False),
            ("s5", "DE", "2026-10-06T00:00Z", "B", 4.0, False),
            ("s6", "DE", "2026-10-06T00:00Z", "B", 4.0, False),
            ("s7", "DE", "2026-10-31T23:30Z", "A", 100.0, True),  # Nov local
            ("s8", "FR", "2026-10-06T00:00Z", "A", 100.0, True),
        ],
        columns=["sample_id", "market", "sampled_at", "stratum", "weight", "is_violating"],
    )
    samples["sampled_at"] = _ts(samples["sampled_at"])
    return {
        "enforcement_actions": ea,
        "content": content,
        "notices": notices,
        "appeals": appeals,
        "prevalence_samples": samples,
    }
