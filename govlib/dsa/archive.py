"""An archive of statements of reasons: ``govlib dsa sync`` and :func:`open_statements`.

``govlib dsa sync --archive DIR --store OUT [--from D --to D] [--platform NAME...]``

``DIR`` holds the daily dumps as the Commission publishes them, ``sor-global-YYYY-MM-DD-full.zip``
beside ``sor-global-YYYY-MM-DD-full.zip.sha1``. Each day is checked against its SHA-1, streamed
(:mod:`govlib.dsa.stream`: part zips parsed in parallel, nothing extracted to disk), typed once
and stored as **one row per statement** under
``OUT/statements/day=YYYY-MM-DD/platform=<slug>/data_0.parquet`` (layout: ``docs/dsa.md``,
"The statement archive"). The territorial scope stays a list; the one-row-per-member-state
expansion is a query (:func:`by_member_state`).

Exact deduplication: within a day the first occurrence of a ``uuid`` (in part order) is stored;
across days :func:`open_statements` keeps the earliest day's row. Unknown values are stored as
published and recorded as warnings in ``manifest.json`` (``category`` is null where the published
value is not a v1 or v2 category; ``category_raw`` keeps it).

Resumable and idempotent: a day's platform partitions are written to a staging folder and
renamed into place; the day is entered in ``manifest.json`` last (atomic rename). Days in the
manifest are skipped; a day a killed sync left half-written is not in the manifest, so
:func:`open_statements` ignores it and the next sync redoes it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from govlib.dsa import DsaError
from govlib.dsa.sor import (
    CATEGORY_TO_V2,
    MARKET_ALIASES,
    NEEDED_COLUMNS,
    OPTIONAL_COLUMNS,
    _case,
    _sql_str,
)
from govlib.dsa.stream import BatchFeed, DumpReadError, list_csvs
from govlib.errors import UsageError
from govlib.io import file_lock, replace_dir, write_text_atomic

MANIFEST = "manifest.json"
FORMAT = 1
_DAY_FILE = re.compile(r"^sor-global-(?P<day>\d{4}-\d{2}-\d{2})-full\.zip$")

LIST_COLUMNS = ("category_specification", "territorial_scope", "content_type", "decision_visibility")
TIME_COLUMNS = (
    "content_date", "application_date", "created_at", "end_date_visibility_restriction",
    "end_date_monetary_restriction", "end_date_service_restriction", "end_date_account_restriction",
)  # fmt: skip
TEXT_COLUMNS = (
    "automated_decision", "decision_ground", "decision_account", "decision_monetary", "decision_provision",
    "source_type", "account_type", "content_language", "content_id_ean",
)  # fmt: skip


class ArchiveError(DsaError):
    """A dump cannot be stored (checksum, unreadable zip, unexpected header) or the store is not an archive."""


def slug(name: str) -> str:
    """Partition name of a platform: lower case, runs of other characters than ``a-z0-9`` as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")


def _parse_list(text: str | None, markets: bool = False) -> list[str]:
    """A published JSON array of codes as a list (empty or malformed -> []); member states as ISO, sorted."""
    try:
        values = json.loads(text) if text and text.strip() else []
    except ValueError:
        return []
    if not isinstance(values, list):
        return []
    values = [str(v).strip() for v in values if str(v).strip()]
    if markets:
        return sorted({MARKET_ALIASES.get(v.upper(), v.upper()) for v in values})
    return values


