"""Sections of the creator health report, without a kernel, on the small demo data (market DE)."""

from __future__ import annotations

import pandas as pd
import pytest

from govlib.metrics import health as m_health
from govlib.report.sections import creator_health
from govlib.timeutil import month_bounds

from .conftest import MONTH, column, read_table, tables

SECTIONS = [
    "intro",
    "score_distribution",
    "deductions_chart",
    "milestones",
    "early_warning",
    "closest_examples",
]
GERMAN = {  # a msgstr of locales/de_DE each section must show
    "intro": "Kontozustand der Creator",
    "score_distribution": "Verteilung der Punktestände",
    "deductions_chart": "Die meisten Creator behalten ihren Startwert",
    "milestones": "Schwellen",
    "early_warning": "Frühwarngruppe",
    "closest_examples": "Am nächsten an der nächsten Schwelle (pseudonymisiert)",
}


@pytest.fixture(scope="module")
def scores(de_en):
    """Health scores from the metric function directly (not through the sections' memo)."""
    _start, end = month_bounds(MONTH, de_en.tz)
    return m_health.score_health(
        de_en.tables["enforcement_actions"],
        de_en.tables["creators"],
        end,
        de_en.params.health,
        market="DE",
        appeals=de_en.tables["appeals"],
    )


@pytest.mark.parametrize("name", SECTIONS)
def test_text_is_translated_in_german(name, de_en, de_de, assert_translated):
    assert_translated(
        getattr(creator_health, name)(de_en), getattr(creator_health, name)(de_de), GERMAN[name]
    )


def test_intro_states_the_market_settings(de_en):
    hs = de_en.params.health
    text = creator_health.intro(de_en).text
    assert text.startswith("# Creator account health: Germany, October 2026")
    count = de_en.fmt.count  # the market's number format: 1.000 in DE
    assert f"starts at {count(hs.start_score)} of {count(hs.max_score)} points" in text
    assert (
        f"same policy {count(hs.repeat_policy_limit)} times in {count(hs.repeat_policy_window_days)} days"
        in text
    )


def test_score_distribution_counts_every_creator_of_the_market(de_en, demo_dir):
    s = creator_health.score_distribution(de_en)
    raw = read_table(demo_dir, "creators", "DE")
    _start, end = month_bounds(MONTH, de_en.tz)
    by_tier = raw[pd.to_datetime(raw["registered_at"], utc=True) < end].groupby("tier").size()
    shown = column(s, "Creators scored")
    assert {"Established", "New", "Rising", "Top"} == set(shown)
    for tier, n in by_tier.items():
        assert shown[tier.capitalize()] == (
            de_en.fmt.count(n) if n >= de_en.min_cell else f"<{de_en.min_cell}"
        )
    assert s.data["distribution"]["creators"].sum() == by_tier.sum()


def test_score_distribution_median_is_the_scores_median(de_en, scores):
    median = column(creator_health.score_distribution(de_en), "Median")
    for tier, m in scores.groupby("tier")["score"].median().items():
        assert median[tier.capitalize()] == de_en.fmt.count(m)


def test_deductions_chart_shows_every_creator_with_live_deductions(de_en, scores):
    s = creator_health.deductions_chart(de_en)
    n = int((scores["score"] < de_en.params.health.start_score).sum())
    assert n >= de_en.min_cell and s.data["deducted"]["creators"].sum() == n  # a frequency table, per score
    per_score = (
        scores.loc[scores["score"] < de_en.params.health.start_score, "score"].value_counts().sort_index()
    )
    assert s.data["deducted"].set_index("score")["creators"].to_dict() == per_score.to_dict()
    (fig,) = [b[1] for b in s.blocks if b[0] == "figure"]
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == n  # histogram bars add up to the creators
    assert len(ax.get_lines()) == len(de_en.params.health.milestones)  # one dashed line per milestone


def test_milestones_all_tiers_match_a_hand_count(de_en, scores, demo_dir):
    content = read_table(demo_dir, "content", "DE")
    _start, end = month_bounds(MONTH, de_en.tz)
    published = pd.to_datetime(content["published_at"], utc=True)
    active = set(content.loc[(published > end - pd.Timedelta(days=90)) & (published <= end), "creator_id"])
    act = scores[scores["creator_id"].isin(active)]
    df = tables(creator_health.milestones(de_en))[0]
    every = df[df["Tier"] == "All"].set_index("At or below")
    for milestone in de_en.params.health.milestones:
        n = int(((act["score"] <= milestone) | act["ecommerce_removed"]).sum())  # the 6-in-90 rule counts too
        assert every.loc[str(milestone), "Creators"] == (
            de_en.fmt.count(n) if n >= de_en.min_cell else f"<{de_en.min_cell}"
        )
        if n >= de_en.min_cell:
            assert every.loc[str(milestone), "Share of active creators"].startswith(
                de_en.fmt.percent(n / len(act), 1)
            )


def test_early_warning_any_reason_counts_distinct_creators(de_en, scores):
    warn = m_health.list_early_warning(scores, de_en.tables["enforcement_actions"], de_en.params.health)
    shown = column(creator_health.early_warning(de_en), "Creators")
    assert shown["Any reason"] == de_en.fmt.count(warn["creator_id"].nunique())
    assert shown["Next milestone"] == de_en.fmt.count((warn["reason"] == "milestone").sum())


def test_closest_examples_are_pseudonymised_and_closest(de_en, scores):
    warn = m_health.list_early_warning(scores, de_en.tables["enforcement_actions"], de_en.params.health)
    s = creator_health.closest_examples(de_en)
    (df,) = tables(s)
    assert len(df) == 10
    assert sorted(df["Points to next milestone"].astype(int)) == sorted(warn["points_to_next"].nsmallest(10))
    assert df["Creator (pseudonym)"].str.fullmatch(r"p_[0-9a-f]{12}").all()
    shown = " ".join(df.astype(str).to_numpy().ravel())
    assert not any(str(c) in shown for c in warn["creator_id"])  # no raw creator id on the page
    assert "creator_id" not in s.data["examples"]
