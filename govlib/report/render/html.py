"""Self-contained HTML from executed report notebooks (nbconvert).

A circulated report is one HTML file a reader can open offline or attach to an e-mail:
code hidden, figures embedded as data URIs, a table of contents, and no request to any
server (no CDN scripts such as require.js or MathJax, no web fonts). The template
``govlib/report/templates/govlib`` extends nbconvert's ``lab`` template, empties its
script blocks and, for investigations, shows the confidential banner at the top of the page.
"""

from __future__ import annotations

import html as _html
import re
from functools import lru_cache
from pathlib import Path

import nbformat

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

# Any attribute or CSS reference that would make a browser fetch something from a server.
_EXTERNAL = re.compile(
    r"""(?:\b(?:src|href|srcset|poster|data|action|formaction)\s*=\s*["']?\s*(?:https?:)?//[^\s"'>]+)"""
    r"""|(?:url\(\s*["']?\s*(?:https?:)?//[^)]+\))"""
    r"""|(?:@import\s+["']?(?:https?:)?//[^;]+)""",
    re.IGNORECASE,
)
_HEADING = re.compile(r"<h([1-3])\b([^>]*)>(.*?)</h\1>", re.IGNORECASE | re.DOTALL)
_ID = re.compile(r"""\bid\s*=\s*["']([^"']+)["']""")
_TAG = re.compile(r"<[^>]+>")


def list_external_references(html: str, allow: tuple[str, ...] = ()) -> list[str]:
    """External resources a browser would load when opening ``html``.

    Parameters
    ----------
    html : str
        The document.
    allow : tuple of str
        Prefixes of plain links (``<a href>``) the report intends, e.g. a regulation's URL.

    Returns
    -------
    list of str
        Each offending attribute or CSS reference, in document order; empty when the
        document is self-contained.

    Notes
    -----
    ``<a href="https://...">`` links are *navigation*, not requests, but they are still
    listed unless their URL starts with an ``allow`` prefix, so that an unintended link is
    caught by the tests.
    """
    found = []
    for m in _EXTERNAL.finditer(html):
        text = m.group(0)
        url = re.sub(r"""^[^"'=(]*[=(]\s*["']?\s*""", "", text)
        if any(url.startswith(prefix) for prefix in allow):
            continue
        found.append(text)
    return found


def _slug(text: str, used: set[str]) -> str:
    base = re.sub(r"[^\w-]+", "-", text.strip().lower(), flags=re.UNICODE).strip("-") or "section"
    slug, n = base, 1
    while slug in used:
        n += 1
        slug = f"{base}-{n}"
    used.add(slug)
    return slug


def css_string(text: str) -> str:
    """``text`` as a CSS string literal (quotes, backslashes, line breaks and ``<`` escaped)."""
    out = []
    for ch in text:
        if ch in '"\\<>' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def print_header_style(html: str, fallback: str = "") -> str:
    """Put the report's title (its first ``h1``: the report and its month) in the printed pages' header.

    Adds ``@page { @top-center { content: "<title>" } }`` before ``</head>``: a CSS page margin
    box, printed by the browser's *Print* and by ``govlib run --pdf`` (Chromium 131+). ``fallback``
    (e.g. the ``<title>``) is used when the page has no ``h1``.
    """
    m = re.search(r"<h1\b[^>]*>(.*?)</h1>", html, re.IGNORECASE | re.DOTALL)
    title = _html.unescape(_TAG.sub("", m.group(1))).replace("\u00b6", "").strip() if m else fallback
    if not title:
        return html
    style = (
        '<style type="text/css">@page { @top-center { content: '
        + css_string(" ".join(title.split()))
        + "; font: 8pt sans-serif; color: #555; } }</style>\n"
    )
    head = re.search(r"</head>", html, re.IGNORECASE)
    return html[: head.start()] + style + html[head.start() :] if head else style + html