def batch_transform(wanted: set[str] | None):
    """Per-batch work done in the parsing threads (pyarrow): keep the ``wanted`` platform slugs,
    add ``platform`` (the slug) and parse the four list columns.

    Each of these columns takes few distinct values (the EEA list, a handful of content types),
    so each distinct value is parsed once per batch and the result taken by dictionary index:
    exact JSON parsing at the cost of a dictionary encoding.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    lists = pa.list_(pa.string())

    def by_value(col, fn, typ):
        enc = col.dictionary_encode()
        return pa.array([fn(v) for v in enc.dictionary.to_pylist()], typ).take(enc.indices)

    def transform(batch):
        plat = by_value(batch.column("platform_name"), lambda v: slug(v or ""), pa.string())
        if wanted is not None:
            keep = pc.is_in(plat, pa.array(sorted(wanted)))
            batch, plat = batch.filter(keep), plat.filter(keep)
        cols, names = [], []
        for name in batch.schema.names:
            col = batch.column(name)
            if name in LIST_COLUMNS:
                col = by_value(col, lambda v, m=(name == "territorial_scope"): _parse_list(v, m), lists)
            cols.append(col)
            names.append(name)
        return pa.record_batch([*cols, plat], names=[*names, "platform"])

    return transform


def feed_schema():
    """Schema of the batches :func:`batch_transform` produces."""
    import pyarrow as pa

    fields = [
        (c, pa.list_(pa.string()) if c in LIST_COLUMNS else pa.string())
        for c in (*NEEDED_COLUMNS, *OPTIONAL_COLUMNS)
    ]
    return pa.schema([*fields, ("source_part", pa.int32()), ("platform", pa.string())])


def statement_select_sql(source: str) -> str:
    """SELECT turning the published text columns of ``source`` into the archive's typed columns.

    ``source`` is :func:`feed_schema`: the needed columns as text, the list columns parsed,
    ``source_part`` and ``platform`` (the partition slug).
    """
    cols = [
        "uuid",
        "platform_name",
        f"{_case('category', CATEGORY_TO_V2)} AS category",
        "category AS category_raw",
        "category_specification",
        "territorial_scope",
        "content_type",
        "CASE lower(trim(automated_detection)) WHEN 'yes' THEN true WHEN 'no' THEN false END AS automated_detection",
        "decision_visibility",
        *(f"nullif({c}, '') AS {c}" for c in TEXT_COLUMNS),
        *(f"CAST(try_cast({c} AS TIMESTAMP) AS TIMESTAMPTZ) AS {c}" for c in TIME_COLUMNS),
        "source_part",
        "platform",
    ]
    return "SELECT " + ",\n  ".join(cols) + f"\nFROM {source}"


# --------------------------------------------------------------------------- manifest


def read_manifest(store: Path) -> dict:
    """The archive's manifest (``{"format": 1, "days": {}}`` for a new store)."""
    path = Path(store) / MANIFEST
    if not path.exists():
        return {"format": FORMAT, "days": {}}
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ArchiveError(f"{path}: not valid JSON ({exc}); restore it or start a new --store") from None
    if meta.get("format") != FORMAT:
        raise ArchiveError(
            f"{path}: archive format {meta.get('format')!r}, this govlib reads format {FORMAT}"
        )
    return meta


def _write_manifest(store: Path, meta: dict) -> None:
    write_text_atomic(Path(store) / MANIFEST, json.dumps(meta, indent=2, sort_keys=True) + "\n")


# --------------------------------------------------------------------------- finding days


@dataclass
class DayFile:
    """One published daily dump and its checksum file."""

    day: date
    path: Path

    @property
    def sha1_path(self) -> Path:
        return self.path.with_name(self.path.name + ".sha1")


def find_days(archive: Path, date_from: date | None = None, date_to: date | None = None) -> list[DayFile]:
    """The ``sor-global-YYYY-MM-DD-full.zip`` files of ``archive`` in the date range, by day."""
    archive = Path(archive)
    if not archive.is_dir():
        raise UsageError(f"--archive {archive} is not a directory")
    out = []
    for p in sorted(archive.iterdir()):
        m = _DAY_FILE.match(p.name)
        if not m:
            continue
        try:
            d = date.fromisoformat(m["day"])
        except ValueError:
            continue
        if (date_from and d < date_from) or (date_to and d > date_to):
            continue
        out.append(DayFile(d, p))
    return out


