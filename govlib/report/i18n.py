"""Translation (gettext catalogs built with Babel) and locale-aware formatting.

Every user-facing string goes through one translator, every number, share, date, month,
duration and amount of money through one :class:`Formatter` bound to a locale and a market::

    from govlib.report.i18n import get_translator, formatter_for
    _ = get_translator("de_DE").gettext
    fmt = formatter_for("DE")                  # market params: locale, currency, FX, time zone
    _("Enforcement actions")                   # 'Durchsetzungsmaßnahmen'
    fmt.number(1234.5)                         # '1.234,5'
    fmt.money(1234.5)                          # '1.234,50 €'
    fmt.month("2026-10")                       # 'Oktober 2026'

Catalogs: domain ``govlib`` in ``config.LOCALES_DIR`` (``locales/<lang>/LC_MESSAGES/govlib.po``).
Translators read the ``.po`` itself (compiled in memory, fuzzy entries left out), so a plain
``pip install -e .`` renders every language without ``make i18n``; the ``.mo`` files that
``make i18n`` writes are for gettext tools and ``govlib i18n check``. The source language is
British English (``en_GB``) and needs no catalog; any other language without a ``.po`` raises
:class:`I18nError` rather than falling back to English. Workflow and conventions: ``docs/i18n.md``.

Strings defined at import time (tables of labels) are marked with :func:`N_` and translated
where they are shown: ``_(KPI_NAMES[kpi_id])``.
"""

from __future__ import annotations

import copy
import datetime as _dt
import gettext as _gettext
import hashlib
import io
import json
import math
import os
import re
import string
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton
from babel.numbers import format_currency, get_currency_precision, parse_pattern
from babel.units import format_unit

from govlib import config
from govlib.errors import GovlibError
from govlib.text import N_  # noqa: F401 - re-exported: i18n.N_ is the documented marker of the report layer

DOMAIN = "govlib"
SOURCE_LANGUAGE = "en_GB"
# Catalogs shipped with govlib, the source language first.
LANGUAGES: tuple[str, ...] = ("en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pl_PL")
MAPPING_FILE = "babel.cfg"
POT_FILE = f"{DOMAIN}.pot"
# Top-level folders never scanned for messages (generated or third-party content).
_IGNORED_DIRS = {"data", "reports", "tests", "benchmarks", "docs", "locales", "params", "build", "dist"}


class I18nError(GovlibError):
    """A language is unknown or a catalog cannot be read."""


class CatalogCheckError(GovlibError):
    """``govlib i18n check`` found problems in the translation catalogs."""


# ---------------------------------------------------------------------------------------------
# Translation
# ---------------------------------------------------------------------------------------------


def normalize_language(language: str) -> str:
    """Catalog name for a language tag: ``"de"``, ``"de-DE"``, ``"de_AT"`` -> ``"de_DE"``.

    A tag whose language has a shipped catalog maps to that catalog (``en_IE`` -> ``en_GB``);
    another valid locale is returned as ``ll_TT`` (:func:`get_translator` then raises: no catalog).

    Raises
    ------
    I18nError
        When ``language`` is not a locale known to CLDR.
    """
    if not isinstance(language, str) or not language.strip():
        raise I18nError(f"language must be a locale such as 'de_DE', got {language!r}")
    tag = language.strip().replace("-", "_")
    try:
        loc = Locale.parse(tag)
    except (UnknownLocaleError, ValueError):
        raise I18nError(
            f"unknown language {language!r}: use one of {', '.join(LANGUAGES)} (a locale such as 'de_DE')"
        ) from None
    full = str(loc)
    if full in LANGUAGES:
        return full
    for cand in LANGUAGES:
        if cand.split("_")[0] == loc.language:
            return cand
    return full


class Translator:
    """gettext functions of one catalog: ``gettext`` (alias ``_`` and call), ``ngettext``,
    ``pgettext``, ``npgettext``.

    Attributes
    ----------
    language : str
        Catalog language, e.g. ``"de_DE"``.
    fallback : bool
        True when the source text is returned (the source language without a catalog).
    path : pathlib.Path or None
        The ``.po`` file in use.
    """

    def __init__(self, language: str, translations: _gettext.NullTranslations, path: Path | None):
        self.language = language
        self.path = path
        self.fallback = path is None
        self._t = translations
        self.gettext = translations.gettext
        self.ngettext = translations.ngettext
        self.pgettext = translations.pgettext
        self.npgettext = translations.npgettext
        self._ = translations.gettext

    def __call__(self, message: str) -> str:
        return self._t.gettext(message)

    def __repr__(self) -> str:
        state = "source fallback" if self.fallback else str(self.path)
        return f"Translator({self.language!r}, {state})"


