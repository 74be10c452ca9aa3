"""Peer benchmarks from other services' published DSA transparency reports (Annex I CSV parts).

``govlib dsa peers DIR... [--out FILE] [--tidy FILE] [--data DIR --period YYYY-H1]``

Published CSVs follow the templates of Implementing Regulation (EU) 2024/2835 loosely. The
reader copes, without manual fixes, with what the published files actually do:

* number formats: ``124.1M`` / ``2.3K``, thousands separators ``35.852.803`` and ``1,135,912``,
  decimal commas ``42,03``, ``98.38%``, ``427067.0``, blanks and ``NA``;
* member-state codes ``EL`` and ``GR`` (normalised to ISO ``GR``), scope spellings ``total`` /
  ``Total number`` / ``Own-initiative `` (stray spaces), language scopes (``el``, ``sv``);
* CRLF row ends with LF inside quoted cells, trailing empty columns, a UTF-8 BOM, text that
  was GBK-encoded and decoded as Latin-1 (``¡¯`` for ``’``, ``[бн]`` for ``[...]``);
* template placeholders left in (``YYYY-MM-DD/YYYY-MM-DD`` as period: the report's other
  parts give it);
* impossible dates in the period (AliExpress writes ``2025-12-32``): the row is kept, its
  period is not created but taken from the file's or the report's other rows (else from a
  ``2025H2``/``January_June_2026`` folder or file name), and a warning names file, row and value;
* files of different periods in one report folder: refused with the files and their periods,
  unless ``--allow-mixed-periods`` (then kept as separate periods, with a warning);
* median times whose unit is not stated: a unit written in the cell or its context (``h``,
  ``hours``, ``days``, ``minutes``) is used, otherwise hours are assumed and the figure says so.

:func:`read_peer_reports` returns the tidy table of every filled cell of a figure column (text
cells have a NaN ``value``); :func:`peer_figures`
extracts the comparable figures; :func:`our_figures` computes the same from a contract dataset
and :func:`compare_with_peers` puts them side by side, each with period and source.
"""

from __future__ import annotations

import calendar
import csv
import io
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd

from govlib import contract
from govlib.dsa import DsaError
from govlib.errors import UsageError


class PeerReportError(DsaError):
    """A published report file cannot be read."""


class PeerReportWarning(UserWarning):
    """A published report was read, but something in it was not taken as written."""


# GBK bytes decoded as Latin-1/Cyrillic, as found in published files -> intended characters.
MOJIBAKE = {
    "¡ª": "—",
    "¡¯": "’",
    "¡®": "‘",
    "¡°": "“",
    "¡±": "”",
    "[бн]": "[...]",
    "бн": "…",
}
_APOSTROPHE_ARTEFACT = re.compile(r"(?<=[A-Za-z])[！¨](?=[a-z])")
MEMBER_STATE_ALIASES = {"EL": "GR", "UK": "GB"}
EEA = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK IS LI NO".split()
)
LABEL_COLUMNS = (
    "applicability",
    "service",
    "reporting period",
    "section",
    "indicator",
    "scope",
    "category label",
)
MISSING = {"", "na", "n/a", "n.a.", "-", "–", "—", "none", "null", "nan", "not applicable"}
_SUFFIX = {"k": 10**3, "m": 10**6, "mn": 10**6, "b": 10**9, "bn": 10**9}
_NUM = re.compile(r"^[+-]?(\d[\d.,]*)(\s*)(%|[kKmMbB]|mn|bn)?$")

FIGURES = {
    "complaints_reversed_share": "share of internal complaints whose decision was reversed (fully or partially)",
    "complaints_median_hours": "median time to handle an internal complaint, hours",
    "notices_median_hours": "median time to take action on a notice, hours",
    "solely_automated_share": "share of moderation measures taken solely by automated means",
}


# --------------------------------------------------------------------------- numbers and codes


