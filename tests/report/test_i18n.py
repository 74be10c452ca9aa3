"""Translation catalogs, the catalog check and locale formats (govlib.report.i18n).

Expected formats are written by hand from CLDR conventions (de: '.' groups, ',' decimals;
fr: U+202F narrow no-break space groups; en_GB: ',' groups, '.' decimals; currency symbol after
the amount with U+00A0 in de/fr/pl, before it in en_GB).
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from govlib import config
from govlib.cli import main as cli_main
from govlib.params import load_market
from govlib.report import i18n
from govlib.report.i18n import (
    LANGUAGES,
    SOURCE_LANGUAGE,
    Formatter,
    I18nError,
    check_catalogs,
    compile_catalogs,
    extract_ipynb,
    formatter_for,
    get_translator,
    normalize_language,
    placeholders,
)

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.fixture(scope="module")
def locales(tmp_path_factory) -> Path:
    """A compiled copy of the real catalogs (the test does not depend on 'make i18n')."""
    out = tmp_path_factory.mktemp("locales")
    shutil.copy(config.LOCALES_DIR / "govlib.pot", out / "govlib.pot")
    for lang in LANGUAGES:
        src = config.LOCALES_DIR / lang / "LC_MESSAGES" / "govlib.po"
        (out / lang / "LC_MESSAGES").mkdir(parents=True)
        shutil.copy(src, out / lang / "LC_MESSAGES" / "govlib.po")
    compile_catalogs(out)
    return out


# ------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    "locale, expected",
    [
        ("de_DE", "1.234,5"),
        ("fr_FR", f"1{NNBSP}234,5"),
        ("en_GB", "1,234.5"),
        ("it_IT", "1.234,5"),
        ("pl_PL", f"1{NBSP}234,5"),
    ],
)
def test_number_grouping_and_decimal_mark(locale, expected):
    assert Formatter(locale).number(1234.5) == expected


def test_number_digits_and_rounding():
    f = Formatter("en_GB")
    assert f.number(1234.5678, 2) == "1,234.57"
    assert f.number(2.5, 0) == "2"  # CLDR rounds half-even, as Babel documents
    assert f.number(0.1, 3) == "0.100"
    assert f.count(1234567) == "1,234,567"
    assert Formatter("de_DE").count(1234567) == "1.234.567"


@pytest.mark.parametrize(
    "locale, expected",
    # CLDR: fr groups digits with U+202F but separates the % sign with U+00A0
    [
        ("de_DE", f"12,3{NBSP}%"),
        ("fr_FR", f"12,3{NBSP}%"),
        ("en_GB", "12.3%"),
        ("es_ES", f"12,3{NBSP}%"),
        ("fr_FR", f"1{NNBSP}234,0{NBSP}%"),
    ],
)
def test_percent(locale, expected):
    share = 12.34 if expected.startswith("1\u202f234") else 0.1234
    assert Formatter(locale).percent(share) == expected


@pytest.mark.parametrize(
    "locale, currency, fx, eur, expected",
    [
        ("de_DE", "EUR", 1.0, 1234.5, f"1.234,50{NBSP}€"),
        ("fr_FR", "EUR", 1.0, 1234.5, f"1{NNBSP}234,50{NBSP}€"),
        ("en_GB", "GBP", 0.85, 1000.0, "£850.00"),  # converted: 1,000 EUR x 0.85 GBP/EUR
        ("pl_PL", "PLN", 4.25, 1000.0, f"4{NBSP}250,00{NBSP}zł"),
        ("en_IE", "EUR", 1.0, 1234.5, "€1,234.50"),
    ],
)
def test_money_converted_and_placed_per_locale(locale, currency, fx, eur, expected):
    assert Formatter(locale, currency=currency, fx_rate=fx).money(eur) == expected


@pytest.mark.parametrize(
    "locale, expected",
    [
        ("de_DE", "Oktober 2026"),
        ("fr_FR", "octobre 2026"),
        ("en_GB", "October 2026"),
        ("es_ES", "octubre de 2026"),
        ("it_IT", "ottobre 2026"),
        ("pl_PL", "październik 2026"),
    ],
)
def test_month_names(locale, expected):
    assert Formatter(locale).month("2026-10") == expected


def test_month_accepts_period_and_rejects_bad_month():
    f = Formatter("de_DE")
    assert f.month(pd.Period("2026-03", "M")) == "März 2026"
    with pytest.raises(Exception, match="YYYY-MM"):
        f.month("2026-13")


def test_date_in_market_time_zone():
    # 23:30 UTC on 31 October is already 1 November in Berlin (UTC+1 after the October change)
    ts = pd.Timestamp("2026-10-31 23:30", tz="UTC")
    assert Formatter("de_DE", timezone="Europe/Berlin").date(ts) == "01.11.2026"
    assert Formatter("en_GB", timezone="Europe/London").date(ts) == "31 Oct 2026"
    assert Formatter("en_GB", timezone="Europe/London").date(ts, "long") == "31 October 2026"


def test_hours_with_locale_unit():
    assert Formatter("en_GB").hours(1.5) == "1.5 hrs"
    assert Formatter("de_DE").hours(1.5) == "1,5 Std."
    assert Formatter("de_DE").hours(12, 0) == "12 Std."


def test_missing_values_are_na_text_never_zero(locales):
    de = Formatter("de_DE", locales_dir=locales)
    for x in (None, float("nan"), np.nan, pd.NA, pd.NaT):
        for method in (de.number, de.count, de.percent, de.money, de.date, de.month, de.hours):
            assert method(x) == "k. A."
    assert Formatter("en_GB", locales_dir=locales).percent(None) == "n/a"
    assert Formatter("pl_PL", locales_dir=locales).count(float("nan")) == "b.d."
    assert de.count(0) == "0"  # a real zero stays zero


def test_rate_with_interval(locales):
    en = Formatter("en_GB", locales_dir=locales)
    assert en.rate_with_interval(0.123, 0.101, 0.146) == "12.3% (95% CI 10.1%–14.6%)"
    de = Formatter("de_DE", locales_dir=locales)
    assert de.rate_with_interval(0.123, 0.101, 0.146) == f"12,3{NBSP}% (95{NBSP}%-KI 10,1{NBSP}%–14,6{NBSP}%)"
    assert en.rate_with_interval(0.5, np.nan, np.nan) == "50.0%"  # no interval: the value alone
    assert en.rate_with_interval(np.nan, 0.1, 0.2) == "n/a"
    assert en.rate_with_interval(12.0, 10.0, 14.5, kind="hours") == "12.0 hrs (95% CI 10.0 hrs–14.5 hrs)"


def test_formatter_for_market_and_language_override(locales):
    de = formatter_for(load_market("DE"), locales_dir=locales)
    assert (str(de.locale), de.currency, de.timezone) == ("de_DE", "EUR", "Europe/Berlin")
    assert de.number(1234.5) == "1.234,5"
    en = formatter_for("DE", language="en_GB", locales_dir=locales)
    assert str(en.locale) == "en_GB" and en.number(1234.5) == "1,234.5" and en.na == "n/a"
    pl = load_market("PL")
    # 100 EUR at the params' FX rate, shown in PLN (same as formatting the converted amount at rate 1)
    assert formatter_for(pl, locales_dir=locales).money(100) == Formatter("pl_PL", "PLN").money(
        100 * pl.fx_rate_per_eur
    )
    assert formatter_for(pl, locales_dir=locales).money(100).endswith(f"{NBSP}zł")
    ie = formatter_for("IE", locales_dir=locales)
    assert str(ie.locale) == "en_IE" and ie.translator.language == "en_GB"


def test_frame_formats_columns():
    df = pd.DataFrame({"kpi": ["a", "b"], "value": [0.5, np.nan], "n": [1200, 3]})
    out = Formatter("de_DE").frame(df, {"value": "percent", "n": "count"})
    assert out["value"].tolist()[0] == f"50,0{NBSP}%" and out["n"].tolist() == ["1.200", "3"]
    assert df["value"].iloc[0] == 0.5  # input untouched
    with pytest.raises(I18nError, match="missing_col"):
        Formatter("de_DE").frame(df, {"missing_col": "count"})


def test_bad_formatter_arguments():
    with pytest.raises(I18nError, match="locale"):
        Formatter("xx_YY")
    with pytest.raises(I18nError, match="fx_rate"):
        Formatter("de_DE", fx_rate=0)
    with pytest.raises(I18nError, match="kind"):
        Formatter("de_DE").value(1, "furlongs")


# ------------------------------------------------------------------ translators


def test_normalize_language():
    assert normalize_language("de") == "de_DE"
    assert normalize_language("de-AT") == "de_DE"
    assert normalize_language("en_IE") == "en_GB"
    assert normalize_language("pl_PL") == "pl_PL"
    assert normalize_language("nl_NL") == "nl_NL"  # valid locale without a catalog
    with pytest.raises(I18nError, match="unknown language"):
        normalize_language("xx")


def test_translator_uses_catalog(locales):
    t = get_translator("de", locales)
    assert not t.fallback and t.language == "de_DE"
    assert t.gettext("n/a") == "k. A." and t("n/a") == "k. A." and t._("n/a") == "k. A."
    assert get_translator("fr_FR", locales).gettext("n/a") == "n.d."


@pytest.fixture
def po_only(tmp_path, monkeypatch) -> Path:
    """A copy of the real catalogs without any .mo, set as config.LOCALES_DIR (a plain pip install)."""
    out = tmp_path / "locales"
    shutil.copytree(config.LOCALES_DIR, out, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(config, "LOCALES_DIR", out)
    return out


def test_translates_without_compiled_catalogs(po_only):
    assert not list(po_only.rglob("*.mo"))
    t = get_translator("de_DE")
    assert not t.fallback and t.path == po_only / "de_DE" / "LC_MESSAGES" / "govlib.po"
    assert t.gettext("n/a") == "k. A." and t.gettext("Enforcement actions") == "Durchsetzungsmaßnahmen"
    assert Formatter("de_DE").na == "k. A." and formatter_for("PL").na == "b.d."
    assert get_translator("fr").gettext("n/a") == "n.d."
    assert not list(po_only.rglob("*.mo"))  # nothing written next to the sources


def test_edited_po_is_seen_and_fuzzy_left_out(tmp_path):
    po = tmp_path / "de_DE" / "LC_MESSAGES" / "govlib.po"
    _write(po, _german({}))
    assert get_translator("de_DE", tmp_path).gettext("Appeals") == "Einsprüche"
    _write(po, _german({"Appeals": "Beschwerden", "Notice": "fuzzy"}))  # same path, new content
    t = get_translator("de_DE", tmp_path)
    assert t.gettext("Appeals") == "Beschwerden"
    assert t.gettext("Notice") == "Notice"  # fuzzy entries are not used, as with 'make i18n'


def test_missing_catalog_is_an_error_not_english(tmp_path):
    with pytest.raises(
        I18nError, match=r"no translation catalog for de_DE: .*de_DE/LC_MESSAGES/govlib.po does not exist"
    ):
        get_translator("de_DE", tmp_path)
    with pytest.raises(I18nError, match="no translation catalog for de_DE"):
        Formatter("de_DE", locales_dir=tmp_path)
    # the source language needs no catalog
    t = get_translator("en_GB", tmp_path)
    assert t.fallback
    assert t.gettext("n/a") == "n/a"
    assert t.ngettext("{n} action", "{n} actions", 2) == "{n} actions"
    assert t.pgettext("table header", "Market") == "Market"
    # and the check fails on the missing catalog
    kinds = {p.kind for p in check_catalogs(tmp_path, languages=["de_DE"], check_template=False)}
    assert "no-catalog" in kinds


def test_language_without_catalog_is_an_error(locales):
    with pytest.raises(
        I18nError, match=r"no translation catalog for nl_NL.*catalogs found: de_DE, en_GB, es_ES"
    ):
        get_translator("nl_NL", locales)


def test_unreadable_po_names_the_file(tmp_path):
    po = tmp_path / "de_DE" / "LC_MESSAGES" / "govlib.po"
    po.parent.mkdir(parents=True)
    po.write_bytes(b'msgid "a"\nmsgstr "b"\nnot a po line\nmsgid "c"\nmsgstr "d"\n')
    with pytest.raises(I18nError, match=r"de_DE/LC_MESSAGES/govlib.po: cannot read the translation catalog"):
        get_translator("de_DE", tmp_path)


# ------------------------------------------------------------------ real catalogs


def test_real_catalogs_pass_the_check(locales):
    problems = check_catalogs(locales, root=config.PROJECT_ROOT)
    assert problems == [], "\n".join(map(str, problems))


def test_cli_check_passes_on_real_catalogs(locales, capsys):
    assert cli_main(["i18n", "check", "--locales", str(locales)]) == 0
    assert "ok" in capsys.readouterr().out


def _entries(lang: str) -> list:
    with open(config.LOCALES_DIR / lang / "LC_MESSAGES" / "govlib.po", "rb") as fh:
        return [m for m in read_po(fh, locale=lang) if m.id]


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE])
def test_translations_are_not_the_english_copied(lang):
    """A translation equal to its source is allowed only for a single word (e.g. 'Total', 'Status')
    or text without letters; everything else must be in the target language."""
    copied = []
    for m in _entries(lang):
        src = m.id[0] if isinstance(m.id, tuple) else m.id
        dst = m.string[0] if isinstance(m.string, tuple) else m.string
        words = [w for w in src.replace("{", " ").split() if any(c.isalpha() for c in w) and "}" not in w]
        if dst == src and len(words) > 1:
            copied.append(src)
    assert copied == []


@pytest.mark.parametrize("lang", [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE])
def test_glossary_terms_used_in_catalogs(lang):
    """Key terms of docs/glossary.md appear in the catalog's translations of the matching source terms."""
    glossary = (config.DOCS_DIR / "glossary.md").read_text(encoding="utf-8")
    col = {"de_DE": 2, "fr_FR": 3, "es_ES": 4, "it_IT": 5, "pl_PL": 6}[lang]
    rows = [
        r.split("|")[1:-1]
        for r in glossary.splitlines()
        if r.startswith("| ") and not r.startswith("| en_GB")
    ]
    rows = [[c.strip() for c in r] for r in rows if len(r) >= 6 and not set(r[0].strip()) <= {"-"}]
    checked = 0
    for row in rows:
        en_term, target = row[0].lower(), row[col - 1].split(";")[0].strip().lower()
        for m in _entries(lang):
            src = (m.id[0] if isinstance(m.id, tuple) else m.id).lower()
            dst = (m.string[0] if isinstance(m.string, tuple) else m.string).lower()
            if src == en_term:
                assert target in dst, f"{lang}: {src!r} -> {dst!r}, glossary says {target!r}"
                checked += 1
    assert checked >= 3, "glossary terms should appear as catalog entries"


