"""``govlib run`` and the DSA statement archive (``--dsa-archive`` / ``GOVLIB_DSA_ARCHIVE``).

Refused before anything is written (exit 2, no traceback): the ``dsa_peers`` report asked for
without an archive, an archive folder that does not exist, a folder that is not an archive. With
an archive, the report runs into ``<month>/EMEA`` beside the roll-up (an archive without a day in
the report's months gives a report saying so, not a failure that would hold back the roll-up);
without one it is left out and the run is otherwise unchanged.
"""

from __future__ import annotations

import shutil

import pytest
from datasets import write_valid_dataset
from dsa_archive import planted_statements, write_archive
from reliability_support import govlib, make_toy_project, report_files, run_toy, toy_env

from govlib import config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_valid_dataset(tmp_path_factory.mktemp("data") / "d")


def _run(tmp_path, data, *args, **env):
    out = tmp_path / "out"
    cmd = [
        "run",
        "--month",
        "2026-10",
        "--markets",
        "DE",
        "--data",
        str(data),
        "--out",
        str(out),
        "--no-progress",
    ]
    return govlib(
        [*cmd, *args], env=toy_env(tmp_path / "root", GOVLIB_ROOT=str(config.PROJECT_ROOT), **env)
    ), out


def test_dsa_report_without_archive_says_how_to_configure_one(tmp_path, data):
    r, out = _run(tmp_path, data, "--reports", "dsa_peers")
    assert r.returncode == 2, r.stderr
    assert "dsa_peers need a DSA statement archive: pass --dsa-archive DIR" in r.stderr
    assert "GOVLIB_DSA_ARCHIVE" in r.stderr and "Traceback" not in r.stderr
    assert report_files(out) == []


def test_missing_archive_folder_is_named(tmp_path, data):
    r, out = _run(tmp_path, data, "--dsa-archive", str(tmp_path / "nowhere"))
    assert r.returncode == 2, r.stderr
    assert f"DSA statement archive {tmp_path / 'nowhere'} does not exist" in r.stderr
    assert "Traceback" not in r.stderr and report_files(out) == []


def test_folder_without_manifest_is_not_an_archive(tmp_path, data):
    (tmp_path / "empty").mkdir()
    r, out = _run(tmp_path, data, GOVLIB_DSA_ARCHIVE=str(tmp_path / "empty"))  # the setting, not the option
    assert r.returncode == 2, r.stderr
    assert "has no manifest.json: it is not a folder filled by 'govlib dsa sync'" in r.stderr
    assert "Traceback" not in r.stderr and report_files(out) == []


@pytest.mark.slow
def test_dsa_peers_runs_only_with_an_archive(tmp_path, data):
    root = make_toy_project(tmp_path / "root", real_rollup=("emea_overview",))
    shutil.copy2(config.NOTEBOOKS_DIR / "dsa_peers.ipynb", root / "notebooks" / "dsa_peers.ipynb")
    with open(root / "params" / "reports.yaml", "a") as f:
        f.write("dsa_notebooks: [dsa_peers]\n")
    r, out = run_toy(root, data, markets="DE")
    assert r.returncode == 0, r.stderr
    assert "EMEA/emea_overview.html" in report_files(out / "2026-10")
    assert not [f for f in report_files(out) if "dsa_peers" in f]  # no archive: left out
    store = write_archive(tmp_path / "archive", planted_statements())
    r, out = run_toy(root, data, "--dsa-archive", str(store), markets="DE")
    assert r.returncode == 0, r.stderr + r.stdout
    files = report_files(out / "2026-10")
    assert {"EMEA/dsa_peers.html", "EMEA/emea_overview.html"} <= set(files)
    html = (out / "2026-10" / "EMEA" / "dsa_peers.html").read_text()
    assert "DSA peers: TikTok beside marketplace peers" in html
    # the planted statements end in March: a report on May to October says so rather than failing
    assert "the archive holds no day from 1 May 2026 to 31 Oct 2026" in html


def test_crafted_archive_path_never_reaches_the_notebook(tmp_path, data):
    from govlib.errors import UsageError
    from govlib.report.batch.arguments import validate_notebook_parameters

    pwned = tmp_path / "pwned"
    payload = f'{tmp_path}"\nimport os; os.system("touch {pwned}") #'
    r, out = _run(tmp_path, data, "--dsa-archive", payload)
    assert r.returncode == 2, r.stderr
    assert "contains control characters" in r.stderr and "Traceback" not in r.stderr
    assert not pwned.exists() and report_files(out) == []
    for bad in (payload, str(tmp_path) + '"; import os #'):  # the second is no existing folder
        with pytest.raises(UsageError):
            validate_notebook_parameters({"archive": bad})
    assert validate_notebook_parameters({"archive": str(tmp_path)}) == {"archive": str(tmp_path)}
