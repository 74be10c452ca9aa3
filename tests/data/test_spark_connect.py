"""One market-month through a Spark Connect server: the cluster path tested, not assumed (issue 15).

A local Spark Connect server (``SparkConnectServer``, from the ``spark-connect`` jar that
pyspark ships) is started with pyspark's own ``spark-submit`` on the loopback address and a
free port (bounded wait; always stopped at teardown). govlib then reaches it exactly as it
reaches a cluster's Connect endpoint, ``GOVLIB_SPARK_REMOTE=sc://127.0.0.1:<port>``: the data
layer loads DE's window of the demo month through the server and ``compute_kpis`` runs on it.
The window and the KPI table must be identical to DuckDB's.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from govlib.data.load import load_market_window, open_dataset
from govlib.metrics.kpis import compute_kpis
from govlib.params import load_market

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
START_TIMEOUT_S = 240  # the JVM's start on a loaded 2-core machine; an idle one needs ~15 s
STOP_TIMEOUT_S = 30
KPI_TABLES = ("enforcement_actions", "content", "notices", "appeals", "prevalence_samples")
MARKET = "DE"


def _connect_jar() -> Path | None:
    """The Spark Connect server jar of the installed pyspark (shipped from pyspark 4.0 on)."""
    try:
        import pyspark
    except ImportError:
        return None
    jars = sorted((Path(pyspark.__file__).parent / "jars").glob("spark-connect_*.jar"))
    return jars[0] if jars else None


def _java_ok() -> bool:
    try:
        return subprocess.run(["java", "-version"], capture_output=True).returncode == 0
    except OSError:
        return False


def _client_ok() -> bool:
    try:
        import grpc  # noqa: F401  (the Connect client's transport, from pyspark[connect])
    except ImportError:
        return False
    return True


pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(
        _connect_jar() is None or not _client_ok() or not _java_ok(),
        reason="needs pyspark[connect]>=4.0 (pip install 'govlib[spark]', ships the Connect server jar) and Java 17",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _wait_listening(proc: subprocess.Popen, port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Spark Connect server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail(
        f"Spark Connect server not listening on 127.0.0.1:{port} after {START_TIMEOUT_S} s:\n{_tail(log)}"
    )


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server's process group (spark-submit and its JVM), killing it if it does not exit."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory):
    """``(url, port)`` of a Spark Connect server on 127.0.0.1, stopped at the module's end."""
    jar = _connect_jar()
    home = jar.parent.parent
    port = _free_port()
    work = tmp_path_factory.mktemp("spark-connect")
    log = work / "server.log"
    cmd = [
        str(home / "bin" / "spark-submit"),
        "--master",
        "local[2]",
        "--class",
        SERVER_CLASS,
        "--name",
        "govlib-test-connect",
        "--driver-java-options",
        "-Duser.timezone=UTC",
        *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
        *("--conf", f"spark.connect.grpc.binding.port={port}"),
        *("--conf", "spark.sql.session.timeZone=UTC"),
        *("--conf", "spark.ui.enabled=false"),
        *("--conf", f"spark.local.dir={work}"),
        str(jar),
    ]
    env = {**os.environ, "SPARK_HOME": str(home)}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        _wait_listening(proc, port, log)
        yield f"sc://127.0.0.1:{port}", port
    finally:
        _stop(proc)


# The client runs in its own process: a Connect session changes pyspark's process-wide state
# (SPARK_CONNECT_MODE_ENABLED, and no Connect session while a local SparkContext is active), which
# would break, or be broken by, the local-mode Spark tests of the same pytest run.
CLIENT = """
import json, sys
from pathlib import Path
from govlib.data import engine
from govlib.data.load import load_market_window, open_dataset
from govlib.metrics.kpis import compute_kpis
from govlib.params import load_market
data, market, month, out = sys.argv[1:5]
tables = sys.argv[5].split(",")
session = engine.spark_session()
ds = open_dataset(data, "spark")
window = load_market_window(ds, market, month, load_market(market).timezone, months_back=3, tables=tables)
for name, frame in window.items():
    frame.to_pickle(Path(out) / f"{name}.pkl")
compute_kpis(window, market, month, load_market(market).timezone).to_pickle(Path(out) / "kpis.pkl")
info = {"module": type(session).__module__, "port": session.conf.get("spark.connect.grpc.binding.port"),
        "backend": ds.con.name}
(Path(out) / "info.json").write_text(json.dumps(info))
"""


def test_market_month_through_spark_connect_equals_duckdb(connect_server, demo_dir, ground_truth, tmp_path):
    url, port = connect_server
    month, tz = ground_truth["end_month"], load_market(MARKET).timezone
    env = {**os.environ, "GOVLIB_SPARK_REMOTE": url, "GOVLIB_ENGINE": "spark"}
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, str(demo_dir), MARKET, month, str(tmp_path), ",".join(KPI_TABLES)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "info.json").read_text())
    # really the Connect client, talking to the server started above
    assert info["module"].startswith("pyspark.sql.connect") and info["port"] == str(port)
    assert info["backend"] == "pyspark"
    duck = load_market_window(
        open_dataset(demo_dir, "duckdb"), MARKET, month, tz, months_back=3, tables=KPI_TABLES
    )
    for name in KPI_TABLES:
        spark = pd.read_pickle(tmp_path / f"{name}.pkl")
        pd.testing.assert_frame_equal(spark, duck[name], obj=f"{MARKET} {name}")
    kpis = compute_kpis(duck, MARKET, month, tz)
    pd.testing.assert_frame_equal(pd.read_pickle(tmp_path / "kpis.pkl"), kpis, check_exact=True)
    by_id = kpis.set_index("kpi_id")
    assert by_id.loc["actions_total", "value"] > 0 and by_id.loc["recidivism_90d", "denominator"] > 0
