"""The report runner (`govlib run`), the per-market cube and the HTML export.

Fast tests use the hand-made dataset of ``tests/datasets.py`` and trivial notebooks; one
module-scoped run executes the real market report and roll-up on the small demo data and
is checked against the raw Parquet files with plain pandas (not govlib.metrics).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from datasets import write_valid_dataset
from front_page import numbers, tiles
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from paths import FIXTURES

from govlib import config
from govlib.errors import UsageError
from govlib.report.batch.arguments import validate_notebook_parameters
from govlib.report.batch.publish import STAGING
from govlib.report.batch.run import run_batch
from govlib.report.cube import EXPORT_COLUMNS, format_kpis_csv
from govlib.report.render import html as report_html
from govlib.timeutil import shift_month

MONTH = "2026-10"
KPI_HEADER = "market,month,kpi_id,value,numerator,denominator,ci_low,ci_high,unit,status"


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """The runner writes under tmp_path; a secret pseudonym key for non-demo data."""
    monkeypatch.setenv("GOVLIB_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    return tmp_path


def _run_cli(args: list[str], env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "govlib", *args], capture_output=True, text=True, env=e, **kw
    )


def _staging_dirs(out: Path) -> list[Path]:
    staging = out / STAGING
    return [p for p in staging.iterdir() if p.is_dir()] if staging.exists() else []


# ---------------------------------------------------------------------------------------
# input validation: a clear error and nothing written


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"month": "2026-13"}, "YYYY-MM"),
        ({"month": "2026-10", "markets": "XX"}, "unknown market"),
        ({"month": "2026-10", "markets": "gb"}, "upper case: GB"),
        ({"month": "2026-10", "reports": "no_such_report"}, "unknown report"),
        ({"month": "2026-10", "lang": "de;import os"}, "language tag"),
        ({"month": "2026-10", "jobs": -1}, "--jobs"),
    ],
)
def test_bad_inputs_are_usage_errors_and_write_nothing(roots, kwargs, needle):
    data = write_valid_dataset(roots / "data", layout="partitioned")
    out = roots / "reports"
    with pytest.raises(UsageError, match=needle.replace("(", r"\(").replace(";", ";")):
        run_batch(data_dir=data, out_dir=out, progress=False, **kwargs)
    assert not out.exists()


def test_missing_data_dir_and_unwritable_output(roots):
    with pytest.raises(UsageError, match="does not exist"):
        run_batch(MONTH, data_dir=roots / "nope", out_dir=roots / "reports", progress=False)
    data = write_valid_dataset(roots / "data", layout="partitioned")
    (roots / "a-file").write_text("x")
    with pytest.raises(UsageError, match="cannot write to .*a-file/reports: .*a-file is not a directory"):
        run_batch(MONTH, data_dir=data, out_dir=roots / "a-file" / "reports", progress=False)
    assert sorted(p.name for p in roots.iterdir()) == ["a-file", "data"]


def test_notebook_parameters_cannot_carry_code(roots):
    ok = validate_notebook_parameters(
        {"market": "GB", "month": MONTH, "lang": "en_GB", "markets": "DE,GB", "data_dir": str(roots)}
    )
    assert ok["market"] == "GB"
    crafted = [
        {"market": 'GB"\nimport os; os.system("id")\n#'},
        {"month": "2026-10'; import os"},
        {"lang": "en_GB\nimport os"},
        {"markets": "DE,GB;x"},
        {"data_dir": str(roots / "no-such-dir")},
        {"data_dir": str(roots) + "\n__import__('os')"},
        {"market": "GB", "extra_code": "1"},
        {"month": 202610},
    ]
    for params in crafted:
        with pytest.raises(UsageError):
            validate_notebook_parameters(params)


def test_cli_error_has_no_traceback():
    res = _run_cli(["run", "--month", "2026-13"])
    assert res.returncode == 2
    assert "YYYY-MM" in res.stderr and "Traceback" not in res.stderr


# ---------------------------------------------------------------------------------------
# HTML export


def _executed_notebook() -> nbformat.NotebookNode:
    nb = new_notebook()
    md = new_code_cell("present.show('# Title')", execution_count=1)
    md.outputs = [
        new_output(
            "display_data",
            data={"text/markdown": "# Report title\n\n## First section\n\ntext", "text/plain": "<Markdown>"},
        )
    ]
    fig = new_code_cell("show_figure(fig)", execution_count=2)
    fig.outputs = [new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"})]
    sec = new_code_cell("SECRET_CODE_LINE = 1", execution_count=3)
    sec.outputs = [new_output("display_data", data={"text/markdown": "## Second section", "text/plain": "x"})]
    nb.cells = [new_markdown_cell("Intro"), md, fig, sec]
    return nb


def test_html_is_self_contained_with_code_hidden_and_toc():
    html = report_html.render_html(_executed_notebook(), title="T", language="de")
    assert report_html.list_external_references(html) == []
    assert "SECRET_CODE_LINE" not in html  # code hidden
    assert "data:image/png;base64,iVBORw0KGgo=" in html  # figure embedded
    assert '<html lang="de">' in html
    nav = html[html.index('<nav class="govlib-toc"') : html.index("</nav>")]
    assert "First section" in nav and "Second section" in nav and "Report title" not in nav
    # every TOC link points at a heading of the page
    import re

    for anchor in re.findall(r'href="#([^"]+)"', nav):
        assert f'id="{anchor}"' in html


def test_external_reference_detector_finds_cdn_scripts():
    bad = (
        '<script src="https://cdn.example.org/x.js"></script><link href="//fonts.example.org/f.css">'
        '<style>@import url(https://x.org/a.css);</style><a href="https://eur-lex.europa.eu/eli">DSA</a>'
    )
    found = report_html.list_external_references(bad)
    assert len(found) == 4
    assert len(report_html.list_external_references(bad, allow=("https://eur-lex.europa.eu/",))) == 3


def test_confidential_banner_is_escaped_and_opens_the_page():
    hostile = '<script>alert("x")</script> & CONFIDENTIAL'
    html = report_html.render_html(_executed_notebook(), title="T", banner=hostile)
    assert "<script>alert" not in html
    banner = html.index('<div class="govlib-confidential"')
    assert re.match(
        r'<div [^>]*>&lt;script&gt;alert\((&#34;|")x(&#34;|")\)&lt;/script&gt; &amp; CONFIDENTIAL</div>',
        html[banner:],
    )
    assert html.index("<body") < banner < html.index('<nav class="govlib-toc"')  # above the report
    assert "govlib-confidential" not in report_html.render_html(_executed_notebook(), title="T")


def test_month_index_escapes_hostile_texts(tmp_path):
    from govlib.report.batch.index import render_index
    from govlib.report.batch.result import BatchResult, Outcome

    month_dir = tmp_path / MONTH
    (month_dir / "GB").mkdir(parents=True)
    (month_dir / "GB" / "kpis.csv").write_text("x\n")
    res = BatchResult(
        MONTH,
        month_dir,
        skipped={"XX": "<b>no params</b>"},
        market_errors={"DE": "<img src=x onerror=alert(1)>\n2\n3\n4\n5\n6\nseventh line"},
    )
    res.outcomes.append(
        Outcome(
            "GB",
            "market_report",
            "failed",
            1.25,
            '<script>alert("x")</script>',
            'GB/a"onmouseover="alert(1).html',
            "GB/market_report.ipynb",
        )
    )
    page = render_index(res, month_dir)
    for raw in ("<script>alert", "<img src=x", "<b>no params", '"onmouseover'):
        assert raw not in page
    assert (
        "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page and "&lt;b&gt;no params&lt;/b&gt;" in page
    )
    assert "seventh line" not in page  # the index shows an error's first six lines
    rows = re.findall(r'<tr class="(\w+)"><td>(\w+)</td><td>([\w ]+)</td><td>(\w+)</td>', page)
    assert rows == [
        ("failed", "DE", "all reports", "failed"),
        ("skipped", "XX", "all reports", "skipped"),
        ("failed", "GB", "market_report", "failed"),
    ]
    assert '<td class="num">1.2 s</td>' in page and '<a href="GB/kpis.csv">kpis.csv</a>' in page
    assert "Some reports failed" in page and report_html.list_external_references(page) == []


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium on this machine (see docs/reports.md)")
def test_html_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "r.html"
    page.write_text(report_html.render_html(_executed_notebook(), title="T"), encoding="utf-8")
    res = subprocess.run(
        [
            _chromium(),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0
    assert "Second section" in res.stdout
    assert "Uncaught" not in res.stderr  # no JavaScript error


# ---------------------------------------------------------------------------------------
# KPI export format


def test_kpis_csv_format_is_exact_and_deterministic():
    df = pd.DataFrame(
        [
            {
                "market": "DE",
                "month": MONTH,
                "kpi_id": "actions_total",
                "value": 562.0,
                "numerator": 562.0,
                "denominator": float("nan"),
                "ci_low": float("nan"),
                "ci_high": float("nan"),
                "unit": "count",
                "status": "ok",
            },
            {
                "market": "DE",
                "month": MONTH,
                "kpi_id": "proactive_rate",
                "value": 386 / 562,
                "numerator": 386.0,
                "denominator": 562.0,
                "ci_low": 0.1,
                "ci_high": 0.2,
                "unit": "share",
                "status": "ok",
            },
        ]
    )
    text = format_kpis_csv(df)
    lines = text.split("\r\n")
    assert lines[0] == KPI_HEADER
    assert lines[1] == "DE,2026-10,actions_total,562,562,,,,count,ok"  # empty denominator: empty, never 0
    assert lines[2] == "DE,2026-10,proactive_rate,0.686832740214,386,562,0.1,0.2,share,ok"
    assert format_kpis_csv(df.sample(frac=1, random_state=1).sort_index()) == text


# ---------------------------------------------------------------------------------------
# failure isolation, timeouts, atomicity (trivial notebooks on the hand-made dataset)


PARAMS_CELL = (
    'market: str = "GB"\nmonth: str = "2026-10"\ndata_dir: str = ""\nlang: str = ""\ncube_path: str = ""'
)
TOY_NOTEBOOKS = {
    "toy_ok": "from govlib.report.cube import load_cube\ncube = load_cube(cube_path)\nprint(cube.market, len(cube.kpis))",
    "toy_bad": "if market == 'GB':\n    raise ValueError('planted failure for GB')\nprint('fine')",
    "toy_slow": "import time\nif market == 'GB':\n    time.sleep(60)\nprint('done')",
}


def _toy_project(root: Path, monkeypatch, notebooks: dict[str, str], sleep: float = 0.0) -> None:
    nbdir, pdir = root / "notebooks", root / "params"
    nbdir.mkdir()
    shutil.copytree(config.PARAMS_DIR / "markets", pdir / "markets")
    for name, code in notebooks.items():
        nb = new_notebook()
        p = new_code_cell(PARAMS_CELL)
        p.metadata["tags"] = ["parameters"]
        body = (f"import time\ntime.sleep({sleep})\n" if sleep else "") + code
        nb.cells = [
            p,
            new_code_cell(
                "from IPython.display import Markdown, display\ndisplay(Markdown('# Toy ' + market))"
            ),
            new_code_cell(body),
        ]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, nbdir / f"{name}.ipynb")
    (pdir / "reports.yaml").write_text(
        f"market_notebooks: [{', '.join(notebooks)}]\nrollup_notebooks: []\ntimeout_seconds: 10\n"
    )
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", nbdir)
    monkeypatch.setattr(config, "PARAMS_DIR", pdir)
    monkeypatch.setenv("GOVLIB_PARAMS", str(pdir))


def test_failing_and_timed_out_notebooks_are_isolated(roots, monkeypatch):
    _toy_project(roots, monkeypatch, TOY_NOTEBOOKS)
    data = write_valid_dataset(roots / "data", layout="partitioned")
    out = roots / "reports"
    res = run_batch(MONTH, markets="DE,GB", data_dir=data, out_dir=out, jobs=2, progress=False)
    status = {(o.market, o.report): o for o in res.outcomes}
    assert not res.ok
    assert {k: o.status for k, o in status.items()} == {
        ("DE", "toy_ok"): "ok",
        ("DE", "toy_bad"): "ok",
        ("DE", "toy_slow"): "ok",
        ("GB", "toy_ok"): "ok",
        ("GB", "toy_bad"): "failed",
        ("GB", "toy_slow"): "failed",
    }
    assert "planted failure for GB" in status[("GB", "toy_bad")].error
    assert (
        "timed out" in status[("GB", "toy_slow")].error.lower()
        or "timeout" in status[("GB", "toy_slow")].error.lower()
    )
    index = (out / MONTH / "index.html").read_text()
    assert "planted failure for GB" in index
    assert 'href="GB/toy_bad.html#papermill-error-cell"' in index
    assert 'id="papermill-error-cell"' in (out / MONTH / "GB" / "toy_bad.html").read_text()
    # every market folder is complete, nothing left in staging
    for m in ("DE", "GB"):
        folder = out / MONTH / m
        assert (folder / "kpis.csv").read_text().startswith(KPI_HEADER)
        for nb in TOY_NOTEBOOKS:
            assert (folder / f"{nb}.ipynb").exists() and (folder / f"{nb}.html").exists()
    assert _staging_dirs(out) == []


def test_broken_market_fails_alone(roots, monkeypatch):
    """Invalid rows in one market: that market fails in the index, the other reports, exit 1, no half folder."""
    _toy_project(roots, monkeypatch, {"toy_ok": TOY_NOTEBOOKS["toy_ok"]})
    data = write_valid_dataset(roots / "data", layout="partitioned")
    part = next((data / "enforcement_actions" / "market=GB").glob("*.parquet"))
    df = pd.read_parquet(part)
    df.loc[df.index[:2], "action_type"] = "nuked"
    df.to_parquet(part, index=False)
    out = roots / "reports"
    res = _run_child(
        [
            "run",
            "--month",
            MONTH,
            "--markets",
            "DE,GB",
            "--data",
            str(data),
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert "enforcement_actions.action_type: 2 rows" in res.stderr
    index = (out / MONTH / "index.html").read_text()
    assert "enforcement_actions.action_type: 2 rows" in index
    assert not (out / MONTH / "GB").exists()
    assert (out / MONTH / "DE" / "toy_ok.html").exists()
    month_kpis = pd.read_csv(out / MONTH / "kpis.csv")
    assert set(month_kpis["market"]) == {"DE"}
    assert _staging_dirs(out) == []


def test_interrupted_run_leaves_no_partial_report_and_resumes(roots, monkeypatch):
    # a fixed code version: other engineers' edits to govlib/ between the two runs must not defeat --resume
    monkeypatch.setenv("GOVLIB_CODE_VERSION", "test-resume")
    _toy_project(
        roots, monkeypatch, {"toy_a": TOY_NOTEBOOKS["toy_ok"], "toy_b": TOY_NOTEBOOKS["toy_ok"]}, sleep=2
    )
    data = write_valid_dataset(roots / "data", layout="partitioned")
    out = roots / "reports"
    args = [
        "run",
        "--month",
        MONTH,
        "--markets",
        "DE,GB",
        "--data",
        str(data),
        "--out",
        str(out),
        "--jobs",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-c", _CHILD, *args],
        env=_child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not (out / MONTH / "DE").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert (out / MONTH / "DE").exists(), proc.communicate()
    proc.send_signal(signal.SIGINT)
    _stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    # DE is complete, GB absent or complete, no staging, no index from the interrupted run
    assert all((out / MONTH / "DE" / f).exists() for f in ("toy_a.html", "toy_b.html", "kpis.csv"))
    gb = out / MONTH / "GB"
    assert not gb.exists() or all((gb / f).exists() for f in ("toy_a.html", "toy_b.html", "kpis.csv"))
    assert _staging_dirs(out) == []
    assert not (out / MONTH / "index.html").exists()
    # resume: DE is reused, GB is done
    res = run_batch(MONTH, markets="DE,GB", data_dir=data, out_dir=out, jobs=2, resume=True, progress=False)
    status = {(o.market, o.report): o.status for o in res.outcomes}
    assert status[("DE", "toy_a")] == "reused" and status[("DE", "toy_b")] == "reused"
    assert res.ok and (out / MONTH / "GB" / "toy_b.html").exists()


def _child_env() -> dict:
    return dict(
        os.environ, GOVLIB_PARAMS=str(config.PARAMS_DIR), GOVLIB_TEST_NOTEBOOKS=str(config.NOTEBOOKS_DIR)
    )


def _run_child(args: list[str]) -> subprocess.CompletedProcess:
    """`govlib ARGS` in a child process that uses the (monkeypatched) toy notebooks and params."""
    return subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, env=_child_env()
    )


# A child process running `govlib` with the toy notebooks directory.
_CHILD = """
import os, sys
from pathlib import Path
from govlib import config
config.NOTEBOOKS_DIR = Path(os.environ["GOVLIB_TEST_NOTEBOOKS"])
config.PARAMS_DIR = Path(os.environ["GOVLIB_PARAMS"])
from govlib.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


