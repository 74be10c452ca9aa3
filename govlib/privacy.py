"""Privacy of circulated outputs: keyed pseudonyms, small-cell suppression, identifier scans.

Monthly reports, the EMEA roll-up, DSA exports and queues meant for other teams carry no raw
creator IDs. Where a table needs a stable handle for a creator it shows a keyed pseudonym
(:func:`pseudonymise`); counts of fewer than ``min_cell`` creators or items are suppressed
(:func:`suppress_small_cells`); and a run's output can be scanned for raw IDs
(:func:`scan_for_identifiers`). Investigation outputs keep identifiers and live apart
(``reports/investigations/``).

The pseudonym key comes from ``GOVLIB_PSEUDONYM_KEY`` (the key itself) or
``GOVLIB_PSEUDONYM_KEY_FILE`` (a file outside the repository). :data:`EXAMPLE_KEY` is public and
allowed only in demo mode (:func:`is_demo_mode`: ``GOVLIB_DEMO=1``, or a data directory holding
the demo generator's marker :data:`DEMO_MARKER`): anyone could recompute pseudonyms made with it.

Circulated CSV and XLSX files are opened in spreadsheets, where a text cell beginning with
``= + - @``, a tab or a carriage return can run as a formula (CSV injection, OWASP). Every writer
of such a file passes its text cells through :func:`neutralise_formula` (or
:func:`neutralise_formulas` for a table); an import undoes it with :func:`restore_formula`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from govlib import config
from govlib.errors import GovlibError

# Public example key: documented so the demo runs without set-up; refused outside demo mode.
EXAMPLE_KEY = "govlib-example-pseudonym-key-demo-only"
DEMO_MARKER = ".govlib-demo"  # written by the demo generator (govlib.demo.generator)
DEMO_MAGIC = "govlib synthetic demo data: public example pseudonym key allowed"
PSEUDONYM_PREFIX = "p_"
PSEUDONYM_HEX_CHARS = 12
MIN_KEY_LENGTH = 16
DEFAULT_MIN_CELL = 10


class PrivacyError(GovlibError):
    """A pseudonym key is missing or unsafe, or raw identifiers were found in an output."""


# ---------------------------------------------------------------------------------------------
# Keys and pseudonyms
# ---------------------------------------------------------------------------------------------


def demo_marker_text(seed: int, scale: str, end_month: str, markets: Sequence[str]) -> str:
    """Content of the :data:`DEMO_MARKER` file the demo generator writes for these parameters.

    JSON with the generator's parameters and ``check``: SHA-256 of :data:`DEMO_MAGIC` and the
    parameters. The check proves nothing secret (the code is public); it makes demo mode a
    deliberate act: an empty or hand-edited marker, or a copied ``ground_truth.json``, does
    not switch a dataset to the public example key.
    """
    params = {"seed": int(seed), "scale": str(scale), "end_month": str(end_month), "markets": sorted(markets)}
    canon = json.dumps(params, sort_keys=True, separators=(",", ":"))
    check = hashlib.sha256(f"{DEMO_MAGIC}|{canon}".encode()).hexdigest()
    return json.dumps({"magic": DEMO_MAGIC, **params, "check": check}, sort_keys=True) + "\n"


def _has_demo_marker(folder: Path) -> bool:
    path = folder / DEMO_MARKER
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        expected = demo_marker_text(found["seed"], found["scale"], found["end_month"], found["markets"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return json.loads(expected) == found


def is_demo_mode(data_dir: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``GOVLIB_DEMO=1`` or ``data_dir`` (default ``config.DATA_DIR``) is demo data.

    Demo data is recognised only by the generator's marker file :data:`DEMO_MARKER` beside the
    tables, whose ``check`` must match its parameters (:func:`demo_marker_text`). Other files
    (``ground_truth.json`` included, even ``{}``) never switch demo mode on: real data must not
    fall back to the public example key because of a stray file. A hidden file with a checked
    value cannot be carried by accident; copying it on purpose is as explicit as ``GOVLIB_DEMO=1``.
    """
    if config.current(environ).demo:
        return True
    folder = Path(data_dir) if data_dir is not None else Path(config.DATA_DIR)
    return _has_demo_marker(folder)