def sha1_of(path: Path) -> str:
    """SHA-1 of a file, read in 1 MB blocks."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_checksum(df: DayFile) -> str:
    """The dump's SHA-1 after checking it against its ``.sha1`` file.

    Raises
    ------
    ArchiveError
        The ``.sha1`` file is missing or unreadable, or the dump does not match it.
    """
    if not df.sha1_path.exists():
        raise ArchiveError(
            f"{df.path.name}: no checksum file {df.sha1_path.name} beside it; download it with the dump "
            "(the Commission publishes one per file)"
        )
    m = re.search(r"\b[0-9a-fA-F]{40}\b", df.sha1_path.read_text(encoding="utf-8", errors="replace"))
    if not m:
        raise ArchiveError(f"{df.sha1_path.name}: holds no 40-digit SHA-1; download it again")
    actual = sha1_of(df.path)
    if actual != m[0].lower():
        raise ArchiveError(
            f"{df.path.name}: checksum mismatch (SHA-1 {actual}, {df.sha1_path.name} says {m[0].lower()}); "
            "the file is incomplete or altered, download it again. Nothing from it was stored."
        )
    return actual


@dataclass
class SyncSummary:
    """What one sync did, printed by the CLI."""

    stored: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rows_read: int = 0
    rows_stored: int = 0
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- one day


def _fixed_mmap_threshold(nbytes: int = 1 << 20) -> None:
    """Serve allocations above ``nbytes`` by mmap, returned on free (glibc only; a no-op elsewhere).

    glibc raises its mmap threshold after the first large free, so the 8 MB blocks of the
    parsing threads then come from per-thread heaps that fragment: measured, the parse's peak
    RSS grew from 0.48 to 0.79 GB between 0.32M and 1M rows without this, and stays flat with it.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, int(nbytes))  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def connect(work: Path, memory_limit: str = "1GB", threads: int = 2):
    """A DuckDB connection bounded by ``memory_limit`` that spills to ``work``."""
    import duckdb

    work.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit={_sql_str(memory_limit)}")
    con.execute(f"SET threads={int(threads)}")
    con.execute(f"SET temp_directory={_sql_str(str(work / 'spill'))}")
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")
    con.execute("SET preserve_insertion_order=false")
    # A partitioned write buffers rows per open platform file; flushing early bounds that buffer.
    con.execute("SET partitioned_write_flush_threshold=32768")
    return con


def check_headers(members) -> None:
    """Refuse a dump whose CSVs are not full statement-of-reasons files (names file and columns)."""
    from govlib.dsa.sor import SorImportError, check_header

    if not members:
        raise ArchiveError("the dump holds no CSV file")
    for m in members:
        try:
            check_header(m.header, m.label)
        except SorImportError as exc:
            raise ArchiveError(f"{exc} Nothing from this dump was stored.") from None


def _stage_day(
    con, members, stage: Path, wanted: set[str] | None, where: str, threads: int
) -> dict[int, int]:
    """Stream every CSV of the day into ``stage/raw`` (Parquet, one folder per platform slug).

    Returns rows read per CSV. A read failure raises :class:`DumpReadError` naming the file.
    """
    import duckdb

    feed = BatchFeed(members, (*NEEDED_COLUMNS, *OPTIONAL_COLUMNS), threads=threads,
                     transform=batch_transform(wanted), schema=feed_schema())  # fmt: skip
    rdr = feed.reader()  # noqa: F841 - scanned by name in the query below
    try:
        typed = con.sql(f"{statement_select_sql('rdr')} WHERE {where}").to_arrow_reader(65536)
        _write_by_platform(typed, stage / "raw")
    except duckdb.Error as exc:
        feed.close()
        feed.raise_failures()
        first = str(exc).splitlines()[0]
        if isinstance(exc, duckdb.OutOfMemoryException):
            raise ArchiveError(
                f"the day needs more memory than --memory-limit allows ({first}); raise it"
            ) from None
        raise DumpReadError(f"the dump's CSVs cannot be read ({first})") from None
    feed.raise_failures()
    return dict(feed.rows)


