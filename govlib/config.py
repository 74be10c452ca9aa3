"""Paths and settings: the one place that knows where things live and reads ``GOVLIB_*`` variables.

:class:`Settings` (pydantic-settings) declares every ``GOVLIB_*`` environment variable with its
type, default and description; ``docs/DEVELOPING.md`` lists them (:func:`settings_table`). No
other module reads a ``GOVLIB_*`` variable from the environment (a test checks it).

Two ways to read them:

- the module attributes :data:`PROJECT_ROOT`, :data:`DATA_DIR`, ... are the paths as they were
  when govlib was imported. Code reads them at call time (``config.DATA_DIR``), so tests and
  benchmarks can override one attribute; child processes (papermill kernels, workers) get the
  settings through their environment, as the parent's ``GOVLIB_*`` variables;
- :func:`current` reads the environment now, for knobs a process may change for itself or its
  children after import (``--engine`` sets ``GOVLIB_ENGINE``) and for the pseudonym key, which
  is not kept in a module attribute.

An invalid value (``GOVLIB_KERNEL_MAX_REPORTS=abc``) raises :class:`ConfigError` naming the
variable. No logging on import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from govlib import __version__
from govlib.errors import GovlibError

ENV_PREFIX = "GOVLIB_"
_REPO_ROOT = Path(__file__).resolve().parents[1]


class ConfigError(GovlibError):
    """A ``GOVLIB_*`` environment variable holds a value of the wrong type."""


class Settings(BaseSettings):
    """Every ``GOVLIB_*`` environment variable (field ``data`` is ``GOVLIB_DATA``). Empty means unset."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore", validate_default=False
    )

    root: Path = Field(_REPO_ROOT, description="project root holding params/, notebooks/, locales/ and docs/")
    data: Path = Field(
        default_factory=lambda v: v["root"] / "data" / "demo",
        description="dataset directory read by every command (default `<root>/data/demo`)",
    )
    params: Path = Field(
        default_factory=lambda v: v["root"] / "params",
        description="market parameter files (default `<root>/params`)",
    )
    reports: Path = Field(
        default_factory=lambda v: v["root"] / "reports",
        description="output root of reports, queues and investigations (default `<root>/reports`)",
    )
    cache: Path = Field(
        default_factory=lambda v: v["root"] / ".cache",
        description="cache of market cubes, kernels and theme (default `<root>/.cache`)",
    )
    peer_reports: Path = Field(
        default_factory=lambda v: v["root"] / "tests" / "fixtures" / "dsa" / "transparency_reports",
        description="other services' published DSA transparency reports (CSV) for the peer benchmarks",
    )
    dsa_archive: Path | None = Field(
        None,
        description="statement archive of `govlib dsa sync` read by the `dsa_peers` report (`govlib run --dsa-archive`)",
    )
    engine: str = Field(
        "duckdb", description="query engine of the data layer: `duckdb` or `spark` (docs/spark.md)"
    )
    spark_master: str = Field("local[2]", description="Spark master URL, e.g. `spark://host:7077` or `yarn`")
    spark_remote: str | None = Field(None, description="Spark Connect URL, used instead of a master")
    spark_conf: str | None = Field(
        None, description="JSON object of Spark settings merged over govlib's defaults"
    )
    duckdb_memory_limit: str = Field(
        "2GB",
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$",
        description="memory limit of each process's DuckDB (e.g. `2GB`); larger work spills to the cache",
    )
    pseudonym_key: str | None = Field(
        None, repr=False, description="secret key of the creator pseudonyms in circulated outputs"
    )
    pseudonym_key_file: Path | None = Field(
        None, description="file (outside the repository) holding the pseudonym key"
    )
    demo: bool = Field(False, description="demo mode: allow the public example pseudonym key (`1`)")
    code_version: str | None = Field(
        None, description="code version in cache keys (default: a hash of govlib's sources)"
    )
    kernel_max_reports: int = Field(
        50, ge=1, description="notebooks a warm kernel runs before it is replaced"
    )
    kernel_max_rss_mb: int = Field(
        3072, ge=1, description="resident size (MB) above which a warm kernel is replaced"
    )
    fresh_kernels: bool = Field(False, description="a fresh kernel for every notebook (`--fresh-kernels`)")
    runner_pid: int | None = Field(
        None, description="set by `govlib run` for its workers: the runner's process id"
    )


def env_name(field: str) -> str:
    """The environment variable of :class:`Settings` field ``field`` (``"data"`` -> ``"GOVLIB_DATA"``)."""
    return ENV_PREFIX + field.upper()


def _error(exc: ValidationError) -> ConfigError:
    bad = [
        f"{env_name(str(e['loc'][0]))}={e.get('input')!r}: {e['msg']}" for e in exc.errors() if e.get("loc")
    ]
    return ConfigError(
        f"invalid environment variable(s): {'; '.join(bad)} — fix or unset them "
        "(the GOVLIB_* variables are listed in docs/DEVELOPING.md)"
    )


def current(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings read from the environment now (or from ``environ``, e.g. in tests).

    Raises
    ------
    ConfigError
        A variable holds a value of the wrong type.
    """
    try:
        if environ is None:
            return Settings()
        values = {f: environ[env_name(f)] for f in Settings.model_fields if environ.get(env_name(f))}
        # "=" is in no environment variable's name: only ``environ`` is read, not os.environ
        return Settings(_env_prefix="=", **values)
    except ValidationError as exc:
        raise _error(exc) from None


def settings_table() -> str:
    """The Markdown table of every ``GOVLIB_*`` variable (as in ``docs/DEVELOPING.md``)."""
    rows = ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, f in Settings.model_fields.items():
        kinds = [
            a for a in (getattr(f.annotation, "__args__", None) or (f.annotation,)) if a is not type(None)
        ]
        kind = kinds[0].__name__
        default = (
            "derived from root" if f.default_factory else ("unset" if f.default is None else f"`{f.default}`")
        )
        if name == "root":
            default = "the repository"
        rows.append(f"| `{env_name(name)}` | {kind} | {default} | {f.description} |")
    return "\n".join(rows) + "\n"


settings = current()

PROJECT_ROOT = settings.root
DATA_DIR = settings.data
PARAMS_DIR = settings.params
REPORTS_DIR = settings.reports
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
LOCALES_DIR = PROJECT_ROOT / "locales"
DOCS_DIR = PROJECT_ROOT / "docs"
CACHE_DIR = settings.cache
# Other services' published DSA transparency reports (CSV) for the reports' peer benchmarks.
PEER_REPORTS_DIR = settings.peer_reports

# Query engine of the data layer at import: "duckdb" (embedded, default) or "spark".
ENGINE = settings.engine

DEMO_SEED = 7
DEMO_END_MONTH = "2026-10"


@lru_cache(maxsize=1)
def code_version() -> str:
    """Version of the code that computes report numbers: govlib's version and a hash of its sources.

    Any edit to a ``govlib/**/*.py`` file changes it, so caches and ``--resume`` never
    reuse numbers computed by other code. ``GOVLIB_CODE_VERSION`` overrides it (e.g. a
    release tag or git commit in a deployment, or a fixed value in tests).
    """
    override = current().code_version
    if override:
        return override
    h = hashlib.sha256(__version__.encode())
    root = Path(__file__).resolve().parent
    for p in sorted(root.rglob("*.py")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return f"{__version__}+{h.hexdigest()[:12]}"