def load_pseudonym_key(
    data_dir: str | os.PathLike | None = None, environ: Mapping[str, str] | None = None
) -> bytes:
    """The secret key of :func:`pseudonymise`.

    Order: ``GOVLIB_PSEUDONYM_KEY`` (the key), then ``GOVLIB_PSEUDONYM_KEY_FILE`` (a file outside
    the repository; surrounding white space is stripped), then, in demo mode only,
    :data:`EXAMPLE_KEY`.

    Parameters
    ----------
    data_dir : path, optional
        Dataset being reported on; decides demo mode (see :func:`is_demo_mode`).
    environ : mapping, optional
        Environment to read (default ``os.environ``); for tests.

    Raises
    ------
    PrivacyError
        No key outside demo mode; the example key outside demo mode; a key shorter than
        16 characters; a key file that is missing, empty or inside the repository.
    """
    settings = config.current(environ)
    demo = is_demo_mode(data_dir, environ)
    key: str | None = None
    source = ""
    if settings.pseudonym_key:
        key, source = settings.pseudonym_key, "$GOVLIB_PSEUDONYM_KEY"
    elif settings.pseudonym_key_file:
        path = settings.pseudonym_key_file.expanduser().resolve()
        source = str(path)
        root = Path(config.PROJECT_ROOT).resolve()
        if path == root or root in path.parents:
            raise PrivacyError(
                f"pseudonym key file {path} is inside the repository ({root}); move it outside "
                f"(e.g. ~/.config/govlib/pseudonym.key, mode 600) so it cannot be committed"
            )
        if not path.is_file():
            raise PrivacyError(f"pseudonym key file {path} (from $GOVLIB_PSEUDONYM_KEY_FILE) does not exist")
        key = path.read_text(encoding="utf-8").strip()
        if not key:
            raise PrivacyError(f"pseudonym key file {path} is empty")
    elif demo:
        return EXAMPLE_KEY.encode("utf-8")
    else:
        folder = Path(data_dir) if data_dir is not None else Path(config.DATA_DIR)
        old_demo = (folder / "ground_truth.json").is_file()
        raise PrivacyError(
            f"no pseudonym key: set $GOVLIB_PSEUDONYM_KEY or $GOVLIB_PSEUDONYM_KEY_FILE (a file outside the repository) "
            f"before producing circulated outputs from real data. The example key is allowed only "
            f"for the demo data ($GOVLIB_DEMO=1, or a dataset made by 'govlib demo-data', which carries "
            f"the marker file {DEMO_MARKER})."
            + (
                f" {folder} has a ground_truth.json but no valid {DEMO_MARKER}: if it is demo data made by an "
                f"older govlib, generate it again with 'govlib demo-data --out {folder} --force'."
                if old_demo
                else ""
            )
        )
    if key == EXAMPLE_KEY and not demo:
        raise PrivacyError(
            f"the pseudonym key from {source} is the public example key, which is allowed only in demo "
            f"mode: anyone could re-identify creators from its pseudonyms. Generate a secret key, e.g. "
            f"'python -c \"import secrets; print(secrets.token_hex(32))\"', and set $GOVLIB_PSEUDONYM_KEY or $GOVLIB_PSEUDONYM_KEY_FILE."
        )
    if len(key) < MIN_KEY_LENGTH:
        raise PrivacyError(
            f"the pseudonym key from {source} has {len(key)} characters; use at least {MIN_KEY_LENGTH} "
            f"(e.g. 64 hex characters from secrets.token_hex(32))"
        )
    return key.encode("utf-8")


def _as_key(key: bytes | str) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, bytes) or not key:
        raise PrivacyError("pseudonym key must be non-empty bytes or text; get it from load_pseudonym_key()")
    return key


def _one(value: Any, key: bytes) -> str:
    digest = hmac.new(key, str(value).encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_CHARS]


def pseudonymise(ids: Any, key: bytes | str):
    """Keyed pseudonyms: ``"p_" + HMAC-SHA-256(key, id)`` as hex, first 12 characters.

    Parameters
    ----------
    ids : str, pandas.Series, pandas.Index or iterable
        Identifiers; non-text values are converted with ``str``. Missing values stay missing.
    key : bytes or str
        Secret key, from :func:`load_pseudonym_key`.

    Returns
    -------
    Same kind as ``ids``: a ``str``, a Series (same index and name), an Index, or a list.

    Notes
    -----
    The same id and key always give the same pseudonym (stable across runs and markets), a
    different key gives unrelated pseudonyms, and without the key an id cannot be recovered
    nor a guessed id confirmed. 12 hex characters are 48 bits: the chance that two of
    *n* ids collide is about n^2 / 2^49 (below 0.01 % for 100,000 creators).

    References
    ----------
    RFC 2104 (HMAC); EDPB Guidelines 01/2025 on pseudonymisation (keyed hashing with a secret
    kept apart from the data).
    """
    k = _as_key(key)
    if isinstance(ids, (str, bytes)) or np.isscalar(ids):
        return None if _isna(ids) else _one(ids, k)
    if ids is None:
        return None
    if isinstance(ids, (pd.Series, pd.Index)):
        uniques = pd.unique(ids.dropna()) if isinstance(ids, pd.Series) else pd.unique(ids[~ids.isna()])
        mapping = {u: _one(u, k) for u in uniques}
        if isinstance(ids, pd.Series):
            return ids.map(mapping).astype(object).where(ids.notna(), None).rename(ids.name)
        return pd.Index([mapping.get(v) if not _isna(v) else None for v in ids], name=ids.name, dtype=object)
    return [None if _isna(v) else _one(v, k) for v in ids]