def _write_by_platform(reader, root: Path, flush_rows: int = 32768, max_buffered: int = 65536) -> None:
    """Write a stream of typed batches to ``root/platform=<slug>/data_0.parquet``, one writer per platform.

    DuckDB's own partitioned ``COPY`` holds buffers per open file that outgrow a small memory
    limit; here each platform's rows are buffered up to ``flush_rows`` (row groups of a useful
    size) and the largest buffer is flushed whenever all together exceed ``max_buffered`` rows.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = pa.schema([f for f in reader.schema if f.name != "platform"])
    writers: dict[str, pq.ParquetWriter] = {}
    buffers: dict[str, list] = {}

    def flush(plat: str) -> None:
        if plat not in writers:
            (root / f"platform={plat}").mkdir(parents=True, exist_ok=True)
            writers[plat] = pq.ParquetWriter(
                root / f"platform={plat}" / "data_0.parquet", schema, compression="zstd"
            )
        writers[plat].write_table(pa.Table.from_batches(buffers.pop(plat), schema=schema))

    try:
        for batch in reader:
            plats = batch.column("platform")
            body = (
                batch.drop_columns(["platform"])
                if hasattr(batch, "drop_columns")
                else batch.select(schema.names)
            )
            for plat in pc.unique(plats).to_pylist():
                part = body.filter(pc.equal(plats, plat))
                buffers.setdefault(plat, []).append(part)
                if sum(b.num_rows for b in buffers[plat]) >= flush_rows:
                    flush(plat)
            while sum(b.num_rows for v in buffers.values() for b in v) > max_buffered:
                flush(max(buffers, key=lambda k: sum(b.num_rows for b in buffers[k])))
        for plat in list(buffers):
            flush(plat)
    finally:
        for w in writers.values():
            w.close()


def _all_columns(con, glob: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet({_sql_str(glob)})").fetchall()]


def _deduplicate_stage(con, stage: Path) -> int:
    """Keep the first occurrence of each uuid of the day (lowest part; ties by content), in place.

    Returns the number of rows dropped. Only the platform folders holding a duplicate are rewritten.
    """
    raw = stage / "raw"
    glob = _sql_str(str(raw / "**" / "*.parquet"))
    con.execute(
        "CREATE OR REPLACE TEMP TABLE dupkeys AS SELECT platform, uuid, count(*) - 1 AS n "
        f"FROM read_parquet({glob}, hive_partitioning=true) GROUP BY platform, uuid HAVING count(*) > 1"
    )
    dups = dict(con.execute("SELECT platform, sum(n) FROM dupkeys GROUP BY 1 ORDER BY 1").fetchall())
    for plat in dups:
        src = raw / f"platform={plat}"
        files = f"read_parquet({_sql_str(str(src / '*.parquet'))})"
        cols = _all_columns(con, str(src / "*.parquet"))
        order = ", ".join(c for c in cols if c != "uuid")
        keys = f"(SELECT uuid FROM dupkeys WHERE platform = {_sql_str(plat)})"
        dedup = src.with_name(f".dedup-platform={plat}")
        shutil.rmtree(dedup, ignore_errors=True)
        dedup.mkdir()
        # Only the duplicated uuids go through the window; the other rows are copied as they are.
        con.execute(
            f"COPY (SELECT * FROM {files} WHERE uuid NOT IN {keys} UNION ALL "
            f"SELECT * EXCLUDE (_rn) FROM (SELECT *, row_number() OVER (PARTITION BY uuid ORDER BY {order}) AS _rn "
            f"FROM {files} WHERE uuid IN {keys}) WHERE _rn = 1) TO {_sql_str(str(dedup / 'data_0.parquet'))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        shutil.rmtree(src)
        dedup.rename(src)
    con.execute("DROP TABLE dupkeys")
    return int(sum(dups.values()))


# Values the archive stores but cannot classify: (what, condition on the typed columns, expected, shown value).
_CHECKS = (
    ("category", "category IS NULL", "a v1 or v2 STATEMENT_CATEGORY_* value", "category_raw"),
    ("application_date", "application_date IS NULL", "a 'YYYY-MM-DD HH:MM:SS' timestamp", "'<empty or unparseable>'"),
    ("territorial_scope", "len(territorial_scope) = 0", "a JSON list of member-state codes", "'[]'"),
    ("decision_ground", "coalesce(decision_ground, '') NOT IN ('DECISION_GROUND_ILLEGAL_CONTENT', "
     "'DECISION_GROUND_INCOMPATIBLE_CONTENT')", "DECISION_GROUND_*", "decision_ground"),
    ("automated_decision", "coalesce(automated_decision, '') NOT LIKE 'AUTOMATED_DECISION_%'",
     "AUTOMATED_DECISION_*", "automated_decision"),
)  # fmt: skip


def _value_warnings(con, stage: Path, file: str) -> list[str]:
    """One warning per column with values outside the known codes: file, row count, up to 5 examples."""
    src = f"read_parquet({_sql_str(str(stage / 'raw' / '**' / '*.parquet'))}, hive_partitioning=true)"
    counts = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {cond})" for _, cond, _, _ in _CHECKS) + f" FROM {src}"
    ).fetchone()
    out = []
    for (col, cond, expected, shown), n in zip(_CHECKS, counts, strict=True):
        if not n:
            continue
        ex = [
            f"{u} -> {v}"
            for u, v in con.execute(
                f"SELECT uuid, coalesce(CAST({shown} AS VARCHAR), '<empty>') FROM {src} WHERE {cond} ORDER BY uuid LIMIT 5"
            ).fetchall()
        ]
        out.append(
            f"{file}: {n} row(s) with a {col} the archive does not know (expected {expected}); stored as published"
            f"{' with category null' if col == 'category' else ''}; examples (uuid -> value): {ex}"
        )
    return out


def _cross_day_warnings(con, store: Path, stage: Path, day: date, meta: dict, file: str) -> list[str]:
    """Warn when statements of this dump are already stored on a neighbouring day (a day dumped twice)."""
    out = []
    staged = f"read_parquet({_sql_str(str(stage / 'raw' / '**' / '*.parquet'))})"
    for other, entry in sorted(meta["days"].items()):
        if other == day.isoformat() or abs((date.fromisoformat(other) - day).days) > 1:
            continue
        files = _day_files(store, other, entry, None)
        if not files:
            continue
        n = con.execute(
            f"SELECT count(*) FROM {staged} WHERE uuid IN (SELECT uuid FROM read_parquet({_file_list(files)}))"
        ).fetchone()[0]
        if n:
            out.append(
                f"{file}: {n} statement(s) are already stored on {other} ({entry.get('file')}): the same statements "
                "dumped on two days; both are kept and open_statements counts each once (earliest day)"
            )
    return out


def _file_list(files: Sequence[Path]) -> str:
    return "[" + ", ".join(_sql_str(str(f)) for f in files) + "]"


def _day_files(store: Path, day: str, entry: dict, platforms: set[str] | None) -> list[Path]:
    """The Parquet files of a stored day (platforms listed in its manifest entry, optionally filtered)."""
    out = []
    for plat in sorted(entry.get("platforms", {})):
        if platforms is not None and plat not in platforms:
            continue
        out.extend(sorted((Path(store) / "statements" / f"day={day}" / f"platform={plat}").glob("*.parquet")))
    return out


def _covered(entry: dict | None, wanted: set[str] | None) -> bool:
    """Whether a stored day's manifest entry already holds the wanted platforms (None = all)."""
    if entry is None:
        return False
    requested = entry.get("platforms_requested")
    if requested is None:
        return True
    return wanted is not None and wanted <= set(requested)


