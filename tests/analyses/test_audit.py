"""Audit-sample planner: sizes against the closed form by hand, the sample, its export and import."""

from __future__ import annotations

import csv
import math
import shutil

import pandas as pd
import pytest

from govlib.analyses import audit as A
from govlib.analyses import feedback as F

MONTH = "2026-10"
TZ = "Europe/Berlin"
STAMP = "2026-11-02T09:00:00Z"
Z95 = 1.959963984540054


def _tables() -> dict:
    """40 scam_fraud items in de, 700 in en, 3 counterfeit_ip in de; one action outside the month."""
    ids = [f"c{i:04d}" for i in range(744)]
    lang = ["de"] * 40 + ["en"] * 700 + ["de"] * 3 + ["de"]
    content = pd.DataFrame(
        {
            "content_id": ids,
            "market": "DE",
            "language": lang,
            "published_at": pd.Timestamp("2026-10-03T10:00Z"),
        }
    )
    policy = ["scam_fraud"] * 740 + ["counterfeit_ip"] * 3 + ["scam_fraud"]
    at = [pd.Timestamp("2026-10-05T10:00Z")] * 743 + [pd.Timestamp("2026-09-05T10:00Z")]
    actions = pd.DataFrame({"content_id": ids, "market": "DE", "policy": policy, "actioned_at": at})
    actions = pd.concat([actions, actions.iloc[:5]])  # a second action on the same item counts it once
    return {"content": content, "enforcement_actions": actions}


def _by_hand(margin: float, N: int, p: float = 0.5, z: float = Z95) -> int:
    n0 = z * z * p * (1 - p) / margin**2
    return min(N, math.ceil(n0 / (1 + (n0 - 1) / N)))


def test_plan_sizes_are_the_closed_form_with_finite_population_correction():
    plan = A.plan_audit(_tables(), "DE", MONTH, TZ, 0.02)
    got = {(r.policy, r.language): (r.population, r.sample_size) for r in plan.itertuples()}
    assert got == {
        ("counterfeit_ip", "de"): (3, 3),
        ("scam_fraud", "de"): (40, _by_hand(0.02, 40)),
        ("scam_fraud", "en"): (700, _by_hand(0.02, 700)),
    }
    assert got[("scam_fraud", "en")][1] == 543  # 2400.91 / (1 + 2399.91 / 700) = 542.2, rounded up
    row = plan[plan.language == "en"].iloc[0]
    assert row.weight == pytest.approx(700 / 543)
    wide = A.plan_audit(_tables(), "DE", MONTH, TZ, 0.1, expected=0.2, confidence=0.9)
    n = dict(zip(wide.language + wide.policy, wide.sample_size))
    assert n["enscam_fraud"] == _by_hand(0.1, 700, p=0.2, z=1.6448536269514722)


def test_prevalence_strata_are_languages_of_the_months_content():
    plan = A.plan_audit(_tables(), "DE", MONTH, TZ, 0.05, target="prevalence")
    assert list(plan.language) == ["de", "en"] and set(plan.policy) == {A.ANY_POLICY}
    assert list(plan.population) == [44, 700]


def test_sample_is_uniform_within_strata_sized_as_planned_and_seeded():
    t = _tables()
    plan = A.plan_audit(t, "DE", MONTH, TZ, 0.05)
    items = A.draw_audit_sample(t, plan, TZ)
    assert items == A.draw_audit_sample(t, plan, TZ)
    df = pd.DataFrame(items).merge(t["content"][["content_id", "language"]], on="content_id")
    drawn = df.groupby(["suggested_policy", "language"]).size().to_dict()
    assert drawn == {(r.policy, r.language): r.sample_size for r in plan.itertuples()}
    assert not df.duplicated(["content_id", "suggested_policy"]).any()
    assert {i["source"] for i in items} == {"audit_sample"}


def test_export_round_trip_through_the_review_queue(demo_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(demo_dir, data)
    plan, paths = A.export_audit_sample(
        "DE", MONTH, 0.05, data_dir=data, out_dir=tmp_path / "q", exported_at=STAMP
    )
    again, paths2 = A.export_audit_sample(
        "DE", MONTH, 0.05, data_dir=data, out_dir=tmp_path / "q2", exported_at=STAMP
    )
    assert paths["csv"].read_bytes() == paths2["csv"].read_bytes()
    rows = list(csv.DictReader(paths["csv"].open(encoding="utf-8")))
    assert len(rows) == int(plan["sample_size"].sum())
    assert {r["source"] for r in rows} == {"audit_sample"}
    assert all(r["creator"].startswith("p_") for r in rows)  # pseudonyms, never creator ids
    saved = pd.read_csv(paths["plan"])
    assert saved["sample_size"].tolist() == plan["sample_size"].tolist()
    for r in rows[:7]:
        r["is_violating"] = "yes"
    with paths["csv"].open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=F.QUEUE_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    res = F.import_labels(paths["csv"], data)
    assert res.added == 7 and not res.rejected
    labels = pd.read_parquet(data / "review_labels.parquet")
    assert (labels["source"] == "audit_sample").sum() == 7
    _, xl = A.export_audit_sample(
        "DE", MONTH, 0.05, data_dir=data, out_dir=tmp_path / "x", fmt="xlsx", exported_at=STAMP
    )
    assert set(xl) == {"plan", "xlsx"} and xl["xlsx"].stat().st_size > 0


@pytest.mark.parametrize(
    "kwargs,words",
    [
        ({"margin": 0.0}, "--precision must be a margin"),
        ({"margin": 0.7}, "--precision must be a margin"),
        ({"margin": 0.02, "target": "recall"}, "--target must be one of precision, prevalence"),
        ({"margin": 0.02, "fmt": "pdf"}, "--format must be csv or xlsx"),
        ({"margin": 0.02, "expected": 1.5}, "--expected must be a proportion"),
    ],
)
def test_bad_arguments_are_usage_errors(kwargs, words, demo_dir, tmp_path):
    from govlib.errors import UsageError

    margin = kwargs.pop("margin")
    with pytest.raises(UsageError, match=words):
        A.export_audit_sample("DE", MONTH, margin, data_dir=demo_dir, out_dir=tmp_path, **kwargs)
    assert not any(tmp_path.iterdir())
