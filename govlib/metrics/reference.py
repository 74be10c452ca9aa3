"""Generate the metrics reference page ``docs/metrics.md``.

Usage::

    python -m govlib.metrics.reference            # writes docs/metrics.md
    python -m govlib.metrics.reference --check    # exit 1 if docs/metrics.md is out of date

The page is built from :data:`govlib.metrics.kpis.KPI_DEFINITIONS`, the numpydoc
docstrings of the public functions of every module of :data:`REFERENCE_MODULES` (the
generic statistics of ``govlib.stats``, then ``govlib.metrics.METRIC_MODULES``;
``__all__`` when a module defines it), and the measured results in
``docs/measurements/*.md`` (written by hand from the output of the scripts they name).
Nothing else goes into the page, so the same code and files give the same bytes.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

from govlib import config
from govlib.metrics import METRIC_MODULES
from govlib.metrics.kpis import KPI_DEFINITIONS

__all__ = ["render_reference", "main"]

# Every module documented on the page, in page order: the statistics the metrics use, then the metrics.
STATS_MODULES = ("intervals", "survey", "surveillance", "did", "shrinkage", "agreement")
REFERENCE_MODULES = tuple(f"govlib.stats.{m}" for m in STATS_MODULES) + tuple(
    f"govlib.metrics.{m}" for m in METRIC_MODULES
)

_SECTIONS_WITH_ITEMS = {"Parameters", "Returns", "Raises", "Yields", "Attributes", "Other Parameters"}
_ROLE = re.compile(r":(?:func|data|class|meth|mod|attr):`~?([^`]+)`")


def _inline(text: str) -> str:
    text = _ROLE.sub(r"`\1`", text)
    return text.replace("``", "`")


def _docstring_to_markdown(doc: str) -> str:
    """numpydoc text -> Markdown (sections in bold, parameter lists as bullets)."""
    lines = inspect.cleandoc(doc).splitlines()
    out: list[str] = []
    section = None
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", nxt.strip()) and len(nxt.strip()) >= len(line.strip()) - 1:
            section = line.strip()
            out += ["", f"**{section}**", ""]
            i += 2
            continue
        if section in _SECTIONS_WITH_ITEMS and line and not line.startswith(" "):
            name, _, typ = line.partition(" : ")
            item = f"- `{name.strip()}`" + (f" ({_inline(typ.strip())})" if typ else "")
            desc = []
            i += 1
            while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
                if lines[i].strip():
                    desc.append(_inline(lines[i].strip()))
                elif i + 1 < len(lines) and lines[i + 1].startswith(" "):
                    desc.append("")
                else:
                    break
                i += 1
            text = " ".join(d for d in desc if d)
            out.append(item + (f": {text}" if text else ""))
            continue
        if section == "References" and line.startswith(".. ["):
            ref = re.sub(r"^\.\. \[(\d+)\]\s*", r"[\1] ", line)
            i += 1
            while i < len(lines) and lines[i].startswith("   "):
                ref += " " + lines[i].strip()
                i += 1
            out.append("- " + _inline(ref))
            continue
        if line.rstrip().endswith("::"):
            # literal block: everything indented after it, as code
            out.append(_inline(line.rstrip()[:-1]))
            i += 1
            block = []
            while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            body = inspect.cleandoc("\n".join(block))
            out += ["", "```", body, "```", ""]
            continue
        out.append(
            _inline(line.strip()) if line.startswith(" ") and section in (None, "Notes") else _inline(line)
        )
        i += 1
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _public_functions(mod) -> list[tuple[str, object]]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(mod).items()
            if not n.startswith("_") and inspect.isfunction(obj) and obj.__module__ == mod.__name__
        ]
    return [(n, getattr(mod, n)) for n in names if inspect.isfunction(getattr(mod, n, None))]


def _signature(fn) -> str:
    """``name(a: int, b: str = 'x', *, c=None) -> T`` without quoting postponed annotations."""
    sig = inspect.signature(fn)
    out, star_done = [], False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not star_done:
            out.append("*")
            star_done = True
        prefix = {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")
        star_done = star_done or p.kind is p.VAR_POSITIONAL
        s = prefix + p.name
        ann = p.annotation
        if ann is not p.empty:
            s += ": " + (ann if isinstance(ann, str) else inspect.formatannotation(ann))
        if p.default is not p.empty:
            d = repr(p.default)
            if " at 0x" in d:  # object reprs with addresses would make the page non-deterministic
                d = type(p.default).__name__ + "(...)"
            s += (" = " if ann is not p.empty else "=") + d
        out.append(s)
    ret = sig.return_annotation
    tail = (
        "" if ret is sig.empty else " -> " + (ret if isinstance(ret, str) else inspect.formatannotation(ret))
    )
    return f"{fn.__name__}({', '.join(out)}){tail}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_reference(docs_dir: Path | None = None) -> str:
    """The Markdown text of ``docs/metrics.md``."""
    docs_dir = Path(docs_dir or Path(config.PROJECT_ROOT) / "docs")
    parts = [
        "# Metrics reference",
        "",
        (
            "<!-- Generated by `python -m govlib.metrics.reference` from KPI_DEFINITIONS, the docstrings of "
            "govlib.stats, govlib.metrics and docs/measurements/*.md. Do not edit by hand. -->"
        ),
        "",
        (
            "Every metric is a pure function on pandas DataFrames (`govlib.metrics`). Conventions: events are "
            "bucketed into months in the market's time zone; only rows of the market count; a rate with an "
            "empty denominator is NaN, never 0; rates carry numerator, denominator and a 95% Wilson interval "
            "unless stated otherwise."
        ),
        "",
        "## Headline KPIs",
        "",
        (
            "The IDs and meanings of `shared/spec/kpis.md`, computed by "
            "`govlib.metrics.kpis.compute_kpis(tables, market, month, tz)`; M is the reporting month."
        ),
        "",
        "| kpi_id | unit | definition | numerator / denominator | interval | tables | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in KPI_DEFINITIONS.values():
        parts.append(
            f"| `{d.kpi_id}` | {d.unit} | {_cell(d.definition)} | {_cell(d.denominator)} | {_cell(d.interval)} "
            f"| {', '.join(f'`{t}`' for t in d.tables)} | {_cell(d.source)} |"
        )
    measured = (
        sorted((docs_dir / "measurements").glob("*.md")) if (docs_dir / "measurements").is_dir() else []
    )
    if measured:
        parts += ["", "## Measured results", ""]
        for p in measured:
            parts += [p.read_text(encoding="utf-8").strip(), ""]
    parts += ["", "## Functions", ""]
    toc, body = [], []
    for module in REFERENCE_MODULES:
        # statistics are called through the package (``from govlib import stats; stats.proportion_interval``)
        name = "stats" if module.startswith("govlib.stats.") else module.rsplit(".", 1)[1]
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue  # a module not written yet
        funcs = _public_functions(mod)
        if not funcs:
            continue
        summary = inspect.cleandoc(mod.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        toc.append(f"- [`{module}`](#{module.replace('.', '')}): {_inline(summary)}")
        body += ["", f"### {module}", "", _inline(summary), ""]
        for fname, fn in funcs:
            body += [
                f"#### `{name}.{fname}`",
                "",
                "```python",
                _signature(fn),
                "```",
                "",
                _docstring_to_markdown(fn.__doc__ or "(no docstring)"),
                "",
            ]
    parts += toc + body
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m govlib.metrics.reference", description="Write docs/metrics.md."
    )
    ap.add_argument("--out", type=Path, default=Path(config.PROJECT_ROOT) / "docs" / "metrics.md")
    ap.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from the generator output"
    )
    args = ap.parse_args(argv)
    text = render_reference()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run python -m govlib.metrics.reference", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
