"""Small statement archives in the layout of ``govlib dsa sync`` (/docs/dsa.md, "archive"), for tests.

* :func:`real_statements` — the 200 real rows of ``tests/fixtures/dsa/sor_rows`` in the archive's
  columns (lists parsed, ``EL`` -> ``GR``, v1 categories mapped to v2, ``Yes``/``No`` as bool);
* :func:`redated` — the same rows moved, whole days at a time, into consecutive months (so a
  multi-month range holds real rows; durations between their dates are unchanged);
* :func:`planted_statements` — a dozen hand-made statements whose aggregates the tests compute by hand;
* :func:`write_archive` — writes ``statements/day=YYYY-MM-DD/platform=<slug>/part-0.parquet`` and
  ``manifest.json`` (the day is that of ``created_at``, as a daily dump's).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from paths import TESTS

from govlib.dsa.peers_sor import platform_slug
from govlib.dsa.sor import CATEGORY_TO_V2

SOR_ROWS = TESTS / "fixtures" / "dsa" / "sor_rows"
TS = pa.timestamp("us", tz="UTC")
LIST = pa.list_(pa.string())
SCHEMA = pa.schema(
    [("uuid", pa.string()), ("platform_name", pa.string()), ("category", pa.string()),
     ("category_raw", pa.string()), ("category_specification", LIST), ("territorial_scope", LIST),
     ("content_type", LIST), ("automated_detection", pa.bool_()), ("automated_decision", pa.string()),
     ("decision_ground", pa.string()), ("decision_visibility", LIST), ("decision_account", pa.string()),
     ("decision_monetary", pa.string()), ("decision_provision", pa.string()), ("content_date", TS),
     ("application_date", TS), ("created_at", TS), ("source_type", pa.string()), ("account_type", pa.string()),
     ("content_language", pa.string()), ("source_part", pa.int32()), ("source_row", pa.int64())]
)  # fmt: skip
PREFIX = "STATEMENT_CATEGORY_"


def _list(cell) -> list[str]:
    return [] if pd.isna(cell) or not str(cell).strip() else [str(v) for v in json.loads(cell)]


def _scope(cell) -> list[str]:
    return sorted({"GR" if c.upper() == "EL" else c.upper() for c in _list(cell)})


def real_statements() -> pd.DataFrame:
    """The real rows as archive columns; the first occurrence of a duplicated ``uuid`` kept."""
    frames = []
    for part, f in enumerate(sorted(SOR_ROWS.glob("*.csv"))):
        d = pd.read_csv(f, dtype=str, keep_default_na=False)
        d["source_part"], d["source_row"] = part, range(len(d))
        frames.append(d)
    d = pd.concat(frames, ignore_index=True).drop_duplicates("uuid")
    out = pd.DataFrame({"uuid": d["uuid"], "platform_name": d["platform_name"]})
    out["category"] = d["category"].map(CATEGORY_TO_V2)  # v1 values mapped as the sync does
    assert out["category"].notna().all(), sorted(set(d["category"][out["category"].isna()]))
    out["category_raw"] = d["category"]
    for col, fn in (("category_specification", _list), ("territorial_scope", _scope),
                    ("content_type", _list), ("decision_visibility", _list)):  # fmt: skip
        out[col] = d[col].map(fn)
    out["automated_detection"] = d["automated_detection"].eq("Yes")
    for col in ("automated_decision", "decision_ground", "decision_account", "decision_monetary",
                "decision_provision", "source_type", "account_type", "content_language"):  # fmt: skip
        out[col] = d[col].where(d[col] != "", None)
    for col in ("content_date", "application_date", "created_at"):
        out[col] = pd.to_datetime(d[col].where(d[col] != "", None), utc=True)
    out["source_part"], out["source_row"] = d["source_part"], d["source_row"]
    return out.reset_index(drop=True)


def redated(rows: pd.DataFrame, first_month: str, n_months: int) -> pd.DataFrame:
    """Row ``i`` moved so that its ``created_at`` day falls in month ``first_month + i % n_months``."""
    out = rows.copy()
    target = pd.Period(first_month, "M")
    shifts = []
    for i, created in enumerate(out["created_at"]):
        month = (target + i % n_months).to_timestamp().tz_localize("UTC")
        shifts.append(month + pd.Timedelta(days=14) - created.normalize())
    shift = pd.to_timedelta(pd.Series(shifts, index=out.index)).dt.round("D")
    for col in ("content_date", "application_date", "created_at"):
        out[col] = out[col] + shift
    return out


def statement(uuid, platform, scope, day, **kw) -> dict:
    created = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=1)
    row = {
        "uuid": uuid, "platform_name": platform, "category": PREFIX + "SCAMS_AND_FRAUD", "category_raw": None,
        "category_specification": [], "territorial_scope": scope, "content_type": ["CONTENT_TYPE_PRODUCT"],
        "automated_detection": False, "automated_decision": "AUTOMATED_DECISION_NOT_AUTOMATED",
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT", "decision_visibility": [],
        "decision_account": None, "decision_monetary": None, "decision_provision": None,
        "content_date": created - pd.Timedelta(days=3), "application_date": created - pd.Timedelta(days=1),
        "created_at": created, "source_type": "SOURCE_VOLUNTARY", "account_type": None,
        "content_language": "DE", "source_part": 0, "source_row": 0,
    }  # fmt: skip
    row.update(kw)
    row["category_raw"] = row["category_raw"] or row["category"]
    return row


def planted_statements() -> pd.DataFrame:
    """Twelve statements on two platforms over 2026-01..2026-03; ``t-dup`` is stored on two days.

    Values the tests compute by hand (see tests/dsa/test_peers_sor.py for the sums).
    """
    iip = PREFIX + "INTELLECTUAL_PROPERTY_INFRINGEMENTS"
    auto = {"automated_detection": True, "automated_decision": "AUTOMATED_DECISION_FULLY"}
    rows = [
        statement("t1", "TikTok", ["DE", "FR"], "2026-01-10", **auto, decision_visibility=["DECISION_VISIBILITY_CONTENT_REMOVED"]),
        statement("t2", "TikTok", ["DE"], "2026-01-11", decision_ground="DECISION_GROUND_ILLEGAL_CONTENT",
              content_type=["CONTENT_TYPE_VIDEO", "CONTENT_TYPE_TEXT"], decision_account="DECISION_ACCOUNT_SUSPENDED"),
        statement("t3", "TikTok", ["FR"], "2026-01-20", **auto, category=iip,
              content_date=pd.Timestamp("2026-01-01", tz="UTC")),
        statement("t-dup", "TikTok", ["DE", "FR", "IT"], "2026-01-25", **auto),
        statement("t-dup", "TikTok", ["DE", "FR", "IT"], "2026-01-26", **auto),  # the next day's dump repeats it
        statement("t5", "TikTok", ["DE"], "2026-02-03", automated_decision="AUTOMATED_DECISION_PARTIALLY",
              decision_monetary="DECISION_MONETARY_SUSPENSION", content_date=None),
        statement("t6", "TikTok", ["IT"], "2026-02-04", **auto),
        statement("m1", "Temu", ["DE", "FR"], "2026-01-05", decision_provision="DECISION_PROVISION_PARTIAL_SUSPENSION"),
        statement("m2", "Temu", ["DE"], "2026-01-06", **auto, decision_ground="DECISION_GROUND_ILLEGAL_CONTENT"),
        statement("m3", "Temu", ["PL"], "2026-02-15", **auto),
        statement("m4", "Temu", ["DE"], "2026-03-01", automated_detection=True),
        statement("m5", "Temu", ["DE"], "2026-03-02", automated_detection=True,
              content_date=pd.Timestamp("2026-03-05", tz="UTC")),  # after the decision: a date error
    ]  # fmt: skip
    return pd.DataFrame(rows)


def write_archive(store: Path, rows: pd.DataFrame, unlisted_days: tuple[str, ...] = ()) -> Path:
    """Write ``rows`` as an archive at ``store``; days in ``unlisted_days`` get no manifest entry."""
    store = Path(store)
    rows = rows.assign(_day=rows["created_at"].dt.strftime("%Y-%m-%d"),
                       _slug=rows["platform_name"].map(platform_slug))  # fmt: skip
    days: dict[str, dict] = {}
    for (day, slug), g in rows.groupby(["_day", "_slug"], sort=True):
        folder = store / "statements" / f"day={day}" / f"platform={slug}"
        folder.mkdir(parents=True, exist_ok=True)
        g = g.drop(columns=["_day", "_slug"]).reset_index(drop=True)
        pq.write_table(
            pa.Table.from_pandas(g, schema=SCHEMA, preserve_index=False), folder / "part-0.parquet"
        )
        entry = days.setdefault(day, {"file": f"sor-global-{day}-full.zip", "sha1": "0" * 40,
                                      "rows_read": 0, "duplicates_dropped": 0, "platforms_requested": None,
                                      "platforms": {}, "warnings": []})  # fmt: skip
        entry["rows_read"] += len(g)
        entry["platforms"][slug] = {"platform_name": g["platform_name"].iloc[0], "rows": len(g)}
    for day in unlisted_days:
        days.pop(day, None)
    (store / "manifest.json").write_text(json.dumps({"format": 1, "days": days}, indent=1, sort_keys=True))
    return store


def fixture_archive(store: Path) -> Path:
    """Real rows over 2026-01..2026-06 plus the planted statements: the report's and parity test's archive."""
    rows = pd.concat([redated(real_statements(), "2026-01", 6), planted_statements()], ignore_index=True)
    return write_archive(store, rows)


if __name__ == "__main__":  # the archive the dsa_peers notebook's stored outputs come from
    import sys

    print(fixture_archive(Path(sys.argv[1])))
