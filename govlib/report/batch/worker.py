"""What a worker process does with one task: build a cube, or execute a notebook and export its HTML.

Split from :mod:`.pool` (which moves tasks between the runner and its workers) because
this is the part that touches papermill, nbconvert and the cube, and the part tests fake.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from govlib.errors import GovlibError
from govlib.report.batch.errors import DiskFull, is_disk_full
from govlib.report.batch.kernels import WarmKernel

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_run_metadata(nb) -> None:
    """Remove what differs between two runs on the same inputs (times, durations, paths of staging)."""
    pm = nb.metadata.get("papermill", {})
    nb.metadata["papermill"] = {
        k: pm[k] for k in ("parameters", "default_parameters", "exception") if k in pm
    }
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        # papermill adds cells with random ids (injected parameters, error banners): make them stable
        if "injected-parameters" in tags:
            cell["id"] = "injected-parameters"
        elif any(t.startswith("papermill-error") for t in tags):
            cell["id"] = f"papermill-error-{i}"
        cell.metadata.pop("execution", None)
        cpm = cell.metadata.get("papermill")
        if cpm is not None:
            cell.metadata["papermill"] = {k: cpm[k] for k in ("exception", "status") if k in cpm}


def error_summary(exc: BaseException, max_lines: int = 6, path: str | Path | None = None) -> str:
    """The first lines of a task's error as the index shows them (a cell's error, or ``no space left on <path>``)."""
    if is_disk_full(exc):  # "no space left on <path>", not the library's traceback
        return str(DiskFull(path or getattr(exc, "filename", None) or "the disk"))
    tb = getattr(exc, "traceback", None)
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename is not None:
        lines = [f"{ename}: {evalue}"]
        cell = getattr(exc, "exec_count", None)
        if cell is not None:
            lines.append(f"in cell [{cell}]")
        if tb:
            tail = [ln for ln in _ANSI.sub("", "\n".join(tb)).splitlines() if ln.strip()]
            lines += tail[-(max_lines - len(lines)) :] if len(tail) > 0 else []
        return "\n".join(lines[:max_lines])
    if isinstance(exc, GovlibError):  # already a message meant for users
        return str(exc).strip()[:2000]
    return f"{type(exc).__name__}: {exc}".strip()[:2000]


def run_cube(task: dict) -> dict:
    """Build (or reuse from the cache) the cube of the task's market and month."""
    from govlib.report.cube import build_cube

    path = build_cube(task["data_dir"], task["market"], task["month"], cache_dir=task.get("cache_dir"))
    return {"status": "ok", "cube_path": str(path)}


def _failure_kind(exc: BaseException) -> str:
    """Why a notebook's execution failed, for the kernel's replacement record."""
    names = {c.__name__ for c in type(exc).__mro__}
    if "DeadKernelError" in names:
        return "kernel died"
    if "CellTimeoutError" in names or "TimeoutError" in names:
        return "timed out"
    return "cell error"


def run_notebook(task: dict, kernel: WarmKernel | None = None) -> dict:
    """Execute one notebook with papermill (in ``kernel`` when given, else a fresh kernel), export its HTML."""
    import papermill as pm

    out_nb = Path(task["output"])
    status, error, extra, info, disk_full = "ok", "", {}, {}, False
    saved_env: dict[str, str | None] = {}
    if kernel is not None:
        try:
            kernel.prepare(task)
        except Exception as exc:  # noqa: BLE001
            return {"status": "failed", "error": "could not start the report kernel: " + error_summary(exc)}
        extra["km"] = kernel.km
        info = {"kernel_pid": kernel.pid, "kernel_run": kernel.reports + 1}
    else:  # a fresh kernel inherits the worker's environment: the task's variables for this notebook only
        for k, v in (task.get("env") or {}).items():
            saved_env[k] = os.environ.get(k)
            os.environ[k] = v
    why = ""
    try:
        pm.execute_notebook(
            task["input"],
            str(out_nb),
            parameters=task["parameters"],
            kernel_name=task["kernel_name"],
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,
            execution_timeout=task["timeout"],
            cwd=task["cwd"],
            **extra,
        )
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, not raised
        status, error, why = "failed", error_summary(exc, path=out_nb), _failure_kind(exc)
        disk_full = is_disk_full(exc)
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if kernel is not None:
            kernel.finish(status == "ok", why)
    status, error, disk_full = _finish_outputs(task, out_nb, status, error, disk_full)
    return {"status": status, "error": error, **info, **({"disk_full": True} if disk_full else {})}


def _finish_outputs(
    task: dict, out_nb: Path, status: str, error: str, disk_full: bool
) -> tuple[str, str, bool]:
    """Strip the executed notebook's run metadata and export its HTML; a full disk deletes both (half-written)."""
    import nbformat

    from govlib.report.render.html import export_html

    html = out_nb.with_suffix(".html")
    if out_nb.exists() and not disk_full:
        step, target = "", out_nb
        try:
            nb = nbformat.read(str(out_nb), as_version=4)
            strip_run_metadata(nb)
            nbformat.write(nb, str(out_nb))
            step, target = "HTML export: ", html
            export_html(
                nb,
                html,
                title=task["title"],
                language=task["html_lang"],
                toc_title=task.get("toc_title", "Contents"),
            )
            if task.get("pdf"):  # --pdf: the browser prints the HTML beside it (atomically)
                from govlib.report.render.pdf import html_to_pdf

                step, target = "PDF export: ", html.with_suffix(".pdf")
                html_to_pdf(html, target, browser=task["pdf"])
        except Exception as exc:  # noqa: BLE001
            status, disk_full = "failed", is_disk_full(exc)
            error = (error + "\n" if error else "") + step + error_summary(exc, path=target)
    if disk_full:
        out_nb.unlink(missing_ok=True)
        html.unlink(missing_ok=True)
        html.with_suffix(".pdf").unlink(missing_ok=True)
    return status, error, disk_full
