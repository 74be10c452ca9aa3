"""The steps the benchmark harness times: one market-month KPI table three ways, validation, cube build.

Each step is a function ``step(data, market, month, tz) -> (rows_in, result)`` that runs in a
fresh child process (see :mod:`benchmarks.run`), after its imports, so that its wall time and
its peak RSS are its own.

``kpi_govlib``
    govlib's data layer and metric code: ``open_dataset`` + ``load_kpi_inputs`` (market,
    month and semi-join filters pushed into DuckDB through Ibis: only the rows and columns
    the KPIs read, e.g. the published time of the removed content instead of the market's
    content window) + ``compute_kpis``.
``kpi_sql``
    The floor: one hand-written DuckDB SQL query over the same Parquet files computing
    every KPI's numerator, denominator and median, with the Wilson and Korn-Graubard
    intervals computed from those numbers (the month's prevalence sample, a few
    thousand rows, is fetched for the design-based interval).
``kpi_pandas``
    Naive pandas: read the whole tables (every market, every month; only the columns the
    KPIs use) with ``pandas.read_parquet``, then filter and group in pandas
    (``compute_kpis`` on the full frames, which selects the market and month itself).
``validate``
    ``govlib.data.validate.validate_dataset(level="full")`` over the whole dataset.
``cube``
    ``govlib.report.cube.build_cube`` of one market (what ``govlib run`` does per market:
    a 15-month window of every table, 13 months of KPIs, the slice's validation).
"""

from __future__ import annotations

import math
from pathlib import Path

# columns compute_kpis reads, per table (the naive pandas approach reads only these)
KPI_COLUMNS_USED = {
    "enforcement_actions": [
        "market",
        "creator_id",
        "content_id",
        "detection_source",
        "decision_mode",
        "action_type",
        "views_before_action",
        "actioned_at",
    ],
    "content": ["content_id", "published_at"],
    "notices": ["market", "outcome", "received_at", "handled_at"],
    "appeals": ["market", "outcome", "submitted_at", "resolved_at"],
    "prevalence_samples": ["market", "sampled_at", "weight", "is_violating", "stratum"],
}


def _parquet_glob(data: Path, table: str) -> str:
    d = data / table
    return f"{d}/**/*.parquet" if d.is_dir() else str(data / f"{table}.parquet")


def _read_opts(data: Path, table: str) -> str:
    return ", hive_partitioning = true" if (data / table).is_dir() else ""


# ---------------------------------------------------------------------------------------
# one market-month KPI table


def kpi_govlib(data: Path, market: str, month: str, tz: str):
    from govlib.data.load import load_kpi_inputs, open_dataset
    from govlib.metrics.kpis import compute_kpis

    ds = open_dataset(data, "duckdb")
    tables = load_kpi_inputs(ds, market, month, tz)
    kpis = compute_kpis(tables, market, month, tz)
    return sum(len(t) for t in tables.values()), kpis


