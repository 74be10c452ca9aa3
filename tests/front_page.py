"""Reading the month's front page (``index.html``) back: what each market tile shows, and the
figures of a British-English page parsed back into numbers (for the front-page figure tests)."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?")


def tiles(page: str) -> dict[str, dict]:
    """``{market: {"kpis": {kpi_id: {...}}, "alarms", "top_alarm", "top_href", "reports", "notes"}}``."""
    soup = BeautifulSoup(page, "html.parser")
    out = {}
    for art in soup.select("article.tile"):
        kpis = {}
        for tr in art.select("tr[data-kpi]"):
            value = tr.select_one("td.value")
            bound = value.select_one(".bound")
            bound_text = bound.get_text() if bound else ""
            if bound:
                bound.extract()
            kpis[tr["data-kpi"]] = {
                "name": tr.select_one("td.name").get_text(),
                "value": value.get_text(),
                "bound": bound_text,
                "change": tr.select_one("td.change").get_text().rstrip("*"),
                "flagged": tr.select_one("td.change .sig") is not None,
                "spark": [p["points"] for p in tr.select("svg.spark polyline")],
            }
        top = art.select_one("a.top-alarm")
        out[art["data-market"]] = {
            "kpis": kpis,
            "alarms": art.select_one(".n-alarms").get_text(),
            "top_alarm": top.get_text() if top else None,
            "top_href": top["href"] if top else None,
            "week": art.select_one(".week").get_text() if top else None,
            "q": art.select_one(".q").get_text() if top else None,
            "reports": [a["href"] for a in art.select("p.reports a")],
            "notes": [p.get_text() for p in art.select("p.note")],
        }
    return out


def numbers(text: str) -> list[float]:
    """The numbers of an en_GB text, in order: ``"67.8% (95% CI 63.6%–71.8%)"`` -> ``[67.8, 95, 63.6, 71.8]``."""
    return [float(n.replace(",", "")) for n in NUMBER.findall(text)]


def spark_points(points: str) -> list[tuple[float, float]]:
    """``"3.0,12.5 12.5,3.0"`` -> ``[(3.0, 12.5), (12.5, 3.0)]``."""
    return [tuple(float(v) for v in p.split(",")) for p in points.split()]
