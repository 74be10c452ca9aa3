"""Smoke test of the benchmark harness (``benchmarks/run.py``) on the small demo data.

No timing is asserted (the machine is shared); what is asserted: the three ways of computing
one market-month KPI table agree (govlib, the hand-written DuckDB SQL floor, naive pandas:
independent implementations), the harness's agreement check can fail, the run ends with the
RATIOS line (its batch and xlarge fields "na" when not measured, computed from the steps'
figures when they are), the process-tree memory sampler sees a child's allocation, and the
harness rewrites only its own section of the performance notes.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from paths import ROOT

from govlib.params import load_market

ROOT = ROOT


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


bench = _load("govlib_bench_run", ROOT / "benchmarks" / "run.py")  # puts benchmarks/ on sys.path
steps = _load("kpi_steps", ROOT / "benchmarks" / "kpi_steps.py")


def _records(df):
    import json

    return json.loads(df.to_json(orient="records"))


@pytest.mark.parametrize("market", ["DE", "PL"])  # PL launched in 2026-08: no recidivism cohort (NaN)
def test_sql_floor_and_naive_pandas_compute_the_same_kpis(demo_dir, ground_truth, market):
    month, tz = ground_truth["end_month"], load_market(market).timezone
    g_rows, g = steps.kpi_govlib(demo_dir, market, month, tz)
    _, s = steps.kpi_sql(demo_dir, market, month, tz)
    p_rows, p = steps.kpi_pandas(demo_dir, market, month, tz)
    bench.check_same_kpis(_records(g), _records(s), "sql")
    bench.check_same_kpis(_records(g), _records(p), "pandas")
    assert g.set_index("kpi_id").loc["actions_total", "value"] > 0
    assert p_rows > 10 * g_rows  # naive pandas reads every market and month
    # the check is not vacuous: one count off by one is caught
    bad = _records(s)
    bad[0]["value"] += 1
    with pytest.raises(bench.BenchError, match="actions_total.value"):
        bench.check_same_kpis(_records(g), bad, "sql")


@pytest.mark.slow
def test_quick_run_prints_ratios_and_writes_only_its_section(tmp_path, demo_dir, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bench-small").symlink_to(demo_dir, target_is_directory=True)
    doc = tmp_path / "performance.md"
    doc.write_text(
        "# Performance\n\n## Demo data generation\n\nkept 1\n\n## Benchmarks\n\nstale table\n\n"
        "## Scale\n\nkept 2\n",
        encoding="utf-8",
    )
    rc = bench.main(
        ["--quick", "--no-batch", "--no-cube", "--data-root", str(tmp_path / "data"), "--docs", str(doc)]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert rc == 0
    assert re.fullmatch(
        r"RATIOS kpi_vs_sql=\d+\.\d\d kpi_vs_pandas=\d+\.\d\d batch_vs_floor=na batch_vs_floors=na "
        r"peak_rss_gb=\d+\.\d\d xlarge_batch_s=na xlarge_peak_rss_gb=na xlarge_vs_large=na "
        r"dsa_vs_floor=\d+\.\d\d dsa_rows_per_s=\d+ dsa_peak_rss_gb=\d+\.\d\d",
        out[-1],
    ), out[-1]
    assert sum(line.startswith("RATIOS ") for line in out) == 1
    assert not any(line.startswith("[xlarge]") for line in out)  # quick mode never builds or runs xlarge
    text = doc.read_text(encoding="utf-8")
    assert "kept 1" in text and "kept 2" in text and "stale table" not in text
    assert text.index("## Demo data generation") < text.index("## Benchmarks") < text.index("## Scale")
    assert out[-1] in text
    table = [ln for ln in text.splitlines() if ln.startswith("| small |")]
    assert len(table) == 4  # three KPI ways and validation
    assert re.search(r"Machine: \d+ cores \(.+\), \d+\.\d GB RAM", text)

    # a second run replaces the table between its markers and keeps notes written around it
    text = text.replace("<!-- bench:table:end -->", "<!-- bench:table:end -->\n\nhand-written note")
    doc.write_text(text, encoding="utf-8")
    bench.write_section(doc, "Benchmarks", "new table")
    text = doc.read_text(encoding="utf-8")
    assert "new table" in text and "hand-written note" in text and "| small |" not in text


def test_peak_rss_sees_the_largest_process_of_the_tree():
    """A child holding 300 MB is seen with its own peak; the figure reported is the tree's largest."""
    import subprocess

    batch = sys.modules.get("batch") or _load("batch", ROOT / "benchmarks" / "batch.py")
    hold = "import time; b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(3)"
    with batch.PeakRss(interval=0.1) as rss:
        subprocess.run([sys.executable, "-c", hold], check=True)
    mb, _ = rss.stop()
    child = [rss_b / 2**20 for rss_b, cmd in rss.peak.values() if "bytearray" in cmd]
    assert len(child) == 1 and 300 <= child[0] < 400, child  # the child, sampled while it held its 300 MB
    assert mb >= child[0] and len(rss.peak) >= 2  # the largest over the tree (the parent is sampled too)


def test_floors_and_xlarge_fields_from_the_steps(monkeypatch, demo_dir):
    """batch_vs_floors = batch / (floor + data floor); the xlarge fields come from its batch child."""
    b = {"govlib": {"seconds": 45.0}, "floor": {"seconds": 12.0}, "data_floor": {"seconds": 18.0}}
    assert bench.batch_vs_floors(b) == pytest.approx(1.5)
    child = {
        "seconds": 600.0,
        "rss_mb": 300.0,
        "children_rss_mb": 2000.0,
        "result": {
            "notebooks": 30,
            "ok": True,
            "failed": [],
            "peak_process_rss_mb": 3072.0,
            "peak_process": "k",
        },
    }
    seen = {}

    def fake_child(step, data, market, month, tz, **kwargs):
        seen.update(step=step, market=market, month=month)
        return child

    monkeypatch.setattr(bench, "run_child", fake_child)
    large = {"batch_s": 150.0, "content_rows": 104_340}  # half the small demo's content: data x2.0
    row, fields = bench.run_xlarge(demo_dir, 2, large)
    assert seen == {"step": "batch_govlib", "market": "all", "month": "2026-10"}
    assert fields == {"xlarge_batch_s": 600.0, "xlarge_peak_rss_gb": 3.0, "xlarge_vs_large": 4.0}
    assert row["ratio"] == "xlarge / large = 4.00 (content rows x2.0)"
    line = bench.ratio_line({"batch_vs_floors": 1.5, **fields})
    assert (
        "batch_vs_floors=1.50" in line
        and "xlarge_batch_s=600.00 xlarge_peak_rss_gb=3.00 xlarge_vs_large=4.00" in line
    )
    # a failed report leaves the xlarge fields out, never a time of a batch that ended early
    child["result"] = {**child["result"], "ok": False, "failed": ["DE/market_report: failed"]}
    assert bench.run_xlarge(demo_dir, 2, large)[1] == {}