# ------------------------------------------------------------------ broken catalogs

TEMPLATE_MESSAGES = [
    ("Appeals", None),
    ("Overturn rate", None),
    ("Enforcement actions in {month}", None),
    ("Notice", None),
    ("%(n)d notices handled", None),
    (("{n} action", "{n} actions"), None),
    ("Market", "table header"),
]


def _write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        write_po(fh, catalog)


def _template() -> Catalog:
    cat = Catalog(domain="govlib")
    for msgid, ctx in TEMPLATE_MESSAGES:
        cat.add(msgid, context=ctx)
    return cat


def _german(broken: dict) -> Catalog:
    good = {
        "Appeals": "Einsprüche",
        "Overturn rate": "Aufhebungsquote",
        "Enforcement actions in {month}": "Durchsetzungsmaßnahmen im {month}",
        "Notice": "Meldung",
        "%(n)d notices handled": "%(n)d Meldungen bearbeitet",
        ("{n} action", "{n} actions"): ("{n} Maßnahme", "{n} Maßnahmen"),
        "Market": "Markt",
    }
    cat = Catalog(locale="de_DE", domain="govlib")
    for msgid, ctx in TEMPLATE_MESSAGES:
        if broken.get(msgid) == "drop":
            continue
        string = broken.get(msgid, good[msgid])
        flags = ()
        if broken.get(msgid) == "fuzzy":
            string, flags = good[msgid], ("fuzzy",)
        cat.add(msgid, string, context=ctx, flags=flags)
    return cat


