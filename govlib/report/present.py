"""Presentation helpers of the report notebooks: prose, tables and KPI labels.

No metric is computed here: these functions only *show* what :mod:`govlib.metrics` computed,
in the report's language and locale. Everything they display is deterministic (no object
addresses, no random ids), so executed notebooks are byte-stable and nbval can compare them.
"""

from __future__ import annotations

import html as _html
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from govlib.text import N_

# Display names of the headline KPIs (ids and meanings: shared/spec/kpis.md).
KPI_LABELS: dict[str, str] = {
    "actions_total": N_("Enforcement actions"),
    "proactive_rate": N_("Proactive detection rate"),
    "automated_decision_rate": N_("Automated decision rate"),
    "removed_before_views_rate": N_("Removed before any views"),
    "removed_within_24h_rate": N_("Removed within 24 hours"),
    "notice_median_hours_to_action": N_("Median hours from notice to action"),
    "appeals_submitted": N_("Appeals submitted"),
    "appeal_rate": N_("Appeals per enforcement action"),
    "overturn_rate": N_("Appeal overturn rate"),
    "appeal_median_hours_to_resolve": N_("Median hours to resolve an appeal"),
    "violating_view_prevalence": N_("Violating-view prevalence"),
    "recidivism_90d": N_("Repeat violation within 90 days"),
}
# Display names of the contract's enum values (policies, action types, ...), shown in tables and charts.
VALUE_LABELS: dict[str, str] = {
    "(all)": N_("All"),
    "(none)": N_("None"),
    "(unspecified)": N_("Unspecified"),
    # action types
    "warning": N_("Warning"),
    "content_removed": N_("Content removed"),
    "visibility_limited": N_("Visibility limited"),
    "commission_withheld": N_("Commission withheld"),
    "feature_restricted": N_("Feature restricted"),
    "account_suspended": N_("Account suspended"),
    "account_banned": N_("Account banned"),
    # detection sources, decision modes, reporters
    "automated": N_("Automated"),
    "proactive_review": N_("Proactive review"),
    "user_report": N_("User report"),
    "trusted_flagger": N_("Trusted flagger"),
    "authority_order": N_("Authority order"),
    "human": N_("Human"),
    "hybrid": N_("Hybrid"),
    "user": N_("User"),
    "authority": N_("Authority"),
    # policies
    "prohibited_product": N_("Prohibited product"),
    "unsafe_product": N_("Unsafe product"),
    "counterfeit_ip": N_("Counterfeit or IP infringement"),
    "misleading_claims": N_("Misleading claims"),
    "undisclosed_ads": N_("Undisclosed advertising"),
    "scam_fraud": N_("Scam or fraud"),
    "fake_engagement": N_("Fake engagement"),
    "off_platform_trade": N_("Off-platform trade"),
    "hate_harassment": N_("Hate or harassment"),
    "minor_safety": N_("Minor safety"),
    "adult_content": N_("Adult content"),
    "dangerous_activity": N_("Dangerous activity"),
    "privacy_violation": N_("Privacy violation"),
    "other": N_("Other"),
    # tiers
    "new": N_("New"),
    "rising": N_("Rising"),
    "established": N_("Established"),
    "top": N_("Top"),
    # health restrictions
    "none": N_("None"),
    "traffic_limited": N_("Traffic limited"),
    "ecommerce_suspended": N_("E-commerce suspended"),
    "ecommerce_permanently_removed": N_("E-commerce permanently removed"),
    # breakdown dimensions and metrics
    "policy": N_("Policy"),
    "dsa_category": N_("DSA category"),
    "action_type": N_("Action type"),
    "detection_source": N_("Detection source"),
    "decision_mode": N_("Decision mode"),
    "content_type": N_("Content type"),
    "language": N_("Language"),
    "creator_tier": N_("Creator tier"),
    "actions": N_("Actions"),
    "share_of_actions": N_("Share of actions"),
    "proactive_rate": N_("Proactive detection rate"),
    "automated_decision_rate": N_("Automated decision rate"),
    # early-warning reasons
    "milestone": N_("Next milestone"),
    "repeat_policy": N_("Repeat-policy rule"),
    "any": N_("Any reason"),
    # content types
    "short_video": N_("Short video"),
    "livestream": N_("Livestream"),
    "product_showcase": N_("Product showcase"),
    "image": N_("Image"),
    "text": N_("Text"),
}
# kpis.md unit -> Formatter kind
UNIT_KIND = {"count": "count", "share": "percent", "ratio": "number", "hours": "hours"}


class Table:
    """A table for a report: HTML without index in HTML exports, plain text elsewhere.

    Unlike a pandas ``Styler`` its text representation has no memory address and its HTML
    no random id, so the notebook output is identical on every run.
    """

    def __init__(self, df: pd.DataFrame, caption: str | None = None):
        self.df = df.reset_index(drop=True)
        self.caption = caption

    def _repr_html_(self) -> str:
        body = self.df.to_html(index=False, escape=True, border=0, na_rep="", classes="govlib-table")
        if self.caption:
            body = body.replace(
                '<table border="0" class="dataframe govlib-table">',
                f'<table border="0" class="dataframe govlib-table"><caption>{_html.escape(self.caption)}</caption>',
                1,
            )
        return body

    def __repr__(self) -> str:
        text = self.df.to_string(index=False) if len(self.df) else "(empty)"
        return f"{self.caption}\n{text}" if self.caption else text


def show(markdown: str) -> None:
    """Display translated prose (Markdown) as a notebook output."""
    from IPython.display import Markdown, display

    display(Markdown(markdown))


def show_table(df: pd.DataFrame, caption: str | None = None) -> None:
    """Display a table (already formatted as text by the caller's :class:`Formatter`)."""
    from IPython.display import display

    display(Table(df, caption))