def _isna(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------
# Small-cell suppression
# ---------------------------------------------------------------------------------------------


def small_cell_mask(
    df: pd.DataFrame,
    count_cols: str | Sequence[str],
    min_cell: int = DEFAULT_MIN_CELL,
    include_zero: bool = False,
) -> pd.DataFrame:
    """Boolean frame (one column per count column): True where the count is a small cell.

    A small cell is a count with ``0 < n < min_cell`` (``0 <= n < min_cell`` with
    ``include_zero``). Missing counts are not small cells.
    """
    cols = [count_cols] if isinstance(count_cols, str) else list(count_cols)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise PrivacyError(
            f"small-cell suppression: count column(s) {missing} not in the table (columns: {list(df.columns)})"
        )
    if not isinstance(min_cell, (int, np.integer)) or min_cell < 1:
        raise PrivacyError(f"min_cell must be a positive integer, got {min_cell!r}")
    out = {}
    for c in cols:
        n = pd.to_numeric(df[c], errors="coerce")
        bad = df[c].notna() & n.isna()
        if bad.any():
            examples = df.loc[bad, c].head(5).tolist()
            raise PrivacyError(
                f"small-cell suppression: column {c!r} has {int(bad.sum())} non-numeric value(s), "
                f"e.g. {examples}; suppress before formatting counts as text"
            )
        low = (n >= 0) if include_zero else (n > 0)
        out[c] = (low & (n < min_cell)).fillna(False).astype(bool)
    return pd.DataFrame(out, index=df.index)


def suppress_small_cells(
    df: pd.DataFrame,
    count_cols: str | Sequence[str],
    min_cell: int = DEFAULT_MIN_CELL,
    derived: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    marker: Any = None,
    include_zero: bool = False,
) -> pd.DataFrame:
    """Copy of ``df`` with counts below ``min_cell`` (and the values derived from them) masked.

    Parameters
    ----------
    df : DataFrame
    count_cols : str or list of str
        Columns holding counts of creators or items (e.g. ``"numerator"``, ``"denominator"``).
    min_cell : int
        Smallest count shown; the issue's default is 10 (``MarketParams.min_cell_size``).
    derived : mapping or list, optional
        Columns computed from the counts (rates, intervals, medians). A mapping
        ``{count_col: [cols]}`` masks ``cols`` where that count is small; a list masks its
        columns where any count column of the row is small.
    marker : optional
        What replaces a masked value. Default: the text ``"<10"`` (``"<{min_cell}"``), which
        reads the same in every language; ``numpy.nan`` keeps numeric columns numeric (then
        mark the suppression elsewhere, since NaN also means "no denominator").
    include_zero : bool
        Also mask zero counts. Default False: a zero is shown (it says nothing about any person).

    Returns
    -------
    DataFrame
        Masked columns become object dtype when ``marker`` is text.

    Notes
    -----
    Primary suppression only: compute totals before suppressing, and beware that a total
    shown beside a single suppressed cell lets a reader recover it (secondary suppression is
    not done here).

    References
    ----------
    Eurostat (2019), *Handbook on Statistical Disclosure Control*, ch. 5 (threshold rule).
    """
    if marker is None:
        marker = f"<{min_cell}"
    mask = small_cell_mask(df, count_cols, min_cell, include_zero)
    out = df.copy()
    row_any = mask.any(axis=1)
    targets: dict[str, pd.Series] = {c: mask[c] for c in mask.columns}
    if derived is not None:
        if isinstance(derived, Mapping):
            for c, cols in derived.items():
                if c not in mask.columns:
                    raise PrivacyError(
                        f"derived columns keyed by {c!r}, which is not one of the count columns {list(mask.columns)}"
                    )
                for d in [cols] if isinstance(cols, str) else cols:
                    targets[d] = targets.get(d, pd.Series(False, index=df.index)) | mask[c]
        else:
            for d in [derived] if isinstance(derived, str) else derived:
                targets[d] = targets.get(d, pd.Series(False, index=df.index)) | row_any
    unknown = [c for c in targets if c not in out.columns]
    if unknown:
        raise PrivacyError(
            f"small-cell suppression: derived column(s) {unknown} not in the table (columns: {list(df.columns)})"
        )
    for col, m in targets.items():
        if not m.any():
            continue
        is_nan_marker = isinstance(marker, float) and np.isnan(marker)
        if is_nan_marker:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64").mask(m)
        else:
            out[col] = out[col].astype(object).mask(m, marker)
    return out


# ---------------------------------------------------------------------------------------------
# Scanning outputs for raw identifiers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdentifierHit:
    """A raw identifier found in a file."""

    path: Path
    identifier: str
    count: int
    context: str  # up to 40 characters around the first occurrence


def _trie_pattern(words: Iterable[str]) -> str:
    # One regex alternation arranged as a trie: linear-time scanning for thousands of ids
    # (a flat "a|b|c|..." alternation is tried word by word at every position).
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch != ""]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if end else body

    return build(trie)