@pytest.fixture()
def broken_dir(tmp_path) -> Path:
    _write(tmp_path / "govlib.pot", _template())
    po = tmp_path / "de_DE" / "LC_MESSAGES" / "govlib.po"
    _write(
        po,
        _german(
            {
                "Appeals": "drop",  # missing
                "Overturn rate": "fuzzy",  # fuzzy
                "Notice": "",  # empty
                "Enforcement actions in {month}": "Durchsetzungsmaßnahmen im {monat}",  # wrong name
                "%(n)d notices handled": "%d Meldungen bearbeitet",  # lost the name
            }
        ),
    )
    compile_catalogs(tmp_path, ["de_DE"])
    return tmp_path


def test_check_finds_each_deliberate_break(broken_dir):
    problems = check_catalogs(broken_dir, languages=["de_DE"], check_template=False)
    found = {(p.msgid, p.kind) for p in problems}
    assert found == {
        ("Appeals", "missing"),
        ("Overturn rate", "fuzzy"),
        ("Notice", "empty"),
        ("Enforcement actions in {month}", "placeholder"),
        ("%(n)d notices handled", "placeholder"),
    }
    assert all(p.path.endswith("de_DE/LC_MESSAGES/govlib.po") for p in problems)


def test_check_passes_on_the_repaired_catalog(tmp_path):
    _write(tmp_path / "govlib.pot", _template())
    _write(tmp_path / "de_DE" / "LC_MESSAGES" / "govlib.po", _german({}))
    compile_catalogs(tmp_path, ["de_DE"])
    assert check_catalogs(tmp_path, languages=["de_DE"], check_template=False) == []