def show_figure(fig) -> None:
    """Display a matplotlib figure once and close it (no duplicate output, no open figures)."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def not_available(_: Callable[[str], str], table: str) -> str:
    """Sentence shown instead of a section whose optional table is absent."""
    return _("Not available for this dataset: it has no {table} table.").format(table=table)


def not_available_for_source(_: Callable[[str], str], source: str) -> str:
    """Sentence shown instead of a section the dataset's source cannot support.

    For imported datasets whose ``dataset.json`` lists the section under
    ``unavailable_sections`` (see :func:`govlib.dsa.section_available`); the English text
    contains :data:`govlib.dsa.NOT_AVAILABLE_TEXT`.
    """
    return _(
        "This section is not available for this source ({source}): the data it needs is not published there."
    ).format(source=source)


def no_data_banner(_: Callable[[str], str], fmt: Any, market: str, month: str) -> str:
    """The banner of a market-month without data (``Cube.has_data`` False): why its indicators are empty."""
    return _(
        "**No data for {month}.** The data has no enforcement action and no content published in {market} "
        "in {month}, only other events (such as notices or rewards). The month's indicators are not computed "
        "and no change is shown against it; check that the data export covers this month."
    ).format(month=fmt.month(month), market=market)


def kpi_label(_: Callable[[str], str], kpi_id: str) -> str:
    """Translated display name of a KPI id (the id itself when it has no label)."""
    return _(KPI_LABELS[kpi_id]) if kpi_id in KPI_LABELS else kpi_id


def label(_: Callable[[str], str], value: Any) -> str:
    """Translated display name of an enum value (a policy, action type, tier...); other values as they are.

    Local policies and product categories without a label are shown as their slug with
    underscores replaced by spaces.
    """
    text = str(value)
    if text in VALUE_LABELS:
        return _(VALUE_LABELS[text])
    return text.replace("_", " ")


def label_column(_: Callable[[str], str], values) -> list[str]:
    """:func:`label` of each value of a column."""
    return [label(_, v) for v in list(values)]


def format_kpi(fmt: Any, row: Mapping[str, Any], with_interval: bool = True) -> str:
    """One KPI value in the report's locale, with its 95% interval when it has one."""
    kind = UNIT_KIND.get(str(row["unit"]), "number")
    digits = 2 if kind == "number" else 1
    if with_interval and kind == "percent":
        return fmt.rate_with_interval(row["value"], row["ci_low"], row["ci_high"], digits=digits)
    return fmt.value(row["value"], kind, digits)


def format_change(fmt: Any, new: Any, old: Any, unit: str) -> str:
    """Change from ``old`` to ``new``: percentage points for shares, relative change otherwise."""
    if _missing(new) or _missing(old):
        return fmt.na
    if unit == "share":
        pts = (float(new) - float(old)) * 100
        sign = "+" if pts > 0 else ""
        # TRANSLATORS: a change of a share in percentage points, e.g. "+1.2 pp"
        return fmt._("{value} pp").format(value=f"{sign}{fmt.number(pts, 1)}")
    if float(old) == 0:
        return fmt.na
    rel = float(new) / float(old) - 1
    sign = "+" if rel > 0 else ""
    return f"{sign}{fmt.percent(rel, 1)}"


def headline_table(
    _: Callable[[str], str],
    fmt: Any,
    kpis: pd.DataFrame,
    month: str,
    previous: str,
    year_ago: str,
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Headline KPIs of ``month`` beside ``previous`` and ``year_ago`` (text, for display).

    ``kpis`` is a KPI history in the export format (e.g. ``Cube.kpis``). Columns: KPI,
    this month (with interval), last month, change, same month last year, change.
    """
    by_month = {m: g.set_index("kpi_id") for m, g in kpis.groupby("month", sort=False)}
    empty = pd.DataFrame(columns=kpis.columns).set_index("kpi_id")
    now = by_month.get(month, empty)
    prev = by_month.get(previous, empty)
    year = by_month.get(year_ago, empty)
    ids = list(order) if order is not None else list(now.index)
    rows = []
    for kid in ids:
        if kid not in now.index:
            continue
        r = now.loc[kid]
        unit = str(r["unit"])
        p = prev.loc[kid] if kid in prev.index else None
        y = year.loc[kid] if kid in year.index else None
        rows.append(
            {
                _("Indicator"): kpi_label(_, kid),
                fmt.month(month): format_kpi(fmt, r),
                fmt.month(previous): format_kpi(fmt, p, with_interval=False) if p is not None else fmt.na,
                _("Change on last month"): format_change(
                    fmt, r["value"], p["value"] if p is not None else None, unit
                ),
                fmt.month(year_ago): format_kpi(fmt, y, with_interval=False) if y is not None else fmt.na,
                _("Change on last year"): format_change(
                    fmt, r["value"], y["value"] if y is not None else None, unit
                ),
            }
        )
    return pd.DataFrame(rows)


def format_columns(
    fmt: Any,
    df: pd.DataFrame,
    kinds: Mapping[str, str],
    rename: Mapping[str, str] | None = None,
    digits: int = 1,
) -> pd.DataFrame:
    """Format ``kinds`` columns with ``fmt`` (``{"share": "percent"}``), keep the others, rename for display."""
    out = df.copy()
    for col, kind in kinds.items():
        if col in out.columns:
            out[col] = [v if isinstance(v, str) else fmt.value(v, kind, digits) for v in out[col].tolist()]
    if rename:
        out = out.rename(columns=dict(rename))
    return out


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):
        return False


def is_nan(x: Any) -> bool:
    """True for None / NaN (convenience for notebooks' prose conditions)."""
    return _missing(x) or (isinstance(x, float) and math.isnan(x))
