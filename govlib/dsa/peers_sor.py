"""Peer analytics from statements of reasons: a synced archive aggregated per platform, state, category, month.

The archive (``govlib dsa sync --archive``, layout in ``docs/dsa.md``) stores one row per
statement, its territorial scope kept as a list. Everything here is an Ibis expression over
that table, so the same aggregates run on DuckDB (one machine) and on PySpark (a cluster,
multi-month ranges); only :func:`with_intervals` and :func:`consistency` work on the small
pandas results.

* :func:`open_archive` — the statements of a date range and platforms, one row per statement;
* :func:`statement_aggregates` — statements (unique ``uuid``), automated detection and
  decision, grounds, decision types and the days from content to decision and from decision to
  database entry (median, p90), per platform × member state × category × month (any subset of
  those keys: without ``member_state`` a statement counts once, EEA-wide);
* :func:`breakdown` — statements per value of a list or text field (content types, decision
  types);
* :func:`with_intervals` — the shares with Wilson intervals (:mod:`govlib.stats.intervals`);
* :func:`consistency` — what a platform's statements add up to against its published
  transparency report (``govlib dsa peers``) for the same period, with flags.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from govlib.dsa import DsaError
from govlib.text import N_

GROUP_KEYS = ("platform_name", "member_state", "category", "month")
ILLEGAL = "DECISION_GROUND_ILLEGAL_CONTENT"
TERMS = "DECISION_GROUND_INCOMPATIBLE_CONTENT"
FULLY_AUTOMATED = "AUTOMATED_DECISION_FULLY"
PARTLY_AUTOMATED = "AUTOMATED_DECISION_PARTIALLY"
# share column -> (numerator, denominator) of statement_aggregates
RATES = {
    "automated_detection_share": ("automated_detection", "statements"),
    "automated_decision_share": ("automated_decision", "statements"),
    "illegal_content_share": ("illegal_content", "statements"),
}
RATE_LABELS = {
    "automated_detection_share": N_("detected by automated means"),
    "automated_decision_share": N_("decided fully automatically"),
    "illegal_content_share": N_("illegal content (not terms of service)"),
}
LIST_FIELDS = ("territorial_scope", "content_type", "decision_visibility", "category_specification")
TEXT_FIELDS = ("decision_account", "decision_monetary", "decision_provision", "automated_decision",
               "decision_ground", "source_type", "account_type")  # fmt: skip


class ArchiveError(DsaError):
    """The statement archive cannot be read (missing, empty, or not in the archive layout)."""


class NoStatementsError(ArchiveError):
    """The archive holds no complete day in the range asked for."""


def platform_slug(name: str) -> str:
    """The archive's partition name of a platform: lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


# --------------------------------------------------------------------------- reading


def open_archive(store, engine: str | None = None, date_from=None, date_to=None, platforms=None):
    """The statements of an archive as an Ibis table, one row per statement.

    Parameters
    ----------
    store : str or Path
        The archive folder (``manifest.json`` and ``statements/day=.../platform=.../``).
    engine : {"duckdb", "spark"}, optional
        Query engine (default ``GOVLIB_ENGINE``).
    date_from, date_to : date or str, optional
        First and last dump day read (inclusive).
    platforms : sequence of str, optional
        Platform names or slugs (case-insensitive); default all.

    Returns
    -------
    ibis.Table
        The archive's columns plus ``day`` and ``platform``; a ``uuid`` stored on several days
        is kept once, on its earliest day.

    Raises
    ------
    ArchiveError
        No manifest; :class:`NoStatementsError` (a subclass): no complete day in the range.

    Notes
    -----
    Reads through :func:`govlib.dsa.archive.open_statements`, the sync's own reader: only days
    listed in ``manifest.json`` (a day without an entry is an interrupted sync), duplicates
    across days dropped as the sync documents.
    """
    from govlib.dsa.archive import open_statements

    listed_days(Path(store), date_from, date_to)  # a clear error for no manifest or no day in range
    try:
        return open_statements(
            store, engine=engine, date_from=date_from, date_to=date_to, platforms=platforms
        )
    except DsaError as exc:  # the manifest was read above: what is left is nothing stored to read
        raise NoStatementsError(str(exc)) from None


