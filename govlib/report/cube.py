"""The per-market month cube: the heavy part of a market's monthly reports, computed once.

A cube is a directory of Parquet files under ``.cache/cubes/`` holding, for one market
and month,

- ``tables/<table>.parquet``: every contract table present, restricted to the market and
  to the window ``[M - 15 months, M + 1)`` in the market's time zone (the engine pushes
  the filters down; see :func:`govlib.data.load.load_market_window`). Fifteen months so
  that the KPIs of *M - 12* (year over year) include their ``recidivism_90d`` cohort;
- ``kpis.parquet``: the headline KPIs (:func:`govlib.metrics.kpis.compute_kpis`) of each
  month from *M - 12* to *M*, for comparisons with last month and last year;
- ``weekly_series.parquet`` and ``alerts.parquet``: the market's weekly enforcement series
  (:func:`govlib.trends.weekly_series_for_month`) and the month's emerging-risk alarms
  (:func:`govlib.trends.alerts_for_month`, the ``alerts.csv`` of the report folder),
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
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from govlib import __version__, config
from govlib.errors import GovlibError
from govlib.timeutil import parse_month, shift_month

CUBE_FORMAT = "2"  # 2: weekly series and alerts
WINDOW_MONTHS_BACK = 15  # M-12's recidivism cohort starts at M-15
KPI_HISTORY_MONTHS = 12  # KPIs of M-12 .. M
KPI_COLUMNS = ["market", "month", "kpi_id", "value", "numerator", "denominator", "ci_low", "ci_high", "unit"]


class CubeError(GovlibError):
    """A market's cube could not be built or read."""


# ---------------------------------------------------------------------------------------
# keys


@lru_cache(maxsize=1)
def code_version() -> str:
    """Version of the code that computes report numbers: govlib's version and a hash of its sources.

    Any edit to a ``govlib/**/*.py`` file changes it, so caches and ``--resume`` never
    reuse numbers computed by other code. ``GOVLIB_CODE_VERSION`` overrides it (e.g. a
    release tag or git commit in a deployment, or a fixed value in tests).
    """
    if os.environ.get("GOVLIB_CODE_VERSION"):
        return os.environ["GOVLIB_CODE_VERSION"]
    h = hashlib.sha256(__version__.encode())
    root = Path(__file__).resolve().parents[1]
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"


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
        "code_version": code_version(),
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

    def table(self, name: str) -> pd.DataFrame:
        """Table ``name`` over the cube's window (a fresh copy each call is not needed: treat as read-only)."""
        if not self.has(name):
            raise CubeError(f"table {name!r} is not in this dataset (cube {self.path}); check cube.has({name!r}) first")
        if name not in self._cache:
            self._cache[name] = pd.read_parquet(self.path / "tables" / f"{name}.parquet")
        return self._cache[name]

    @property
    def tables(self) -> Mapping[str, pd.DataFrame]:
        """Every present table, as the mapping the metric functions take.

        Read-only and lazy: a table's Parquet file is read when first looked up, so a
        notebook that never touches ``content`` (the largest table) does not pay for it.
        """
        return _LazyTables(self)

    @property
    def kpis(self) -> pd.DataFrame:
        """Headline KPIs of months *M - 12* .. *M* (export columns of ``kpis.md``)."""
        if "kpis" not in self._cache:
            self._cache["kpis"] = pd.read_parquet(self.path / "kpis.parquet")
        return self._cache["kpis"]

    @property
    def alerts(self) -> pd.DataFrame:
        """The month's emerging-risk alarms, ranked (exactly ``govlib.trends.ALERT_COLUMNS``; may be empty)."""
        if "alerts" not in self._cache:
            p = self.path / "alerts.parquet"
            self._cache["alerts"] = pd.read_parquet(p) if p.exists() else _empty_alerts()
        return self._cache["alerts"]

    @property
    def weekly_series(self) -> pd.DataFrame:
        """Weekly series the alarms were computed from (:func:`govlib.trends.build_weekly_series`; may be empty)."""
        if "weekly_series" not in self._cache:
            p = self.path / "weekly_series.parquet"
            self._cache["weekly_series"] = pd.read_parquet(p) if p.exists() else pd.DataFrame()
        return self._cache["weekly_series"]

    def kpis_for(self, month: str | None = None) -> pd.DataFrame:
        """KPI rows of one month (default the cube's month), in the order of ``kpis.md``."""
        month = month or self.month
        k = self.kpis
        return k[k["month"] == month].reset_index(drop=True)


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
        raise CubeError(f"{p} is not a govlib cube (no cube.json); build one with govlib.report.cube.build_cube")
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