def test_check_plural_forms(tmp_path):
    _write(tmp_path / "govlib.pot", _template())
    cat = _german({("{n} action", "{n} actions"): ("{n} Maßnahme", "{count} Maßnahmen")})
    _write(tmp_path / "de_DE" / "LC_MESSAGES" / "govlib.po", cat)
    compile_catalogs(tmp_path, ["de_DE"])
    problems = check_catalogs(tmp_path, languages=["de_DE"], check_template=False)
    assert [(p.msgid, p.kind) for p in problems] == [("{n} action", "placeholder")]


def test_check_obsolete_and_mo_state(tmp_path):
    _write(tmp_path / "govlib.pot", _template())
    cat = _german({})
    cat.add("Removed long ago", "Längst entfernt")
    po = tmp_path / "de_DE" / "LC_MESSAGES" / "govlib.po"
    _write(po, cat)
    kinds = {(p.msgid, p.kind) for p in check_catalogs(tmp_path, languages=["de_DE"], check_template=False)}
    assert kinds == {("Removed long ago", "obsolete"), ("", "not-compiled")}
    compile_catalogs(tmp_path, ["de_DE"])
    _write(po, _german({"Appeals": "Beschwerden"}))  # edited after compiling
    kinds = {(p.msgid, p.kind) for p in check_catalogs(tmp_path, languages=["de_DE"], check_template=False)}
    assert kinds == {("", "stale-mo")}


