"""Tiny hand-made contract datasets, in every layout, and broken variants of them.

For tests across govlib: every number here is known by hand (see ``EXPECTED``).
Two markets: DE (Europe/Berlin, UTC+1/+2) and GB (Europe/London, UTC+0/+1), month 2026-10,
with rows on both sides of each market's local month edge:

- ``ct_02`` published 2026-09-30T22:30Z: DE local 1 Oct 00:30, so October in DE;
- ``ct_05`` / ``a_05`` at 2026-10-31T23:30Z: DE local 1 Nov 00:30 (November) ...
- ... while ``ct_08`` / ``a_09`` at the same instant are 31 Oct 23:30 in GB (October);
- ``ct_10`` 2026-09-30T23:30Z: GB (BST) local 1 Oct 00:30, so October in GB.

Usage::

    from datasets import write_valid_dataset, break_dataset, BROKEN_CASES  # tests/ is on sys.path under pytest
    write_valid_dataset(tmp_path, layout="partitioned")
    expect = break_dataset(tmp_path / "bad", "time_order")   # -> Expect(table, column, rule, n_bad, examples)
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from govlib import contract

LAYOUTS = ("parquet", "directory", "partitioned", "csv")
MONTH = "2026-10"
MARKETS = {"DE": "Europe/Berlin", "GB": "Europe/London"}

N = None  # null, for readability of the rows below


def _rows(columns: str, *rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=columns.split())


def valid_tables() -> dict[str, pd.DataFrame]:
    """The valid dataset as pandas frames with contract dtypes (timestamps UTC, microseconds)."""
    t = {
        "creators": _rows(
            "creator_id market registered_at tier follower_count primary_category",
            ("cr_de_1", "DE", "2025-01-10T09:00:00Z", "new", 10, "beauty"),
            ("cr_de_2", "DE", "2025-03-05T12:00:00Z", "rising", 1500, "electronics"),
            ("cr_de_3", "DE", "2026-10-02T08:00:00Z", "new", 0, "fashion"),
            ("cr_gb_1", "GB", "2024-11-20T16:00:00Z", "top", 250000, "beauty"),
            ("cr_gb_2", "GB", "2025-06-01T10:00:00Z", "established", 40000, "home"),
            ("cr_gb_3", "GB", "2026-09-15T11:00:00Z", "new", 12, "fashion"),
        ),
        "content": _rows(
            "content_id creator_id market content_type language published_at product_category views gmv_eur",
            ("ct_01", "cr_de_1", "DE", "short_video", "de", "2025-06-15T10:00:00Z", "beauty", 1200, 35.5),
            ("ct_02", "cr_de_1", "DE", "livestream", "de", "2026-09-30T22:30:00Z", "beauty", 800, 120.0),
            (
                "ct_03",
                "cr_de_2",
                "DE",
                "product_showcase",
                "de",
                "2026-10-05T09:00:00Z",
                "electronics",
                5000,
                990.0,
            ),
            ("ct_04", "cr_de_2", "DE", "short_video", "de", "2026-10-20T18:00:00Z", N, 300, 0.0),
            ("ct_05", "cr_de_3", "DE", "image", "de", "2026-10-31T23:30:00Z", "fashion", 50, 0.0),
            ("ct_06", "cr_de_2", "DE", "text", "de", "2026-09-10T12:00:00Z", "electronics", 40, 0.0),
            (
                "ct_07",
                "cr_gb_1",
                "GB",
                "short_video",
                "en",
                "2026-10-01T08:00:00Z",
                "beauty",
                900000,
                15000.0,
            ),
            ("ct_08", "cr_gb_1", "GB", "livestream", "en", "2026-10-31T23:30:00Z", "beauty", 20000, 800.0),
            (
                "ct_09",
                "cr_gb_2",
                "GB",
                "product_showcase",
                "en",
                "2026-10-12T14:00:00Z",
                "home",
                7000,
                210.25,
            ),
            ("ct_10", "cr_gb_3", "GB", "short_video", "en", "2026-09-30T23:30:00Z", "fashion", 15, 0.0),
            ("ct_11", "cr_gb_2", "GB", "image", "en", "2026-08-01T10:00:00Z", "home", 100, 0.0),
            ("ct_12", "cr_gb_3", "GB", "short_video", "en", "2025-12-24T20:00:00Z", "fashion", 30, 0.0),
        ),
        "enforcement_actions": _rows(
            "action_id creator_id content_id market policy severity action_type health_points detection_source "
            "decision_mode ground detected_at actioned_at restriction_ends_at views_before_action",
            (
                "a_01",
                "cr_de_1",
                "ct_01",
                "DE",
                "misleading_claims",
                "medium",
                "content_removed",
                20,
                "automated",
                "automated",
                "terms_of_service",
                "2026-10-03T10:00:00Z",
                "2026-10-03T10:05:00Z",
                N,
                0,
            ),
            (
                "a_02",
                "cr_de_1",
                "ct_02",
                "DE",
                "scam_fraud",
                "high",
                "visibility_limited",
                40,
                "user_report",
                "human",
                "illegal_content",
                "2026-10-10T09:00:00Z",
                "2026-10-11T09:00:00Z",
                "2026-11-10T09:00:00Z",
                300,
            ),
            (
                "a_03",
                "cr_de_2",
                "ct_03",
                "DE",
                "counterfeit_ip",
                "high",
                "content_removed",
                40,
                "trusted_flagger",
                "hybrid",
                "illegal_content",
                "2026-10-15T00:00:00Z",
                "2026-10-15T12:00:00Z",
                N,
                1000,
            ),
            (
                "a_04",
                "cr_de_2",
                N,
                "DE",
                "fake_engagement",
                "medium",
                "warning",
                10,
                "proactive_review",
                "human",
                "terms_of_service",
                "2026-10-31T22:00:00Z",
                "2026-10-31T22:30:00Z",
                N,
                N,
            ),
            (
                "a_05",
                "cr_de_3",
                "ct_05",
                "DE",
                "adult_content",
                "high",
                "content_removed",
                40,
                "automated",
                "automated",
                "terms_of_service",
                "2026-10-31T23:10:00Z",
                "2026-10-31T23:30:00Z",
                N,
                0,
            ),
            (
                "a_06",
                "cr_de_2",
                "ct_06",
                "DE",
                "misleading_claims",
                "low",
                "warning",
                5,
                "automated",
                "automated",
                "terms_of_service",
                "2026-09-12T00:00:00Z",
                "2026-09-12T01:00:00Z",
                N,
                20,
            ),
            (
                "a_07",
                "cr_gb_1",
                "ct_07",
                "GB",
                "undisclosed_ads",
                "low",
                "warning",
                5,
                "user_report",
                "human",
                "terms_of_service",
                "2026-10-02T10:00:00Z",
                "2026-10-04T10:00:00Z",
                N,
                50000,
            ),
            (
                "a_08",
                "cr_gb_2",
                "ct_09",
                "GB",
                "prohibited_product",
                "critical",
                "account_suspended",
                100,
                "authority_order",
                "human",
                "illegal_content",
                "2026-10-13T08:00:00Z",
                "2026-10-13T09:00:00Z",
                "2026-11-13T09:00:00Z",
                150,
            ),
            (
                "a_09",
                "cr_gb_3",
                "ct_10",
                "GB",
                "dangerous_activity",
                "high",
                "content_removed",
                40,
                "automated",
                "automated",
                "terms_of_service",
                "2026-10-31T23:00:00Z",
                "2026-10-31T23:30:00Z",
                N,
                0,
            ),
            (
                "a_10",
                "cr_gb_2",
                "ct_11",
                "GB",
                "privacy_violation",
                "medium",
                "content_removed",
                20,
                "proactive_review",
                "hybrid",
                "terms_of_service",
                "2026-08-02T00:00:00Z",
                "2026-08-03T00:00:00Z",
                N,
                80,
            ),
        ),
        "appeals": _rows(
            "appeal_id action_id creator_id market channel submitted_at resolved_at outcome",
            (
                "ap_1",
                "a_01",
                "cr_de_1",
                "DE",
                "internal_complaint",
                "2026-10-04T10:00:00Z",
                "2026-10-06T10:00:00Z",
                "overturned",
            ),
            ("ap_2", "a_03", "cr_de_2", "DE", "internal_complaint", "2026-10-20T10:00:00Z", N, "pending"),
            (
                "ap_3",
                "a_08",
                "cr_gb_2",
                "GB",
                "out_of_court",
                "2026-10-20T00:00:00Z",
                "2026-10-30T00:00:00Z",
                "upheld",
            ),
            (
                "ap_4",
                "a_10",
                "cr_gb_2",
                "GB",
                "internal_complaint",
                "2026-08-05T00:00:00Z",
                "2026-08-07T00:00:00Z",
                "partially_overturned",
            ),
        ),
        "notices": _rows(
            "notice_id content_id creator_id market reporter_type policy received_at handled_at outcome action_id",
            (
                "n_1",
                "ct_02",
                "cr_de_1",
                "DE",
                "user",
                "scam_fraud",
                "2026-10-10T08:00:00Z",
                "2026-10-11T09:00:00Z",
                "actioned",
                "a_02",
            ),
            (
                "n_2",
                "ct_03",
                "cr_de_2",
                "DE",
                "trusted_flagger",
                "counterfeit_ip",
                "2026-10-15T00:00:00Z",
                "2026-10-15T12:00:00Z",
                "actioned",
                "a_03",
            ),
            (
                "n_3",
                "ct_07",
                "cr_gb_1",
                "GB",
                "user",
                "undisclosed_ads",
                "2026-10-02T09:00:00Z",
                "2026-10-04T10:00:00Z",
                "actioned",
                "a_07",
            ),
            (
                "n_4",
                "ct_09",
                "cr_gb_2",
                "GB",
                "user",
                "hate_harassment",
                "2026-10-25T10:00:00Z",
                N,
                "pending",
                N,
            ),
            (
                "n_5",
                N,
                N,
                "GB",
                "authority",
                "prohibited_product",
                "2026-10-13T07:00:00Z",
                "2026-10-13T09:00:00Z",
                "actioned",
                "a_08",
            ),
        ),
        "rewards": _rows(
            "reward_id creator_id market granted_at reward_type value_eur",
            ("rw_1", "cr_gb_1", "GB", "2026-10-05T00:00:00Z", "commission_boost", 250.0),
            ("rw_2", "cr_de_2", "DE", "2026-10-07T00:00:00Z", "cash_incentive", 100.0),
            ("rw_3", "cr_gb_2", "GB", "2026-09-01T00:00:00Z", "badge", 0.0),
        ),
        "prevalence_samples": _rows(
            "sample_id content_id market sampled_at stratum weight is_violating policy",
            ("ps_1", "ct_07", "GB", "2026-10-06T00:00:00Z", "high_reach", 1500.0, False, N),
            ("ps_2", "ct_09", "GB", "2026-10-14T00:00:00Z", "long_tail", 20000.0, True, "prohibited_product"),
            ("ps_3", "ct_03", "DE", "2026-10-16T00:00:00Z", "high_reach", 1200.0, True, "counterfeit_ip"),
            ("ps_4", "ct_04", "DE", "2026-10-21T00:00:00Z", "long_tail", 9000.0, False, N),
        ),
        "signal_scores": _rows(
            "content_id market signal version score scored_at",
            ("ct_02", "DE", "scam_signal", "v1", 0.91, "2026-10-01T00:00:00Z"),
            ("ct_03", "DE", "scam_signal", "v1", 0.12, "2026-10-05T09:05:00Z"),
            ("ct_07", "GB", "scam_signal", "v1", 0.05, "2026-10-01T08:01:00Z"),
            ("ct_09", "GB", "scam_signal", "v1", 0.77, "2026-10-12T14:02:00Z"),
            ("ct_09", "GB", "scam_signal", "v2", 0.81, "2026-10-12T14:03:00Z"),
        ),
        "review_labels": _rows(
            "content_id market policy is_violating reviewed_at source",
            ("ct_02", "DE", "scam_fraud", True, "2026-10-12T00:00:00Z", "qa_sample"),
            ("ct_03", "DE", N, False, "2026-10-18T00:00:00Z", "qa_sample"),
            ("ct_09", "GB", "prohibited_product", True, "2026-10-14T00:00:00Z", "appeal"),
            ("ct_07", "GB", N, False, "2026-10-07T00:00:00Z", "investigation"),
        ),
        "qa_reviews": _rows(
            "review_id content_id market policy language reviewer review_round label golden_label reviewed_at",
            (
                "qr_1",
                "ct_02",
                "DE",
                "scam_fraud",
                "de",
                "rv_a",
                1,
                "violating",
                "violating",
                "2026-10-02T09:00:00Z",
            ),
            (
                "qr_2",
                "ct_02",
                "DE",
                "scam_fraud",
                "de",
                "rv_b",
                2,
                "violating",
                "violating",
                "2026-10-03T09:00:00Z",
            ),
            (
                "qr_3",
                "ct_03",
                "DE",
                "counterfeit_ip",
                "de",
                "rv_a",
                1,
                "not_violating",
                N,
                "2026-10-06T09:00:00Z",
            ),
            (
                "qr_4",
                "ct_03",
                "DE",
                "counterfeit_ip",
                "de",
                "rv_c",
                2,
                "violating",
                N,
                "2026-10-07T09:00:00Z",
            ),
        ),
    }
    return {name: _contract_dtypes(name, df) for name, df in t.items()}


def _contract_dtypes(name: str, df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in contract.TABLES[name].columns:
        if c.name not in df.columns:
            continue
        s = df[c.name]
        if c.dtype == "timestamp":
            df[c.name] = pd.to_datetime(s, utc=True).astype("datetime64[us, UTC]")
        elif c.dtype == "int":
            df[c.name] = s.astype("float64") if s.isna().any() else s.astype("int64")
        elif c.dtype == "float":
            df[c.name] = s.astype("float64")
        elif c.dtype == "bool":
            df[c.name] = s.astype(bool)
        else:
            df[c.name] = s.astype(object).where(s.notna(), None)
    return df


# Hand-counted numbers of the valid dataset for month 2026-10 in each market's local time.
EXPECTED = {
    "rows": {
        "creators": 6,
        "content": 12,
        "enforcement_actions": 10,
        "appeals": 4,
        "notices": 5,
        "rewards": 3,
        "prevalence_samples": 4,
        "signal_scores": 5,
        "review_labels": 4,
    },
    # content published in the local month: DE ct_02 (edge), ct_03, ct_04 (not ct_05: Nov locally);
    # GB ct_07, ct_08 (23:30 GMT is still Oct), ct_09, ct_10 (00:30 BST on 1 Oct)
    "content_published": {"DE": 3, "GB": 4},
    # actions actioned in the month: DE a_01..a_04 (a_05 is 1 Nov locally); GB a_07, a_08, a_09
    "actions": {"DE": 4, "GB": 3},
    "proactive_actions": {"DE": 2, "GB": 1},  # DE a_01 automated, a_04 proactive_review; GB a_09
    "appeals": {"DE": 2, "GB": 1},
    "notices": {"DE": 2, "GB": 3},
    # load_market_window(DE, 2026-10, months_back=1): content published in [Sep, Oct] local plus ct_01,
    # published 2025-06 but referenced by a_01 (actioned in October)
    "window_content_DE_1": ["ct_01", "ct_02", "ct_03", "ct_04", "ct_06"],
}


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path, index=False)


def _naive(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in df.columns:
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.tz_convert("UTC").dt.tz_localize(None)
    return df


def _to_csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for col in df.columns:
        if isinstance(df[col].dtype, pd.DatetimeTZDtype):
            df[col] = df[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ").where(df[col].notna(), None)
        elif df[col].dtype == bool:
            df[col] = df[col].map({True: "true", False: "false"})
    return df


def write_table(df: pd.DataFrame, root: Path, name: str, layout: str) -> None:
    """Write one table in ``layout`` (see :data:`LAYOUTS`) under dataset directory ``root``."""
    root = Path(root)
    if layout == "parquet":
        _write_parquet(df, root / f"{name}.parquet")
    elif layout == "directory":
        # two files, naive-UTC timestamps (also allowed by the contract)
        half = (len(df) + 1) // 2
        _write_parquet(_naive(df.iloc[:half]), root / name / "part-0.parquet")
        _write_parquet(_naive(df.iloc[half:]), root / name / "part-1.parquet")
    elif layout == "partitioned":
        # Hive partitions; `market` exists only in the path
        for market, part in df.groupby("market", sort=True):
            _write_parquet(part.drop(columns="market"), root / name / f"market={market}" / "part-0.parquet")
    elif layout == "csv":
        root.mkdir(parents=True, exist_ok=True)
        _to_csv_frame(df).to_csv(root / f"{name}.csv", index=False, encoding="utf-8")
    else:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")


def write_valid_dataset(
    path: str | Path,
    layout: str = "parquet",
    tables: dict[str, pd.DataFrame] | None = None,
    only: list[str] | None = None,
) -> Path:
    """Write the valid hand-made dataset (or ``tables``) in ``layout``; return the directory.

    ``only`` limits the tables written (e.g. the three required ones).
    """
    root = Path(path)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    frames = tables if tables is not None else valid_tables()
    for name, df in frames.items():
        if only is None or name in only:
            write_table(df, root, name, layout)
    (root / "README.txt").write_text("hand-made govlib test dataset (tests/datasets.py)\n")
    return root


@dataclass(frozen=True)
class Expect:
    """What validation must report for a broken variant."""

    table: str
    column: str | None
    rule: str
    n_bad: int | None
    examples: tuple[str, ...] = ()


def _set(df: pd.DataFrame, key: str, ids: list[str], column: str, value) -> pd.DataFrame:
    df = df.copy()
    if isinstance(df[column].dtype, pd.DatetimeTZDtype) and isinstance(value, str):
        value = pd.Timestamp(value)
    df.loc[df[key].isin(ids), column] = value
    return df


Mutator = Callable[[dict[str, pd.DataFrame]], dict[str, pd.DataFrame]]


def _m(table: str, fn: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Mutator:
    def mutate(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        t = dict(t)
        out = fn(t[table])
        if out is None:
            del t[table]
        else:
            t[table] = out
        return t

    return mutate


def _views_as_text(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["views"] = df["views"].astype(str)
    df.loc[df.content_id.isin(["ct_03", "ct_07"]), "views"] = ["12k", "n/a"]
    return df


def _epoch_ints(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["detected_at"] = df["detected_at"].astype("int64")
    return df


def _duplicate(df: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([df, df[df.content_id == "ct_04"]], ignore_index=True)


def _swap_times(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    m = df.action_id.isin(["a_03", "a_08"])
    df.loc[m, ["detected_at", "actioned_at"]] = df.loc[m, ["actioned_at", "detected_at"]].to_numpy()
    return df


# case -> (layout it needs or None for any, mutation, expected problem)
BROKEN_CASES: dict[str, tuple[str | None, Mutator | None, Expect]] = {
    "missing_table": (
        None,
        _m("enforcement_actions", lambda df: None),
        Expect("enforcement_actions", None, "missing_table", None),
    ),
    "missing_column": (
        None,
        _m("content", lambda df: df.drop(columns="language")),
        Expect("content", "language", "missing_column", None),
    ),
    "wrong_type": (
        "parquet",
        _m("content", _views_as_text),
        Expect("content", "views", "type", 2, ("ct_03", "ct_07")),
    ),
    "wrong_type_column": (
        "parquet",
        _m("enforcement_actions", _epoch_ints),
        Expect("enforcement_actions", "detected_at", "type", None),
    ),
    "not_allowed": (
        None,
        _m("enforcement_actions", lambda df: _set(df, "action_id", ["a_02", "a_07"], "action_type", "ban")),
        Expect("enforcement_actions", "action_type", "allowed", 2, ("a_02", "a_07")),
    ),
    "null_required": (
        None,
        _m("creators", lambda df: _set(df, "creator_id", ["cr_de_3"], "tier", None)),
        Expect("creators", "tier", "not_null", 1, ("cr_de_3",)),
    ),
    "duplicate_key": (
        None,
        _m("content", _duplicate),
        Expect("content", "content_id", "unique", 2, ("ct_04",)),
    ),
    "dangling_fk": (
        None,
        _m("enforcement_actions", lambda df: _set(df, "action_id", ["a_07"], "creator_id", "cr_ghost")),
        Expect("enforcement_actions", "creator_id", "foreign_key", 1, ("a_07",)),
    ),
    "time_order": (
        None,
        _m("enforcement_actions", _swap_times),
        Expect("enforcement_actions", "actioned_at", "time_order", 2, ("a_03", "a_08")),
    ),
    "appeal_before_action": (
        None,
        _m("appeals", lambda df: _set(df, "appeal_id", ["ap_3"], "submitted_at", "2026-10-12T00:00:00Z")),
        Expect("appeals", "submitted_at", "time_order", 1, ("ap_3",)),
    ),
    "resolved_before_submitted": (
        None,
        _m("appeals", lambda df: _set(df, "appeal_id", ["ap_1"], "resolved_at", "2026-10-03T00:00:00Z")),
        Expect("appeals", "resolved_at", "time_order", 1, ("ap_1",)),
    ),
    "pending_resolved": (
        None,
        _m("appeals", lambda df: _set(df, "appeal_id", ["ap_2"], "resolved_at", "2026-10-25T00:00:00Z")),
        Expect("appeals", "resolved_at", "null_iff", 1, ("ap_2",)),
    ),
    "negative_count": (
        None,
        _m("content", lambda df: _set(df, "content_id", ["ct_05"], "views", -5)),
        Expect("content", "views", "min", 1, ("ct_05",)),
    ),
    "negative_money": (
        None,
        _m("rewards", lambda df: _set(df, "reward_id", ["rw_2"], "value_eur", -100.0)),
        Expect("rewards", "value_eur", "min", 1, ("rw_2",)),
    ),
    "weight_below_one": (
        None,
        _m("prevalence_samples", lambda df: _set(df, "sample_id", ["ps_1"], "weight", 0.5)),
        Expect("prevalence_samples", "weight", "min", 1, ("ps_1",)),
    ),
    "review_label_not_allowed": (
        None,
        _m("qa_reviews", lambda df: _set(df, "review_id", ["qr_2", "qr_4"], "label", "yes")),
        Expect("qa_reviews", "label", "allowed", 2, ("qr_2", "qr_4")),
    ),
    "review_round_zero": (
        None,
        _m("qa_reviews", lambda df: _set(df, "review_id", ["qr_3"], "review_round", 0)),
        Expect("qa_reviews", "review_round", "min", 1, ("qr_3",)),
    ),
    "review_before_publication": (
        None,
        _m("qa_reviews", lambda df: _set(df, "review_id", ["qr_3"], "reviewed_at", "2026-10-01T00:00:00Z")),
        Expect("qa_reviews", "reviewed_at", "time_order", 1, ("qr_3",)),
    ),
    # keyless table: examples are 1-based row numbers in file order
    "score_out_of_range": (
        "parquet",
        _m("signal_scores", lambda df: df.assign(score=np.where(df.index == 2, 1.5, df.score))),
        Expect("signal_scores", "score", "max", 1, ("3",)),
    ),
    "market_uk": (
        None,
        _m("creators", lambda df: _set(df, "creator_id", ["cr_gb_1"], "market", "UK")),
        Expect("creators", "market", "market_code", 1, ("cr_gb_1",)),
    ),
    "market_el": (
        None,
        _m("content", lambda df: _set(df, "content_id", ["ct_11"], "market", "EL")),
        Expect("content", "market", "market_code", 1, ("ct_11",)),
    ),
    "language_code": (
        None,
        _m("content", lambda df: _set(df, "content_id", ["ct_03"], "language", "DE")),
        Expect("content", "language", "language_code", 1, ("ct_03",)),
    ),
    "unknown_policy": (
        None,
        _m("enforcement_actions", lambda df: _set(df, "action_id", ["a_05"], "policy", "spam")),
        Expect("enforcement_actions", "policy", "policy", 1, ("a_05",)),
    ),
    # years in the future (a unit or day/month mix-up), and the epoch (a zero turned into a date)
    "future_date": (
        None,
        _m(
            "enforcement_actions",
            lambda df: _set(df, "action_id", ["a_04", "a_07"], "actioned_at", "2031-10-31T22:30:00Z"),
        ),
        Expect("enforcement_actions", "actioned_at", "implausible_time", 2, ("a_04", "a_07")),
    ),
    "epoch_date": (
        None,
        _m(
            "creators",
            lambda df: _set(df, "creator_id", ["cr_gb_2"], "registered_at", "1970-01-01T00:00:00Z"),
        ),
        Expect("creators", "registered_at", "implausible_time", 1, ("cr_gb_2",)),
    ),
    "corrupt_parquet": ("parquet", None, Expect("content", None, "unreadable", None)),
    "corrupt_partition": ("partitioned", None, Expect("content", None, "unreadable", None)),
    "csv_delimiter": ("csv", None, Expect("creators", None, "unreadable", None)),
    "csv_encoding": ("csv", None, Expect("creators", None, "unreadable", None)),
}


def break_dataset(path: str | Path, case: str, layout: str = "parquet") -> Expect:
    """Write the valid dataset with one planted contract violation; return what validation must report.

    ``case`` is a key of :data:`BROKEN_CASES`; some cases need a layout (corrupt Parquet,
    CSV delimiter/encoding) and use it whatever ``layout`` says.
    """
    if case not in BROKEN_CASES:
        raise ValueError(f"unknown case {case!r}; cases: {', '.join(BROKEN_CASES)}")
    need, mutate, expect = BROKEN_CASES[case]
    layout = need or layout
    tables = valid_tables()
    if mutate is not None:
        tables = mutate(tables)
    root = write_valid_dataset(path, layout=layout, tables=tables)
    if case == "corrupt_parquet":
        (root / "content.parquet").write_bytes(b"PAR1 this is not parquet " * 20)
    elif case == "corrupt_partition":
        (root / "content" / "market=GB" / "part-0.parquet").write_bytes(b"PAR1 garbage " * 40 + b"PAR1")
    elif case == "csv_delimiter":
        _to_csv_frame(tables["creators"]).to_csv(root / "creators.csv", index=False, sep=";")
    elif case == "csv_encoding":
        df = tables["creators"].copy()
        df.loc[0, "primary_category"] = "ökologie"
        _to_csv_frame(df).to_csv(root / "creators.csv", index=False, encoding="latin-1")
    return expect