def _publish(con, store: Path, stage: Path, day: str) -> dict[str, dict]:
    """Rename each staged platform folder into the store; their manifest entries."""
    src = f"read_parquet({_sql_str(str(stage / 'raw' / '**' / '*.parquet'))}, hive_partitioning=true)"
    out = {}
    for plat, name, n in con.execute(
        f"SELECT platform, min(platform_name), count(*) FROM {src} GROUP BY 1 ORDER BY 1"
    ).fetchall():
        dest = Path(store) / "statements" / f"day={day}" / f"platform={plat}"
        replace_dir(stage / "raw" / f"platform={plat}", dest)
        out[plat] = {"platform_name": name, "rows": int(n)}
    return out


def ingest_day(
    con, store: Path, df: DayFile, wanted: set[str] | None, meta: dict, threads: int = 2, log=print
) -> dict:
    """Store one day's dump (the platforms ``wanted``, as slugs; None = all) and return its manifest entry.

    The partitions are renamed into place one by one; the caller writes the manifest after.
    Platforms the manifest already lists for the day are not rewritten.
    """
    day = df.day.isoformat()
    old = meta["days"].get(day)
    sha1 = verify_checksum(df)
    if old and old.get("sha1") != sha1:
        raise ArchiveError(
            f"{df.path.name}: its SHA-1 {sha1} differs from the dump stored for {day} ({old.get('sha1')}); "
            "the Commission re-published the day. Remove the day from the store to take the new file."
        )
    members = list_csvs(df.path)
    check_headers(members)
    stored = set((old or {}).get("platforms", {}))
    conds = ["true"]
    if stored:
        conds.append(f"platform NOT IN ({', '.join(_sql_str(s) for s in sorted(stored))})")
    stage = Path(store) / ".staging" / f"day={day}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    rows = _stage_day(con, members, stage, wanted, " AND ".join(conds), threads)
    log(f"{df.path.name}: read {sum(rows.values()):,} rows from {len(members)} CSV file(s)")
    has_rows = any((stage / "raw").rglob("*.parquet"))
    dropped = _deduplicate_stage(con, stage) if has_rows else 0
    warnings = []
    if has_rows:
        warnings = _value_warnings(con, stage, df.path.name)
        warnings += _cross_day_warnings(con, store, stage, df.day, meta, df.path.name)
    platforms = dict((old or {}).get("platforms", {}))
    if has_rows:
        platforms.update(_publish(con, store, stage, day))
    shutil.rmtree(stage, ignore_errors=True)
    requested = (
        None
        if wanted is None or (old and old.get("platforms_requested") is None)
        else sorted(wanted | set((old or {}).get("platforms_requested") or []))
    )
    return {
        "file": df.path.name,
        "sha1": sha1,
        "rows_read": int(sum(rows.values()))
        if old is None
        else max(int(old.get("rows_read", 0)), int(sum(rows.values()))),
        "duplicates_dropped": int(dropped) + int((old or {}).get("duplicates_dropped", 0)),
        "platforms_requested": requested,
        "platforms": dict(sorted(platforms.items())),
        "warnings": list((old or {}).get("warnings", [])) + warnings,
    }


