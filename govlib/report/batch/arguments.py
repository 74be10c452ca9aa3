"""Validation of ``govlib run``'s arguments, before any folder or lock is created.

The month, market codes (against ``params/markets``), report names (against
``params/reports.yaml``), the data directory, the output directory (writable), the
language (a catalog in ``locales/``). Paths given on the command line are the user's to
choose. Every value later injected into a notebook is validated again by
:func:`validate_notebook_parameters` (a market code, a month, a language tag, paths of
existing directories without control characters), so a crafted value can never become
code in papermill's injected cell. The checks of the data itself that fail one market
(:func:`unknown_data_markets`, :func:`check_market_month`) live here too: they decide
what a run reports, as the arguments do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from govlib import config
from govlib.errors import GovlibError, UsageError

# \Z, not $ (which also matches before a trailing newline); ASCII digits only
MARKET_CODE = re.compile(r"^[A-Z]{2}\Z")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])\Z", re.ASCII)
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?\Z")
NOTEBOOK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")


def check_path(value: str | Path, what: str, *, must_exist: bool = False) -> Path:
    """Resolve a path (``~`` and symlinks expanded); raise :class:`UsageError` for a malformed one.

    A path the user gives is theirs to choose: it may lie anywhere. Refused: an empty value,
    control characters (a newline could end papermill's injected line), and with
    ``must_exist`` anything but an existing directory.
    """
    text = str(value)
    if not text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UsageError(f"{what} {text!r} is empty or contains control characters")
    p = Path(text).expanduser().resolve()
    if must_exist and not p.is_dir():
        raise UsageError(f"{what} {p} does not exist or is not a directory")
    return p


def check_output_dir(value: str | Path) -> Path:
    """:func:`check_path` for an output root, which must be creatable and writable (nothing is created here)."""
    out = check_path(value, "output directory")
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"cannot write to {out}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {out}: permission denied")
    return out


def check_language(lang: str) -> str:
    """``--lang``: a language tag with a translation catalog (``locales/<ll_TT>/LC_MESSAGES/govlib.po``)."""
    from govlib.report.i18n import I18nError, catalog_path, normalize_language

    shipped = sorted(p.parent.parent.name for p in Path(config.LOCALES_DIR).glob("*/LC_MESSAGES/govlib.po"))
    hint = f"; catalogs: {', '.join(shipped) or 'none (see docs/i18n.md)'}"
    if not _LANG.match(lang):
        raise UsageError(f"--lang {lang!r} is not a language tag such as en_GB or de_DE" + hint)
    try:
        name = normalize_language(lang)
    except I18nError:
        raise UsageError(f"--lang {lang}: unknown language" + hint) from None
    if not catalog_path(name).is_file():
        raise UsageError(f"--lang {lang}: no translation catalog {catalog_path(name)}" + hint)
    return lang


def validate_notebook_parameters(params: dict[str, Any]) -> dict[str, str]:
    """Check every value papermill will inject into a notebook; return them unchanged.

    Allowed keys and forms: ``market`` (``^[A-Z]{2}$``), ``markets`` (comma-separated
    market codes), ``failed_markets`` (same), ``month`` (``YYYY-MM``), ``lang`` (empty or
    ``xx`` / ``xx_YY``), ``data_dir``, ``cube_path`` and ``archive`` (empty or an existing
    directory, no control characters: :func:`check_path`), ``cube_paths`` (comma-separated such
    directories). Anything else is a :class:`UsageError`.

    Notes
    -----
    papermill writes parameters as Python literals; validating them to these narrow
    forms first means no value can carry code or a newline into the cell (a path's
    quotes are escaped by papermill's string literal).
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(value, str):
            raise UsageError(f"notebook parameter {key!r} must be a string, got {type(value).__name__}")
        if key == "market":
            ok = bool(MARKET_CODE.match(value))
        elif key in ("markets", "failed_markets"):
            ok = value == "" or all(MARKET_CODE.match(v) for v in value.split(","))
        elif key == "month":
            ok = bool(_MONTH.match(value))
        elif key == "lang":
            ok = value == "" or bool(_LANG.match(value))
        elif key in ("data_dir", "cube_path", "archive"):
            ok = True
            if value:
                check_path(value, f"notebook parameter {key}", must_exist=True)
        elif key == "cube_paths":
            ok = True
            for path in filter(None, value.split(",")):
                check_path(path, f"notebook parameter {key}", must_exist=True)
        else:
            raise UsageError(f"unknown notebook parameter {key!r}")
        if not ok:
            raise UsageError(f"notebook parameter {key}={value!r} is not valid")
        out[key] = value
    return out


def parse_markets(text: str, known: list[str]) -> list[str]:
    """``"all"`` or a comma-separated list of known market codes -> sorted codes."""
    if text.strip().lower() == "all":
        return list(known)
    markets = [m.strip() for m in text.split(",") if m.strip()]
    if not markets:
        raise UsageError("--markets is empty; use 'all' or codes such as GB,DE")
    bad = [m for m in markets if m not in known]
    if bad:
        hint = [m.upper() for m in bad if m.upper() in known]
        raise UsageError(
            f"unknown market(s) {', '.join(bad)}; known: {', '.join(known)}"
            + (f" (codes are upper case: {', '.join(hint)})" if hint else "")
        )
    return sorted(set(markets))


def parse_reports(
    text: str | None, market_nbs: list[str], rollup_nbs: list[str]
) -> tuple[list[str], list[str]]:
    """Restrict the configured notebooks to ``--reports`` (comma-separated names)."""
    if not text:
        return list(market_nbs), list(rollup_nbs)
    wanted = [r.strip().removesuffix(".ipynb") for r in text.split(",") if r.strip()]
    known = market_nbs + rollup_nbs
    bad = [r for r in wanted if r not in known]
    if bad:
        raise UsageError(f"unknown report(s) {', '.join(bad)}; params/reports.yaml lists: {', '.join(known)}")
    return [r for r in market_nbs if r in wanted], [r for r in rollup_nbs if r in wanted]


def unknown_data_markets(data: Path, known: list[str]) -> dict[str, str]:
    """Markets present in the data without ``params/markets/<CC>.yaml``, each with why it is skipped.

    ``--markets all`` reports the markets with params; the others are listed in the index
    and the command's output instead of silently left out. Data the engine cannot read
    gives ``{}`` here: that is reported by every market's cube step.
    """
    from govlib.data.load import Dataset, is_engine_error, list_data_markets

    try:
        found = list_data_markets(Dataset(data, "duckdb", check=False))  # no Spark session in the runner
    except Exception as exc:  # noqa: BLE001 - reported later, per market
        if isinstance(exc, GovlibError) or is_engine_error(exc):
            return {}
        raise
    return {
        m: f"no params/markets/{m}.yaml: add the market's params (docs/localisation.md) to report it"
        for m in found
        if m not in known
    }


def check_market_month(cube_path: Path, market: str, month: str) -> str:
    """``""`` when the cube has events in ``month``, else the error to show for the market.

    Counts the rows of every event table of the cube (each contract table with a
    ``time_column``, creators excepted: a dimension) whose time falls in the local month.
    None at all means the export lacks this market-month; reports of it would be all
    zeros and empty rates, so the market fails with this message instead.
    """
    import pandas as pd

    from govlib import contract
    from govlib.report.cube import load_cube
    from govlib.timeutil import in_month

    cube = load_cube(cube_path)
    counted = []
    for name in cube.table_names:
        spec = contract.TABLES.get(name)
        if spec is None or not spec.time_column or name == "creators":
            continue
        col = pd.read_parquet(cube.path / "tables" / f"{name}.parquet", columns=[spec.time_column])[
            spec.time_column
        ]
        if len(col) and int(in_month(col, month, cube.timezone).sum()) > 0:
            return ""
        counted.append(f"{name}.{spec.time_column}")
    return (
        f"no data for {market} in {month} ({cube.timezone}): 0 rows of {', '.join(counted) or 'any event table'} "
        f"fall in the month; check that the data export covers {market} {month}, "
        f"or leave {market} out with --markets"
    )


def check_notebooks(names: list[str]) -> None:
    """Each report of ``params/reports.yaml`` is a plain notebook name with a notebook in ``notebooks/``."""
    for nb in names:
        if not NOTEBOOK_NAME.match(nb):
            raise UsageError(f"report name {nb!r} in params/reports.yaml is not a plain notebook name")
        if not (config.NOTEBOOKS_DIR / f"{nb}.ipynb").exists():
            raise UsageError(f"report {nb!r}: notebook {config.NOTEBOOKS_DIR / (nb + '.ipynb')} not found")


def check_jobs(jobs: int | None) -> int:
    """``--jobs``: at least 1; left out, the number of cores."""
    if jobs is not None and int(jobs) < 1:  # 0 is not "all cores": leave --jobs out for that
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    return int(jobs or os.cpu_count() or 1)


def dsa_reports(
    archive: str | Path | None, dsa_nbs: list[str], reports: str | None
) -> tuple[Path | None, list[str]]:
    """The DSA statement archive of a run and the ``dsa_notebooks`` it runs (none without an archive).

    Without an archive the DSA reports are left out of the run, unless ``--reports`` names one:
    that is a :class:`UsageError` saying how to configure the archive. An archive must be an
    existing folder with the ``manifest.json`` of ``govlib dsa sync``.
    """
    if not archive:
        wanted = {r.strip().removesuffix(".ipynb") for r in (reports or "").split(",")}
        asked = [nb for nb in dsa_nbs if nb in wanted]
        if asked:
            raise UsageError(
                f"report(s) {', '.join(asked)} need a DSA statement archive: pass --dsa-archive DIR (the folder "
                "'govlib dsa sync' fills) or set GOVLIB_DSA_ARCHIVE"
            )
        return None, []
    path = check_path(archive, "DSA statement archive", must_exist=True)
    if not (path / "manifest.json").is_file():
        raise UsageError(
            f"DSA statement archive {path} has no manifest.json: it is not a folder filled by 'govlib dsa sync'"
        )
    return path, list(dsa_nbs)
