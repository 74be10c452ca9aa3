"""The scheduler of ``govlib run``: :func:`run_batch` and its steps, in the order a run takes them.

1. :func:`plan_batch` validates every input (:mod:`.arguments`) before anything is written;
2. :func:`~.publish.open_staging` takes the month's lock and makes the staging folder;
3. :class:`_Batch` builds each market's cube once (a cached one is reused when data,
   params and code are unchanged), then executes each (market, notebook) in the worker
   pool (:mod:`.pool`; at most ``--jobs`` at a time, a per-notebook timeout from
   ``reports.yaml``), publishes each market folder when its notebooks are done, then
   runs the roll-up notebooks into ``EMEA``;
4. :func:`~.publish.write_month_files` replaces the month's ``kpis.csv`` and ``index.html``.

A failing (market, notebook) is recorded in the index with its error's first lines and a
link to the failing cell; the others complete. A market whose cube cannot be built gets no
new folder, only its error in the index. A full disk fails the market (or the run, for the
month's files), never publishing a half-written file.
"""

from __future__ import annotations

import os
import shutil
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from govlib import config
from govlib.errors import GovlibError
from govlib.report.batch.arguments import (
    check_jobs,
    check_language,
    check_market_month,
    check_notebooks,
    check_output_dir,
    check_path,
    dsa_reports,
    parse_markets,
    parse_reports,
    unknown_data_markets,
    validate_notebook_parameters,
)
from govlib.report.batch.errors import DiskFull, writing
from govlib.report.batch.kernels import ensure_kernel, fresh_kernels_requested
from govlib.report.batch.keys import notebook_key, reuse_published, write_manifest
from govlib.report.batch.pool import WorkerPool
from govlib.report.batch.publish import open_staging, publish_or_keep, write_month_files
from govlib.report.batch.result import ROLLUP_FOLDER, BatchResult, Outcome
from govlib.report.render.pdf import require_browser
from govlib.timeutil import parse_month


@dataclass
class BatchPlan:
    """The validated inputs of a run: what to run, where, and how."""

    month: str
    markets: list[str]
    market_nbs: list[str]
    rollup_nbs: list[str]
    nbs_of: dict[
        str, list[str]
    ]  # each market's notebooks (expansion notebooks only for markets in expansion)
    mparams: dict
    data: Path
    out: Path
    cache: Path
    lang: str
    jobs: int
    timeout: float
    kernel_name: str
    kernel_env: dict[str, str]
    skipped: dict[str, str] = field(default_factory=dict)
    dsa_nbs: list[str] = field(default_factory=list)  # also in rollup_nbs; run only with an archive
    dsa_archive: Path | None = None
    pdf: str = ""  # the browser that prints each report to PDF (--pdf), or "" for HTML only


def plan_batch(
    month: str,
    markets: str = "all",
    reports: str | None = None,
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    jobs: int | None = None,
    lang: str = "",
    dsa_archive: str | Path | None = None,
    pdf: bool = False,
) -> BatchPlan:
    """Validate every input of a run (nothing is written); see :func:`run_batch` for the arguments."""
    from govlib.analyses.expansion import is_expansion_market
    from govlib.params import list_markets, load_market, load_reports
    from govlib.privacy import load_pseudonym_key

    # a future month has no complete data: refuse it rather than publish empty reports
    month = parse_month(month, allow_future=False)
    known = list_markets()
    market_list = parse_markets(markets, known)
    rp = load_reports()
    archive, dsa_nbs = dsa_reports(dsa_archive or config.current().dsa_archive, rp.dsa_notebooks, reports)
    market_nbs, rollup_nbs = parse_reports(
        reports, rp.market_notebooks + rp.expansion_notebooks, rp.rollup_notebooks + dsa_nbs
    )
    check_notebooks(market_nbs + rollup_nbs)
    data = check_path(data_dir or config.DATA_DIR, "data directory", must_exist=True)
    out = check_output_dir(out_dir or config.REPORTS_DIR)
    skipped = unknown_data_markets(data, known) if markets.strip().lower() == "all" else {}
    cache = check_path(config.CACHE_DIR, "cache directory")
    if lang:
        check_language(lang)
    n_jobs = check_jobs(jobs)
    browser = require_browser() if pdf else ""  # no renderer: say so before anything is written
    mparams = {m: load_market(m) for m in market_list}
    nbs_of = {
        m: [
            nb
            for nb in market_nbs
            if nb not in rp.expansion_notebooks or is_expansion_market(mparams[m], month, rp.expansion_months)
        ]
        for m in market_list
    }
    load_pseudonym_key(data)  # fail now, once, rather than in every notebook that pseudonymises
    kernel_name, kernel_env = ensure_kernel()
    return BatchPlan(
        month,
        market_list,
        market_nbs,
        rollup_nbs,
        nbs_of,
        mparams,
        data,
        out,
        cache,
        lang,
        n_jobs,
        rp.timeout_seconds,
        kernel_name,
        kernel_env,
        skipped,
        dsa_nbs=[nb for nb in dsa_nbs if nb in rollup_nbs],
        dsa_archive=archive,
        pdf=browser,
    )


