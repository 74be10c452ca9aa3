"""The month's ``index.html``: every report of the month with status, duration, files and error.

The rows are gathered here (this run's outcomes, the folders it kept, reports of earlier
runs from their manifests); the page is the Jinja template
``templates/govlib/month_index.html.j2``, rendered with autoescape so that no error text,
market or file name can become markup.
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from govlib.report.batch.keys import read_json
from govlib.report.batch.result import ROLLUP_FOLDER, BatchResult, Outcome

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates" / "govlib"


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def first_lines(text: str, n: int = 6) -> str:
    """The first ``n`` lines of ``text`` (stripped): what the index and the console show of an error."""
    return "\n".join(text.strip().splitlines()[:n])


def _status_labels() -> dict[str, str]:
    from govlib.report.i18n import N_

    return {"ok": N_("ok"), "failed": N_("failed"), "reused": N_("reused"), "skipped": N_("skipped")}


def _published(month_dir: Path, rel: str, ext: str) -> str:
    """``rel + ext`` when that file exists under ``month_dir``, else ``""`` (no link)."""
    return rel + ext if (month_dir / f"{rel}{ext}").exists() else ""


def _kept_rows(result: BatchResult, month_dir: Path, _=lambda s: s) -> tuple[set[str], list[Outcome]]:
    """Folders this run ran but did not replace (a report failed), and their index rows.

    Each report still published is listed "from the previous run (<when>)" (its manifest's
    time) with this run's error; a report that failed now and was never published is
    listed without links.
    """
    kept = result.kept()
    rows: list[Outcome] = []
    for folder in sorted(kept):
        new = {o.report: o for o in result.outcomes if o.market == folder}
        failed_now = sorted(r for r, o in new.items() if o.status not in ("ok", "reused"))
        why = (
            result.market_errors.get(folder)
            or f"not replaced: {', '.join(failed_now) or 'a report'} failed in this run"
        )
        old: set[str] = set()
        for manifest in sorted((month_dir / folder).glob("*.manifest.json")):
            man = read_json(manifest) or {}
            nb = man.get("notebook", manifest.name.removesuffix(".manifest.json"))
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(manifest.stat().st_mtime))
            o = new.get(nb)
            rel = f"{folder}/{nb}"
            rows.append(
                Outcome(
                    folder,
                    nb,
                    _("from the previous run ({when})").format(when=when),
                    man.get("duration", 0.0),
                    o.error if nb in failed_now else why,
                    _published(month_dir, rel, ".html"),
                    _published(month_dir, rel, ".ipynb"),
                )
            )
            old.add(nb)
        rows += [replace(o, html="", notebook="") for nb, o in new.items() if nb not in old]
    return kept, rows


def _earlier_rows(result: BatchResult, month_dir: Path, _=lambda s: s) -> list[Outcome]:
    """Reports published by earlier runs, of folders this run did not touch (from their manifests)."""
    seen = {(o.market, o.report) for o in result.outcomes} | {(m, "") for m in result.market_errors}
    this_run = {o.market for o in result.outcomes} | set(result.market_errors)
    rows = []
    for manifest in sorted(month_dir.glob("*/*.manifest.json")):
        market = manifest.parent.name
        man = read_json(manifest) or {}
        nb = man.get("notebook", manifest.name.removesuffix(".manifest.json"))
        if market in this_run or (market, nb) in seen:
            continue
        rel = f"{market}/{nb}"
        rows.append(
            Outcome(
                market,
                nb,
                f"{man.get('status', '?')} ({_('earlier run')})",
                man.get("duration", 0.0),
                man.get("error", ""),
                _published(month_dir, rel, ".html"),
                _published(month_dir, rel, ".ipynb"),
            )
        )
    return rows


def _row(o: Outcome, month_dir: Path, labels: dict[str, str], _) -> dict:
    """One report's row for the template: its class, texts, duration, links (href, text) and error."""
    links = []
    if o.html:
        links.append((o.html, "HTML"))
    if o.notebook:
        links.append((o.notebook, _("notebook")))
    for name in ("kpis.csv", "kpi_history.csv", "alerts.csv"):
        if o.market != ROLLUP_FOLDER and (month_dir / o.market / name).exists():
            links.append((f"{o.market}/{name}", name))
    return {
        "cls": "ok" if o.status.split(" ")[0] in ("ok", "reused") else "failed",
        "market": o.market,
        "report": o.report,
        "status": _(labels[o.status]) if o.status in labels else o.status,
        "duration": o.duration,
        "links": links,
        "error": first_lines(o.error) if o.error else "",
    }


