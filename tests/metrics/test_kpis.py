"""Headline KPIs (shared/spec/kpis.md) on small hand-computed fixtures.

Market DE, month 2026-10, Europe/Berlin: UTC+2 until 25 October 2026, UTC+1 after, so
2026-09-30T22:30Z is 1 October 00:30 local (in October) and 2026-10-31T23:30Z is
1 November 00:30 local (not in October).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kpi_tables import TZ, T, _ts, actions_frame  # the hand-computed fixture; `tables` is in conftest.py

from govlib import stats
from govlib.contract import ACTION_TYPES, DECISION_MODES, DETECTION_SOURCES
from govlib.errors import GovlibError
from govlib.metrics.frames import MetricInputError
from govlib.metrics.kpis import KPI_COLUMNS, KPI_DEFINITIONS, compute_kpis, compute_recidivism_90d


def kpi(df, kpi_id):
    return df.set_index("kpi_id").loc[kpi_id]


def test_kpi_ids_and_order_match_spec():
    ids = list(KPI_DEFINITIONS)
    assert len(ids) == 12 and ids[0] == "actions_total" and ids[-1] == "recidivism_90d"
    spec_path = Path("/work/shared/spec/kpis.md")  # the spec lives outside the repository
    if not spec_path.exists():
        pytest.skip("shared/spec/kpis.md not available here")
    spec = spec_path.read_text(encoding="utf-8")
    assert ids == re.findall(r"^\| `([a-z0-9_]+)` \|", spec, flags=re.MULTILINE)
    units = dict(re.findall(r"^\| `([a-z0-9_]+)` \|.*\| (\w+) \|$", spec, flags=re.MULTILINE))
    assert {k: d.unit for k, d in KPI_DEFINITIONS.items()} == units


def test_hand_computed_kpis(tables):
    out = compute_kpis(tables, "DE", "2026-10", TZ)
    assert list(out.columns) == KPI_COLUMNS
    assert out["kpi_id"].tolist() == list(KPI_DEFINITIONS)
    assert (out["market"] == "DE").all() and (out["month"] == "2026-10").all()

    # a1 a2 a3 a4(22:30Z Sep 30 = Oct 1 local) a5 a8; not a6 (Nov local) nor a7 (FR)
    assert kpi(out, "actions_total").value == 6
    # proactive: a1, a3, a5, a8 of 6
    r = kpi(out, "proactive_rate")
    assert (r.value, r.numerator, r.denominator) == (4 / 6, 4, 6)
    assert (r.ci_low, r.ci_high) == pytest.approx(stats.proportion_interval(4, 6), abs=1e-12)
    # automated decisions: a1, a4, a5 of 6
    assert kpi(out, "automated_decision_rate")[["numerator", "denominator"]].tolist() == [3, 6]
    # content_removed with views known: a1 (0), a2 (15), a5 (0) -> 2 of 3 (a3 views null)
    assert kpi(out, "removed_before_views_rate")[["value", "numerator", "denominator"]].tolist() == [
        2 / 3,
        2,
        3,
    ]
    # content_removed with content found: a1 (22 h), a2 (48 h), a3 (exactly 24 h) -> 2 of 3; a5 content unknown
    assert kpi(out, "removed_within_24h_rate")[["value", "numerator", "denominator"]].tolist() == [
        2 / 3,
        2,
        3,
    ]
    # actioned notices handled in Oct local: n1 10 h, n2 30 h, n5 46.5 h, n8 2 h -> median (10+30)/2 = 20
    r = kpi(out, "notice_median_hours_to_action")
    assert (r.value, r.denominator) == (20.0, 4)
    assert math.isnan(r.ci_low)
    # appeals submitted in Oct local: p1 p2 p3 (p4 Sep, p5 Nov local, p6 FR)
    assert kpi(out, "appeals_submitted").value == 3
    assert kpi(out, "appeal_rate")[["value", "numerator", "denominator"]].tolist() == [0.5, 3, 6]
    assert math.isnan(kpi(out, "appeal_rate").ci_low)
    # resolved in Oct, not pending: p1 overturned, p2 upheld, p4 partially_overturned -> 2 of 3
    assert kpi(out, "overturn_rate")[["value", "numerator", "denominator"]].tolist() == [2 / 3, 2, 3]
    # resolution hours: 48, 12, 288 -> median 48
    assert kpi(out, "appeal_median_hours_to_resolve").value == 48.0
    # prevalence: s1..s6 -> sum w*y = 2 + 4 = 6, sum w = 20 (hand-computed in tests/stats/test_survey.py)
    r = kpi(out, "violating_view_prevalence")
    assert (r.value, r.numerator, r.denominator) == (pytest.approx(0.3), 6, 20)
    est = stats.estimate_prevalence([1, 0, 1, 0, 0, 0], [2, 2, 4, 4, 4, 4], list("AABBBB"))
    assert (r.ci_low, r.ci_high) == pytest.approx((est.ci_low, est.ci_high), abs=1e-12)
    # no action in July 2026 (M-3): empty cohort -> NaN, never 0
    r = kpi(out, "recidivism_90d")
    assert math.isnan(r.value) and r.denominator == 0
    # units come from the definitions
    assert kpi(out, "notice_median_hours_to_action").unit == "hours"
    assert kpi(out, "appeal_rate").unit == "ratio"


def test_month_edge_next_month(tables):
    # a6 at 2026-10-31T23:30Z is November locally: it is the only DE action of November
    nov = compute_kpis(tables, "DE", "2026-11", TZ)
    assert kpi(nov, "actions_total").value == 1
    assert kpi(nov, "appeals_submitted").value == 1  # p5
    # in UTC the same action would be October
    utc = compute_kpis(tables, "DE", "2026-10", "UTC")
    assert kpi(utc, "actions_total").value == 6  # a6 in, a4 (Sep 30 UTC) out


def test_empty_month_gives_nan_rates_and_zero_counts(tables):
    out = compute_kpis(tables, "DE", "2025-01", TZ)
    assert kpi(out, "actions_total").value == 0
    assert kpi(out, "appeals_submitted").value == 0
    for k in (
        "proactive_rate",
        "automated_decision_rate",
        "removed_before_views_rate",
        "removed_within_24h_rate",
        "notice_median_hours_to_action",
        "appeal_rate",
        "overturn_rate",
        "appeal_median_hours_to_resolve",
        "violating_view_prevalence",
        "recidivism_90d",
    ):
        assert math.isnan(kpi(out, k).value), k


def test_month_without_actions_or_publications_is_marked_no_data(tables):
    """2025-01 has an appeal but no action and (here) no publication: no data, every value NaN.

    With one publication in the month it is a real month: 0 actions stays 0.
    """
    from govlib.metrics.kpis import NO_DATA, STATUS_OK, mark_months_without_data

    both = pd.concat([compute_kpis(tables, "DE", m, TZ) for m in ("2025-01", "2026-10")], ignore_index=True)
    out = mark_months_without_data(both, {"2026-10": 3})
    assert list(out.columns) == KPI_COLUMNS + ["status"]
    jan, octo = out[out["month"] == "2025-01"], out[out["month"] == "2026-10"]
    assert set(jan["status"]) == {NO_DATA} and set(octo["status"]) == {STATUS_OK}
    assert jan[["value", "numerator", "denominator", "ci_low", "ci_high"]].isna().all().all()
    pd.testing.assert_frame_equal(octo[KPI_COLUMNS], both[both["month"] == "2026-10"][KPI_COLUMNS])
    assert kpi(both[both["month"] == "2025-01"], "actions_total").value == 0  # the input is not changed
    real = mark_months_without_data(both, {"2025-01": 1})
    assert set(real["status"]) == {STATUS_OK}
    assert real.loc[(real["month"] == "2025-01") & (real["kpi_id"] == "actions_total"), "value"].item() == 0


def test_optional_tables_absent(tables):
    t = {"enforcement_actions": tables["enforcement_actions"], "content": tables["content"], "appeals": None}
    out = compute_kpis(t, "DE", "2026-10", TZ)
    assert kpi(out, "actions_total").value == 6
    for k in (
        "notice_median_hours_to_action",
        "appeals_submitted",
        "appeal_rate",
        "overturn_rate",
        "appeal_median_hours_to_resolve",
        "violating_view_prevalence",
    ):
        assert math.isnan(kpi(out, k).value), k


def test_required_table_or_column_missing(tables):
    with pytest.raises(MetricInputError, match="required table 'content' is missing"):
        compute_kpis({"enforcement_actions": tables["enforcement_actions"]}, "DE", "2026-10", TZ)
    bad = dict(tables, enforcement_actions=tables["enforcement_actions"].drop(columns=["decision_mode"]))
    with pytest.raises(GovlibError, match="'enforcement_actions' lacks column.*decision_mode"):
        compute_kpis(bad, "DE", "2026-10", TZ)
    ea = tables["enforcement_actions"].copy()
    ea.loc[ea.index[:2], "actioned_at"] = pd.NaT
    with pytest.raises(MetricInputError, match=r"'actioned_at': 2 row\(s\) have no value.*a1"):
        compute_kpis(dict(tables, enforcement_actions=ea), "DE", "2026-10", TZ)
    with pytest.raises(GovlibError, match="YYYY-MM"):
        compute_kpis(tables, "DE", "2026-13", TZ)


def test_naive_utc_and_string_dtypes_give_same_result(tables):
    ref = compute_kpis(tables, "DE", "2026-10", TZ)
    alt = {}
    for name, df in tables.items():
        df = df.copy()
        for c in df.columns:
            if isinstance(df[c].dtype, pd.DatetimeTZDtype):
                df[c] = df[c].dt.tz_localize(None)  # naive UTC, as the contract allows
            elif df[c].dtype == object:
                df[c] = df[c].astype("string")
        alt[name] = df
    pd.testing.assert_frame_equal(compute_kpis(alt, "DE", "2026-10", TZ), ref)


def test_recidivism_hand_computed():
    ea = actions_frame(
        [
            ("r1", "c10", None, "DE", "automated", "automated", "warning", None, "2026-07-01T10:00Z"),  # t0
            (
                "r1b",
                "c10",
                None,
                "DE",
                "automated",
                "automated",
                "warning",
                None,
                "2026-07-20T10:00Z",
            ),  # repeat
            ("r2", "c11", None, "DE", "automated", "automated", "warning", None, "2026-07-05T00:00Z"),
            (
                "r2b",
                "c11",
                None,
                "DE",
                "automated",
                "automated",
                "warning",
                None,
                "2026-10-03T00:00Z",
            ),  # t0+90d: in
            ("r3", "c12", None, "DE", "automated", "automated", "warning", None, "2026-07-10T00:00Z"),
            (
                "r3b",
                "c12",
                None,
                "DE",
                "automated",
                "automated",
                "warning",
                None,
                "2026-10-08T00:00:01Z",
            ),  # 1 s late
            (
                "r4",
                "c13",
                None,
                "DE",
                "automated",
                "automated",
                "warning",
                None,
                "2026-06-30T22:30Z",
            ),  # Jul 1 local
            (
                "r4b",
                "c13",
                None,
                "FR",
                "automated",
                "automated",
                "warning",
                None,
                "2026-07-15T00:00Z",
            ),  # other market
            (
                "r5",
                "c14",
                None,
                "DE",
                "automated",
                "automated",
                "warning",
                None,
                "2026-07-31T22:30Z",
            ),  # Aug 1 local
            ("r5b", "c14", None, "DE", "automated", "automated", "warning", None, "2026-08-05T00:00Z"),
            ("r6", "c15", None, "DE", "automated", "automated", "warning", None, "2026-07-12T00:00Z"),
            (
                "r6b",
                "c15",
                None,
                "DE",
                "automated",
                "automated",
                "warning",
                None,
                "2026-07-12T00:00Z",
            ),  # same instant
        ]
    )
    # cohort (July local): c10 c11 c12 c13 c15 = 5; repeaters c10, c11 = 2
    assert compute_recidivism_90d(ea, "DE", "2026-10", TZ) == (2, 5)
    out = compute_kpis(
        {
            "enforcement_actions": ea,
            "content": pd.DataFrame({"content_id": pd.Series([], dtype=object), "published_at": _ts([])}),
        },
        "DE",
        "2026-10",
        TZ,
    )
    r = kpi(out, "recidivism_90d")
    assert (r.value, r.numerator, r.denominator) == (0.4, 2, 5)
    assert (r.ci_low, r.ci_high) == pytest.approx(stats.proportion_interval(2, 5), abs=1e-12)


# ---------------------------------------------------------------- properties

_START = T("2026-09-20T00:00Z").value // 10**9
_END = T("2026-11-10T00:00Z").value // 10**9

action_rows = st.lists(
    st.tuples(
        st.sampled_from(["DE", "FR"]),
        st.integers(0, 5),  # creator
        st.sampled_from(DETECTION_SOURCES),
        st.sampled_from(DECISION_MODES),
        st.sampled_from(ACTION_TYPES),
        st.one_of(st.none(), st.integers(0, 3)),
        st.integers(_START, _END),
    ),
    min_size=0,
    max_size=40,
)


def _random_tables(rows):
    ea = pd.DataFrame(
        {
            "action_id": [f"a{i}" for i in range(len(rows))],
            "creator_id": [f"c{r[1]}" for r in rows],
            "content_id": [f"x{i}" for i in range(len(rows))],
            "market": [r[0] for r in rows],
            "detection_source": [r[2] for r in rows],
            "decision_mode": [r[3] for r in rows],
            "action_type": [r[4] for r in rows],
            "views_before_action": pd.array([r[5] for r in rows], dtype="Int64"),
            "actioned_at": pd.to_datetime([r[6] for r in rows], unit="s", utc=True),
        }
    )
    content = pd.DataFrame(
        {
            "content_id": ea["content_id"],
            "published_at": ea["actioned_at"] - pd.to_timedelta([(r[6] % 48) for r in rows], unit="h"),
        }
    )
    return {"enforcement_actions": ea, "content": content}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(action_rows, st.randoms(use_true_random=False))
def test_kpi_properties(rows, rnd):
    t = _random_tables(rows)
    out = compute_kpis(t, "DE", "2026-10", TZ)
    # shares computed from enforcement_actions/content (the optional tables are absent here)
    shares = out[
        out["kpi_id"].isin(
            [
                "proactive_rate",
                "automated_decision_rate",
                "removed_before_views_rate",
                "removed_within_24h_rate",
                "recidivism_90d",
            ]
        )
    ]
    v = shares["value"].dropna()
    assert ((v >= 0) & (v <= 1)).all()
    ok = shares.dropna(subset=["value"])
    assert (ok["ci_low"] <= ok["value"] + 1e-12).all() and (ok["value"] <= ok["ci_high"] + 1e-12).all()
    # NaN exactly when the denominator is empty
    assert (shares["value"].isna() == (shares["denominator"] == 0)).all()
    # row order does not matter
    idx = list(range(len(rows)))
    rnd.shuffle(idx)
    shuffled = {k: df.iloc[idx].reset_index(drop=True) for k, df in t.items()}
    pd.testing.assert_frame_equal(compute_kpis(shuffled, "DE", "2026-10", TZ), out)
    # counts add up across markets (both markets share the time zone here)
    fr = compute_kpis(t, "FR", "2026-10", TZ)
    ts = t["enforcement_actions"]["actioned_at"].dt.tz_convert(TZ)
    n_oct = int(((ts.dt.year == 2026) & (ts.dt.month == 10)).sum())
    assert kpi(out, "actions_total").value + kpi(fr, "actions_total").value == n_oct
    for k in ("proactive_rate", "automated_decision_rate", "removed_before_views_rate"):
        assert kpi(out, k).numerator + kpi(fr, k).numerator == pytest.approx(_pooled_numerator(t, k), abs=0)


def _pooled_numerator(t, k):
    ea = t["enforcement_actions"]
    local = ea["actioned_at"].dt.tz_convert(TZ)
    m = ea[(local.dt.year == 2026) & (local.dt.month == 10)]
    if k == "proactive_rate":
        return int(m["detection_source"].isin(["automated", "proactive_review"]).sum())
    if k == "automated_decision_rate":
        return int((m["decision_mode"] == "automated").sum())
    removed = m[m["action_type"] == "content_removed"]
    return int((removed["views_before_action"].fillna(-1) == 0).sum())


def test_kpis_are_deterministic(tables):
    a = compute_kpis(tables, "DE", "2026-10", TZ).to_csv(index=False)
    b = compute_kpis(tables, "DE", "2026-10", TZ).to_csv(index=False)
    assert a == b
    assert np.isfinite(compute_kpis(tables, "DE", "2026-10", TZ)["value"].iloc[0])


@pytest.mark.parametrize("layout", ["parquet", "partitioned"])
def test_kpis_through_the_data_layer(tmp_path, layout):
    # tests/datasets.py: hand-made dataset with known counts at each market's local month edge
    from datasets import EXPECTED, MARKETS, MONTH, write_valid_dataset

    from govlib.data.load import load_market_window, open_dataset

    write_valid_dataset(tmp_path, layout=layout)
    ds = open_dataset(tmp_path)
    for market, tz in MARKETS.items():
        out = compute_kpis(load_market_window(ds, market, MONTH, tz), market, MONTH, tz).set_index("kpi_id")
        assert out.at["actions_total", "value"] == EXPECTED["actions"][market]
        assert out.at["proactive_rate", "numerator"] == EXPECTED["proactive_actions"][market]
        assert out.at["proactive_rate", "denominator"] == EXPECTED["actions"][market]


def test_metrics_reference_page_is_up_to_date():
    # docs/metrics.md is generated; regenerate with: python -m govlib.metrics.reference
    from govlib import config
    from govlib.metrics.reference import render_reference

    page = (config.PROJECT_ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert page == render_reference(), "docs/metrics.md is stale: run python -m govlib.metrics.reference"
    for kpi_id in KPI_DEFINITIONS:
        assert f"| `{kpi_id}` |" in page
    assert "#### `kpis.compute_kpis`" in page and "#### `stats.proportion_interval`" in page
