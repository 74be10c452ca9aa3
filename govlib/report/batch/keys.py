"""Input keys and manifests of notebook outputs, and ``--resume``'s reuse of them.

``--resume`` skips every (market, notebook) whose published output has a manifest
(``<notebook>.manifest.json``) with the same input key: data fingerprint (the cube's
key), market params, month, language, notebook source, catalogs and govlib code version.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from govlib import config

OUTPUT_SUFFIXES = (".ipynb", ".html", ".manifest.json")  # the files of one notebook output


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _catalog_hash(lang: str) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(config.LOCALES_DIR).glob("*/LC_MESSAGES/*.po")):  # what translators read (i18n.py)
        h.update(p.as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def notebook_key(cube_key: str, notebook: Path, lang: str, extra: str = "") -> dict:
    """Inputs of one notebook output; equal inputs -> the output can be reused (``--resume``)."""
    from govlib.config import code_version

    inputs = {
        "cube": cube_key,
        "notebook": notebook.stem,
        "notebook_sha": _sha(notebook.read_bytes()),
        "lang": lang,
        "catalogs": _catalog_hash(lang),
        "code_version": code_version(),
        "extra": extra,
    }
    inputs["key"] = _sha(json.dumps(inputs, sort_keys=True).encode())
    return inputs


def read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def reuse_published(published: Path, staged: Path, nb: str, key: dict, pdf: bool = False) -> dict | None:
    """``--resume``: copy ``nb``'s published output into ``staged`` when its manifest has ``key``.

    Returns the old manifest when reused (its output succeeded, with the same input key,
    and its notebook and HTML exist, and its PDF when ``pdf``), else ``None`` and nothing is
    copied. A published PDF is copied along whenever there is one.
    """
    old = read_json(published / f"{nb}.manifest.json")
    needed = (".ipynb", ".html", ".pdf") if pdf else (".ipynb", ".html")
    if not (
        old
        and old.get("key") == key["key"]
        and old.get("status") == "ok"
        and all((published / f"{nb}{ext}").exists() for ext in needed)
    ):
        return None
    for ext in OUTPUT_SUFFIXES:
        shutil.copy2(published / f"{nb}{ext}", staged / f"{nb}{ext}")
    if (published / f"{nb}.pdf").exists():
        shutil.copy2(published / f"{nb}.pdf", staged / f"{nb}.pdf")
    return old


def write_manifest(folder: Path, market: str, month: str, nb: str, res: dict, key: dict) -> None:
    """``<nb>.manifest.json`` of one output: its status, duration, error and input ``key``."""
    write_json(
        folder / f"{nb}.manifest.json",
        {
            "market": market,
            "month": month,
            "notebook": nb,
            "status": res["status"],
            "duration": res.get("duration", 0.0),
            "error": res.get("error", ""),
            **key,
        },
    )
