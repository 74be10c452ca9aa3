"""Sections of the market report, without a kernel, on the small demo data (market DE; GB for a UK case)."""

from __future__ import annotations

import pytest

from govlib.report import present
from govlib.report.sections import market_report, open_market_context

from .conftest import MONTH, column, local_month_rows, read_table, tables

SECTIONS = [
    "intro",
    "headline",
    "how_to_read",
    "enforcement_mix",
    "notable_changes",
    "emerging_risks",
    "risk_watchlist",
    "notices",
    "appeals",
    "prevalence",
    "account_health",
    "rewards_penalties",
    "content_performance",
    "peer_benchmarks",
]
GERMAN = {  # a msgstr of locales/de_DE each section must show
    "intro": "Creator- und Content-Governance",
    "headline": "Zentrale Kennzahlen",
    "how_to_read": "Prozentpunkten",
    "enforcement_mix": "Maßnahmen und proaktive Erkennung nach Richtlinie",
    "notable_changes": "Auffällige Veränderungen",
    "emerging_risks": "Aufkommende Risiken",
    "risk_watchlist": "Risiko-Beobachtungsliste",
    "notices": "Bearbeitung von Meldungen nach Art der meldenden Stelle",
    "appeals": "Ergebnisse von Einsprüchen nach Entscheidungsart",
    "prevalence": "Prävalenz regelwidriger Inhalte",
    "account_health": "Kontozustand der Creator",
    "rewards_penalties": "Prämien und Sanktionen nach Creator-Stufe",
    "content_performance": "Beanstandete und regelkonforme Inhalte nach Produktkategorie",
    "peer_benchmarks": "Vergleich mit anderen Diensten",
}


@pytest.fixture(scope="module")
def actions(demo_dir, de_en):
    """DE's enforcement actions of the month, read from the Parquet files."""
    return local_month_rows(read_table(demo_dir, "enforcement_actions", "DE"), "actioned_at", de_en.tz)


def shown_count(ctx, n: int) -> str:
    return ctx.fmt.count(n) if n >= ctx.min_cell else f"<{ctx.min_cell}"


@pytest.mark.parametrize("name", SECTIONS)
def test_text_is_translated_in_german(name, de_en, de_de, assert_translated):
    assert_translated(getattr(market_report, name)(de_en), getattr(market_report, name)(de_de), GERMAN[name])


def test_intro_and_how_to_read(de_en):
    text = market_report.intro(de_en).text
    assert text.startswith("# Creator and content governance: Germany, October 2026")
    assert "(Europe/Berlin)" in text and "No data for" not in text  # the demo month has data
    assert f'"{de_en.fmt.na}" means' in market_report.how_to_read(de_en).text


def test_headline_counts_the_month_and_last_month(de_en, demo_dir, actions):
    (df,) = tables(market_report.headline(de_en))
    row = df.set_index("Indicator").loc["Enforcement actions"]
    before = local_month_rows(
        read_table(demo_dir, "enforcement_actions", "DE"), "actioned_at", de_en.tz, "2026-09"
    )
    assert row["October 2026"] == de_en.fmt.count(len(actions))
    assert row["September 2026"] == de_en.fmt.count(len(before))
    assert row["Change on last month"] == "+" + de_en.fmt.percent(len(actions) / len(before) - 1, 1)


def test_enforcement_mix_counts_actions_by_policy(de_en, actions):
    s = market_report.enforcement_mix(de_en)
    shown = column(s, "Actions")
    for policy, n in actions.groupby("policy", observed=True).size().items():
        assert shown[present.label(str, policy)] == shown_count(de_en, n), policy  # str: English labels
    (fig,) = [b[1] for b in s.blocks if b[0] == "figure"]
    assert len(fig.axes) == 2


def test_notable_changes_policy_counts_are_the_months_counts(de_en, demo_dir, actions):
    s = market_report.notable_changes(de_en)
    (df,) = tables(s)
    assert len(df) == len(s.data["changes"]) and (s.data["changes"]["qvalue"] < 0.05).all()
    # the planted scam wave began in September: with the false discovery rate controlled across the
    # table, its growth on last month is not established, its rise on last year (no wave then) is
    before = local_month_rows(
        read_table(demo_dir, "enforcement_actions", "DE"), "actioned_at", de_en.tz, "2025-10"
    )
    rows = df[
        (df["Compared"] == "on last year") & (df["Group"] == "Scam or fraud") & (df["Indicator"] == "Actions")
    ]
    assert len(rows) == 1  # the planted scam wave
    assert rows.iloc[0]["Before"] == de_en.fmt.count((before["policy"] == "scam_fraud").sum())
    assert rows.iloc[0]["Now"] == de_en.fmt.count((actions["policy"] == "scam_fraud").sum())


def test_emerging_risks_lead_with_the_planted_wave(de_en, ground_truth):
    wave = ground_truth["emerging_wave"]
    s = market_report.emerging_risks(de_en)
    (df,) = tables(s)
    assert len(df) == min(10, len(s.data["alerts"]))
    assert (df.iloc[0]["Policy"], df.iloc[0]["Content type"]) == (
        "Scam or fraud",
        wave["content_type"].capitalize(),
    )
    assert len([b for b in s.blocks if b[0] == "figure"]) == 2  # the two strongest series