def sync(
    archive: str | Path,
    store: str | Path,
    *,
    date_from: date | None = None,
    date_to: date | None = None,
    platforms: Sequence[str] | None = None,
    memory_limit: str = "1GB",
    threads: int = 2,
    log=print,
) -> SyncSummary:
    """Store every day of ``archive`` in the range that ``store`` does not hold yet.

    Parameters
    ----------
    archive : path
        Folder of ``sor-global-YYYY-MM-DD-full.zip`` and ``.zip.sha1`` files.
    store : path
        The archive store (created if absent).
    date_from, date_to : date, optional
        Inclusive range of dump days.
    platforms : sequence of str, optional
        ``platform_name`` values (or slugs) to store; default all.
    memory_limit, threads : DuckDB settings; memory does not grow with the dump size.
    log : callable
        Receives progress lines.

    Returns
    -------
    SyncSummary
        Days stored, skipped (already stored) and failed (with the reason); a failed day stores
        nothing and does not stop the others.

    Notes
    -----
    One sync at a time per store (a lock file ``.sync.lock``). The manifest is rewritten after
    each day, so a killed sync loses at most the day in progress, which the next sync redoes.
    """
    store = Path(store)
    store.mkdir(parents=True, exist_ok=True)
    _fixed_mmap_threshold()
    wanted = {slug(p) for p in platforms} if platforms else None
    days = find_days(Path(archive), date_from, date_to)
    summary = SyncSummary()
    with file_lock(store / ".sync.lock"):
        meta = read_manifest(store)
        con = connect(store / ".work", memory_limit, threads)
        for df in days:
            day = df.day.isoformat()
            if _covered(meta["days"].get(day), wanted):
                summary.skipped.append(day)
                continue
            try:
                entry = ingest_day(con, store, df, wanted, meta, threads, log)
            except (ArchiveError, DumpReadError) as exc:
                summary.failed[day] = str(exc)
                shutil.rmtree(store / ".staging" / f"day={day}", ignore_errors=True)
                log(f"{df.path.name}: not stored: {exc}")
                continue
            meta["days"][day] = entry
            meta["days"] = dict(sorted(meta["days"].items()))
            _write_manifest(store, meta)
            summary.stored.append(day)
            summary.rows_read += entry["rows_read"]
            summary.rows_stored += sum(p["rows"] for p in entry["platforms"].values())
            summary.warnings += entry["warnings"]
            for w in entry["warnings"]:
                log(f"warning: {w}")
        con.close()
        shutil.rmtree(store / ".work", ignore_errors=True)
        if not (store / MANIFEST).exists():
            _write_manifest(store, meta)
    return summary