def _archive_key(archive: Path) -> str:
    """Input key of a DSA report: the archive's path and the hash of its manifest (written last by a sync)."""
    import hashlib

    return f"dsa:{archive}:{hashlib.sha256((archive / 'manifest.json').read_bytes()).hexdigest()}"


def _worker_env(plan: BatchPlan, fresh: bool) -> dict[str, str]:
    """The environment of the worker processes (and so of their kernels)."""
    env = dict(os.environ)
    env.update(plan.kernel_env)
    env["PYTHONHASHSEED"] = "0"  # deterministic set/dict-of-str order inside kernels
    env[config.env_name("cache")] = str(plan.cache)
    env.setdefault(config.env_name("root"), str(config.PROJECT_ROOT))
    env[config.env_name("runner_pid")] = str(
        os.getpid()
    )  # a worker whose parent is no longer this process stops
    env.pop("MPLBACKEND", None)
    env[config.env_name("fresh_kernels")] = "1" if fresh else "0"  # read by the workers (pool.worker_loop)
    return env


def _index_language(lang: str) -> tuple:
    """``(gettext, Formatter, lang)`` of the month's index; the source language if ``lang`` cannot be loaded."""
    from govlib.report.i18n import Formatter, get_translator

    try:
        return get_translator(lang).gettext, Formatter(lang, language=lang), lang
    except Exception:  # noqa: BLE001 - the index falls back to the source language
        return (lambda s: s), Formatter("en_GB"), "en_GB"


