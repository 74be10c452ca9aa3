"""PDF copies of the report HTML, printed by headless Chromium.

A report prints to A4 through its own print stylesheet (the ``govlib`` nbconvert template and
the month index: ``@page`` size and margins, the report title and month in the top margin box,
"page / pages" in the bottom one, rows and figures never cut), so the PDF is what a reader gets
with the browser's *Print*. Chromium is the renderer because it is already the browser the HTML
is checked in (``docs/reports.md``), it runs the same layout engine readers use, and it renders
CSS ``@page`` margin boxes since version 131; WeasyPrint would be a second layout engine with
its own differences (no flexbox/grid gaps in older releases, different font fallback).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from govlib.errors import GovlibError
from govlib.io import atomic_path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_SECONDS = 180


class PdfError(GovlibError):
    """A report could not be printed to PDF (no renderer, or the renderer failed)."""


def find_browser() -> str | None:
    """Path of the first headless-capable Chromium on the PATH (``BROWSERS``), ``None`` when there is none."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_browser() -> str:
    """The browser :func:`html_to_pdf` will use.

    Raises
    ------
    PdfError
        When no Chromium is installed, saying how to install one.
    """
    browser = find_browser()
    if browser is None:
        raise PdfError(
            "--pdf needs headless Chromium to print the reports, and none was found on the PATH "
            f"(looked for {', '.join(BROWSERS)}). Install it (Debian/Ubuntu: 'apt-get install chromium') "
            "or run without --pdf."
        )
    return browser


def html_to_pdf(html: str | os.PathLike, pdf: str | os.PathLike, *, browser: str | None = None) -> Path:
    """Print ``html`` to ``pdf`` (A4, the page's print stylesheet) with headless Chromium, atomically.

    Parameters
    ----------
    html : path
        A self-contained report page (it loads nothing from a server).
    pdf : path
        The PDF to write; written to a temporary sibling and renamed, so a reader never sees
        half a PDF and a failure leaves the previous one.
    browser : str, optional
        The Chromium executable; default :func:`require_browser`.

    Returns
    -------
    pathlib.Path
        ``pdf``.

    Raises
    ------
    PdfError
        No browser, the browser failed or timed out, or it wrote no PDF.

    Notes
    -----
    ``--no-pdf-header-footer`` turns off Chromium's own header (date, URL) so that the page's
    ``@page`` margin boxes are the header and footer. A fresh profile per call keeps runs
    independent. PDFs carry a creation date, so two runs' PDFs are not byte-identical.
    """
    browser = browser or require_browser()
    src, out = Path(html).resolve(), Path(pdf)
    with tempfile.TemporaryDirectory(prefix="govlib-pdf-") as profile, atomic_path(out) as tmp:
        cmd = [
            browser,
            "--headless=new",
            "--no-sandbox",  # reports run as root in containers; the page is our own, offline
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={tmp.resolve()}",
            src.as_uri(),
        ]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise PdfError(
                f"{out}: {browser} did not finish printing {src} within {TIMEOUT_SECONDS} s"
            ) from None
        if res.returncode != 0 or not tmp.exists() or tmp.read_bytes()[:5] != b"%PDF-":
            tail = "\n".join(res.stderr.strip().splitlines()[-3:])
            raise PdfError(f"{out}: {browser} could not print {src} (exit {res.returncode}): {tail}")
    return out
