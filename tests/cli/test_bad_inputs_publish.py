"""Publishing faults of ``govlib run`` (issue 13), through the CLI in a subprocess.

- command-line checks before anything is written: an uncatalogued ``--lang``, ``--jobs 0``,
  an output root that cannot be written;
- a rerun that fails (a notebook, a market's data, the roll-up) never replaces the last good
  reports: the published folder stays and the index lists it "from the previous run";
- a full disk (``ENOSPC``) says "no space left on <path>", fails the market and keeps the old
  reports. The disk is faked in every process of the run by ``reliability_support.full_disk_env``
  (a ``sitecustomize`` that makes writes to matching paths fail), not filled.

Toy project and hand-made dataset of ``tests/reliability_support.py`` / ``tests/datasets.py``.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest
from datasets import write_valid_dataset
from reliability_support import (
    MONTH,
    READ_CUBE,
    full_disk_env,
    govlib,
    make_toy_project,
    run_toy,
    toy_env,
)

from govlib.report.render.pdf import find_browser

TAGGED = READ_CUBE + "\nimport os\nprint('run', os.environ.get('RUN_TAG'))"
FLAKY = (
    "import os\nif market == 'GB' and os.environ.get('FAIL_GB'):\n    raise ValueError('planted failure in GB')\n"
    "print('fine', market)"
)
ROLLUP = (
    "import os\nprint('rollup of', markets, 'failed:', failed_markets, 'run', os.environ.get('RUN_TAG'))\n"
    "if os.environ.get('FAIL_ROLLUP'):\n    raise ValueError('planted roll-up failure')"
)
PREVIOUS = re.compile(r"^from the previous run \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\)$")


_run = run_toy


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _index(out: Path) -> dict[tuple[str, str], dict[str, str]]:
    """(market, report) -> class, status, links and error of each row of the month's index.html."""
    text = (out / MONTH / "index.html").read_text()
    rows = re.findall(
        r'<tr class="(\w+)"><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td><td class="num">[^<]*</td>'
        r"<td>(.*?)</td><td>(.*?)</td></tr>",
        text,
        flags=re.S,
    )
    return {
        (m, r): {
            "class": c,
            "status": html.unescape(s),
            "links": html.unescape(lk),
            "error": html.unescape(re.sub(r"</?pre>", "", e)),
        }
        for c, m, r, s, lk, e in rows
    }


def _staging_dirs(out: Path) -> list[Path]:
    return [p for p in (out / ".staging").iterdir() if p.is_dir()] if (out / ".staging").exists() else []


# ---------------------------------------------------------------------------------------
# command-line checks: exit 2, one line, nothing written


@pytest.fixture
def toy(tmp_path):
    root = make_toy_project(tmp_path / "proj")
    return root, write_valid_dataset(root / "data", layout="partitioned")


@pytest.mark.parametrize("lang", ["xx_YY", "nl_NL"])
def test_run_uncatalogued_language_is_refused_before_anything_is_written(toy, lang):
    # xx_YY was exit 1 leaving reports/.staging/<month>.lock; nl_NL ran in English without a word
    root, data = toy
    r, out = _run(root, data, "--lang", lang)
    assert r.returncode == 2, r.stderr
    assert f"--lang {lang}" in r.stderr and "catalogs: de_DE, en_GB, es_ES, fr_FR, it_IT, pl_PL" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_run_pdf_without_a_browser_is_refused_before_anything_is_written(toy, tmp_path):
    root, data = toy
    r, out = run_toy(root, data, "--pdf", PATH=str(tmp_path / "empty-bin"))  # no chromium on the PATH
    assert r.returncode == 1, r.stderr
    assert "--pdf needs headless Chromium" in r.stderr and "apt-get install chromium" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.skipif(find_browser() is None, reason="no headless Chromium on this machine (docs/reports.md)")
def test_run_pdf_writes_a_pdf_beside_each_html_and_resume_keeps_them(toy):
    root, data = toy
    r, out = run_toy(root, data, "--pdf")
    assert r.returncode == 0, r.stderr
    month = out / MONTH
    htmls = sorted(p.relative_to(month).with_suffix("") for p in month.glob("**/*.html"))
    pdfs = sorted(p.relative_to(month).with_suffix("") for p in month.glob("**/*.pdf"))
    assert htmls == pdfs and Path("index") in pdfs and Path("DE/toy_ok") in pdfs
    assert all(p.read_bytes()[:5] == b"%PDF-" for p in month.glob("**/*.pdf"))
    assert not [p for p in month.rglob("*") if ".tmp-" in p.name]  # atomic: no temporary file left
    r2, _ = run_toy(root, data, "--pdf", "--resume")
    assert r2.returncode == 0 and "reused" in r2.stdout + r2.stderr
    assert sorted(p.relative_to(month).with_suffix("") for p in month.glob("**/*.pdf")) == pdfs