def listed_days(store: Path, date_from=None, date_to=None) -> list[str]:
    """The complete days (``YYYY-MM-DD``, listed in ``manifest.json``) of an archive in a range.

    Raises :class:`ArchiveError` (no or unreadable manifest) or :class:`NoStatementsError` (none in range).
    """
    manifest = store / "manifest.json"
    if not manifest.is_file():
        raise ArchiveError(
            f"{store}: not a statement archive (no manifest.json); fill it with "
            "'govlib dsa sync --archive DUMPS --store DIR'"
        )
    try:
        days = sorted(json.loads(manifest.read_text(encoding="utf-8")).get("days", {}))
    except (ValueError, AttributeError) as exc:
        raise ArchiveError(
            f"{manifest}: not a valid archive manifest ({exc}); re-run 'govlib dsa sync'"
        ) from None
    lo, hi = (str(d) if d else None for d in (date_from, date_to))
    days = [d for d in days if (lo is None or d >= lo) and (hi is None or d <= hi)]
    if not days:
        raise NoStatementsError(f"{store}: no complete day between {lo or 'the start'} and {hi or 'the end'}")
    return days


# --------------------------------------------------------------------------- aggregates


def _days(later, earlier):
    """Days from ``earlier`` to ``later``; NULL when missing or negative (a date error in the dump)."""
    # float64 before dividing: Spark would divide by a decimal literal and round to 7 digits
    d = (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / 86400
    return (d >= 0).ifelse(d, None)


def _keyed(t, by: Sequence[str]):
    """``t`` with the grouping keys it lacks: ``member_state`` (the scope exploded) and ``month``."""
    if "member_state" in by:
        t = t.mutate(member_state=t.territorial_scope.unnest())
    if "month" in by:
        t = t.mutate(month=t.application_date.strftime("%Y-%m"))
    return t


def _in_range(t, date_from, date_to):
    """Statements whose decision (``application_date``, UTC) falls in ``[date_from, date_to]``."""
    if date_from is not None:
        t = t.filter(t.application_date.date() >= pd.Timestamp(date_from).date())
    if date_to is not None:
        t = t.filter(t.application_date.date() <= pd.Timestamp(date_to).date())
    return t


def statement_aggregates(t, by: Sequence[str] = GROUP_KEYS, date_from=None, date_to=None):
    """Statements and their characteristics per group, as an Ibis expression.

    Parameters
    ----------
    t : ibis.Table
        Statements in the archive layout (:func:`open_archive`).
    by : sequence of str
        Grouping keys among ``platform_name``, ``member_state`` (each code of the territorial
        scope), ``category`` and ``month`` (``YYYY-MM`` of ``application_date``, UTC).
    date_from, date_to : date or str, optional
        Decision dates kept (inclusive).

    Returns
    -------
    ibis.Table
        ``by`` + ``statements`` (distinct ``uuid``), ``automated_detection``,
        ``automated_decision`` (fully automated), ``partly_automated_decision``,
        ``illegal_content``, ``terms_of_service`` (grounds), ``visibility``, ``monetary``,
        ``provision``, ``account`` (statements with a decision of that type),
        ``content_to_decision_median``/``_p90`` and ``decision_to_entry_median``/``_p90``
        (days; content date to ``application_date``, and ``application_date`` to
        ``created_at``).

    Notes
    -----
    A statement covering several member states counts once in each state's group and once
    in any group without ``member_state``: the list is exploded in the query, never in
    storage. Counts are rows: ``t`` must hold one row per statement, as :func:`open_archive`
    returns it (a ``uuid`` stored on several days kept once; a scope lists each state once).
    Counting distinct ``uuid`` values instead would hold a hash set per group and measure,
    which at a full member-state explosion (about 30 rows per statement) exhausts memory.
    Quantiles are exact and interpolated (DuckDB ``quantile_cont``, Spark ``percentile``); a
    negative or missing duration (content date after the decision, or none) is left out.
    """
    t = _keyed(_in_range(t, date_from, date_to), by)
    t = t.mutate(_c2d=_days(t.application_date, t.content_date), _d2e=_days(t.created_at, t.application_date))
    return (t.group_by(list(by)) if by else t).aggregate(
        statements=t.count(),
        automated_detection=t.count(where=t.automated_detection),
        automated_decision=t.count(where=t.automated_decision == FULLY_AUTOMATED),
        partly_automated_decision=t.count(where=t.automated_decision == PARTLY_AUTOMATED),
        illegal_content=t.count(where=t.decision_ground == ILLEGAL),
        terms_of_service=t.count(where=t.decision_ground == TERMS),
        visibility=t.count(where=t.decision_visibility.length() > 0),
        monetary=t.count(where=t.decision_monetary.notnull()),
        provision=t.count(where=t.decision_provision.notnull()),
        account=t.count(where=t.decision_account.notnull()),
        content_to_decision_median=t._c2d.quantile(0.5),
        content_to_decision_p90=t._c2d.quantile(0.9),
        decision_to_entry_median=t._d2e.quantile(0.5),
        decision_to_entry_p90=t._d2e.quantile(0.9),
    )


def breakdown(t, field: str, by: Sequence[str] = GROUP_KEYS, date_from=None, date_to=None):
    """Statements per value of ``field`` (e.g. ``content_type``, ``decision_account``) per group.

    A list field (``content_type``, ``decision_visibility``, ...) is exploded: a statement
    with two content types counts under each. Returns ``by`` + ``value`` + ``statements``.
    """
    if field not in LIST_FIELDS + TEXT_FIELDS:
        raise ValueError(f"field must be one of {LIST_FIELDS + TEXT_FIELDS}, got {field!r}")
    t = _keyed(_in_range(t, date_from, date_to), by)
    value = t[field].unnest() if field in LIST_FIELDS else t[field]
    t = t.mutate(value=value)
    return t.filter(t.value.notnull()).group_by([*by, "value"]).aggregate(statements=t.uuid.nunique())


def execute(expr) -> pd.DataFrame:
    """An aggregate as a pandas frame, sorted by its keys (deterministic across engines)."""
    df = expr.to_pandas()
    keys = [c for c in df.columns if c in (*GROUP_KEYS, "value")]
    return df.sort_values(keys, kind="stable").reset_index(drop=True) if keys else df


def with_intervals(agg: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """``agg`` with each share of :data:`RATES` and its Wilson interval (``<share>_low``/``_high``).

    An empty denominator gives NaN, never 0 (:func:`govlib.stats.intervals.proportion_interval`).
    """
    from govlib.stats.intervals import proportion_interval

    out = agg.copy()
    for share, (num, den) in RATES.items():
        n, d = out[num].astype(float), out[den].astype(float)
        out[share] = np.where(d > 0, n / d.where(d > 0), np.nan)
        bounds = [proportion_interval(a, b, alpha=alpha) for a, b in zip(n, d)]
        out[f"{share}_low"] = [b[0] for b in bounds]
        out[f"{share}_high"] = [b[1] for b in bounds]
    return out


# --------------------------------------------------------------------------- consistency

CONSISTENCY_FIGURES = {
    "measures": N_("moderation measures (Part 8, solely + not automated) vs statements"),
    "solely_automated_share": N_("share solely automated (Part 8) vs statements decided fully automatically"),
}
FLAG_TEXT = {
    "ok": N_("consistent"),
    "gap": N_("gap"),
    "no_report_figure": N_("not in the published report"),
    "no_statements": N_("no statements in the archive"),
    "incomplete_archive": N_("archive incomplete for the period"),
}


def same_service(platform: str, service: str) -> bool:
    """A statement platform name and a report's service name are one service (``Amazon`` ~ ``Amazon Store``)."""
    a, b = platform_slug(platform), platform_slug(service)
    return a == b or a.startswith(b + "-") or b.startswith(a + "-")


def _period_bounds(period: str) -> tuple[date, date]:
    lo, _, hi = str(period).partition("/")
    try:
        return date.fromisoformat(lo), date.fromisoformat(hi)
    except ValueError:
        raise ArchiveError(f"reporting period {period!r} is not YYYY-MM-DD/YYYY-MM-DD") from None


def consistency(t, figures: pd.DataFrame, platform: str, period: str, *, count_tolerance: float = 0.10,
                share_tolerance: float = 0.05) -> pd.DataFrame:  # fmt: skip
    """What ``platform``'s statements add up to against its published report for ``period``, flagged.

    Parameters
    ----------
    t : ibis.Table
        Statements (:func:`open_archive`), read over at least the period's days.
    figures : DataFrame
        :func:`govlib.dsa.peers.peer_figures` of the published reports.
    platform : str
        Platform name as in the statements; the report's service matches by slug, or one slug
        extending the other (``amazon`` ~ ``amazon-store``).
    period : str
        The report's period, ``YYYY-MM-DD/YYYY-MM-DD`` (decisions dated in it are counted).
    count_tolerance, share_tolerance : float
        A count differing by more than this fraction of the report's, or a share by more than
        this many points *and* outside the statements' 95% Wilson interval, is a ``gap``.

    Returns
    -------
    DataFrame
        One row per figure of :data:`CONSISTENCY_FIGURES`: ``platform, period, figure,
        statements_value, report_value, difference`` (relative for counts, absolute for
        shares), ``ci_low, ci_high`` (shares), ``coverage`` (share of the period's days whose
        dump is in the archive), ``flag`` (a key of :data:`FLAG_TEXT`), ``source_file``.

    Notes
    -----
    Statements count once each, EEA-wide (territorial scope not exploded). A report's Part 8
    measures are every restriction imposed, while the Transparency Database holds only the
    decisions a platform submitted, so a gap is a question to ask, not proof of misreporting.
    An archive missing days of the period is flagged ``incomplete_archive`` before any gap.
    """
    lo, hi = _period_bounds(period)
    mine = t.filter(t.platform_name == platform)
    totals = statement_aggregates(mine, by=["platform_name"], date_from=lo, date_to=hi).to_pandas()
    in_period = t.filter((t.day.cast("date") >= lo) & (t.day.cast("date") <= hi))
    days = int(in_period.day.nunique().to_pandas())
    coverage = days / ((hi - lo).days + 1)
    n = float(totals["statements"].sum())
    auto = float(totals["automated_decision"].sum())
    fig = figures[(figures["period"] == period) & (figures["figure"] == "solely_automated_share")]
    fig = fig[[same_service(platform, s) for s in fig["service"]]]
    report = fig.iloc[0] if len(fig) else None
    rows = []
    for name in CONSISTENCY_FIGURES:
        rows.append(_consistency_row(name, n, auto, report, coverage, count_tolerance, share_tolerance))
    out = pd.DataFrame(rows)
    out.insert(0, "period", period)
    out.insert(0, "platform", platform)
    return out


def _consistency_row(name, n, auto, report, coverage, count_tol, share_tol) -> dict:
    from govlib.stats.intervals import proportion_interval

    if name == "measures":
        mine, theirs, low, high = (
            n,
            (np.nan if report is None else float(report["denominator"])),
            np.nan,
            np.nan,
        )
        diff = (mine - theirs) / theirs if theirs and not np.isnan(theirs) else np.nan
        gap = abs(diff) > count_tol
    else:
        mine = auto / n if n else np.nan
        theirs = np.nan if report is None else float(report["value"])
        low, high = proportion_interval(auto, n)
        diff = mine - theirs
        gap = abs(diff) > share_tol and not (low <= theirs <= high)
    if report is None:
        flag = "no_report_figure"
    elif n == 0:
        flag = "no_statements"
    elif coverage < 1:
        flag = "incomplete_archive"
    else:
        flag = "gap" if gap else "ok"
    return {
        "figure": name, "statements_value": mine, "report_value": theirs, "difference": diff,
        "ci_low": low, "ci_high": high, "coverage": coverage, "flag": flag,
        "source_file": "" if report is None else report["source_file"],
    }  # fmt: skip
