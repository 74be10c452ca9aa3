"""Where the test suite's own files are (fixtures, sanitize file), whatever folder a test module is in."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
ROOT = TESTS.parent
