"""Fixtures of the report-section tests: contexts on the small demo data, in English and German.

Section functions run without a kernel; a context opens the market's cube once per session
(cubes are cached under ``.cache/cubes``). ``assert_translated`` checks a section's German
text against its English one.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from govlib.report.sections import Section, open_market_context, open_rollup_context

MONTH = "2026-10"
_WORDS = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")  # sections return open figures; a test does not display them


@pytest.fixture(scope="session")
def de_en(demo_dir: Path):
    """The DE market's context with English text (the market's locale formats numbers)."""
    return open_market_context("DE", MONTH, data_dir=str(demo_dir), lang="en_GB")


@pytest.fixture(scope="session")
def de_de(demo_dir: Path):
    """The DE market's context in German."""
    return open_market_context("DE", MONTH, data_dir=str(demo_dir), lang="de_DE")


@pytest.fixture(scope="session")
def rollup_en(demo_dir: Path):
    return open_rollup_context(MONTH, data_dir=str(demo_dir), lang="en_GB")


@pytest.fixture(scope="session")
def rollup_de(demo_dir: Path):
    return open_rollup_context(MONTH, data_dir=str(demo_dir), lang="de_DE")


def local_month_rows(df: pd.DataFrame, column: str, tz: str, month: str = MONTH) -> pd.DataFrame:
    """Rows whose ``column`` falls in ``month`` in time zone ``tz`` (computed here, not by govlib)."""
    local = pd.to_datetime(df[column], utc=True).dt.tz_convert(tz)
    return df[local.dt.strftime("%Y-%m") == month]


def read_table(demo_dir: Path, name: str, market: str) -> pd.DataFrame:
    """A contract table of the demo data read straight from its Parquet file(s), one market."""
    path = demo_dir / name if (demo_dir / name).is_dir() else demo_dir / f"{name}.parquet"
    df = pd.read_parquet(path)
    return df[df["market"].astype(str) == market]


def tables(section: Section) -> list[pd.DataFrame]:
    return [b[1] for b in section.blocks if b[0] == "table"]


def column(section: Section, name: str, index: int = 0) -> dict:
    """``{first column: name column}`` of the section's ``index``-th table."""
    df = tables(section)[index]
    return dict(zip(df.iloc[:, 0], df[name]))


def _phrases(text: str) -> set[str]:
    """Runs of (up to) four words of each line: an English sentence left untranslated keeps them."""
    out = set()
    for line in text.splitlines():
        words = _WORDS.findall(line)
        n = min(4, len(words))
        out |= {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)} if n >= 2 else set()
    return out


@pytest.fixture(scope="session")
def assert_translated():
    """``check(en, de, german)``: the German section has the same blocks, no English phrase and ``german``."""

    def check(en: Section, de: Section, german: str) -> None:
        assert [b[0] for b in de.blocks] == [b[0] for b in en.blocks]
        assert en.text and german in de.text and german not in en.text
        left = {p for p in _phrases(en.text) if p in " ".join(_WORDS.findall(de.text))}
        assert not left, f"English left in the German text: {sorted(left)[:5]}"
        for t_en, t_de in zip(tables(en), tables(de)):
            assert list(t_de.columns) != list(t_en.columns), "table headers not translated"

    return check