_FLOOR_SQL = """
WITH
acts AS (
    SELECT creator_id, content_id, detection_source, decision_mode, action_type, views_before_action, actioned_at
    FROM read_parquet('{acts}'{acts_opts})
    WHERE market = $market AND actioned_at >= $m3_start AND actioned_at < $m_end
),
month_acts AS (SELECT * FROM acts WHERE actioned_at >= $m_start),
removed AS (SELECT * FROM month_acts WHERE action_type = 'content_removed'),
cohort AS (
    SELECT creator_id, min(actioned_at) AS t0 FROM acts WHERE actioned_at < $m3_end GROUP BY creator_id
),
repeaters AS (
    SELECT DISTINCT c.creator_id FROM cohort c JOIN acts a
    ON a.creator_id = c.creator_id AND a.actioned_at > c.t0 AND a.actioned_at <= c.t0 + INTERVAL 2160 HOUR
),
published AS (
    SELECT content_id, any_value(published_at) AS published_at
    FROM read_parquet('{content}'{content_opts})
    WHERE content_id IN (SELECT content_id FROM removed)
    GROUP BY content_id
),
notices AS (
    SELECT (epoch(handled_at) - epoch(received_at)) / 3600.0 AS hours
    FROM read_parquet('{notices}'{notices_opts})
    WHERE market = $market AND handled_at >= $m_start AND handled_at < $m_end AND outcome = 'actioned'
),
appeals AS (
    SELECT outcome, submitted_at, resolved_at FROM read_parquet('{appeals}'{appeals_opts}) WHERE market = $market
),
resolved AS (
    SELECT outcome, (epoch(resolved_at) - epoch(submitted_at)) / 3600.0 AS hours
    FROM appeals WHERE resolved_at >= $m_start AND resolved_at < $m_end
)
SELECT
    (SELECT count(*) FROM month_acts) AS actions,
    (SELECT count(*) FROM month_acts WHERE detection_source IN ('automated', 'proactive_review')) AS proactive,
    (SELECT count(*) FROM month_acts WHERE decision_mode = 'automated') AS automated,
    (SELECT count(*) FROM removed WHERE views_before_action IS NOT NULL) AS removed_views_known,
    (SELECT count(*) FROM removed WHERE views_before_action = 0) AS removed_before_views,
    (SELECT count(*) FROM removed r JOIN published p USING (content_id)) AS removed_with_content,
    (SELECT count(*) FROM removed r JOIN published p USING (content_id)
        WHERE r.actioned_at - p.published_at <= INTERVAL 24 HOUR) AS removed_within_24h,
    (SELECT count(*) FROM notices) AS notices_n,
    (SELECT median(hours) FROM notices) AS notices_median,
    (SELECT count(*) FROM appeals WHERE submitted_at >= $m_start AND submitted_at < $m_end) AS appeals_n,
    (SELECT count(*) FROM resolved WHERE outcome <> 'pending') AS decided,
    (SELECT count(*) FROM resolved WHERE outcome IN ('overturned', 'partially_overturned')) AS overturned,
    (SELECT count(hours) FROM resolved) AS resolved_n,
    (SELECT median(hours) FROM resolved) AS resolved_median,
    (SELECT count(*) FROM cohort) AS cohort_n,
    (SELECT count(*) FROM repeaters) AS repeaters_n
"""

_PREVALENCE_SQL = """
SELECT is_violating, weight, stratum FROM read_parquet('{samples}'{samples_opts})
WHERE market = $market AND sampled_at >= $m_start AND sampled_at < $m_end
ORDER BY sample_id
"""


def kpi_sql(data: Path, market: str, month: str, tz: str):
    import duckdb
    import pandas as pd

    from govlib.metrics.kpis import KPI_COLUMNS, KPI_DEFINITIONS
    from govlib.stats import estimate_prevalence, proportion_interval
    from govlib.timeutil import month_bounds, shift_month

    m_start, m_end = month_bounds(month, tz)
    m3_start, m3_end = month_bounds(shift_month(month, -3), tz)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    files = {}
    for key, table in (
        ("acts", "enforcement_actions"),
        ("content", "content"),
        ("notices", "notices"),
        ("appeals", "appeals"),
        ("samples", "prevalence_samples"),
    ):
        files[key] = _parquet_glob(data, table)
        files[f"{key}_opts"] = _read_opts(data, table)
    params = {
        "market": market,
        "m_start": m_start.to_pydatetime(),
        "m_end": m_end.to_pydatetime(),
        "m3_start": m3_start.to_pydatetime(),
        "m3_end": m3_end.to_pydatetime(),
    }
    r = con.execute(_FLOOR_SQL.format(**files), params).fetchone()
    names = [d[0] for d in con.description]
    v = dict(zip(names, r))
    ps = con.execute(
        _PREVALENCE_SQL.format(**files), {k: params[k] for k in ("market", "m_start", "m_end")}
    ).df()
    con.close()

    def share(kpi, num, den):
        ci = proportion_interval(num, den)
        return (kpi, num / den if den else math.nan, num, den, ci[0], ci[1])

    def median(kpi, value, n):
        return (kpi, value if n else math.nan, math.nan, n, math.nan, math.nan)

    nan = math.nan
    y = ps["is_violating"].astype(bool).to_numpy()
    w = ps["weight"].to_numpy(dtype=float)
    est = estimate_prevalence(y, w, ps["stratum"].to_numpy(dtype=object))
    n = v["actions"]
    rows = [
        ("actions_total", n, n, nan, nan, nan),
        share("proactive_rate", v["proactive"], n),
        share("automated_decision_rate", v["automated"], n),
        share("removed_before_views_rate", v["removed_before_views"], v["removed_views_known"]),
        share("removed_within_24h_rate", v["removed_within_24h"], v["removed_with_content"]),
        median("notice_median_hours_to_action", v["notices_median"], v["notices_n"]),
        ("appeals_submitted", v["appeals_n"], v["appeals_n"], nan, nan, nan),
        ("appeal_rate", v["appeals_n"] / n if n else nan, v["appeals_n"], n, nan, nan),
        share("overturn_rate", v["overturned"], v["decided"]),
        median("appeal_median_hours_to_resolve", v["resolved_median"], v["resolved_n"]),
        (
            "violating_view_prevalence",
            est.value,
            float((w * y).sum()),
            est.weight_total,
            est.ci_low,
            est.ci_high,
        ),
        share("recidivism_90d", v["repeaters_n"], v["cohort_n"]),
    ]
    out = pd.DataFrame(rows, columns=["kpi_id", "value", "numerator", "denominator", "ci_low", "ci_high"])
    out = out.astype({c: "float64" for c in out.columns if c != "kpi_id"})
    out.insert(0, "month", month)
    out.insert(0, "market", market)
    out["unit"] = [KPI_DEFINITIONS[k].unit for k in out["kpi_id"]]
    return len(ps) + 1, out[KPI_COLUMNS]