def uses_decimal_comma(cells: Iterable[str]) -> bool:
    """Whether a file writes decimal commas: some cell looks like ``35.852.803`` or ``42,03``.

    ``1,135,912`` (comma thousands) and ``1,720`` (ambiguous) do not count as evidence.
    """
    for c in cells:
        s = c.strip()
        if (
            re.fullmatch(r"\d{1,3}(\.\d{3}){2,}", s)
            or re.fullmatch(r"\d+,\d{1,2}", s)
            or re.fullmatch(r"\d+,\d{4,}", s)
        ):
            return True
    return False


def parse_number(text: str | float | None, decimal_comma: bool = False) -> float:
    """A published cell as a number (NaN when blank or not a number).

    Parameters
    ----------
    text : str
        Cell text, e.g. ``"124.1M"``, ``"35.852.803"``, ``"42,03"``, ``"98.38%"``, ``"427067.0"``.
    decimal_comma : bool
        The file's convention (:func:`uses_decimal_comma`): ``","`` is the decimal mark and
        ``"."`` groups thousands. Otherwise ``","`` groups thousands (``1,135,912``) unless it
        is followed by other than three digits (``70,27`` is then read as 70.27).

    Returns
    -------
    float
        The value; a percentage is returned as a share (``98.38%`` -> 0.9838).
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return float("nan")
    if isinstance(text, (int, float)):
        return float(text)
    s = str(text).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace("'", "")
    if s.lower() in MISSING:
        return float("nan")
    m = _NUM.match(s)
    if not m:
        return float("nan")
    body, suffix = m.group(1), (m.group(3) or "").lower()
    if decimal_comma:
        body = body.replace(".", "").replace(",", ".")
    elif "," in body:
        if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", body):
            body = body.replace(",", "")
        elif re.fullmatch(r"\d+,\d+", body):
            body = body.replace(",", ".")
        else:
            return float("nan")
    elif re.fullmatch(r"\d{1,3}(\.\d{3}){2,}", body):
        body = body.replace(".", "")
    try:
        value = Decimal(body)  # exact: 129.7M is 129700000, not 129699999.99999999
    except InvalidOperation:
        return float("nan")
    if s.startswith("-"):
        value = -value
    if suffix == "%":
        return float(value / 100)
    return float(value * Decimal(_SUFFIX.get(suffix, 1)))


def normalise_scope(text: str) -> tuple[str, str]:
    """``(scope, kind)``; kind is ``total``, ``own_initiative``, ``member_state``, ``language`` or ``other``."""
    s = " ".join(str(text or "").split())
    low = s.lower()
    if low in ("total", "total number", "all", "eu", "eu total"):
        return "Total number", "total"
    if low in ("own-initiative", "own initiative"):
        return "Own-initiative", "own_initiative"
    if re.fullmatch(r"[A-Z]{2}", s):
        return MEMBER_STATE_ALIASES.get(s, s), "member_state"
    if re.fullmatch(r"[a-z]{2}", s):
        return s, "language"
    return s, "other"


def repair_text(text: str) -> str:
    """Undo the encoding artefacts seen in published files (see :data:`MOJIBAKE`)."""
    for bad, good in MOJIBAKE.items():
        if bad in text:
            text = text.replace(bad, good)
    return _APOSTROPHE_ARTEFACT.sub("’", text)


# --------------------------------------------------------------------------- reading files


def read_report_csv(path: str | Path) -> pd.DataFrame:
    """One published CSV as strings: headers stripped, empty trailing columns dropped, text repaired.

    Decodes UTF-8 (with or without BOM; cp1252 as fallback), parses RFC 4180 with CRLF or LF
    row ends and line breaks inside quoted cells, pads short rows. The index is the row number
    in the file as a spreadsheet shows it (header = row 1; a quoted line break stays in its row),
    so messages can point at a row; blank rows are dropped but still counted.
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    text = repair_text(text)
    numbered = [
        (i, r)
        for i, r in enumerate(csv.reader(io.StringIO(text, newline="")), start=1)
        if any(c.strip() for c in r)
    ]
    rows = [r for _, r in numbered]
    if not rows:
        raise PeerReportError(f"{path}: empty file; expected an Annex I CSV part with a header row")
    header = [" ".join(h.split()) for h in rows[0]]
    width = max(len(r) for r in rows)
    header += [""] * (width - len(header))
    keep = [i for i, h in enumerate(header) if h or any(i < len(r) and r[i].strip() for r in rows[1:])]
    names, seen = [], Counter()
    for i in keep:
        h = header[i] or f"column_{i}"
        seen[h] += 1
        names.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    body = [[(r[i] if i < len(r) else "") for i in keep] for r in rows[1:]]
    return pd.DataFrame(
        body, columns=names, dtype=object, index=pd.Index([i for i, _ in numbered[1:]], name="row")
    )


