"""The per-market month cube: the heavy part of a market's monthly reports, computed once.

A cube is a directory of Parquet files under ``.cache/cubes/`` holding, for one market
and month,

- ``tables/<table>.parquet``: every contract table present, restricted to the market and
  to the window ``[M - 15 months, M + 1)`` in the market's time zone, selected and written
  by the engine (:func:`cube_table_exprs`). Fifteen months so that the comparisons with
  last year have their history. ``content`` and ``signal_scores``, the tables that grow
  with every upload, keep only what the reports read: recent and referenced content,
  scores of labelled content;
- ``content_activity.parquet`` and ``weekly_published.parquet``: content published per
  creator and month, and per content type and week, counted by the engine over the window;
- ``kpis.parquet``: the headline KPIs (:func:`govlib.metrics.kpis.compute_kpis`) of each
  month from *M - 12* to *M*, for comparisons with last month and last year, computed on
  :func:`govlib.data.load.load_kpi_inputs` (exact, whatever the window);
- ``weekly_series.parquet`` and ``alerts.parquet``: the market's weekly enforcement series
  (:func:`govlib.metrics.trends.weekly_series_for_month`) and the month's emerging-risk alarms
  (:func:`govlib.metrics.trends.alerts_for_month`, the ``alerts.csv`` of the report folder),
  computed once here because the alarm detection fits thousands of baselines;
- ``cube.json``: what the cube was built from (its key and inputs), tables and row counts,
  and the dataset's ``source`` (e.g. ``dsa_transparency_database``).

Every notebook of the market reads the cube instead of the raw data, so a batch queries
the engine once per market. The cube is keyed by a fingerprint of the data files, the
market's params, the month and the govlib code version: any change builds a new cube, an
unchanged input reuses the cached one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from govlib import config
from govlib.data.dataset import utc_literal
from govlib.errors import GovlibError
from govlib.io import write_bytes_atomic
from govlib.privacy import neutralise_formulas  # kpis.csv and alerts.csv are opened in spreadsheets
from govlib.timeutil import parse_month, shift_month

CUBE_FORMAT = "3"  # 2: weekly series and alerts; 3: built by the engine, slim content, content_activity
WINDOW_MONTHS_BACK = 15  # M-12's recidivism cohort starts at M-15
CONTENT_MONTHS_BACK = 3  # content published in M-3 .. M: covers 90 days whatever the month lengths
ACTIVITY_TABLE = "content_activity"  # published content per creator and local month (cube root, not tables/)
PUBLISHED_TABLE = "weekly_published"  # published content per local week and type (cube root)
AUX_TABLES = (ACTIVITY_TABLE, PUBLISHED_TABLE)
KPI_HISTORY_MONTHS = 12  # KPIs of M-12 .. M
KPI_COLUMNS = ["market", "month", "kpi_id", "value", "numerator", "denominator", "ci_low", "ci_high", "unit"]
# kpis.csv and the cube's kpis: the KPI columns, then ``status`` ("ok" or "no_data": a month without data)
EXPORT_COLUMNS = KPI_COLUMNS + ["status"]


class CubeError(GovlibError):
    """A market's cube could not be built or read."""


# ---------------------------------------------------------------------------------------
# keys