# ---------------------------------------------------------------------------------------
# the real reports on the small demo data


@pytest.fixture(scope="module")
def demo_run(demo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    saved = {k: os.environ.get(k) for k in ("GOVLIB_CODE_VERSION",)}
    os.environ["GOVLIB_CODE_VERSION"] = (
        "test-demo-run"  # see test_interrupted_run_...: stable across this module
    )
    try:
        res = run_batch(
            MONTH,
            markets="DE,GB,PL",
            reports="market_report,emea_overview",
            data_dir=demo_dir,
            out_dir=out,
            jobs=2,
            progress=False,
        )
        yield res, out / MONTH
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_demo_run_layout(demo_run):
    res, month_dir = demo_run
    assert res.ok, [(o.market, o.report, o.error) for o in res.outcomes]
    for m in ("DE", "GB", "PL"):
        for f in ("market_report.ipynb", "market_report.html", "kpis.csv", "market_report.manifest.json"):
            assert (month_dir / m / f).exists(), (m, f)
    assert (month_dir / "EMEA" / "emea_overview.html").exists()
    index = (month_dir / "index.html").read_text()
    for m in ("DE", "GB", "PL"):
        assert f'href="{m}/market_report.html"' in index
    assert report_html.list_external_references(index) == []


def test_demo_front_page_figures_equal_the_published_csvs(demo_run):
    """Each market tile of the index shows its kpis.csv and alerts.csv; kpi_history.csv holds 13 months."""

    _, month_dir = demo_run
    shown = tiles((month_dir / "index.html").read_text(encoding="utf-8"))
    assert sorted(shown) == ["DE", "GB", "PL"]
    for m, tile in shown.items():
        kpis = pd.read_csv(month_dir / m / "kpis.csv")
        history = pd.read_csv(month_dir / m / "kpi_history.csv", dtype={"month": str})
        assert sorted(history["month"].unique()) == [shift_month(MONTH, -k) for k in range(12, -1, -1)]
        now = history[history["month"] == MONTH].reset_index(drop=True)
        pd.testing.assert_frame_equal(now, kpis.astype({"month": str}))  # the month's rows are kpis.csv
        for r in kpis.itertuples():
            got = numbers(tile["kpis"][r.kpi_id]["value"])
            if pd.isna(r.value):
                assert tile["kpis"][r.kpi_id]["value"] == "n/a", (m, r.kpi_id)
            elif r.unit == "share":
                assert got == [
                    round(r.value * 100, 1),
                    95,
                    round(r.ci_low * 100, 1),
                    round(r.ci_high * 100, 1),
                ]
            else:
                assert got == [round(r.value, 0 if r.unit == "count" else (2 if r.unit == "ratio" else 1))]
            known = history.loc[history["kpi_id"] == r.kpi_id, "value"].notna().sum()
            assert bool(tile["kpis"][r.kpi_id]["spark"]) == bool(known), (m, r.kpi_id)  # a line where known
        alerts = pd.read_csv(month_dir / m / "alerts.csv")
        assert tile["alarms"] == str(len(alerts))
        if len(alerts):
            assert tile["top_href"].startswith(f"{m}/market_report.html#")
            anchor = tile["top_href"].split("#")[1]
            assert f'id="{anchor}"' in (month_dir / m / "market_report.html").read_text(encoding="utf-8")
            assert tile["q"] == f"{alerts['q_value'].iloc[0]:.3f}"


def test_demo_alerts_csv_has_planted_wave_first(demo_run, ground_truth):
    """Issue 5: the planted emerging wave is row 1 of its market's alerts.csv for the last month."""
    from govlib.metrics.trends import ALERT_COLUMNS

    _res, month_dir = demo_run
    wave = ground_truth["emerging_wave"]
    assert MONTH in wave["months"] and wave["market"] in ("DE", "GB", "PL")  # the markets of demo_run
    raw = (month_dir / wave["market"] / "alerts.csv").read_bytes()
    assert raw.startswith(",".join(ALERT_COLUMNS).encode() + b"\r\n")
    alerts = pd.read_csv(month_dir / wave["market"] / "alerts.csv", dtype={"week_start": str})
    assert list(alerts.columns) == ALERT_COLUMNS and len(alerts) > 0
    top = alerts.iloc[0]
    assert (top["market"], top["policy"], top["month"]) == (wave["market"], wave["policy"], MONTH)
    assert wave["start"] <= top["week_start"] <= wave["end"]
    assert top["observed"] > top["expected"] and top["p_value"] <= top["q_value"]  # BH q >= p
    assert alerts["p_value"].is_monotonic_increasing  # ranked: row 1 = strongest evidence
    for m in ("DE", "GB", "PL"):  # every published market has one, possibly header only
        assert (month_dir / m / "alerts.csv").read_bytes().startswith(",".join(ALERT_COLUMNS).encode())


def test_format_alerts_csv_empty_month_is_header_only():
    from govlib.metrics.trends import ALERT_COLUMNS
    from govlib.report.cube import _empty_alerts, format_alerts_csv

    assert format_alerts_csv(_empty_alerts()) == ",".join(ALERT_COLUMNS) + "\r\n"
    with pytest.raises(Exception, match="q_value"):
        format_alerts_csv(_empty_alerts().drop(columns="q_value"))


def test_demo_kpis_csv_matches_raw_tables(demo_run, demo_dir):
    """Recompute KPIs from the raw Parquet files with plain pandas (independent of govlib.metrics)."""
    res, month_dir = demo_run
    kpis = pd.read_csv(month_dir / "kpis.csv")
    assert list(kpis.columns) == EXPORT_COLUMNS and set(kpis["status"]) == {"ok"}
    assert (month_dir / "kpis.csv").read_bytes().startswith(KPI_HEADER.encode() + b"\r\n")
    acts = pd.read_parquet(demo_dir / "enforcement_actions")  # hive partitions: market from the path
    acts["market"] = acts["market"].astype(str)
    appeals = pd.read_parquet(demo_dir / "appeals.parquet")
    tzs = {"DE": "Europe/Berlin", "GB": "Europe/London", "PL": "Europe/Warsaw"}
    for market, tz in tzs.items():
        got = kpis[kpis["market"] == market].set_index("kpi_id")
        local = pd.to_datetime(acts["actioned_at"], utc=True).dt.tz_convert(tz).dt.strftime("%Y-%m")
        a = acts[(acts["market"] == market) & (local == MONTH)]
        assert got.loc["actions_total", "value"] == len(a) > 0
        proactive = a["detection_source"].isin(["automated", "proactive_review"]).sum()
        assert got.loc["proactive_rate", "numerator"] == proactive
        assert got.loc["proactive_rate", "value"] == pytest.approx(proactive / len(a), rel=1e-9)
        rm = a[(a["action_type"] == "content_removed") & a["views_before_action"].notna()]
        assert got.loc["removed_before_views_rate", "denominator"] == len(rm)
        assert got.loc["removed_before_views_rate", "value"] == pytest.approx(
            (rm["views_before_action"] == 0).mean(), rel=1e-9
        )
        ap = appeals[appeals["market"] == market]
        sub = pd.to_datetime(ap["submitted_at"], utc=True).dt.tz_convert(tz).dt.strftime("%Y-%m")
        assert got.loc["appeals_submitted", "value"] == (sub == MONTH).sum()
        resolved = pd.to_datetime(ap["resolved_at"], utc=True).dt.tz_convert(tz).dt.strftime("%Y-%m")
        dec = ap[(resolved == MONTH) & (ap["outcome"] != "pending")]
        if len(dec):
            over = dec["outcome"].isin(["overturned", "partially_overturned"]).mean()
            assert got.loc["overturn_rate", "value"] == pytest.approx(over, rel=1e-9)
        # the market's own kpis.csv is the same rows
        own = pd.read_csv(month_dir / market / "kpis.csv")
        pd.testing.assert_frame_equal(own, kpis[kpis["market"] == market].reset_index(drop=True))


def test_demo_html_self_contained_and_code_hidden(demo_run):
    _res, month_dir = demo_run
    for page in list(month_dir.glob("*/*.html")):
        text = page.read_text(encoding="utf-8")
        assert report_html.list_external_references(text) == [], page
        assert "open_report_cube" not in text and "import " not in text.split("<body")[1], page  # code hidden
        assert '<nav class="govlib-toc"' in text, page
        assert "data:image/png;base64," in text, page


def test_demo_outputs_carry_no_creator_ids(demo_run, demo_dir):
    from govlib.privacy import scan_for_identifiers

    _res, month_dir = demo_run
    ids = pd.read_parquet(demo_dir / "creators.parquet", columns=["creator_id"])["creator_id"].astype(str)
    files = [p for p in month_dir.rglob("*") if p.is_file()]
    assert files
    assert not scan_for_identifiers(files, ids.tolist())


def test_demo_resume_reuses_and_rerun_is_byte_identical(demo_run, demo_dir, tmp_path):
    res, month_dir = demo_run
    out = month_dir.parent
    before = {p: p.read_bytes() for p in month_dir.rglob("*.ipynb")}
    again = run_batch(
        MONTH,
        markets="DE,GB,PL",
        reports="market_report,emea_overview",
        data_dir=demo_dir,
        out_dir=out,
        jobs=2,
        resume=True,
        progress=False,
    )
    assert {o.status for o in again.outcomes if o.market != "EMEA"} == {"reused"}
    # a fresh run elsewhere gives byte-identical kpis.csv and notebooks (determinism)
    fresh = run_batch(
        MONTH,
        markets="GB",
        reports="market_report",
        data_dir=demo_dir,
        out_dir=tmp_path,
        jobs=1,
        progress=False,
    )
    assert fresh.ok
    assert (tmp_path / MONTH / "GB" / "kpis.csv").read_bytes() == (month_dir / "GB" / "kpis.csv").read_bytes()
    assert (tmp_path / MONTH / "GB" / "alerts.csv").read_bytes() == (
        month_dir / "GB" / "alerts.csv"
    ).read_bytes()
    assert (tmp_path / MONTH / "GB" / "market_report.ipynb").read_bytes() == before[
        month_dir / "GB" / "market_report.ipynb"
    ]


# ---------------------------------------------------------------------------------------
# the market report on real public data: DSA Transparency Database rows (issue 7)


def test_market_report_runs_on_imported_real_dsa_rows(tmp_path):
    """`govlib run` on a dataset imported from the real statement-of-reasons rows of tests/fixtures/dsa."""
    from govlib.dsa import NOT_AVAILABLE_TEXT
    from govlib.dsa.sor import import_dumps
    from govlib.dsa.synth import build_dump

    rows = FIXTURES / "dsa" / "sor_rows"
    dumps = [
        build_dump(
            tmp_path / f"sor-global-{day}-full.zip",
            [[(f.name, f) for f in sorted(rows.glob(f"sor-global-{day}-full-*.csv"))]],
        )
        for day in ("2024-03-14", "2025-07-01")
    ]
    data, out = tmp_path / "dsa", tmp_path / "reports"
    import_dumps(dumps, data)
    env = dict(
        os.environ,
        GOVLIB_CACHE=str(tmp_path / "cache"),
        GOVLIB_PSEUDONYM_KEY="test-only-pseudonym-key-0123456789",
    )  # real data: no example key
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "govlib",
            "run",
            "--month",
            "2024-03",
            "--markets",
            "DE",
            "--reports",
            "market_report",
            "--data",
            str(data),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--lang",
            "en_GB",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    folder = out / "2024-03" / "DE"
    html = (folder / "market_report.html").read_text(encoding="utf-8")
    assert NOT_AVAILABLE_TEXT in html  # appeals, notices, prevalence, health, rewards, watchlist
    assert "Peer benchmarks" in html and "Temu" in html  # DE is a DSA market; the published reports are read
    assert "papermill-error" not in html
    # the headline count is the imported rows of DE in March 2024 (Berlin time), counted directly
    acts = pd.read_parquet(data / "enforcement_actions.parquet")
    local = pd.to_datetime(acts["actioned_at"], utc=True).dt.tz_convert("Europe/Berlin").dt.strftime("%Y-%m")
    n = int(((acts["market"].astype(str) == "DE") & (local == "2024-03")).sum())
    kpis = pd.read_csv(folder / "kpis.csv").set_index("kpi_id")
    assert kpis.loc["actions_total", "value"] == n > 0
    assert (folder / "alerts.csv").read_text(encoding="utf-8").startswith("market,month,policy,content_type,")


@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium on this machine (see docs/reports.md)")
def test_demo_reports_render_in_headless_chromium(demo_run, tmp_path):
    """The real reports (DE in German, the roll-up, the index) load without a JavaScript error."""
    _, month_dir = demo_run
    pages = [
        month_dir / "DE" / "market_report.html",
        month_dir / "EMEA" / "emea_overview.html",
        month_dir / "index.html",
    ]
    for page in pages:
        res = subprocess.run(
            [
                _chromium(),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--enable-logging=stderr",
                "--v=0",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert res.returncode == 0, (page, res.stderr[-2000:])
        assert "</table>" in res.stdout, page  # the DOM was built: tables are there
        assert "Uncaught" not in res.stderr, (page, res.stderr[-2000:])  # no JavaScript error


# Source strings that may legitimately stay in English inside a translated report: proper names
# and terms of art (documented in docs/i18n.md).
UNTRANSLATED_ALLOW_LIST = {"Kaplan–Meier", "Benjamini–Hochberg", "Wilson", "Cox"}


def _english_fragments(language: str) -> set[str]:
    """Fragments (>= 3 words, between placeholders) of every msgid the language translates differently."""
    from babel.messages.pofile import read_po

    with open(Path(config.LOCALES_DIR) / language / "LC_MESSAGES" / "govlib.po", "rb") as fh:
        catalog = read_po(fh)
    fragments = set()
    for msg in catalog:
        if not msg.id or not isinstance(msg.id, str) or not msg.string or msg.string == msg.id:
            continue
        for part in re.split(r"\{[^}]*\}|%\([^)]*\)[sdf]|\*\*|`|\n", msg.id):
            part = part.strip(" .,:;()–-")
            if len(part.split()) >= 3 and part not in UNTRANSLATED_ALLOW_LIST:
                fragments.add(part)
    return fragments


def _visible_text(html_text: str) -> str:
    from html.parser import HTMLParser

    class _Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts, self._skip = [], 0

        def handle_starttag(self, tag, attrs):
            self._skip += tag in ("script", "style")

        def handle_endtag(self, tag):
            self._skip -= tag in ("script", "style") and self._skip > 0

        def handle_data(self, data):
            if not self._skip:
                self.parts.append(data)

    parser = _Text()
    parser.feed(html_text)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


@pytest.mark.parametrize("market,language", [("DE", "de_DE"), ("PL", "pl_PL")])
def test_translated_reports_contain_no_untranslated_source_strings(demo_run, market, language):
    _, month_dir = demo_run
    text = _visible_text((month_dir / market / "market_report.html").read_text(encoding="utf-8"))
    fragments = _english_fragments(language)
    assert len(fragments) > 100  # the check has material to work on
    leaked = sorted(f for f in fragments if f in text)
    assert leaked == [], leaked[:10]
    # and the report is really in the language: a translated section title is there
    from govlib.report.i18n import get_translator

    tr = get_translator(language)
    assert (
        tr.gettext("Headline indicators") in text and tr.gettext("Contents") in text
    )  # body and table of contents
    assert tr.gettext("Contents") != "Contents"
    from govlib.report.i18n import formatter_for

    assert formatter_for(market).market_name(market) in text  # "Deutschland", "Polska": not the English name