def kpi_pandas(data: Path, market: str, month: str, tz: str):
    import pandas as pd

    from govlib.metrics.kpis import compute_kpis

    tables = {}
    for name, cols in KPI_COLUMNS_USED.items():
        path = data / name if (data / name).is_dir() else data / f"{name}.parquet"
        df = pd.read_parquet(path, columns=cols)  # a Hive partition column comes back categorical
        if "market" in df.columns and isinstance(df["market"].dtype, pd.CategoricalDtype):
            df["market"] = df["market"].astype(str)
        tables[name] = df
    kpis = compute_kpis(tables, market, month, tz)
    return sum(len(t) for t in tables.values()), kpis


# ---------------------------------------------------------------------------------------
# validation and the runner's per-market cube


def count_rows(data: Path) -> int:
    """Rows of every contract table in ``data`` (from Parquet footers: no scan)."""
    import pyarrow.parquet as pq

    from govlib.data.dataset import discover_tables

    total = 0
    for src in discover_tables(data).values():
        if src.kind == "csv":
            with open(src.path, "rb") as fh:
                total += max(sum(1 for _ in fh) - 1, 0)
        else:
            total += sum(pq.ParquetFile(f).metadata.num_rows for f in src.files)
    return total


def validate(data: Path, market: str, month: str, tz: str):
    from govlib.data.validate import validate_dataset

    problems = validate_dataset(data, level="full", engine="duckdb")
    return count_rows(data), [p.message for p in problems]


def cube(data: Path, market: str, month: str, tz: str, cache_dir: str | None = None):
    import json
    import tempfile

    from govlib.report.cube import build_cube

    with tempfile.TemporaryDirectory(prefix="bench-cube-", dir=cache_dir) as tmp:
        path = build_cube(data, market, month, cache_dir=tmp)
        meta = json.loads((path / "cube.json").read_text())
    return meta["pandas_rows"], None