def part_of(path: str | Path) -> int | None:
    """Annex I part number from a file name (``... - 7_appeals_and_recidivism.csv`` -> 7)."""
    m = re.search(r"(?:^|[\s_\-])(\d{1,2})_[A-Za-z]", Path(path).name)
    return int(m.group(1)) if m else None


def period_of(text: str | None) -> tuple[str | None, str | None]:
    """``(period, problem)`` of a "Reporting period" cell such as ``2025-07-01/2025-12-31``.

    ``2025/7/1`` is read too. Blanks and template placeholders give ``(None, None)``; a date
    that does not exist (``2025-12-32``) or a period ending before it starts gives
    ``(None, why)``: such a cell never makes a period of its own.
    """
    dates = re.findall(r"(\d{4})[-/](\d{1,2})[-/](\d{1,2})", str(text or ""))
    if len(dates) < 2:
        return None, None
    days = []
    for y, m, d in (tuple(map(int, x)) for x in dates[:2]):
        if not 1 <= m <= 12:
            return None, f"month {m} does not exist"
        last = calendar.monthrange(y, m)[1]
        if not 1 <= d <= last:
            return None, f"{calendar.month_name[m]} {y} has {last} days"
        days.append(date(y, m, d))
    if days[1] < days[0]:
        return None, "the period ends before it starts"
    return f"{days[0].isoformat()}/{days[1].isoformat()}", None


_NAMED_PERIODS = (
    (re.compile(r"(?<!\d)(\d{4})[-_ ]?H1(?!\d)", re.I), "{y}-01-01/{y}-06-30"),
    (re.compile(r"(?<!\d)(\d{4})[-_ ]?H2(?!\d)", re.I), "{y}-07-01/{y}-12-31"),
    (re.compile(r"January[-_ ]June[-_ ](\d{4})", re.I), "{y}-01-01/{y}-06-30"),
    (re.compile(r"July[-_ ]December[-_ ](\d{4})", re.I), "{y}-07-01/{y}-12-31"),
)


def period_from_name(report_key: str) -> tuple[str | None, str]:
    """``(period, the name it came from)`` of a report folder or file name (``2025H2``, ``January_June_2026``).

    Only the report's own name and its two innermost folders are looked at.
    """
    parts = Path(report_key).parts[-3:]
    for part in reversed(parts):
        for pattern, fmt in _NAMED_PERIODS:
            m = pattern.search(part)
            if m:
                return fmt.format(y=m.group(1)), m.group(0)
    return None, ""


def _report_key(path: Path) -> str:
    """Files of one report: same folder and, for ``<name> - <part>.csv`` files, same name."""
    name = path.name.split(" - ")[0] if " - " in path.name else ""
    return str(path.parent / name)


def _find(df: pd.DataFrame, prefix: str) -> str | None:
    for c in df.columns:
        if c.lower().startswith(prefix):
            return c
    return None


