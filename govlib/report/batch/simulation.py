"""Run a policy simulation into ``reports/<month>/simulations/<name>/`` (``simulation.csv`` and ``simulation.html``).

The replay is :mod:`govlib.analyses.simulate`; what the report shows is
:mod:`govlib.report.sections.simulation`. This module checks the command's inputs (every check
before anything is written), runs the replay once, executes ``notebooks/simulation.ipynb`` on its
results with papermill, renders the HTML, and publishes the folder with one rename
(:func:`govlib.io.replace_dir`): a reader sees the old folder or the new one, never half of one.
``govlib run`` publishes market folders and the month's files beside ``simulations/`` and leaves
it alone, so the month's index can link the simulations.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from govlib import config
from govlib.analyses import simulate as sim
from govlib.errors import UsageError
from govlib.io import replace_dir


def _inputs(market: str, month: str, proposals: list[str], data_dir, lang: str):
    """Check every input; return the market params, the proposals, the replay inputs, the language."""
    from govlib.params import ParamsError, load_market, load_proposal
    from govlib.report.batch.arguments import check_path
    from govlib.report.i18n import normalize_language
    from govlib.timeutil import parse_month

    month = parse_month(month)
    if not proposals:
        raise UsageError("give a proposal file with --proposal FILE, or two with --compare A.yaml B.yaml")
    params = load_market(market)
    props = [load_proposal(p, params) for p in proposals]
    names = [p.name for p in props]
    if len(set(names)) < len(names):
        raise ParamsError(
            f"the proposals compared share a name ({', '.join(names)}); give each its own 'name'"
        )
    language = normalize_language(lang or params.report_language)
    data = check_path(data_dir or config.DATA_DIR, "data directory", must_exist=True)
    inp = sim.load_inputs(data, params, month)
    for path, p in zip(proposals, props):
        sim.check_signals(inp, p, path)
    return params, props, inp, language


def _execute(nb_out: Path, params: dict):
    """Run the simulation notebook with papermill into ``nb_out``; return it without run metadata."""
    import nbformat
    import papermill as pm

    from govlib.report.batch.kernels import ensure_kernel
    from govlib.report.batch.worker import strip_run_metadata

    kernel_name, kernel_env = ensure_kernel()
    saved = {k: os.environ.get(k) for k in [*kernel_env, "PYTHONHASHSEED"]}
    os.environ.update({**kernel_env, "PYTHONHASHSEED": "0"})
    try:
        pm.execute_notebook(
            str(config.NOTEBOOKS_DIR / f"{sim.NOTEBOOK}.ipynb"),
            str(nb_out),
            parameters=params,
            kernel_name=kernel_name,
            progress_bar=False,
            log_output=False,
            cwd=str(config.NOTEBOOKS_DIR),
        )
    except pm.PapermillExecutionError as exc:
        raise sim.SimulationError(
            f"the simulation notebook failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        ) from None
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    nb = nbformat.read(str(nb_out), as_version=4)
    strip_run_metadata(nb)
    return nb


def _write_html(nb, title: str, language: str, path: Path) -> None:
    from govlib.report.i18n import get_translator
    from govlib.report.render.html import render_html

    _ = get_translator(language).gettext
    path.write_text(
        render_html(nb, title=title, language=language.split("_")[0], toc_title=_("Contents")),
        encoding="utf-8",
    )


def run_simulation(
    *,
    market: str,
    month: str,
    proposals: list[str],
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    lang: str = "",
) -> Path:
    """Simulate one proposal (or compare several) and publish ``<out>/<name>/``; return that folder.

    ``out_dir`` defaults to ``reports/<month>/simulations``; the folder is the proposal's
    ``name`` (``<A>-vs-<B>`` for a comparison). Nothing is written when a check fails.
    """
    from govlib.report.batch.arguments import check_path

    params, props, inp, language = _inputs(market, month, proposals, data_dir, lang)
    out = check_path(out_dir or Path(config.REPORTS_DIR) / inp.month / "simulations", "output directory")
    ms = sim.milestones_of(sim.current_rules(params), *(sim.proposed_rules(params, p) for p in props))
    runs = {p.name: sim.simulate(inp, p, milestones=ms) for p in props}
    both = sim.compare(runs)
    csv_frame = both if len(props) > 1 else runs[props[0].name]
    name = "-vs-".join(runs)
    final = out / name
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    work = tmp / ".work"
    work.mkdir(parents=True)
    try:
        both.to_parquet(work / "results.parquet", index=False)
        nb_params = {
            "market": market,
            "month": inp.month,
            "proposals": ",".join(str(Path(p).resolve()) for p in proposals),
            "results": str(work / "results.parquet"),
            "data_dir": str(data_dir or ""),
            "lang": language,
        }
        nb = _execute(work / f"{sim.NOTEBOOK}.ipynb", nb_params)
        _write_html(nb, f"{market} {inp.month}: {name}", language, tmp / f"{sim.NOTEBOOK}.html")
        text = sim.circulated(csv_frame, params.min_cell_size).to_csv(index=False, lineterminator="\n")
        (tmp / f"{sim.NOTEBOOK}.csv").write_text(text, encoding="utf-8")
        shutil.rmtree(work)
        replace_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