# --------------------------------------------------------------------------- reading


def statement_files(
    store: str | Path, date_from=None, date_to=None, platforms: Sequence[str] | None = None
) -> list[Path]:
    """The Parquet files of the complete (manifest-listed) days and platforms in the range."""
    store = Path(store)
    if not (store / MANIFEST).exists():
        raise ArchiveError(
            f"{store} is not a statement archive (no {MANIFEST}); fill it with govlib dsa sync"
        )
    meta = read_manifest(store)
    lo = date.fromisoformat(str(date_from)) if date_from else None
    hi = date.fromisoformat(str(date_to)) if date_to else None
    wanted = {slug(p) for p in platforms} if platforms else None
    files = []
    for day, entry in meta["days"].items():
        d = date.fromisoformat(day)
        if (lo and d < lo) or (hi and d > hi):
            continue
        files.extend(_day_files(store, day, entry, wanted))
    return files


def open_statements(
    store: str | Path,
    engine: str | None = None,
    *,
    date_from=None,
    date_to=None,
    platforms: Sequence[str] | None = None,
    dedupe: bool = True,
    con=None,
):
    """The stored statements of reasons as an Ibis table, one row per statement.

    Parameters
    ----------
    store : path
        An archive filled by :func:`sync`.
    engine : {"duckdb", "spark"}, optional
        Default ``GOVLIB_ENGINE`` or DuckDB (see :mod:`govlib.data.engine`); ignored with ``con``.
    date_from, date_to : date or ISO string, optional
        Inclusive range of dump days (the ``day`` partition).
    platforms : sequence of str, optional
        Platform names or slugs.
    dedupe : bool
        Keep one row per ``uuid`` across days (the earliest day's). Within a day the archive
        holds no duplicates, so ``False`` is exact when the range's days do not overlap, and a
        range of one day is returned as stored.
    con : Ibis backend, optional
        Reuse a connection (e.g. one with a memory limit).

    Returns
    -------
    ibis.Table
        The columns of ``docs/dsa.md`` ("The statement archive") plus ``day`` and ``platform``.

    Notes
    -----
    Only days listed in ``manifest.json`` are read, so a day a killed sync left half-written
    is never counted.
    """
    import ibis

    from govlib.data import engine as _engine

    files = statement_files(store, date_from, date_to, platforms)
    if not files:
        raise ArchiveError(
            f"{store}: no stored statements for days {date_from or '...'} to {date_to or '...'}"
            f"{' and platforms ' + ', '.join(platforms) if platforms else ''}; run govlib dsa sync for them"
        )
    con = con or _engine.connect(engine)
    if con.name == "duckdb":
        t = con.read_parquet([str(f) for f in files], hive_partitioning=True)
    else:  # Ibis' PySpark read_parquet takes one path: the whole tree, narrowed to the listed partitions
        t = con.read_parquet(str(Path(store) / "statements"))
        days = sorted({date.fromisoformat(f.parent.parent.name.split("=", 1)[1]) for f in files})
        slugs = sorted({f.parent.name.split("=", 1)[1] for f in files})
        t = t.filter(t.day.cast("date").isin(days) & t.platform.cast("string").isin(slugs))
    t = t.mutate(day=t.day.cast("date"), platform=t.platform.cast("string"))
    if not dedupe or len({f.parent.parent.name for f in files}) == 1:
        return t  # within a day the archive holds each statement once
    dup = t.group_by("uuid").aggregate(_n=t.count()).filter(lambda x: x._n > 1).select("uuid")
    once = t.anti_join(dup, "uuid")
    several = t.semi_join(dup, "uuid")
    rn = ibis.row_number().over(group_by=several.uuid, order_by=[several.day, several.source_part])
    first = several.mutate(_rn=rn).filter(lambda x: x._rn == 0).drop("_rn")
    return once.union(first)


def by_member_state(t):
    """``t`` with one row per statement and member state of its ``territorial_scope`` (``member_state``).

    A statement covering *k* member states counts once in each: per-member-state counts add up
    to more than the number of statements; count ``uuid`` for EEA-wide figures.
    """
    return t.mutate(member_state=t.territorial_scope.unnest())