def tidy_report_csv(path: str | Path, source_name: str | None = None) -> pd.DataFrame:
    """Every filled cell of a figure column of one published part as a tidy row.

    Columns: ``part``, ``service``, ``period`` (None when the file left the placeholder or
    wrote an impossible date, see :func:`period_of`), ``section``, ``indicator``, ``scope``,
    ``scope_kind``, ``category``, ``metric``, ``value`` (NaN for a text cell), ``raw``,
    ``context``, ``source_file``. Impossible periods are reported as a :class:`PeerReportWarning`.
    """
    tidy, notes = _tidy_report_csv(Path(path), source_name)
    for note in notes:
        warnings.warn(note, PeerReportWarning, stacklevel=2)
    return tidy


def _bad_period_note(name: str, bad: list[tuple[int, str, str]]) -> str:
    shown = "; ".join(f"row {r}: {text!r} ({why})" for r, text, why in bad[:5])
    more = f"; and {len(bad) - 5} more" if len(bad) > 5 else ""
    return (
        f"{name}: {len(bad)} row(s) with an impossible reporting period, not used as a period: {shown}{more}. "
        "These rows take the period of the file's other rows (else the report's, else the folder or file name); "
        "correct the 'Reporting period' column to silence this warning."
    )


def _tidy_report_csv(path: Path, source_name: str | None) -> tuple[pd.DataFrame, list[str]]:
    df = read_report_csv(path)
    part = part_of(path)
    cols_lower = {c: c.lower() for c in df.columns}
    ctx_cols = [c for c, low in cols_lower.items() if low.startswith("contextual")]
    cat_col = _find(df, "category of")
    label_cols = {c for c, low in cols_lower.items() if low in LABEL_COLUMNS or low.startswith("description")}
    label_cols |= {cat_col} if cat_col else set()
    if "Value" in df.columns:
        metric_cols = ["Value"]
    else:
        metric_cols = [c for c in df.columns if c not in label_cols and c not in ctx_cols]
    cells = [str(v) for c in metric_cols for v in df[c].tolist()]
    dec = uses_decimal_comma(cells)
    service_col, period_col = _find(df, "service"), _find(df, "reporting period")
    period_cells = df[period_col] if period_col else pd.Series([None] * len(df), index=df.index, dtype=object)
    periods = [period_of(t) for t in period_cells]
    bad = [(r, str(t).strip(), why) for r, t, (_, why) in zip(df.index, period_cells, periods) if why]
    out = []
    for (_, row), (period, _why) in zip(df.iterrows(), periods):
        scope, kind = normalise_scope(row["Scope"]) if "Scope" in df.columns else ("", "")
        for c in metric_cols:
            raw = str(row[c])
            if raw.strip().lower() in MISSING:
                continue
            ctx = ""
            if "Value" in df.columns:
                ctx = str(row[ctx_cols[-1]]) if ctx_cols else ""
            else:
                match = [x for x in ctx_cols if x.lower().endswith(c.lower())]
                ctx = str(row[match[0]]) if match else ""
            out.append(
                {
                    "part": part,
                    "service": " ".join(str(row[service_col]).split()) if service_col else "",
                    "period": period,
                    "section": " ".join(str(row.get("Section", "")).split()),
                    "indicator": " ".join(str(row.get("Indicator", "")).split()),
                    "scope": scope,
                    "scope_kind": kind,
                    "category": " ".join(str(row[cat_col]).split()) if cat_col else "",
                    "metric": c if c != "Value" else "Value",
                    "value": parse_number(raw, dec),
                    "raw": raw,
                    "context": ctx,
                    "source_file": source_name or path.name,
                    "_report": _report_key(path),
                }
            )
    tidy = pd.DataFrame(out, columns=[
        "part", "service", "period", "section", "indicator", "scope", "scope_kind", "category", "metric",
        "value", "raw", "context", "source_file", "_report",
    ])  # fmt: skip
    return tidy, [_bad_period_note(source_name or path.name, bad)] if bad else []


