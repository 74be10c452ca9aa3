"""Datasets: discover the contract tables in a directory and load pushed-down slices.

A dataset is a directory. Each table of :data:`govlib.contract.TABLES` is one of

- ``<table>.parquet``: a single Parquet file;
- ``<table>/``: a directory of Parquet files, optionally Hive-partitioned
  (``market=DE/part-0.parquet``; the partition column may exist only in the path);
- ``<table>.csv``: comma-separated, UTF-8, with a header (for small hand-made inputs).

Queries run in the engine (DuckDB by default, Spark on request) through Ibis; market
and time filters are part of the query, so loading one market-month never reads the
whole history into pandas.

Examples
--------
>>> ds = open_dataset("data/demo")                                   # doctest: +SKIP
>>> acts = ds.load("enforcement_actions", market="DE",
...                start="2026-09-30 22:00", end="2026-10-31 23:00")  # doctest: +SKIP
>>> window = load_market_window(ds, "DE", "2026-10", "Europe/Berlin")  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from govlib import config, contract
from govlib.data import engine as _engine
from govlib.errors import GovlibError
from govlib.timeutil import month_bounds, shift_month

SourceKind = Literal["parquet", "parquet_dir", "csv"]


class DatasetError(GovlibError):
    """A dataset directory is missing, ambiguous, or a table file cannot be read.

    ``detail`` says what is wrong, ``hint`` how to fix it; the message joins both.
    """

    def __init__(self, detail: str, hint: str = ""):
        self.detail, self.hint = detail, hint
        super().__init__(f"{detail} — fix: {hint}" if hint else detail)


@dataclass(frozen=True)
class TableSource:
    """Where a table's data lives: ``kind`` is ``"parquet"``, ``"parquet_dir"`` or ``"csv"``."""

    name: str
    kind: SourceKind
    path: Path
    files: tuple[Path, ...]
    partition_columns: tuple[str, ...] = ()


def _partition_columns(files: Iterable[Path], root: Path) -> tuple[str, ...]:
    cols: list[str] = []
    for f in files:
        for part in f.relative_to(root).parts[:-1]:
            if "=" in part:
                key = part.split("=", 1)[0]
                if key not in cols:
                    cols.append(key)
    return tuple(cols)


def discover_tables(path: str | Path) -> dict[str, TableSource]:
    """Contract tables present in dataset directory ``path``, in contract order.

    Files that are not contract tables (``ground_truth.json``, notes, ...) are ignored.
    A table stored twice (e.g. ``content.parquet`` and ``content.csv``) is an error.
    """
    root = Path(path)
    if not root.exists():
        raise DatasetError(f"dataset directory {root} does not exist; pass --data DIR or set GOVLIB_DATA "
                           "(generate the demo with `govlib demo-data --out data/demo`)")
    if not root.is_dir():
        raise DatasetError(f"dataset {root} is not a directory; a dataset is a directory of <table>.parquet, "
                           "<table>/ or <table>.csv")
    found: dict[str, TableSource] = {}
    for name in contract.TABLES:
        candidates: list[TableSource] = []
        f = root / f"{name}.parquet"
        if f.is_file():
            candidates.append(TableSource(name, "parquet", f, (f,)))
        d = root / name
        if d.is_dir():
            files = tuple(sorted(p for p in d.rglob("*.parquet") if p.is_file() and not p.name.startswith((".", "_"))))
            if not files:
                raise DatasetError(f"table {name}: directory {d} holds no .parquet files; remove it or add the table's files")
            candidates.append(TableSource(name, "parquet_dir", d, files, _partition_columns(files, d)))
        c = root / f"{name}.csv"
        if c.is_file():
            candidates.append(TableSource(name, "csv", c, (c,)))
        if len(candidates) > 1:
            where = ", ".join(str(s.path.name) + ("/" if s.kind == "parquet_dir" else "") for s in candidates)
            raise DatasetError(f"table {name} is stored more than once in {root} ({where}); keep exactly one")
        if candidates:
            found[name] = candidates[0]
    return found


