"""The demo marketplace generator: contract-valid, deterministic, and its planted truths recoverable.

Most tests read the session's small demo dataset (``demo_dir``, seed 7, generated once by
``tests/conftest.py``) with pyarrow directly, not through govlib's loaders, so that a bug in
one is not hidden by the other. Each of them runs twice: on that dataset and on the same
scale generated in creator blocks of ``CHUNK`` creators (24 blocks, the way ``xlarge`` is
written), so the chunked path keeps the contract and every planted truth. Planted truths are checked by the simplest direct
computation that could recover them (ratio of monthly counts, a lifelines Cox fit,
the weighted sample mean, precision/recall on the labelled sample).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from govlib import contract
from govlib.demo import DemoDataError, generate
from govlib.demo import generator as gen
from govlib.errors import UsageError
from govlib.params import load_market, market_timezone
from govlib.privacy import is_demo_mode
from govlib.timeutil import local_month

PARTITIONED = ("content", "enforcement_actions", "signal_scores")
SINGLE = ("creators", "appeals", "notices", "rewards", "prevalence_samples", "review_labels", "qa_reviews")
CHUNK = 250  # creators per block of the chunked variant: every market of the small scale in 2-5 blocks
ARROW = {
    "str": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
}


def read(root: Path, name: str) -> pd.DataFrame:
    if name in PARTITIONED:
        ds = pads.dataset(root / name, format="parquet", partitioning="hive")
        df = ds.to_table().to_pandas()
        df["market"] = df["market"].astype(str)
        return df
    return pq.read_table(root / f"{name}.parquet").to_pandas()


@pytest.fixture(scope="module")
def chunked_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chunked") / "demo"
    generate(out, seed=7, end_month="2026-10", chunk_creators=CHUNK)
    return out


@pytest.fixture(scope="module", params=["whole", "chunked"])
def demo_dir(request, demo_dir) -> Path:
    """The session's small demo (markets generated at once), then the same scale in creator blocks."""
    return demo_dir if request.param == "whole" else request.getfixturevalue("chunked_dir")


@pytest.fixture(scope="module")
def ground_truth(demo_dir) -> dict:
    return json.loads((demo_dir / "ground_truth.json").read_text())


@pytest.fixture(scope="module")
def tables(demo_dir) -> dict[str, pd.DataFrame]:
    return {name: read(demo_dir, name) for name in contract.TABLES}


def months_of(df: pd.DataFrame, column: str) -> pd.Series:
    """Local ``YYYY-MM`` of ``column`` in each row's market time zone."""
    parts = [local_month(g[column], market_timezone(m)) for m, g in df.groupby("market")]
    return pd.concat(parts).reindex(df.index)


def tree_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# ----------------------------------------------------------------------------- contract and layout


def test_validator_finds_no_problem(demo_dir):
    validate = pytest.importorskip("govlib.data.validate")
    problems = validate.validate_dataset(demo_dir)
    assert problems == [], "\n".join(str(p) for p in problems[:10])