def _texts(_) -> dict[str, str]:
    """The page's fixed texts, translated."""
    return {
        "heading": _("Monthly governance reports"),
        "glance": _("The month at a glance"),
        "market": _("Market"),
        "report": _("Report"),
        "status": _("Status"),
        "duration": _("Duration"),
        "files": _("Files"),
        "error": _("Error"),
        "failed": _("Failed reports"),
        "all_reports": _("All reports"),
        "indicator": _("Indicator"),
        "value": _("Value (95% CI)"),
        "change": _("Change on last month"),
        "trend": _("13 months"),
        "alarms": _("Alarms"),
        "top_alarm": _("Top alarm"),
        "no_alarm": _("No alarm this month."),
        "week": _("Week starting"),
        "q_value": _("q-value"),
        "reports": _("Reports"),
        "simulations": _("Simulations"),
        "kept": _("Figures of the previous run: this run's reports failed."),
        "no_data": _("No data for this month."),
        "legend": _(
            "* significant and material change on last month, tested as in the EMEA overview (false discovery "
            "rate 5% across all markets' indicators); the line shows the last 13 months."
        ),
    }


def render_index(result: BatchResult, month_dir: Path, _=lambda s: s, fmt=None, lang: str = "en_GB") -> str:
    """``index.html`` of a month: the markets at a glance, then every report with status and errors.

    One tile per published market (:func:`govlib.report.batch.front.market_tiles`: headline
    KPIs with intervals, change on last month and its significance, 13-month sparklines, alarms
    and the top one, report links), the failed reports first with their errors, links to the
    month's simulations, then every report's row. Reports published by earlier runs (markets
    not in this run) are listed from their manifests; so are those of a folder this run did not
    replace because a report failed (:func:`_kept_rows`). Durations are run metadata: the only
    part of a month's output that differs between two runs on the same inputs.

    Parameters
    ----------
    result : BatchResult
        What this run did.
    month_dir : Path
        The published month folder (``<out>/<YYYY-MM>``).
    _ : callable
        ``gettext`` of the index's language.
    fmt : Formatter, optional
        Number and date formats of the index's language (default British English).
    lang : str
        The index's language (``<html lang>``).

    Returns
    -------
    str
        The page, every value escaped by the template.
    """
    from markupsafe import Markup

    from govlib.report.batch.front import REPORT_TITLES, market_tiles, simulation_links
    from govlib.report.i18n import Formatter
    from govlib.report.render.html import css_string

    fmt = fmt or Formatter("en_GB")
    text = _texts(_)
    # the printed pages' header: a CSS string, escaped for CSS (and safe inside <style>) by css_string
    print_title = Markup(css_string(f"{text['heading']}: {fmt.month(result.month)}"))
    kept, kept_rows = _kept_rows(result, month_dir, _)
    rows = (
        [o for o in result.outcomes if o.market not in kept] + kept_rows + _earlier_rows(result, month_dir, _)
    )
    order = {m: i for i, m in enumerate(sorted({o.market for o in rows} | set(result.market_errors)))}
    order[ROLLUP_FOLDER] = -1
    rows.sort(key=lambda o: (order.get(o.market, 99), o.report))
    labels = _status_labels()
    table = _whole_market_rows(result, _) + [_row(o, month_dir, labels, _) for o in rows]
    n_failed = sum(1 for o in rows if o.status.split(" ")[0] not in ("ok", "reused")) + len(
        result.market_errors
    )
    return (
        _environment()
        .get_template("month_index.html.j2")
        .render(
            month=result.month,
            month_name=fmt.month(result.month),
            lang=lang.split("_")[0],
            text=text,
            print_title=print_title,
            month_kpis=(month_dir / "kpis.csv").exists(),
            summary=_("All reports completed.")
            if n_failed == 0
            else _("Some reports failed: see the error column."),
            failed=[r for r in table if r["cls"] == "failed"],
            tiles=market_tiles(_, fmt, month_dir, result.month, kept) if month_dir.is_dir() else [],
            rollup=[
                (f"{ROLLUP_FOLDER}/{p.name}", _(REPORT_TITLES.get(p.stem, p.stem)))
                for p in sorted((month_dir / ROLLUP_FOLDER).glob("*.html"))
            ],
            simulations=simulation_links(month_dir) if month_dir.is_dir() else [],
            rows=table,
        )
    )


def _whole_market_rows(result: BatchResult, _) -> list[dict]:
    """Rows of markets that failed or were skipped as a whole (no report ran)."""
    whole = [
        {
            "cls": "failed",
            "market": m,
            "report": _("all reports"),
            "status": _("failed"),
            "duration": None,
            "links": [],
            "error": first_lines(err),
        }
        for m, err in sorted(result.market_errors.items())
    ]
    return whole + [
        {
            "cls": "skipped",
            "market": m,
            "report": _("all reports"),
            "status": _("skipped"),
            "duration": None,
            "links": [],
            "error": why,
        }
        for m, why in sorted(result.skipped.items())
    ]
