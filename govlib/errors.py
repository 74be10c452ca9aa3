"""Typed errors. The CLI prints their message (no traceback unless --debug) and exits 1."""

from __future__ import annotations


class GovlibError(Exception):
    """Base of every error govlib reports to a user as a clear message."""

    exit_code = 1


class UsageError(GovlibError):
    """A command-line value is malformed (month, market code, path)."""

    exit_code = 2
