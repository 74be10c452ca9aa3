"""Shared fixtures: the small demo dataset, generated once and reused.

The dataset is cached under ``.cache/test-demo-<seed>`` keyed by the generator's source,
so a change to the generator regenerates it; a file lock keeps parallel workers from
generating it twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from govlib import config
from govlib.io import file_lock

# Property tests: "ci" (the default, so the README's test command gives the same verdict on every
# run) draws the same examples every time and keeps no example database; "dev" explores new
# examples on every run: `HYPOTHESIS_PROFILE=dev make test`. Pin what "dev" finds with @example.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],  # timing-based: a loaded CI machine must not fail it
)
settings.register_profile("dev", max_examples=500, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

DEMO_SEED = 7
DEMO_END_MONTH = "2026-10"


def _generator_fingerprint() -> str:
    src = Path(config.PROJECT_ROOT, "govlib", "demo")
    h = hashlib.sha256()
    for p in sorted(src.rglob("*.py")):
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def demo_dataset(seed: int = DEMO_SEED, scale: str = "small") -> Path:
    """Path of a generated demo dataset (cached; regenerated when the generator changes)."""
    from govlib.demo import generate

    cache = Path(config.CACHE_DIR)
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"test-demo-{scale}-{seed}-{_generator_fingerprint()}"
    with file_lock(cache / f".lock-{scale}-{seed}"):
        if not (out / ".complete").exists():
            generate(out, scale=scale, seed=seed, end_month=DEMO_END_MONTH)
    return out


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return demo_dataset()


@pytest.fixture(scope="session")
def ground_truth(demo_dir: Path) -> dict:
    return json.loads((demo_dir / "ground_truth.json").read_text())
