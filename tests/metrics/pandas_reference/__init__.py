"""The pandas implementations the engine-side metrics replaced (issue 15), kept as the reference.

``health``, ``rewards`` and ``performance`` are the modules of ``govlib.metrics`` as they were
before their per-creator and per-item work moved into Ibis expressions (commit 2376d91). The
equality tests (``tests/metrics/test_engine_equality.py``) run both on the demo data: counts
must be equal, rates and estimates equal to 1e-9. Nothing in ``govlib`` imports them.
"""