def test_row_totals_creators_and_blocks(request, demo_dir, tables, ground_truth):
    """Every row the truth counts is in the files; each market has its creators plus the wave's, in
    one partition file per block (the chunked variant: ceil(creators / CHUNK) of them)."""
    assert ground_truth["row_counts"] == {name: len(tables[name]) for name in contract.TABLES}
    chunked = request.node.callspec.params["demo_dir"] == "chunked"
    wave = ground_truth["emerging_wave"]
    for m in gen.P.MARKETS:
        n = gen.P.CREATORS_SMALL[m]
        extra = wave["new_accounts"] if wave["market"] == m else 0
        assert (tables["creators"]["market"] == m).sum() == n + extra, m
        for name in PARTITIONED:
            parts = sorted(p.name for p in (demo_dir / name / f"market={m}").glob("*.parquet"))
            k = -(-n // CHUNK) if chunked else 1
            assert parts == [f"part-{b:05d}.parquet" for b in range(k)], (name, m, parts)
    assert not (demo_dir / ".spill").exists()


def test_layout_partitions_and_file_schemas(demo_dir):
    for name in PARTITIONED:
        parts = sorted((demo_dir / name).glob("market=*/*.parquet"))
        assert {p.parent.name for p in parts} == {f"market={m}" for m in gen.P.MARKETS}
        for p in parts:
            sch = pq.read_schema(p)
            assert "market" not in sch.names  # only in the path
            want = [c for c in contract.TABLES[name].columns if c.name != "market"]
            assert sch.names == [c.name for c in want]
            assert [sch.field(c.name).type for c in want] == [ARROW[c.dtype] for c in want]
    for name in SINGLE:
        sch = pq.read_schema(demo_dir / f"{name}.parquet")
        spec = contract.TABLES[name]
        assert sch.names == spec.column_names
        assert [sch.field(c.name).type for c in spec.columns] == [ARROW[c.dtype] for c in spec.columns]
    assert (demo_dir / ".complete").exists() and (demo_dir / "ground_truth.json").exists()


def test_rows_sorted_by_time_then_key_within_each_file(demo_dir):
    files = [(p, n) for n in PARTITIONED for p in sorted((demo_dir / n).glob("market=*/*.parquet"))]
    files += [(demo_dir / f"{n}.parquet", n) for n in SINGLE]
    for path, name in files:
        spec = contract.TABLES[name]
        key = spec.primary_key or "content_id"
        df = pq.read_table(path, columns=[spec.time_column, key]).to_pandas()
        again = df.sort_values([spec.time_column, key], kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(df, again, obj=str(path))


def test_columns_values_keys_and_time_orders(tables):
    """The contract checked directly (independent of govlib.data.validate)."""
    for name, spec in contract.TABLES.items():
        df = tables[name]
        assert list(df.columns) == spec.column_names or set(df.columns) == set(spec.column_names), name
        assert len(df) > 0, name
        for col in spec.columns:
            s = df[col.name]
            if not col.nullable:
                assert s.notna().all(), f"{name}.{col.name} has nulls"
            if col.allowed:
                bad = set(s.dropna().unique()) - set(col.allowed)
                assert not bad, f"{name}.{col.name}: {bad}"
            if col.min is not None:
                assert (s.dropna() >= col.min).all(), f"{name}.{col.name} below {col.min}"
            if col.max is not None:
                assert (s.dropna() <= col.max).all(), f"{name}.{col.name} above {col.max}"
        if spec.primary_key:
            assert df[spec.primary_key].is_unique, name
    assert set(tables["creators"]["market"]) == set(gen.P.MARKETS)
    id_format = {
        "creators": r"cr_\d{7}",
        "content": r"ct_\d{9}",
        "enforcement_actions": r"ac_\d{9}",
        "appeals": r"ap_\d{9}",
        "notices": r"nt_\d{9}",
        "rewards": r"rw_\d{9}",
        "prevalence_samples": r"ps_\d{9}",
    }
    for name, pattern in id_format.items():
        key = contract.TABLES[name].primary_key
        assert tables[name][key].str.fullmatch(pattern).all(), name
    # foreign keys
    creators = set(tables["creators"]["creator_id"])
    content = set(tables["content"]["content_id"])
    actions = tables["enforcement_actions"].set_index("action_id")
    for name in ("content", "enforcement_actions", "appeals", "rewards"):
        assert set(tables[name]["creator_id"]) <= creators, name
    for name in ("enforcement_actions", "notices", "prevalence_samples", "signal_scores", "review_labels"):
        assert set(tables[name]["content_id"].dropna()) <= content, name
    assert set(tables["appeals"]["action_id"]) <= set(actions.index)
    # time orders of the contract, plus the generator's own promises
    ea = tables["enforcement_actions"]
    assert (ea["actioned_at"] >= ea["detected_at"]).all()
    ap = tables["appeals"]
    assert (ap["submitted_at"].to_numpy() >= actions.loc[ap["action_id"], "actioned_at"].to_numpy()).all()
    assert (ap["resolved_at"].dropna() >= ap.loc[ap["resolved_at"].notna(), "submitted_at"]).all()
    assert ((ap["outcome"] == "pending") == ap["resolved_at"].isna()).all()
    nt = tables["notices"]
    assert (nt["handled_at"].dropna() >= nt.loc[nt["handled_at"].notna(), "received_at"]).all()
    assert ((nt["outcome"] == "actioned") == nt["action_id"].notna()).all()
    assert ((nt["outcome"] == "pending") == nt["handled_at"].isna()).all()
    assert set(nt["action_id"].dropna()) <= set(actions.index)
    ct = tables["content"].set_index("content_id")
    with_content = ea[ea["content_id"].notna()]
    assert (
        with_content["detected_at"].to_numpy()
        >= ct.loc[with_content["content_id"], "published_at"].to_numpy()
    ).all()
    cr = tables["creators"].set_index("creator_id")
    assert (
        tables["content"]["published_at"].to_numpy()
        >= cr.loc[tables["content"]["creator_id"], "registered_at"].to_numpy()
    ).all()
    # same market everywhere a row points to another row
    assert (
        ct.loc[with_content["content_id"], "market"].to_numpy() == with_content["market"].to_numpy()
    ).all()


def test_action_details_follow_their_rules(tables):
    ea = tables["enforcement_actions"]
    # health points are a function of severity, increasing with it
    points = ea.groupby("severity")["health_points"].agg(["min", "max"])
    assert (points["min"] == points["max"]).all()
    assert points.loc[list(contract.SEVERITIES), "min"].is_monotonic_increasing
    # account-level actions exist, carry no views; suspensions end later
    account = ea["content_id"].isna()
    assert 0.03 < account.mean() < 0.3
    assert ea.loc[account, "views_before_action"].isna().all()
    assert ea.loc[~account, "views_before_action"].notna().mean() > 0.9
    susp = ea[ea["action_type"] == "account_suspended"]
    assert (
        susp["restriction_ends_at"].notna().all()
        and (susp["restriction_ends_at"] > susp["actioned_at"]).all()
    )
    assert (
        ea.loc[
            ea["action_type"].isin(["warning", "content_removed", "account_banned"]), "restriction_ends_at"
        ]
        .isna()
        .all()
    )
    # authority orders are illegal-content decisions
    assert (ea.loc[ea["detection_source"] == "authority_order", "ground"] == "illegal_content").all()
    # some proactive removals happen before any view
    removed = ea[(ea["action_type"] == "content_removed") & ea["views_before_action"].notna()]
    assert 0.05 < (removed["views_before_action"] == 0).mean() < 0.9
    # the market's local policies are the only non-taxonomy policies (none in the demo)
    assert set(ea["policy"]) <= set(contract.POLICIES)


# ----------------------------------------------------------------------------- realism


def test_heavy_tails_languages_and_seasonality(tables):
    ct, cr = tables["content"], tables["creators"]
    views = np.sort(ct["views"].to_numpy())[::-1]
    assert views[: len(views) // 100].sum() > 0.2 * views.sum()  # top 1% of items: > 20% of views
    assert cr["follower_count"].max() > 100 * cr["follower_count"].median()
    gmv = ct["gmv_eur"]
    assert (gmv == 0).mean() > 0.3 and gmv.max() > 50 * gmv[gmv > 0].median()
    # each market publishes in its own languages (params), IE mostly English, ES some Catalan
    for m, g in ct.groupby("market"):
        assert set(g["language"]) <= set(load_market(m).languages), m
    ie = ct.loc[ct["market"] == "IE", "language"].value_counts(normalize=True)
    es = ct.loc[ct["market"] == "ES", "language"].value_counts(normalize=True)
    assert ie["en"] > 0.9 and 0.1 < es["ca"] < 0.25
    # Q4 peak on top of the platform's growth: November and December publish more per day than
    # October, January drops back (same markets, all but PL)
    old = ct[ct["market"] != "PL"]
    per_day = months_of(old, "published_at").value_counts() / pd.Series(
        {"2025-10": 31, "2025-11": 30, "2025-12": 31, "2026-01": 31}
    )
    assert per_day["2025-11"] > 1.12 * per_day["2025-10"] and per_day["2025-12"] > 1.12 * per_day["2025-10"]
    assert per_day["2026-01"] < 0.8 * per_day["2025-12"]
    # weekly pattern: Saturdays busier than Mondays (local time)
    local = old["published_at"].dt.tz_convert("Europe/Berlin").dt.dayofweek
    assert (local == 5).sum() > 1.08 * (local == 0).sum()


def test_enforcement_mix_appeals_notices_and_rewards(tables):
    ea, ap, nt, rw, cr = (
        tables[n] for n in ("enforcement_actions", "appeals", "notices", "rewards", "creators")
    )
    # automation differs by market and by policy
    auto = ea.assign(a=ea["decision_mode"] == "automated")
    by_market = auto.groupby("market")["a"].mean()
    assert by_market["GB"] - by_market["PL"] > 0.1
    by_policy = auto.groupby("policy")["a"].mean()
    assert by_policy["fake_engagement"] - by_policy["privacy_violation"] > 0.3
    mix = pd.crosstab(ea["market"], ea["policy"], normalize="index")
    assert mix.loc["IT", "counterfeit_ip"] > 1.2 * mix.loc["ES", "counterfeit_ip"]
    assert mix.loc["DE", "privacy_violation"] > 1.2 * mix.loc["GB", "privacy_violation"]
    # automated decisions are overturned on appeal more often than human ones
    done = ap[ap["outcome"] != "pending"].merge(ea[["action_id", "decision_mode"]], on="action_id")
    over = (
        done.assign(o=done["outcome"].isin(contract.OVERTURN_OUTCOMES)).groupby("decision_mode")["o"].mean()
    )
    assert over["automated"] > 1.3 * over["human"]
    assert set(ap.loc[ap["market"] == "GB", "channel"]) == {
        "internal_complaint"
    }  # no Art. 21 bodies in the UK
    # trusted flaggers are handled faster than users
    acted = nt[nt["outcome"] == "actioned"]
    hours = (acted["handled_at"] - acted["received_at"]).dt.total_seconds() / 3600
    med = hours.groupby(acted["reporter_type"]).median()
    assert med["trusted_flagger"] < 0.5 * med["user"]
    share_actioned = (
        nt[nt["outcome"] != "pending"]
        .groupby("reporter_type")["outcome"]
        .apply(lambda s: (s == "actioned").mean())
    )
    assert share_actioned["trusted_flagger"] > share_actioned["user"] + 0.3
    # repeat offenders
    per_creator = ea.groupby("creator_id").size()
    assert (per_creator >= 3).mean() > 0.3 and per_creator.max() >= 15
    # rewards: more often to top tiers, some to creators with violations
    rate = (
        rw.merge(cr[["creator_id", "tier"]], on="creator_id").groupby("tier").size()
        / cr.groupby("tier").size()
    )
    assert rate["top"] > 3 * rate["new"]
    assert rw["creator_id"].isin(ea["creator_id"]).mean() > 0.2
    assert set(tables["review_labels"]["source"]) == {"qa_sample"}


def test_pl_is_the_three_month_expansion_market(tables, ground_truth):
    want = {"2026-08", "2026-09", "2026-10"}
    for name, col in (
        ("content", "published_at"),
        ("enforcement_actions", "actioned_at"),
        ("creators", "registered_at"),
        ("prevalence_samples", "sampled_at"),
    ):
        df = tables[name]
        pl = df[df["market"] == "PL"]
        assert set(months_of(pl, col)) == want, name
    de = tables["content"][tables["content"]["market"] == "DE"]
    assert months_of(de, "published_at").nunique() == 13
    assert ground_truth["windows"]["PL"]["months"] == 3 and ground_truth["windows"]["GB"]["months"] == 13


# ----------------------------------------------------------------------------- planted truths


def monthly_policy_counts(ea: pd.DataFrame, market: str) -> pd.DataFrame:
    sub = ea[ea["market"] == market]
    return pd.crosstab(local_month(sub["actioned_at"], market_timezone(market)), sub["policy"])


def test_wave_is_a_threefold_rise_in_its_market_and_policy(tables, ground_truth):
    wave = ground_truth["emerging_wave"]
    assert (wave["market"], wave["policy"], wave["months"]) == ("DE", "scam_fraud", ["2026-09", "2026-10"])
    counts = monthly_policy_counts(tables["enforcement_actions"], wave["market"])
    last2 = counts.loc[wave["months"]].mean()
    before = counts.loc["2026-03":"2026-08"].mean()
    ratio = last2 / before
    assert 2.3 <= ratio[wave["policy"]] <= 4.0, ratio[wave["policy"]]
    assert abs(ratio[wave["policy"]] - wave["observed_ratio"]) < 0.4
    others = ratio.drop(wave["policy"])[before.drop(wave["policy"]) >= 15]
    assert len(others) >= 5 and (others < 1.8).all(), others[others >= 1.8]
    assert ratio[before >= 5].idxmax() == wave["policy"]
    # growing: the second month above the first
    assert counts.loc["2026-10", wave["policy"]] > counts.loc["2026-09", wave["policy"]]
    # concentrated in its content type
    ea, ct = tables["enforcement_actions"], tables["content"]
    de = ea[(ea["market"] == "DE") & (ea["policy"] == "scam_fraud")].merge(
        ct[["content_id", "content_type"]], on="content_id"
    )
    in_wave = de["actioned_at"] >= pd.Timestamp(wave["start"], tz="Europe/Berlin")
    share = de.groupby(in_wave)["content_type"].apply(lambda s: (s == wave["content_type"]).mean())
    assert share[True] > share[False] + 0.2


def test_wave_is_off_without_plant_wave_and_leaves_the_rest_unchanged(tmp_path):
    quiet = generate(tmp_path / "quiet", seed=5, markets=("DE",), plant_wave=False)
    loud = generate(tmp_path / "loud", seed=5, markets=("DE",), plant_wave=True)
    assert quiet["emerging_wave"] is None and loud["emerging_wave"]["market"] == "DE"
    q = monthly_policy_counts(read(tmp_path / "quiet", "enforcement_actions"), "DE")
    w = monthly_policy_counts(read(tmp_path / "loud", "enforcement_actions"), "DE")
    before = [m for m in q.index if m < "2026-09"]
    pd.testing.assert_frame_equal(q.loc[before], w.loc[before])  # the wave adds, it does not reshuffle
    ratio = (
        q.loc[["2026-09", "2026-10"], "scam_fraud"].mean() / q.loc["2026-03":"2026-08", "scam_fraud"].mean()
    )
    assert 0.6 < ratio < 1.5
    assert (w.loc[["2026-09", "2026-10"], "scam_fraud"] > q.loc[["2026-09", "2026-10"], "scam_fraud"]).all()


def _file_hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.parquet"))
    }


def test_qa_reviews_come_from_their_own_stream_and_shift_no_other_table(tmp_path, monkeypatch):
    generate(tmp_path / "a", seed=9, size=0.1, markets=("IE", "PL"))
    monkeypatch.setitem(
        gen.P.QA_REVIEW_RATE, "small", 0.2
    )  # twice the reviews: many more draws of the stream
    monkeypatch.setattr(gen.P, "QA_GOLDEN_SHARE", 0.6)
    generate(tmp_path / "b", seed=9, size=0.1, markets=("IE", "PL"))
    a, b = _file_hashes(tmp_path / "a"), _file_hashes(tmp_path / "b")
    assert a.keys() == b.keys() and "qa_reviews.parquet" in a
    assert a["qa_reviews.parquet"] != b["qa_reviews.parquet"]
    assert {k: v for k, v in a.items() if k != "qa_reviews.parquet"} == {
        k: v for k, v in b.items() if k != "qa_reviews.parquet"
    }


def test_qa_reviews_rounds_reviewers_and_golden_items(demo_dir, ground_truth):
    q = pd.read_parquet(demo_dir / "qa_reviews.parquet")
    items = q.groupby(["content_id", "policy"])
    # rounds 1..k without gaps, by k distinct reviewers of the item's market
    assert (items["review_round"].max() == items.size()).all()
    assert (items["reviewer"].nunique() == items.size()).all()
    assert (q["reviewer"].str[3:5].str.upper() == q["market"]).all()
    # a golden item carries its answer on every review
    assert (items["golden_label"].nunique(dropna=False) == 1).all()
    share = items["golden_label"].first().notna().mean()
    assert abs(share - gen.P.QA_GOLDEN_SHARE) < 0.02
    sizes = items.size().value_counts(normalize=True)
    for k, p in gen.P.QA_REVIEWS_PER_ITEM.items():
        assert abs(sizes[k] - p) < 0.02
    assert set(ground_truth["review_quality"]["by_market"]) == set(q["market"])


def first_action_table(ea: pd.DataFrame) -> pd.DataFrame:
    """Time from each creator's first action (harshest at its actioned_at) to the next detected violation."""
    order = {a: i for i, a in enumerate(contract.ACTION_TYPES)}
    a = ea.assign(h=ea["action_type"].map(order))
    end = a["actioned_at"].max()
    t0 = a.groupby("creator_id")["actioned_at"].transform("min")
    first = a[a["actioned_at"] == t0].sort_values("h").groupby("creator_id").tail(1).set_index("creator_id")
    later = a[a["detected_at"] > t0].groupby("creator_id")["detected_at"].min()
    out = pd.DataFrame({"first": first["action_type"], "t0": first["actioned_at"]})
    out["next"] = later
    out["event"] = out["next"].notna()
    out["weeks"] = (out["next"].fillna(end) - out["t0"]).dt.total_seconds() / (7 * 86400)
    return out[out["weeks"] > 0]


def test_deterrence_hazard_ratio_recovered_by_cox(tables, ground_truth):
    from lifelines import CoxPHFitter

    truth = ground_truth["deterrence"]
    tab = first_action_table(tables["enforcement_actions"])
    sub = tab[tab["first"].isin(["warning", "account_suspended"])]
    data = pd.DataFrame(
        {
            "weeks": sub["weeks"],
            "event": sub["event"].astype(int),
            "suspended": (sub["first"] == "account_suspended").astype(int),
        }
    )
    # R: coxph(Surv(weeks, event) ~ suspended)
    cph = CoxPHFitter().fit(data, "weeks", "event")
    hr = float(np.exp(cph.params_["suspended"]))
    lo, hi = np.exp(cph.confidence_intervals_.loc["suspended"]).to_numpy()
    assert lo <= truth["hazard_ratio_suspension_vs_warning"] <= hi, (hr, lo, hi)
    assert hi < 1
    # exponential waits: events / exposure after a first warning estimates the baseline hazard
    warn = tab[tab["first"] == "warning"]
    rate = warn["event"].sum() / warn["weeks"].sum()
    se = rate / np.sqrt(warn["event"].sum())
    assert abs(rate - truth["baseline_weekly_hazard"]) < 3 * se, (rate, se)
    assert truth["hazard_ratio_by_action_type"]["account_banned"] == 0
    assert not tab.loc[tab["first"] == "account_banned", "event"].any()  # a ban ends the history


def month_number(months: pd.Series) -> pd.Series:
    """``YYYY-MM`` as a month count (missing stays missing)."""
    m = months.astype(object)
    ok = m.notna()
    out = pd.Series(np.nan, index=m.index)
    out[ok] = [int(x[:4]) * 12 + int(x[5:7]) for x in m[ok]]
    return out


def test_allegations_drop_after_a_first_action_by_the_planted_ratio(tables, ground_truth):
    truth = ground_truth["deterrence"]
    nt, ea, cr = tables["notices"], tables["enforcement_actions"], tables["creators"]
    alleg = nt[nt["action_id"].isna()]
    assert set(alleg["outcome"]) == {"no_violation", "pending"} and alleg["creator_id"].notna().all()
    # allegations also reach creators never actioned: not-yet-actioned controls have an outcome
    never = set(cr["creator_id"]) - set(ea["creator_id"])
    assert alleg["creator_id"].isin(never).mean() > 0.15
    # creators registered inside the data with a full month before their first action, the month after
    # inside the data and no ban by its end: allegations in month g+1 / month g-1 estimate the planted ratio
    # (each creator's latent rate is constant; the common seasonal term moves it by under 2 %)
    c = cr.set_index("creator_id")
    c["reg"] = month_number(months_of(cr, "registered_at")).to_numpy()
    c["first"] = np.nan
    first = ea.loc[ea.groupby("creator_id")["actioned_at"].idxmin(), ["creator_id", "market", "actioned_at"]]
    c.loc[first["creator_id"], "first"] = month_number(months_of(first, "actioned_at")).to_numpy()
    bans = ea[ea["action_type"] == "account_banned"]
    bans = bans.loc[bans.groupby("creator_id")["actioned_at"].idxmin()]
    c["ban"] = np.inf
    c.loc[bans["creator_id"], "ban"] = month_number(months_of(bans, "actioned_at")).to_numpy()
    start = c["market"].map({m: w["first_month"] for m, w in ground_truth["windows"].items()})
    end = c["market"].map({m: w["last_month"] for m, w in ground_truth["windows"].items()})
    c["start"], c["end"] = month_number(start).to_numpy(), month_number(end).to_numpy()
    ok = (
        (c["reg"] >= c["start"])
        & (c["reg"] <= c["first"] - 2)
        & (c["first"] + 1 <= c["end"])
        & (c["ban"] > c["first"] + 1)
    )
    sel = c[ok]
    assert len(sel) > 150
    a = alleg[alleg["creator_id"].isin(sel.index)]
    a_month = (
        month_number(months_of(a, "received_at")).to_numpy() - sel.loc[a["creator_id"], "first"].to_numpy()
    )
    pre, post = int((a_month == -1).sum()), int((a_month == 1).sum())
    ratio = post / pre
    se = ratio * np.sqrt(1 / pre + 1 / post)  # delta method, Poisson counts
    assert abs(ratio - truth["did_rate_ratio"]) < 3 * se, (ratio, se, pre, post)
    print(f"allegations g+1 / g-1: {ratio:.3f} +- {se:.3f} ({post} / {pre}, {len(sel)} creators)")
    assert ratio + 3 * se < 1  # and it is a drop
    did = truth["did"]
    assert did["rate_ratio"] == truth["did_rate_ratio"] and did["outcome"] == "allegations"
    for w in did["by_window"].values():
        assert w["n_treated"] > 0 and w["att"] < 0
        assert (
            abs(w["treated_post_expected"] / w["counterfactual_expected"] - truth["did_rate_ratio"]) < 1e-12
        )


def test_prevalence_truth_estimated_by_weighted_sample(tables, ground_truth):
    ps, ct = tables["prevalence_samples"], tables["content"]
    ps = ps.assign(month=months_of(ps, "sampled_at"))
    ct = ct.assign(month=months_of(ct, "published_at"))
    views = ct.groupby(["market", "month"])["views"].sum()
    z = []
    for (m, month), g in ps.groupby(["market", "month"]):
        assert 1000 <= len(g) <= 3000
        # weights are views represented: they add up to the month's views of the market
        assert g["weight"].sum() == pytest.approx(views[(m, month)], rel=1e-9)
        est = (g["weight"] * g["is_violating"]).sum() / g["weight"].sum()
        var = 0.0
        for _, h in g.groupby("stratum"):  # stratified, with-replacement PPS within strata
            share, p = h["weight"].sum() / g["weight"].sum(), h["is_violating"].mean()
            var += share**2 * p * (1 - p) / (len(h) - 1)
        truth = ground_truth["prevalence"][m][month]
        z.append((est - truth) / np.sqrt(var))
        assert (
            g.loc[g["is_violating"], "policy"].notna().all()
            and g.loc[~g["is_violating"], "policy"].isna().all()
        )
    z = np.abs(np.array(z))
    assert len(z) == 6 * 13 + 3
    assert (z < 1.96).mean() > 0.85 and z.max() < 4.5, np.sort(z)[-5:]


def test_signal_precision_recall_by_language_recovered_from_labels(tables, ground_truth):
    sig = ground_truth["signal"]
    sc, lab, ct = tables["signal_scores"], tables["review_labels"], tables["content"]
    assert set(sc["signal"]) == {sig["name"]} and len(sc) == len(ct) and sc["content_id"].is_unique
    j = lab.merge(sc[["content_id", "score"]], on="content_id").merge(
        ct[["content_id", "language"]], on="content_id"
    )
    flagged_all = sc.merge(ct[["content_id", "language"]], on="content_id")
    for lang, truth in sig["by_language"].items():
        # exact: the truth's flagged and scored counts are visible in the data
        g_all = flagged_all[flagged_all["language"] == lang]
        assert truth["n_scored"] == len(g_all)
        assert truth["n_flagged"] == int((g_all["score"] >= sig["threshold"]).sum())
        g = j[j["language"] == lang]
        f, y = g["score"] >= sig["threshold"], g["is_violating"]
        if y.sum() < 30 or f.sum() < 30:
            continue  # too few labels for a meaningful check (minority languages)
        precision, recall = (f & y).sum() / f.sum(), (f & y).sum() / y.sum()
        se_p = np.sqrt(truth["precision"] * (1 - truth["precision"]) / f.sum())
        se_r = np.sqrt(truth["recall"] * (1 - truth["recall"]) / y.sum())
        assert abs(precision - truth["precision"]) < 3.5 * se_p + 0.01, (lang, precision, truth)
        assert abs(recall - truth["recall"]) < 3.5 * se_r + 0.01, (lang, recall, truth)
    # the planted language gap: built for en/de, much worse in Polish
    by = sig["by_language"]
    assert min(by["en"]["precision"], by["de"]["precision"]) > by["pl"]["precision"] + 0.3
    assert min(by["en"]["recall"], by["de"]["recall"]) > by["pl"]["recall"] + 0.2
    assert by["pl"]["n_violating"] >= 200


# ----------------------------------------------------------------------------- determinism and writing


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = generate(tmp_path / "a", seed=11, size=0.12)
    generate(tmp_path / "b", seed=11, size=0.12)
    generate(tmp_path / "c", seed=12, size=0.12)
    ha, hb, hc = tree_hashes(tmp_path / "a"), tree_hashes(tmp_path / "b"), tree_hashes(tmp_path / "c")
    assert len(ha) == 3 * 7 + 7 + 3  # partitions, single tables, ground truth, .complete, .govlib-demo
    assert ha == hb
    assert is_demo_mode(tmp_path / "a", environ={})  # the generator's marker switches demo mode on
    data = [k for k in ha if k.endswith(".parquet")]
    assert all(ha[k] != hc[k] for k in data)
    assert json.loads((tmp_path / "a" / "ground_truth.json").read_text()) == a
    # in creator blocks: deterministic too, other data than the same seed at once
    for name in ("d", "e"):
        generate(tmp_path / name, seed=11, size=0.12, chunk_creators=40)
    hd, he = tree_hashes(tmp_path / "d"), tree_hashes(tmp_path / "e")
    assert hd == he and len(hd) > len(ha)
    assert hd["notices.parquet"] != ha["notices.parquet"]
    with pytest.raises(UsageError, match="chunk_creators"):
        generate(tmp_path / "f", size=0.05, chunk_creators=0)


def test_refuses_to_overwrite_or_to_clobber_foreign_directories(tmp_path):
    out = tmp_path / "demo"
    out.mkdir()
    (out / ".complete").write_text("{}")
    with pytest.raises(DemoDataError, match="--force"):
        generate(out, size=0.05)
    other = tmp_path / "home"
    other.mkdir()
    (other / "thesis.tex").write_text("precious")
    with pytest.raises(DemoDataError, match="does not look like a demo dataset"):
        generate(other, size=0.05, force=True)
    assert (other / "thesis.tex").read_text() == "precious"


def test_failed_run_leaves_old_dataset_and_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    generate(out, seed=3, size=0.05, markets=("IE",))
    before = tree_hashes(out)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gen, "_write_small", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(out, seed=4, size=0.05, markets=("IE",), force=True)
    assert tree_hashes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo"]
    # an incomplete directory is replaced
    monkeypatch.undo()
    (out / ".complete").unlink()
    generate(out, seed=4, size=0.05, markets=("IE",))
    assert (out / ".complete").exists() and tree_hashes(out) != before


def test_cli(tmp_path, capsys):
    from govlib.cli import main

    out = tmp_path / "d"
    assert main(["demo-data", "--out", str(out), "--seed", "9", "--no-wave"]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(
        rf"wrote {re.escape(str(out))}: creators=[\d,]+ content=[\d,]+ .* in [\d.]+ s", line
    ), line
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["seed"] == 9 and truth["emerging_wave"] is None
    n_content = sum(pq.read_metadata(p).num_rows for p in (out / "content").rglob("*.parquet"))
    assert f"content={n_content:,}" in line and 150_000 < n_content < 260_000
    assert main(["demo-data", "--out", str(out)]) == 1
    assert "--force" in capsys.readouterr().err
    assert main(["demo-data", "--out", str(out), "--end-month", "2026-13"]) == 2
    with pytest.raises(SystemExit):  # argparse rejects an unknown scale
        main(["demo-data", "--out", str(out), "--scale", "huge"])
