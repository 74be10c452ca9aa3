"""Import of real DSA Transparency Database rows (tests/fixtures/dsa/sor_rows, see PROVENANCE.md).

Expected values are computed directly from the CSVs with pandas and json, with the mapping
rules of docs/dsa.md written out by hand below, independently of the DuckDB SQL of the import.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from paths import FIXTURES

from govlib import cli
from govlib.dsa import dataset_source, section_available
from govlib.dsa.sor import CATEGORIES_V2, SorImportError, import_dumps
from govlib.dsa.synth import build_dump, write_synthetic_dump

ROWS = FIXTURES / "dsa" / "sor_rows"
F_V1 = [ROWS / f"sor-global-2024-03-14-full-{p}.csv" for p in ("00000-00000", "00000-00001", "00001-00001")]
F_V2 = [ROWS / "sor-global-2025-07-01-full-00000-00000.csv"]


def _first_line_plus(path: Path, n: int) -> bytes:
    lines = path.read_bytes().split(b"\n")
    return b"\n".join(lines[: n + 1]) + b"\n"  # header + first n rows (these rows have no inner newlines)


@pytest.fixture(scope="module")
def dumps(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("dumps")
    v1 = build_dump(d / "sor-global-2024-03-14-full.zip", [
        [(F_V1[0].name, F_V1[0]), (F_V1[1].name, F_V1[1])],
        # planted: the first row of part 0 again, in part 1 (a duplicate across parts)
        [(F_V1[2].name, F_V1[2]), ("sor-global-2024-03-14-full-00001-00002.csv", _first_line_plus(F_V1[0], 1))],
    ])  # fmt: skip
    v2 = build_dump(d / "sor-global-2025-07-01-full.zip", [[(F_V2[0].name, F_V2[0])]])
    return [v1, v2]


@pytest.fixture(scope="module")
def imported(dumps, tmp_path_factory):
    out = tmp_path_factory.mktemp("imported") / "ds"
    summary = import_dumps(dumps, out)
    return out, summary


def _direct() -> pd.DataFrame:
    """All real rows, first occurrence of each uuid, one row per market (pandas + json)."""
    raw = pd.concat(
        [pd.read_csv(f, dtype=str, keep_default_na=False) for f in F_V1 + F_V2], ignore_index=True
    )
    raw = raw.drop_duplicates("uuid", keep="first")
    raw["market"] = raw["territorial_scope"].map(
        lambda s: sorted({("GR" if m == "EL" else m) for m in json.loads(s)})
    )
    return raw.explode("market")


def _action_type(r) -> str:
    vis = json.loads(r.decision_visibility) if r.decision_visibility else []
    if (
        r.decision_account == "DECISION_ACCOUNT_TERMINATED"
        or r.decision_provision == "DECISION_PROVISION_TOTAL_TERMINATION"
    ):
        return "account_banned"
    if (
        r.decision_account == "DECISION_ACCOUNT_SUSPENDED"
        or r.decision_provision == "DECISION_PROVISION_TOTAL_SUSPENSION"
    ):
        return "account_suspended"
    if r.decision_provision:
        return "feature_restricted"
    if r.decision_monetary:
        return "commission_withheld"
    if {"DECISION_VISIBILITY_CONTENT_REMOVED", "DECISION_VISIBILITY_CONTENT_DISABLED"} & set(vis):
        return "content_removed"
    return "visibility_limited" if vis else "warning"


# The categories present in the real rows -> policy (docs/dsa.md), written out by hand.
POLICY_OF = {
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE": "other",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD": "scam_fraud",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS": "minor_safety",
    "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT": "other",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS": "other",
    "STATEMENT_CATEGORY_SELF_HARM": "dangerous_activity",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH": "hate_harassment",
    "STATEMENT_CATEGORY_VIOLENCE": "dangerous_activity",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS": "counterfeit_ip",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE": "hate_harassment",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC": "other",
}


def _policy(r) -> str:
    if "KEYWORD_ADULT_SEXUAL_MATERIAL" in (r.category_specification or ""):
        return "adult_content"
    return POLICY_OF[r.category]


def test_counts_match_direct_computation(imported):
    out, summary = imported
    ea = pd.read_parquet(out / "enforcement_actions.parquet")
    direct = _direct()
    assert summary.rows_read == 201  # 200 real rows + 1 planted
    assert len(ea) == len(direct) == summary.rows_written
    assert Counter(ea["market"]) == Counter(direct["market"]) == Counter(summary.rows_by_market)
    assert Counter(ea["action_type"]) == Counter(direct.apply(_action_type, axis=1))
    assert Counter(ea["policy"]) == Counter(direct.apply(_policy, axis=1))
    # per market x action type x policy
    got = Counter(zip(ea["market"], ea["action_type"], ea["policy"]))
    exp = Counter(zip(direct["market"], direct.apply(_action_type, axis=1), direct.apply(_policy, axis=1)))
    assert got == exp
    assert "EL" not in set(ea["market"])


def test_duplicates_counted_and_dropped(imported):
    out, summary = imported
    # one duplicate uuid is in the published file itself (03b1b1c9-...), one was planted across parts
    assert summary.duplicates_dropped == 2
    ea = pd.read_parquet(out / "enforcement_actions.parquet")
    assert ea["action_id"].is_unique
    assert ea["sor_uuid"].nunique() == 199
    first = pd.read_csv(F_V1[0], dtype=str, keep_default_na=False).iloc[0]
    assert (ea["sor_uuid"] == first["uuid"]).sum() == len(json.loads(first["territorial_scope"]))


def test_v1_and_v2_categories_both_map(imported):
    out, _ = imported
    ea = pd.read_parquet(out / "enforcement_actions.parquet")
    assert ea["dsa_category"].notna().all() and ea["policy"].notna().all()
    assert set(ea["dsa_category"]) <= set(CATEGORIES_V2)
    assert set(ea["dsa_category_schema"]) == {"v1", "v2"}
    v1 = ea.drop_duplicates("sor_uuid").set_index("dsa_category_raw")["dsa_category"]
    assert set(v1.loc["STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE"]) == {
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    }
    assert set(v1.loc["STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT"]) == {
        "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"
    }
    # v2-only category from the 2025 file maps to itself
    assert set(v1.loc["STATEMENT_CATEGORY_CYBER_VIOLENCE"]) == {"STATEMENT_CATEGORY_CYBER_VIOLENCE"}


def test_other_mappings(imported):
    out, _ = imported
    ea = (
        pd.read_parquet(out / "enforcement_actions.parquet").drop_duplicates("sor_uuid").set_index("sor_uuid")
    )
    direct = _direct().drop_duplicates("uuid").set_index("uuid")
    exp_mode = direct["automated_decision"].map(
        {"AUTOMATED_DECISION_FULLY": "automated", "AUTOMATED_DECISION_PARTIALLY": "hybrid",
         "AUTOMATED_DECISION_NOT_AUTOMATED": "human"})  # fmt: skip
    assert (ea["decision_mode"] == exp_mode.loc[ea.index]).all()
    exp_src = [("user_report" if s == "SOURCE_ARTICLE_16" else "automated" if a == "Yes" else "proactive_review")
               for s, a in zip(direct["source_type"], direct["automated_detection"])]  # fmt: skip
    assert (ea["detection_source"] == pd.Series(exp_src, index=direct.index).loc[ea.index]).all()
    assert set(ea["ground"]) == {"terms_of_service"}  # every real row is DECISION_GROUND_INCOMPATIBLE_CONTENT
    assert (
        ea["actioned_at"] == pd.to_datetime(direct.loc[ea.index, "application_date"]).dt.tz_localize("UTC")
    ).all()
    assert (ea["detected_at"] <= ea["actioned_at"]).all()
    assert ea["n_markets"].max() == 30


def test_contract_tables_and_metadata(imported):
    out, summary = imported
    meta = dataset_source(out)
    assert meta["source"] == "dsa_transparency_database"
    assert "counts once in each" in meta["multi_market_rows"]
    assert meta["counts"]["duplicates_dropped"] == 2
    assert not section_available(meta, "appeal") and not section_available(meta, "creator")
    assert section_available({}, "appeal")
    ea = pd.read_parquet(out / "enforcement_actions.parquet")
    content = pd.read_parquet(out / "content.parquet")
    creators = pd.read_parquet(out / "creators.parquet")
    assert set(ea["creator_id"]) == set(creators["creator_id"])
    assert set(ea["content_id"].dropna()) == set(content["content_id"])
    assert content["language"].str.fullmatch(r"[a-z]{2}").all()
    # content rows only where language is given: none of the 2025 rows has one
    assert not content["content_id"].str.startswith(tuple(pd.read_csv(F_V2[0], dtype=str)["uuid"])).any()
    assert not any("creator" in c and "uid" in c for c in ea.columns)


def test_validates_against_the_contract(imported):
    validate = pytest.importorskip("govlib.data.validate")
    out, _ = imported
    problems = list(validate.validate_dataset(out))
    assert problems == []


def test_deterministic(dumps, imported, tmp_path):
    out, _ = imported
    again = tmp_path / "again"
    import_dumps(dumps, again)
    for name in ("enforcement_actions.parquet", "content.parquet", "creators.parquet", "dataset.json"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_filters(dumps, tmp_path):
    s = import_dumps(dumps, tmp_path / "tt", platforms=["tiktok"], date_from=pd.Timestamp("2024-03-13").date(),
                     date_to=pd.Timestamp("2024-03-13").date())  # fmt: skip
    direct = _direct()
    exp = direct[
        (direct["platform_name"] == "TikTok") & direct["application_date"].str.startswith("2024-03-13")
    ]
    assert s.rows_written == len(exp) > 0
    s2 = import_dumps(dumps, tmp_path / "cat", categories=["SCOPE_OF_PLATFORM_SERVICE"])
    # the v1 name selects through its v2 equivalent (OTHER_VIOLATION_TC), v2 rows included
    exp2 = direct[direct["category"].isin(["STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
                                            "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
                                            "STATEMENT_CATEGORY_OTHER_VIOLATION_TC"])]  # fmt: skip
    assert s2.rows_written == len(exp2)


def test_light_dump_refused(tmp_path, capsys):
    light = pd.read_csv(F_V1[0], dtype=str, keep_default_na=False).drop(columns="territorial_scope")
    p = build_dump(
        tmp_path / "sor-global-2024-03-14-full.zip", [[("x.csv", light.to_csv(index=False).encode())]]
    )
    with pytest.raises(SorImportError, match="light"):
        import_dumps([p], tmp_path / "out")
    named = tmp_path / "sor-global-2024-03-14-light.zip"
    p.rename(named)
    rc = cli.main(["dsa", "import", "--dump", str(named), "--out", str(tmp_path / "out2")])
    err = capsys.readouterr().err
    assert rc == 1 and "light" in err and "full" in err and "Traceback" not in err


def test_unknown_values_named(tmp_path):
    bad = pd.read_csv(F_V1[0], dtype=str, keep_default_na=False)
    bad.loc[10:12, "category"] = "STATEMENT_CATEGORY_MADE_UP"  # rows 0-1 share a uuid in the source
    p = build_dump(
        tmp_path / "sor-global-2024-03-14-full.zip", [[("x.csv", bad.to_csv(index=False).encode())]]
    )
    with pytest.raises(SorImportError, match=r"column 'category': 3 row\(s\).*STATEMENT_CATEGORY_MADE_UP"):
        import_dumps([p], tmp_path / "out")
    assert not (tmp_path / "out" / "enforcement_actions.parquet").exists()


def test_cli_prints_counts(dumps, tmp_path, capsys):
    rc = cli.main(
        ["dsa", "import", "--dump", *map(str, dumps), "--out", str(tmp_path / "o"), "--no-validate"]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "rows read:           201" in out and "duplicates dropped:  2" in out
    assert "  DE  " in out


def test_scale_synthetic_dump(tmp_path):
    p = write_synthetic_dump(tmp_path / "sor-global-2025-01-01-full.zip", F_V1 + F_V2, n_rows=3000, n_parts=3,
                             duplicates=7, chunk_rows=1000)  # fmt: skip
    s = import_dumps([p], tmp_path / "out")
    assert s.rows_read == 3007 and s.duplicates_dropped == 7 and s.files_read == 3
    ea = pd.read_parquet(tmp_path / "out" / "enforcement_actions.parquet", columns=["sor_uuid", "n_markets"])
    assert ea["sor_uuid"].nunique() == 3000
    assert len(ea) == s.rows_written == ea.drop_duplicates("sor_uuid")["n_markets"].sum()


def test_kpis_run_on_imported_dataset(imported):
    kpis = pytest.importorskip("govlib.metrics.kpis")
    out, _ = imported
    tables = {
        t: pd.read_parquet(out / f"{t}.parquet") for t in ("enforcement_actions", "content", "creators")
    }
    res = kpis.compute_kpis(tables, "DE", "2024-03", "Europe/Berlin")
    by = res.set_index("kpi_id")["value"]
    assert by.notna().any()
    for kpi in ("appeal_rate", "overturn_rate"):
        if kpi in by.index:
            assert pd.isna(by[kpi])
