"""Smoke test of the benchmark harness (``benchmarks/run.py``) on the small demo data.

No timing is asserted (the machine is shared); what is asserted: the three ways of computing
one market-month KPI table agree (govlib, the hand-written DuckDB SQL floor, naive pandas:
independent implementations), the harness's agreement check can fail, the run ends with the
RATIOS line, and it rewrites only its own section of the performance notes.
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
        r"RATIOS kpi_vs_sql=\d+\.\d\d kpi_vs_pandas=\d+\.\d\d batch_vs_floor=na peak_rss_gb=\d+\.\d\d",
        out[-1],
    ), out[-1]
    assert sum(line.startswith("RATIOS ") for line in out) == 1
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
