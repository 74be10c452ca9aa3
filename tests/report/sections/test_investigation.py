"""Sections of an investigation, without a kernel, on the small demo data.

Two cases: the PL creator with the most actions (creator mode) and the planted DE scam wave
(policy mode, ground_truth.json ``emerging_wave``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from govlib.data.load import open_dataset
from govlib.report.sections import investigation as report

SECTIONS = [
    report.header,
    report.case_summary,
    report.timeline,
    report.health_trajectory,
    report.related_creators,
]


@pytest.fixture(scope="module")
def ds(demo_dir):
    return open_dataset(demo_dir)


@pytest.fixture(scope="module")
def creator(ds):
    acts = ds.load("enforcement_actions", market="PL", ordered=False)
    return min(acts["creator_id"].value_counts().loc[lambda s: s == s.max()].index)


@pytest.fixture(scope="module")
def creator_ctxs(demo_dir, creator):
    out = {
        lang: report.open_investigation_context(creator=creator, data_dir=str(demo_dir), lang=lang)
        for lang in ("en_GB", "de_DE")
    }
    yield out
    plt.close("all")


@pytest.fixture(scope="module")
def wave_ctx(demo_dir, ground_truth):
    w = ground_truth["emerging_wave"]
    yield report.open_investigation_context(
        policy=w["policy"],
        market=w["market"],
        date_from="2026-10-01",
        date_to="2026-10-31",
        data_dir=str(demo_dir),
        lang="",
    )
    plt.close("all")


def test_creator_case_summary_by_hand(creator_ctxs, creator, ds):
    ctx = creator_ctxs["en_GB"]
    sec = report.case_summary(ctx)
    acts = ds.load("enforcement_actions", market="PL", ordered=False)
    mine = acts[acts["creator_id"] == creator]
    summary = sec.data["summary"].set_index("item")["value"]
    assert summary["actions"] == len(mine) and summary["creators"] == 1
    table = [b for b in sec.blocks if b[0] == "table"][0][1].set_index("Item")["Value"]
    assert table["Enforcement actions"] == ctx.fmt.count(len(mine))
    assert f"{len(mine)} enforcement actions between" in sec.text
    assert creator in report.header(ctx).text  # identifiers are the point of an investigation


def test_creator_timeline_and_health(creator_ctxs, creator, ds):
    ctx = creator_ctxs["en_GB"]
    sec = report.timeline(ctx)
    tl = sec.data["timeline"]
    n_actions = (ds.load("enforcement_actions", market="PL", ordered=False)["creator_id"] == creator).sum()
    assert (tl["event"] == "action").sum() == n_actions and tl["at"].is_monotonic_increasing
    shown = [b for b in sec.blocks if b[0] == "table"][0][1]
    assert len(shown) == min(len(tl), report.MAX_ROWS)
    assert set(shown["Creator"]) <= {creator, ""}
    health = report.health_trajectory(ctx)
    assert set(health.data["health"]["creator_id"]) == {creator}
    assert (health.data["health"]["score"] <= ctx.params.health.start_score).all()


def test_policy_case_on_planted_wave(wave_ctx, ground_truth, ds):
    w = ground_truth["emerging_wave"]
    ctx = wave_ctx
    assert ctx.language == "en_GB" and ctx.market == w["market"] and ctx.tz == "Europe/Berlin"
    acts = ctx.tables["enforcement_actions"]
    assert (acts["policy"] == w["policy"]).all()
    tl = report.timeline(ctx)
    assert len(tl.data["timeline"]) > report.MAX_ROWS
    assert f"Showing the first 200 of {len(tl.data['timeline']):,} events." in tl.text
    # health: the TOP_HEALTH most actioned creators of the policy, ties by id
    counts = acts.groupby("creator_id").size()
    top = sorted(counts.index, key=lambda c: (-counts[c], c))[: report.TOP_HEALTH]
    assert report.health_creators(ctx) == top
    related = report.related_creators(ctx).data["related"]
    assert not set(related["creator_id"]) & set(ctx.case.creators)
    assert "Scope: policy Scam or fraud in Germany" in report.header(ctx).text


GERMAN = {
    "header": "VERTRAULICH — enthält Kennungen",
    "case_summary": "Fallzusammenfassung",
    "timeline": "## Zeitverlauf",
    "health_trajectory": "Verlauf des Kontozustands",
    "related_creators": "Verbundene Creator",
}


@pytest.mark.parametrize("section", SECTIONS, ids=lambda f: f.__name__)
def test_section_is_translated(creator_ctxs, section):
    en, de = section(creator_ctxs["en_GB"]), section(creator_ctxs["de_DE"])
    assert [b[0] for b in en.blocks] == [b[0] for b in de.blocks]
    assert de.text != en.text
    assert GERMAN[section.__name__] in de.text and GERMAN[section.__name__] not in en.text


def test_case_context_is_a_report_context(creator_ctxs):
    from govlib.report.sections import ReportContext

    ctx = creator_ctxs["en_GB"]
    assert isinstance(ctx, ReportContext) and ctx.tables is ctx.case.tables and ctx.cube is None
    assert isinstance(report.timeline_of(ctx), pd.DataFrame) and report.timeline_of(
        ctx
    ) is report.timeline_of(ctx)