def catalog_path(language: str, locales_dir: str | os.PathLike | None = None, ext: str = "po") -> Path:
    """``<locales_dir>/<language>/LC_MESSAGES/govlib.<ext>``."""
    return Path(locales_dir or config.LOCALES_DIR) / language / "LC_MESSAGES" / f"{DOMAIN}.{ext}"


def get_translator(language: str, locales_dir: str | os.PathLike | None = None) -> Translator:
    """Translator of ``language`` from its catalog ``govlib.po``.

    Parameters
    ----------
    language : str
        Locale tag; ``"de"``, ``"de_DE"`` and ``"de-DE"`` all select the German catalog.
    locales_dir : path, optional
        Defaults to ``config.LOCALES_DIR``.

    Returns
    -------
    Translator
        Translations of the ``.po`` (no compiled ``.mo`` needed); for the source language
        without a catalog, the source text (``fallback`` is True).

    Raises
    ------
    I18nError
        When a language other than the source language has no ``.po`` (a report would
        otherwise come out in English), or the ``.po`` cannot be read.
    """
    lang = normalize_language(language)
    po = catalog_path(lang, locales_dir, "po")
    if not po.is_file():
        if lang == SOURCE_LANGUAGE:
            return Translator(lang, _gettext.NullTranslations(), None)
        have = sorted(
            p.parent.parent.name for p in po.parent.parent.parent.glob(f"*/LC_MESSAGES/{DOMAIN}.po")
        )
        raise I18nError(
            f"no translation catalog for {lang}: {po} does not exist, so the text would come out in English "
            f"(catalogs found: {', '.join(have) or 'none'}). Render in one of those languages, or add the "
            f"catalog (docs/i18n.md: pybabel init -l {lang}, translate, govlib i18n check)."
        )
    return Translator(lang, _gettext.GNUTranslations(io.BytesIO(_compiled(po, lang))), po)


# .po path and content hash -> compiled .mo bytes: a kernel compiles each catalog once, and an
# edited .po (new hash) is compiled again.
_COMPILED: dict[tuple[str, str], bytes] = {}


