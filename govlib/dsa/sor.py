"""Statements of reasons from the EU DSA Transparency Database into a contract dataset.

``govlib dsa import --dump PATH... --out DIR [--platform NAME...] [--from D --to D] [--category C...]``

The Commission publishes one dump a day: an outer zip ``sor-<global|platform>-YYYY-MM-DD-full.zip``
of part zips (``...-full-00000.csv.zip``), each holding CSV files with a header. The import
streams: one part zip and one CSV at a time is extracted to a temporary directory and copied,
block by block with pyarrow's streaming CSV reader, into a staging Parquet file of the columns
needed; deduplication, mapping and the one-row-per-market expansion then run in DuckDB, which
spills to disk under a memory limit. Memory therefore does not grow with the number of parts.

Mappings (full table in ``docs/dsa.md``):

* ``decision_visibility/monetary/provision/account`` -> ``action_type`` (most severe measure wins;
  the raw values are kept in ``dsa_visibility``, ``dsa_monetary``, ``dsa_provision``, ``dsa_account``).
* ``source_type`` + ``automated_detection`` -> ``detection_source``.
* ``automated_decision`` -> ``decision_mode``; ``decision_ground`` -> ``ground``.
* ``category`` (v1 before 1 July 2025, and v2) -> ``dsa_category`` (v2) and ``policy`` (taxonomy).
* ``content_date`` -> ``detected_at`` and ``published_at``; ``application_date`` -> ``actioned_at``.
* ``territorial_scope`` -> ``market``: a decision covering several member states counts once in
  each of them (one row per market, ``action_id = <uuid>:<CC>``; ``sor_uuid`` and ``n_markets``
  keep the link), as recorded in ``dataset.json``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

from govlib import contract
from govlib.dsa import NOT_AVAILABLE_TEXT, SOURCE_DSA_TDB, UNAVAILABLE_SECTIONS_DSA_TDB, DsaError
from govlib.errors import UsageError


class SorImportError(DsaError):
    """A dump cannot be imported (light dump, unknown values, unreadable zip)."""


# Columns read from the dumps. ``content_id_ean`` exists only in the 38-column layout (2025-).
NEEDED_COLUMNS = (
    "uuid",
    "decision_visibility",
    "end_date_visibility_restriction",
    "decision_monetary",
    "end_date_monetary_restriction",
    "decision_provision",
    "end_date_service_restriction",
    "decision_account",
    "end_date_account_restriction",
    "account_type",
    "decision_ground",
    "category",
    "category_specification",
    "content_type",
    "content_language",
    "content_date",
    "territorial_scope",
    "application_date",
    "source_type",
    "automated_detection",
    "automated_decision",
    "platform_name",
    "created_at",
)
OPTIONAL_COLUMNS = ("content_id_ean",)

# v1 categories (until 30 June 2025) -> v2. Values present in both schemas map to themselves.
CATEGORY_V1_TO_V2: dict[str, str] = {
    "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR": "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT": "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE": "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
    "STATEMENT_CATEGORY_UNSAFE_AND_ILLEGAL_PRODUCTS": "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
}
CATEGORIES_V2 = (
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_CONSUMER_INFORMATION",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
)
CATEGORY_TO_V2: dict[str, str] = {**{c: c for c in CATEGORIES_V2}, **CATEGORY_V1_TO_V2}

# v2 category -> policy of the taxonomy (nearest; lossy where the taxonomy is coarser, the exact
# category stays in ``dsa_category``). Keywords refine two of them.
CATEGORY_TO_POLICY: dict[str, str] = {
    "STATEMENT_CATEGORY_ANIMAL_WELFARE": "other",
    "STATEMENT_CATEGORY_CONSUMER_INFORMATION": "misleading_claims",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE": "hate_harassment",
    "STATEMENT_CATEGORY_CYBER_VIOLENCE_AGAINST_WOMEN": "hate_harassment",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS": "privacy_violation",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH": "hate_harassment",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS": "counterfeit_ip",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS": "other",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS": "minor_safety",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY": "dangerous_activity",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD": "scam_fraud",
    "STATEMENT_CATEGORY_SELF_HARM": "dangerous_activity",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS": "prohibited_product",
    "STATEMENT_CATEGORY_VIOLENCE": "dangerous_activity",
    "STATEMENT_CATEGORY_OTHER_VIOLATION_TC": "other",
}
KEYWORD_TO_POLICY: dict[str, str] = {
    "KEYWORD_UNSAFE_PRODUCTS": "unsafe_product",
    "KEYWORD_HIDDEN_ADVERTISEMENT": "undisclosed_ads",
    "KEYWORD_ADULT_SEXUAL_MATERIAL": "adult_content",
    "KEYWORD_NUDITY": "adult_content",
}

SOURCE_TYPES = (
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
)
DECISION_GROUNDS = {
    "DECISION_GROUND_ILLEGAL_CONTENT": "illegal_content",
    "DECISION_GROUND_INCOMPATIBLE_CONTENT": "terms_of_service",
}
AUTOMATED_DECISIONS = {
    "AUTOMATED_DECISION_FULLY": "automated",
    "AUTOMATED_DECISION_PARTIALLY": "hybrid",
    "AUTOMATED_DECISION_NOT_AUTOMATED": "human",
}
# Order matters: the first content type of the list that maps wins, marketplace types first.
CONTENT_TYPES = {
    "CONTENT_TYPE_PRODUCT": "product_showcase",
    "CONTENT_TYPE_VIDEO": "short_video",
    "CONTENT_TYPE_LIVE_STREAM": "livestream",
    "CONTENT_TYPE_IMAGE": "image",
    "CONTENT_TYPE_TEXT": "text",
}
# Member-state codes: the EU uses EL for Greece, the contract ISO 3166-1 (GR).
MARKET_ALIASES = {"EL": "GR", "UK": "GB"}

_DUMP_NAME = re.compile(r"sor-(?P<scope>[A-Za-z0-9_.\-]+?)-(?P<day>\d{4}-\d{2}-\d{2})-(?P<kind>full|light)")


@dataclass
class ImportSummary:
    """Counts of one import, printed by the CLI and stored in ``dataset.json``."""

    files_read: int = 0
    rows_read: int = 0
    duplicates_dropped: int = 0
    rows_selected: int = 0
    rows_written: int = 0
    rows_by_market: dict[str, int] = field(default_factory=dict)
    dates_clamped: int = 0
    rows_without_content: int = 0
    dumps: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "files_read": self.files_read,
            "rows_read": self.rows_read,
            "duplicates_dropped": self.duplicates_dropped,
            "rows_selected": self.rows_selected,
            "rows_written": self.rows_written,
            "rows_by_market": dict(sorted(self.rows_by_market.items())),
            "detected_after_actioned_clamped": self.dates_clamped,
            "actions_without_content_row": self.rows_without_content,
        }


# --------------------------------------------------------------------------- reading dumps


def _sql_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def read_header(csv_path: Path) -> list[str]:
    """Column names of a dump CSV (first line, RFC 4180)."""
    with open(csv_path, encoding="utf-8", newline="") as fh:
        try:
            return [c.strip().lstrip("\ufeff") for c in next(csv.reader(fh))]
        except StopIteration:
            return []


def check_header(header: Sequence[str], where: str) -> None:
    """Refuse light dumps and files that are not statements of reasons."""
    if "uuid" not in header:
        raise SorImportError(
            f"{where}: not a statement-of-reasons CSV (no 'uuid' column; first columns: {list(header)[:5]}). "
            "Pass the daily dump zips from https://transparency.dsa.ec.europa.eu/data-download."
        )
    if "territorial_scope" not in header:
        raise SorImportError(
            f"{where}: this is a 'light' dump (no territorial_scope column), so decisions cannot be assigned "
            "to markets. Download the 'full' dump of the same day (sor-...-YYYY-MM-DD-full.zip) instead."
        )
    missing = [c for c in NEEDED_COLUMNS if c not in header]
    if missing:
        raise SorImportError(
            f"{where}: the full-dump columns {missing} are missing ({len(header)} columns found); "
            "expected the 37- or 38-column full layout of the Transparency Database."
        )


@contextmanager
def _tempdir(work_dir: Path | None) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="govlib-sor-", dir=work_dir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def iter_dump_csvs(dump: Path, tmp: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(name, extracted_csv_path)`` for each CSV of a dump, one at a time.

    ``dump`` may be the outer daily zip (of part zips), a single part zip, a CSV, or a
    directory of any of these. Each extracted file is deleted before the next is yielded.
    """
    dump = Path(dump)
    if dump.is_dir():
        for child in sorted(dump.iterdir()):
            if child.suffix in (".zip", ".csv"):
                yield from iter_dump_csvs(child, tmp)
        return
    if not dump.exists():
        raise UsageError(f"dump {dump} does not exist")
    if dump.suffix == ".csv":
        yield dump.name, dump
        return
    if not zipfile.is_zipfile(dump):
        raise SorImportError(f"{dump}: neither a zip nor a CSV file; pass the daily dump zip as downloaded")
    yield from _iter_zip(dump, dump.name, tmp)


