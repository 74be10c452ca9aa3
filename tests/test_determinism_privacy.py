"""Determinism, identifier scan and resume of the full monthly batch on the small demo data (issue 9).

One module-scoped pair of runs: ``govlib run --month 2026-10 --markets GB,PL`` with every
notebook of ``params/reports.yaml`` (PL, in expansion, also gets the expansion notebooks), run
twice into two output folders. The cube cache is emptied between the two runs, so the second
run recomputes everything (cubes, KPIs, alerts, notebooks); the cache *path* stays the same,
because it is a notebook parameter (``cube_path``) and so part of the executed notebooks.

Run metadata (docs/reliability.md, "Determinism exclusions"): ``index.html`` (durations) and
``*.manifest.json`` (``duration``) are excluded; the published notebooks are compared byte for
byte, since the runner already strips papermill's timestamps, cell ``execution`` metadata and
random cell ids (``strip_run_metadata``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from govlib import config
from govlib.params import list_markets, load_market, load_reports
from govlib.privacy import scan_for_identifiers
from govlib.report.batch.result import ROLLUP_FOLDER
from govlib.report.batch.worker import strip_run_metadata

MONTH = "2026-10"
MARKETS = ("GB", "PL")
ROLLUP = ROLLUP_FOLDER


def _expected_notebooks() -> dict[str, list[str]]:
    """folder -> notebooks the batch must execute (from params/reports.yaml, not from the runner)."""
    from govlib.analyses.expansion import is_expansion_market

    rp = load_reports()
    exp = {m: list(rp.market_notebooks) for m in MARKETS}
    for m in MARKETS:
        if is_expansion_market(load_market(m), MONTH, rp.expansion_months):
            exp[m] += list(rp.expansion_notebooks)
    exp[ROLLUP] = list(rp.rollup_notebooks)
    return exp


def _govlib_run(env: dict, out: Path, data: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "govlib",
            "run",
            "--month",
            MONTH,
            "--markets",
            ",".join(MARKETS),
            "--data",
            str(data),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--no-progress",
            *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
        cwd=env["GOVLIB_ROOT"],
        check=False,
    )


def _snapshot_project(root: Path) -> Path:
    """A frozen copy of the code, notebooks, params and catalogs (GOVLIB_ROOT + PYTHONPATH).

    The three runs take minutes; a notebook or module edited meanwhile in a working tree
    would be a change of inputs, not a lack of determinism.
    """
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in ("govlib", "notebooks", "params", "locales"):
        shutil.copytree(config.PROJECT_ROOT / name, root / name, ignore=ignore)
    return root


@pytest.fixture(scope="module")
def runs(demo_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("determinism")
    out1, out2, cache = base / "run1", base / "run2", base / "cache"
    proj = _snapshot_project(base / "proj")
    env = dict(os.environ)
    for k in ("GOVLIB_PARAMS", "GOVLIB_REPORTS", "GOVLIB_DATA"):
        env.pop(k, None)
    # a code version of this test session only: resume must not be defeated by concurrent edits to govlib/,
    # and no cube of another code state can be taken from a cache under the same label
    env.update(
        GOVLIB_ROOT=str(proj),
        PYTHONPATH=os.pathsep.join([str(proj), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        GOVLIB_PEER_REPORTS=str(config.PEER_REPORTS_DIR),
        GOVLIB_CACHE=str(cache),
        GOVLIB_CODE_VERSION=f"test-determinism-{uuid.uuid4().hex[:8]}",
    )
    probe = subprocess.run(
        [sys.executable, "-c", "import govlib; print(govlib.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=proj,
    )
    assert probe.stdout.strip().startswith(str(proj))  # the frozen copy is the code that runs
    first = _govlib_run(env, out1, demo_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    shutil.rmtree(cache)  # recompute everything in the second run
    second = _govlib_run(env, out2, demo_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert (cache / "cubes").is_dir()  # the second run built its cubes afresh
    return {"env": env, "data": demo_dir, "out1": out1, "out2": out2, "m1": out1 / MONTH, "m2": out2 / MONTH}


def test_every_report_notebook_ran(runs):
    for month_dir in (runs["m1"], runs["m2"]):
        for folder, nbs in _expected_notebooks().items():
            assert nbs, folder
            for nb in nbs:
                man = json.loads((month_dir / folder / f"{nb}.manifest.json").read_text())
                assert man["status"] == "ok", (folder, nb, man["error"])
                assert (month_dir / folder / f"{nb}.html").exists()
        # nothing else was executed
        assert sorted(p.parent.name + "/" + p.stem for p in month_dir.glob("*/*.ipynb")) == sorted(
            f"{f}/{nb}" for f, nbs in _expected_notebooks().items() for nb in nbs
        )


@pytest.mark.parametrize(
    "rel", ["kpis.csv"] + [f"{m}/{f}" for m in MARKETS for f in ("kpis.csv", "alerts.csv")]
)
def test_csv_exports_are_byte_identical(runs, rel):
    a, b = runs["m1"] / rel, runs["m2"] / rel
    if rel.endswith("alerts.csv") and not a.exists() and not b.exists():
        pytest.skip("the runner writes no alerts.csv")
    assert a.exists() and b.exists(), rel
    assert len(pd.read_csv(a)) > 0 or rel.endswith("alerts.csv"), rel  # not two empty files
    assert a.read_bytes() == b.read_bytes(), rel


def _outputs(path: Path) -> list[tuple[int, list]]:
    nb = nbformat.read(path, as_version=4)
    strip_run_metadata(nb)  # idempotent: the published notebooks are already stripped
    return [(i, c.get("outputs", [])) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def _pngs(outputs: list) -> list[bytes]:
    return [base64.b64decode(o["data"]["image/png"]) for o in outputs if "image/png" in o.get("data", {})]


def test_notebook_outputs_and_figures_are_identical(runs):
    n_png = 0
    for folder, nbs in _expected_notebooks().items():
        for nb in nbs:
            a, b = runs["m1"] / folder / f"{nb}.ipynb", runs["m2"] / folder / f"{nb}.ipynb"
            oa, ob = _outputs(a), _outputs(b)
            assert len(oa) == len(ob), (folder, nb)
            for (i, x), (_j, y) in zip(oa, ob):
                pa, pb = _pngs(x), _pngs(y)
                assert len(pa) == len(pb), (folder, nb, i)
                for k, (ia, ib) in enumerate(zip(pa, pb)):
                    assert ia.startswith(b"\x89PNG") and ia == ib, (
                        f"{folder}/{nb}: figure {k} of cell {i} differs"
                    )
                n_png += len(pa)
                assert x == y, f"{folder}/{nb}: outputs of cell {i} differ"
            # with run metadata already stripped by the runner, the whole file is identical
            assert a.read_bytes() == b.read_bytes(), (folder, nb)
    assert n_png > 0  # the reports do embed figures, and they were compared


def test_html_reports_are_byte_identical(runs):
    pages = sorted(p.relative_to(runs["m1"]) for p in runs["m1"].glob("*/*.html"))
    assert len(pages) == sum(len(v) for v in _expected_notebooks().values())
    differ = [str(p) for p in pages if (runs["m1"] / p).read_bytes() != (runs["m2"] / p).read_bytes()]
    assert differ == []


def test_only_durations_differ_in_manifests(runs):
    for man in sorted(runs["m1"].glob("*/*.manifest.json")):
        a = json.loads(man.read_text())
        b = json.loads((runs["m2"] / man.relative_to(runs["m1"])).read_text())
        a.pop("duration"), b.pop("duration")
        assert a == b, man


def test_no_creator_id_in_any_output(runs):
    ids = pd.read_parquet(runs["data"] / "creators.parquet", columns=["creator_id"])["creator_id"].astype(str)
    ids = ids.tolist()
    assert len(ids) > 100
    files = [p for d in (runs["m1"], runs["m2"]) for p in sorted(d.rglob("*")) if p.is_file()]
    kinds = {(p.parent.name, p.suffix) for p in files}
    for (
        m
    ) in MARKETS:  # the scan covers each market's HTML, notebooks and CSV, the roll-up and the month folder
        assert {(m, ".html"), (m, ".ipynb"), (m, ".csv")} <= kinds, m
    assert {(ROLLUP, ".html"), (ROLLUP, ".ipynb"), (MONTH, ".csv"), (MONTH, ".html")} <= kinds
    hits = scan_for_identifiers(files, ids)
    assert hits == [], [(str(h.path), h.identifier, h.context) for h in hits[:5]]


def test_identifier_scan_finds_a_planted_id(runs, tmp_path):
    """The scan above can fail: one raw id written into a copy of a report is found."""
    ids = pd.read_parquet(runs["data"] / "creators.parquet", columns=["creator_id"])["creator_id"].astype(str)
    page = tmp_path / "leak.html"
    text = (runs["m1"] / "GB" / "creator_health.html").read_text(encoding="utf-8")
    page.write_text(text.replace("</body>", f"<td>{ids.iloc[3]}</td></body>"), encoding="utf-8")
    hits = scan_for_identifiers([page], ids.tolist())
    assert [h.identifier for h in hits] == [ids.iloc[3]]


def _index_rows(index: Path) -> dict[tuple[str, str], str]:
    rows = re.findall(
        r"<tr class=\"\w+\"><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>", index.read_text()
    )
    return {(m, r): s for m, r, s in rows}


def test_resume_skips_everything_and_changes_no_report_byte(runs):
    month_dir = runs["m1"]
    before = {p: p.read_bytes() for p in month_dir.rglob("*") if p.is_file() and p.name != "index.html"}
    res = _govlib_run(runs["env"], runs["out1"], runs["data"], "--resume")
    assert res.returncode == 0, res.stderr[-3000:]
    rows = _index_rows(month_dir / "index.html")
    expected = {(f, nb): "reused" for f, nbs in _expected_notebooks().items() for nb in nbs}
    assert rows == expected
    after = {p: p.read_bytes() for p in month_dir.rglob("*") if p.is_file() and p.name != "index.html"}
    assert sorted(after) == sorted(before)
    assert [
        str(p) for p in before if before[p] != after[p]
    ] == []  # manifests included: nothing was re-executed


def _full_demo_run() -> tuple[Path, Path] | None:
    """(month folder, dataset) of the README's command 1 (`make reports`), when it has run here."""
    month_dir = Path(config.REPORTS_DIR) / MONTH
    data = Path(config.PROJECT_ROOT) / "data" / "demo"
    if not (month_dir / "index.html").exists() or not (data / "creators.parquet").exists():
        return None
    return month_dir, data


@pytest.mark.skipif(_full_demo_run() is None, reason="no full demo run here: `make reports` has not run")
def test_no_creator_id_in_the_full_demo_run():
    """Every file of the month's full demo run (all markets, every notebook, the roll-up): no raw creator_id.

    CI runs `make reports` before `make test`, so this scans exactly what command 1 published.
    """
    month_dir, data = _full_demo_run()
    ids = (
        pd.read_parquet(data / "creators.parquet", columns=["creator_id"])["creator_id"].astype(str).tolist()
    )
    files = sorted(p for p in month_dir.rglob("*") if p.is_file() and p.suffix in (".html", ".ipynb", ".csv"))
    markets = {p.relative_to(month_dir).parts[0] for p in files if len(p.relative_to(month_dir).parts) > 1}
    assert markets >= set(list_markets()) | {ROLLUP}, markets  # every market and the roll-up were scanned
    hits = scan_for_identifiers(files, ids)
    assert hits == [], [(str(h.path), h.identifier, h.context) for h in hits[:5]]