class _Batch:
    """One run's scheduling state: the tasks in flight, each market's cube and pending notebooks.

    Tasks go to the job-slot threads of ``pool`` (each driving a :class:`WorkerPool`
    worker); every completion is handled on the calling thread (:meth:`run`), in a
    deterministic order, so the state needs no lock.
    """

    def __init__(
        self, plan: BatchPlan, stage: Path, env: dict[str, str], *, fresh: bool, resume: bool, progress: bool
    ) -> None:
        from tqdm import tqdm

        self.plan, self.stage, self.work, self.env = plan, stage, stage / ".work", env
        self.fresh, self.resume = fresh, resume
        self.month_dir = plan.out / plan.month
        self.result = BatchResult(plan.month, self.month_dir, skipped=plan.skipped)
        # a warm kernel imports what all of the run's notebooks import, before its first notebook
        self.warm_notebooks = [
            str(config.NOTEBOOKS_DIR / f"{nb}.ipynb") for nb in plan.market_nbs + plan.rollup_nbs
        ]
        self.procs = WorkerPool()
        n_tasks = sum(1 + len(plan.nbs_of[m]) for m in plan.markets) + len(plan.rollup_nbs)
        self.bar = tqdm(
            total=n_tasks,
            desc=f"govlib run {plan.month}",
            unit="task",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
            leave=True,
        )
        self.pool = ThreadPoolExecutor(max_workers=plan.jobs, thread_name_prefix="govlib-run")
        self.futures: dict[Future, tuple] = {}
        self.cube_keys: dict[str, str] = {}
        self.cube_paths: dict[str, Path] = {}
        self.pending_nbs: dict[str, int] = {}

    def submit(self, kind: str, task: dict, meta: tuple, timeout: float) -> None:
        self.futures[self.pool.submit(self.procs.run, task, self.env, timeout)] = (kind, meta)

    def nb_task(self, nb: str, market: str, params: dict, folder: Path, html_lang: str) -> dict:
        """The task of one notebook (its parameters validated first: they become code in the notebook)."""
        from govlib.report.i18n import get_translator

        validate_notebook_parameters(params)
        return {
            "kind": "notebook",
            "input": str(config.NOTEBOOKS_DIR / f"{nb}.ipynb"),
            "output": str(folder / f"{nb}.ipynb"),
            "parameters": params,
            "kernel_name": self.plan.kernel_name,
            "timeout": self.plan.timeout,
            "cwd": str(config.NOTEBOOKS_DIR),
            "title": f"{market} {self.plan.month} {nb}",
            "html_lang": html_lang,
            "toc_title": get_translator(html_lang).gettext("Contents"),
            "result": str(self.work / f"{market}-{nb}.result.json"),
            "fresh_kernel": self.fresh,
            "warm_notebooks": self.warm_notebooks,
            "pdf": self.plan.pdf,
        }

    # -- cubes

    def start_cubes(self) -> None:
        """Each market's cube: a cache hit starts its notebooks at once, a miss is a worker task."""
        from govlib.report.cube import cube_dir, cube_inputs, hash_inputs

        plan, cache = self.plan, self.plan.cache
        for market in plan.markets:
            try:
                inputs = cube_inputs(plan.data, market, plan.month, plan.mparams[market])
            except OSError as exc:
                self.result.market_errors[market] = f"cannot read the data directory: {exc}"
                self.bar.update(1 + len(plan.nbs_of[market]))
                continue
            key = hash_inputs(inputs)
            self.cube_keys[market] = key
            path = cube_dir(market, plan.month, key, cache / "cubes")
            if (path / "cube.json").exists():
                self.cube_paths[market] = path
                self.bar.update(1)
                self.start_market_notebooks(market)
            else:
                task = {
                    "kind": "cube",
                    "data_dir": str(plan.data),
                    "market": market,
                    "month": plan.month,
                    "cache_dir": str(cache / "cubes"),
                    "result": str(self.work / f"{market}-cube.result.json"),
                }
                self.submit("cube", task, (market,), max(plan.timeout, 60) * 2)

    def cube_done(self, market: str, res: dict) -> None:
        if res["status"] == "ok":
            self.cube_paths[market] = Path(res["cube_path"])
            self.start_market_notebooks(market)
        else:  # the published folder, if any, stays (render_index: from the previous run)
            self.result.market_errors[market] = res.get("error", "failed")
            self.bar.update(len(self.plan.nbs_of[market]))

    # -- market notebooks

    def market_problem(self, market: str, lang_m: str) -> str:
        """Why ``market`` cannot be reported (an empty market-month, a missing catalog), or ``""``."""
        from govlib.report.i18n import get_translator

        problem = check_market_month(self.cube_paths[market], market, self.plan.month)
        if not problem:
            try:  # a language without a catalog fails its market instead of rendering it in English
                get_translator(lang_m)
            except GovlibError as exc:
                problem = str(exc)
        return problem

    def start_market_notebooks(self, market: str) -> None:
        plan = self.plan
        lang_m = plan.lang or plan.mparams[market].report_language
        problem = self.market_problem(market, lang_m)
        if problem:  # fails that market only, like invalid rows
            self.result.market_errors[market] = problem
            self.bar.update(len(plan.nbs_of[market]))
            return
        folder = self.stage / market
        folder.mkdir(parents=True, exist_ok=True)
        self.pending_nbs[market] = len(plan.nbs_of[market])
        for nb in plan.nbs_of[market]:
            key = notebook_key(self.cube_keys[market], config.NOTEBOOKS_DIR / f"{nb}.ipynb", lang_m)
            old = (
                reuse_published(self.month_dir / market, folder, nb, key, pdf=bool(self.plan.pdf))
                if self.resume
                else None
            )
            if old is not None:
                self.notebook_done(
                    market, nb, {"status": "reused", "duration": old.get("duration", 0.0)}, key
                )
                self.bar.update(1)
                continue
            params = {
                "market": market,
                "month": plan.month,
                "data_dir": str(plan.data),
                "lang": plan.lang,
                "cube_path": str(self.cube_paths[market]),
            }
            task = self.nb_task(nb, market, params, folder, lang_m.split("_")[0])
            task["key"] = key
            self.submit("notebook", task, (market, nb, key), plan.timeout + 60)

    def record(self, market: str, nb: str, res: dict) -> None:
        """The index row of one notebook (links to what its staged folder holds)."""
        folder = self.stage / market
        html_rel = f"{market}/{nb}.html" if (folder / f"{nb}.html").exists() else ""
        if html_rel and res["status"] == "failed":
            html_rel += "#papermill-error-cell"
        self.result.outcomes.append(
            Outcome(
                market,
                nb,
                res["status"],
                res.get("duration", 0.0),
                res.get("error", ""),
                html_rel,
                f"{market}/{nb}.ipynb" if (folder / f"{nb}.ipynb").exists() else "",
                res.get("kernel_pid"),
            )
        )

    def notebook_done(self, market: str, nb: str, res: dict, key: dict) -> None:
        folder = self.stage / market
        if res.get("disk_full"):
            self.result.market_errors.setdefault(market, res["error"])
        if res["status"] != "reused":
            try:
                with writing(folder / f"{nb}.manifest.json"):
                    write_manifest(folder, market, self.plan.month, nb, res, key)
            except DiskFull as exc:
                self.result.market_errors.setdefault(market, str(exc))
        self.record(market, nb, res)
        self.pending_nbs[market] -= 1
        if self.pending_nbs[market] == 0:
            self.publish_market(market)

    def publish_market(self, market: str) -> None:
        from govlib.report.cube import load_cube, write_alerts_csv, write_kpis_csv

        folder, month, result = self.stage / market, self.plan.month, self.result
        cube = load_cube(self.cube_paths[market])
        try:
            with writing(folder / "kpis.csv"):
                write_kpis_csv(cube.kpis_for(month), folder / "kpis.csv")
            with writing(folder / "kpi_history.csv"):  # M-12 .. M: the front page's sparklines and last month
                write_kpis_csv(cube.kpis, folder / "kpi_history.csv")
            with writing(folder / "alerts.csv"):
                write_alerts_csv(cube.alerts, folder / "alerts.csv")  # computed once, in the cube step
        except DiskFull as exc:
            result.market_errors.setdefault(market, str(exc))
        failed = market in result.market_errors or any(
            o.market == market and o.status not in ("ok", "reused") for o in result.outcomes
        )
        with writing(self.month_dir / market):
            publish_or_keep(
                folder,
                self.month_dir / market,
                result,
                failed=failed,
                complete=market not in result.market_errors,
            )

    # -- roll-up notebooks (after every market: they read the markets' cubes)

    def start_rollup(self) -> None:
        plan, result = self.plan, self.result
        ok_markets = [m for m in plan.markets if m in self.cube_paths and m not in result.market_errors]
        if plan.rollup_nbs and not ok_markets:
            self.bar.update(len(plan.rollup_nbs))
            for nb in plan.rollup_nbs:
                result.outcomes.append(
                    Outcome(ROLLUP_FOLDER, nb, "skipped", error="no market could be built")
                )
        if not (plan.rollup_nbs and ok_markets):
            return
        folder = self.stage / ROLLUP_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        lang_r = plan.lang or "en_GB"
        failed = ",".join(sorted(result.market_errors))
        self.pending_nbs[ROLLUP_FOLDER] = len(plan.rollup_nbs)
        for nb in plan.rollup_nbs:
            extra = (
                ",".join(f"{m}:{self.cube_keys[m]}" for m in ok_markets) + "|failed:" + failed
            )  # shown by the roll-up
            if nb in plan.dsa_nbs:  # reads the archive, not the cubes: keyed by the archive's manifest
                extra = _archive_key(plan.dsa_archive)
            key = notebook_key(extra, config.NOTEBOOKS_DIR / f"{nb}.ipynb", lang_r)
            old = (
                reuse_published(self.month_dir / ROLLUP_FOLDER, folder, nb, key, pdf=bool(self.plan.pdf))
                if self.resume
                else None
            )
            if old is not None:  # --resume, as for market notebooks
                self.record(ROLLUP_FOLDER, nb, {"status": "reused", "duration": old.get("duration", 0.0)})
                self.bar.update(1)
                self.rollup_notebook_counted()
                continue
            params = {
                "month": plan.month,
                "markets": ",".join(ok_markets),
                "failed_markets": failed,
                "data_dir": str(plan.data),
                "cube_paths": ",".join(str(self.cube_paths[m]) for m in ok_markets),
                "lang": plan.lang,
            }  # the markets' own cubes: never rebuilt, even if the code changed during the batch
            if nb in plan.dsa_nbs:
                params = {"month": plan.month, "archive": str(plan.dsa_archive), "lang": plan.lang}
            task = self.nb_task(nb, ROLLUP_FOLDER, params, folder, lang_r.split("_")[0])
            self.submit("rollup", task, (ROLLUP_FOLDER, nb, key), plan.timeout + 60)

    def rollup_done(self, nb: str, res: dict, key: dict) -> None:
        folder = self.stage / ROLLUP_FOLDER
        try:
            with writing(folder / f"{nb}.manifest.json"):
                write_manifest(folder, ROLLUP_FOLDER, self.plan.month, nb, res, key)
        except DiskFull as exc:
            res = {
                **res,
                "status": "failed",
                "disk_full": True,
                "error": (res.get("error", "") + "\n" + str(exc)).strip(),
            }
        if res.get("disk_full"):  # a half-written roll-up is never published
            self.result.market_errors.setdefault(ROLLUP_FOLDER, res["error"])
        self.record(ROLLUP_FOLDER, nb, res)
        self.rollup_notebook_counted()

    def rollup_notebook_counted(self) -> None:
        """One roll-up notebook less to wait for; after the last, publish ``EMEA`` (or keep the old one)."""
        self.pending_nbs[ROLLUP_FOLDER] -= 1
        if self.pending_nbs[ROLLUP_FOLDER]:
            return
        result = self.result
        failed = any(o.market == ROLLUP_FOLDER and o.status not in ("ok", "reused") for o in result.outcomes)
        with writing(self.month_dir / ROLLUP_FOLDER):
            publish_or_keep(
                self.stage / ROLLUP_FOLDER,
                self.month_dir / ROLLUP_FOLDER,
                result,
                failed=failed,
                complete=ROLLUP_FOLDER not in result.market_errors,
            )

    # -- the loop

    def run(self) -> None:
        """Cubes, then each market's notebooks as its cube is ready, then the roll-up once all are done."""
        self.start_cubes()
        rollup_started = False
        while self.futures or not rollup_started:
            if not self.futures:
                rollup_started = True
                self.start_rollup()
                continue
            done, _ = wait(list(self.futures), return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: self.futures[f][1]):
                kind, meta = self.futures.pop(fut)
                res = fut.result()
                self.bar.update(1)
                if kind == "cube":
                    self.cube_done(meta[0], res)
                elif kind == "notebook":
                    self.notebook_done(*meta[:2], res, meta[2])
                else:
                    self.rollup_done(meta[1], res, meta[2])
        self.bar.close()


