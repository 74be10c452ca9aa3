"""DSA regulatory material: Transparency Database import, Annex I report, peer benchmarks.

``sor``
    ``govlib dsa import``: statements of reasons from the EU DSA Transparency Database
    daily dumps into a contract dataset.
``templates``
    ``govlib dsa report``: the harmonised transparency report (Implementing Regulation
    (EU) 2024/2835, Annex I CSV parts 4 to 8).
``peers``
    ``govlib dsa peers``: other services' published reports, normalised and compared.

This module also tells reports what an imported dataset can and cannot support
(:func:`dataset_source`, :func:`section_available`), so that creator-, appeal- and
prevalence-based sections say "not available for this source" instead of failing.
"""

from __future__ import annotations

import json
from pathlib import Path

from govlib.errors import GovlibError

SOURCE_DSA_TDB = "dsa_transparency_database"

# Report sections that an imported Transparency Database dataset cannot support, and why.
UNAVAILABLE_SECTIONS_DSA_TDB: dict[str, str] = {
    "creator": "statements of reasons carry no account identifier; creators are placeholders",
    "appeal": "the Transparency Database holds no complaints or out-of-court disputes",
    "prevalence": "the Transparency Database holds no view samples",
    "notice": "the Transparency Database holds decisions, not the notices that led to them",
    "health": "no account-health points in statements of reasons",
    "reward": "no rewards in statements of reasons",
    "severity": "no severity in statements of reasons",
    "review_quality": "the Transparency Database holds decisions, not reviewer labels, double reviews or golden items",
}

NOT_AVAILABLE_TEXT = "not available for this source"


class DsaError(GovlibError):
    """Base of the DSA module's user-facing errors."""


def dataset_source(path: str | Path) -> dict:
    """Metadata of a dataset's origin from ``<path>/dataset.json`` (``{}`` when absent).

    Parameters
    ----------
    path : str or Path
        Dataset directory.

    Returns
    -------
    dict
        The parsed ``dataset.json``; an empty dict for a dataset without one (the demo
        data and the platform's own exports, which support every section).
    """
    meta = Path(path) / "dataset.json"
    if not meta.exists():
        return {}
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DsaError(f"{meta}: not valid JSON ({exc}); re-run the import that wrote it") from None


def section_available(meta: dict, section: str) -> bool:
    """Whether a report section (``"creator"``, ``"appeal"``, ``"prevalence"``, ...) is supported.

    A dataset without metadata supports every section. Otherwise the section must not be
    listed under ``meta["unavailable_sections"]``.
    """
    return section not in (meta.get("unavailable_sections") or {})