@pytest.mark.parametrize("jobs", ["0", "-3"])
def test_run_jobs_must_be_positive(toy, jobs):
    root, data = toy
    out = root / "reports"
    r = govlib(
        [
            "run",
            "--month",
            MONTH,
            "--markets",
            "DE",
            "--data",
            str(data),
            "--out",
            str(out),
            "--no-progress",
            "--jobs",
            jobs,
        ],
        env=toy_env(root),
    )
    assert r.returncode == 2, r.stderr  # --jobs 0 silently meant "all cores"
    assert f"--jobs must be at least 1, got {jobs}" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_run_output_that_cannot_be_written(toy):
    """``--out somefile/reports``: a path under a regular file fails even for root."""
    root, data = toy
    (root / "somefile").write_text("not a folder\n")
    out = root / "somefile" / "reports"
    r = govlib(
        ["run", "--month", MONTH, "--markets", "DE", "--data", str(data), "--out", str(out), "--no-progress"],
        env=toy_env(root),
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        f"govlib run: error: cannot write to {out}: {root / 'somefile'} is not a directory"
    )
    assert (root / "somefile").read_text() == "not a folder\n"
    assert not (root / ".cache" / "cubes").exists()


# ---------------------------------------------------------------------------------------
# a failing rerun keeps the last good reports


def test_failed_rerun_keeps_the_previous_reports_of_that_market(tmp_path):
    root = make_toy_project(tmp_path / "proj", {"toy_tagged": TAGGED, "toy_flaky": FLAKY})
    data = write_valid_dataset(root / "data", layout="partitioned")
    r, out = _run(root, data, RUN_TAG="first")
    assert r.returncode == 0, r.stderr
    gb_before = _files(out / MONTH / "GB")

    r, out = _run(root, data, RUN_TAG="second", FAIL_GB="1")
    assert r.returncode == 1, r.stderr
    assert "planted failure in GB" in r.stderr and "Traceback" not in r.stderr
    assert "govlib run: GB: not replaced; the previous run's reports stay published" in r.stderr.splitlines()
    assert "govlib run: DE: not replaced" not in r.stderr
    # GB untouched (was: replaced by the failed run's folder); DE, all ok, replaced
    assert _files(out / MONTH / "GB") == gb_before
    assert "run first" in (out / MONTH / "GB" / "toy_tagged.ipynb").read_text()
    assert "run second" in (out / MONTH / "DE" / "toy_tagged.ipynb").read_text()
    rows = _index(out)
    assert set(rows) == {(m, nb) for m in ("DE", "GB") for nb in ("toy_tagged", "toy_flaky")}
    for nb in ("toy_tagged", "toy_flaky"):
        assert rows[("DE", nb)]["status"] == "ok"
        gb = rows[("GB", nb)]
        assert PREVIOUS.match(gb["status"]) and gb["class"] == "failed", gb
        assert f'href="GB/{nb}.html"' in gb["links"]  # the previous run's page, not an error cell
    assert "planted failure in GB" in rows[("GB", "toy_flaky")]["error"]
    assert rows[("GB", "toy_tagged")]["error"] == "not replaced: toy_flaky failed in this run"
    assert set(pd.read_csv(out / MONTH / "kpis.csv")["market"]) == {"DE", "GB"}
    assert _staging_dirs(out) == []


def _break_gb(data: Path) -> None:
    part = next((data / "enforcement_actions" / "market=GB").glob("*.parquet"))
    df = pd.read_parquet(part)
    df.loc[df.index[:2], "action_type"] = "nuked"
    df.to_parquet(part, index=False)


