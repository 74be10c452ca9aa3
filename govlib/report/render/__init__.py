"""Rendering of what readers open: a notebook's self-contained HTML (:mod:`.html`, with the
investigations' confidential banner) and the month's ``index.html`` (:mod:`.index`). The
Jinja templates are in ``govlib/report/templates/govlib/``."""
