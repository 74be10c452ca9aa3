"""Text marked for translation: the base layer's one :func:`N_`.

Modules of every layer (metrics included, which must not import :mod:`govlib.report`) mark
literals defined at import time with :func:`N_`; Babel extracts ``N_`` by default (its
default keywords, see ``babel.cfg`` and ``make i18n-extract``) and the caller translates the
string where it is shown (``_(text)``).
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now (translate where shown)."""
    return message
