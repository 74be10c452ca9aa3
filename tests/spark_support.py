"""Whether a local Spark session can start here (pyspark installed and a working Java)."""

from __future__ import annotations

import shutil
import subprocess


def spark_available() -> bool:
    """True when ``import pyspark`` works and ``java -version`` succeeds."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    java = shutil.which("java")
    return java is not None and subprocess.run([java, "-version"], capture_output=True).returncode == 0
