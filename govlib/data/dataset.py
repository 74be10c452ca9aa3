"""Datasets: discover the contract tables in a directory and read them, typed, in the engine.

A dataset is a directory. Each table of :data:`govlib.contract.TABLES` is one of

- ``<table>.parquet``: a single Parquet file;
- ``<table>/``: a directory of Parquet files, optionally Hive-partitioned
  (``market=DE/part-0.parquet``; the partition column may exist only in the path);
- ``<table>.csv``: comma-separated, UTF-8, with a header (for small hand-made inputs).

This module knows how tables are stored and typed; it checks nothing against the contract
by itself. Layers, one way only: :mod:`govlib.data.dataset` (reading) <-
:mod:`govlib.data.validate` (contract checks over a :class:`Dataset`) <- :mod:`govlib.data.load`
(:func:`~govlib.data.load.open_dataset`, which passes validation's fast loader checks to the
:class:`Dataset` it opens, and the pushed-down loaders). A :class:`Dataset` made directly runs no
checks unless given ``check`` (see :class:`Dataset`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import pandas as pd

from govlib import contract
from govlib.data import engine as _engine
from govlib.errors import GovlibError

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
        raise DatasetError(
            f"dataset directory {root} does not exist; pass --data DIR or set GOVLIB_DATA "
            "(generate the demo with `govlib demo-data --out data/demo`)"
        )
    if not root.is_dir():
        raise DatasetError(
            f"dataset {root} is not a directory; a dataset is a directory of <table>.parquet, "
            "<table>/ or <table>.csv"
        )
    found: dict[str, TableSource] = {}
    for name in contract.TABLES:
        candidates: list[TableSource] = []
        f = root / f"{name}.parquet"
        if f.is_file():
            candidates.append(TableSource(name, "parquet", f, (f,)))
        d = root / name
        if d.is_dir():
            files = tuple(
                sorted(p for p in d.rglob("*.parquet") if p.is_file() and not p.name.startswith((".", "_")))
            )
            if not files:
                raise DatasetError(
                    f"table {name}: directory {d} holds no .parquet files; remove it or add the table's files"
                )
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


def to_utc_timestamp(value: Any) -> pd.Timestamp:
    """``value`` as a UTC :class:`pandas.Timestamp` (naive values are UTC)."""
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


def engine_error_text(exc: BaseException) -> str:
    """First line of an engine error (at most 400 characters), for messages."""
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
            return None, (
                f"is not UTF-8 (byte 0x{head[exc.start]:02x} on line {line}); "
                "re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`"
            )
        text = head[: exc.start].decode("utf-8-sig")
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        return None, "is empty; a CSV table needs a header row"
    header = next(csv.reader(io.StringIO(first)))
    if len(header) == 1:
        for delim, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delim in first:
                return None, (
                    f"is delimited by {label}, not commas; re-export it comma-separated "
                    "(RFC 4180, UTF-8): govlib reads only ',' as the delimiter"
                )
    return [h.strip() for h in header], None


class LoaderCheck(Protocol):
    """Checks a :class:`Dataset` runs while it reads; each raises on a problem.

    :class:`govlib.data.validate.LoaderChecks` is the one govlib uses (through
    :func:`govlib.data.load.open_dataset`); this module does not import validation.
    """

    def required_tables(self, ds: Dataset) -> None: ...

    def table(self, ds: Dataset, name: str) -> None: ...


class Dataset:
    """A governance dataset on an engine. Usually opened with :func:`govlib.data.load.open_dataset`.

    ``check`` runs while reading: its ``required_tables(ds)`` when the dataset is opened,
    its ``table(ds, name)`` when a table is first used (``ds`` then reads only the market's
    partition when one is asked for). :func:`~govlib.data.load.open_dataset` passes
    :class:`govlib.data.validate.LoaderChecks`, a fast subset of the contract checks that
    raises :class:`govlib.data.validate.ContractError`. ``None`` or ``False``: no checks
    (:func:`govlib.data.validate.validate_dataset` reads a dataset so, to report every problem).
    """

    def __init__(
        self, path: str | Path, engine: str | None = None, *, check: LoaderCheck | None = None, con=None
    ):
        self.path = Path(path)
        self.engine = _engine.resolve_engine(engine)
        self.sources = discover_tables(self.path)
        self.check = check or None
        self._con = (
            con  # an Ibis backend of ``engine`` to use (e.g. one with a memory limit); None: connect on use
        )
        self._raw: dict[str, Any] = {}
        self._typed: dict[str, Any] = {}
        if self.check is not None:
            self.check.required_tables(self)

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
            raise DatasetError(
                f"table {name} is not in dataset {self.path} (expected {name}.parquet, {name}/ or {name}.csv)"
            )
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
                    str_cols = {
                        c.name: "VARCHAR" for c in spec.columns if c.dtype == "str" and c.name in header
                    }
                    t = self.con.read_csv(str(src.path), delim=",", header=True, quote='"', types=str_cols)
                else:
                    t = self.con.read_csv(
                        str(src.path),
                        header=True,
                        inferSchema=True,
                        sep=",",
                        encoding="UTF-8",
                        mode="FAILFAST",
                        timestampFormat="yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX",
                    )
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
            raise DatasetError(
                f"table {name}: cannot read {where} ({engine_error_text(exc)})",
                "replace the corrupt file with a valid Parquet/CSV copy (re-export it)",
            ) from None
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
        if self.check is not None:
            self.check.table(self if market is None else _MarketView(self, market), name)
        t = _typed_table(raw, contract.TABLES[name], self.engine, self.nanos_columns(name))
        self._typed[cache_key] = t
        return t

    def filter_expr(
        self, name: str, market: str | Iterable[str] | None = None, start: Any = None, end: Any = None
    ):
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
            preds.append(
                t[spec.time_column] >= ibis.literal(to_utc_timestamp(start), type="timestamp('UTC')")
            )
        if end is not None:
            preds.append(t[spec.time_column] < ibis.literal(to_utc_timestamp(end), type="timestamp('UTC')"))
        return t.filter(*preds) if preds else t

    def load(
        self,
        name: str,
        market: str | Iterable[str] | None = None,
        start: Any = None,
        end: Any = None,
        columns: Iterable[str] | None = None,
        where: Any | Callable[[Any], Any] | None = None,
        ordered: bool = True,
    ) -> pd.DataFrame:
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

    def fetch(
        self, name: str, expr, columns: Iterable[str] | None = None, ordered: bool = True
    ) -> pd.DataFrame:
        """Execute an Ibis expression derived from ``ds.table(name)`` into a normalised DataFrame."""
        spec = contract.TABLES[name]
        if columns is not None:
            columns = list(columns)
            missing = [c for c in columns if c not in expr.columns]
            if missing:
                raise DatasetError(
                    f"table {name} has no column(s) {', '.join(missing)}; columns: {', '.join(expr.columns)}"
                )
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
            raise DatasetError(
                f"table {name}: query failed while reading {self.sources[name].path} "
                f"({engine_error_text(exc)})",
                f"run `govlib validate --data {self.path}`",
            ) from None
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
            raise DatasetError(
                f"table {name}: query failed while reading {self.sources[name].path} "
                f"({engine_error_text(exc)})",
                f"run `govlib validate --data {self.path}`",
            ) from None


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
    keys = (
        [spec.primary_key]
        if spec.primary_key
        else (
            ([spec.time_column] if spec.time_column else [])
            + [c for c in spec.column_names if c != spec.time_column]
        )
    )
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
    def _timestamp_micros(x): ...

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
        if ty == target or (
            ty.is_timestamp()
            and target.is_timestamp()
            and ty.timezone == "UTC"
            and ty.scale in (None, 6)
            and engine == "duckdb"
        ):
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


def utc_literal(ts: Any):
    """An Ibis UTC timestamp literal (naive values are UTC), for filters the engine pushes down."""
    import ibis

    return ibis.literal(to_utc_timestamp(ts), type="timestamp('UTC')")