def report_files(paths: Sequence[str | Path]) -> dict[Path, str]:
    """CSV files under the given files/directories -> name relative to the directory given, sorted."""
    files: dict[Path, str] = {}
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for q in sorted(p.rglob("*.csv")):
                if q.is_file():
                    files.setdefault(q, q.relative_to(p).as_posix())
        elif p.is_file():
            files.setdefault(p, p.name)
        else:
            raise UsageError(f"{p} does not exist; pass directories or CSV files of published reports")
    return dict(sorted(files.items()))


def read_peer_reports(paths: Sequence[str | Path], allow_mixed_periods: bool = False) -> pd.DataFrame:
    """The tidy table (:func:`tidy_report_csv`) of every CSV under ``paths``.

    Every file is parsed (qualitative parts give text cells only). A report is the files of one
    folder, or of one ``<name> - <part>.csv`` name in a folder. A row without a valid period
    (placeholder, impossible date) takes its file's period, else the report's most common, else
    one named by the folder or file (``2025H2``, ``January_June_2026``). A service name is
    written the way the reports write it most often (``Tiktok``/``TikTok``).

    Parameters
    ----------
    paths : sequence of path
        Folders (searched recursively) or CSV files.
    allow_mixed_periods : bool
        Accept a report whose files state different periods and keep them as separate periods
        (with a :class:`PeerReportWarning`); by default such a report is refused.

    Raises
    ------
    PeerReportError
        A file cannot be read, a report mixes periods (unless allowed), or a report states no
        valid period and its names give none.
    """
    files = report_files(paths)
    if not files:
        raise PeerReportError(f"no CSV files under {[str(p) for p in paths]}")
    # Parsing every report takes seconds and each market's report reads the same files: the
    # result and its warnings are memoised under <cache>/peers, keyed by the files (names, sizes,
    # mtimes), the options and the code. Errors are never memoised.
    cached, store = _peer_cache(files, allow_mixed_periods)
    if cached is None:
        cached = _read_peer_reports(files, allow_mixed_periods)
        store(cached)
    tidy, notes = cached
    for note in notes:
        warnings.warn(note, PeerReportWarning, stacklevel=2)
    return tidy


