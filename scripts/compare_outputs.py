"""Compare what two executed notebooks (or two report folders) show, ignoring the code.

    python scripts/compare_outputs.py BEFORE AFTER

BEFORE and AFTER are executed ``.ipynb`` files or folders of them (matched by relative path;
``.csv`` files in folders are compared byte for byte). A notebook's outputs are compared as the
sequence of every displayed item across all cells (Markdown, HTML, text, PNG bytes), so a
notebook whose code moved into ``govlib.report.sections`` compares equal when it shows the same
things in the same order. Exit 0 when equal, 1 with the first difference otherwise.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

MIME = ("text/markdown", "text/html", "text/plain", "image/png", "image/svg+xml")


def shown(path: Path) -> list[tuple[str, str]]:
    """Every displayed item of an executed notebook, in order: (mime type, content)."""
    nb = nbformat.read(path, as_version=4)
    items = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                items.append((out["name"], out["text"]))
            elif out.get("output_type") == "error":
                items.append(("error", out["ename"] + ": " + out["evalue"]))
            else:
                data = out.get("data", {})
                for mime in MIME:
                    if mime in data:
                        text = data[mime]
                        items.append((mime, "".join(text) if isinstance(text, list) else text))
                        break
    return items


def compare_notebooks(a: Path, b: Path) -> str | None:
    xa, xb = shown(a), shown(b)
    for i, (ia, ib) in enumerate(zip(xa, xb)):
        if ia != ib:
            return f"{b}: item {i} differs: {ia[0]} {ia[1][:200]!r} != {ib[0]} {ib[1][:200]!r}"
    if len(xa) != len(xb):
        return f"{b}: {len(xb)} items shown, {len(xa)} before"
    return None


def main(argv: list[str]) -> int:
    a, b = map(Path, argv)
    pairs = (
        [(a, b)]
        if a.is_file()
        else [(p, b / p.relative_to(a)) for p in sorted(a.rglob("*")) if p.suffix in (".ipynb", ".csv")]
    )
    problems = []
    for pa, pb in pairs:
        if not pb.exists():
            problems.append(f"{pb}: missing")
        elif pa.suffix == ".csv":
            if pa.read_bytes() != pb.read_bytes():
                problems.append(f"{pb}: bytes differ")
        elif (diff := compare_notebooks(pa, pb)) is not None:
            problems.append(diff)
    for p in problems:
        print(p)
    print(f"{len(pairs)} file(s) compared, {len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