def test_broken_market_data_and_failed_rollup_keep_the_previous_folders(tmp_path):
    root = make_toy_project(tmp_path / "proj", {"toy_tagged": TAGGED}, rollup={"toy_rollup": ROLLUP})
    data = write_valid_dataset(root / "data", layout="partitioned")
    r, out = _run(root, data, RUN_TAG="first")
    assert r.returncode == 0, r.stderr
    month = out / MONTH
    assert "rollup of DE,GB failed:  run first" in (month / "EMEA" / "toy_rollup.ipynb").read_text()
    gb_before = _files(month / "GB")

    # GB's data breaks: GB's folder stays (was: deleted); the roll-up, run on DE, names GB as failed
    _break_gb(data)
    r, out = _run(root, data, RUN_TAG="second")
    assert r.returncode == 1 and "enforcement_actions.action_type: 2 rows" in r.stderr, r.stderr
    assert _files(month / "GB") == gb_before
    assert "rollup of DE failed: GB run second" in (month / "EMEA" / "toy_rollup.ipynb").read_text()
    gb = _index(out)[("GB", "toy_tagged")]
    assert PREVIOUS.match(gb["status"]) and "enforcement_actions.action_type: 2 rows" in gb["error"], gb
    assert _index(out)[("EMEA", "toy_rollup")]["status"] == "ok"
    rollup_before = _files(month / "EMEA")

    # the roll-up fails: the previous one stays (was: replaced by the failed one)
    r, out = _run(root, data, RUN_TAG="third", FAIL_ROLLUP="1")
    assert r.returncode == 1 and "planted roll-up failure" in r.stderr, r.stderr
    assert _files(month / "EMEA") == rollup_before and _files(month / "GB") == gb_before
    emea = _index(out)[("EMEA", "toy_rollup")]
    assert PREVIOUS.match(emea["status"]) and "planted roll-up failure" in emea["error"], emea

    # no market can be built: the roll-up does not run; its old folder is not shown as current (was: "skipped")
    r, out = _run(root, data, markets="GB", RUN_TAG="fourth")
    assert r.returncode == 1, r.stderr
    assert _files(month / "EMEA") == rollup_before
    emea = _index(out)[("EMEA", "toy_rollup")]
    assert PREVIOUS.match(emea["status"]) and emea["error"] == "no market could be built", emea
    assert _staging_dirs(out) == []


# ---------------------------------------------------------------------------------------
# a full disk


@pytest.mark.parametrize(
    "full, named",
    [
        # every file written into GB's staging folder (by the worker, its kernel or the runner)
        (r"/\.staging/2026-10-\d+/GB/", r"/\.staging/2026-10-\d+/GB/toy_tagged\.ipynb"),
        # only the worker's result file for GB's notebook: the error comes back over the worker's pipe
        (
            r"/\.work/GB-toy_tagged\.result\.json\.tmp$",
            r"/\.staging/2026-10-\d+/\.work/GB-toy_tagged\.result\.json",
        ),
    ],
    ids=["staging", "result-file"],
)
def test_disk_full_in_a_market_says_so_and_keeps_its_previous_reports(tmp_path, full, named):
    root = make_toy_project(tmp_path / "proj", {"toy_tagged": TAGGED})
    data = write_valid_dataset(root / "data", layout="partitioned")
    r, out = _run(root, data, RUN_TAG="first")
    assert r.returncode == 0, r.stderr
    gb_before = _files(out / MONTH / "GB")

    r, out = _run(root, data, RUN_TAG="second", **full_disk_env(tmp_path, full))
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "worker died" not in r.stderr
    gb_line = next(ln for ln in r.stderr.splitlines() if ln.startswith("govlib run: GB: failed:"))
    assert re.search(rf"no space left on {re.escape(str(out))}{named}", gb_line), gb_line
    assert _files(out / MONTH / "GB") == gb_before
    assert "run second" in (out / MONTH / "DE" / "toy_tagged.ipynb").read_text()
    gb = _index(out)[("GB", "toy_tagged")]
    assert PREVIOUS.match(gb["status"]) and "no space left on" in gb["error"], gb
    assert _staging_dirs(out) == []


def test_disk_full_everywhere_says_so_and_changes_nothing(tmp_path):
    root = make_toy_project(tmp_path / "proj", {"toy_tagged": TAGGED})
    data = write_valid_dataset(root / "data", layout="partitioned")
    r, out = _run(root, data, RUN_TAG="first")
    assert r.returncode == 0, r.stderr
    before = _files(out / MONTH)

    r, out = _run(
        root, data, RUN_TAG="second", **full_disk_env(tmp_path, "^" + re.escape(str(root / "reports")) + "/")
    )
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr and "worker died" not in r.stderr
    assert f"govlib run: error: no space left on {out / MONTH / 'kpis.csv'}: free space" in r.stderr, r.stderr
    # nothing of the month changed (kpis.csv, index.html and both markets are the first run's), no leftovers
    assert _files(out / MONTH) == before
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    assert _staging_dirs(out) == []


def test_disk_full_is_found_behind_wrapping_errors():
    """A cube build's pyarrow error (no errno, only the text) wrapped in a govlib error still says "no space left"."""
    from govlib.errors import GovlibError
    from govlib.report.batch.worker import error_summary

    try:
        try:
            raise OSError("IOError: No space left on device. Detail: [errno 28]")  # what pyarrow raises
        except OSError as exc:
            raise GovlibError("cube for GB could not be written") from exc
    except GovlibError as exc:
        wrapped = exc
    assert error_summary(wrapped, path="/cache/cubes").startswith("no space left on /cache/cubes: free space")
    assert (
        error_summary(GovlibError("cube for GB could not be written")) == "cube for GB could not be written"
    )
