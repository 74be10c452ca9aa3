"""Sections of the DSA peer report (``notebooks/dsa_peers.ipynb``): a platform beside its peers, from statements of reasons.

The context (:func:`open_dsa_context`) holds the statement archive of ``govlib dsa sync``
(``GOVLIB_DSA_ARCHIVE`` or the notebook's ``archive``), the months covered, the platform of
interest and its peers. Every figure is an aggregate of :mod:`govlib.dsa.peers_sor` (Ibis, so
DuckDB or Spark per ``GOVLIB_ENGINE``), memoised in the context; rates carry 95% Wilson intervals.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from govlib import config
from govlib.dsa import peers_sor as ps
from govlib.report import present
from govlib.report.sections.base import ReportContext, Section

# A decision reaches the database after it is taken: dumps are read this many days past the range.
ENTRY_LAG_DAYS = 31
TOP_STATES = 12


def open_dsa_context(
    month: str, *, months: int = 6, archive: str = "", platform: str = "TikTok", peers: str = "",
    peer_reports: str = "", lang: str = "",
) -> ReportContext:  # fmt: skip
    """The context of the DSA peer report.

    Parameters
    ----------
    month : str
        Last month covered, ``YYYY-MM`` (UTC: the database's time zone).
    months : int, default 6
        Months covered, ending with ``month``.
    archive : str, default ""
        The statement archive (``govlib dsa sync --store``); empty: ``GOVLIB_DSA_ARCHIVE``.
    platform : str, default "TikTok"
        The platform of interest, as named in the statements.
    peers : str, default ""
        Comma-separated peer platforms.
    peer_reports : str, default ""
        Folder of published transparency reports (``govlib dsa peers``); empty: ``GOVLIB_PEER_REPORTS``.
    lang : str, default ""
        Report language; empty: en_GB.

    Returns
    -------
    ReportContext
        ``market`` is ``"EEA"``; ``extra`` holds ``store``, ``date_from``, ``date_to``,
        ``platform``, ``peers`` and ``peer_reports``.

    Raises
    ------
    ArchiveError
        No archive configured or found, or no stored day in the range.
    """
    from govlib.report import theme
    from govlib.report.i18n import Formatter, get_translator
    from govlib.timeutil import parse_month, shift_month

    store = archive or (str(config.current().dsa_archive or ""))
    if not store:
        raise ps.ArchiveError(
            "no statement archive: set GOVLIB_DSA_ARCHIVE or the notebook's archive parameter "
            "(a folder filled by 'govlib dsa sync')"
        )
    month = parse_month(month)
    first = pd.Period(shift_month(month, -(months - 1)), "M")
    last = pd.Period(month, "M")
    language = lang or "en_GB"
    ctx = ReportContext(
        market="EEA", month=month, params=None, language=language, _=get_translator(language).gettext,
        fmt=Formatter(locale=language, currency="EUR", language=language), cube=None,
        extra={
            "store": store, "date_from": first.start_time.date(), "date_to": last.end_time.date(),
            "platform": platform, "peers": [p.strip() for p in peers.split(",") if p.strip()],
            "peer_reports": peer_reports or str(config.PEER_REPORTS_DIR),
        },
    )  # fmt: skip
    ctx.memo("table", lambda: _open(ctx))
    theme.apply_theme()
    return ctx


def _open(ctx: ReportContext):
    """The range's statements of the platform and peers (dumps read ``ENTRY_LAG_DAYS`` past the range).

    An archive without a day in the range gives None (``extra["found"]`` all None, ``extra["empty"]``
    True): the report then says so instead of failing, so the roll-up folder it shares still publishes.
    """
    x = ctx.extra
    try:
        t = ps.open_archive(
            x["store"], date_from=x["date_from"], date_to=x["date_to"] + timedelta(days=ENTRY_LAG_DAYS)
        )
    except ps.NoStatementsError:
        x["found"], x["empty"] = dict.fromkeys([x["platform"], *x["peers"]]), True
        return None
    names = sorted(t.select("platform_name").distinct().to_pandas()["platform_name"])
    wanted = [x["platform"], *x["peers"]]
    # each requested platform -> the archive's spelling (Amazon ~ Amazon Store), in the order asked
    found = {w: next((n for n in names if ps.same_service(n, w)), None) for w in wanted}
    ctx.extra["found"] = found
    return t.filter(t.platform_name.isin([n for n in found.values() if n]))


def _agg(ctx: ReportContext, by: tuple[str, ...]) -> pd.DataFrame:
    x = ctx.extra
    expr = ps.statement_aggregates(ctx.memo("table", lambda: _open(ctx)), by=by, date_from=x["date_from"],
                                   date_to=x["date_to"])  # fmt: skip
    return ctx.memo(f"agg:{','.join(by)}", lambda: ps.with_intervals(ps.execute(expr)))


def _order(ctx: ReportContext) -> list[str]:
    """Platforms shown, the platform of interest first, in the archive's spelling."""
    return [n for n in ctx.extra["found"].values() if n]


def _rate(fmt, row, share: str) -> str:
    return fmt.rate_with_interval(row[share], row[f"{share}_low"], row[f"{share}_high"])


def intro(ctx: ReportContext) -> Section:
    """Title, range, platforms and what is counted; names requested platforms without statements."""
    _, fmt, x = ctx._, ctx.fmt, ctx.extra
    ctx.memo("table", lambda: _open(ctx))
    s = Section()
    s.markdown("# " + _("DSA peers: {platform} beside marketplace peers").format(platform=x["platform"]))
    s.markdown(
        _(
            "Statements of reasons in the EU DSA Transparency Database, decided from {start} to {end} (UTC), for "
            "{platform} and its peers. A statement covering several member states counts once in each member "
            "state's figures and once in EEA-wide figures. Rates show 95% Wilson intervals. Statements are read from "
            "the daily dumps up to {lag} days after the range, as decisions reach the database after they are taken."
        ).format(
            start=fmt.date(pd.Timestamp(x["date_from"])),
            end=fmt.date(pd.Timestamp(x["date_to"])),
            platform=x["platform"],
            lag=ENTRY_LAG_DAYS,
        )  # fmt: skip
    )
    missing = [w for w, n in x["found"].items() if n is None]
    s.data["missing"] = missing
    if x.get("empty"):
        return s.markdown(
            _(
                "**No statements:** the archive holds no day from {start} to {end}; sync those days first."
            ).format(start=fmt.date(pd.Timestamp(x["date_from"])), end=fmt.date(pd.Timestamp(x["date_to"])))
        )
    if missing:
        s.markdown(
            _("**No statements** in the archive for: {platforms}.").format(platforms=", ".join(missing))
        )
    return s


def headline(ctx: ReportContext) -> Section:
    """One row per platform: EEA-wide statements, automation and ground shares with intervals, durations."""
    if not _order(ctx):  # no statement of these platforms in the range (the intro says so)
        return Section()
    _, fmt = ctx._, ctx.fmt
    eea = _agg(ctx, ("platform_name",)).set_index("platform_name")
    rows = []
    for name in _order(ctx):
        if name not in eea.index:
            continue
        r = eea.loc[name]
        rows.append({
            _("Platform"): name, _("Statements"): fmt.count(r["statements"]),
            _("Detected automatically"): _rate(fmt, r, "automated_detection_share"),
            _("Decided fully automatically"): _rate(fmt, r, "automated_decision_share"),
            _("Illegal content (vs terms of service)"): _rate(fmt, r, "illegal_content_share"),
            _("Days content to decision, median"): fmt.number(r["content_to_decision_median"], 1),
        })  # fmt: skip
    s = Section(data={"eea": eea.reset_index()})
    s.markdown("## " + _("Headline figures, EEA-wide"))
    return s.table(pd.DataFrame(rows), _("Statements of reasons by platform"))


def automation_figure(ctx: ReportContext) -> Section:
    """The share decided fully automatically per platform, with 95% intervals (a chart)."""
    if not _order(ctx):  # no statement of these platforms in the range (the intro says so)
        return Section()
    from govlib.report import theme

    _ = ctx._
    eea = _agg(ctx, ("platform_name",))
    eea = eea.set_index("platform_name").reindex([n for n in _order(ctx) if n in set(eea.platform_name)])
    fig, ax = theme.new_figure(height_cm=3 + 0.9 * max(len(eea), 1))
    y = range(len(eea))
    for i, share in enumerate(("automated_detection_share", "automated_decision_share")):
        v, lo, hi = (eea[c] * 100 for c in (share, f"{share}_low", f"{share}_high"))
        ax.errorbar(v, [k + 0.15 * (2 * i - 1) for k in y], xerr=[(v - lo).clip(lower=0), (hi - v).clip(lower=0)], fmt="o", capsize=3,
                    label=_(ps.RATE_LABELS[share]))  # fmt: skip
    ax.set_yticks(list(y), list(eea.index))
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    fig.legend(loc="outside lower center", ncols=2)  # below the axes: inside it hid the points
    theme.label_axes(ax, _("Automation by platform"), _("Share of statements"), _("Platform"), x_unit="%")
    s = Section(data={"eea": eea.reset_index()})
    s.markdown("## " + _("Automated detection and decision"))
    return s.figure(fig)


def member_states(ctx: ReportContext) -> Section:
    """Per member state: each platform's statements and share decided fully automatically (largest states first)."""
    if not _order(ctx):  # no statement of these platforms in the range (the intro says so)
        return Section()
    _, fmt = ctx._, ctx.fmt
    ms = _agg(ctx, ("platform_name", "member_state"))
    top = ms.groupby("member_state")["statements"].sum().sort_values(ascending=False, kind="stable")
    states = sorted(top.index[:TOP_STATES])
    table = {_("Member state"): states}
    for name in _order(ctx):
        g = ms[ms.platform_name == name].set_index("member_state")
        table[name] = [
            f"{fmt.count(g.loc[m, 'statements'])} · {_rate(fmt, g.loc[m], 'automated_decision_share')}"
            if m in g.index else fmt.na
            for m in states
        ]  # fmt: skip
    s = Section(data={"member_states": ms})
    s.markdown("## " + _("By member state"))
    s.markdown(
        _(
            "The {n} member states with most statements: statements, then the share decided fully automatically."
        ).format(n=len(states))
    )
    return s.table(pd.DataFrame(table), _("Statements and automated decisions by member state"))


def _shares_table(ctx: ReportContext, df: pd.DataFrame, key: str, label) -> pd.DataFrame:
    """Rows ``key`` values, one column per platform: statements with that value / the platform's statements."""
    fmt = ctx.fmt
    totals = _agg(ctx, ("platform_name",)).set_index("platform_name")["statements"]
    values = sorted(df[key].unique())
    table = {ctx._("Value"): [label(v) for v in values]}
    for name in _order(ctx):
        g = df[df.platform_name == name].set_index(key)["statements"]
        table[name] = [fmt.percent(g.get(v, 0) / totals[name]) if name in totals else fmt.na for v in values]
    return pd.DataFrame(table)


def categories(ctx: ReportContext) -> Section:
    """Share of each platform's statements per DSA category."""
    if not _order(ctx):  # no statement of these platforms in the range (the intro says so)
        return Section()
    _ = ctx._
    cat = _agg(ctx, ("platform_name", "category"))
    s = Section(data={"categories": cat})
    s.markdown("## " + _("By DSA category"))
    table = _shares_table(
        ctx, cat, "category", lambda v: v.removeprefix("STATEMENT_CATEGORY_").replace("_", " ").lower()
    )
    return s.table(table, _("Share of each platform's statements by category"))


def monthly(ctx: ReportContext) -> Section:
    """Statements and the shares detected and decided automatically, per platform and month."""
    if not _order(ctx):  # no statement of these platforms in the range (the intro says so)
        return Section()
    _, fmt = ctx._, ctx.fmt
    mon = _agg(ctx, ("platform_name", "month"))
    order = {n: i for i, n in enumerate(_order(ctx))}
    mon = mon.sort_values(
        ["platform_name", "month"], key=lambda c: c.map(order) if c.name == "platform_name" else c
    )
    rows = [{
        _("Platform"): r.platform_name, _("Month"): fmt.month(r.month), _("Statements"): fmt.count(r.statements),
        _("Detected automatically"): _rate(fmt, r._asdict(), "automated_detection_share"),
        _("Decided fully automatically"): _rate(fmt, r._asdict(), "automated_decision_share"),
    } for r in mon.itertuples()]  # fmt: skip
    s = Section(data={"monthly": mon})
    s.markdown("## " + _("Month by month"))
    return s.table(pd.DataFrame(rows), _("Statements by platform and month"))


def decisions_and_content(ctx: ReportContext) -> Section:
    """Decision types and content types: the share of each platform's statements with each."""
    if not _order(ctx):  # no statement of these platforms in the range (the intro says so)
        return Section()
    _ = ctx._
    eea = _agg(ctx, ("platform_name",))
    kinds = {"visibility": _("Visibility restricted"), "monetary": _("Monetary restriction"),
             "provision": _("Service provision restricted"), "account": _("Account restricted")}  # fmt: skip
    dec = eea.melt(id_vars="platform_name", value_vars=list(kinds), var_name="kind", value_name="n")
    dec = dec.rename(columns={"n": "statements"})
    x = ctx.extra
    t = ctx.memo("table", lambda: _open(ctx))
    ct = ctx.memo("content_types", lambda: ps.execute(ps.breakdown(
        t, "content_type", by=("platform_name",), date_from=x["date_from"], date_to=x["date_to"])))  # fmt: skip
    s = Section(data={"decisions": dec, "content_types": ct})
    s.markdown("## " + _("Decisions and content"))
    s.markdown(
        _(
            "A statement may restrict several things and concern several content types: shares add up to more than 100%."
        )
    )
    s.table(_shares_table(ctx, dec, "kind", kinds.get), _("Share of statements by type of decision"))
    label = lambda v: v.removeprefix("CONTENT_TYPE_").replace("_", " ").lower()  # noqa: E731
    return s.table(_shares_table(ctx, ct.rename(columns={"value": "type"}), "type", label),
                   _("Share of statements by content type"))  # fmt: skip


def timeliness(ctx: ReportContext) -> Section:
    """Days from content to decision and from decision to database entry: median and 90th percentile."""
    if not _order(ctx):  # no statement of these platforms in the range (the intro says so)
        return Section()
    _, fmt = ctx._, ctx.fmt
    eea = _agg(ctx, ("platform_name",)).set_index("platform_name")
    cols = {"content_to_decision_median": _("Content to decision, median"),
            "content_to_decision_p90": _("Content to decision, 90th percentile"),
            "decision_to_entry_median": _("Decision to database, median"),
            "decision_to_entry_p90": _("Decision to database, 90th percentile")}  # fmt: skip
    rows = [{_("Platform"): n, **{v: fmt.number(eea.loc[n, c], 1) for c, v in cols.items()}}
            for n in _order(ctx) if n in eea.index]  # fmt: skip
    s = Section(data={"timeliness": eea.reset_index()})
    s.markdown("## " + _("Timeliness (days)"))
    s.markdown(
        _(
            "Content date is when the content was posted or the behaviour took place, so the first figure is an upper "
            "bound of the time to act; a content date after the decision is left out as a date error."
        )
    )
    return s.table(pd.DataFrame(rows), _("Days from content to decision and to database entry"))


def _periods(ctx: ReportContext) -> pd.DataFrame:
    """Published Part 8 figures of the shown platforms (``govlib dsa peers``), warnings silenced."""
    import warnings
    from pathlib import Path

    from govlib.dsa.peers import peer_figures, read_peer_reports

    folder = Path(ctx.extra["peer_reports"])
    if not folder.is_dir():
        return pd.DataFrame(columns=["service", "period", "figure"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reader's notes are the peers command's, not this report's
        figs = peer_figures(read_peer_reports([folder]))
    return figs[figs["figure"] == "solely_automated_share"]


def _consistency_rows(ctx: ReportContext) -> pd.DataFrame:
    """:func:`govlib.dsa.peers_sor.consistency` for every shown platform and published period."""
    from datetime import date

    figs, frames = _periods(ctx), []
    for name in _order(ctx):
        for period in sorted(set(figs.loc[[ps.same_service(name, s) for s in figs["service"]], "period"])):
            lo, hi = (date.fromisoformat(d) for d in period.split("/"))
            try:
                t = ps.open_archive(ctx.extra["store"], date_from=lo, date_to=hi + timedelta(days=ENTRY_LAG_DAYS),
                                    platforms=None)  # fmt: skip
            except ps.ArchiveError:  # no stored day in that period: nothing to compare
                continue
            frames.append(ps.consistency(t, figs, name, period))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, ignore_index=True)
    return out[out["coverage"] > 0].reset_index(drop=True)  # dumps only after the period: not reached


def consistency(ctx: ReportContext) -> Section:
    """Statements against each platform's published transparency report for the same period, with flags."""
    _, fmt = ctx._, ctx.fmt
    res = ctx.memo("consistency", lambda: _consistency_rows(ctx))
    s = Section(data={"consistency": res})
    s.markdown("## " + _("Statements against published transparency reports"))
    s.markdown(
        _(
            "For each platform with a published report (Annex I, Part 8) for a period the archive reaches: the measures "
            "it reports against its statements decided in that period, and its share of measures taken solely by "
            "automated means against the share of statements decided fully automatically. A count differing by more "
            "than 10%, or a share by more than 5 points and outside the statements' 95% interval, is a gap. Reports "
            "count every restriction while the database holds what was submitted, so a gap is a question to ask."
        )
    )
    if res.empty:
        return s.markdown(_("No published report of these platforms covers a period the archive reaches."))
    flagged = res[res["flag"] != "ok"]
    s.data["flagged"] = flagged
    counts = lambda f, v: fmt.count(v) if f == "measures" else fmt.percent(v)  # noqa: E731
    table = pd.DataFrame({
        _("Platform"): res["platform"], _("Period"): res["period"],
        _("Figure"): [_(ps.CONSISTENCY_FIGURES[f]) for f in res["figure"]],
        _("Statements"): [counts(f, v) for f, v in zip(res["figure"], res["statements_value"])],
        _("Report"): [counts(f, v) for f, v in zip(res["figure"], res["report_value"])],
        _("Difference"): [fmt.percent(d) if f == "measures" else present.format_change(fmt, a, b, "share")
                          for f, d, a, b in zip(res["figure"], res["difference"], res["statements_value"],
                                                res["report_value"])],
        _("Archive coverage"): [fmt.percent(c, 0) for c in res["coverage"]],
        _("Flag"): [_(ps.FLAG_TEXT[f]) for f in res["flag"]],
        _("Source"): res["source_file"],
    })  # fmt: skip
    return s.table(table, _("Consistency with published reports"))