def _compiled(po: Path, lang: str) -> bytes:
    """The ``.mo`` bytes of a ``.po`` as ``make i18n`` writes them (fuzzy entries left out)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    data = po.read_bytes()
    key = (str(po.resolve()), hashlib.sha256(data).hexdigest())
    if key not in _COMPILED:
        try:
            # strict: a malformed line would otherwise drop its message silently (English text)
            catalog = read_po(io.BytesIO(data), locale=lang, domain=DOMAIN, abort_invalid=True)
            buf = io.BytesIO()
            write_mo(buf, catalog, use_fuzzy=False)
        except Exception as exc:  # noqa: BLE001 - any parse failure names the file
            raise I18nError(
                f"{po}: cannot read the translation catalog ({type(exc).__name__}: {exc}); "
                "fix the file (govlib i18n check lists its problems)"
            ) from None
        _COMPILED[key] = buf.getvalue()
    return _COMPILED[key]


translation = get_translator


# ---------------------------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------------------------


def _missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        import pandas as pd

        return bool(pd.isna(x))
    except (TypeError, ValueError):  # arrays and the like are not scalars
        return False


def _with_digits(pattern_text: str, digits: int | None):
    pattern = parse_pattern(pattern_text)
    if digits is not None:
        pattern = copy.copy(pattern)
        pattern.frac_prec = (digits, digits)
    return pattern


class Formatter:
    """Locale-aware formats of one report: numbers, shares, counts, money, dates, months, hours.

    Parameters
    ----------
    locale : str
        Babel locale of the formats, e.g. ``"de_DE"`` (``1.234,5``), ``"fr_FR"`` (``1 234,5``
        with U+202F), ``"en_GB"`` (``1,234.5``).
    currency : str
        ISO 4217 display currency.
    fx_rate : float
        Display-currency units per 1 EUR; :meth:`money` takes EUR (the data's currency).
    timezone : str
        IANA zone in which dates are shown (the market's zone).
    language : str, optional
        Catalog for the few texts of the formatter itself ("n/a", "CI"); defaults to ``locale``.

    Notes
    -----
    A missing value (None, NaN, NaT, pandas.NA) is shown as the translated text "n/a", never
    as 0. All formats come from CLDR through Babel; none is hand-written here.
    """

    def __init__(
        self,
        locale: str = SOURCE_LANGUAGE,
        currency: str = "EUR",
        fx_rate: float = 1.0,
        timezone: str = "UTC",
        language: str | None = None,
        locales_dir: str | os.PathLike | None = None,
    ):
        try:
            self.locale = Locale.parse(str(locale).replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            raise I18nError(f"unknown locale {locale!r}: use a locale such as 'de_DE'") from None
        if not (isinstance(fx_rate, (int, float)) and math.isfinite(fx_rate) and fx_rate > 0):
            raise I18nError(f"fx_rate must be a positive number of {currency} per EUR, got {fx_rate!r}")
        self.currency = currency
        self.fx_rate = float(fx_rate)
        self.timezone = timezone
        self.translator = get_translator(language or str(self.locale), locales_dir)
        self._ = self.translator.gettext

    def __repr__(self) -> str:
        return (
            f"Formatter(locale={str(self.locale)!r}, currency={self.currency!r}, fx_rate={self.fx_rate}, "
            f"timezone={self.timezone!r}, language={self.translator.language!r})"
        )

    @property
    def na(self) -> str:
        """The text shown for a missing value."""
        # TRANSLATORS: shown in tables and text for a missing value (not available), never 0
        return self._("n/a")

    def number(self, x: Any, digits: int = 1) -> str:
        """Decimal number with exactly ``digits`` fraction digits: de ``1.234,5``."""
        if _missing(x):
            return self.na
        return _with_digits(self.locale.decimal_formats[None].pattern, digits).apply(x, self.locale)

    def count(self, n: Any) -> str:
        """Whole number with grouping: en_GB ``12,345``."""
        return self.number(n, 0)

    def percent(self, share: Any, digits: int = 1) -> str:
        """A share in [0, 1] as a percentage in the locale's style: de ``12,3 %``, en_GB ``12.3%``."""
        if _missing(share):
            return self.na
        return _with_digits(self.locale.percent_formats[None].pattern, digits).apply(share, self.locale)

    def money(self, eur: Any, digits: int | None = None) -> str:
        """An amount given in EUR, converted with ``fx_rate`` and shown in the display currency.

        ``digits`` defaults to the currency's minor units (2 for EUR, GBP, PLN).
        """
        if _missing(eur):
            return self.na
        value = float(eur) * self.fx_rate
        if digits is None:
            digits = get_currency_precision(self.currency)
        pattern = _with_digits(self.locale.currency_formats["standard"].pattern, digits)
        return format_currency(
            value, self.currency, format=pattern, locale=self.locale, currency_digits=False
        )

    def _local(self, ts: Any):
        import pandas as pd

        if isinstance(ts, _dt.date) and not isinstance(ts, _dt.datetime):
            return ts
        t = pd.Timestamp(ts)
        if t.tzinfo is None:  # the contract's timestamps are UTC
            t = t.tz_localize("UTC")
        return t.tz_convert(self.timezone).date()

    def date(self, ts: Any, format: str = "medium") -> str:
        """Calendar date of ``ts`` in the market's time zone.

        ``format``: one of "short", "medium", "long", "full" (CLDR lengths). Naive timestamps
        are taken as UTC.
        """
        if _missing(ts):
            return self.na
        return format_date(self._local(ts), format=format, locale=self.locale)

    def month(self, month: Any, abbreviated: bool = False) -> str:
        """A month ``"YYYY-MM"`` (or a date/Timestamp/Period) by name: de ``Oktober 2026``."""
        if _missing(month):
            return self.na
        if isinstance(month, str):
            from govlib.timeutil import parse_month

            parse_month(month)
            d = _dt.date(int(month[:4]), int(month[5:7]), 1)
        elif hasattr(month, "start_time"):  # pandas Period
            d = month.start_time.date()
        else:
            d = self._local(month)
        return format_skeleton("yMMM" if abbreviated else "yMMMM", d, locale=self.locale)

    def hours(self, h: Any, digits: int = 1) -> str:
        """A duration in hours with the locale's unit: en_GB ``1.5 hrs``, de ``1,5 Std.``."""
        if _missing(h):
            return self.na
        integer = self.locale.decimal_formats[None].pattern.split(";")[0].split(".")[0]
        pattern = integer + ("." + "0" * digits if digits else "")
        return format_unit(h, "duration-hour", length="short", format=pattern, locale=self.locale)

    def market_name(self, code: str) -> str:
        """A market's name in the report's locale from CLDR: ``"DE"`` -> de ``Deutschland``, fr ``Allemagne``.

        Unknown codes are returned unchanged.
        """
        if _missing(code):
            return self.na
        return self.locale.territories.get(str(code).upper(), str(code))

    def value(self, x: Any, kind: str = "number", digits: int = 1) -> str:
        """Format by kind: one of "number", "count", "percent" (also "share"), "money", "hours", "month", "date"."""
        if kind in ("percent", "share"):
            return self.percent(x, digits)
        if kind == "count":
            return self.count(x)
        if kind == "money":
            return self.money(x)
        if kind == "hours":
            return self.hours(x, digits)
        if kind == "month":
            return self.month(x)
        if kind == "date":
            return self.date(x)
        if kind in ("number", "ratio"):
            return self.number(x, digits)
        raise I18nError(
            f"unknown format kind {kind!r}: use number, count, percent, money, hours, month or date"
        )

    def rate_with_interval(
        self, value: Any, low: Any, high: Any, digits: int = 1, kind: str = "percent", level: float = 0.95
    ) -> str:
        """``12.3% (95% CI 10.1%–14.6%)`` in the locale; the value alone when the interval is missing.

        ``kind``: "percent" (a share, default), "number", "count" or "hours".
        """
        if _missing(value):
            return self.na
        v = self.value(value, kind, digits)
        if _missing(low) or _missing(high):
            return v
        # TRANSLATORS: a rate with its confidence interval, e.g. "12.3% (95% CI 10.1%–14.6%)"
        template = self._("{value} ({level} CI {low}–{high})")
        return template.format(
            value=v,
            level=self.percent(level, 0),
            low=self.value(low, kind, digits),
            high=self.value(high, kind, digits),
        )

    def frame(self, df, kinds: Mapping[str, str], digits: int = 1):
        """Copy of ``df`` with the columns in ``kinds`` formatted as text (``{"value": "percent"}``)."""
        out = df.copy()
        for col, kind in kinds.items():
            if col not in out.columns:
                raise I18nError(
                    f"cannot format column {col!r}: not in the table (columns: {list(out.columns)})"
                )
            out[col] = [self.value(x, kind, digits) for x in out[col].tolist()]
        return out


def formatter_for(market_params: Any, language: str | None = None, locales_dir=None) -> Formatter:
    """The :class:`Formatter` of a market (``MarketParams`` or a code such as ``"DE"``).

    Formats follow the market's ``locale``; when ``language`` differs from the market's
    ``report_language`` (e.g. an English copy of the German report), formats follow that
    language's locale so text and numbers agree. Currency, FX and time zone stay the market's.
    """
    if isinstance(market_params, str):
        from govlib.params import load_market

        market_params = load_market(market_params)
    locale = market_params.locale
    report_language = market_params.report_language
    if language is not None and normalize_language(language) != normalize_language(report_language):
        report_language = normalize_language(language)
        locale = report_language
    return Formatter(
        locale=locale,
        currency=market_params.currency,
        fx_rate=market_params.fx_rate_per_eur,
        timezone=market_params.timezone,
        language=report_language,
        locales_dir=locales_dir,
    )


# ---------------------------------------------------------------------------------------------
# Extraction (babel.cfg) and catalog compilation
# ---------------------------------------------------------------------------------------------


def extract_ipynb(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extractor for Jupyter notebooks: the code cells through Babel's Python extractor.

    Registered in ``babel.cfg`` (``[extractors] ipynb = govlib.report.i18n:extract_ipynb``).
    Line numbers count the code cells' lines in order. IPython magics (``%``, ``!``) are
    blanked because they are not Python.
    """
    from babel.messages.extract import extract_python

    nb = json.load(fileobj)  # Babel opens files in binary mode; json accepts UTF-8 bytes
    offset = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        src = "".join(src) if isinstance(src, list) else src
        lines = ["" if ln.lstrip().startswith(("%", "!")) else ln for ln in src.split("\n")]
        code = "\n".join(lines)
        for lineno, funcname, messages, comments in extract_python(
            io.BytesIO(code.encode("utf-8")), keywords, comment_tags, options
        ):
            yield lineno + offset, funcname, messages, comments
        offset += len(lines)


def extract_messages(root: str | os.PathLike | None = None):
    """Messages of the current code and notebooks, as ``pybabel extract -F babel.cfg`` finds them.

    Returns
    -------
    babel.messages.catalog.Catalog
    """
    from babel.messages.catalog import Catalog
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    root = Path(root or config.PROJECT_ROOT)
    cfg = root / MAPPING_FILE
    if not cfg.exists():
        raise CatalogCheckError(f"{cfg}: Babel mapping file not found")
    with open(cfg, encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, str(cfg))

    def keep_dir(dirname: str) -> bool:
        name = os.path.basename(dirname)
        top = Path(os.path.relpath(dirname, root)).parts[0] if os.path.relpath(dirname, root) != "." else ""
        return not name.startswith((".", "_")) and top not in _IGNORED_DIRS

    catalog = Catalog(domain=DOMAIN)
    for filename, lineno, message, comments, context in extract_from_dir(
        root,
        method_map,
        options_map,
        keywords=DEFAULT_KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
        directory_filter=keep_dir,
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def compile_catalogs(
    locales_dir: str | os.PathLike | None = None, languages: Iterable[str] = LANGUAGES
) -> list[Path]:
    """Compile ``govlib.po`` to ``govlib.mo`` for each language present (as ``pybabel compile``).

    Fuzzy entries are left out, as gettext tools do. Returns the written ``.mo`` paths.

    Unlike ``pybabel compile`` this skips Babel's python-format checker, which mistakes prose
    such as "95% confidence" or "5% level" for ``%c``/``%e`` placeholders; placeholders are
    checked by :func:`check_catalogs` instead (both ``{name}`` and ``%(name)s``).
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for lang in languages:
        po = catalog_path(lang, locales_dir, "po")
        if not po.exists():
            continue
        with open(po, "rb") as fh:
            catalog = read_po(fh, locale=lang, domain=DOMAIN)
        mo = po.with_suffix(".mo")
        with open(mo, "wb") as fh:
            write_mo(fh, catalog, use_fuzzy=False)
        written.append(mo)
    return written


def fill_source_catalog(locales_dir: str | os.PathLike | None = None) -> int:
    """Copy each msgid into the empty or fuzzy msgstr of the source (en_GB) catalog; return how many.

    The source catalog translates British English to itself; ``make i18n-update`` runs this
    after ``pybabel update`` so that new strings are never empty there.
    """
    from babel.messages.pofile import read_po, write_po

    po = catalog_path(SOURCE_LANGUAGE, locales_dir, "po")
    with open(po, "rb") as fh:
        catalog = read_po(fh, locale=SOURCE_LANGUAGE, domain=DOMAIN)
    n = 0
    for msg in catalog:
        if not msg.id:
            continue
        # empty, or a fuzzy guess of pybabel update (a similar old string): the source text itself
        if isinstance(msg.id, tuple):
            if msg.fuzzy or not msg.string or not all(msg.string):
                msg.string = tuple([msg.id[0]] + [msg.id[1]] * (catalog.num_plurals - 1))
                n += 1
        elif msg.fuzzy or not msg.string:
            msg.string = msg.id
            n += 1
        msg.flags.discard("fuzzy")
    with open(po, "wb") as fh:
        write_po(fh, catalog, width=100, include_previous=False)
    return n


# ---------------------------------------------------------------------------------------------
# Catalog check
# ---------------------------------------------------------------------------------------------

_PERCENT = re.compile(r"%(?:\((\w+)\))?[-#0+]*\d*(?:\.\d+)?[sdifrxXeEgG%]")


def placeholders(text: str) -> Counter:
    """Multiset of the placeholders of ``text``: ``{name}`` fields and ``%(name)s``/``%s`` codes.

    Raises ``ValueError`` on a malformed ``{...}`` field. ``%%`` (a literal percent) is ignored;
    ``95%`` followed by a space or a letter is not taken as a placeholder.
    """
    found: Counter = Counter()
    for _lit, field, _spec, _conv in string.Formatter().parse(text):
        if field is not None:
            found["{" + field + "}"] += 1
    for m in _PERCENT.finditer(text):
        if m.group(0) != "%%":
            found[m.group(0)] += 1
    return found


@dataclass(frozen=True)
class CatalogProblem:
    """One finding of the catalog check."""

    path: str
    msgid: str
    kind: str  # missing, fuzzy, empty, placeholder, obsolete, stale-template, not-compiled, stale-mo, no-catalog, plural
    detail: str

    def __str__(self) -> str:
        where = f"{self.path}: msgid {self.msgid!r}: " if self.msgid else f"{self.path}: "
        return f"{where}{self.kind}: {self.detail}"


def _tup(x):
    return tuple(x) if isinstance(x, list) else x


def _key(msg) -> tuple:
    ctx = (
        msg.context.decode("utf-8") if isinstance(msg.context, bytes) else msg.context
    )  # read_mo gives bytes
    return (_tup(msg.id), ctx)


def _label(msg_id, context=None) -> str:
    text = msg_id[0] if isinstance(msg_id, tuple) else msg_id
    return f"{context}|{text}" if context else text


def _check_placeholders(src_id, string_, path, label) -> list[CatalogProblem]:
    try:
        if isinstance(src_id, tuple):
            want = placeholders(src_id[0]) | placeholders(src_id[1])
            forms = [placeholders(s) for s in string_]
            seen: Counter = Counter()
            for f in forms:
                seen |= f
            # a singular form may leave the number out ("one action"); none may add or lose names
            bad = any(set(f) - set(want) for f in forms) or set(seen) != set(want)
        else:
            want, got = placeholders(src_id), placeholders(string_)
            bad = want != got
            forms = [got]
    except ValueError as exc:
        return [CatalogProblem(path, label, "placeholder", f"malformed placeholder ({exc})")]
    if bad:
        got_all = sorted(set().union(*[set(f) for f in forms])) if forms else []
        return [
            CatalogProblem(
                path,
                label,
                "placeholder",
                f"placeholders {got_all} do not match the source {sorted(want)}; keep every {{name}} / %(name)s exactly",
            )
        ]
    return []


def check_catalogs(
    locales_dir: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    languages: Iterable[str] = LANGUAGES,
    check_template: bool = True,
) -> list[CatalogProblem]:
    """Problems of the translation catalogs; an empty list means they are complete and current.

    Checks, for the template ``govlib.pot``:

    - it exists and holds exactly the messages ``pybabel extract -F babel.cfg`` finds in the
      current code and notebooks ("stale-template"; skipped when ``check_template`` is False);

    and for every language in ``languages``:

    - the ``.po`` exists ("no-catalog");
    - every template message is present ("missing"), not fuzzy ("fuzzy"), has a non-empty
      translation for every plural form ("empty"), uses the same placeholders ("placeholder");
    - no message outside the template ("obsolete");
    - the ``.mo`` exists ("not-compiled") and holds the ``.po``'s translations ("stale-mo").
    """
    from babel.messages.pofile import read_po

    locales_dir = Path(locales_dir or config.LOCALES_DIR)
    problems: list[CatalogProblem] = []
    pot_path = locales_dir / POT_FILE
    if not pot_path.exists():
        return [CatalogProblem(str(pot_path), "", "no-catalog", "template missing; run 'make i18n-extract'")]
    with open(pot_path, "rb") as fh:
        template = read_po(fh, domain=DOMAIN)
    tmpl = {_key(m): m for m in template if m.id}

    if check_template:
        problems += _template_problems(pot_path, tmpl, root)
    for lang in languages:
        problems += _language_problems(lang, locales_dir, pot_path, tmpl)
    return problems


def _template_problems(pot_path: Path, tmpl: dict, root: str | os.PathLike | None) -> list[CatalogProblem]:
    """ "stale-template" problems: messages in the code but not in the template, then the reverse."""
    problems: list[CatalogProblem] = []
    current = {_key(m): m for m in extract_messages(root) if m.id}
    for k in sorted(set(current) - set(tmpl), key=str):
        problems.append(
            CatalogProblem(
                str(pot_path),
                _label(*k),
                "stale-template",
                "in the code but not in the template; run 'make i18n-extract i18n-update'",
            )
        )
    for k in sorted(set(tmpl) - set(current), key=str):
        problems.append(
            CatalogProblem(
                str(pot_path),
                _label(*k),
                "stale-template",
                "in the template but no longer in the code; run 'make i18n-extract i18n-update'",
            )
        )
    return problems


def _language_problems(lang: str, locales_dir: Path, pot_path: Path, tmpl: dict) -> list[CatalogProblem]:
    """Problems of one language: its ``.po`` (present, readable, complete) and then its ``.mo``."""
    from babel.messages.pofile import read_po

    po_path = catalog_path(lang, locales_dir, "po")
    if not po_path.exists():
        return [
            CatalogProblem(
                str(po_path),
                "",
                "no-catalog",
                f"catalog missing; create it with 'pybabel init -i {pot_path} -d {locales_dir} -D {DOMAIN} -l {lang}'",
            )
        ]
    try:
        with open(po_path, "rb") as fh:
            catalog = read_po(fh, locale=lang, domain=DOMAIN)
    except Exception as exc:  # noqa: BLE001 - any parse failure is reported as such
        return [CatalogProblem(str(po_path), "", "unreadable", str(exc))]
    return _entry_problems(str(po_path), tmpl, catalog) + _mo_problems(po_path, catalog)


def _entry_problems(path: str, tmpl: dict, catalog) -> list[CatalogProblem]:
    """Per-message problems of a ``.po`` against the template, then its obsolete messages."""
    problems: list[CatalogProblem] = []
    entries = {_key(m): m for m in catalog if m.id}
    for k, src in tmpl.items():
        label = _label(*k)
        msg = entries.get(k)
        if msg is None:
            problems.append(
                CatalogProblem(
                    path, label, "missing", "not in the catalog; run 'make i18n-update' and translate"
                )
            )
            continue
        problems += _message_problems(path, label, src, msg, catalog.num_plurals)
    for k in sorted(set(entries) - set(tmpl), key=str):
        problems.append(
            CatalogProblem(path, _label(*k), "obsolete", "not in the template; run 'make i18n-update'")
        )
    return problems


def _message_problems(path: str, label: str, src, msg, num_plurals: int) -> list[CatalogProblem]:
    """Problems of one translated message: fuzzy, wrong plural count, empty, placeholders."""
    problems: list[CatalogProblem] = []
    if msg.fuzzy:
        problems.append(
            CatalogProblem(path, label, "fuzzy", "review the translation and remove the '#, fuzzy' flag")
        )
    forms = msg.string if isinstance(msg.string, tuple) else (msg.string,)
    if isinstance(src.id, tuple) and len(forms) != num_plurals:
        problems.append(
            CatalogProblem(
                path,
                label,
                "plural",
                f"{len(forms)} plural forms, the language needs {num_plurals}",
            )
        )
    if not all(forms):
        problems.append(CatalogProblem(path, label, "empty", "translation is empty"))
        return problems
    problems += _check_placeholders(src.id, msg.string, path, label)
    return problems


def _mo_problems(po_path: Path, catalog) -> list[CatalogProblem]:
    """Problems of the compiled ``.mo`` next to a ``.po``: missing, unreadable or out of date."""
    from babel.messages.mofile import read_mo

    mo_path = po_path.with_suffix(".mo")
    if not mo_path.exists():
        return [CatalogProblem(str(mo_path), "", "not-compiled", "compiled catalog missing; run 'make i18n'")]
    try:
        with open(mo_path, "rb") as fh:
            compiled = read_mo(fh)
    except Exception as exc:  # noqa: BLE001
        return [CatalogProblem(str(mo_path), "", "stale-mo", f"unreadable ({exc}); run 'make i18n'")]
    mo_entries = {_key(m): _tup(m.string) for m in compiled if m.id}
    want = {
        _key(m): _tup(m.string)
        for m in catalog
        if m.id and not m.fuzzy and m.string and all(m.string if isinstance(m.string, tuple) else (m.string,))
    }
    if mo_entries != want:
        return [CatalogProblem(str(mo_path), "", "stale-mo", "does not match its .po; run 'make i18n'")]
    return []


def main(argv: list[str] | None = None) -> int:
    """``python -m govlib.report.i18n fill-source|compile`` (used by the Makefile)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["fill-source"]:
        print(f"en_GB: {fill_source_catalog()} source message(s) filled")
        return 0
    if argv[:1] == ["compile"]:
        written = compile_catalogs()
        print(f"compiled {len(written)} catalog(s): {', '.join(p.parent.parent.name for p in written)}")
        return 0
    print("usage: python -m govlib.report.i18n fill-source|compile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