def fingerprint_dataset(path: str | Path, market: str | None = None) -> str:
    """Fingerprint of a dataset directory from its files' names, sizes and modification times.

    Parameters
    ----------
    path : path
        The dataset directory.
    market : str, optional
        When given, files in Hive partitions of *other* markets (a path component
        ``market=XX`` with ``XX != market``) are ignored, so that new data for one market
        does not invalidate the others' cubes.

    Notes
    -----
    Size and ``mtime_ns`` are what ``make`` and ``rsync`` trust: cheap on any data size. A
    copied or regenerated dataset gets a new fingerprint even when its bytes are equal
    (a recomputation, never a stale reuse). Hidden files and the ``.complete`` marker are
    ignored.
    """
    root = Path(path)
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not p.is_file():
            continue
        if market is not None and any(
            part.startswith("market=") and part != f"market={market}" for part in rel.parts
        ):
            continue
        st = p.stat()
        h.update(f"{rel.as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _params_dump(params: Any) -> dict:
    return json.loads(params.model_dump_json()) if hasattr(params, "model_dump_json") else dict(params)


def cube_inputs(data_dir: str | Path, market: str, month: str, params: Any) -> dict:
    """Everything a cube's content depends on (hashed into its key)."""
    return {
        "cube_format": CUBE_FORMAT,
        "code_version": config.code_version(),
        "data_fingerprint": fingerprint_dataset(data_dir, market),
        "market": market,
        "month": month,
        "window_months_back": WINDOW_MONTHS_BACK,
        "params": _params_dump(params),
    }


def hash_inputs(inputs: Mapping) -> str:
    """Stable short hash of a JSON-serialisable mapping."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------
# reading


@dataclass
class Cube:
    """A built cube: tables of the market window, KPI history and metadata (read lazily)."""

    path: Path
    meta: dict
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def market(self) -> str:
        return self.meta["market"]

    @property
    def month(self) -> str:
        return self.meta["month"]

    @property
    def timezone(self) -> str:
        return self.meta["timezone"]

    @property
    def source(self) -> str:
        """Where the data comes from: ``"govlib"`` (contract data) or e.g. ``"dsa_transparency_database"``."""
        return self.meta.get("source", "govlib")

    @property
    def table_names(self) -> list[str]:
        return list(self.meta["tables"])

    def has(self, name: str) -> bool:
        """True when the dataset has table ``name`` (an optional table may be absent)."""
        return name in self.meta["tables"]

    def _table_file(self, name: str) -> Path:
        """The Parquet file of table ``name``; a :class:`CubeError` when the dataset has no such table."""
        if not self.has(name):
            raise CubeError(
                f"table {name!r} is not in this dataset (cube {self.path}); check cube.has({name!r}) first"
            )
        return self.path / "tables" / f"{name}.parquet"

    def table(self, name: str, columns: list[str] | None = None) -> pd.DataFrame:
        """Table ``name`` over the cube's window (treat as read-only).

        ``columns`` reads only those columns (the text columns of a large table are most
        of the cost of reading it); a table already read whole is sliced instead.
        """
        path = self._table_file(name)
        if name in self._cache:
            return self._cache[name] if columns is None else self._cache[name][list(columns)]
        if columns is None:
            self._cache[name] = pd.read_parquet(path)
            return self._cache[name]
        key = (name, tuple(columns))
        if key not in self._cache:
            self._cache[key] = pd.read_parquet(path, columns=list(columns))
        return self._cache[key]

    def month_rows(
        self, name: str, month: str, tz: str, time_columns: list[str], columns: list[str]
    ) -> pd.DataFrame:
        """The ``columns`` of table ``name``'s rows with any of ``time_columns`` in local ``month``.

        The input of a month's summary in pandas (notices received or handled in the month):
        the filter runs in the Parquet scan, so the kernel holds one month, not the window.
        """
        from govlib.timeutil import month_bounds

        return self.rows_between(name, *month_bounds(month, tz), time_columns, columns)

    def rows_between(
        self, name: str, start, end, time_columns: list[str], columns: list[str]
    ) -> pd.DataFrame:
        """The ``columns`` (those the table has) of rows with any of ``time_columns`` in ``[start, end)``."""
        path = self._table_file(name)
        key = ("rows_between", name, str(start), str(end), tuple(time_columns), tuple(columns))
        if key not in self._cache:
            import pyarrow.parquet as pq

            present = set(pq.read_schema(path).names)
            filters = [[(c, ">=", start), (c, "<", end)] for c in time_columns]
            cols = [c for c in columns if c in present]
            self._cache[key] = pd.read_parquet(path, columns=cols, filters=filters)
        return self._cache[key]

    def rows_in(self, name: str, column: str, values, columns: list[str]) -> pd.DataFrame:
        """The ``columns`` of table ``name``'s rows whose ``column`` is one of ``values``, filtered
        in the Parquet scan (e.g. the content of the scored items, not the window's content)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        path = self._table_file(name)
        wanted = pa.array(sorted({str(v) for v in values}), pa.string())
        return pd.read_parquet(path, columns=list(columns), filters=pc.field(column).isin(wanted))

    def expr(self, name: str):
        """Table ``name`` as an Ibis expression on the engine (DuckDB over the cube's Parquet).

        ``"content_activity"`` (:attr:`activity`, at the cube's root) is available too.

        Per-creator and per-item work is written against this, so that what reaches pandas is
        an aggregate; the same expressions run on Spark when given Spark tables. One DuckDB
        connection per cube, opened on first use.
        """
        activity = name == ACTIVITY_TABLE and (self.path / f"{ACTIVITY_TABLE}.parquet").exists()
        if not self.has(name) and not activity:
            raise CubeError(
                f"table {name!r} is not in this dataset (cube {self.path}); check cube.has({name!r}) first"
            )
        key = ("expr", name)
        if key not in self._cache:
            if "engine" not in self._cache:
                from govlib.data.engine import connect

                self._cache["engine"] = connect("duckdb")
            path = self.path / (f"{name}.parquet" if activity else f"tables/{name}.parquet")
            self._cache[key] = self._cache["engine"].read_parquet(path, table_name=f"cube_{name}")
        return self._cache[key]

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        """Every present table, as the mapping the metric functions take.

        Read-only and lazy: a table's Parquet file is read when first looked up, so a
        notebook that never touches ``content`` (the largest table) does not pay for it.
        """
        return _LazyTables(self)

    @property
    def kpis(self) -> pd.DataFrame:
        """Headline KPIs of months *M - 12* .. *M* (:data:`EXPORT_COLUMNS`: ``kpis.md``'s and ``status``)."""
        if "kpis" not in self._cache:
            self._cache["kpis"] = pd.read_parquet(self.path / "kpis.parquet")
        return self._cache["kpis"]

    @property
    def alerts(self) -> pd.DataFrame:
        """The month's emerging-risk alarms, ranked (exactly ``govlib.metrics.trends.ALERT_COLUMNS``; may be empty)."""
        if "alerts" not in self._cache:
            p = self.path / "alerts.parquet"
            self._cache["alerts"] = pd.read_parquet(p) if p.exists() else _empty_alerts()
        return self._cache["alerts"]

    @property
    def weekly_series(self) -> pd.DataFrame:
        """Weekly series the alarms were computed from (:func:`govlib.metrics.trends.build_weekly_series`; may be empty)."""
        if "weekly_series" not in self._cache:
            p = self.path / "weekly_series.parquet"
            self._cache["weekly_series"] = pd.read_parquet(p) if p.exists() else pd.DataFrame()
        return self._cache["weekly_series"]

    @property
    def activity(self) -> pd.DataFrame:
        """Content published per creator and local month over the window (``creator_id, month, activity``).

        The ``activity`` argument of :func:`govlib.metrics.effectiveness.build_violation_panel`:
        the cube's ``content`` table holds only recent and referenced content.
        """
        if "activity" not in self._cache:
            p = self.path / f"{ACTIVITY_TABLE}.parquet"
            self._cache["activity"] = (
                pd.read_parquet(p)
                if p.exists()
                else pd.DataFrame(
                    {
                        "creator_id": pd.Series(dtype=object),
                        "month": pd.Series(dtype=object),
                        "activity": pd.Series(dtype="int64"),
                    }
                )
            )
        return self._cache["activity"]

    @property
    def signal_counts(self) -> pd.DataFrame:
        """Scores of the window per ``signal`` and ``version`` (``rows``), sorted; the cube keeps only labelled ones."""
        rows = self.meta.get("signal_counts") or []
        return pd.DataFrame(rows, columns=["signal", "version", "rows"])

    @property
    def content_first_published_at(self) -> pd.Timestamp | None:
        """When the market's first content was published (all history; ``None`` without content)."""
        v = self.meta.get("content_first_published_at")
        return pd.Timestamp(v) if v else None

    def kpis_for(self, month: str | None = None) -> pd.DataFrame:
        """KPI rows of one month (default the cube's month), in the order of ``kpis.md``."""
        month = month or self.month
        k = self.kpis
        return k[k["month"] == month].reset_index(drop=True)

    def has_data(self, month: str | None = None) -> bool:
        """False when ``month`` (default the cube's) has no data: no action, no publication
        (:func:`govlib.metrics.kpis.mark_months_without_data`); its KPIs are NaN."""
        from govlib.metrics.kpis import NO_DATA

        return not (self.kpis_for(month)["status"] == NO_DATA).any()


class _LazyTables(Mapping):
    """``{name: cube.table(name)}`` for every table of a cube, each read on first access."""

    def __init__(self, cube: Cube) -> None:
        self._cube = cube

    def __getitem__(self, name: str) -> pd.DataFrame:
        if not self._cube.has(name):
            raise KeyError(name)
        return self._cube.table(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._cube.table_names)

    def __len__(self) -> int:
        return len(self._cube.table_names)

    def __repr__(self) -> str:
        return f"<tables of cube {self._cube.path.name}: {', '.join(self._cube.table_names)}>"


def load_cube(path: str | Path) -> Cube:
    """Open a built cube directory."""
    p = Path(path)
    meta_path = p / "cube.json"
    if not meta_path.exists():
        raise CubeError(
            f"{p} is not a govlib cube (no cube.json); build one with govlib.report.cube.build_cube"
        )
    return Cube(p, json.loads(meta_path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------------------------------
# building


def _dataset_path(ds: Any) -> Path:
    for attr in ("path", "root", "data_dir"):
        value = getattr(ds, attr, None)
        if value is not None:
            return Path(value)
    raise CubeError(f"cannot tell the directory of dataset {ds!r}")


def read_dataset_source(data_dir: str | Path) -> str:
    """``source`` of ``dataset.json`` in the data directory, ``"govlib"`` when absent."""
    p = Path(data_dir) / "dataset.json"
    if p.exists():
        try:
            return str(json.loads(p.read_text(encoding="utf-8")).get("source", "govlib"))
        except (ValueError, AttributeError):
            raise CubeError(f"{p}: not a JSON object; fix or remove the file") from None
    return "govlib"


def cube_dir(market: str, month: str, key: str, cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or Path(config.CACHE_DIR) / "cubes") / f"{market}-{month}-{key}"


def build_cube(
    ds: Any, market: str, month: str, params: Any = None, *, cache_dir: str | Path | None = None
) -> Path:
    """Build (or reuse) the cube of ``market`` and ``month`` and return its directory.

    Parameters
    ----------
    ds : Dataset or path
        A dataset from :func:`govlib.data.load.open_dataset`, or its directory.
    market : str
        ISO 3166-1 alpha-2 market code.
    month : str
        ``YYYY-MM`` in the market's time zone.
    params : MarketParams, optional
        The market's params; default ``govlib.params.load_market(market)``.
    cache_dir : path, optional
        Where cubes live; default ``<config.CACHE_DIR>/cubes``.

    Returns
    -------
    Path
        The cube directory (``<cache>/<MARKET>-<YYYY-MM>-<key>``).

    Notes
    -----
    The engine selects, aggregates and writes (:func:`cube_table_exprs`,
    :meth:`govlib.data.load.Dataset.write_parquet`): the large tables never pass through
    pandas whole. pandas receives only the KPI inputs of the 13 months
    (:func:`govlib.data.load.load_kpi_inputs`) and the weekly action and publication counts
    of the alarm series (:func:`weekly_action_counts_expr`). Written into a temporary sibling and renamed into place, so a cube directory
    is always complete. Deterministic: the same inputs give byte-identical Parquet files.
    """
    from govlib.params import load_market

    parse_month(month)
    params = params or load_market(market)
    data_dir = _dataset_path(ds) if hasattr(ds, "load") else Path(ds)
    inputs = cube_inputs(data_dir, market, month, params)
    key = hash_inputs(inputs)
    out = cube_dir(market, month, key, cache_dir)
    if (out / "cube.json").exists():
        return out  # cache hit: the engine is not even opened

    from govlib.data.load import load_kpi_inputs, open_dataset

    if not hasattr(ds, "load"):
        ds = open_dataset(data_dir)
    from govlib.metrics.kpis import compute_kpis, mark_months_without_data

    tz = params.timezone
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".tmp-{out.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "tables").mkdir(parents=True)
    try:
        exprs, facts = cube_table_exprs(ds, market, month, tz)
        rows, aux_rows = {}, {}
        for name in sorted(exprs):
            if exprs[name] is None:
                continue
            if name in AUX_TABLES:  # aggregates, not contract tables: written beside tables/
                aux_rows[name] = ds.write_parquet("content", exprs[name], tmp / f"{name}.parquet")
            else:
                rows[name] = ds.write_parquet(name, exprs[name], tmp / "tables" / f"{name}.parquet")
        check_market_slice(tmp / "tables", market, ds)
        history = [shift_month(month, -k) for k in range(KPI_HISTORY_MONTHS, -1, -1)]
        kpi_inputs = load_kpi_inputs(ds, market, month, tz, first_month=history[0])
        kpis = pd.concat([compute_kpis(kpi_inputs, market, m, tz) for m in history], ignore_index=True)
        kpis = mark_months_without_data(kpis[KPI_COLUMNS], facts["published_per_month"])[EXPORT_COLUMNS]
        kpis.to_parquet(tmp / "kpis.parquet", index=False)
        alerts_note, alert_rows = compute_alerts(tmp, market, month, params)
        meta = {
            "key": key,
            "market": market,
            "month": month,
            "timezone": tz,
            "source": read_dataset_source(data_dir),
            "tables": rows,
            "aggregates": aux_rows,
            # rows the build itself took into pandas (the tables above went from the engine to Parquet)
            "pandas_rows": sum(len(df) for df in kpi_inputs.values()) + alert_rows,
            "kpi_months": history,
            "alerts": alerts_note,
            "content_first_published_at": facts["content_first_published_at"],
            "signal_counts": facts["signal_counts"],
            "inputs": {k: v for k, v in inputs.items() if k != "params"},
        }
        (tmp / "cube.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        try:
            os.rename(tmp, out)
        except OSError:
            if not (out / "cube.json").exists():  # not a concurrent build of the same cube
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _bucket_expr(col, labels: list[str], ends: list[pd.Timestamp], name: str):
    """Ibis CASE: ``labels[i]`` for the first ``i`` with ``col < ends[i]`` (the caller filters the lower edge).

    Buckets (local months, local weeks) are cut at UTC bounds computed in Python with the
    market's time zone, so the engine buckets exactly as pandas does, daylight saving
    included, on DuckDB and Spark alike.
    """
    import ibis

    return (
        ibis.cases(*[(col < utc_literal(e), lab) for lab, e in zip(labels, ends)], else_=None)
        .cast("string")
        .name(name)
    )


def cube_table_exprs(ds: Any, market: str, month: str, tz: str) -> tuple[dict, dict]:
    """The cube's tables as engine expressions, and facts computed on the way.

    The window is ``[M - WINDOW_MONTHS_BACK, M + 1)`` local. Tables are cut on their time
    column, with four exceptions that keep the cube bounded by what the reports read:

    - ``content``: the market's content published in the last ``CONTENT_MONTHS_BACK + 1``
      months (health's 90 days, risk's 3 months, the month's performance), the content
      of the window's actions (any market, whenever published: type, category,
      ``published_at``), and the window's content named by the window's notices or by any
      review label (owners of allegations, languages of labelled items). Not the whole window: at
      ``large`` that is 5M rows for one market;
    - ``content_activity`` (outside ``tables/``): content published per creator and local
      month over the window (the window's content and the actions' content), the
      activity of :func:`govlib.metrics.effectiveness.build_violation_panel`;
    - ``signal_scores``: only the scores of content with a review label (what
      signal evaluation reads); the counts of all scores per signal and version are in
      ``facts["signal_counts"]``;
    - ``creators``: every creator of the market plus those of other markets acted on.

    Returns
    -------
    (dict, dict)
        ``{name: ibis expression}`` (``None`` for an aggregate without input) and facts:
        ``content_first_published_at`` (ISO, the market's first content ever) and
        ``signal_counts`` (records of :func:`govlib.data.load.count_signal_scores`) and
        ``published_per_month`` (the market's content published per local month of the window).
    """
    from govlib.data.load import window_bounds

    start, end = window_bounds(month, tz, WINDOW_MONTHS_BACK)
    exprs: dict[str, Any] = {}
    facts: dict[str, Any] = {
        "content_first_published_at": None,
        "signal_counts": [],
        "published_per_month": {},
    }
    acts = (
        ds.filter_expr("enforcement_actions", market, start, end) if ds.has("enforcement_actions") else None
    )
    for name in ds.tables:
        if name in ("content", "creators", "signal_scores"):
            continue
        exprs[name] = ds.filter_expr(name, market, start, end)
    if ds.has("creators"):
        exprs["creators"] = _creators_expr(ds, market, acts)
    if ds.has("content"):
        _add_content_exprs(ds, market, month, tz, start, end, acts, exprs, facts)
    if ds.has("signal_scores"):
        _add_signal_scores_expr(ds, market, start, end, exprs, facts)
    return exprs, facts


def _creators_expr(ds: Any, market: str, acts: Any):
    """The market's creators plus those of other markets named by the window's actions."""
    from govlib.data.load import with_references_expr

    t = ds.table("creators", market)
    if acts is not None:
        return with_references_expr(
            ds,
            "creators",
            market,
            t,
            t.market == market,
            "creator_id",
            acts.select("creator_id").distinct(),
        )
    return t.filter(t.market == market)


def _add_content_exprs(
    ds: Any, market: str, month: str, tz: str, start, end, acts: Any, exprs: dict, facts: dict
) -> None:
    """Add the ``content`` slice, the content activity and weekly publications to ``exprs``.

    Also sets ``facts["content_first_published_at"]`` and ``facts["published_per_month"]``.
    """
    from govlib.data.load import with_references_expr
    from govlib.timeutil import month_bounds

    recent_start, _ = month_bounds(shift_month(month, -CONTENT_MONTHS_BACK), tz)
    lo, hi, recent_lo = utc_literal(start), utc_literal(end), utc_literal(recent_start)
    t = ds.table("content", market)
    mine = t.market == market
    in_window = mine & (t.published_at >= lo) & (t.published_at < hi)
    slim = mine & (t.published_at >= recent_lo) & (t.published_at < hi)
    # content named by the window's notices and by any label (a label reviewed after the month still
    # describes content scored in it), if published in the window
    named = [exprs["notices"]] if ds.has("notices") else []
    named += [ds.filter_expr("review_labels", market)] if ds.has("review_labels") else []
    for o in named:
        slim = slim | (in_window & t.content_id.isin(o.filter(o.content_id.notnull()).content_id))
    if acts is not None:
        ref = acts.filter(acts.content_id.notnull()).select("content_id").distinct()
        exprs["content"] = with_references_expr(ds, "content", market, t, slim, "content_id", ref)
        window = with_references_expr(ds, "content", market, t, in_window, "content_id", ref)
    else:
        exprs["content"] = t.filter(slim)
        window = t.filter(in_window)
    first = t.filter(mine).published_at.min().to_pyarrow().as_py()
    facts["content_first_published_at"] = pd.Timestamp(first).isoformat() if first is not None else None
    _add_activity_exprs(t, window, in_window, lo, hi, market, month, tz, acts, exprs, facts)


def _add_activity_exprs(
    t: Any,
    window: Any,
    in_window: Any,
    lo,
    hi,
    market: str,
    month: str,
    tz: str,
    acts: Any,
    exprs: dict,
    facts: dict,
) -> None:
    """Add the content activity per creator and month and the weekly publications to ``exprs``.

    Also sets ``facts["published_per_month"]`` (the market's own publications per month).
    """
    import ibis

    from govlib.timeutil import month_bounds, month_range

    in_span = window.filter((window.published_at >= lo) & (window.published_at < hi))
    months = month_range(shift_month(month, -WINDOW_MONTHS_BACK), month)
    ends = [month_bounds(m, tz)[1] for m in months]
    # the market's own publications per month: with the actions, what tells a month without data
    own = t.filter(in_window)
    per_month = (
        own.select(_bucket_expr(own.published_at, months, ends, "month"))
        .group_by("month")
        .agg(n=ibis._.count())
        .to_pyarrow()
        .to_pylist()
    )
    facts["published_per_month"] = {r["month"]: int(r["n"]) for r in per_month}
    month_col = _bucket_expr(in_span.published_at, months, ends, "month")
    exprs[ACTIVITY_TABLE] = (
        in_span.select("creator_id", month_col)
        .group_by(["creator_id", "month"])
        .agg(activity=ibis._.count())
        .order_by(["creator_id", "month"])
    )
    exprs[PUBLISHED_TABLE] = _weekly_published_expr(window.filter(window.market == market), acts, month, tz)


def _add_signal_scores_expr(ds: Any, market: str, start, end, exprs: dict, facts: dict) -> None:
    """Add the scores of labelled content to ``exprs`` and the counts of all scores to ``facts``."""
    import ibis

    from govlib.data.load import count_signal_scores

    sc = ds.filter_expr("signal_scores", market, start, end)
    facts["signal_counts"] = count_signal_scores(sc).to_dict(orient="records")
    if ds.has("review_labels"):
        lb = ds.filter_expr("review_labels", market)
        exprs["signal_scores"] = sc.filter(sc.content_id.isin(lb.content_id))
    else:
        exprs["signal_scores"] = sc.filter(ibis.literal(False))  # no labels: nothing to evaluate


def _weekly_published_expr(content, acts, month: str, tz: str):
    """Content published per local week and content type, from the first event day to the end of ``month``.

    The denominators of :func:`govlib.metrics.trends.build_weekly_series`, counted in the engine:
    its observation window starts on the local day of the first action or publication
    of the market (``content`` = the market's rows of the window's content and of the
    actions' content) and ends on the first day of the next month. ``None`` when there is
    no event at all.
    """
    import ibis

    firsts = [content.published_at.min().to_pyarrow().as_py()]
    if acts is not None:
        firsts.append(acts.actioned_at.min().to_pyarrow().as_py())
    firsts = [pd.Timestamp(f) for f in firsts if f is not None]
    if not firsts:
        return None
    lo_day = min(firsts).tz_convert(tz).tz_localize(None).normalize()
    hi_day = pd.Timestamp(f"{shift_month(month, 1)}-01")
    lo, hi, labels, ends = _local_weeks(lo_day, hi_day, tz)
    c = content.filter((content.published_at >= lo) & (content.published_at < hi))
    week = _bucket_expr(c.published_at, labels, ends, "week_start")
    return (
        c.select("content_type", week)
        .group_by(["content_type", "week_start"])
        .agg(published=ibis._.count())
        .order_by(["content_type", "week_start"])
        .mutate(first_day=ibis.literal(lo_day.strftime("%Y-%m-%d")))
    )


def _local_weeks(lo_day: pd.Timestamp, hi_day: pd.Timestamp, tz: str):
    """UTC literals of the local days ``[lo_day, hi_day)``, and the local weeks' labels and ends inside them."""
    mondays = pd.date_range(
        lo_day - pd.Timedelta(days=lo_day.weekday()), hi_day - pd.Timedelta(days=1), freq="7D"
    )
    ends = [min(w + pd.Timedelta(days=7), hi_day).tz_localize(tz) for w in mondays]
    lo, hi = utc_literal(lo_day.tz_localize(tz)), utc_literal(hi_day.tz_localize(tz))
    return lo, hi, [w.strftime("%Y-%m-%d") for w in mondays], ends


def weekly_action_counts_expr(actions, content, market: str, tz: str, start, end):
    """Enforcement actions per policy and local week, and per policy, content type and week, on the engine.

    The ``counts`` of :func:`govlib.metrics.trends.build_weekly_series`, with the same
    definitions: the market's actions whose local ``actioned_at`` day is in ``[start,
    end)``, bucketed into local Monday-to-Sunday weeks; ``observed`` is the number of
    actions and ``creators`` the distinct creators acted on. Rows with ``content_type ==
    "all"`` count every action of the policy; the others the actions whose content is in
    the market's ``content`` (typed by it, whenever published).

    Parameters
    ----------
    actions, content : ibis.Table
        ``enforcement_actions`` (``market, policy, actioned_at, content_id,
        creator_id``) and ``content`` (``content_id, market, content_type``), e.g.
        :meth:`Cube.expr` tables, or Spark tables.
    market, tz : str
        Market code and its time zone.
    start, end : str or date
        Local dates of the half-open observation window.

    Returns
    -------
    ibis.Table
        ``policy, content_type, week_start`` (``YYYY-MM-DD``), ``observed, creators``,
        ordered; its size grows with policies, content types and weeks only.
    """
    import ibis

    from govlib.metrics.trends import ALL_TYPES

    lo, hi, labels, ends = _local_weeks(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize(), tz)
    a = actions.filter((actions.market == market) & (actions.actioned_at >= lo) & (actions.actioned_at < hi))
    a = a.select(
        "policy", "content_id", "creator_id", _bucket_expr(a.actioned_at, labels, ends, "week_start")
    )
    keys = ["policy", "week_start"]
    per_policy = a.group_by(keys).agg(observed=ibis._.count(), creators=ibis._.creator_id.nunique())
    types = content.filter(content.market == market).select("content_id", "content_type")
    types = types.distinct(on="content_id", keep="first")
    typed = a.join(types, a.content_id == types.content_id).select(
        "policy", "content_type", "creator_id", "week_start"
    )
    per_type = typed.group_by(["policy", "content_type", "week_start"]).agg(
        observed=ibis._.count(), creators=ibis._.creator_id.nunique()
    )
    cols = ["policy", "content_type", "week_start", "observed", "creators"]
    both = per_policy.mutate(content_type=ibis.literal(ALL_TYPES)).select(*cols).union(per_type.select(*cols))
    return both.order_by(["policy", "content_type", "week_start"])


def _empty_alerts() -> pd.DataFrame:
    from govlib.metrics.trends import ALERT_COLUMNS

    return pd.DataFrame({c: pd.Series(dtype=object) for c in ALERT_COLUMNS})


def compute_alerts(cube_path: Path, market: str, month: str, params: Any) -> tuple[str, int]:
    """Write the market-month's weekly series and alarms into the cube directory being built.

    The series are :func:`govlib.metrics.trends.build_weekly_series` of the weekly action
    counts the engine computes over the cube's actions and content
    (:func:`weekly_action_counts_expr`, the ``counts`` argument) and the weekly publication
    counts it computed over the window's content (``weekly_published.parquet``, the
    ``published`` argument): only these aggregates reach pandas. Returns ``"ok"``, or why there
    are no alarms (e.g. a dataset without ``content``), which ``cube.json`` records; the
    alarms are then an empty table with the export columns, so the reports say "no
    alarm" instead of failing. Also returns the number of rows read into pandas.
    """
    from govlib.metrics.trends import TrendsError, alerts_for_month, build_weekly_series

    rows_read = 0

    tables, pub_path = cube_path / "tables", cube_path / f"{PUBLISHED_TABLE}.parquet"
    try:
        missing = [t for t in ("enforcement_actions", "content") if not (tables / f"{t}.parquet").exists()]
        if missing or not pub_path.exists():
            raise TrendsError(f"weekly series need table(s) {', '.join(missing or ['content'])}")
        published = pd.read_parquet(pub_path)
        if published.empty:
            raise TrendsError(
                f"market {market!r}: no enforcement actions or content to build weekly series from"
            )
        start, end = published["first_day"].iloc[0], f"{shift_month(month, 1)}-01"
        from govlib.data.engine import connect

        con = connect("duckdb")
        actions, content = (
            con.read_parquet(tables / f"{t}.parquet") for t in ("enforcement_actions", "content")
        )
        counts = weekly_action_counts_expr(actions, content, market, params.timezone, start, end).execute()
        rows_read = len(counts) + len(published)
        series = build_weekly_series(
            None, None, market, params.timezone, start=start, end=end, published=published, counts=counts
        )
        alerts = alerts_for_month(series, market, month, params.alerts)
        note = "ok"
    except TrendsError as exc:
        series, alerts, note = pd.DataFrame(), _empty_alerts(), f"not available: {exc}"
    series.to_parquet(cube_path / "weekly_series.parquet", index=False)
    alerts.to_parquet(cube_path / "alerts.parquet", index=False)
    return note, rows_read


def check_market_slice(tables_dir: str | Path, market: str, ds: Any = None, now: Any = None) -> None:
    """Validate one market's window (the cube's tables) against the contract.

    Runs :func:`govlib.data.validate.validate_dataset` (level ``"full"``) on the slice and
    raises :class:`govlib.data.validate.ContractError` naming table, column, number of bad
    rows and examples. Time orders through another table are left out (an appeal of an
    action taken before the window rightly points outside it; ``govlib validate`` checks
    them on the whole dataset). With the dataset ``ds``, also: foreign keys of the slice's
    rows, looked up in the whole dataset when the slice lacks the parent
    (:func:`~govlib.data.validate.slice_reference_problems`), and implausible timestamps
    in every row of the market, inside the window or not
    (:func:`~govlib.data.validate.market_time_problems`, ``now`` as there). Checking each
    market's slice means invalid rows in one market fail that market's reports only.
    """
    from govlib import contract
    from govlib.data.validate import (
        ContractError,
        market_time_problems,
        slice_reference_problems,
        validate_dataset,
    )

    cross = {(t.name, o.later) for t in contract.TABLES.values() for o in t.time_orders if o.via}
    skip = {"foreign_key"} | ({"implausible_time"} if ds is not None else set())  # re-checked wider below
    problems = [
        p
        for p in validate_dataset(tables_dir, level="full", now=now)
        if p.rule not in skip and not (p.rule == "time_order" and (p.table, p.column) in cross)
    ]
    if ds is not None:
        problems += slice_reference_problems(tables_dir, ds) + market_time_problems(ds, market, now)
    if problems:
        order = {name: i for i, name in enumerate(contract.TABLES)}
        problems.sort(key=lambda p: order[p.table])  # stable: each table's own order kept
        raise ContractError(problems, dataset=f"{market} data in the report window")


def open_report_cube(market: str, month: str, data_dir: str = "", cube_path: str = "") -> Cube:
    """The cube a report notebook reads: ``cube_path`` when the runner gives one, else built from ``data_dir``.

    ``data_dir`` empty means ``GOVLIB_DATA`` or ``data/demo`` (``govlib.config.DATA_DIR``),
    so a notebook opened in JupyterLab with its default parameters runs on the demo data.
    """
    if cube_path:
        cube = load_cube(cube_path)
        if cube.market != market or cube.month != month:
            raise CubeError(
                f"cube {cube_path} is for {cube.market} {cube.month}, not {market} {month}; "
                "pass the cube of this market and month or leave cube_path empty"
            )
        return cube
    data = Path(data_dir) if data_dir else Path(config.DATA_DIR)
    if not data.is_dir():
        raise CubeError(
            f"data directory {data} does not exist; run 'make data' or set data_dir / GOVLIB_DATA"
        )
    return load_cube(build_cube(data, market, month))


def iter_cubes(cache_dir: str | Path | None = None) -> Iterator[Path]:
    """Cube directories in the cache (for housekeeping)."""
    root = Path(cache_dir or Path(config.CACHE_DIR) / "cubes")
    if root.exists():
        yield from sorted(p for p in root.iterdir() if (p / "cube.json").exists())


# ---------------------------------------------------------------------------------------
# KPI export


def format_kpis_csv(kpis: pd.DataFrame) -> str:
    """``kpis.csv`` text: ``kpis.md``'s columns in order, then ``status``; RFC 4180 (CRLF), floats ``%.12g``.

    Text cells a spreadsheet would run as a formula get a leading ``'`` (numbers are unchanged).

    Missing values (NaN rates with an empty denominator, every value of a ``no_data``
    month) are empty fields. Rows keep the caller's order (markets sorted, KPIs in the
    order of ``kpis.md``).
    """
    missing = [c for c in EXPORT_COLUMNS if c not in kpis.columns]
    if missing:
        raise CubeError(f"KPI table lacks columns {missing}; expected {EXPORT_COLUMNS}")
    return neutralise_formulas(kpis[EXPORT_COLUMNS]).to_csv(
        index=False, lineterminator="\r\n", float_format="%.12g", na_rep=""
    )


def format_alerts_csv(alerts: pd.DataFrame) -> str:
    """``alerts.csv`` text: exactly ``govlib.metrics.trends.ALERT_COLUMNS``, RFC 4180 (CRLF), floats ``%.12g``.

    Text cells a spreadsheet would run as a formula get a leading ``'`` (numbers are unchanged).

    Rows keep the ranking (row 1 = strongest evidence); an empty month is the header only.
    """
    from govlib.metrics.trends import ALERT_COLUMNS

    missing = [c for c in ALERT_COLUMNS if c not in alerts.columns]
    if missing:
        raise CubeError(f"alerts table lacks columns {missing}; expected {ALERT_COLUMNS}")
    return neutralise_formulas(alerts[ALERT_COLUMNS]).to_csv(
        index=False, lineterminator="\r\n", float_format="%.12g", na_rep=""
    )


def write_alerts_csv(alerts: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`format_alerts_csv` to ``path`` (UTF-8) atomically."""
    return write_bytes_atomic(path, format_alerts_csv(alerts).encode("utf-8"))


def write_kpis_csv(kpis: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`format_kpis_csv` to ``path`` (UTF-8) atomically."""
    return write_bytes_atomic(path, format_kpis_csv(kpis).encode("utf-8"))
