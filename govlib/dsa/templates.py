"""The harmonised DSA transparency report: Annex I CSV parts of Implementing Regulation (EU) 2024/2835.

``govlib dsa report --period 2026-H1 --data DIR --out DIR [--service NAME] [--min-cell-size N]``

Writes the parts the data contract supports, each in the exact column layout and row labels of
the official empty templates (copied in ``govlib/dsa/templates_2024_2835/``):

* Part 4 ``4_notices.csv`` (needs ``notices``),
* Part 5 ``5_own_initiative_illegal.csv`` and Part 6 ``6_own_initiative_TC.csv`` (``enforcement_actions``),
* Part 7 ``7_appeals_and_recidivism.csv`` (needs ``appeals``),
* Part 8 ``8_automated_means.csv`` (``enforcement_actions``).

Files are UTF-8, RFC 4180 (CRLF row ends, minimal quoting), text that a spreadsheet would run as a
formula prefixed with ``'``; counts are integers, shares lie in
[0, 1], median times are in hours. Values are filled on the ``TOTAL`` and ``STATEMENT_CATEGORY_*``
rows (one row per category); keyword rows stay empty unless the data carries DSA keywords
(``dsa_keywords``, as in an imported Transparency Database dataset). Only markets under the DSA
regime are counted; a decision imported once per member state counts once (``sor_uuid``).

Small cells: a count in ``[1, min_cell_size)`` and a median over fewer than ``min_cell_size``
items is left empty, and the matching *Contextual information* cell says
``Suppressed: fewer than N``. Where a column has exactly one such category cell, the smallest
other category cell of that column is suppressed too, so the small one cannot be derived from
``TOTAL`` by subtraction. ``min_cell_size`` is the largest of the markets' params (strictest)
unless ``--min-cell-size`` is given.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from govlib import contract
from govlib.dsa import DsaError
from govlib.errors import UsageError
from govlib.privacy import neutralise_formula

TEMPLATE_DIR = Path(__file__).with_name("templates_2024_2835")
_PREFIX = "4_EN_Annex_I__Templates_for_Transparency_Reports_CSV_Part_"
PARTS: dict[int, str] = {
    4: "4_notices",
    5: "5_own_initiative_illegal",
    6: "6_own_initiative_TC",
    7: "7_appeals_and_recidivism",
    8: "8_automated_means",
}
# Member states of the EU and the EEA (the DSA applies in the EEA); ISO codes (GR, not EL).
DSA_COUNTRIES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO".split()
)
CATEGORY_COL = 3  # "Category of illegal content" / "Category of incompatibility ..." in parts 4-6

# Restriction columns of parts 5 and 6 <- raw DSA decision values (imported data) ...
DSA_DECISION_COLUMNS: dict[str, tuple[str, str]] = {
    "Visibility restriction Removal": ("dsa_visibility", "DECISION_VISIBILITY_CONTENT_REMOVED"),
    "Visibility restriction Disable": ("dsa_visibility", "DECISION_VISIBILITY_CONTENT_DISABLED"),
    "Visibility restriction Demoted": ("dsa_visibility", "DECISION_VISIBILITY_CONTENT_DEMOTED"),
    "Visibility restriction Age restricted": ("dsa_visibility", "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED"),
    "Visibility restriction Interaction restricted": ("dsa_visibility", "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED"),
    "Visibility restriction Labelled ": ("dsa_visibility", "DECISION_VISIBILITY_CONTENT_LABELLED"),
    "Visibility restriction Other": ("dsa_visibility", "DECISION_VISIBILITY_OTHER"),
    "Monetary restriction Suspension": ("dsa_monetary", "DECISION_MONETARY_SUSPENSION"),
    "Monetary restriction Termination": ("dsa_monetary", "DECISION_MONETARY_TERMINATION"),
    "Monetary restriction Other": ("dsa_monetary", "DECISION_MONETARY_OTHER"),
    "Provision of the service Suspension": ("dsa_provision", "SUSPENSION"),
    "Provision of the service Termination": ("dsa_provision", "TERMINATION"),
    "Account restriction Suspension": ("dsa_account", "DECISION_ACCOUNT_SUSPENDED"),
    "Account restriction Termination": ("dsa_account", "DECISION_ACCOUNT_TERMINATED"),
}  # fmt: skip
# ... or <- the contract's action_type (the platform's own data). A warning restricts nothing.
ACTION_TYPE_COLUMNS: dict[str, str] = {
    "content_removed": "Visibility restriction Removal",
    "visibility_limited": "Visibility restriction Demoted",
    "commission_withheld": "Monetary restriction Suspension",
    "feature_restricted": "Provision of the service Suspension",
    "account_suspended": "Account restriction Suspension",
    "account_banned": "Account restriction Termination",
}
# Part 7 complaint rows <- action types of the contested decision.
COMPLAINT_SCOPES: dict[str, tuple[str, ...]] = {
    "Complaint regarding a decision to remove or disable access to or restrict visibility of information": (
        "content_removed",
        "visibility_limited",
    ),
    "Complaint regarding a decision to suspend or terminate the provision of the service": (
        "feature_restricted",
    ),
    "Complaint regarding a decision to suspend or terminate an account ": (
        "account_suspended",
        "account_banned",
    ),
    "Complaint regarding a decision to restrict the ability to monetise information": (
        "commission_withheld",
    ),
}


class ReportError(DsaError):
    """The transparency report cannot be written from this dataset."""


# --------------------------------------------------------------------------- templates and period


def template_path(part: int) -> Path:
    """Path of the official empty template of Annex I ``part`` (4 to 8)."""
    if part not in PARTS:
        raise UsageError(f"Annex I part {part} is not produced; parts: {sorted(PARTS)}")
    return TEMPLATE_DIR / f"{_PREFIX}{PARTS[part]}.csv"


def read_template(part: int) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the official empty template of Annex I ``part`` (4 to 8)."""
    with open(template_path(part), encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def parse_period(period: str) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """``"2026-H1"`` -> ``(start, end, "2026-01-01/2026-06-30")``; ``[start, end)`` in UTC.

    The reporting periods of Article 15/24 DSA are calendar half-years; the report covers
    the whole EEA, so the boundaries are taken in UTC (not a market's time zone).
    """
    m = re.fullmatch(r"(\d{4})-H([12])", period or "")
    if not m:
        raise UsageError(f"--period {period!r} is not of the form YYYY-H1 or YYYY-H2 (e.g. 2026-H1)")
    year, half = int(m[1]), int(m[2])
    start = pd.Timestamp(f"{year}-{1 if half == 1 else 7:02d}-01", tz="UTC")
    end = pd.Timestamp(f"{year if half == 1 else year + 1}-{7 if half == 1 else 1:02d}-01", tz="UTC")
    label = f"{start:%Y-%m-%d}/{(end - pd.Timedelta(days=1)):%Y-%m-%d}"
    return start, end, label


# --------------------------------------------------------------------------- helpers


def dsa_categories(
    df: pd.DataFrame, local_policies: Mapping[str, Mapping[str, str]] | None = None
) -> pd.Series:
    """DSA statement category of each row: ``dsa_category`` if present, else from ``policy``.

    ``local_policies`` maps a market to its local policy -> category table (market params).
    """
    if "dsa_category" in df.columns:
        return df["dsa_category"].astype(object)
    local_policies = local_policies or {}
    cache: dict[tuple[str, str], str] = {}
    out = []
    unknown: dict[str, int] = {}
    for market, policy in zip(df["market"].astype(object), df["policy"].astype(object)):
        key = (market, policy)
        if key not in cache:
            try:
                cache[key] = contract.dsa_category(policy, local_policies.get(market))
            except KeyError:
                cache[key] = None
                unknown[f"{market}/{policy}"] = 0
        if cache[key] is None:
            unknown[f"{market}/{policy}"] += 1
        out.append(cache[key])
    if unknown:
        ex = ", ".join(f"{k} ({v} rows)" for k, v in list(sorted(unknown.items()))[:5])
        raise ReportError(
            f"column 'policy': {sum(unknown.values())} row(s) have a policy that is neither in the taxonomy nor a "
            f"local policy of their market (examples: {ex}); add it to local_policies in params/markets/<CC>.yaml"
        )
    return pd.Series(out, index=df.index, dtype=object)


def _hours(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (pd.to_datetime(later, utc=True) - pd.to_datetime(earlier, utc=True)).dt.total_seconds() / 3600.0


def _median(hours: pd.Series) -> tuple[float, int]:
    h = hours.dropna()
    return (float(np.median(h)) if len(h) else float("nan")), int(len(h))


class _Cell:
    """A value plus how to print it; ``n`` is the number of items behind a median."""

    __slots__ = ("value", "kind", "n")

    def __init__(self, value, kind: str, n: int | None = None):
        self.value, self.kind, self.n = value, kind, n


def _count(v) -> _Cell:
    return _Cell(int(v), "count")


def _med(hours: pd.Series) -> _Cell:
    v, n = _median(hours)
    return _Cell(v, "hours", n)


def _format(cell: _Cell | None, k: int) -> tuple[str, str]:
    """(value text, contextual note) with small-cell suppression."""
    if cell is None:
        return "", ""
    if cell.kind == "count":
        if 0 < cell.value < k:
            return "", f"Suppressed: fewer than {k}"
        return str(int(cell.value)), ""
    if cell.kind == "hours":
        if cell.n is not None and 0 < cell.n < k:
            return "", f"Suppressed: median over fewer than {k} items"
        if cell.value != cell.value:  # NaN: nothing to take the median of
            return "", ""
        return f"{cell.value:.2f}", ""
    if cell.kind == "share":
        if cell.n is not None and 0 < cell.n < k:
            return "", f"Suppressed: share over fewer than {k} items"
        if cell.value != cell.value:
            return "", ""
        return f"{cell.value:.4f}", ""
    raise AssertionError(cell.kind)


def _by_category(df: pd.DataFrame, cats: pd.Series, fn, part: int) -> dict:
    """``{"TOTAL": fn(df), "STATEMENT_CATEGORY_X": fn(rows of X) ...}`` for every category of ``part``."""
    out = {"TOTAL": fn(df)}
    for cat in template_categories(part):
        out[cat] = fn(df[cats == cat])
    if "dsa_keywords" in df.columns:
        kw = df["dsa_keywords"].fillna("").astype(str)
        for keyword in sorted({k for v in kw.unique() for k in v.split("|") if k}):
            mask = kw.str.split("|").apply(lambda ks, k=keyword: k in ks)
            for cat in template_categories(part):
                out[(cat, keyword)] = fn(df[mask & (cats == cat)])
    return out


def template_categories(part: int) -> list[str]:
    """Statement categories listed in a part's template, in order (Part 6 adds OTHER_VIOLATION_TC)."""
    _, rows = read_template(part)
    return [r[CATEGORY_COL] for r in rows if r[CATEGORY_COL].startswith("STATEMENT_CATEGORY_")]


def _complementary_suppressions(values: dict, k: int) -> set[tuple[str, str]]:
    """(category, column) count cells to hide so a lone small cell cannot be derived from TOTAL.

    The categories of a column add up to its TOTAL: with exactly one category cell suppressed,
    ``TOTAL - sum(shown)`` would reveal it, so the smallest other non-zero category cell of
    that column is suppressed too (secondary suppression, as in statistical disclosure control).
    """
    cats = [key for key in values if isinstance(key, str) and key.startswith("STATEMENT_CATEGORY_")]
    columns = {
        col for key in cats for col, cell in values[key].items() if cell is not None and cell.kind == "count"
    }
    hidden = set()
    for col in sorted(columns):
        cells = {c: values[c].get(col) for c in cats if values[c].get(col) is not None}
        small = [c for c, cell in cells.items() if 0 < cell.value < k]
        if len(small) != 1:
            continue
        others = sorted((cell.value, c) for c, cell in cells.items() if cell.value >= k)
        if others:
            hidden.add((others[0][1], col))
    return hidden


def _fill_category_part(part: int, values: dict, service: str, period: str, k: int) -> list[list[str]]:
    header, rows = read_template(part)
    complementary = _complementary_suppressions(values, k)
    ctx_index = {h.lower().removeprefix("contextual information on ").strip(): i
                 for i, h in enumerate(header) if h.lower().startswith("contextual information on ")}  # fmt: skip
    out, current_cat = [], None
    for r in rows:
        row = list(r)
        row[1], row[2] = service, period
        label = row[CATEGORY_COL]
        if label.startswith("STATEMENT_CATEGORY_"):
            current_cat = label
        key = (
            label if label in ("TOTAL",) or label.startswith("STATEMENT_CATEGORY_") else (current_cat, label)
        )
        cells = values.get(key)
        if cells:
            for col, cell in cells.items():
                i = header.index(col)
                text, note = _format(cell, k)
                if (key, col) in complementary:
                    text, note = "", f"Suppressed: fewer than {k} in another category (complementary)"
                row[i] = text
                if note:
                    row[ctx_index[col.strip().lower()]] = note
        out.append(row)
    return [header] + out


def _fill_indicator_part(part: int, values: dict[tuple[str, str], _Cell | str], service: str, period: str,
                         k: int) -> list[list[str]]:  # fmt: skip
    """Parts 7 and 8: rows keyed by (Indicator, Scope); the value goes to 'Value'."""
    header, rows = read_template(part)
    vi, ci = header.index("Value"), len(header) - 1  # last column: Contextual Information
    out = []
    for r in rows:
        row = list(r)
        row[1], row[2] = service, period
        key = (row[4], row[5])
        cell = values.get(key)
        if isinstance(cell, str):  # a note only (not available)
            row[ci] = cell
        elif cell is not None:
            text, note = _format(cell, k)
            row[vi] = text
            if note:
                row[ci] = note
        out.append(row)
    return [header] + out


# --------------------------------------------------------------------------- the parts


def part4_values(notices: pd.DataFrame, actions: pd.DataFrame, cats: pd.Series) -> dict:
    """Part 4 (notices, Art. 16) by category.

    Notices received in the period; items of information = distinct ``content_id``; median
    time to take action = ``handled_at - received_at`` in hours over handled notices
    (outcome ``actioned`` or ``no_violation``); actions on the basis of the law / of the terms
    and conditions = actioned notices whose linked action's ``ground`` is ``illegal_content`` /
    ``terms_of_service``.
    """
    ground = notices["action_id"].map(actions.set_index("action_id")["ground"]) if len(actions) else None
    n = notices.assign(_ground=ground if ground is not None else None)

    def fn(d: pd.DataFrame) -> dict[str, _Cell]:
        tf = d[d["reporter_type"] == "trusted_flagger"]
        handled = d[d["outcome"].isin(["actioned", "no_violation"])]
        handled_tf = handled[handled["reporter_type"] == "trusted_flagger"]
        acted = d[d["outcome"] == "actioned"]
        acted_tf = acted[acted["reporter_type"] == "trusted_flagger"]
        return {
            "Number of notices received ": _count(len(d)),
            "Number of notices received from Trusted flaggers": _count(len(tf)),
            "Number of specific items of information included in the total number of notices": _count(
                d["content_id"].dropna().nunique()
            ),
            "Number of specific items of information included in the total number of notices by Trusted Flaggers "
            "(Trusted Flagger notices)": _count(tf["content_id"].dropna().nunique()),
            "Median time to take action": _med(_hours(handled["handled_at"], handled["received_at"])),
            "Median time to take action (Trusted Flagger notices)": _med(
                _hours(handled_tf["handled_at"], handled_tf["received_at"])
            ),
            "Number of actions taken on the basis of the law": _count(
                (acted["_ground"] == "illegal_content").sum()
            ),
            "Number of actions taken on the basis of the law (Trusted Flagger notices)": _count(
                (acted_tf["_ground"] == "illegal_content").sum()
            ),
            "Number of actions taken on the basis of the terms and conditions of the service": _count(
                (acted["_ground"] == "terms_of_service").sum()
            ),
            "Number of actions taken on the basis of the terms and conditions of the service (Trusted Flagger "
            "notices)": _count((acted_tf["_ground"] == "terms_of_service").sum()),
        }

    return _by_category(n, cats, fn, 4)


def restriction_flags(actions: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame: which Annex I restriction columns each action counts in.

    Imported Transparency Database rows carry the exact DSA decision values (one decision
    may count in several columns); the platform's own data maps ``action_type``.
    """
    flags = pd.DataFrame(index=actions.index)
    if "dsa_visibility" in actions.columns:
        for col, (src, value) in DSA_DECISION_COLUMNS.items():
            s = (
                actions[src].fillna("").astype(str)
                if src in actions.columns
                else pd.Series("", index=actions.index)
            )
            if src == "dsa_provision":
                flags[col] = s.str.contains(value, regex=False)
            else:
                flags[col] = s.str.split("|").apply(lambda vs, v=value: v in vs)
    else:
        at = actions["action_type"].astype(object)
        for col in DSA_DECISION_COLUMNS:
            flags[col] = False
        for action_type, col in ACTION_TYPE_COLUMNS.items():
            flags[col] = flags[col] | (at == action_type)
    return flags


def part56_values(actions: pd.DataFrame, cats: pd.Series, ground: str) -> dict:
    """Parts 5 (``ground='illegal_content'``) and 6 (``'terms_of_service'``): own-initiative measures.

    Own initiative = ``detection_source`` in ``automated``/``proactive_review``; "after detection with
    solely automated means" = ``detection_source == 'automated'``.
    """
    own = actions["detection_source"].isin(contract.PROACTIVE_SOURCES) & (actions["ground"] == ground)
    a = actions[own]
    flags = restriction_flags(a)

    def fn(d: pd.DataFrame) -> dict[str, _Cell]:
        f = flags.loc[d.index]
        cells = {
            "Number of measures taken at the provider's own initiative ": _count(len(d)),
            "Number of measures taken after detection with solely automated means ": _count(
                (d["detection_source"] == "automated").sum()
            ),
        }
        for col in DSA_DECISION_COLUMNS:
            cells[col] = _count(f[col].sum())
        return cells

    return _by_category(a, cats[a.index], fn, 5 if ground == "illegal_content" else 6)


def part7_values(appeals: pd.DataFrame, actions_all: pd.DataFrame) -> dict:
    """Part 7: complaints (Art. 20) and out-of-court disputes (Art. 21) submitted in the period.

    Upheld / partially reversed / reversed = outcome ``upheld`` / ``partially_overturned`` /
    ``overturned``; median time = ``resolved_at - submitted_at`` in hours over resolved ones.
    Rows the contract cannot support (complaints about notices, restrictions newly imposed,
    decisions omitted, repeat-offender suspensions) say so in *Contextual Information*.
    """
    at = (
        appeals["action_id"].map(actions_all.set_index("action_id")["action_type"])
        if len(actions_all)
        else None
    )
    ap = appeals.assign(_action_type=at)
    na = "Not available: not recorded in the data"

    def block(d: pd.DataFrame, indicator: str, with_omitted: bool) -> dict:
        resolved = d[d["outcome"] != "pending"]
        v = {
            (indicator, "Total number"): _count(len(d)),
            (indicator, "Decisions upheld"): _count((d["outcome"] == "upheld").sum()),
            (indicator, "Decisions partially reversed"): _count(
                (d["outcome"] == "partially_overturned").sum()
            ),
            (indicator, "Decisions reversed"): _count((d["outcome"] == "overturned").sum()),
            (indicator, "Median time"): _med(_hours(resolved["resolved_at"], resolved["submitted_at"])),
        }
        if with_omitted:
            v[(indicator, "Decision omitted")] = na
        return v

    internal = ap[ap["channel"] == "internal_complaint"]
    ooc = ap[ap["channel"] == "out_of_court"]
    values: dict = {}
    values.update(
        block(internal, "Number of complaints submitted to the internal-complaints mechanism", True)
    )
    values[("Number of restrictions newly imposed as a result of an internal complaint", "Total number")] = na
    for indicator, types in COMPLAINT_SCOPES.items():
        values.update(block(internal[internal["_action_type"].isin(types)], indicator, False))
    for indicator in (
        "Complaint regarding a decision not to take action on a notice submitted in accordance with Article 16",
        "Complaint regarding a decision not to take action on a notice submitted by a Trusted Flagger in "
        "accordance with Article 16",
    ):
        values[(indicator, "Total number")] = "Not available: appeals are linked to actions, not to notices"
    dispute = "Number of disputes submitted to out-of-court dispute settlement bodies"
    values.update(block(ooc, dispute, True))
    values[(dispute, "Percentage of outcomes implemented")] = na
    return values


def part8_values(actions: pd.DataFrame) -> dict:
    """Part 8: measures solely taken by automated means (``decision_mode == 'automated'``) and the rest.

    "Not taken by automated means" counts ``human`` and ``hybrid`` decisions (not *solely*
    automated); the hybrid count is stated in *Contextual Information*. Accuracy, precision and
    recall and the notice rows are not derived here.
    """
    values: dict = {}
    for scope, d in (("Total number", actions),
                     ("Own-initiative ", actions[actions["detection_source"].isin(contract.PROACTIVE_SOURCES)])):  # fmt: skip
        values[("Number of measures solely taken by automated means ", scope)] = _count(
            (d["decision_mode"] == "automated").sum()
        )
        values[("Number of measures not taken by automated means", scope)] = _count(
            (d["decision_mode"] != "automated").sum()
        )
        for ind in ("Accuracy", "Precision", "Recall"):
            values[(f"Accuracy of the automated means - {ind}", scope)] = (
                "Not available: not derived by govlib"
            )
    return values


def _hybrid_note(rows: list[list[str]], actions: pd.DataFrame, k: int) -> None:
    header = rows[0]
    vi, ci = header.index("Value"), len(header) - 1
    for scope, d in (("Total number", actions),
                     ("Own-initiative ", actions[actions["detection_source"].isin(contract.PROACTIVE_SOURCES)])):  # fmt: skip
        n = int((d["decision_mode"] == "hybrid").sum())
        for row in rows[1:]:
            if (
                row[4] == "Number of measures not taken by automated means"
                and row[5] == scope
                and row[vi] != ""
            ):
                hybrid = str(n) if n == 0 or n >= k else f"fewer than {k}"
                row[ci] = f"Includes {hybrid} decisions taken partly by automated means (hybrid)"


# --------------------------------------------------------------------------- assembly


def _market_params(markets) -> tuple[dict[str, dict[str, str]], dict[str, bool], list[int]]:
    from govlib.params import ParamsError, load_market

    local, is_dsa, cells = {}, {}, []
    for m in sorted(set(markets)):
        try:
            p = load_market(m)
        except ParamsError:
            is_dsa[m] = m in DSA_COUNTRIES  # a market without params (imported data): by geography
            continue
        local[m] = dict(p.local_policies)
        is_dsa[m] = p.regime == "DSA"
        cells.append(p.min_cell_size)
    return local, is_dsa, cells


def build_report(tables: Mapping[str, pd.DataFrame], period: str, *, service: str = "",
                 min_cell_size: int | None = None, markets: list[str] | None = None) -> dict[str, list[list[str]]]:  # fmt: skip
    """Annex I parts as lists of CSV rows (header first), keyed by file stem (``"4_notices"``...).

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Contract tables; ``enforcement_actions`` is required, ``notices`` and ``appeals``
        enable Parts 4 and 7. Rows outside the period are ignored.
    period : str
        ``YYYY-H1`` or ``YYYY-H2``.
    service : str
        Name of the service written in the ``Service`` column.
    min_cell_size : int, optional
        Small-cell threshold; default the largest ``min_cell_size`` of the markets' params (10).
    markets : list of str, optional
        Restrict to these markets (default: every market under the DSA regime).
    """
    start, end, label = parse_period(period)
    if "enforcement_actions" not in tables:
        raise ReportError("the dataset has no enforcement_actions table; Parts 5, 6 and 8 need it")
    actions_all = tables["enforcement_actions"]
    all_markets = set(actions_all["market"].dropna().astype(str))
    for name in ("notices", "appeals"):
        if name in tables:
            all_markets |= set(tables[name]["market"].dropna().astype(str))
    local, is_dsa, cells = _market_params(all_markets)
    k = int(min_cell_size or max(cells or [10]))
    keep = {m for m, ok in is_dsa.items() if ok}
    if markets:
        unknown = sorted(set(markets) - all_markets)
        if unknown:
            raise UsageError(f"--market {unknown} not in the data; markets present: {sorted(all_markets)}")
        keep &= set(markets)

    def window(df: pd.DataFrame, col: str) -> pd.DataFrame:
        t = pd.to_datetime(df[col], utc=True)
        return df[(t >= start) & (t < end) & df["market"].isin(keep)]

    actions = window(actions_all, "actioned_at")
    if "sor_uuid" in actions.columns:  # imported: one decision counts once in the EEA-wide report
        actions = actions.sort_values("action_id").drop_duplicates("sor_uuid")
    cats = dsa_categories(actions, local)
    out: dict[str, list[list[str]]] = {}
    if "notices" in tables:
        notices = window(tables["notices"], "received_at")
        out["4_notices"] = _fill_category_part(4, part4_values(notices, actions_all, dsa_categories(notices, local)),
                                               service, label, k)  # fmt: skip
    out["5_own_initiative_illegal"] = _fill_category_part(5, part56_values(actions, cats, "illegal_content"),
                                                          service, label, k)  # fmt: skip
    out["6_own_initiative_TC"] = _fill_category_part(6, part56_values(actions, cats, "terms_of_service"),
                                                     service, label, k)  # fmt: skip
    if "appeals" in tables:
        appeals = window(tables["appeals"], "submitted_at")
        out["7_appeals_and_recidivism"] = _fill_indicator_part(
            7, part7_values(appeals, actions_all), service, label, k
        )
    rows8 = _fill_indicator_part(8, part8_values(actions), service, label, k)
    _hybrid_note(rows8, actions, k)
    out["8_automated_means"] = rows8
    return out


def to_csv_text(rows: list[list[str]]) -> str:
    """RFC 4180 text: CRLF row ends, fields quoted only when needed.

    Text a spreadsheet would run as a formula (e.g. a ``--service`` name beginning with ``=``)
    gets a leading ``'`` (:func:`govlib.privacy.neutralise_formula`); numbers are unchanged.
    """
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerows([neutralise_formula(c) for c in row] for row in rows)
    return buf.getvalue()


def write_report(parts: Mapping[str, list[list[str]]], out: str | Path) -> list[Path]:
    """Write each part as ``<out>/<stem>.csv`` (UTF-8, no BOM); returns the paths written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, rows in parts.items():
        p = out / f"{stem}.csv"
        p.write_bytes(to_csv_text(rows).encode("utf-8"))
        paths.append(p)
    return paths


def load_period_tables(data: Path, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, pd.DataFrame]:
    from govlib.data.load import open_dataset

    ds = open_dataset(data)
    tables = {"enforcement_actions": ds.load("enforcement_actions")}
    for name in ("notices", "appeals"):
        if ds.has(name):
            tables[name] = ds.load(name, start=start, end=end)
    return tables