def build_cube(ds: Any, market: str, month: str, params: Any = None, *, cache_dir: str | Path | None = None) -> Path:
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
    Written into a temporary sibling and renamed into place, so a cube directory is
    always complete. Deterministic: the same inputs give byte-identical Parquet files.
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

    from govlib.data.load import load_market_window, open_dataset

    if not hasattr(ds, "load"):
        ds = open_dataset(data_dir)
    from govlib.metrics.kpis import compute_kpis

    tz = params.timezone
    tables = load_market_window(ds, market, month, tz, months_back=WINDOW_MONTHS_BACK)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".tmp-{out.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "tables").mkdir(parents=True)
    try:
        rows = {}
        for name in sorted(tables):
            df = tables[name]
            if df is None:
                continue
            _write_table(df, name, tmp / "tables" / f"{name}.parquet")
            rows[name] = int(len(df))
        check_market_slice(tmp / "tables", market)
        history = [shift_month(month, -k) for k in range(KPI_HISTORY_MONTHS, -1, -1)]
        kpis = pd.concat([compute_kpis(tables, market, m, tz) for m in history], ignore_index=True)
        kpis = kpis[KPI_COLUMNS]
        kpis.to_parquet(tmp / "kpis.parquet", index=False)
        alerts_note = compute_alerts(tables, market, month, params, tmp)
        meta = {
            "key": key,
            "market": market,
            "month": month,
            "timezone": tz,
            "source": read_dataset_source(data_dir),
            "tables": rows,
            "kpi_months": history,
            "alerts": alerts_note,
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


_ARROW_TYPES = {"str": "string", "int": "int64", "float": "float64", "bool": "bool"}


def _write_table(df: pd.DataFrame, name: str, path: Path) -> None:
    """Write a window table to Parquet; a column that is null in every row of the window
    (e.g. ``product_category`` of imported DSA data) keeps its contract type instead of
    Parquet's ``null`` type, which the contract check would reject."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from govlib import contract

    table = pa.Table.from_pandas(df, preserve_index=False)
    spec = contract.TABLES.get(name)
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            dtype = spec.column(f.name).dtype if spec and f.name in spec.column_names else "str"
            if dtype == "timestamp":
                target = pa.timestamp("us", tz="UTC")
            else:
                target = pa.type_for_alias(_ARROW_TYPES.get(dtype, "string"))
            table = table.set_column(i, pa.field(f.name, target), pa.nulls(len(table), target))
    pq.write_table(table, path)


def _empty_alerts() -> pd.DataFrame:
    from govlib.trends import ALERT_COLUMNS

    return pd.DataFrame({c: pd.Series(dtype=object) for c in ALERT_COLUMNS})


def compute_alerts(tables: Mapping[str, pd.DataFrame], market: str, month: str, params: Any, out: Path) -> str:
    """Write the market-month's weekly series and alarms into cube directory ``out``.

    Returns ``"ok"``, or why there are no alarms (e.g. a dataset without ``content``),
    which ``cube.json`` records; the alarms are then an empty table with the export
    columns, so the reports say "no alarm" instead of failing.
    """
    from govlib.trends import TrendsError, alerts_for_month, weekly_series_for_month

    try:
        series = weekly_series_for_month(tables, market, month, params.timezone)
        alerts = alerts_for_month(series, market, month, params.alerts)
        note = "ok"
    except TrendsError as exc:
        series, alerts, note = pd.DataFrame(), _empty_alerts(), f"not available: {exc}"
    series.to_parquet(out / "weekly_series.parquet", index=False)
    alerts.to_parquet(out / "alerts.parquet", index=False)
    return note


def check_market_slice(tables_dir: str | Path, market: str) -> None:
    """Validate one market's window (the cube's tables) against the contract's row rules.

    Runs :func:`govlib.data.validate.validate_dataset` (level ``"full"``) on the slice and
    raises :class:`govlib.data.validate.ContractError` naming table, column, number of bad
    rows and examples. Rules that look across the window's edge are left out, since a row
    may rightly point outside the window: foreign keys and time orders through another
    table (an appeal of an action taken before the window). ``govlib validate`` checks
    those on the whole dataset. Checking each market's slice means invalid rows in one
    market fail that market's reports only.
    """
    from govlib import contract
    from govlib.data.validate import ContractError, validate_dataset

    cross = {(t.name, o.later) for t in contract.TABLES.values() for o in t.time_orders if o.via}
    problems = [
        p for p in validate_dataset(tables_dir, level="full")
        if p.rule != "foreign_key" and not (p.rule == "time_order" and (p.table, p.column) in cross)
    ]
    if problems:
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
        raise CubeError(f"data directory {data} does not exist; run 'make data' or set data_dir / GOVLIB_DATA")
    return load_cube(build_cube(data, market, month))


def iter_cubes(cache_dir: str | Path | None = None) -> Iterator[Path]:
    """Cube directories in the cache (for housekeeping)."""
    root = Path(cache_dir or Path(config.CACHE_DIR) / "cubes")
    if root.exists():
        yield from sorted(p for p in root.iterdir() if (p / "cube.json").exists())


# ---------------------------------------------------------------------------------------
# KPI export


def format_kpis_csv(kpis: pd.DataFrame) -> str:
    """``kpis.csv`` text: the columns of ``kpis.md`` in order, RFC 4180 (CRLF), floats ``%.12g``.

    Missing values (NaN rates with an empty denominator) are empty fields. Rows keep the
    caller's order (markets sorted, KPIs in the order of ``kpis.md``).
    """
    missing = [c for c in KPI_COLUMNS if c not in kpis.columns]
    if missing:
        raise CubeError(f"KPI table lacks columns {missing}; expected {KPI_COLUMNS}")
    return kpis[KPI_COLUMNS].to_csv(index=False, lineterminator="\r\n", float_format="%.12g", na_rep="")


def format_alerts_csv(alerts: pd.DataFrame) -> str:
    """``alerts.csv`` text: exactly ``govlib.trends.ALERT_COLUMNS``, RFC 4180 (CRLF), floats ``%.12g``.

    Rows keep the ranking (row 1 = strongest evidence); an empty month is the header only.
    """
    from govlib.trends import ALERT_COLUMNS

    missing = [c for c in ALERT_COLUMNS if c not in alerts.columns]
    if missing:
        raise CubeError(f"alerts table lacks columns {missing}; expected {ALERT_COLUMNS}")
    return alerts[ALERT_COLUMNS].to_csv(index=False, lineterminator="\r\n", float_format="%.12g", na_rep="")


def write_alerts_csv(alerts: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`format_alerts_csv` to ``path`` (UTF-8) atomically."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    tmp.write_bytes(format_alerts_csv(alerts).encode("utf-8"))
    os.replace(tmp, p)
    return p


def write_kpis_csv(kpis: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`format_kpis_csv` to ``path`` (UTF-8) atomically."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}")
    tmp.write_bytes(format_kpis_csv(kpis).encode("utf-8"))
    os.replace(tmp, p)
    return p
