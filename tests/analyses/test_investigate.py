"""Investigations: case validation, timeline, related creators, health trajectory, the notebook run."""

from __future__ import annotations

import pandas as pd
import pytest

from govlib.analyses import investigate as I
from govlib.cli import main as cli_main
from govlib.data.load import open_dataset
from govlib.errors import UsageError
from govlib.params import HealthSettings

T0 = pd.Timestamp("2026-10-01", tz="UTC")


def _case() -> I.Case:
    """Hand-made case: creator A acted on twice in October, B and C acted on in the same window."""
    content = pd.DataFrame(
        {
            "content_id": ["c1", "c2", "c3", "c4"],
            "creator_id": ["A", "A", "B", "C"],
            "market": "DE",
            "content_type": "short_video",
            "views": [10, 20, 30, 40],
            "gmv_eur": [1.0, 2.0, 3.0, 4.0],
            "product_category": ["toys", "beauty", "toys", "food"],
            "published_at": [T0 + pd.Timedelta(days=d) for d in (1, 2, 3, 4)],
        }
    )
    acts = pd.DataFrame(
        {
            "action_id": ["a1", "a2", "a3", "a4"],
            "creator_id": ["A", "A", "B", "C"],
            "content_id": ["c1", "c2", "c3", "c4"],
            "market": "DE",
            "policy": ["scam_fraud", "counterfeit_ip", "scam_fraud", "scam_fraud"],
            "severity": "high",
            "action_type": "content_removed",
            "health_points": [30, 50, 10, 10],
            "detection_source": "automated",
            "decision_mode": "automated",
            "actioned_at": [T0 + pd.Timedelta(days=d, hours=1) for d in (1, 9, 3, 4)],
        }
    )
    creators = pd.DataFrame(
        {"creator_id": ["A"], "market": "DE", "tier": "new", "registered_at": [T0 - pd.Timedelta(days=30)]}
    )
    appeals = pd.DataFrame(
        {
            "appeal_id": ["p1"],
            "action_id": ["a2"],
            "creator_id": ["A"],
            "market": "DE",
            "channel": "internal_complaint",
            "submitted_at": [T0 + pd.Timedelta(days=10)],
            "resolved_at": [T0 + pd.Timedelta(days=12)],
            "outcome": ["upheld"],
        }
    )
    mine = acts[acts["creator_id"] == "A"]
    return I.Case(
        mode="creator",
        market="DE",
        tz="Europe/Berlin",
        start=T0,
        end=T0 + pd.Timedelta(days=31),
        creator="A",
        creators=["A"],
        tables={
            "content": content[content["creator_id"] == "A"],
            "enforcement_actions": mine,
            "market_actions": acts,
            "market_content": content,
            "creators": creators,
            "creator_actions": mine,
            "appeals": appeals,
            "creator_appeals": appeals,
        },
    )


def test_timeline_order_and_events():
    tl = I.build_timeline(_case())
    assert tl["event"].tolist() == [
        "content_published",
        "action",
        "content_published",
        "action",
        "appeal_submitted",
        "appeal_resolved",
    ]
    assert tl["at"].is_monotonic_increasing
    assert tl.loc[tl["event"] == "appeal_submitted", "policy"].tolist() == [
        "counterfeit_ip"
    ]  # via the action


def test_related_creators_by_hand():
    rel = I.find_related_creators(_case())
    # A's actioned content is in toys and beauty; B (toys) shares one, C (food) none
    assert rel["creator_id"].tolist() == ["B"]
    assert rel.iloc[0]["shared"] == "toys" and rel.iloc[0]["actions"] == 1
    by_policy = I.find_related_creators(_case(), by="policy")
    assert by_policy["creator_id"].tolist() == ["B", "C"]  # both acted on for scam_fraud
    with pytest.raises(UsageError):
        I.find_related_creators(_case(), by="tier")


def test_health_trajectory_by_hand():
    settings = HealthSettings()  # start 200, deductions count 90 days
    h = I.trace_health(_case(), settings, freq_days=7)
    at = h["at"].tolist()
    assert at[0] == T0 and at[-1] == T0 + pd.Timedelta(days=31) - pd.Timedelta(microseconds=1)
    score = dict(zip(h["at"], h["score"]))
    assert score[T0] == 200  # nothing yet
    assert score[T0 + pd.Timedelta(days=7)] == 200 - 30  # a1 on day 1
    assert score[T0 + pd.Timedelta(days=14)] == 200 - 30 - 50  # a2 on day 9 (its appeal was upheld)