def test_cli_check_fails_with_file_and_msgid(broken_dir, capsys):
    rc = cli_main(["i18n", "check", "--locales", str(broken_dir), "--no-template-check"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "de_DE/LC_MESSAGES/govlib.po: msgid 'Appeals': missing" in err
    assert "msgid 'Overturn rate': fuzzy" in err
    assert "msgid 'Notice': empty" in err
    assert "{monat}" in err and "Traceback" not in err


# ------------------------------------------------------------------ extraction / stale template


def _project(tmp_path: Path, code: str, cells: list[str]) -> Path:
    shutil.copy(config.PROJECT_ROOT / "babel.cfg", tmp_path / "babel.cfg")
    (tmp_path / "govlib").mkdir()
    (tmp_path / "govlib" / "mod.py").write_text(code, encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
            for c in cells
        ]
        + [{"cell_type": "markdown", "metadata": {}, "source": "_('not code')"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "notebooks" / "report.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    # a generated report folder must not be scanned
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "old.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    return tmp_path


def test_extraction_reads_code_and_notebook_cells(tmp_path):
    root = _project(
        tmp_path,
        "from govlib.report.i18n import N_\nLABELS = {'a': N_('Trusted flagger')}\n",
        [
            "%matplotlib inline\n_ = t.gettext\nprint(_('Appeal outcomes'))",
            "x = t.ngettext('{n} appeal', '{n} appeals', n)",
        ],
    )
    ids = {m.id for m in i18n.extract_messages(root) if m.id}
    assert ids == {"Trusted flagger", "Appeal outcomes", ("{n} appeal", "{n} appeals")}


def test_extract_ipynb_line_numbers(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "code", "source": ["a = 1\n", "b = 2"]},
            {"cell_type": "code", "source": "!pip list\n_('Prevalence')"},
        ]
    }
    p = tmp_path / "x.ipynb"
    p.write_text(json.dumps(nb))
    with open(p, "rb") as fh:
        out = list(extract_ipynb(fh, {"_": None}, [], {}))
    assert [(lineno, msg) for lineno, _f, msg, _c in out] == [(4, "Prevalence")]


def test_stale_template_is_reported(tmp_path):
    root = _project(tmp_path, "_('Statement of reasons')\n_('Kept')\n", ["_('Notice')"])
    locales = root / "locales"
    cat = Catalog(domain="govlib")
    cat.add("Kept")
    cat.add("Notice")
    cat.add("Gone from code")
    _write(locales / "govlib.pot", cat)
    problems = check_catalogs(locales, root=root, languages=[])
    assert {(p.msgid, p.kind) for p in problems} == {
        ("Statement of reasons", "stale-template"),
        ("Gone from code", "stale-template"),
    }


def test_placeholders():
    assert placeholders("{n} of {total}") == {"{n}": 1, "{total}": 1}
    assert placeholders("%(n)d items, %s left, 100%% done") == {"%(n)d": 1, "%s": 1}
    assert placeholders("95% CI and 5% daily") == {}  # a literal percent sign is not a placeholder
    with pytest.raises(ValueError):
        placeholders("unclosed {brace")


def test_make_targets_exist():
    text = (config.PROJECT_ROOT / "Makefile").read_text()
    for target in ("i18n:", "i18n-extract:", "i18n-update:", "i18n-check:"):
        assert target in text
    cfg = (config.PROJECT_ROOT / "babel.cfg").read_text()
    assert "govlib/**.py" in cfg and "notebooks/*.ipynb" in cfg
    assert textwrap.dedent("ipynb = govlib.report.i18n:extract_ipynb") in cfg


def test_market_name_from_cldr():
    assert Formatter("de_DE").market_name("DE") == "Deutschland"
    assert Formatter("fr_FR").market_name("DE") == "Allemagne"
    assert Formatter("pl_PL").market_name("GB") == "Wielka Brytania"
    assert Formatter("en_GB").market_name("XX") == "XX"


def test_fill_source_catalog(tmp_path):
    cat = Catalog(locale="en_GB", domain="govlib")
    cat.add("Appeals", "")
    cat.add("Notice", "Appeals", flags=("fuzzy",))  # a fuzzy guess by pybabel update
    cat.add("Kept", "Kept")
    _write(tmp_path / "en_GB" / "LC_MESSAGES" / "govlib.po", cat)
    assert i18n.fill_source_catalog(tmp_path) == 2
    with open(tmp_path / "en_GB" / "LC_MESSAGES" / "govlib.po", "rb") as fh:
        out = {m.id: (m.string, m.fuzzy) for m in read_po(fh) if m.id}
    assert out == {"Appeals": ("Appeals", False), "Notice": ("Notice", False), "Kept": ("Kept", False)}
