"""Keyed pseudonyms, key loading, small-cell suppression and identifier scans (govlib.privacy)."""

from __future__ import annotations

import hashlib
import hmac
import json

import numpy as np
import pandas as pd
import pytest

from govlib import config
from govlib.privacy import (
    DEMO_MARKER,
    EXAMPLE_KEY,
    PrivacyError,
    assert_no_identifiers,
    demo_marker_text,
    is_demo_mode,
    load_pseudonym_key,
    neutralise_formula,
    neutralise_formulas,
    pseudonymise,
    restore_formula,
    scan_for_identifiers,
    suppress_small_cells,
)

KEY = b"a-secret-key-of-at-least-16-chars"


def _reference(value: str, key: bytes) -> str:
    return "p_" + hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:12]


def test_rfc4231_vector():
    # RFC 4231 test case 2: HMAC-SHA-256(key="Jefe", "what do ya want for nothing?")
    # = 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
    assert pseudonymise("what do ya want for nothing?", b"Jefe") == "p_5bdcc146bf60"


def test_pseudonyms_match_reference_and_are_stable():
    ids = pd.Series(["cr_000001", "cr_000002", None, "cr_000001"], index=[10, 11, 12, 13], name="creator_id")
    out = pseudonymise(ids, KEY)
    assert out.index.tolist() == [10, 11, 12, 13] and out.name == "creator_id"
    assert out[10] == _reference("cr_000001", KEY) == out[13]
    assert out[11] == _reference("cr_000002", KEY)
    assert out[12] is None
    assert pseudonymise(ids, KEY).equals(out)  # stable across calls
    assert pseudonymise(["cr_000001", 7], KEY) == [_reference("cr_000001", KEY), _reference("7", KEY)]
    assert pseudonymise("cr_000001", KEY.decode()) == out[10]


def test_other_key_gives_other_pseudonyms():
    ids = [f"cr_{i:06d}" for i in range(500)]
    a, b = pseudonymise(ids, KEY), pseudonymise(ids, b"another-secret-key-1234")
    assert all(x != y for x, y in zip(a, b))
    assert len(set(a)) == 500
    assert all(p.startswith("p_") and len(p) == 14 for p in a)


# ------------------------------------------------------------------ keys


def test_key_from_environment():
    assert load_pseudonym_key(environ={"GOVLIB_PSEUDONYM_KEY": KEY.decode()}, data_dir="/nonexistent") == KEY


def test_key_from_file_outside_repo(tmp_path):
    f = tmp_path / "pseudonym.key"
    f.write_text(KEY.decode() + "\n")
    assert load_pseudonym_key(environ={"GOVLIB_PSEUDONYM_KEY_FILE": str(f)}, data_dir=tmp_path) == KEY


def test_key_file_inside_repo_refused():
    inside = config.PROJECT_ROOT / "pyproject.toml"
    with pytest.raises(PrivacyError, match="inside the repository"):
        load_pseudonym_key(environ={"GOVLIB_PSEUDONYM_KEY_FILE": str(inside)}, data_dir="/nonexistent")


def test_missing_key_file(tmp_path):
    with pytest.raises(PrivacyError, match="does not exist"):
        load_pseudonym_key(environ={"GOVLIB_PSEUDONYM_KEY_FILE": str(tmp_path / "nope")}, data_dir=tmp_path)


def test_example_key_refused_outside_demo_mode(tmp_path):
    with pytest.raises(PrivacyError, match="example key"):
        load_pseudonym_key(environ={"GOVLIB_PSEUDONYM_KEY": EXAMPLE_KEY}, data_dir=tmp_path)
    f = tmp_path / "k"
    f.write_text(EXAMPLE_KEY)
    with pytest.raises(PrivacyError, match="example key"):
        load_pseudonym_key(environ={"GOVLIB_PSEUDONYM_KEY_FILE": str(f)}, data_dir=tmp_path)


def test_no_key_outside_demo_mode(tmp_path):
    with pytest.raises(PrivacyError, match="GOVLIB_PSEUDONYM_KEY"):
        load_pseudonym_key(environ={}, data_dir=tmp_path)


def test_example_key_in_demo_mode(tmp_path):
    assert not is_demo_mode(tmp_path, environ={})
    assert load_pseudonym_key(environ={"GOVLIB_DEMO": "1"}, data_dir=tmp_path) == EXAMPLE_KEY.encode()
    (tmp_path / DEMO_MARKER).write_text(demo_marker_text(7, "small", "2026-10", ["GB", "DE"]))
    assert is_demo_mode(tmp_path, environ={})
    assert load_pseudonym_key(environ={}, data_dir=tmp_path) == EXAMPLE_KEY.encode()
    assert (
        load_pseudonym_key(environ={"GOVLIB_PSEUDONYM_KEY": EXAMPLE_KEY}, data_dir=tmp_path)
        == EXAMPLE_KEY.encode()
    )


