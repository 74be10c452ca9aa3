"""``govlib i18n check``: translation catalogs complete, no fuzzy entries, placeholders match."""

from __future__ import annotations

import argparse
from pathlib import Path

from govlib import config
from govlib.report.i18n import LANGUAGES, POT_FILE, CatalogCheckError, check_catalogs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--locales", type=Path, default=None, help="catalog folder (default: locales/)")
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help="project root holding babel.cfg, govlib/ and notebooks/ (default: the installed project)",
    )
    parser.add_argument(
        "--no-template-check",
        action="store_true",
        help="skip comparing the .pot with a fresh extraction of the code",
    )


def run(args: argparse.Namespace) -> int:
    """``govlib i18n check``: print 'ok' or raise :class:`CatalogCheckError` listing every problem."""
    problems = check_catalogs(args.locales, args.root, check_template=not args.no_template_check)
    if problems:
        shown = [f"  {p}" for p in problems[:200]]
        more = [f"  ... and {len(problems) - 200} more"] if len(problems) > 200 else []
        raise CatalogCheckError(
            f"{len(problems)} translation catalog problem(s):\n"
            + "\n".join(shown + more)
            + "\nWorkflow: docs/i18n.md (extract -> update -> translate -> compile -> check)."
        )
    locales = Path(args.locales or config.LOCALES_DIR)
    with open(locales / POT_FILE, "rb") as fh:
        from babel.messages.pofile import read_po

        n = sum(1 for m in read_po(fh) if m.id)
    print(f"i18n check: ok ({len(LANGUAGES)} catalogs, {n} messages, all translated and compiled)")
    return 0