def _files(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file())
        elif p.is_file():
            out.append(p)
        else:
            raise PrivacyError(f"identifier scan: {p} does not exist")
    return out


def scan_for_identifiers(
    paths: Iterable[str | os.PathLike] | str | os.PathLike,
    identifiers: Iterable[Any],
    boundaries: bool = True,
) -> list[IdentifierHit]:
    """Find raw identifiers in files (HTML, notebooks, CSV, any text).

    Parameters
    ----------
    paths : path or list of paths
        Files, or folders scanned recursively.
    identifiers : iterable
        Raw ids, e.g. every ``creators.creator_id`` of the dataset. Empty ids are ignored.
    boundaries : bool
        Match an id only when not glued to other letters or digits (``c1`` is not found
        inside ``abc12``); underscores, quotes, slashes and spaces are boundaries. False
        finds any substring.

    Returns
    -------
    list of IdentifierHit
        One per (file, identifier) found, in file order; empty when the outputs are clean.

    Notes
    -----
    Files are read as bytes decoded as Latin-1, so binary files do not fail; ids inside
    compressed content (Parquet, zip) are not found.
    """
    ids = sorted({str(i) for i in identifiers if not _isna(i) and str(i) != ""})
    if not ids:
        return []
    core = _trie_pattern(ids)
    pattern = f"(?<![A-Za-z0-9])({core})(?![A-Za-z0-9])" if boundaries else f"({core})"
    rx = re.compile(pattern)
    hits: list[IdentifierHit] = []
    for f in _files(paths):
        text = f.read_bytes().decode("latin-1")
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for m in rx.finditer(text):
            s = m.group(1)
            counts[s] = counts.get(s, 0) + 1
            first.setdefault(s, m.start(1))
        for s in sorted(counts, key=lambda k: first[k]):
            i = first[s]
            hits.append(IdentifierHit(f, s, counts[s], text[max(0, i - 20) : i + len(s) + 20]))
    return hits


def assert_no_identifiers(paths, identifiers, boundaries: bool = True) -> None:
    """Raise :class:`PrivacyError` naming files and up to 5 examples if any raw id is found."""
    hits = scan_for_identifiers(paths, identifiers, boundaries)
    if hits:
        files = sorted({str(h.path) for h in hits})
        examples = "; ".join(f"{h.path.name}: {h.identifier!r} x{h.count}" for h in hits[:5])
        raise PrivacyError(
            f"{len(hits)} raw identifier occurrence(s) in {len(files)} circulated file(s), e.g. {examples}. "
            f"Use govlib.privacy.pseudonymise() or counts in circulated outputs."
        )


# ---------------------------------------------------------------------------------------------
# Formulas in circulated spreadsheets (CSV injection)
# ---------------------------------------------------------------------------------------------

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")


def neutralise_formula(value: Any) -> Any:
    """A text cell made safe for spreadsheets: ``'`` before text starting with ``= + - @``, tab or CR.

    Follows the OWASP *CSV Injection* guidance. Only text is changed: numbers (and text that
    is a plain number such as ``"-1.5"``) stay as they are. Text that already starts with
    ``'`` gets one more, so that :func:`restore_formula` gives every value back exactly.

    Parameters
    ----------
    value : any
        A cell value.

    Returns
    -------
    The value, or ``"'" + value`` for risky text.
    """
    if not isinstance(value, str) or not value:
        return value
    if value[0] == "'" or (value[0] in FORMULA_TRIGGERS and not _PLAIN_NUMBER.match(value)):
        return "'" + value
    return value


def restore_formula(text: str) -> str:
    """Undo :func:`neutralise_formula`: drop the ``'`` it put before a risky or quoted text."""
    if len(text) > 1 and text[0] == "'" and (text[1] == "'" or text[1] in FORMULA_TRIGGERS):
        return text[1:]
    return text


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``df`` with :func:`neutralise_formula` applied to its text cells (and column names).

    Numeric, boolean and date columns are returned unchanged; in object columns only ``str``
    values are touched, so a number stays a number.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        if pd.api.types.is_object_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype):
            out[col] = s.map(neutralise_formula, na_action="ignore")
    out.columns = [neutralise_formula(c) for c in out.columns]
    return out