def batch_govlib(data: Path, market: str, month: str, tz: str, jobs: int = 2, markets: str = "all"):
    """(b) a cold ``govlib run`` of the month for ``markets``, as ``benchmarks/batch.py``'s measure_batch
    (a fresh cube cache), keeping the outcomes so that failed reports can be named, with the peak
    RSS of its largest single process (``batch.PeakRss``: workers, kernels and cube builds sampled)."""
    import resource
    import tempfile

    import batch  # benchmarks/batch.py

    from govlib import config
    from govlib.report.batch.run import run_batch

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp, batch.PeakRss() as rss:
        work = Path(tmp)
        config.CACHE_DIR = work / "cache"
        res = run_batch(
            month, markets=markets, data_dir=data, out_dir=work / "reports", jobs=jobs, progress=False
        )
    peak_mb, peak_cmd = rss.stop()
    peak_mb = max(peak_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
    failed = [
        f"{o.market}/{o.report}: {o.status}: {(o.error or '').strip().splitlines()[-1:] or ''}"
        for o in res.outcomes
        if o.status not in ("ok", "reused")
    ]
    failed += [
        f"{m}: {e.strip().splitlines()[-1:] if e else ''}" for m, e in sorted(res.market_errors.items())
    ]
    durations = {f"{o.market}/{o.report}": [o.status, round(o.duration, 1)] for o in res.outcomes}
    try:  # per-notebook durations, to see what bounds the batch
        import json

        log = Path(__file__).resolve().parents[1] / ".cache" / f"bench-batch-{Path(data).name}.json"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(json.dumps({"failed": failed, "durations": durations}, indent=1), encoding="utf-8")
    except OSError:
        pass
    return len(res.outcomes), {
        "notebooks": len(res.outcomes),
        "ok": bool(res.ok),
        "failed": failed,
        "durations": durations,
        "peak_process_rss_mb": peak_mb,
        "peak_process": peak_cmd,
    }


def batch_floor(data: Path, market: str, month: str, tz: str, n: int = 1, jobs: int = 2):
    """(b) the floor: ``n`` trivial notebooks through papermill, ``jobs`` at a time (``batch.measure_floor``)."""
    import tempfile

    import batch  # benchmarks/batch.py

    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        batch.measure_floor(n, jobs, Path(tmp))
    return n, {"notebooks": n, "ok": True}


def batch_data_floor(data: Path, market: str, month: str, tz: str, markets: str = "all"):
    """(b) what any report batch must at least do with the data: the engine selecting and writing
    every market's report inputs (the cube tables and aggregates of ``cube_table_exprs``), one
    market after the other (DuckDB itself uses every core), with no pandas, KPIs, alarms or notebooks.
    """
    import tempfile

    from govlib.data.load import open_dataset
    from govlib.params import list_markets, load_market
    from govlib.report.cube import cube_table_exprs

    codes = list_markets() if markets == "all" else markets.split(",")
    ds = open_dataset(data)
    rows = 0
    with tempfile.TemporaryDirectory(prefix="bench-data-floor-") as tmp:
        for m in codes:
            exprs, _facts = cube_table_exprs(ds, m, month, load_market(m).timezone)
            for name, expr in sorted(exprs.items()):
                if expr is not None:
                    table = name if name in ds.tables else "content"
                    rows += ds.write_parquet(table, expr, Path(tmp) / f"{m}-{name}.parquet")
    return rows, {"markets": len(codes)}


STEPS = {
    "kpi_govlib": kpi_govlib,
    "kpi_sql": kpi_sql,
    "kpi_pandas": kpi_pandas,
    "validate": validate,
    "cube": cube,
    "batch_govlib": batch_govlib,
    "batch_floor": batch_floor,
    "batch_data_floor": batch_data_floor,
}

# what each step's child imports before the clock starts (import time is not the step's)
# (statsmodels: every KPI step computes Wilson intervals with it; its ~1 s import is no step's work)
PRELOAD = {
    "kpi_govlib": (
        "pandas",
        "ibis",
        "ibis.backends.duckdb",
        "duckdb",
        "govlib.data.load",
        "govlib.metrics.kpis",
        "statsmodels.stats.proportion",
    ),
    "kpi_sql": ("pandas", "duckdb", "govlib.metrics.kpis", "statsmodels.stats.proportion"),
    "kpi_pandas": ("pandas", "pyarrow.parquet", "govlib.metrics.kpis", "statsmodels.stats.proportion"),
    "validate": ("pandas", "ibis", "ibis.backends.duckdb", "duckdb", "govlib.data.validate"),
    "cube": (
        "pandas",
        "ibis",
        "ibis.backends.duckdb",
        "duckdb",
        "govlib.data.load",
        "govlib.metrics.kpis",
        "govlib.report.cube",
    ),
    "batch_govlib": ("govlib.report.batch.run", "papermill", "batch"),
    "batch_floor": ("govlib.report.batch.run", "papermill", "batch"),
    "batch_data_floor": (
        "pandas",
        "ibis",
        "ibis.backends.duckdb",
        "duckdb",
        "govlib.data.load",
        "govlib.report.cube",
    ),
}
