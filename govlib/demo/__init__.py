"""The seeded demo marketplace and its planted ground truth (``govlib demo-data``)."""

from govlib.demo.generator import SCALES, DemoDataError, generate

__all__ = ["SCALES", "DemoDataError", "generate"]
