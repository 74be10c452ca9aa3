"""Translations that cannot be forgotten (issue 13), through ``govlib run`` in a subprocess.

A plain ``pip install -e .`` has the ``.po`` catalogs (in git) but no compiled ``.mo`` files
(git-ignored, built by ``make i18n``). Reports must still come out in their market's language,
and a language without a catalog must fail that market's reports instead of publishing English.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from datasets import write_valid_dataset
from reliability_support import MONTH, make_toy_project, report_files, run_toy

from govlib import config

# the market's language as the real notebooks choose it, and two translated strings
SAY = (
    "from govlib.params import load_market\nfrom govlib.report.i18n import formatter_for, get_translator\n"
    "language = lang or load_market(market).report_language\n_ = get_translator(language).gettext\n"
    "fmt = formatter_for(load_market(market), language=language)\n"
    "print('TEXT:', _('Enforcement actions'), '|', fmt.na)"
)


def _project(tmp_path: Path, drop: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """Toy project whose locales/ is a copy of the catalogs without any .mo (minus ``drop`` languages)."""
    root = make_toy_project(tmp_path / "proj", {"say": SAY})
    (root / "locales").unlink()  # the toy project links the real locales/, which may hold .mo files
    shutil.copytree(config.LOCALES_DIR, root / "locales", ignore=shutil.ignore_patterns("*.mo"))
    for lang in drop:
        shutil.rmtree(root / "locales" / lang)
    assert not list((root / "locales").rglob("*.mo"))
    return root, write_valid_dataset(root / "data", layout="partitioned")


def _printed(notebook: Path) -> str:
    """The line the toy notebook printed."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = "".join("".join(o.get("text", "")) for c in cells for o in c.get("outputs", []))
    return next(line for line in text.splitlines() if line.startswith("TEXT:"))


def _run(root: Path, data: Path, markets: str):
    return run_toy(root, data, markets=markets)


def test_reports_are_translated_without_compiled_catalogs(tmp_path):
    # en_GB is the source language: its catalog may be missing too, GB still renders
    root, data = _project(tmp_path, drop=("en_GB",))
    r, out = _run(root, data, "DE,GB")
    assert r.returncode == 0, r.stderr
    assert _printed(out / MONTH / "DE" / "say.ipynb") == "TEXT: Durchsetzungsmaßnahmen | k. A."
    assert _printed(out / MONTH / "GB" / "say.ipynb") == "TEXT: Enforcement actions | n/a"
    assert not list((root / "locales").rglob("*.mo"))  # nothing is written next to the sources


def test_missing_catalog_fails_that_language_instead_of_publishing_english(tmp_path):
    root, data = _project(tmp_path, drop=("de_DE",))
    r, out = _run(root, data, "DE,GB")
    assert r.returncode == 1, r.stdout + r.stderr
    err = r.stderr
    assert "govlib run: DE" in err and "no translation catalog for de_DE" in err, err
    assert "de_DE/LC_MESSAGES/govlib.po" in err, err
    assert "Traceback" not in err
    files = report_files(out / MONTH)
    assert not [f for f in files if f.startswith("DE/")], files  # no English report published for DE
    assert "GB/say.html" in files  # the other market still completes
