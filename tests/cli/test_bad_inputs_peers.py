"""Bad published reports through ``govlib dsa peers`` (issue 13), in a subprocess.

Fixtures: ``tests/fixtures/dsa/peer_faults/`` (hand-made, see its README) and copies of the
real published files in ``tests/fixtures/dsa/transparency_reports/``. Expected figures are
computed by hand from the cells quoted in the comments.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from paths import FIXTURES
from reliability_support import govlib

DSA = FIXTURES / "dsa"
FAULTS = DSA / "peer_faults"
REAL = DSA / "transparency_reports"
H2 = "2025-07-01/2025-12-31"


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "GOVLIB_CACHE": str(tmp_path / "cache")}


def _peers(tmp_path: Path, *args: str):
    return govlib(["dsa", "peers", *args], env=_env(tmp_path), cwd=tmp_path)


def test_impossible_date_warns_with_file_row_value_and_keeps_the_figures(tmp_path):
    out = tmp_path / "figs.csv"
    for _run in (1, 2):  # the second run reads the memoised table: the warning must still be shown
        r = _peers(tmp_path, str(FAULTS / "impossible_date"), "--out", str(out))
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stdout + r.stderr
        err = r.stderr
        # row 4 of Part 7 (reversed: 250) and row 3 of Part 8 (not automated: 100) say 2025-12-32
        assert "AliExpress/7_appeals_and_recidivism.csv" in err and "row 4: '2025-07-01/2025-12-32'" in err, (
            err
        )
        assert "AliExpress/8_automated_means.csv" in err and "row 3: '2025-07-01/2025-12-32'" in err, err
        assert "December 2025 has 31 days" in err, err
        figs = pd.read_csv(out).set_index(["period", "figure"])
        assert set(figs.index.get_level_values("period")) == {H2}  # no phantom period
        # (250 reversed + 50 partially) / 1000 complaints; 900 / (900 + 100) measures
        assert figs.loc[(H2, "complaints_reversed_share"), "value"] == pytest.approx(0.3)
        assert figs.loc[(H2, "solely_automated_share"), "value"] == pytest.approx(0.9)


def test_impossible_date_in_every_row_takes_the_period_from_the_folder(tmp_path):
    out = tmp_path / "figs.csv"
    r = _peers(tmp_path, str(FAULTS / "no_valid_period"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "row 2: '2025-07-01/2025-12-32'" in r.stderr and "row 3:" in r.stderr
    assert "from the folder or file name '2025H2'" in r.stderr, r.stderr
    figs = pd.read_csv(out)
    assert figs[["period", "figure"]].values.tolist() == [[H2, "solely_automated_share"]]
    assert figs["value"].iloc[0] == pytest.approx(900 / 1200)


def test_impossible_date_without_any_period_is_refused(tmp_path):
    d = tmp_path / "reports" / "AliExpress"
    d.mkdir(parents=True)
    shutil.copy(FAULTS / "no_valid_period" / "AliExpress" / "2025H2" / "8_automated_means.csv", d)
    r = _peers(tmp_path, str(tmp_path / "reports"))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no valid reporting period" in r.stderr and "8_automated_means.csv" in r.stderr, r.stderr
    assert "'Reporting period'" in r.stderr  # how to fix: the column to correct


def _mixed_folder(tmp_path: Path) -> Path:
    """Temu's Part 7 of 2025 H2 and Part 8 of 2026 H1 in one folder (real files, copied)."""
    d = tmp_path / "reports" / "temu"
    d.mkdir(parents=True)
    shutil.copy(REAL / "temu" / "2025H2" / "7_appeals_and_recidivism.csv", d)
    shutil.copy(REAL / "temu" / "2026H1" / "8_automated_means.csv", d)
    return tmp_path / "reports"


def test_mixed_periods_in_one_folder_are_refused(tmp_path):
    root = _mixed_folder(tmp_path)
    r = _peers(tmp_path, str(root), "--out", str(tmp_path / "figs.csv"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    err = r.stderr
    assert "temu" in err and "2 reporting periods" in err, err
    assert "7_appeals_and_recidivism.csv (2025-07-01/2025-12-31)" in err, err
    assert "8_automated_means.csv (2026-01-01/2026-06-30)" in err, err
    assert "--allow-mixed-periods" in err
    assert not (tmp_path / "figs.csv").exists()


def test_mixed_periods_allowed_are_kept_apart_and_said(tmp_path):
    root = _mixed_folder(tmp_path)
    out = tmp_path / "figs.csv"
    r = _peers(tmp_path, str(root), "--out", str(out), "--allow-mixed-periods")
    assert r.returncode == 0, r.stderr
    assert "kept as separate periods" in r.stderr and "2 reporting periods" in r.stderr, r.stderr
    figs = pd.read_csv(out).set_index(["period", "figure"])["value"]
    # Part 7 of 2025 H2: (228161 + 0) / 528527; Part 8 of 2026 H1: 1603848715 / (1603848715 + 773028)
    assert figs[(H2, "complaints_reversed_share")] == pytest.approx(228161 / 528527)
    assert figs[("2026-01-01/2026-06-30", "solely_automated_share")] == pytest.approx(
        1603848715 / (1603848715 + 773028)
    )
    assert ("2026-01-01/2026-06-30", "complaints_reversed_share") not in figs.index
    assert (H2, "solely_automated_share") not in figs.index


def test_numeric_cell_count_leaves_text_out(tmp_path):
    # Part 7: 1000, 700, 'see contextual information', 50, 36 -> 4 numbers; Part 11: text only
    r = _peers(tmp_path, str(FAULTS / "text_in_numeric"))
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("read 2 files (1 with numeric cells), 4 numeric cells"), first
    assert "2 text cells" in first, first