def _iter_zip(path: Path, label: str, tmp: Path) -> Iterator[tuple[str, Path]]:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise SorImportError(f"{label}: corrupt zip ({exc}); download the dump again") from None
    with zf:
        names = sorted(n for n in zf.namelist() if not n.endswith("/"))
        for name in names:
            base = Path(name).name
            if base.startswith(".") or name.startswith("__MACOSX"):
                continue
            if base.endswith(".zip"):
                # A part zip: extract it alone, stream its CSVs, delete it.
                part = tmp / f"part-{hashlib.sha1(name.encode()).hexdigest()[:10]}.zip"
                with zf.open(name) as src, open(part, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                try:
                    yield from _iter_zip(part, f"{label}/{base}", tmp)
                finally:
                    part.unlink(missing_ok=True)
            elif base.endswith(".csv"):
                out = tmp / f"csv-{hashlib.sha1(name.encode()).hexdigest()[:10]}.csv"
                with zf.open(name) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                try:
                    yield f"{label}/{base}", out
                finally:
                    out.unlink(missing_ok=True)


# --------------------------------------------------------------------------- transform


def _connect(tmp: Path, memory_limit: str, threads: int):
    import duckdb

    # A database file (not in-memory) so that the staged and mapped tables can be evicted to
    # disk: memory stays under the limit whatever the dump size.
    con = duckdb.connect(str(tmp / "work.duckdb"))
    con.execute(f"SET memory_limit={_sql_str(memory_limit)}")
    con.execute(f"SET threads={int(threads)}")
    con.execute(f"SET temp_directory={_sql_str(str(tmp / 'spill'))}")
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")
    return con


def _stage_csv(
    csv_path: Path, header: Sequence[str], out: Path, file_seq: int, block_size: int = 16 << 20
) -> int:
    """Stream one CSV into a staging Parquet file of the needed columns, block by block.

    pyarrow's streaming reader keeps one block (``block_size`` bytes) in memory; the row
    number within the file (``_row``) makes "first occurrence wins" deterministic.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    present = [c for c in (*NEEDED_COLUMNS, *OPTIONAL_COLUMNS) if c in header]
    reader = pacsv.open_csv(
        csv_path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in header}, include_columns=present,
            strings_can_be_null=False, quoted_strings_can_be_null=False,
        ),
    )  # fmt: skip
    names = ["_file", "_row", *NEEDED_COLUMNS, *OPTIONAL_COLUMNS]
    schema = pa.schema([("_file", pa.int32()), ("_row", pa.int64())] + [(c, pa.string()) for c in names[2:]])
    n = 0
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        for batch in reader:
            k = batch.num_rows
            arrays = [
                pa.array(np.full(k, file_seq, dtype=np.int32)),
                pa.array(np.arange(n, n + k, dtype=np.int64)),
            ]
            for c in names[2:]:
                arrays.append(batch.column(c) if c in present else pa.nulls(k, pa.string()))
            writer.write_batch(pa.record_batch(arrays, schema=schema))
            n += k
    return n


def _values_sql(name: str, pairs: dict[str, str], cols: tuple[str, str]) -> str:
    rows = ", ".join(f"({_sql_str(k)}, {_sql_str(v)})" for k, v in pairs.items())
    return f"{name}({cols[0]}, {cols[1]}) AS (VALUES {rows})"


def _json_list(col: str) -> str:
    """DuckDB list of strings from a JSON-array string column ('' or malformed -> empty list)."""
    return f"coalesce(try(from_json(nullif(trim({col}), ''), '[\"VARCHAR\"]')), []::VARCHAR[])"


def _problems(con, where_sql: str) -> list[str]:
    """Values the mappings do not know, as messages naming column, count and examples."""
    checks = [
        (
            "category",
            "coalesce(category, '') NOT IN (SELECT raw FROM catmap)",
            "a v1 or v2 STATEMENT_CATEGORY_* value",
        ),
        (
            "decision_ground",
            f"coalesce(decision_ground, '') NOT IN {tuple(DECISION_GROUNDS)}",
            "DECISION_GROUND_*",
        ),
        (
            "automated_decision",
            f"coalesce(automated_decision, '') NOT IN {tuple(AUTOMATED_DECISIONS)}",
            "AUTOMATED_DECISION_*",
        ),
        ("source_type", f"coalesce(source_type, '') NOT IN {tuple(SOURCE_TYPES)}", "SOURCE_*"),
        (
            "application_date",
            "try_cast(application_date AS TIMESTAMP) IS NULL",
            "a 'YYYY-MM-DD HH:MM:SS' timestamp",
        ),
        (
            "content_date",
            "nullif(trim(content_date), '') IS NOT NULL AND try_cast(content_date AS TIMESTAMP) IS NULL",
            "a 'YYYY-MM-DD HH:MM:SS' timestamp or empty",
        ),
        (
            "territorial_scope",
            f"len({_json_list('territorial_scope')}) = 0",
            "a JSON list of member-state codes",
        ),
    ]
    out = []
    for col, cond, expected in checks:
        n, examples = con.execute(
            f"SELECT count(*), (list(DISTINCT uuid || ' -> ' || coalesce({col}, '<empty>') ORDER BY uuid || ' -> ' || coalesce({col}, '<empty>')))[1:5] "
            f"FROM dedup WHERE {where_sql} AND ({cond})"
        ).fetchone()
        if n:
            out.append(
                f"column {col!r}: {n} row(s) with a value the import does not know (expected {expected}); "
                f"examples (uuid -> value): {examples}"
            )
    return out


def _where(platforms, date_from, date_to, categories) -> str:
    conds = ["true"]
    if platforms:
        conds.append("lower(platform_name) IN (" + ", ".join(_sql_str(p.lower()) for p in platforms) + ")")
    if date_from:
        conds.append(
            f"try_cast(application_date AS TIMESTAMP) >= TIMESTAMP {_sql_str(date_from.isoformat())}"
        )
    if date_to:
        conds.append(
            f"try_cast(application_date AS TIMESTAMP) < TIMESTAMP {_sql_str(date_to.isoformat())} + INTERVAL 1 DAY"
        )
    if categories:
        cats = set()
        for c in categories:
            c = c.strip().upper()
            c = c if c.startswith("STATEMENT_CATEGORY_") else f"STATEMENT_CATEGORY_{c}"
            if c not in CATEGORY_TO_V2:
                raise UsageError(
                    f"--category {c!r} is not a DSA statement category; known: "
                    + ", ".join(x.removeprefix("STATEMENT_CATEGORY_") for x in sorted(CATEGORY_TO_V2))
                )
            cats.add(CATEGORY_TO_V2[c])
        conds.append(
            _case("category", CATEGORY_TO_V2, "category")
            + " IN ("
            + ", ".join(_sql_str(c) for c in sorted(cats))
            + ")"
        )
    return " AND ".join(conds)


def _case(expr: str, mapping: dict[str, str], default: str = "NULL") -> str:
    whens = " ".join(f"WHEN {_sql_str(k)} THEN {_sql_str(v)}" for k, v in mapping.items())
    return f"CASE {expr} {whens} ELSE {default} END"


# The harshest measure of a decision, and who detected it (the SELECT lines of _transform_sql).
_ACTION_TYPE_SQL = """  CASE
    WHEN decision_account = 'DECISION_ACCOUNT_TERMINATED'
      OR decision_provision = 'DECISION_PROVISION_TOTAL_TERMINATION' THEN 'account_banned'
    WHEN decision_account = 'DECISION_ACCOUNT_SUSPENDED'
      OR decision_provision = 'DECISION_PROVISION_TOTAL_SUSPENSION' THEN 'account_suspended'
    WHEN nullif(trim(decision_provision), '') IS NOT NULL THEN 'feature_restricted'
    WHEN nullif(trim(decision_monetary), '') IS NOT NULL THEN 'commission_withheld'
    WHEN list_contains(vis_list, 'DECISION_VISIBILITY_CONTENT_REMOVED')
      OR list_contains(vis_list, 'DECISION_VISIBILITY_CONTENT_DISABLED') THEN 'content_removed'
    WHEN len(vis_list) > 0 THEN 'visibility_limited'
    ELSE 'warning'
  END AS action_type,
  CASE source_type
    WHEN 'SOURCE_TRUSTED_FLAGGER' THEN 'trusted_flagger'
    WHEN 'SOURCE_ARTICLE_16' THEN 'user_report'
    WHEN 'SOURCE_TYPE_OTHER_NOTIFICATION' THEN 'user_report'
    ELSE CASE WHEN lower(trim(automated_detection)) = 'yes' THEN 'automated' ELSE 'proactive_review' END
  END AS detection_source,"""

# One row per market of each selected decision, in sel's order.
_ROWS_OUT_SQL = """
-- A view: rows are produced while writing, in sel's order (uuid, then sorted markets).
CREATE VIEW rows_out AS
WITH x AS (SELECT *, unnest(markets) AS market FROM sel)
SELECT
  sor_uuid || ':' || market AS action_id,
  creator_prefix || ':' || market AS creator_id,
  CASE WHEN _content_type IS NULL THEN NULL ELSE sor_uuid || ':' || market END AS content_id,
  market, policy, 'medium' AS severity, action_type, 0::BIGINT AS health_points, detection_source,
  decision_mode, ground, detected_at, actioned_at, restriction_ends_at, NULL::BIGINT AS views_before_action,
  sor_uuid, len(markets)::INTEGER AS n_markets, dsa_category, dsa_category_raw, dsa_category_schema,
  dsa_keywords, dsa_visibility, dsa_monetary, dsa_provision, dsa_account, dsa_source_type, platform_name,
  dsa_account_type, _content_type, _language, _published_at, _ean, _clamped
FROM x;
"""


def _transform_sql(where_sql: str) -> str:
    """Per-decision mapping first (vectorised CASE expressions), then one row per market."""
    vis, ctypes = _json_list("decision_visibility"), _json_list("content_type")
    kw, scope = _json_list("category_specification"), _json_list("territorial_scope")
    policy_by_kw = " ".join(
        f"WHEN list_contains(kw_list, {_sql_str(k)}) THEN {_sql_str(v)}"
        for k, v in sorted(KEYWORD_TO_POLICY.items())
    )
    ctype = " ".join(
        f"WHEN list_contains(ctype_list, {_sql_str(k)}) THEN {_sql_str(v)}" for k, v in CONTENT_TYPES.items()
    )
    alias = _case("upper(trim(m))", MARKET_ALIASES, "upper(trim(m))")
    return f"""
CREATE TABLE sel AS
WITH base AS (
  SELECT d.*,
         {_case("d.category", CATEGORY_TO_V2)} AS dsa_category,
         {vis} AS vis_list, {ctypes} AS ctype_list, {kw} AS kw_list, {scope} AS scope_list,
         try_cast(application_date AS TIMESTAMP) AS t_applied,
         try_cast(nullif(trim(content_date), '') AS TIMESTAMP) AS t_content
  FROM dedup d
  WHERE {where_sql}
)
SELECT
  uuid AS sor_uuid,
  'dsa:' || regexp_replace(lower(trim(platform_name)), '[^a-z0-9]+', '-', 'g') AS creator_prefix,
  CASE {policy_by_kw} ELSE {_case("dsa_category", CATEGORY_TO_POLICY)} END AS policy,
{_ACTION_TYPE_SQL}
  {_case("automated_decision", AUTOMATED_DECISIONS)} AS decision_mode,
  {_case("decision_ground", DECISION_GROUNDS)} AS ground,
  CAST(CASE WHEN t_content IS NULL OR t_content > t_applied THEN t_applied ELSE t_content END AS TIMESTAMPTZ)
    AS detected_at,
  CAST(t_applied AS TIMESTAMPTZ) AS actioned_at,
  CAST(greatest(try_cast(nullif(trim(end_date_visibility_restriction), '') AS TIMESTAMP),
                try_cast(nullif(trim(end_date_monetary_restriction), '') AS TIMESTAMP),
                try_cast(nullif(trim(end_date_service_restriction), '') AS TIMESTAMP),
                try_cast(nullif(trim(end_date_account_restriction), '') AS TIMESTAMP)) AS TIMESTAMPTZ)
    AS restriction_ends_at,
  list_sort(list_distinct(list_transform(scope_list, lambda m: {alias}))) AS markets,
  dsa_category,
  category AS dsa_category_raw,
  CASE WHEN category IN ({", ".join(_sql_str(k) for k in CATEGORY_V1_TO_V2)}) THEN 'v1' ELSE 'v2' END
    AS dsa_category_schema,
  nullif(array_to_string(kw_list, '|'), '') AS dsa_keywords,
  nullif(array_to_string(vis_list, '|'), '') AS dsa_visibility,
  nullif(trim(decision_monetary), '') AS dsa_monetary,
  nullif(trim(decision_provision), '') AS dsa_provision,
  nullif(trim(decision_account), '') AS dsa_account,
  source_type AS dsa_source_type,
  platform_name,
  nullif(trim(account_type), '') AS dsa_account_type,
  CASE WHEN regexp_matches(trim(coalesce(content_language, '')), '^[A-Za-z]{{2}}$')
       THEN CASE {ctype} ELSE NULL END END AS _content_type,
  lower(trim(content_language)) AS _language,
  CAST(coalesce(t_content, t_applied) AS TIMESTAMPTZ) AS _published_at,
  nullif(trim(content_id_ean), '') AS _ean,
  coalesce(t_content > t_applied, false) AS _clamped
FROM base
ORDER BY uuid;
{_ROWS_OUT_SQL}"""


CONTRACT_EA = contract.TABLES["enforcement_actions"].column_names
EXTRA_EA = [
    "sor_uuid", "n_markets", "dsa_category", "dsa_category_raw", "dsa_category_schema", "dsa_keywords",
    "dsa_visibility", "dsa_monetary", "dsa_provision", "dsa_account", "dsa_source_type", "platform_name",
    "dsa_account_type",
]  # fmt: skip


def import_dumps(
    dumps: Sequence[str | Path],
    out: str | Path,
    *,
    platforms: Sequence[str] | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    categories: Sequence[str] | None = None,
    work_dir: str | Path | None = None,
    memory_limit: str = "1GB",
    threads: int = 2,
    log=None,
) -> ImportSummary:
    """Import Transparency Database dumps into a contract dataset at ``out``.

    Parameters
    ----------
    dumps : sequence of path
        Daily dump zips (outer zip of part zips), single part zips, CSVs or directories.
    out : path
        Dataset directory to write: ``enforcement_actions.parquet``, ``content.parquet``,
        ``creators.parquet`` and ``dataset.json``.
    platforms : sequence of str, optional
        Keep only these ``platform_name`` values (case-insensitive).
    date_from, date_to : date, optional
        Keep decisions with ``application_date`` in ``[date_from, date_to]`` (inclusive days, UTC).
    categories : sequence of str, optional
        Keep these DSA categories (v1 or v2 names, with or without ``STATEMENT_CATEGORY_``);
        v1 values are matched through their v2 equivalent.
    work_dir : path, optional
        Where parts are extracted and DuckDB spills (default: system temp).
    memory_limit, threads : DuckDB settings bounding the import's memory and CPU.
    log : callable, optional
        Receives progress lines (default: silent).

    Returns
    -------
    ImportSummary
        Rows read, duplicates dropped (first occurrence of a ``uuid`` across all parts and
        dumps wins), rows selected by the filters and rows written per market.

    Notes
    -----
    Duplicates are counted over all rows read, before filters. A decision whose
    ``territorial_scope`` lists *k* member states becomes *k* rows (``action_id = uuid:CC``):
    per-market counts add up to more than the number of decisions, and an EU-wide count must
    use ``sor_uuid`` (``govlib dsa report`` does).
    """
    log = log or (lambda _msg: None)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / "dataset.json").exists():
        raise UsageError(
            f"--out {out} exists and is not an imported DSA dataset; choose a new or empty directory"
        )
    if not dumps:
        raise UsageError("no --dump given")
    summary = ImportSummary()
    where_sql = _where(platforms, date_from, date_to, categories)
    with _tempdir(Path(work_dir) if work_dir else None) as tmp:
        stage = tmp / "stage"
        stage.mkdir()
        con = _connect(tmp, memory_limit, threads)
        _stage_dumps(dumps, tmp, stage, summary, log)
        _deduplicate(con, stage, summary, log)
        problems = _problems(con, where_sql)
        log("checked values")
        if problems:
            raise SorImportError(
                "the dump holds values the import cannot map (no data written):\n  - "
                + "\n  - ".join(problems)
                + "\nIf the Transparency Database added new values, extend the mappings in govlib/dsa/sor.py "
                "and docs/dsa.md; otherwise filter the rows out with --platform/--from/--to/--category."
            )
        con.execute(_transform_sql(where_sql))
        con.execute("DROP TABLE dedup")
        # sel is stored in uuid order; reading it in that order makes the output deterministic.
        con.execute("SET preserve_insertion_order=true")
        log("mapped")
        _count_selected(con, summary)
        if summary.rows_written == 0:
            raise SorImportError(
                f"no statements of reasons left after the filters ({summary.rows_read} rows read, "
                f"{summary.duplicates_dropped} duplicates); check --platform/--from/--to/--category"
            )
        _write_outputs(con, out, summary, platforms, date_from, date_to, categories)
        log("written")
        con.close()
    return summary


def _stage_dumps(dumps: Sequence[str | Path], tmp: Path, stage: Path, summary: ImportSummary, log) -> None:
    """Every CSV part of every dump as one Parquet file in ``stage`` (numbered in reading order),
    with the per-dump counts in ``summary``."""
    import pyarrow as pa

    file_seq = 0
    for dump in dumps:
        dump = Path(dump)
        info = _dump_info(dump)
        for name, csv_path in iter_dump_csvs(dump, tmp):
            header = read_header(csv_path)
            check_header(header, name)
            try:
                n = _stage_csv(csv_path, header, stage / f"f{file_seq:08d}.parquet", file_seq)
            except (pa.ArrowException, ValueError) as exc:
                raise SorImportError(
                    f"{name}: not a readable RFC 4180 CSV ({str(exc).splitlines()[0]}); "
                    "download the dump again or drop this part"
                ) from None
            log(f"read {name}: {n} rows")
            file_seq += 1
            info["csv_files"] += 1
            info["rows"] += n
            summary.rows_read += n
        summary.files_read += info["csv_files"]
        summary.dumps.append(info)
    if file_seq == 0:
        raise SorImportError(f"no CSV files found in {[str(d) for d in dumps]}")


def _dump_info(dump: Path) -> dict:
    """What the summary records of a dump (name, scope, day, kind, sha256); a 'light' dump is refused."""
    info = {"file": dump.name, "csv_files": 0, "rows": 0}
    m = _DUMP_NAME.search(dump.name)
    if m:
        info.update(scope=m["scope"], day=m["day"], kind=m["kind"])
        if m["kind"] == "light":
            raise SorImportError(
                f"{dump.name}: a 'light' dump has no territorial_scope, so decisions cannot be assigned "
                "to markets. Download the 'full' dump of the same day instead."
            )
    if dump.is_file():
        info["sha256"] = _sha256(dump)
    return info


def _deduplicate(con, stage: Path, summary: ImportSummary, log) -> None:
    """Table ``dedup``: the staged rows, first occurrence of each uuid only (file order = order of
    --dump and of parts inside)."""
    con.execute(
        f"CREATE TEMP VIEW catmap AS WITH {_values_sql('c', CATEGORY_TO_V2, ('raw', 'v2'))} SELECT * FROM c"
    )
    # Grouping and joining spill to disk; a window or DISTINCT ON over all rows would not.
    staged = f"read_parquet({_sql_str(str(stage / '*.parquet'))})"
    con.execute("SET preserve_insertion_order=false")
    con.execute(
        f"CREATE TABLE firsts AS SELECT uuid, min(_file::BIGINT * 4294967296 + _row) AS k FROM {staged} GROUP BY uuid"
    )
    con.execute(
        f"CREATE TABLE dedup AS SELECT s.* FROM {staged} s JOIN firsts f "
        "ON s.uuid = f.uuid AND s._file::BIGINT * 4294967296 + s._row = f.k"
    )
    con.execute("DROP TABLE firsts")
    n_unique = con.execute("SELECT count(*) FROM dedup").fetchone()[0]
    summary.duplicates_dropped = summary.rows_read - n_unique
    log(f"deduplicated: {n_unique} unique of {summary.rows_read}")


def _count_selected(con, summary: ImportSummary) -> None:
    """Rows selected and written (per market, clamped dates, without content) into ``summary``."""
    summary.rows_selected = con.execute("SELECT count(*) FROM sel").fetchone()[0]
    written, clamped, no_content = con.execute(
        "SELECT coalesce(sum(len(markets)), 0), coalesce(sum(len(markets)) FILTER (WHERE _clamped), 0), "
        "coalesce(sum(len(markets)) FILTER (WHERE _content_type IS NULL), 0) FROM sel"
    ).fetchone()
    summary.rows_written, summary.dates_clamped, summary.rows_without_content = (
        int(written),
        int(clamped),
        int(no_content),
    )
    summary.rows_by_market = {
        m: int(n)
        for m, n in con.execute(
            "SELECT market, count(*) FROM (SELECT unnest(markets) AS market FROM sel) GROUP BY 1 ORDER BY 1"
        ).fetchall()
    }


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_query(con, sql: str, path: Path, batch_rows: int = 200_000) -> None:
    """Stream a query's result, in order, into a Parquet file, one record batch at a time.

    DuckDB's own ``COPY`` buffers row groups to keep insertion order and can exceed the memory
    limit on the 28x market expansion; a streamed reader keeps one batch in memory.
    """
    import pyarrow.parquet as pq

    reader = con.sql(sql).to_arrow_reader(batch_rows)
    with pq.ParquetWriter(path, reader.schema, compression="zstd") as writer:
        for batch in reader:
            writer.write_batch(batch)


def _write_outputs(con, out: Path, summary: ImportSummary, platforms, date_from, date_to, categories) -> None:
    out.mkdir(parents=True, exist_ok=True)
    staging = out / ".importing"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    ea_cols = ", ".join(CONTRACT_EA + EXTRA_EA)
    _write_query(con, f"SELECT {ea_cols} FROM rows_out", staging / "enforcement_actions.parquet")
    _write_query(
        con,
        "SELECT content_id, creator_id, market, _content_type AS content_type, _language AS language, "
        "_published_at AS published_at, NULL::VARCHAR AS product_category, 0::BIGINT AS views, 0.0::DOUBLE AS gmv_eur, "
        "_ean AS content_id_ean, platform_name FROM rows_out WHERE content_id IS NOT NULL",
        staging / "content.parquet",
    )
    con.execute(
        "COPY (SELECT creator_prefix || ':' || market AS creator_id, market, min(detected_at) AS registered_at, "
        "'new' AS tier, 0::BIGINT AS follower_count, 'unknown' AS primary_category, "
        "min(platform_name) AS platform_name, true AS placeholder "
        "FROM (SELECT creator_prefix, platform_name, detected_at, unnest(markets) AS market FROM sel) "
        "GROUP BY creator_prefix, market ORDER BY creator_id) "
        f"TO {_sql_str(str(staging / 'creators.parquet'))} (FORMAT parquet)"
    )
    meta = {
        "source": SOURCE_DSA_TDB,
        "contract_version": contract.CONTRACT_VERSION,
        "description": "Statements of reasons from the EU DSA Transparency Database (daily full dumps)",
        "attribution": "European Commission, DSA Transparency Database, re-used under Commission Decision 2011/833/EU",
        "multi_market_rows": (
            "A decision covering several member states counts once in each of them: one row per market, "
            "action_id = '<uuid>:<market>'; sor_uuid and n_markets link the rows of one decision. "
            "Per-market counts therefore add up to more than the number of decisions."
        ),
        "dumps": summary.dumps,
        "filters": {
            "platforms": sorted(platforms) if platforms else None,
            "from": date_from.isoformat() if date_from else None,
            "to": date_to.isoformat() if date_to else None,
            "categories": sorted(categories) if categories else None,
        },
        "counts": summary.as_dict(),
        "tables": ["enforcement_actions", "content", "creators"],
        "unavailable_sections": UNAVAILABLE_SECTIONS_DSA_TDB,
        "not_available_text": NOT_AVAILABLE_TEXT,
        "placeholders": {
            "creators": "one placeholder creator per platform and market ('dsa:<platform>:<market>'); "
            "tier 'new', follower_count 0, primary_category 'unknown'",
            "enforcement_actions.severity": "'medium' (not in statements of reasons)",
            "enforcement_actions.health_points": "0 (not in statements of reasons)",
            "enforcement_actions.detected_at": "content_date (earliest possible detection); "
            "application_date when content_date is missing or later",
            "content.views": "0 (not in statements of reasons)",
            "content.gmv_eur": "0 (not in statements of reasons)",
            "content": "a content row only where content_type maps to the contract's types and "
            "content_language is given (ISO 639-1); other actions have content_id null",
        },
    }
    (staging / "dataset.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    for f in staging.iterdir():
        f.replace(out / f.name)
    staging.rmdir()


def validate_output(out: Path, memory_limit: str = "1GB", threads: int = 2) -> list:
    """Problems found by ``govlib.data.validate.validate_dataset``, run in a DuckDB bounded like the import.

    The check's engine gets the import's ``memory_limit`` and a spill directory, so checking
    a large import does not take more memory than the import itself.
    """
    import ibis

    from govlib.data.dataset import Dataset
    from govlib.data.validate import validate_dataset

    with _tempdir(None) as tmp:
        con = ibis.duckdb.connect()
        for setting in (f"memory_limit={_sql_str(memory_limit)}", f"threads={int(threads)}", "TimeZone='UTC'",
                        f"temp_directory={_sql_str(str(tmp))}", "enable_progress_bar=false"):  # fmt: skip
            con.raw_sql(f"SET {setting}")
        try:
            return list(validate_dataset(Dataset(out, "duckdb", check=False, con=con)))
        finally:
            con.disconnect()


# --------------------------------------------------------------------------- CLI


def parse_day(s: str) -> date:
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise UsageError(f"date {s!r} is not of the form YYYY-MM-DD") from None