def add_table_of_contents(html: str, title: str = "Contents") -> str:
    """Insert a ``<nav>`` listing the document's ``h1``-``h3`` headings after ``<main>``.

    Headings without an ``id`` get one (a slug of their text), so every entry links.
    The first ``h1`` (the report title) is not listed.
    """
    used: set[str] = set(_ID.findall(html))
    entries: list[tuple[int, str, str]] = []

    def _visit(m: re.Match) -> str:
        level, attrs, inner = int(m.group(1)), m.group(2), m.group(3)
        text = _html.unescape(_TAG.sub("", inner)).replace("\u00b6", "").strip()
        id_match = _ID.search(attrs)
        if id_match:
            anchor = id_match.group(1)
        else:
            anchor = _slug(text, used)
            attrs = f'{attrs} id="{anchor}"'
        entries.append((level, anchor, text))
        return f"<h{level}{attrs}>{inner}</h{level}>"

    html = _HEADING.sub(_visit, html)
    if entries and entries[0][0] == 1:
        entries = entries[1:]
    if not entries:
        return html
    items = "\n".join(
        f'<li class="toc-h{level}"><a href="#{_html.escape(anchor, quote=True)}">{_html.escape(text)}</a></li>'
        for level, anchor, text in entries
    )
    nav = f'<nav class="govlib-toc" aria-label="{_html.escape(title, quote=True)}">\n<strong>{_html.escape(title)}</strong>\n<ol>\n{items}\n</ol>\n</nav>\n'
    # Right after the report title (the first h1) when there is one, else at the top of <main>.
    first_h1 = re.search(r"</h1>", html, re.IGNORECASE)
    if first_h1:
        return html[: first_h1.end()] + "\n" + nav + html[first_h1.end() :]
    main = re.search(r"<main[^>]*>", html, re.IGNORECASE)
    pos = main.end() if main else 0
    return html[:pos] + "\n" + nav + html[pos:]


@lru_cache(maxsize=8)
def _exporter(language: str):
    """The configured ``HTMLExporter`` for ``language``, built once per process.

    Building one loads the Jinja templates and the theme CSS (about 0.3 s); a long-lived
    batch worker exports many reports with the same instance.
    """
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.remove_cell_tags = ("remove_cell",)
    c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(
        config=c,
        template_name="govlib",
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
        mathjax_url="",
        require_js_url="",
        jquery_url="",
        language_code=language,
    )
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    return exporter


def render_html(
    nb: nbformat.NotebookNode,
    *,
    title: str | None = None,
    language: str = "en",
    toc_title: str = "Contents",
    banner: str = "",
) -> str:
    """The report HTML of an executed notebook: code hidden, figures embedded, offline.

    Parameters
    ----------
    nb : NotebookNode
        Executed notebook (nbformat 4).
    title : str, optional
        ``<title>`` of the page; default the notebook's ``metadata.title`` or its name.
    language : str
        Value of ``<html lang>`` (e.g. ``"de"``), for screen readers and hyphenation.
    toc_title : str
        Heading of the table of contents (already translated by the caller).
    banner : str
        A warning shown above the report (already translated), e.g. an investigation's
        "CONFIDENTIAL"; none when empty.

    Notes
    -----
    Uses :class:`nbconvert.HTMLExporter` with ``exclude_input`` (code hidden; outputs,
    including tracebacks of a failed cell, shown), ``embed_images`` and the ``govlib``
    template, which removes the CDN scripts of the ``lab`` template. Cells tagged
    ``remove_cell`` are dropped (``TagRemovePreprocessor``).
    """
    exporter = _exporter(language)
    nb = nbformat.from_dict(nb)
    if title:
        nb.metadata["title"] = title
    body, _resources = exporter.from_notebook_node(
        nb, resources={"metadata": {"name": title or "report"}, "govlib_banner": banner}
    )
    return print_header_style(add_table_of_contents(body, toc_title), title or "")


def export_html(notebook: str | Path | nbformat.NotebookNode, out_path: str | Path, **kwargs) -> Path:
    """Write :func:`render_html` of ``notebook`` (a path or a node) to ``out_path``."""
    nb = nbformat.read(str(notebook), as_version=4) if isinstance(notebook, (str, Path)) else notebook
    out = Path(out_path)
    out.write_text(render_html(nb, **kwargs), encoding="utf-8")
    return out
