"""Sections of the expansion-readiness report, without a kernel, on the small demo data (PL against DE).

Planted in the demo: Polish signal quality far below German (ground_truth.json ``signal``),
reviewers in English only and no ``calibrated_on`` in ``params/markets/PL.yaml``, three months of
history (ground_truth.json ``windows``).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from govlib.data.load import open_dataset
from govlib.report.sections import expansion_readiness as report
from govlib.report.sections import open_market_context
from govlib.timeutil import month_bounds

MARKET, MONTH = "PL", "2026-10"
SECTIONS = [
    report.intro,
    report.decisions,
    report.signal_readiness,
    report.policy_mapping,
    report.reviewer_coverage,
    report.enforcement_thresholds,
    report.gaps,
]


@pytest.fixture(scope="module")
def ctxs(demo_dir):
    return {
        lang: open_market_context(MARKET, MONTH, data_dir=str(demo_dir), lang=lang, reference_market="")
        for lang in ("en_GB", "de_DE")
    }


def _table(sec):
    return [b for b in sec.blocks if b[0] == "table"][0][1]


def test_signal_readiness_finds_planted_gap(ctxs, ground_truth):
    ctx = ctxs["en_GB"]
    sec = report.signal_readiness(ctx)
    sig = sec.data["signals"].set_index("language")
    truth = ground_truth["signal"]["by_language"]
    pl = sig.loc["pl"]
    assert pl["signal"] == ground_truth["signal"]["name"]
    assert pl["precision_low"] <= truth["pl"]["precision"] <= pl["precision_high"]
    assert pl["recall_low"] <= truth["pl"]["recall"] <= pl["recall_high"]
    assert pl["decision"] == "no_go"
    table = _table(sec)
    assert list(table["Language"]) == ["Polish"] and list(table["Decision"]) == ["no-go"]


def test_reference_market_parameter_overrides_params(demo_dir):
    ctx = open_market_context(MARKET, MONTH, data_dir=str(demo_dir), lang="en_GB", reference_market="GB")
    a = report.assessments(ctx)
    assert a.ref_code == "GB" and set(a.labelled["market"]) == {"PL", "GB"}
    assert "against United Kingdom" in report.decisions(ctx).text


def test_reviewer_coverage_by_hand(ctxs, demo_dir):
    ctx = ctxs["en_GB"]
    rev = report.reviewer_coverage(ctx).data["reviewers"].set_index("language")
    _s, end = month_bounds(MONTH, ctx.tz)
    content = open_dataset(demo_dir).load("content", market=MARKET, end=end, columns=["language"])
    share = content["language"].value_counts(normalize=True)
    assert rev.loc["pl", "content_share"] == pytest.approx(share["pl"])
    assert not rev.loc["pl", "covered"] and rev.loc["pl", "decision"] == "no_go"  # reviewers: English only


def test_enforcement_thresholds_history_weeks_by_hand(ctxs, demo_dir):
    ctx = ctxs["en_GB"]
    sec = report.enforcement_thresholds(ctx)
    _s, end = month_bounds(MONTH, ctx.tz)
    first = (
        open_dataset(demo_dir).load("content", market=MARKET, columns=["published_at"])["published_at"].min()
    )
    assert sec.data["history_weeks"] == math.floor((end - first) / pd.Timedelta(days=7))
    assert f"{sec.data['history_weeks']} full weeks of history" in sec.text
    cal = sec.data["calibration"]
    assert (cal["decision"] == "no_go").all() and set(cal["reason"]) >= {"defaults_uncalibrated"}


def test_policy_mapping_and_gaps_agree_with_decisions(ctxs):
    ctx = ctxs["en_GB"]
    pol = report.policy_mapping(ctx).data["policies"]
    observed = pol[pol["kind"] == "observed_policy"]
    assert len(observed) and (observed["decision"] == "go").all()
    gaps = report.gaps(ctx)
    g = gaps.data["gaps"]
    assert len(_table(gaps)) == len(g)
    dec = report.decisions(ctx).data["decisions"].set_index("mechanism")
    assert dec["n_gaps"].to_dict() == g.groupby("mechanism").size().reindex(dec.index, fill_value=0).to_dict()
    assert set(dec.index[dec["decision"] == "no_go"]) == set(g["mechanism"])
    assert f"{len(g)} gaps before Poland" in gaps.text


GERMAN = {
    "intro": "Expansionsbereitschaft: Polen",
    "decisions": "Freigabe je Mechanismus",
    "signal_readiness": "Erkennungssignale in der Landessprache",
    "policy_mapping": "Lokale Richtlinien und DSA-Kategorien",
    "reviewer_coverage": "Sprachabdeckung der Moderatoren",
    "enforcement_thresholds": "Durchsetzungsschwellen",
    "gaps": "Lücken und was zu tun ist",
}


@pytest.mark.parametrize("section", SECTIONS, ids=lambda f: f.__name__)
def test_section_is_translated(ctxs, section):
    en, de = section(ctxs["en_GB"]), section(ctxs["de_DE"])
    assert [b[0] for b in en.blocks] == [b[0] for b in de.blocks]
    assert de.text != en.text
    assert GERMAN[section.__name__] in de.text and GERMAN[section.__name__] not in en.text