def run_batch(
    month: str,
    markets: str = "all",
    reports: str | None = None,
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    jobs: int | None = None,
    lang: str = "",
    resume: bool = False,
    progress: bool = True,
    fresh_kernels: bool | None = None,
    dsa_archive: str | Path | None = None,
    pdf: bool = False,
) -> BatchResult:
    """Run the month's reports; see the module docstring. Returns what happened to each report.

    Parameters
    ----------
    month : str
        ``YYYY-MM`` (local time of each market); not a future month.
    markets : str
        ``"all"`` or comma-separated market codes.
    reports : str, optional
        Comma-separated notebook names (default: all of ``params/reports.yaml``).
    data_dir, out_dir : str or Path, optional
        Dataset directory and output root (default ``GOVLIB_DATA``, ``GOVLIB_REPORTS``).
    jobs : int, optional
        Tasks run at once (default: the number of cores).
    lang : str
        Report language for every market (default: each market's).
    resume : bool
        Reuse published outputs whose input key is unchanged (:mod:`.keys`).
    progress : bool
        Show a progress bar on stderr.
    fresh_kernels : bool, optional
        Start a fresh kernel for every notebook instead of reusing one warm kernel per
        worker (:class:`~.kernels.WarmKernel`); default ``GOVLIB_FRESH_KERNELS``.
    dsa_archive : str or Path, optional
        DSA statement archive (``govlib dsa sync``; default ``GOVLIB_DSA_ARCHIVE``). With one, the
        ``dsa_notebooks`` of ``reports.yaml`` run into the roll-up folder; without, they are left out.
    pdf : bool
        Also print each report's HTML, and the month's index, to a PDF beside it
        (:func:`govlib.report.render.pdf.html_to_pdf`); a :class:`~govlib.report.render.pdf.PdfError`
        before anything is written when no renderer is installed.

    Raises
    ------
    UsageError
        A malformed or unknown input (nothing is written).
    RunError
        Another run of the same month and output folder is in progress.
    """
    from govlib.config import code_version

    code_version.cache_clear()  # the code may have changed since this process last ran a batch
    plan = plan_batch(month, markets, reports, data_dir, out_dir, jobs, lang, dsa_archive, pdf)
    lock_file, stage = open_staging(plan.out, plan.month)
    fresh = fresh_kernels_requested(fresh_kernels)
    batch = _Batch(plan, stage, _worker_env(plan, fresh), fresh=fresh, resume=resume, progress=progress)
    try:
        batch.run()
        # month-level files, last (each through a temporary file and a rename)
        write_month_files(batch.result, *_index_language(plan.lang or "en_GB"), pdf=plan.pdf)
    except BaseException:
        batch.procs.kill_all()
        batch.pool.shutdown(wait=True, cancel_futures=True)
        batch.bar.close()
        raise
    finally:
        batch.procs.close_all()  # before the pool's threads end: a worker dies with the thread that started it
        batch.pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(stage, ignore_errors=True)
        lock_file.close()
    return batch.result
