"""Rendering of what readers open: a notebook's self-contained HTML (:mod:`.html`, with the
investigations' confidential banner). The month's ``index.html`` is the batch's
(:mod:`govlib.report.batch.index`: it reads the batch's results, and render sits below batch).
The Jinja templates are in ``govlib/report/templates/govlib/``."""
