"""The review feedback loop: export a queue for reviewers, import their labels into ``review_labels``.

::

    govlib queue export --market DE --month 2026-10 [--data DIR] [--out DIR] [--top N]
                        [--alarm-items N] [--qa-sample N]
    govlib labels import FILE [--data DIR]

**Export** (:func:`export_queue`) writes ``review_queue_<MARKET>_<YYYY-MM>.csv`` and ``.xlsx``
(same rows) with, per content item to review:

- ``source`` ``investigation`` for targeted items: the content of the month's top-risk
  creators (:mod:`govlib.metrics.risk`) and the content behind the month's emerging-abuse alarms
  (:mod:`govlib.metrics.trends`); ``qa_sample`` for an optional uniform random sample of the month's
  content (``--qa-sample N``), the only rows that enter signal evaluation's sample
  (:mod:`govlib.metrics.signals`): targeted rows are not representative;
- the keys needed to import: ``queue_item_id``, ``exported_at``, ``market``, ``content_id``;
- context: ``reason``, ``rank``, ``creator`` (a keyed pseudonym, :mod:`govlib.privacy`: the queue
  goes to reviewers of other teams), ``content_type``, ``language``, ``published_at``, ``views``,
  ``signal_score``, ``suggested_policy``;
- for the reviewer: ``is_violating`` (empty; ``yes``/``no``), ``policy`` (pre-filled with the
  suggestion; the policy broken when violating), ``reviewer_note``, ``reviewed_at`` (optional
  date or date-time, in the market's time zone; empty = the time of import).

``content_id`` stays in clear: a reviewer must open the item to label it, and the import keys
on it. The creator is pseudonymised, so the queue does not list who is under review.

**Import** (:func:`import_labels`) validates a filled queue (CSV or XLSX) row by row and appends
the labelled rows to ``review_labels``:

- a row whose ``is_violating`` is empty is *not reviewed* and skipped silently;
- a bad row (unknown market, content not in the dataset, unreadable verdict, unknown policy,
  source, a date in the future, a duplicate of an earlier line) is rejected with its line number
  and reason; the valid rows are still imported;
- **idempotent**: a row is skipped when ``review_labels`` already holds a label of the same
  content, market, source, verdict and policy reviewed at or after the queue's ``exported_at``
  (that is this queue's label, imported before), or any label of the item at the same
  ``reviewed_at``. Importing the same file twice adds nothing; a corrected verdict is added as
  a newer label (the latest label of an item is the one used);
- **nothing stored is lost**: the table keeps its layout (one Parquet file: rewritten to a
  temporary file and renamed atomically; a Parquet directory: a new part file written and
  renamed in; CSV: rewritten and renamed); an import lock serialises concurrent imports.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from govlib import config, contract
from govlib.errors import GovlibError, UsageError
from govlib.io import atomic_path, file_lock, write_bytes_atomic, write_text_atomic
from govlib.privacy import neutralise_formula, neutralise_formulas, restore_formula
from govlib.timeutil import local_month, month_bounds, parse_month, shift_month

__all__ = [
    "QUEUE_COLUMNS",
    "QUEUE_SOURCES",
    "REVIEWER_COLUMNS",
    "FeedbackError",
    "ImportResult",
    "build_queue",
    "export_queue",
    "queue_frame",
    "write_queue",
    "import_labels",
    "read_queue",
]

QUEUE_SOURCES = ("qa_sample", "investigation", "audit_sample")
REVIEWER_COLUMNS = ["is_violating", "policy", "reviewer_note", "reviewed_at"]
QUEUE_COLUMNS = [
    "queue_item_id",
    "exported_at",
    "market",
    "month",
    "source",
    "rank",
    "reason",
    "content_id",
    "creator",
    "content_type",
    "language",
    "published_at",
    "views",
    "signal_score",
    "suggested_policy",
    *REVIEWER_COLUMNS,
]
IMPORT_REQUIRED = ["exported_at", "market", "content_id", "source", "is_violating", "policy"]
TRUE_WORDS = ("yes", "y", "true", "t", "1", "violating")
FALSE_WORDS = ("no", "n", "false", "f", "0", "not violating", "compliant")
MAX_LISTED = 20  # rejected rows listed in the CLI message
FORMULA_KEY = "\0formulas"  # read_queue: formula cells of an .xlsx row (not a column a sheet can have)


class FeedbackError(GovlibError):
    """A queue cannot be exported, or a filled queue cannot be read or imported."""


# =============================================================================================
# import
# =============================================================================================


@dataclass
class ImportResult:
    """What :func:`import_labels` did: rows ``added``, ``duplicates`` skipped (already stored),
    ``unreviewed`` (no verdict), ``rejected`` as ``(line, reason)``, and the table path written."""

    file: str
    added: int = 0
    duplicates: int = 0
    unreviewed: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    table_path: str = ""

    def summary(self) -> str:
        text = (
            f"{self.file}: {self.added} label(s) added to review_labels, {self.duplicates} already stored, "
            f"{self.unreviewed} row(s) not reviewed yet, {len(self.rejected)} rejected"
        )
        return text


def _cell_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and math.isnan(v):
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def read_queue(path: str | Path) -> tuple[list[int], list[dict[str, str]]]:
    """Rows of a filled queue (CSV or XLSX) as text, with the line number of each row.

    Line numbers are those a reviewer sees: the CSV line (header = line 1) or the sheet row.
    The ``'`` that :func:`export_queue` puts before text a spreadsheet would take for a formula
    is removed (:func:`govlib.privacy.restore_formula`), so ids and policies come back exactly.
    Cells of an .xlsx are read as stored: a formula is not evaluated; a row holding one gets
    the key :data:`FORMULA_KEY` naming the cells, and :func:`import_labels` rejects it.

    Raises
    ------
    FeedbackError
        The file is missing, of another kind, unreadable, or lacks a required column.
    """
    p = Path(path)
    if not p.is_file():
        raise FeedbackError(f"queue file {p} does not exist")
    suffix = p.suffix.lower()
    lines: list[int] = []
    rows: list[dict[str, str]] = []
    if suffix == ".csv":
        try:
            with open(p, newline="", encoding="utf-8-sig") as fh:
                reader = csv.reader(fh)
                header = [h.strip() for h in next(reader, [])]
                start = reader.line_num + 1
                for rec in reader:
                    if not any(c.strip() for c in rec):
                        start = reader.line_num + 1
                        continue
                    lines.append(start)
                    rows.append(
                        {
                            h: (restore_formula(rec[i].strip()) if i < len(rec) else "")
                            for i, h in enumerate(header)
                            if h
                        }
                    )
                    start = reader.line_num + 1
        except UnicodeDecodeError:
            raise FeedbackError(
                f"queue file {p} is not UTF-8 text; save it as CSV UTF-8 or use the .xlsx"
            ) from None
        except csv.Error as exc:
            raise FeedbackError(f"queue file {p} is not readable CSV ({exc})") from None
    elif suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            # formulas are read as formulas (not data_only): a label must be a typed value, never a formula
            wb = load_workbook(p, read_only=True, data_only=False)
        except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
            raise FeedbackError(f"queue file {p} is not a readable .xlsx workbook ({exc})") from None
        ws = wb["queue"] if "queue" in wb.sheetnames else wb.worksheets[0]
        it = ws.iter_rows()
        header = [_cell_text(getattr(c, "value", None)) for c in next(it, ())]
        for n, rec in enumerate(it, start=2):
            row = _xlsx_row(rec, header)
            if row is not None:
                lines.append(n)
                rows.append(row)
        wb.close()
    else:
        raise FeedbackError(f"queue file {p} must be .csv or .xlsx (as written by 'govlib queue export')")
    missing = [c for c in IMPORT_REQUIRED if c not in header]
    if missing:
        raise FeedbackError(
            f"queue file {p} lacks column(s) {', '.join(missing)}; it has {', '.join(h for h in header if h) or 'none'}. "
            "Fill in the file written by 'govlib queue export' without removing or renaming columns."
        )
    return lines, rows


def _xlsx_row(cells, header: list[str]) -> dict[str, str] | None:
    """A sheet row as text (None when empty); formula cells are named under :data:`FORMULA_KEY`."""
    vals, formulas = [], []
    for i, c in enumerate(cells):
        v = getattr(c, "value", None)
        if getattr(c, "data_type", None) == "f":
            name = header[i] if i < len(header) and header[i] else "no column"
            formulas.append(f"{c.coordinate} ({name}) holds the formula {str(v)[:40]!r}")
            v = None
        vals.append(restore_formula(_cell_text(v)))
    if not any(vals) and not formulas:
        return None
    row = {h: (vals[i] if i < len(vals) else "") for i, h in enumerate(header) if h}
    if formulas:
        row[FORMULA_KEY] = "; ".join(formulas)
    return row


def _parse_verdict(text: str) -> bool | None:
    t = text.strip().lower()
    if t in TRUE_WORDS:
        return True
    if t in FALSE_WORDS:
        return False
    raise ValueError(f"is_violating {text!r} is not yes or no")


def _parse_time(text: str, tz: str, what: str) -> pd.Timestamp:
    try:
        t = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        raise ValueError(
            f"{what} {text!r} is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DD HH:MM)"
        ) from None
    if t is pd.NaT:
        raise ValueError(f"{what} {text!r} is not a date")
    # a reviewer's date without zone is local time of the market
    return (t.tz_localize(tz) if t.tzinfo is None else t).tz_convert("UTC")


def _policy_ok(policy: str, market: str, local_cache: dict) -> bool:
    if policy in contract.POLICY_DSA_CATEGORY:
        return True
    if market not in local_cache:
        from govlib.params import load_market

        local_cache[market] = set(load_market(market).local_policies)
    return policy in local_cache[market]


def import_labels(
    path: str | Path, data_dir: str | Path | None = None, *, now: pd.Timestamp | None = None
) -> ImportResult:
    """Validate a filled review queue and append its labels to ``review_labels`` of ``data_dir``.

    Parameters
    ----------
    path : path
        Filled queue, ``.csv`` or ``.xlsx`` (see the module docstring for the columns).
    data_dir : path, optional
        Dataset directory (default ``config.DATA_DIR``).
    now : Timestamp, optional
        Time of import (UTC), used for rows without ``reviewed_at`` and to reject future
        dates; default the current time (whole seconds).

    Returns
    -------
    ImportResult
        Counts, rejected rows with line numbers and reasons, the table written.

    Raises
    ------
    FeedbackError
        The file cannot be read, lacks columns, or the dataset cannot be written.
    """
    from govlib.data.load import open_dataset
    from govlib.params import list_markets

    data = Path(data_dir or config.DATA_DIR)
    now = pd.Timestamp(now if now is not None else datetime.now(UTC)).floor("s")
    now = now.tz_localize("UTC") if now.tzinfo is None else now.tz_convert("UTC")
    lines, rows = read_queue(path)
    result = ImportResult(str(path))
    known = set(list_markets())
    open_dataset(data)  # a missing or malformed dataset fails before any row is checked

    # 1. row checks that need no data
    cand = _checked_rows(lines, rows, known, now, result)

    # 2. checks against the dataset, then write under the lock
    with file_lock(data / ".review_labels.lock"):
        ds = open_dataset(data)  # opened under the lock: sees the labels of any import before this one
        if cand:
            new = _new_labels(cand, ds, data, result)
            if new:
                frame = pd.DataFrame(new)[contract.TABLES["review_labels"].column_names]
                result.table_path = str(_append_labels(ds, data, frame))
                result.added = len(frame)
    result.rejected.sort()
    return result


def _checked_rows(
    lines: list[int], rows: list[dict], known: set, now: pd.Timestamp, result: ImportResult
) -> list[dict]:
    """The reviewed rows that pass every check needing no data; the others are counted in ``result``."""
    cand: list[dict] = []
    seen: dict[tuple, int] = {}
    local_cache: dict = {}
    for line, row in zip(lines, rows):
        if row.get(FORMULA_KEY):
            result.rejected.append((line, f"cell {row[FORMULA_KEY]}, not a value; type the value instead"))
            continue
        if not row.get("is_violating", ""):
            result.unreviewed += 1
            continue
        try:
            label = _check_row(row, known, now, local_cache)
            key = (label["market"], label["content_id"], label["source"])
            if key in seen:
                raise ValueError(f"duplicate of line {seen[key]} (same content, market and source)")
            seen[key] = line
        except ValueError as exc:
            result.rejected.append((line, str(exc)))
            continue
        cand.append({"line": line, **label})
    return cand


def _check_row(row: dict, known: set, now: pd.Timestamp, local_cache: dict) -> dict:
    """One reviewed row as a label (``content_id, market, policy, is_violating, reviewed_at,
    source, exported_at``); ValueError with the reason when a value is unusable."""
    from govlib.params import market_timezone

    market = row.get("market", "")
    if market not in known:
        raise ValueError(f"market {market!r} is not a known market ({', '.join(sorted(known))})")
    tz = market_timezone(market)
    content_id = row.get("content_id", "")
    if not content_id:
        raise ValueError("content_id is empty")
    source = row.get("source", "")
    if source not in QUEUE_SOURCES:
        raise ValueError(
            f"source {source!r} must be one of {', '.join(QUEUE_SOURCES)} (keep the exported value)"
        )
    verdict = _parse_verdict(row.get("is_violating", ""))
    policy = row.get("policy", "") or None
    if not verdict:
        policy = None  # a policy is only recorded for a violation
    elif policy is None:
        raise ValueError("is_violating is yes but policy is empty; give the policy the content breaks")
    elif not _policy_ok(policy, market, local_cache):
        raise ValueError(
            f"policy {policy!r} is neither in the policy taxonomy nor a local policy of {market}"
        )
    exported = (
        _parse_time(row.get("exported_at", ""), "UTC", "exported_at") if row.get("exported_at") else None
    )
    if exported is None:
        raise ValueError("exported_at is empty (keep the exported value)")
    rv = row.get("reviewed_at", "")
    reviewed = _parse_time(rv, tz, "reviewed_at") if rv else now
    if reviewed > now:
        raise ValueError(f"reviewed_at {rv} is in the future")
    return {
        "content_id": content_id,
        "market": market,
        "policy": policy,
        "is_violating": bool(verdict),
        "reviewed_at": reviewed,
        "source": source,
        "exported_at": exported,
    }


def _new_labels(cand: list[dict], ds, data: Path, result: ImportResult) -> list[dict]:
    """The candidate labels to append: content of the dataset, reviewed after publication, not stored yet.

    Rejected rows and duplicates of stored labels are counted in ``result``.
    """
    ids = sorted({c["content_id"] for c in cand})
    markets = sorted({c["market"] for c in cand})
    content = ds.load(
        "content",
        market=markets,
        columns=["content_id", "market", "published_at"],
        where=lambda t: t.content_id.isin(ids),
        ordered=False,
    )
    published = {
        (m, c): p for m, c, p in zip(content["market"], content["content_id"], content["published_at"])
    }
    by_item = _stored_labels(ds, markets, ids)
    new = []
    for c in cand:
        pub = published.get((c["market"], c["content_id"]))
        if pub is None:
            result.rejected.append(
                (
                    c["line"],
                    (f"content_id {c['content_id']!r} is not content of market {c['market']} in {data}"),
                )
            )
            continue
        if c["reviewed_at"] < pub:
            result.rejected.append(
                (c["line"], (f"reviewed_at {c['reviewed_at']} is before the content was published ({pub})"))
            )
            continue
        dup, clash = False, False
        for src, verdict, pol, at in by_item.get((c["market"], c["content_id"]), []):
            if at == c["reviewed_at"]:
                same = (src, verdict, pol) == (c["source"], c["is_violating"], c["policy"])
                dup, clash = dup or same, clash or not same
            elif (src, verdict, pol) == (c["source"], c["is_violating"], c["policy"]) and at >= c[
                "exported_at"
            ]:
                dup = True
        if dup:
            result.duplicates += 1
        elif clash:
            result.rejected.append(
                (
                    c["line"],
                    (
                        f"a different label of this content is already stored at "
                        f"reviewed_at {c['reviewed_at']}; give another reviewed_at"
                    ),
                )
            )
        else:
            new.append(c)
    return new


def _stored_labels(ds, markets: list[str], ids: list[str]) -> dict[tuple, list]:
    """Stored labels of these content items: ``(market, content_id) -> [(source, verdict, policy, reviewed_at)]``."""
    stored = (
        ds.load("review_labels", market=markets, where=lambda t: t.content_id.isin(ids), ordered=False)
        if ds.has("review_labels")
        else None
    )
    by_item: dict[tuple, list] = {}
    if stored is not None:
        for r in stored.itertuples(index=False):
            by_item.setdefault((r.market, r.content_id), []).append(
                (
                    r.source,
                    bool(r.is_violating),
                    r.policy if isinstance(r.policy, str) else None,
                    pd.Timestamp(r.reviewed_at),
                )
            )
    return by_item


# ---------------------------------------------------------------------------------------------
# writing review_labels in its layout


def _arrow_new(frame: pd.DataFrame, schema):
    import pyarrow as pa

    cols = []
    for f in schema:
        if f.name in frame.columns:
            s = frame[f.name]
            if pa.types.is_timestamp(f.type):
                arr = pa.array(
                    pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]"),
                    contract.arrow_type("timestamp"),
                )
                arr = arr.cast(f.type)
            else:
                arr = pa.array(s.astype(object).where(s.notna(), None).tolist(), type=f.type)
        else:
            arr = pa.nulls(len(frame), type=f.type)
        cols.append(arr)
    return pa.Table.from_arrays(cols, schema=schema)


def _contract_schema():
    return contract.arrow_schema("review_labels")


def _write_parquet_atomic(table, dest: Path) -> None:
    import pyarrow.parquet as pq

    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def _append_labels(ds, data: Path, frame: pd.DataFrame) -> Path:
    """Append ``frame`` (contract columns) to review_labels, keeping the stored layout."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    src = ds.sources.get("review_labels")
    frame = frame.sort_values(["market", "content_id", "reviewed_at"], kind="mergesort")
    if src is None:
        dest = data / "review_labels.parquet"
        _write_parquet_atomic(_arrow_new(frame, _contract_schema()), dest)
        return dest
    if src.kind == "parquet":
        old = pq.read_table(src.path)
        new = _arrow_new(frame, old.schema)
        _write_parquet_atomic(pa.concat_tables([old, new]), src.path)
        return src.path
    if src.kind == "parquet_dir":
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).values.tobytes()).hexdigest()[
            :12
        ]
        written = None
        parts = src.partition_columns
        groups = frame.groupby(list(parts), sort=True) if parts else [((), frame)]
        for key, g in groups:
            key = key if isinstance(key, tuple) else (key,)
            folder = src.path.joinpath(*[f"{c}={v}" for c, v in zip(parts, key)])
            existing = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
            schema = pq.read_schema(existing[0]) if existing else pq.read_schema(src.files[0])
            schema = pa.schema([f for f in schema if f.name not in parts]) if parts else schema
            folder.mkdir(parents=True, exist_ok=True)
            written = folder / f"part-import-{digest}.parquet"
            _write_parquet_atomic(_arrow_new(g.drop(columns=list(parts)), schema), written)
        return written or src.path
    # CSV: rewrite with the new rows appended, in the stored column order
    with open(src.path, newline="", encoding="utf-8") as fh:
        old_text = fh.read()
        header = next(csv.reader(io.StringIO(old_text)))
    out = frame.copy()
    out["reviewed_at"] = pd.to_datetime(out["reviewed_at"], utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S+00:00")
    out["is_violating"] = out["is_violating"].map({True: "true", False: "false"})
    for h in header:
        if h not in out.columns:
            out[h] = ""
    buf = io.StringIO()
    out[header].to_csv(buf, index=False, header=False, lineterminator="\n")
    text = old_text if old_text.endswith("\n") or not old_text else old_text + "\n"
    write_text_atomic(src.path, text + buf.getvalue())
    return src.path


# =============================================================================================
# export
# =============================================================================================


def _local_date(ts: pd.Series, tz: str) -> pd.Series:
    return pd.to_datetime(ts, utc=True).dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()


def _month_content(tables: dict, market: str, month: str, tz: str) -> pd.DataFrame:
    content = tables["content"]
    start, end = month_bounds(month, tz)
    pub = pd.to_datetime(content["published_at"], utc=True)
    m = ((content["market"] == market) & (pub >= start) & (pub < end)).to_numpy(dtype=bool, na_value=False)
    return content.loc[m]


def _alarm_items(tables: dict, market: str, month: str, params, per_alarm: int) -> list[dict]:
    """Content actioned in the weeks and series of the month's emerging-abuse alarms."""
    from govlib.metrics import trends

    tz = params.timezone
    actions, content = tables["enforcement_actions"], tables["content"]
    series = trends.build_weekly_series(actions, content, market, tz, end=f"{shift_month(month, 1)}-01")
    alerts = trends.alerts_for_month(series, market, month, params.alerts)
    if alerts.empty:
        return []
    acts = actions.loc[
        (actions["market"] == market).to_numpy(dtype=bool, na_value=False)
        & actions["content_id"].notna().to_numpy()
    ]
    acts = acts.merge(content[["content_id", "content_type", "views"]], on="content_id", how="inner")
    acts = acts.assign(_day=_local_date(acts["actioned_at"], tz))
    items = []
    # one entry per alarmed (series, week); an alarm found by several methods is listed once
    for rank, a in enumerate(
        alerts.drop_duplicates(["policy", "content_type", "week_start"]).itertuples(), start=1
    ):
        week = pd.Timestamp(a.week_start)
        sel = acts[
            (acts["policy"] == a.policy)
            & (acts["_day"] >= week)
            & (acts["_day"] < week + pd.Timedelta(days=7))
        ]
        if a.content_type != trends.ALL_TYPES:
            sel = sel[sel["content_type"] == a.content_type]
        sel = sel.sort_values(["views", "content_id"], ascending=[False, True], kind="mergesort")
        sel = sel.drop_duplicates("content_id").head(per_alarm)
        reason = (
            f"emerging-abuse alarm {rank}: {a.policy} / {a.content_type}, week of {a.week_start}: "
            f"{int(a.observed)} actions against {float(a.expected):.1f} expected ({a.method})"
        )
        for r in sel.itertuples():
            items.append(
                {
                    "source": "investigation",
                    "rank": rank,
                    "reason": reason,
                    "content_id": r.content_id,
                    "suggested_policy": a.policy,
                }
            )
    return items


def _risk_items(tables: dict, market: str, month: str, params, top: int, per_creator: int) -> list[dict]:
    """The month's content of the top-``top`` creators of the risk watchlist (most viewed first).

    The suggested policy is the creator's most frequent policy in the risk window (ties:
    alphabetical); none when the creator was not acted on.
    """
    from govlib.metrics import risk

    actions, content = tables["enforcement_actions"], tables["content"]
    scores = risk.score_creator_risk(
        actions, content, market, month, params.timezone, severity_weights=params.severity_weights
    )
    if scores.empty:
        return []
    watch = risk.build_watchlist(scores, top_n=top)  # raw ids here; the queue shows pseudonyms only
    months = int(scores.attrs.get("months", 3))
    start, _ = month_bounds(shift_month(month, -(months - 1)), params.timezone)
    _, end = month_bounds(month, params.timezone)
    acted = pd.to_datetime(actions["actioned_at"], utc=True)
    recent = actions.loc[
        ((actions["market"] == market) & (acted >= start) & (acted < end)).to_numpy(
            dtype=bool, na_value=False
        )
    ]
    top_policy = (
        recent.groupby(["creator_id", "policy"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["creator_id", "n", "policy"], ascending=[True, False, True], kind="mergesort")
        .drop_duplicates("creator_id")
        .set_index("creator_id")["policy"]
    )
    mine = _month_content(tables, market, month, params.timezone)
    items = []
    for w in watch.itertuples():
        cid = str(w.creator)
        sel = (
            mine[mine["creator_id"] == cid]
            .sort_values(["views", "content_id"], ascending=[False, True], kind="mergesort")
            .head(per_creator)
        )
        reason = (
            f"risk watchlist rank {int(w.rank)}: {w.reasons}"
            if w.reasons
            else f"risk watchlist rank {int(w.rank)}"
        )
        for r in sel.itertuples():
            items.append(
                {
                    "source": "investigation",
                    "rank": int(w.rank),
                    "reason": reason,
                    "content_id": r.content_id,
                    "suggested_policy": top_policy.get(cid),
                }
            )
    return items


def _qa_items(tables: dict, market: str, month: str, tz: str, n: int) -> list[dict]:
    """A uniform random sample of the month's content, seeded by market and month (reproducible)."""
    if n <= 0:
        return []
    content = _month_content(tables, market, month, tz).sort_values("content_id", kind="mergesort")
    seed = int.from_bytes(hashlib.sha256(f"govlib-qa|{market}|{month}".encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    k = min(n, len(content))
    picked = np.sort(rng.choice(len(content), size=k, replace=False)) if k else np.array([], dtype=int)
    return [
        {
            "source": "qa_sample",
            "rank": i + 1,
            "reason": "random QA sample (uniform over the month's content)",
            "content_id": cid,
            "suggested_policy": None,
        }
        for i, cid in enumerate(content["content_id"].to_numpy()[picked])
    ]


def build_queue(
    tables: dict,
    market: str,
    month: str,
    params,
    *,
    key: bytes | str,
    exported_at: pd.Timestamp,
    top: int = 20,
    per_creator: int = 3,
    alarm_items: int = 10,
    qa_sample: int = 0,
) -> pd.DataFrame:
    """The review queue of a market-month as a DataFrame with :data:`QUEUE_COLUMNS`.

    Parameters
    ----------
    tables : dict of DataFrame
        The market's window (:func:`govlib.data.load.load_market_window`): needs
        ``enforcement_actions``, ``content`` and ``creators``; ``signal_scores`` is optional.
    market, month : str
    params : MarketParams
    key : bytes or str
        Pseudonym key (:func:`govlib.privacy.load_pseudonym_key`).
    exported_at : Timestamp
        Stamp written on every row; the import's idempotency rule compares with it.
    top, per_creator : int
        Creators of the risk watchlist, and content items per creator (``top = 0``: none).
    alarm_items : int
        Content items per emerging-abuse alarm (0: none).
    qa_sample : int
        Size of the random QA sample (0: none).

    Returns
    -------
    DataFrame
        Rows ordered: watchlist items, alarm items, QA sample; the reviewer columns empty
        (``policy`` pre-filled with ``suggested_policy``).
    """
    parse_month(month)
    tz = params.timezone
    items: list[dict] = []
    if top > 0:
        items += _risk_items(tables, market, month, params, top, per_creator)
    if alarm_items > 0:
        items += _alarm_items(tables, market, month, params, alarm_items)
    items += _qa_items(tables, market, month, tz, qa_sample)
    return queue_frame(items, tables, market, month, params, key=key, exported_at=exported_at)


def queue_frame(
    items: list[dict], tables: dict, market: str, month: str, params, *, key: bytes | str, exported_at
) -> pd.DataFrame:
    """Queue rows (:data:`QUEUE_COLUMNS`) for ``items``: dicts of ``source``, ``rank``, ``reason``,
    ``content_id``, ``suggested_policy``; the content's context is joined from ``tables``, the
    creator pseudonymised with ``key``, the reviewer columns left empty. Used by
    :func:`build_queue` and the audit sample (:mod:`govlib.analyses.audit`)."""
    from govlib.privacy import pseudonymise

    tz = params.timezone
    q = pd.DataFrame(items, columns=["source", "rank", "reason", "content_id", "suggested_policy"])
    # an item is listed once per source; an audit sample lists it once per policy stratum it was drawn in
    per_policy = q["suggested_policy"].where(q["source"] == "audit_sample", "").fillna("")
    q = q[~q.assign(_p=per_policy).duplicated(["source", "content_id", "_p"])].reset_index(drop=True)
    content = tables["content"].drop_duplicates("content_id")
    q = q.merge(
        content[["content_id", "creator_id", "content_type", "language", "published_at", "views"]],
        on="content_id",
        how="left",
    )
    scores = tables.get("signal_scores")
    if scores is not None and len(scores):
        latest = scores[scores["market"] == market].sort_values(["content_id", "scored_at"], kind="mergesort")
        latest = latest.drop_duplicates("content_id", keep="last")[["content_id", "score"]]
        q = q.merge(latest.rename(columns={"score": "signal_score"}), on="content_id", how="left")
    else:
        q["signal_score"] = np.nan
    stamp = pd.Timestamp(exported_at)
    stamp = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).floor("s")
    q["queue_item_id"] = [f"{market}-{month}-{i + 1:04d}" for i in range(len(q))]
    q["exported_at"] = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    q["market"], q["month"] = market, month
    q["creator"] = pseudonymise(q["creator_id"].astype(object), key) if len(q) else []
    q["published_at"] = (
        pd.to_datetime(q["published_at"], utc=True).dt.tz_convert(tz).dt.strftime("%Y-%m-%d %H:%M")
        if len(q)
        else []
    )
    q["views"] = q["views"].astype("Int64") if len(q) else []
    q["signal_score"] = q["signal_score"].round(4)
    q["is_violating"] = ""
    q["policy"] = q["suggested_policy"].fillna("") if len(q) else []
    q["suggested_policy"] = q["suggested_policy"].fillna("") if len(q) else []
    q["reviewer_note"] = ""
    q["reviewed_at"] = ""
    return q[QUEUE_COLUMNS]


_INSTRUCTIONS = [
    "How to fill this review queue",
    "",
    "is_violating: yes or no after reviewing the content (leave empty if you did not review it).",
    "policy: the policy broken when violating (pre-filled with the suggestion; change it if another applies).",
    "reviewer_note: free text, optional (not imported into review_labels).",
    "reviewed_at: optional date (YYYY-MM-DD) or date-time in the market's time zone; empty = time of import.",
    "Do not edit the other columns: queue_item_id, exported_at, market, content_id and source are the import keys.",
    "creator is a pseudonym: the queue carries no creator identities.",
    "Import the filled file with: govlib labels import FILE",
]


def _fixed_zip(path: Path, when: datetime) -> None:
    """Rewrite an .xlsx zip with fixed entry dates and order, so equal queues are equal bytes."""
    import re

    with zipfile.ZipFile(path) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    # openpyxl stamps dcterms:modified with the time of saving; use the export's stamp
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    entries = [
        (
            n,
            re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + iso + rb"\g<2>", d)
            if n == "docProps/core.xml"
            else d,
        )
        for n, d in entries
    ]
    dt = (max(when.year, 1980),) + tuple(when.timetuple())[1:6]
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=dt)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zout.writestr(info, data)


def _put_row(ws, row: int, values: list) -> None:
    """Write a sheet row; text cells are stored as text (type ``s``), never as formulas."""
    for j, v in enumerate(values, start=1):
        if v is None:
            continue
        cell = ws.cell(row=row, column=j, value=neutralise_formula(v))
        if isinstance(v, str):
            cell.data_type = "s"  # openpyxl would store text beginning with "=" as a live formula


def _write_xlsx(q: pd.DataFrame, path: Path, stamp: pd.Timestamp) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "queue"
    _put_row(ws, 1, list(q.columns))
    for i, row in enumerate(q.itertuples(index=False), start=2):
        _put_row(
            ws,
            i,
            [
                None
                if (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or v == "")
                else (int(v) if isinstance(v, (np.integer,)) else v)
                for v in row
            ],
        )
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    for j, name in enumerate(q.columns, start=1):
        cell = ws.cell(row=1, column=j)
        cell.font = bold
        if name in REVIEWER_COLUMNS:
            cell.fill = fill
        ws.column_dimensions[cell.column_letter].width = max(12, min(60, len(name) + 4))
    ws.freeze_panes = "A2"
    col = q.columns.get_loc("is_violating") + 1
    letter = ws.cell(row=1, column=col).column_letter
    dv = DataValidation(type="list", formula1='"yes,no"', allow_blank=True)
    dv.add(f"{letter}2:{letter}{max(len(q) + 1, 2)}")
    ws.add_data_validation(dv)
    help_ws = wb.create_sheet("instructions")
    for i, line in enumerate(_INSTRUCTIONS, start=1):
        _put_row(help_ws, i, [line])
    naive = stamp.tz_convert("UTC").tz_localize(None).to_pydatetime()
    wb.properties.created = naive
    wb.properties.modified = naive
    wb.properties.creator = "govlib"
    wb.properties.lastModifiedBy = "govlib"
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _fixed_zip(tmp, naive)


def export_stamp(value: str | None) -> pd.Timestamp:
    """``--exported-at``, else ``SOURCE_DATE_EPOCH`` (reproducible builds), else now."""
    if value:
        try:
            t = pd.Timestamp(value)
        except ValueError:
            raise UsageError(
                f"--exported-at {value!r} is not a date-time such as 2026-11-02T09:00:00Z"
            ) from None
        return (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")).floor("s")
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return pd.Timestamp(int(epoch), unit="s", tz="UTC")
    return pd.Timestamp(datetime.now(UTC)).floor("s")


def export_queue(
    market: str,
    month: str,
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    *,
    top: int = 20,
    per_creator: int = 3,
    alarm_items: int = 10,
    qa_sample: int = 0,
    exported_at: str | pd.Timestamp | None = None,
) -> tuple[Path, Path]:
    """Write the review queue of ``market`` and ``month`` as CSV and XLSX; return both paths.

    Files: ``<out_dir>/review_queue_<MARKET>_<YYYY-MM>.csv`` and ``.xlsx`` (default ``out_dir``:
    ``<reports>/queues``, outside the monthly report folders). Same data, options and
    ``exported_at`` give byte-identical files. See :func:`build_queue` for the rows.
    """
    from govlib.data.load import load_market_window, open_dataset
    from govlib.params import load_market
    from govlib.privacy import load_pseudonym_key

    parse_month(month, allow_future=False)  # as 'govlib run': a future month has no data to review
    params = load_market(market)
    data = Path(data_dir or config.DATA_DIR)
    out = Path(out_dir or Path(config.REPORTS_DIR) / "queues")
    for name, v in (
        ("--top", top),
        ("--per-creator", per_creator),
        ("--alarm-items", alarm_items),
        ("--qa-sample", qa_sample),
    ):
        if int(v) < 0:
            raise UsageError(f"{name} must be 0 or more, got {v}")
    key = load_pseudonym_key(data)
    stamp = exported_at if isinstance(exported_at, pd.Timestamp) else export_stamp(exported_at)
    ds = open_dataset(data)
    check_month_has_data(ds, market, month, params.timezone)
    tables = load_market_window(ds, market, month, params.timezone, months_back=13)
    q = build_queue(
        tables,
        market,
        month,
        params,
        key=key,
        exported_at=stamp,
        top=top,
        per_creator=per_creator,
        alarm_items=alarm_items,
        qa_sample=qa_sample,
    )
    paths = write_queue(q, out / f"review_queue_{market}_{month}", stamp)
    return paths["csv"], paths["xlsx"]


def write_queue(q: pd.DataFrame, base: Path, stamp: pd.Timestamp, formats=("csv", "xlsx")) -> dict[str, Path]:
    """Write queue rows to ``base`` + ``.csv`` and/or ``.xlsx`` (atomic, formula-neutralised); return the paths."""
    base.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    if "csv" in formats:
        paths["csv"] = base.with_suffix(".csv")
        # ids, policies and reasons come from data: no text cell may start a formula in a spreadsheet
        text = neutralise_formulas(q).to_csv(index=False, lineterminator="\n")
        write_bytes_atomic(paths["csv"], text.encode("utf-8"))
    if "xlsx" in formats:
        paths["xlsx"] = base.with_suffix(".xlsx")
        _write_xlsx(q, paths["xlsx"], stamp)
    return paths


def check_month_has_data(ds, market: str, month: str, tz: str) -> None:
    """Refuse (:class:`UsageError`) a month after the market's last month of content and actions."""
    last = None
    for table, col in (("content", "published_at"), ("enforcement_actions", "actioned_at")):
        value = ds.table(table, market=market)[col].max().to_pandas()
        if value is not None and not pd.isna(value):
            last = max(last, pd.Timestamp(value)) if last is not None else pd.Timestamp(value)
    if last is None:
        raise UsageError(f"{market} has no content or enforcement actions in {ds.path}; nothing to review")
    last_month = local_month(pd.Series([last]), tz).iloc[0]
    if month > last_month:
        raise UsageError(
            f"month {month} is after the last month of {market} data in {ds.path} ({last_month}); "
            f"export a queue of {last_month} or earlier"
        )


# =============================================================================================
# CLI
# =============================================================================================