@pytest.mark.parametrize("truth", [{}, {"seed": 7}])
def test_ground_truth_file_alone_is_not_demo_mode(tmp_path, truth):
    """A stray or hand-copied ground_truth.json must not unlock the public example key."""
    (tmp_path / "ground_truth.json").write_text(json.dumps(truth))
    assert not is_demo_mode(tmp_path, environ={})
    with pytest.raises(
        PrivacyError, match="no pseudonym key.*govlib demo-data.*ground_truth.json but no valid .govlib-demo"
    ):
        load_pseudonym_key(environ={}, data_dir=tmp_path)


@pytest.mark.parametrize("marker", ["", "{}", "demo", '{"magic": "x", "seed": 7, "check": "0"}'])
def test_empty_or_hand_made_demo_marker_is_not_demo_mode(tmp_path, marker):
    (tmp_path / DEMO_MARKER).write_text(marker)
    assert not is_demo_mode(tmp_path, environ={})
    good = json.loads(demo_marker_text(7, "small", "2026-10", ["DE"]))
    (tmp_path / DEMO_MARKER).write_text(json.dumps({**good, "seed": 8}))  # edited parameters: check fails
    assert not is_demo_mode(tmp_path, environ={})


def test_generated_demo_data_is_demo_mode(demo_dir):
    assert is_demo_mode(demo_dir, environ={})
    assert load_pseudonym_key(environ={}, data_dir=demo_dir) == EXAMPLE_KEY.encode()


def test_short_key_refused(tmp_path):
    with pytest.raises(PrivacyError, match="at least 16"):
        load_pseudonym_key(environ={"GOVLIB_PSEUDONYM_KEY": "short"}, data_dir=tmp_path)


# ------------------------------------------------------------------ suppression


def test_suppress_small_cells_counts_and_derived():
    df = pd.DataFrame(
        {
            "policy": ["a", "b", "c", "d"],
            "numerator": [3, 0, 25, 40],
            "denominator": [50, 4, 30, 9],
            "value": [0.06, 0.0, 25 / 30, 40 / 9],
        }
    )
    out = suppress_small_cells(df, ["numerator", "denominator"], min_cell=10, derived=["value"])
    # row a: numerator 3 < 10 -> masked with its rate; row b: 0 stays, denominator 4 masked;
    # row c: nothing small; row d: denominator 9 masked
    assert out["numerator"].tolist() == ["<10", 0, 25, 40]
    assert out["denominator"].tolist() == [50, "<10", 30, "<10"]
    assert out["value"].tolist() == ["<10", "<10", 25 / 30, "<10"]
    assert df["numerator"].tolist() == [3, 0, 25, 40]  # input untouched


def test_suppress_threshold_zero_and_marker():
    df = pd.DataFrame({"n": [0, 4, 5, np.nan], "rate": [0.0, 0.1, 0.2, np.nan]})
    out = suppress_small_cells(df, "n", min_cell=5, derived={"n": ["rate"]}, marker=np.nan, include_zero=True)
    assert out["n"].isna().tolist() == [True, True, False, True]
    assert out["rate"].isna().tolist() == [True, True, False, True]
    assert out["n"].dtype == "float64"
    out = suppress_small_cells(df, "n", min_cell=5)
    assert out["n"].tolist()[:3] == [0, "<5", 5]


def test_suppress_errors_name_the_column():
    df = pd.DataFrame({"n": [1, 2]})
    with pytest.raises(PrivacyError, match="'creators'"):
        suppress_small_cells(df, ["creators"])
    with pytest.raises(PrivacyError, match="rate"):
        suppress_small_cells(df, "n", derived=["rate"])
    with pytest.raises(PrivacyError, match="non-numeric"):
        suppress_small_cells(pd.DataFrame({"n": ["12", "<10"]}), "n")


# ------------------------------------------------------------------ scans


def test_scan_finds_planted_identifiers(tmp_path):
    ids = [f"cr_{i:06d}" for i in range(3000)]
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "index.html").write_text("<td>p_0a1b2c3d4e5f</td><td>cr_001234</td>")
    (tmp_path / "report" / "kpis.csv").write_text("market,creator\nDE,cr_000007\nDE,cr_000007\n")
    nb = {"cells": [{"outputs": [{"text": "creator 'cr_002999' has 3 actions"}]}]}
    (tmp_path / "report" / "r.ipynb").write_text(json.dumps(nb))
    (tmp_path / "report" / "clean.csv").write_text("market,n\nDE,12\nxcr_0000019,cr_0000019\n")
    hits = scan_for_identifiers(tmp_path, ids)
    found = {(h.path.name, h.identifier, h.count) for h in hits}
    assert found == {
        ("index.html", "cr_001234", 1),
        ("kpis.csv", "cr_000007", 2),
        ("r.ipynb", "cr_002999", 1),
    }
    # substring mode also finds ids glued to other characters
    sub = {
        (h.path.name, h.identifier)
        for h in scan_for_identifiers(tmp_path / "report" / "clean.csv", ids, boundaries=False)
    }
    assert sub == {("clean.csv", "cr_000001")}
    with pytest.raises(PrivacyError, match="3 raw identifier"):
        assert_no_identifiers(tmp_path, ids)


