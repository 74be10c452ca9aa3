"""Paths and settings: the one place that knows where things live.

Every path can be overridden by an environment variable so that the same code runs
against real data or in a temporary test directory. No logging on import.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(os.environ.get("GOVLIB_ROOT", Path(__file__).resolve().parents[1]))

DATA_DIR = Path(os.environ.get("GOVLIB_DATA", PROJECT_ROOT / "data" / "demo"))
PARAMS_DIR = Path(os.environ.get("GOVLIB_PARAMS", PROJECT_ROOT / "params"))
REPORTS_DIR = Path(os.environ.get("GOVLIB_REPORTS", PROJECT_ROOT / "reports"))
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
LOCALES_DIR = PROJECT_ROOT / "locales"
DOCS_DIR = PROJECT_ROOT / "docs"
CACHE_DIR = Path(os.environ.get("GOVLIB_CACHE", PROJECT_ROOT / ".cache"))
# Other services' published DSA transparency reports (CSV) for the reports' peer benchmarks.
PEER_REPORTS_DIR = Path(os.environ.get("GOVLIB_PEER_REPORTS",
                                       PROJECT_ROOT / "tests" / "fixtures" / "dsa" / "transparency_reports"))

# Query engine of the data layer: "duckdb" (embedded, default) or "spark".
ENGINE = os.environ.get("GOVLIB_ENGINE", "duckdb")

DEMO_SEED = 7
DEMO_END_MONTH = "2026-10"
