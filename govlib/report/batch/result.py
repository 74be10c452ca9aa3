"""What a batch did: one :class:`Outcome` per (market, notebook), gathered in a :class:`BatchResult`.

Shared by the scheduler (:mod:`.run`), the publisher (:mod:`.publish`) and the index
(:mod:`govlib.report.batch.index`), so it sits apart from all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ROLLUP_FOLDER = "EMEA"


@dataclass
class Outcome:
    """One (market, notebook) of a run, as shown in the index."""

    market: str
    report: str
    status: str  # ok | failed | reused | skipped
    duration: float = 0.0
    error: str = ""
    html: str = ""  # relative to the month folder
    notebook: str = ""
    kernel_pid: int | None = None  # the kernel that ran it (warm kernels only; run metadata, not published)


@dataclass
class BatchResult:
    month: str
    month_dir: Path
    outcomes: list[Outcome] = field(default_factory=list)
    market_errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # markets of the data not reported, and why
    published: set[str] = field(default_factory=set)  # folders (markets, EMEA) this run replaced

    @property
    def ok(self) -> bool:
        return not self.market_errors and all(o.status in ("ok", "reused") for o in self.outcomes)

    @property
    def index(self) -> Path:
        return self.month_dir / "index.html"

    def kept(self) -> set[str]:
        """Folders this run ran but did not replace (a report failed): their previous run stays published."""
        ran = {o.market for o in self.outcomes} | set(self.market_errors)
        return {f for f in ran - self.published if (self.month_dir / f).is_dir()}
