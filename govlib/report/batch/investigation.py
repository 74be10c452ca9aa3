"""Run the investigation notebook into ``reports/investigations/<case>/`` (notebook and confidential HTML).

The case itself (validation, timeline, related creators, health traces) is
:mod:`govlib.analyses.investigate`; what the report shows is
:mod:`govlib.report.sections.investigation`. This module executes the notebook with
papermill in the project's kernel and renders its HTML with the confidential banner.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from govlib import config
from govlib.analyses.investigate import NOTEBOOK, InvestigationError, case_id, validate_case
from govlib.errors import UsageError
from govlib.io import replace_dir


def _case_folder(
    creator: str, policy: str, market: str, date_from: str, date_to: str, data_dir, out_dir, lang: str
) -> tuple[Path, Path, str, dict, str]:
    """Check the folders and the case; return data folder, output folder, language, case parameters and case id.

    The output folder must not be inside a monthly report folder: investigations stay apart.
    """
    from govlib.data.load import open_dataset
    from govlib.report.batch.arguments import check_path
    from govlib.report.i18n import normalize_language

    data = check_path(data_dir or config.DATA_DIR, "data directory", must_exist=True)
    out = check_path(out_dir or Path(config.REPORTS_DIR) / "investigations", "output directory")
    if out.name != "investigations" and any(re.match(r"^\d{4}-\d{2}$", p) for p in out.parts):
        raise UsageError(
            f"output directory {out} is inside a monthly report folder; investigations stay apart"
        )
    language = normalize_language(lang or "en_GB")
    ds = open_dataset(data)
    p = validate_case(
        ds,
        creator=creator or None,
        policy=policy or None,
        market=market or None,
        date_from=date_from or None,
        date_to=date_to or None,
    )
    cid = case_id(p["creator"] or None, p["policy"] or None, p["market"], p["date_from"], p["date_to"])
    return data, out, language, p, cid


def _execute_notebook(nb_out: Path, params: dict, kernel_name: str):
    """Run the investigation notebook with papermill into ``nb_out``; strip papermill's run metadata and return it.

    The stripped metadata (timings, papermill fields) would otherwise differ on every run.
    """
    import nbformat
    import papermill as pm

    try:
        pm.execute_notebook(
            str(config.NOTEBOOKS_DIR / f"{NOTEBOOK}.ipynb"),
            str(nb_out),
            parameters=params,
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=False,
            cwd=str(config.NOTEBOOKS_DIR),
        )
    except pm.PapermillExecutionError as exc:
        raise InvestigationError(
            f"the investigation notebook failed in cell {exc.exec_count}: "
            f"{exc.ename}: {exc.evalue} (partial notebook: {nb_out})"
        ) from None
    nb = nbformat.read(str(nb_out), as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"
    nbformat.write(nb, str(nb_out))
    return nb


def _write_case_html(nb, cid: str, language: str, path: Path) -> None:
    """Render the executed notebook to HTML with the confidential banner."""
    from govlib.report.i18n import get_translator
    from govlib.report.render.html import render_html

    _ = get_translator(language).gettext
    banner = _("CONFIDENTIAL — contains identifiers")
    html = render_html(
        nb,
        title=f"{banner}: {cid}",
        language=language.split("_")[0],
        toc_title=_("Contents"),
        banner=banner,
    )
    path.write_text(html, encoding="utf-8")


def run_investigation(
    *,
    creator: str = "",
    policy: str = "",
    market: str = "",
    date_from: str = "",
    date_to: str = "",
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    lang: str = "en_GB",
) -> Path:
    """Validate the case, execute the investigation notebook and write its HTML; return the case folder.

    The folder ``<out_dir>/<case-id>/`` is written under a temporary name and renamed into
    place, so a reader never sees half a case; running the same case again replaces it.
    """
    from govlib.report.batch.kernels import ensure_kernel

    data, out, language, p, cid = _case_folder(
        creator, policy, market, date_from, date_to, data_dir, out_dir, lang
    )
    params = {**p, "data_dir": str(data), "lang": language}
    out.mkdir(parents=True, exist_ok=True)
    final = out / cid
    tmp = out / f".{cid}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    kernel_name, kernel_env = ensure_kernel()
    saved = {k: os.environ.get(k) for k in [*kernel_env, "PYTHONHASHSEED"]}
    os.environ.update(kernel_env)
    os.environ["PYTHONHASHSEED"] = "0"
    nb_out = tmp / f"{NOTEBOOK}.ipynb"
    try:
        nb = _execute_notebook(nb_out, params, kernel_name)
        _write_case_html(nb, cid, language, tmp / f"{NOTEBOOK}.html")
        replace_dir(tmp, final)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)
    return final