def test_summary_counts():
    s = dict(zip(*I.summarise_case(_case()).T.values))
    assert s["actions"] == 2 and s["content_published"] == 2 and s["appeals"] == 1
    assert s["appeals_overturned"] == 0 and s["views_of_content"] == 30
    assert s["policy:scam_fraud"] == 1 and s["policy:counterfeit_ip"] == 1


# ------------------------------------------------------------------------------ on the demo data


@pytest.fixture(scope="module")
def ds(demo_dir):
    return open_dataset(demo_dir)


def test_validation_errors(ds):
    with pytest.raises(I.InvestigationError, match="not in the creators table"):
        I.validate_case(ds, creator="cr_9999999")
    with pytest.raises(UsageError, match="either --creator"):
        I.validate_case(ds, creator="cr_0000001", policy="scam_fraud")
    with pytest.raises(UsageError, match="either --creator"):
        I.validate_case(ds)
    with pytest.raises(UsageError, match="policy .jaywalking.*allowed: prohibited_product"):
        I.validate_case(ds, policy="jaywalking", market="DE", date_from="2026-10-01", date_to="2026-10-31")
    with pytest.raises(UsageError, match="before"):
        I.validate_case(ds, policy="scam_fraud", market="DE", date_from="2026-10-31", date_to="2026-10-01")
    with pytest.raises(UsageError, match="calendar date"):
        I.validate_case(ds, policy="scam_fraud", market="DE", date_from="2026-02-30", date_to="2026-03-01")
    with pytest.raises(I.InvestigationError, match="no data"):
        I.validate_case(ds, policy="scam_fraud", market="DE", date_from="2030-01-01", date_to="2030-01-31")
    with pytest.raises(I.InvestigationError, match="unknown market"):
        I.validate_case(ds, policy="scam_fraud", market="ZZ", date_from="2026-10-01", date_to="2026-10-31")


@pytest.mark.parametrize("policy", ["a/b", "../../x", "..", "scam_fraud\\..\\x"])
def test_case_id_is_one_safe_folder_name(policy, tmp_path):
    name = I.case_id(None, policy, "../DE", "2026/10/01", "2026-10-31")
    assert "/" not in name and "\\" not in name and ".." not in name
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    assert I.case_id("cr/../1") == "creator-cr____1"


def test_cli_error_is_clear(demo_dir, capsys):
    code = cli_main(["investigate", "--creator", "cr_9999999", "--data", str(demo_dir)])
    err = capsys.readouterr().err
    assert code == 1 and "cr_9999999" in err and "Traceback" not in err


def test_policy_case_on_demo_wave(ds, ground_truth):
    wave = ground_truth["emerging_wave"]
    case = I.open_case(
        ds,
        policy=wave["policy"],
        market=wave["market"],
        date_from=f"{wave['months'][-1]}-01",
        date_to=f"{wave['months'][-1]}-31",
    )
    acts = case.tables["enforcement_actions"]
    assert len(acts) and (acts["policy"] == wave["policy"]).all() and (acts["market"] == wave["market"]).all()
    assert sorted(acts["creator_id"].unique()) == case.creators
    tl = I.build_timeline(case)
    assert (tl["event"] == "action").sum() == len(acts)
    assert set(case.tables["content"]["content_id"]) >= set(acts["content_id"].dropna())


@pytest.mark.slow
def test_run_investigation_writes_confidential_case(ds, demo_dir, tmp_path):
    import nbformat

    acts = ds.load("enforcement_actions", market="PL", ordered=False)
    creator = min(acts["creator_id"].value_counts().loc[lambda s: s == s.max()].index)
    from govlib.report.batch.investigation import run_investigation

    folder = run_investigation(creator=creator, data_dir=demo_dir, out_dir=tmp_path / "investigations")
    assert folder == tmp_path / "investigations" / f"creator-{creator}"
    html = (folder / "investigation.html").read_text(encoding="utf-8")
    assert "CONFIDENTIAL — contains identifiers" in html and creator in html
    nb = nbformat.read(str(folder / "investigation.ipynb"), as_version=4)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type in ("error", "stream")]  # no errors, no logging
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # timeline and health figures