def _to_utc_timestamp(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def is_engine_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from reading data in the engine (not a bug in govlib)."""
    if isinstance(exc, (OSError, UnicodeError)):
        return True
    for cls in type(exc).__mro__:
        if cls.__module__.split(".")[0] in ("duckdb", "pyspark", "py4j", "pyarrow", "_duckdb"):
            return True
    return False


def _engine_error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:400] if text else type(exc).__name__


def sniff_csv(path: Path) -> tuple[list[str] | None, str | None]:
    """Header columns of a CSV, or ``(None, reason)`` when its encoding or delimiter is wrong."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # a cut in the middle of a multi-byte character at the end of the chunk is fine
        if exc.start < len(head) - 4:
            line = head[: exc.start].count(b"\n") + 1
            return None, (f"is not UTF-8 (byte 0x{head[exc.start]:02x} on line {line}); "
                          "re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`")
        text = head[: exc.start].decode("utf-8-sig")
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        return None, "is empty; a CSV table needs a header row"
    header = next(csv.reader(io.StringIO(first)))
    if len(header) == 1:
        for delim, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delim in first:
                return None, (f"is delimited by {label}, not commas; re-export it comma-separated "
                              "(RFC 4180, UTF-8): govlib reads only ',' as the delimiter")
    return [h.strip() for h in header], None


class Dataset:
    """A governance dataset on an engine. Create it with :func:`open_dataset`.

    Loaders run a fast subset of the contract checks (documented in
    :func:`govlib.data.validate.check_schema`): required tables present (when the
    dataset is opened), and, when a table is first used, its required columns
    present and of a type that casts to the contract type (for text columns that
    should be numbers or timestamps, every value is tried). A failure raises
    :class:`govlib.data.validate.ContractError`. The full checks (keys, foreign keys,
    allowed values, time orders, ranges) run in :func:`govlib.data.validate.validate_dataset`.
    """

    def __init__(self, path: str | Path, engine: str | None = None, *, check: bool = True):
        self.path = Path(path)
        self.engine = _engine.resolve_engine(engine)
        self.sources = discover_tables(self.path)
        self.check = check
        self._con = None
        self._raw: dict[str, Any] = {}
        self._typed: dict[str, Any] = {}
        if check:
            from govlib.data.validate import ContractError, check_required_tables

            problems = check_required_tables(self)
            if problems:
                raise ContractError(problems, dataset=self.path)

    def __repr__(self) -> str:
        return f"Dataset({str(self.path)!r}, engine={self.engine!r}, tables={self.tables})"

    @property
    def con(self):
        """The Ibis backend (connected on first use)."""
        if self._con is None:
            self._con = _engine.connect(self.engine)
        return self._con

    @property
    def tables(self) -> list[str]:
        """Names of the contract tables present, in contract order."""
        return list(self.sources)

    def has(self, name: str) -> bool:
        """Whether table ``name`` is present (optional tables may be absent)."""
        return name in self.sources

    def _source(self, name: str) -> TableSource:
        if name not in contract.TABLES:
            raise DatasetError(f"unknown table {name!r}; contract tables: {', '.join(contract.TABLES)}")
        if name not in self.sources:
            raise DatasetError(f"table {name} is not in dataset {self.path} (expected {name}.parquet, {name}/ or {name}.csv)")
        return self.sources[name]

    def market_files(self, name: str, market: str) -> tuple[Path, ...] | None:
        """Files of ``market``'s Hive partition (``market=XX`` in the path) of a partitioned table.

        ``None`` when the table is not partitioned by market (a single file, a CSV, or
        Parquet files without a ``market=`` directory), when ``market`` has no files, or on
        Spark (which discovers partitions and prunes them on the market filter itself):
        then the whole table is read.
        """
        src = self._source(name)
        if src.kind != "parquet_dir" or "market" not in src.partition_columns:
            return None
        part = f"market={market}"
        files = tuple(f for f in src.files if part in f.relative_to(src.path).parts[:-1])
        if self.engine != "duckdb":
            return None  # Spark discovers partitions itself and prunes on the market filter
        return files or None

    def raw(self, name: str, market: str | None = None):
        """The table as stored (no casts), as an Ibis table. Raises :class:`DatasetError` if unreadable.

        With ``market``, a table partitioned by market reads only that market's partition
        files (see :meth:`market_files`), so a corrupt file of another market is never opened.
        """
        files = self.market_files(name, market) if market is not None else None
        cache_key = name if files is None else (name, market)
        if cache_key in self._raw:
            return self._raw[cache_key]
        src = self._source(name)
        spec = contract.TABLES[name]
        try:
            if src.kind == "csv":
                header, reason = sniff_csv(src.path)
                if reason:
                    what, _, fix = reason.partition("; ")
                    raise DatasetError(f"table {name}: file {src.path} {what}", fix)
                if self.engine == "duckdb":
                    # ids stay text ('007' is not 7); other columns are sniffed by DuckDB
                    str_cols = {c.name: "VARCHAR" for c in spec.columns if c.dtype == "str" and c.name in header}
                    t = self.con.read_csv(str(src.path), delim=",", header=True, quote='"', types=str_cols)
                else:
                    t = self.con.read_csv(str(src.path), header=True, inferSchema=True, sep=",",
                                          encoding="UTF-8", mode="FAILFAST", timestampFormat="yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX")
            elif src.kind == "parquet":
                t = self.con.read_parquet(str(src.path))
            elif self.engine == "duckdb":
                paths = f"{src.path}/**/*.parquet" if files is None else [str(f) for f in files]
                t = self.con.read_parquet(paths, hive_partitioning=True, union_by_name=True)
            else:
                # Spark discovers Hive partitions below basePath, so `market` comes from the path
                t = self.con.read_parquet(str(src.path), basePath=str(src.path), mergeSchema="true")
        except DatasetError:
            raise
        except Exception as exc:
            if not is_engine_error(exc):
                raise
            where = src.path if files is None else f"{src.path} (market={market})"
            raise DatasetError(f"table {name}: cannot read {where} ({_engine_error_text(exc)})",
                               "replace the corrupt file with a valid Parquet/CSV copy (re-export it)") from None
        self._raw[cache_key] = t
        return t

    def nanos_columns(self, name: str) -> frozenset[str]:
        """Parquet nanosecond-timestamp columns that Spark reads as int64 ns (empty on DuckDB)."""
        src = self._source(name)
        if self.engine != "spark" or src.kind == "csv":
            return frozenset()
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(src.files[0])
        except Exception:  # noqa: BLE001 - unreadable files are reported when the table is read
            return frozenset()
        return frozenset(f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns")

    def table(self, name: str, market: str | None = None):
        """Table ``name`` as an Ibis table with contract types.

        ids and other text columns are strings, timestamps UTC, counts int64, money and
        scores float64, flags boolean; partition columns are included; extra columns
        are kept after the contract columns. With ``market``, only that market's Hive
        partition is read when the table is partitioned by market (rows of other markets
        may remain in an unpartitioned table: filter on ``market`` as well).
        """
        if market is not None and self.market_files(name, market) is None:
            market = None
        cache_key = name if market is None else (name, market)
        if cache_key in self._typed:
            return self._typed[cache_key]
        raw = self.raw(name, market)
        if self.check:
            from govlib.data.validate import ContractError, check_schema

            problems = check_schema(self if market is None else _MarketView(self, market), name)
            if problems:
                raise ContractError(problems, dataset=self.path)
        t = _typed_table(raw, contract.TABLES[name], self.engine, self.nanos_columns(name))
        self._typed[cache_key] = t
        return t

    def filter_expr(self, name: str, market: str | Iterable[str] | None = None,
                    start: Any = None, end: Any = None):
        """Ibis table of ``name`` filtered on market and ``[start, end)`` of its time column."""
        import ibis

        # one market: read only its partition (a corrupt file of another market cannot fail it)
        t = self.table(name, market if isinstance(market, str) else None)
        spec = contract.TABLES[name]
        preds = []
        if market is not None:
            markets = [market] if isinstance(market, str) else list(market)
            preds.append(t.market.isin(markets) if len(markets) != 1 else t.market == markets[0])
        if (start is not None or end is not None) and spec.time_column is None:
            raise DatasetError(f"table {name} has no time column to filter on")
        if start is not None:
            preds.append(t[spec.time_column] >= ibis.literal(_to_utc_timestamp(start), type="timestamp('UTC')"))
        if end is not None:
            preds.append(t[spec.time_column] < ibis.literal(_to_utc_timestamp(end), type="timestamp('UTC')"))
        return t.filter(*preds) if preds else t

    def load(self, name: str, market: str | Iterable[str] | None = None, start: Any = None, end: Any = None,
             columns: Iterable[str] | None = None,
             where: Any | Callable[[Any], Any] | None = None, ordered: bool = True) -> pd.DataFrame:
        """Rows of ``name`` as pandas, filtered in the engine.

        Parameters
        ----------
        name : str
            Contract table.
        market : str or list of str, optional
            Keep these markets (``market`` column; a Hive partition prunes files).
        start, end : timestamp-like, optional
            Half-open ``[start, end)`` on the table's ``time_column`` (naive values are UTC).
            Use :func:`govlib.timeutil.month_bounds` for a local calendar month.
        columns : list of str, optional
            Columns to return (default: all).
        where : ibis boolean expression or callable, optional
            Extra filter: an expression on ``ds.table(name)`` or ``lambda t: ...``.
        ordered : bool
            Sort by primary key (keyless tables: by time column then all contract columns)
            so that results are deterministic on every engine.

        Returns
        -------
        pandas.DataFrame
            Timestamps ``datetime64[us, UTC]``, ids as str, int64 counts (float64 when
            a nullable count has missing values), float64, bool.
        """
        expr = self.filter_expr(name, market, start, end)
        if where is not None:
            expr = expr.filter(where(expr) if callable(where) else where)
        return self.fetch(name, expr, columns=columns, ordered=ordered)

    def fetch(self, name: str, expr, columns: Iterable[str] | None = None, ordered: bool = True) -> pd.DataFrame:
        """Execute an Ibis expression derived from ``ds.table(name)`` into a normalised DataFrame."""
        spec = contract.TABLES[name]
        if columns is not None:
            columns = list(columns)
            missing = [c for c in columns if c not in expr.columns]
            if missing:
                raise DatasetError(f"table {name} has no column(s) {', '.join(missing)}; columns: {', '.join(expr.columns)}")
            expr = expr.select(columns)
        if ordered:
            expr = _ordered(expr, spec)
        try:
            if self.engine == "duckdb":
                # Arrow -> pandas in one vectorised step: Ibis's to_pandas converts every column
                # holding a null through Python lists (seconds per million rows)
                df = expr.to_pyarrow().to_pandas(split_blocks=True, self_destruct=True)
            else:
                df = expr.to_pandas()
        except Exception as exc:
            if not is_engine_error(exc):
                raise
            raise DatasetError(f"table {name}: query failed while reading {self.sources[name].path} "
                               f"({_engine_error_text(exc)})", f"run `govlib validate --data {self.path}`") from None
        return normalise_frame(df, spec, copy=False)


    def write_parquet(self, name: str, expr, path: str | Path) -> int:
        """Write an Ibis expression derived from ``ds.table(name)`` to one Parquet file, in the engine.

        Rows are sorted as :meth:`fetch` sorts them, so the file is deterministic; on DuckDB
        the rows never pass through pandas (``COPY (...) TO``). Returns the number of rows.
        """
        spec = contract.TABLES[name]
        expr = _ordered(expr, spec)
        path = Path(path)
        try:
            if self.engine == "duckdb":
                self.con.to_parquet(expr, str(path))
                import pyarrow.parquet as pq

                return int(pq.ParquetFile(path).metadata.num_rows)
            df = self.fetch(name, expr, ordered=False)
            write_frame_parquet(df, name, path)
            return len(df)
        except Exception as exc:
            if not is_engine_error(exc):
                raise
            raise DatasetError(f"table {name}: query failed while reading {self.sources[name].path} "
                               f"({_engine_error_text(exc)})", f"run `govlib validate --data {self.path}`") from None


def write_frame_parquet(df: pd.DataFrame, name: str, path: str | Path) -> None:
    """Write a frame of contract table ``name`` to Parquet; a column null in every row
    (e.g. ``product_category`` of imported DSA data) keeps its contract type instead of
    Parquet's ``null`` type, which the contract check would reject."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    spec = contract.TABLES.get(name)
    for i, f in enumerate(table.schema):
        if pa.types.is_null(f.type):
            dtype = spec.column(f.name).dtype if spec and f.name in spec.column_names else "str"
            target = contract.arrow_type(dtype)
            table = table.set_column(i, pa.field(f.name, target), pa.nulls(len(table), target))
    pq.write_table(table, path)


def _ordered(expr, spec: contract.Table):
    """``expr`` sorted by the table's primary key (keyless: time column, then every contract column)."""
    keys = [spec.primary_key] if spec.primary_key else (
        ([spec.time_column] if spec.time_column else []) + [c for c in spec.column_names if c != spec.time_column])
    keys = [k for k in keys if k in expr.columns]
    return expr.order_by(keys) if keys else expr


class _MarketView:
    """A dataset seen through one market's partitions: what ``check_schema`` reads for ``table(name, market)``."""

    def __init__(self, ds: Dataset, market: str) -> None:
        self._ds, self._market = ds, market

    def raw(self, name: str):
        return self._ds.raw(name, self._market)

    def __getattr__(self, attr: str):
        return getattr(self._ds, attr)


def nanos_to_timestamp(col):
    """int64 nanoseconds since the epoch -> UTC timestamp (Spark's ``timestamp_micros``)."""
    import ibis
    import ibis.expr.datatypes as dt

    @ibis.udf.scalar.builtin(name="timestamp_micros", signature=((dt.int64,), dt.Timestamp(timezone="UTC")))
    def _timestamp_micros(x):
        ...

    return _timestamp_micros(col // 1000)


def _typed_table(raw, spec: contract.Table, engine: str, nanos: frozenset[str] = frozenset()):
    """Cast contract columns to contract types; reorder contract columns first."""
    import ibis.expr.datatypes as dt

    cols = {}
    for c in spec.columns:
        if c.name not in raw.columns:
            continue
        target = contract.ibis_type(c.dtype)
        col = raw[c.name]
        ty = col.type()
        if ty == target or (ty.is_timestamp() and target.is_timestamp() and ty.timezone == "UTC"
                            and ty.scale in (None, 6) and engine == "duckdb"):
            # no cast: keeps the predicate on the stored column, so DuckDB pushes it into the scan
            cols[c.name] = col
        elif c.dtype == "timestamp" and c.name in nanos and col.type().is_integer():
            # Spark reads nanosecond Parquet timestamps as int64 ns (nanosAsLong)
            cols[c.name] = nanos_to_timestamp(col)
        elif c.dtype == "timestamp" and col.type().is_timestamp() and engine == "spark":
            cols[c.name] = col.cast(dt.Timestamp(timezone="UTC"))
        else:
            cols[c.name] = col.cast(target)
    extras = [raw[n] for n in raw.columns if n not in cols]
    return raw.select(*[v.name(k) for k, v in cols.items()], *extras)


def normalise_frame(df: pd.DataFrame, spec: contract.Table, copy: bool = True) -> pd.DataFrame:
    """Contract dtypes on a pandas result: UTC ``datetime64[us]`` timestamps, str ids, bool flags.

    ``copy=False`` lets the loader convert a frame it owns in place.
    """
    if copy:
        df = df.copy()
    for c in spec.columns:
        if c.name not in df.columns:
            continue
        s = df[c.name]
        if c.dtype == "timestamp":
            if not pd.api.types.is_datetime64_any_dtype(s.dtype):  # to_datetime scans even datetime columns
                s = pd.to_datetime(s)
            s = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
            df[c.name] = s.astype("datetime64[us, UTC]")
        elif c.dtype == "str":
            df[c.name] = s.astype(object).where(s.notna(), None)
        elif c.dtype == "int":
            df[c.name] = s.astype("float64") if s.isna().any() else s.astype("int64")
        elif c.dtype == "float":
            df[c.name] = s.astype("float64")
        elif c.dtype == "bool" and not s.isna().any():
            df[c.name] = s.astype(bool)
    return df.reset_index(drop=True)


def open_dataset(path: str | Path | None = None, engine: str | None = None) -> Dataset:
    """Open the dataset at ``path`` (default :data:`govlib.config.DATA_DIR`) on ``engine``.

    Parameters
    ----------
    path : str or Path, optional
        Dataset directory.
    engine : {"duckdb", "spark"}, optional
        Query engine; default ``GOVLIB_ENGINE`` or ``"duckdb"``.

    Raises
    ------
    DatasetError
        The directory is missing or a table is stored twice.
    govlib.data.validate.ContractError
        A required table is missing.
    """
    return Dataset(path or config.DATA_DIR, engine)


def window_bounds(month: str, tz: str, months_back: int = 13) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC ``[start, end)`` from the start of ``month - months_back`` to the end of ``month``, local ``tz``."""
    start, _ = month_bounds(shift_month(month, -months_back), tz)
    _, end = month_bounds(month, tz)
    return start, end


def load_market_window(ds: Dataset, market: str, month: str, tz: str, months_back: int = 13,
                       tables: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every present table of ``market`` over the local window ending with ``month``.

    The window is ``[start of month - months_back, end of month)`` in time zone ``tz``,
    applied to each table's ``time_column`` in the engine. Two tables are widened:

    - ``content``: also the content referenced by the window's enforcement actions,
      even if published earlier (a semi-join in the engine), so that per-action
      content attributes (type, language, ``published_at``) are always available;
    - ``creators``: a dimension, not an event log: every creator of ``market``
      whenever registered, plus creators of other markets acted on in the window.

    Returns
    -------
    dict of str to pandas.DataFrame
        Keyed by table name, in contract order; absent optional tables are absent.
    """
    start, end = window_bounds(month, tz, months_back)
    wanted = [t for t in ds.tables if tables is None or t in set(tables)]
    out: dict[str, pd.DataFrame] = {}
    acts = ds.filter_expr("enforcement_actions", market, start, end) if ds.has("enforcement_actions") else None
    for name in wanted:
        if name == "content" and acts is not None:
            t = ds.table("content", market)
            in_window = (t.market == market) & (t.published_at >= utc_literal(start)) & (t.published_at < utc_literal(end))
            ref = acts.filter(acts.content_id.notnull()).select("content_id").distinct()
            out[name] = _with_references(ds, name, market, t, in_window, "content_id", ref)
        elif name == "creators":
            t = ds.table("creators", market)
            ref = acts.select("creator_id").distinct() if acts is not None else None
            out[name] = _with_references(ds, name, market, t, t.market == market, "creator_id", ref)
        else:
            out[name] = ds.load(name, market=market, start=start, end=end)
    return out


def with_references_expr(ds: Dataset, name: str, market: str, t, pred, key: str, ref):
    """Ibis expression: rows of ``t`` matching ``pred`` or whose ``key`` is in ``ref`` (a one-column table).

    ``t`` may be ``market``'s partition only (:meth:`Dataset.table` with a market). Then
    the referenced keys found there are taken from it, and only when some are not (an
    action on another market's content or creator) are the other partitions added, for
    those keys alone. Same rows as filtering the whole table.
    """
    own = t.filter(pred | t[key].isin(ref[key]))
    if ds.market_files(name, market) is None:  # t is already the whole table
        return own
    missing = ref.filter(~ref[key].isin(t[key]))
    try:
        n_missing = int(missing.count().to_pyarrow().as_py())
    except Exception as exc:
        if not is_engine_error(exc):
            raise
        raise DatasetError(f"table {name}: query failed while reading {ds.sources[name].path} "
                           f"({_engine_error_text(exc)})", f"run `govlib validate --data {ds.path}`") from None
    if n_missing == 0:
        return own
    full = ds.table(name)
    return own.union(full.filter((full.market != market) & full[key].isin(missing[key])).select(own.columns))


def _with_references(ds: Dataset, name: str, market: str, t, pred, key: str, ref) -> pd.DataFrame:
    """:func:`with_references_expr` as pandas, sorted by primary key (``ref`` None: ``pred`` only)."""
    if ref is None:
        return ds.fetch(name, t.filter(pred))
    return ds.fetch(name, with_references_expr(ds, name, market, t, pred, key, ref))


def count_signal_scores(scores) -> pd.DataFrame:
    """Rows of an Ibis ``signal_scores`` expression per ``signal`` and ``version`` (``rows``), sorted.

    Which signal is a market's main one and which version is the latest are read from all
    its scores, though only labelled items are evaluated.
    """
    counts = scores.group_by(["signal", "version"]).agg(rows=scores.count()).order_by(["signal", "version"])
    df = counts.to_pyarrow().to_pandas()
    return pd.DataFrame({"signal": df["signal"].astype(object), "version": df["version"].astype(object),
                         "rows": df["rows"].astype("int64")})


# Columns govlib.metrics.kpis.compute_kpis reads (a column it starts reading must be added here:
# compute_kpis names a missing column in its error).
KPI_INPUT_COLUMNS = {
    "enforcement_actions": ["action_id", "market", "creator_id", "content_id", "detection_source", "decision_mode",
                            "action_type", "views_before_action", "actioned_at"],
    "content": ["content_id", "published_at"],
    "notices": ["notice_id", "market", "outcome", "received_at", "handled_at"],
    "appeals": ["appeal_id", "market", "outcome", "submitted_at", "resolved_at"],
    "prevalence_samples": ["sample_id", "market", "sampled_at", "weight", "is_violating", "stratum"],
}


def load_kpi_inputs(ds: Dataset, market: str, month: str, tz: str,
                    first_month: str | None = None) -> dict[str, pd.DataFrame]:
    """Only the rows and columns :func:`govlib.metrics.kpis.compute_kpis` reads for one market-month.

    ``compute_kpis(load_kpi_inputs(ds, m, month, tz), m, month, tz)`` equals
    ``compute_kpis(load_market_window(ds, m, month, tz, months_back=3), m, month, tz)``, but the
    engine does the selecting, so pandas receives thousands of rows instead of the market's
    whole content window:

    - ``enforcement_actions``: the market's actions of months ``M-3`` .. ``M`` (the
      ``recidivism_90d`` cohort of ``M-3`` and its 90-day follow-up);
    - ``content``: ``content_id`` and ``published_at`` of the content removed by the month's
      actions (a semi-join in the engine; any market, as in ``load_market_window``);
    - ``notices``: handled in ``M``; ``appeals``: submitted or resolved in ``M``;
      ``prevalence_samples``: sampled in ``M`` (all of ``market``).

    Month bounds are local to ``tz``. Absent optional tables are absent from the result.
    With ``first_month``, the inputs of every month from ``first_month`` to ``month``
    (the same rules over that span), so that ``compute_kpis`` of each of those months is
    exact on one load: the report cube's KPI history.
    """
    _, m_end = month_bounds(month, tz)
    m_start, _ = month_bounds(first_month or month, tz)
    m3_start, _ = month_bounds(shift_month(first_month or month, -3), tz)
    lo, hi = utc_literal(m_start), utc_literal(m_end)

    def cols(name: str, t) -> list[str]:
        return [c for c in KPI_INPUT_COLUMNS[name] if c in t.columns]

    out: dict[str, pd.DataFrame] = {}
    acts = ds.filter_expr("enforcement_actions", market, m3_start, m_end)
    out["enforcement_actions"] = ds.fetch("enforcement_actions", acts, columns=cols("enforcement_actions", acts))
    if ds.has("content"):
        a = out["enforcement_actions"]
        removed = a.loc[(a["actioned_at"] >= m_start) & (a["action_type"] == "content_removed")
                        & a["content_id"].notna(), "content_id"].unique()
        out["content"] = _load_content_by_id(ds, market, removed, KPI_INPUT_COLUMNS["content"])
    in_month = {
        "notices": lambda t: (t.handled_at >= lo) & (t.handled_at < hi),
        "appeals": lambda t: ((t.submitted_at >= lo) & (t.submitted_at < hi))
        | ((t.resolved_at >= lo) & (t.resolved_at < hi)),
        "prevalence_samples": lambda t: (t.sampled_at >= lo) & (t.sampled_at < hi),
    }
    for name, pred in in_month.items():
        if ds.has(name):
            t = ds.filter_expr(name, market)
            out[name] = ds.fetch(name, t.filter(pred(t)), columns=cols(name, t))
    return out


def _load_content_by_id(ds: Dataset, market: str, ids, columns: list[str]) -> pd.DataFrame:
    """Rows of ``content`` whose ``content_id`` is in ``ids`` (any market), sorted by ``content_id``.

    A market's actions act on its own content almost always, so when ``content`` is
    partitioned by market only that partition is scanned for ``ids``; the other partitions
    are read only for ids not found there (a quarter of the scan for a market of four).
    """
    import ibis

    ids = pd.Series(ids, dtype=object).dropna().astype(str).unique()
    keys = ibis.memtable(pd.DataFrame({"content_id": ids}))
    t = ds.table("content", market)
    cols = [c for c in columns if c in t.columns]
    found = ds.fetch("content", t.filter(t.content_id.isin(keys.content_id)), columns=cols)
    if ds.market_files("content", market) is None:  # t is the whole table
        return found
    missing = sorted(set(ids) - set(found["content_id"]))
    if not missing:
        return found
    full = ds.table("content")
    other = ds.fetch("content", full.filter((full.market != market) & full.content_id.isin(missing)), columns=cols)
    both = pd.concat([found, other], ignore_index=True)
    return both.sort_values("content_id", kind="stable").reset_index(drop=True)


def load_signal_evaluation_inputs(ds: Dataset, market: str, start: Any, end: Any,
                                  content_lookback: pd.Timedelta = pd.Timedelta(days=31)) -> dict[str, Any]:
    """What :func:`govlib.signals.prepare_signal_labels` reads for one market, selected in the engine.

    Only labelled content matters to a signal's evaluation, so instead of every score of
    the period (millions of rows for an established market) pandas receives:

    - ``signal_scores``: the market's scores of ``[start, end)`` (``scored_at``) whose
      content has a review label;
    - ``review_labels``: the market's labels (all of them: a label reviewed later still
      describes content scored then);
    - ``content``: ``content_id, market, language`` of the labelled content published in
      ``[start - content_lookback, end)`` (an item scored early in the period was
      published before it);
    - ``signal_counts``: rows of *all* the period's scores per ``signal`` and ``version``
      (which signal is the main one, which version is the latest), a DataFrame.

    Absent tables give empty frames (``signal_counts`` empty).
    """
    start, end = _to_utc_timestamp(start), _to_utc_timestamp(end)
    out: dict[str, Any] = {"signal_counts": pd.DataFrame({"signal": pd.Series(dtype=object),
                                                          "version": pd.Series(dtype=object),
                                                          "rows": pd.Series(dtype="int64")})}
    if not (ds.has("signal_scores") and ds.has("review_labels")):
        return out
    sc = ds.filter_expr("signal_scores", market, start, end)
    lb = ds.filter_expr("review_labels", market)
    out["signal_counts"] = count_signal_scores(sc)
    out["signal_scores"] = ds.fetch("signal_scores", sc.filter(sc.content_id.isin(lb.content_id)))
    out["review_labels"] = ds.fetch("review_labels", lb)
    if ds.has("content"):
        out["content"] = ds.load("content", market=market, start=start - content_lookback, end=end,
                                 columns=["content_id", "market", "language"],
                                 where=lambda t: t.content_id.isin(lb.content_id))
    return out


def utc_literal(ts: Any):
    """An Ibis UTC timestamp literal (naive values are UTC), for filters the engine pushes down."""
    import ibis

    return ibis.literal(_to_utc_timestamp(ts), type="timestamp('UTC')")


def list_data_markets(ds: Dataset) -> list[str]:
    """Market codes present in the data: the distinct ``market`` of the required tables, sorted.

    A Hive-partitioned table answers from its partition values; others scan one column.
    """
    import ibis

    exprs = [ds.table(n).select("market").distinct() for n in contract.REQUIRED_TABLES if ds.has(n)]
    if not exprs:
        return []
    both = ibis.union(*exprs, distinct=True) if len(exprs) > 1 else exprs[0]
    return sorted(str(m) for m in both.to_pyarrow().column("market").to_pylist() if m is not None)


def load_tables(ds: Dataset, names: Iterable[str] | None = None, **filters: Any) -> Mapping[str, pd.DataFrame]:
    """Several tables with the same filters (``market``, ``start``, ``end``); absent tables skipped."""
    return {n: ds.load(n, **filters) for n in (names or ds.tables) if ds.has(n)}


__all__ = [
    "Dataset",
    "DatasetError",
    "TableSource",
    "discover_tables",
    "load_kpi_inputs",
    "load_market_window",
    "load_signal_evaluation_inputs",
    "load_tables",
    "utc_literal",
    "with_references_expr",
    "normalise_frame",
    "open_dataset",
    "window_bounds",
]

