"""Whether the Spark tests can run here: pyspark importable and a working Java."""

from __future__ import annotations

import shutil
import subprocess


def spark_available() -> bool:
    """True when pyspark imports and ``java -version`` succeeds (the Spark tests skip otherwise)."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    java = shutil.which("java")
    return java is not None and subprocess.run([java, "-version"], capture_output=True).returncode == 0
