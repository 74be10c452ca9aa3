"""Fixtures of the metric tests."""

import pytest
from kpi_tables import hand_computed_tables


@pytest.fixture()
def tables():
    """The hand-computed KPI fixture (tests/kpi_tables.py), fresh for each test."""
    return hand_computed_tables()
