"""Peer analytics from a statement archive (govlib/dsa/peers_sor.py), on hand-made and real statements.

The planted archive (tests/dsa_archive.py, ``planted_statements``) after de-duplication:

| uuid | platform | scope | decision month | detection / decision | ground | decisions | days content->decision |
|---|---|---|---|---|---|---|---|
| t1 | TikTok | DE FR | 2026-01 | auto / fully | ToS | visibility | 2 |
| t2 | TikTok | DE | 2026-01 | - / none | illegal | account | 2 |
| t3 | TikTok (IP) | FR | 2026-01 | auto / fully | ToS | - | 18 + 1/24 |
| t-dup (twice) | TikTok | DE FR IT | 2026-01 | auto / fully | ToS | - | 2 |
| t5 | TikTok | DE | 2026-02 | - / partly | ToS | monetary | (no content date) |
| t6 | TikTok | IT | 2026-02 | auto / fully | ToS | - | 2 |
| m1 | Temu | DE FR | 2026-01 | - / none | ToS | provision | 2 |
| m2 | Temu | DE | 2026-01 | auto / fully | illegal | - | 2 |
| m3 | Temu | PL | 2026-02 | auto / fully | ToS | - | 2 |
| m4 | Temu | DE | 2026-02 (dump 03-01) | auto / none | ToS | - | 2 |
| m5 | Temu | DE | 2026-03 | auto / none | ToS | - | (content after decision) |

Every statement reaches the database one day after its decision.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from dsa_archive import planted_statements, real_statements, statement, write_archive
from statsmodels.stats.proportion import proportion_confint

from govlib.dsa import peers_sor as ps

SCAMS = "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"
IIP = "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return ps.open_archive(
        write_archive(tmp_path_factory.mktemp("arch") / "a", planted_statements()), "duckdb"
    )


def _row(df, **keys):
    sel = df
    for k, v in keys.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, keys
    return sel.iloc[0]


def test_counts_per_member_state_each_statement_once(planted):
    agg = ps.execute(ps.statement_aggregates(planted))
    de = _row(agg, platform_name="TikTok", member_state="DE", category=SCAMS, month="2026-01")  # t1 t2 t-dup
    assert (de.statements, de.automated_detection, de.automated_decision) == (3, 2, 2)
    assert (de.illegal_content, de.terms_of_service, de.visibility, de.account, de.monetary) == (
        1,
        2,
        1,
        1,
        0,
    )
    fr = _row(agg, platform_name="TikTok", member_state="FR", category=SCAMS, month="2026-01")  # t1 t-dup
    assert fr.statements == 2
    it = agg[(agg.platform_name == "TikTok") & (agg.member_state == "IT")]  # t-dup in Jan, t6 in Feb
    assert it[["month", "statements"]].values.tolist() == [["2026-01", 1], ["2026-02", 1]]
    feb = _row(agg, platform_name="TikTok", member_state="DE", month="2026-02")  # t5
    assert (feb.partly_automated_decision, feb.monetary, feb.automated_decision) == (1, 1, 0)
    assert np.isnan(feb.content_to_decision_median)  # no content date
    assert _row(agg, category=IIP).content_to_decision_median == pytest.approx(18 + 1 / 24)
    # m4 was decided on 28 February and dumped on 1 March: it counts in February
    assert _row(agg, platform_name="Temu", member_state="DE", month="2026-02").statements == 1
    # m5's content date is after its decision: left out of the durations, still counted
    m5 = _row(agg, platform_name="Temu", member_state="DE", month="2026-03")
    assert m5.statements == 1 and np.isnan(m5.content_to_decision_p90)
    assert (agg.decision_to_entry_median == 1.0).all()
    # summed over member states a multi-state statement counts in each: 3+2+1+1+1+1 for TikTok
    assert agg[agg.platform_name == "TikTok"].statements.sum() == 9


def test_eea_totals_count_each_statement_once(planted):
    agg = ps.execute(ps.statement_aggregates(planted, by=["platform_name"])).set_index("platform_name")
    assert agg.loc["TikTok", "statements"] == 6 and agg.loc["Temu", "statements"] == 5
    assert agg.loc["TikTok", "automated_decision"] == 4 and agg.loc["Temu", "automated_detection"] == 4
    # TikTok's durations: t1 t2 t-dup t6 = 2 days, t3 = 18 days 1 hour (t5 has none); numpy's linear
    # interpolation is the definition of quantile_cont
    days = [2, 2, 2, 2, 18 + 1 / 24]
    assert agg.loc["TikTok", "content_to_decision_median"] == pytest.approx(np.percentile(days, 50))
    assert agg.loc["TikTok", "content_to_decision_p90"] == pytest.approx(np.percentile(days, 90))


def test_duplicates_counted_once_through_the_archive(planted):
    rows = planted_statements()
    assert (rows.uuid == "t-dup").sum() == 2  # stored on two days
    agg = ps.statement_aggregates(planted, by=["platform_name", "member_state"]).to_pandas()
    assert _row(agg, platform_name="TikTok", member_state="IT").statements == 2  # t-dup, t6
    assert _row(agg, platform_name="TikTok", member_state="DE").statements == 4  # t1 t2 t-dup t5
    # the aggregates count rows: given the raw rows, the duplicate would count twice
    raw = ps.statement_aggregates(ibis.memtable(rows), by=["platform_name", "member_state"]).to_pandas()
    assert _row(raw, platform_name="TikTok", member_state="IT").statements == 3


def test_archive_reads_listed_days_and_filters(tmp_path):
    rows = pd.concat(
        [planted_statements(), pd.DataFrame([statement("late", "TikTok", ["DE"], "2026-04-01")])]
    )
    store = write_archive(tmp_path / "a", rows, unlisted_days=("2026-04-01",))  # an interrupted sync
    t = ps.open_archive(store, "duckdb")
    assert "late" not in set(t.uuid.to_pandas())
    assert t.count().to_pandas() == 11  # 12 rows, t-dup once
    dup = t.filter(t.uuid == "t-dup").day.to_pandas()
    assert [str(d)[:10] for d in dup] == ["2026-01-25"]  # the earliest day's copy
    temu = ps.open_archive(store, "duckdb", date_from="2026-02-01", platforms=["TEMU"])
    assert sorted(temu.uuid.to_pandas()) == ["m3", "m4", "m5"]
    jan = ps.execute(
        ps.statement_aggregates(t, by=["platform_name"], date_from="2026-01-01", date_to="2026-01-31")
    )
    assert _row(jan, platform_name="TikTok").statements == 4  # t1 t2 t3 t-dup


def test_archive_errors_name_the_folder(tmp_path):
    with pytest.raises(ps.ArchiveError, match="no manifest.json"):
        ps.open_archive(tmp_path, "duckdb")
    store = write_archive(tmp_path / "a", planted_statements())
    with pytest.raises(ps.ArchiveError, match="no complete day between 2027-01-01"):
        ps.open_archive(store, "duckdb", date_from="2027-01-01")


def test_breakdown_explodes_lists(planted):
    ct = ps.execute(ps.breakdown(planted, "content_type", by=["platform_name"]))
    got = {(r.platform_name, r.value): r.statements for r in ct.itertuples()}
    assert got == {("Temu", "CONTENT_TYPE_PRODUCT"): 5, ("TikTok", "CONTENT_TYPE_PRODUCT"): 5,
                   ("TikTok", "CONTENT_TYPE_TEXT"): 1, ("TikTok", "CONTENT_TYPE_VIDEO"): 1}  # fmt: skip
    acc = ps.execute(ps.breakdown(planted, "decision_account", by=["platform_name"]))
    assert acc[["platform_name", "value", "statements"]].values.tolist() == [
        ["TikTok", "DECISION_ACCOUNT_SUSPENDED", 1]
    ]
    with pytest.raises(ValueError, match="field must be one of"):
        ps.breakdown(planted, "uuid")


def test_real_rows_multi_state_counts():
    """The 199 distinct real statements: per-state rows add up to the 5,602 the import writes (docs/dsa.md)."""
    t = ibis.memtable(real_statements())
    eea = ps.statement_aggregates(t, by=[]).to_pandas()
    per_state = ps.statement_aggregates(t, by=["member_state"]).to_pandas()
    assert int(eea.statements.iloc[0]) == 199
    assert int(per_state.statements.sum()) == 5602
    cats = ps.statement_aggregates(t, by=["category"]).to_pandas().set_index("category").statements
    # v1 categories counted under their v2 names (docs/dsa.md): SCOPE_OF_PLATFORM_SERVICE -> OTHER_VIOLATION_TC
    assert cats.sum() == 199 and cats.index.str.startswith("STATEMENT_CATEGORY_").all()
    assert "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE" not in cats.index


def test_intervals_match_statsmodels(planted):
    agg = ps.with_intervals(ps.execute(ps.statement_aggregates(planted, by=["platform_name", "month"])))
    for r in agg.itertuples():
        for share, (num, den) in ps.RATES.items():
            n, d = getattr(r, num), getattr(r, den)
            lo, hi = proportion_confint(n, d, alpha=0.05, method="wilson")
            assert getattr(r, share) == pytest.approx(n / d)
            assert (getattr(r, f"{share}_low"), getattr(r, f"{share}_high")) == pytest.approx((lo, hi))
    empty = ps.with_intervals(pd.DataFrame({"statements": [0], "automated_detection": [0],
                                            "automated_decision": [0], "illegal_content": [0]}))  # fmt: skip
    assert empty[["automated_detection_share", "automated_detection_share_low"]].isna().all(axis=None)


# --------------------------------------------------------------------------- consistency

PERIOD = "2026-01-10/2026-01-11"


@pytest.fixture(scope="module")
def two_days(tmp_path_factory):
    """20 TikTok statements: odd ``i`` decided 10 Jan (dump of 11 Jan), even ``i`` 11 Jan (dump of 12 Jan);
    ``i < 15`` fully automated. Dumps of 11 and 12 January stored."""
    rows = [
        statement(f"s{i}", "TikTok", ["DE"], "2026-01-11" if i % 2 else "2026-01-12",
                  automated_decision="AUTOMATED_DECISION_FULLY" if i < 15 else "AUTOMATED_DECISION_NOT_AUTOMATED")
        for i in range(20)
    ] + [statement("a1", "Amazon Store", ["DE"], "2026-01-12")]  # fmt: skip
    store = write_archive(tmp_path_factory.mktemp("arch") / "c", pd.DataFrame(rows))
    return ps.open_archive(store, "duckdb")


def _figures(service, solely, total, period=PERIOD):
    return pd.DataFrame([{"service": service, "period": period, "figure": "solely_automated_share",
                          "value": solely / total, "numerator": solely, "denominator": total,
                          "unit_basis": "", "note": "", "source_file": "x/8_automated_means.csv"}])  # fmt: skip


def test_consistency_flags(two_days):
    t = two_days
    # the period's days: 10 Jan has no dump in this archive -> incomplete
    out = ps.consistency(t, _figures("TikTok", 15, 20), "TikTok", PERIOD).set_index("figure")
    assert out.loc["measures", "coverage"] == 0.5 and set(out.flag) == {"incomplete_archive"}
    period = "2026-01-11/2026-01-12"  # both dumps stored
    ok = ps.consistency(t, _figures("TikTok", 15, 20, period), "TikTok", period).set_index("figure")
    assert ok.loc["measures", "statements_value"] == 10  # decided 11-12 Jan: s0, s2, ..., s18
    # of those, fully automated: s0, s2, ..., s14 (8 of 10)
    assert ok.loc["solely_automated_share", "statements_value"] == pytest.approx(0.8)
    assert ok.loc["measures", "flag"] == "gap"  # 10 statements vs 20 measures: -50 %
    assert ok.loc["measures", "difference"] == pytest.approx(-0.5)
    assert ok.loc["solely_automated_share", "flag"] == "ok"  # 0.8 vs 0.75: within 5 points
    near = ps.consistency(t, _figures("tiktok", 3, 10.5, period), "TikTok", period).set_index("figure")
    assert near.loc["measures", "flag"] == "ok"  # 10 vs 10.5: within 10 %
    lo, hi = proportion_confint(8, 10, method="wilson")
    assert (near.loc["solely_automated_share", "ci_low"], near.loc["solely_automated_share", "ci_high"]) == (
        pytest.approx((lo, hi))
    )
    assert near.loc["solely_automated_share", "flag"] == "gap"  # 0.29 is below the interval (0.49, 0.94)
    assert 0.29 < lo
    missing = ps.consistency(t, _figures("Temu", 3, 10, period), "TikTok", period)
    assert set(missing.flag) == {"no_report_figure"}


def test_consistency_service_names_and_empty(two_days):
    period = "2026-01-11/2026-01-12"
    amazon = ps.consistency(two_days, _figures("Amazon", 1, 1, period), "Amazon Store", period).set_index(
        "figure"
    )
    assert amazon.loc["measures", "flag"] == "ok" and amazon.loc["measures", "source_file"].endswith(
        "8_automated_means.csv"
    )
    none = ps.consistency(two_days, _figures("Zalando", 1, 1, period), "Zalando", period)
    assert set(none.flag) == {"no_statements"}
    with pytest.raises(ps.ArchiveError, match="not YYYY-MM-DD/YYYY-MM-DD"):
        ps.consistency(two_days, _figures("TikTok", 1, 1), "TikTok", "2026-H1")


def test_unreadable_manifest_is_named(tmp_path):
    store = write_archive(tmp_path / "a", planted_statements())
    (store / "manifest.json").write_text("{not json")
    with pytest.raises(ps.ArchiveError, match="manifest.json: not a valid archive manifest"):
        ps.open_archive(store, "duckdb")
