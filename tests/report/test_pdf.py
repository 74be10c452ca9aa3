"""Reports printed to PDF (``govlib.report.render.pdf``, ``govlib run --pdf``).

The printing tests need headless Chromium (``.ci/run`` installs it) and are skipped, with that
reason, only where none is installed. The stored ``notebooks/market_report.ipynb`` (GB, English,
executed on the demo data) is the report printed.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import unicodedata

import nbformat
import pytest
from bs4 import BeautifulSoup

from govlib import config
from govlib.report.render import html as report_html
from govlib.report.render import pdf as report_pdf

NO_BROWSER = report_pdf.find_browser() is None
needs_browser = pytest.mark.skipif(
    NO_BROWSER, reason="no headless Chromium on this machine (docs/reports.md)"
)
TITLE = "Creator and content governance: United Kingdom, October 2026"


def _flat(text: str) -> str:
    """Text without whitespace and with ligatures unfolded (PDF text extraction differs only in those)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """The GB market report's HTML and PDF, and the PDF's pages' text."""
    from pypdf import PdfReader

    d = tmp_path_factory.mktemp("pdf")
    nb = nbformat.read(str(config.NOTEBOOKS_DIR / "market_report.ipynb"), as_version=4)
    html = report_html.export_html(
        nb, d / "market_report.html", title="GB 2026-10 market_report", language="en"
    )
    pdf = report_pdf.html_to_pdf(html, d / "market_report.pdf")
    reader = PdfReader(str(pdf))
    return html.read_text(encoding="utf-8"), reader, [p.extract_text() for p in reader.pages]


@needs_browser
def test_report_prints_to_a4_with_title_header_and_page_numbers(printed):
    _html, reader, pages = printed
    n = len(pages)
    assert 5 <= n <= 40, n  # the report is several pages, not one endless page nor a blank
    for i, (page, text) in enumerate(zip(reader.pages, pages), start=1):
        w, h = float(page.mediabox.width), float(page.mediabox.height)
        assert (round(w / 72 * 25.4), round(h / 72 * 25.4)) == (210, 297), (i, w, h)  # A4 in mm
        assert f"{i} / {n}" in text, i  # the footer's page number of the page count
        assert _flat(TITLE) in _flat(text), i  # the report's title and month in every page's header
    assert _flat("Headline indicators") in _flat(pages[1] + pages[2])


@needs_browser
def test_no_table_row_is_cut_across_pages(printed):
    """Every row of the headline table shows its indicator and its value on one and the same page."""
    html, _reader, pages = printed
    soup = BeautifulSoup(html, "html.parser")
    table = soup.find(id="Headline-indicators").find_next("table")
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in table.find_all("tr") if tr.find("td")]
    assert len(rows) == 12
    flat = [_flat(p) for p in pages]
    for label, value, *_rest in rows:
        assert any(_flat(label) in p and _flat(value) in p for p in flat), (label, value)


def test_print_header_is_the_first_heading_escaped_for_css():
    page = '<html><head></head><body><h1 id="x">A "quoted" &lt;/style&gt; title<a href="#x">¶</a></h1></body></html>'
    out = report_html.print_header_style(page)
    style = out[out.index("<style") : out.index("</head>")]
    assert '@top-center { content: "A \\22 quoted\\22  \\3c /style\\3e  title";' in style
    assert "</style>" not in style[: style.rindex("</style>")]  # the title cannot close the style early
    assert (
        report_html.print_header_style("<html><head></head><body></body></html>", "F").count('content: "F"')
        == 1
    )


def test_no_browser_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium there
    with pytest.raises(
        report_pdf.PdfError, match=r"--pdf needs headless Chromium .*apt-get install chromium"
    ):
        report_pdf.html_to_pdf(tmp_path / "a.html", tmp_path / "a.pdf")
    assert list(tmp_path.iterdir()) == []


def test_a_failing_browser_leaves_the_previous_pdf(tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\nprint('crashed: GPU process', file=sys.stderr)\nsys.exit(3)\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "r.html").write_text("<html></html>")
    (tmp_path / "r.pdf").write_bytes(b"%PDF-old")
    with pytest.raises(
        report_pdf.PdfError, match=r"r\.pdf: .*could not print .*exit 3.*crashed: GPU process"
    ):
        report_pdf.html_to_pdf(tmp_path / "r.html", tmp_path / "r.pdf", browser=str(fake))
    assert (tmp_path / "r.pdf").read_bytes() == b"%PDF-old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chromium", "r.html", "r.pdf"]  # no temporary left
    assert os.access(fake, os.X_OK)