@pytest.mark.parametrize(
    "ctx_name, policy, content_type",
    [("de_en", "Scam or fraud", "Livestream"), ("de_de", "Betrug oder Täuschung", "Livestream")],
)
def test_alarm_chart_titles_use_the_translated_policy_names(ctx_name, policy, content_type, request):
    ctx = request.getfixturevalue(ctx_name)
    s = market_report.emerging_risks(ctx)
    titles = [b[1].axes[0].get_title() for b in s.blocks if b[0] == "figure"]
    assert titles[0].startswith(f"{policy} ({content_type}), DE:"), titles
    shown = {ctx._(present.VALUE_LABELS[p]) for p in s.data["alerts"]["policy"].head(2)}
    assert all(t.split(" (")[0] in shown for t in titles)
    assert not any("_" in t for t in titles)  # no raw slug such as scam_fraud


def test_risk_watchlist_is_ranked_and_pseudonymised(de_en, actions):
    s = market_report.risk_watchlist(de_en)
    (df,) = tables(s)
    assert df["Rank"].tolist() == [str(i) for i in range(1, 11)]
    assert df["Creator (pseudonym)"].str.fullmatch(r"p_[0-9a-f]{12}").all()
    risk = s.data["watchlist"]["risk"].tolist()
    assert risk == sorted(risk, reverse=True)
    shown = " ".join(df.astype(str).to_numpy().ravel())
    assert not any(c in shown for c in actions["creator_id"].astype(str))


def test_notices_received_by_reporter(de_en, demo_dir):
    notices = local_month_rows(read_table(demo_dir, "notices", "DE"), "received_at", de_en.tz)
    shown = column(market_report.notices(de_en), "Received")
    for reporter, n in notices.groupby("reporter_type").size().items():
        assert shown[reporter.replace("_", " ").capitalize()] == shown_count(de_en, n)
    assert shown["All"] == de_en.fmt.count(len(notices))


def test_appeals_decided_by_decision_mode(de_en, demo_dir):
    appeals = local_month_rows(read_table(demo_dir, "appeals", "DE"), "resolved_at", de_en.tz)
    appeals = appeals[appeals["outcome"] != "pending"]
    modes = read_table(demo_dir, "enforcement_actions", "DE").set_index("action_id")["decision_mode"]
    shown = column(market_report.appeals(de_en), "Appeals decided")
    for mode, n in appeals["action_id"].map(modes).value_counts().items():
        assert shown[mode.capitalize()] == shown_count(de_en, n)


def test_prevalence_interval_covers_the_planted_truth(de_en, ground_truth):
    s = market_report.prevalence(de_en)
    row = s.data["prevalence"].set_index("month").loc[MONTH]
    assert row["ci_low"] <= ground_truth["prevalence"]["DE"][MONTH] <= row["ci_high"]
    assert len(s.data["prevalence"]) == 13 and [b[0] for b in s.blocks].count("figure") == 1
    assert (
        "In October 2026, "
        + de_en.fmt.rate_with_interval(row["value"], row["ci_low"], row["ci_high"], digits=2)
        in s.text
    )


def test_account_health_milestones_agree_with_the_health_report(de_en):
    from govlib.report.sections import creator_health

    ms = tables(market_report.account_health(de_en))[0].set_index("At or below")["Creators"]
    ch = tables(creator_health.milestones(de_en))[0]
    assert ms.to_dict() == ch[ch["Tier"] == "All"].set_index("At or below")["Creators"].to_dict()


def test_rewards_penalties_rewarded_creators_by_tier(de_en, demo_dir):
    rewards = local_month_rows(read_table(demo_dir, "rewards", "DE"), "granted_at", de_en.tz)
    tiers = read_table(demo_dir, "creators", "DE").set_index("creator_id")["tier"]
    rewarded = rewards.drop_duplicates("creator_id")["creator_id"].map(tiers).value_counts()
    shown = column(market_report.rewards_penalties(de_en), "Rewarded")
    for tier, n in rewarded.items():
        assert shown[tier.capitalize()] == shown_count(de_en, n)


def test_content_performance_counts_published_content(de_en, demo_dir):
    content = local_month_rows(read_table(demo_dir, "content", "DE"), "published_at", de_en.tz)
    shown = column(market_report.content_performance(de_en), "Content published")
    for category, n in content.groupby("product_category", observed=True).size().items():
        assert shown[category.replace("_", " ")] == shown_count(de_en, n), category


def test_peer_benchmarks_only_for_dsa_markets(de_en, demo_dir):
    s = market_report.peer_benchmarks(de_en)
    (df,) = tables(s)
    ours = df[df["Source"] == "this report's data"]
    assert set(ours["Service"]) == {"Germany"} and len(ours) == len(set(df["Figure"]))
    assert {"Amazon Store", "Temu", "TikTok", "Zalando"} <= set(df["Service"])
    gb = open_market_context("GB", MONTH, data_dir=str(demo_dir), lang="en_GB")  # UK OSA: no DSA benchmarks
    assert market_report.peer_benchmarks(gb).blocks == []