def test_scan_clean_output_after_pseudonymising(tmp_path):
    ids = [f"cr_{i:06d}" for i in range(200)]
    df = pd.DataFrame({"creator": pseudonymise(pd.Series(ids), KEY), "n": range(200)})
    df.to_csv(tmp_path / "watchlist.csv", index=False)
    assert scan_for_identifiers(tmp_path, ids) == []
    assert_no_identifiers(tmp_path, ids)
    with pytest.raises(PrivacyError, match="does not exist"):
        scan_for_identifiers(tmp_path / "missing", ids)


# ------------------------------------------------------------------ formulas in spreadsheets

HOSTILE = ["=1+2", "+SUM(A1:A9)", "-2+3+cmd|' /C calc'!A0", "@SUM(1,1)", "\t=1", "\r=1", "'=1", "''", "'"]


def test_neutralise_formula_prefixes_risky_text_only():
    for v in HOSTILE:
        assert neutralise_formula(v) == "'" + v, v
    for v in ["cr_001", "scam_fraud", "a=b", "", "-1.5", "+3", "1e-3", "-2E+4", "<10"]:
        assert neutralise_formula(v) == v, v
    for v in [-1.5, 3, None, np.nan, True]:
        assert neutralise_formula(v) is v


def test_restore_formula_round_trips_every_value():
    for v in HOSTILE + ["cr_001", "-1.5", "", "a'b", "'x"]:
        assert restore_formula(neutralise_formula(v)) == v, v


def test_neutralise_formulas_keeps_numbers_numbers():
    df = pd.DataFrame(
        {
            "id": ["=1+2", "ok", None],
            "x": [-1.5, 2.0, np.nan],
            "n": [-3, 0, 7],
            "mixed": ["-bad", -4.25, "<10"],
            "cat": pd.Categorical(["@a", "b", "@a"]),
        }
    )
    out = neutralise_formulas(df)
    assert out["id"].tolist()[:2] == ["'=1+2", "ok"] and pd.isna(out["id"].iloc[2])
    assert out["x"].dtype == df["x"].dtype and out["n"].dtype == df["n"].dtype
    assert out["mixed"].tolist() == ["'-bad", -4.25, "<10"]
    assert out["cat"].tolist() == ["'@a", "b", "'@a"]
    assert df["id"].iloc[0] == "=1+2"  # the input is not changed
    csv = out.to_csv(index=False)
    assert "-1.5" in csv and "'-1.5" not in csv and "-3" in csv and "'-3" not in csv


def test_kpis_and_alerts_csv_neutralise_text_not_numbers():
    """kpis.csv / alerts.csv are circulated: a policy from the data must not run as a formula."""
    import csv
    import io

    from govlib.metrics.trends import ALERT_COLUMNS
    from govlib.report.cube import EXPORT_COLUMNS, format_alerts_csv, format_kpis_csv

    kpis = pd.DataFrame(
        [
            {
                "market": "DE",
                "month": "2026-10",
                "kpi_id": "=1+1",
                "value": -1.5,
                "numerator": -3.0,
                "denominator": 2.0,
                "ci_low": -2.5,
                "ci_high": -0.5,
                "unit": "@count",
                "status": "ok",
            }
        ]
    )[EXPORT_COLUMNS]
    row = list(csv.reader(io.StringIO(format_kpis_csv(kpis))))[1]
    assert row == ["DE", "2026-10", "'=1+1", "-1.5", "-3", "2", "-2.5", "-0.5", "'@count", "ok"]
    alerts = pd.DataFrame(
        [
            {
                "market": "DE",
                "month": "2026-10",
                "policy": "-cmd|' /C calc'!A0",
                "content_type": "+x",
                "week_start": "2026-10-05",
                "observed": 12,
                "expected": 3.5,
                "ratio": -0.25,
                "p_value": 0.001,
                "q_value": 0.01,
                "method": "poisson",
            }
        ]
    )[ALERT_COLUMNS]
    row = list(csv.reader(io.StringIO(format_alerts_csv(alerts))))[1]
    assert row == [
        "DE",
        "2026-10",
        "'-cmd|' /C calc'!A0",
        "'+x",
        "2026-10-05",
        "12",
        "3.5",
        "-0.25",
        "0.001",
        "0.01",
        "poisson",
    ]
