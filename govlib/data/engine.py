"""Query engines of the data layer: DuckDB (embedded, default) or Apache Spark, both through Ibis.

Every query govlib runs is an Ibis expression, so the same code runs on DuckDB on a
laptop and on Spark when a market outgrows one machine. Pick the engine with the
``engine`` argument or ``GOVLIB_ENGINE`` (read when the engine is chosen, through
:func:`govlib.config.current`, so ``--engine`` can set it for worker processes).

Spark settings come from the environment (:class:`govlib.config.Settings`) so that the same
code runs against a cluster:

``GOVLIB_SPARK_MASTER``
    Spark master URL (default ``local[2]``).
``GOVLIB_SPARK_REMOTE``
    Spark Connect URL (``sc://host:15002``); when set it is used instead of a master.
``GOVLIB_SPARK_CONF``
    JSON object of extra Spark configuration, e.g. ``{"spark.executor.memory": "8g"}``.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from govlib import config
from govlib.errors import GovlibError

ENGINES = ("duckdb", "spark")


class EngineError(GovlibError):
    """The requested query engine is unknown or cannot start."""


_spark_lock = threading.Lock()
_spark_session: Any = None

# Local-mode defaults: a small machine, no UI, UTC session clock, nanosecond Parquet
# timestamps (pandas' default) readable as integers so the loader can convert them.
_SPARK_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
}


def resolve_engine(engine: str | None = None) -> str:
    """Name of the engine to use: the argument, else ``GOVLIB_ENGINE``, else ``"duckdb"``."""
    name = (engine or config.current().engine).strip().lower()
    if name not in ENGINES:
        raise EngineError(
            f"unknown engine {name!r}: choose one of {', '.join(ENGINES)} (--engine or GOVLIB_ENGINE)"
        )
    return name


def spark_conf() -> dict[str, str]:
    """Spark configuration: local defaults overridden by ``GOVLIB_SPARK_CONF`` (JSON)."""
    conf = dict(_SPARK_DEFAULTS)
    raw = config.current().spark_conf
    if raw:
        try:
            extra = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise EngineError(
                f'GOVLIB_SPARK_CONF is not valid JSON ({exc}); expected e.g. \'{{"spark.executor.memory": "8g"}}\''
            ) from None
        if not isinstance(extra, dict):
            raise EngineError("GOVLIB_SPARK_CONF must be a JSON object of Spark settings")
        conf.update({str(k): str(v) for k, v in extra.items()})
    return conf


def spark_session():
    """The process-wide SparkSession (started once: start-up takes ~10 s)."""
    global _spark_session
    with _spark_lock:
        if _spark_session is not None:
            return _spark_session
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineError(
                "engine 'spark' needs PySpark: pip install 'govlib[spark]' (pyspark>=3.5,<4.1)"
            ) from None
        builder = SparkSession.builder.appName("govlib")
        settings = config.current()
        if settings.spark_remote:
            builder = builder.remote(settings.spark_remote)
        else:
            builder = builder.master(settings.spark_master)
        for key, value in spark_conf().items():
            # a Connect session can set only runtime settings: the server fixed its launch-time ones
            if settings.spark_remote and key in _SPARK_DEFAULTS and not key.startswith("spark.sql."):
                continue
            builder = builder.config(key, value)
        try:
            _spark_session = builder.getOrCreate()
        except Exception as exc:  # noqa: BLE001 - Java missing, bad master URL, ...
            raise EngineError(
                f"could not start Spark ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                "check Java 17 (`java -version`) and GOVLIB_SPARK_MASTER / GOVLIB_SPARK_REMOTE"
            ) from None
        return _spark_session


def _sql_quote(text: str) -> str:
    return text.replace("'", "''")


def connect(engine: str | None = None):
    """An Ibis backend for ``engine`` (``"duckdb"`` or ``"spark"``).

    DuckDB: a new in-memory connection (cheap; session time zone UTC, memory limit
    ``GOVLIB_DUCKDB_MEMORY_LIMIT``, spilling to ``<cache>/duckdb-tmp``).
    Spark: an Ibis PySpark backend on the process-wide session.
    """
    name = resolve_engine(engine)
    import ibis

    if name == "duckdb":
        settings = config.current()
        con = ibis.duckdb.connect()
        con.raw_sql("SET TimeZone = 'UTC'")
        # bounded memory whatever the market's size: DuckDB's default is 80% of the machine per process,
        # and a batch runs several (workers, kernels); beyond the limit joins and sorts spill to disk
        con.raw_sql(f"SET memory_limit = '{settings.duckdb_memory_limit}'")
        con.raw_sql(f"SET temp_directory = '{_sql_quote(str(settings.cache / 'duckdb-tmp'))}'")
        try:  # long scans would draw progress bars into the runner's logs
            con.raw_sql("SET enable_progress_bar = false")
        except Exception:  # noqa: BLE001 - in a Jupyter kernel DuckDB refuses the change without ipywidgets
            pass
        return con
    return ibis.pyspark.connect(spark_session())