def _peer_cache(files: Mapping[Path, str], allow_mixed_periods: bool):
    """``(memoised (table, warnings) or None, function storing them)`` for :func:`read_peer_reports`."""
    import hashlib
    import pickle

    from govlib import config
    from govlib.config import code_version
    from govlib.io import write_bytes_atomic

    h = hashlib.sha256(f"{code_version()}\0mixed={allow_mixed_periods}\n".encode())
    for f, name in files.items():
        st = f.stat()
        h.update(f"{f.resolve()}\0{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    path = Path(config.CACHE_DIR) / "peers" / f"tidy-{h.hexdigest()[:16]}.pkl"
    try:
        cached = pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        cached = None
    if not (isinstance(cached, tuple) and len(cached) == 2):  # e.g. a table memoised by older code
        cached = None

    def store(result: tuple[pd.DataFrame, list[str]]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(path, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:
            pass  # a read-only cache only costs the parsing next time

    return cached, store


def _read_peer_reports(
    files: Mapping[Path, str], allow_mixed_periods: bool
) -> tuple[pd.DataFrame, list[str]]:
    frames, notes = [], []
    for f, name in files.items():
        try:
            frame, file_notes = _tidy_report_csv(f, name)
        except PeerReportError:
            raise
        except Exception as exc:  # noqa: BLE001 - name the file whatever went wrong
            raise PeerReportError(
                f"{f}: cannot read this report file ({type(exc).__name__}: {exc})"
            ) from None
        frames.append(frame)
        notes += file_notes
    tidy = pd.concat([f for f in frames if len(f)], ignore_index=True)
    # One spelling per service across reports: the one used by most reports, then the one
    # with more capitals (TikTok over Tiktok).
    spellings = Counter()
    for _, g in tidy.groupby("_report"):
        spellings.update({s for s in g["service"] if s})
    canon: dict[str, str] = {}
    for s, _n in sorted(
        spellings.items(), key=lambda kv: (-kv[1], -sum(ch.isupper() for ch in kv[0]), kv[0])
    ):
        canon.setdefault(s.casefold(), s)
    for key, g in tidy.groupby("_report"):
        notes += _check_mixed_periods(key, g, allow_mixed_periods)
        filled, note = _fill_periods(key, g)
        tidy.loc[g.index, "period"] = filled
        notes += [note] if note else []
        services = Counter(s for s in g["service"] if s)
        name = services.most_common(1)[0][0] if services else Path(key).parent.name
        tidy.loc[g.index, "service"] = [canon.get((s or name).casefold(), s or name) for s in g["service"]]
    return tidy, notes


def _report_label(key: str, g: pd.DataFrame) -> str:
    """A report as the user named it: its folder relative to the folder given, and its name if any."""
    folder = Path(g["source_file"].iloc[0]).parent.as_posix()
    folder = "" if folder == "." else folder + "/"
    name = Path(key).name if " - " in g["source_file"].iloc[0] else ""
    return f"{folder}{name}" if name else (folder or f"{Path(key).name}/")


def _check_mixed_periods(key: str, g: pd.DataFrame, allow: bool) -> list[str]:
    """Refuse (or, when allowed, note) a report whose files state more than one period."""
    stated = g.dropna(subset=["period"])
    if stated["period"].nunique() <= 1:
        return []
    by_file = stated.groupby("source_file")["period"].agg(lambda s: ", ".join(sorted(set(s))))
    listed = [f"{Path(f).name} ({p})" for f, p in by_file.items()]
    shown = ", ".join(listed[:10]) + (f", and {len(listed) - 10} more" if len(listed) > 10 else "")
    what = (
        f"{_report_label(key, g)}: one report folder holds files of {stated['period'].nunique()} "
        f"reporting periods: {shown}"
    )
    if allow:
        return [f"{what}; kept as separate periods (--allow-mixed-periods)."]
    raise PeerReportError(
        f"{what}. Put each period's files in a folder of its own (e.g. 2025H2/ and 2026H1/), "
        "or pass --allow-mixed-periods to keep them as separate periods."
    )


def _fill_periods(key: str, g: pd.DataFrame) -> tuple[pd.Series, str | None]:
    """Periods of a report's rows with the gaps filled: file's period, report's, then the name's."""
    period = g["period"].copy()
    for _, f in g.groupby("source_file"):
        stated = Counter(f["period"].dropna())
        if stated:
            period.loc[f.index] = f["period"].where(f["period"].notna(), stated.most_common(1)[0][0])
    stated = Counter(period.dropna())
    if stated:
        return period.where(period.notna(), stated.most_common(1)[0][0]), None
    named, name = period_from_name(key)
    files = ", ".join(sorted({Path(f).name for f in g["source_file"]}))
    if named is None:
        raise PeerReportError(
            f"{_report_label(key, g)}: no valid reporting period in any row of {files} (impossible dates or "
            "template placeholders) and none in the folder or file names (such as 2025H2 or January_June_2026); "
            "write the period in the 'Reporting period' column as YYYY-MM-DD/YYYY-MM-DD."
        )
    note = (
        f"{_report_label(key, g)}: no row of {files} states a valid reporting period; "
        f"period {named} taken from the folder or file name {name!r}."
    )
    return period.fillna(named), note


# --------------------------------------------------------------------------- figures


def median_unit(raw: str, context: str) -> tuple[float, str]:
    """Hours per unit of a published median time, and how the unit was known."""
    text = f"{raw} {context}".lower()
    for pattern, factor, unit in ((r"\bminutes?\b|\bmins?\b", 1 / 60, "minutes"), (r"\bdays?\b", 24.0, "days"),
                                  (r"\bhours?\b|\bhrs?\b|\d\s*h\b", 1.0, "hours")):  # fmt: skip
        if re.search(pattern, text):
            return factor, f"stated: {unit}"
    return 1.0, "assumed: hours (unit not stated)"


def _figure(service, period, figure, value, num, den, unit_basis, note, source) -> dict:
    return {
        "service": service, "period": period, "figure": figure, "value": value, "numerator": num,
        "denominator": den, "unit_basis": unit_basis, "note": note, "source_file": source,
    }  # fmt: skip


def peer_figures(tidy: pd.DataFrame) -> pd.DataFrame:
    """Comparable figures per service and period from the tidy peer table.

    * ``complaints_reversed_share`` = (decisions reversed + partially reversed) / total number of
      complaints submitted to the internal-complaints mechanism (Part 7); a blank "partially
      reversed" counts as 0 and is noted.
    * ``complaints_median_hours`` = Part 7 "Median time" of all complaints, in hours.
    * ``notices_median_hours`` = Part 4 "Median time to take action", ``TOTAL`` row, in hours.
    * ``solely_automated_share`` = solely automated / (solely automated + not automated) measures
      (Part 8, scope "Total number"; the sum over member states when no total row exists).

    Returns
    -------
    DataFrame
        ``service, period, figure, value, numerator, denominator, unit_basis, note, source_file``,
        one row per figure found, sorted.
    """
    rows = []
    complaints = "Number of complaints submitted to the internal-complaints mechanism"
    for (service, period), g in tidy.groupby(["service", "period"], dropna=False):
        p7 = g[(g["part"] == 7) & (g["indicator"] == complaints)]
        if len(p7):
            by = {s: r for s, r in zip(p7["scope"], p7.itertuples())}
            total, rev, part = (
                by.get(k) for k in ("Total number", "Decisions reversed", "Decisions partially reversed")
            )
            if total is not None and rev is not None and total.value > 0:
                num = rev.value + (part.value if part is not None and not math.isnan(part.value) else 0.0)
                note = "" if part is not None else "partially reversed not reported (counted as 0)"
                rows.append(_figure(service, period, "complaints_reversed_share", num / total.value, num, total.value,
                                    "", note, total.source_file))  # fmt: skip
            med = by.get("Median time")
            if med is not None and not math.isnan(med.value):
                factor, basis = median_unit(med.raw, med.context)
                rows.append(_figure(service, period, "complaints_median_hours", med.value * factor, np.nan, np.nan,
                                    basis, "", med.source_file))  # fmt: skip
        p4 = g[(g["part"] == 4) & (g["category"] == "TOTAL") & (g["metric"] == "Median time to take action")]
        for r in p4.itertuples():
            if not math.isnan(r.value):
                factor, basis = median_unit(r.raw, r.context)
                rows.append(_figure(service, period, "notices_median_hours", r.value * factor, np.nan, np.nan,
                                    basis, "", r.source_file))  # fmt: skip
                break
        p8 = g[(g["part"] == 8) & g["indicator"].str.startswith("Number of measures")]
        solely = p8[p8["indicator"] == "Number of measures solely taken by automated means"]
        notaut = p8[p8["indicator"] == "Number of measures not taken by automated means"]
        if len(solely) and len(notaut):
            s_tot, n_tot = solely[solely["scope_kind"] == "total"], notaut[notaut["scope_kind"] == "total"]
            note = ""
            if len(s_tot) and len(n_tot):
                s, n = s_tot["value"].iloc[0], n_tot["value"].iloc[0]
            else:
                s_ms = solely[solely["scope_kind"] == "member_state"]
                n_ms = notaut[notaut["scope_kind"] == "member_state"]
                s, n = s_ms["value"].sum(min_count=1), n_ms["value"].sum(min_count=1)
                note = "no total row: sum over member states"
            if s + n > 0:
                rows.append(_figure(service, period, "solely_automated_share", s / (s + n), s, s + n, "", note,
                                    solely["source_file"].iloc[0]))  # fmt: skip
    out = pd.DataFrame(rows, columns=list(_figure(*[None] * 9)))
    return out.sort_values(["figure", "service", "period"], kind="stable").reset_index(drop=True)


def our_figures(tables: Mapping[str, pd.DataFrame], period: str, service: str = "ours") -> pd.DataFrame:
    """The same figures from a contract dataset for a period (``YYYY-H1``/``YYYY-H2``), same definitions.

    Complaints and disputes: appeals with channel ``internal_complaint`` submitted in the period;
    notices received in the period and handled; measures actioned in the period. A figure the
    data cannot give (no ``appeals``/``notices`` table, empty denominator) is NaN with a note.
    """
    from govlib.dsa.templates import parse_period

    start, end, label = parse_period(period)

    def window(df, col):
        t = pd.to_datetime(df[col], utc=True)
        return df[(t >= start) & (t < end)]

    rows = []
    if "appeals" in tables:
        ap = window(tables["appeals"], "submitted_at")
        ap = ap[ap["channel"] == "internal_complaint"]
        num = float(ap["outcome"].isin(contract.OVERTURN_OUTCOMES).sum())
        den = float(len(ap))
        rows.append(_figure(service, label, "complaints_reversed_share", num / den if den else np.nan, num, den, "",
                            "" if den else "no complaints in the period", "appeals"))  # fmt: skip
        res = ap[ap["outcome"] != "pending"]
        h = pd.to_datetime(res["resolved_at"], utc=True) - pd.to_datetime(res["submitted_at"], utc=True)
        h = h.dt.total_seconds().dropna() / 3600
        rows.append(_figure(service, label, "complaints_median_hours", float(np.median(h)) if len(h) else np.nan,
                            np.nan, float(len(h)), "hours", "", "appeals"))  # fmt: skip
    else:
        for f in ("complaints_reversed_share", "complaints_median_hours"):
            rows.append(
                _figure(service, label, f, np.nan, np.nan, np.nan, "", "not available for this source", "")
            )
    if "notices" in tables:
        no = window(tables["notices"], "received_at")
        no = no[no["outcome"].isin(["actioned", "no_violation"])]
        h = pd.to_datetime(no["handled_at"], utc=True) - pd.to_datetime(no["received_at"], utc=True)
        h = h.dt.total_seconds().dropna() / 3600
        rows.append(_figure(service, label, "notices_median_hours", float(np.median(h)) if len(h) else np.nan,
                            np.nan, float(len(h)), "hours", "", "notices"))  # fmt: skip
    else:
        rows.append(_figure(service, label, "notices_median_hours", np.nan, np.nan, np.nan, "",
                            "not available for this source", ""))  # fmt: skip
    ea = window(tables["enforcement_actions"], "actioned_at")
    if "sor_uuid" in ea.columns:
        ea = ea.drop_duplicates("sor_uuid")
    s, n = float((ea["decision_mode"] == "automated").sum()), float(len(ea))
    rows.append(_figure(service, label, "solely_automated_share", s / n if n else np.nan, s, n, "", "",
                        "enforcement_actions"))  # fmt: skip
    return pd.DataFrame(rows)


def compare_with_peers(ours: pd.DataFrame, peers: pd.DataFrame) -> pd.DataFrame:
    """Our figures next to the peers': one row per figure and service, ours first.

    Adds ``is_ours`` and ``definition`` (the figure's wording) so a report section can print
    the table with the period and source file of each figure.
    """
    both = pd.concat([ours.assign(is_ours=True), peers.assign(is_ours=False)], ignore_index=True)
    both["definition"] = both["figure"].map(FIGURES)
    both["_o"] = both["figure"].map({f: i for i, f in enumerate(FIGURES)})
    both = both.sort_values(
        ["_o", "is_ours", "service", "period"], ascending=[True, False, True, True], kind="stable"
    )
    return both.drop(columns="_o").reset_index(drop=True)


# --------------------------------------------------------------------------- CLI
