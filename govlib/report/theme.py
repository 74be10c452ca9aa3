"""The house figure theme: one seaborn style for every chart of every report.

Colour-blind-safe palette (Okabe & Ito), sizes readable when a report is printed on A4
(a full-width figure is 16 cm wide with 8-10 pt text), fixed resolution, and no run-dependent
metadata in saved files, so the same data gives byte-identical figures::

    from govlib.report import theme
    theme.apply_theme()
    fig, ax = theme.new_figure()
    ax.bar(...)
    theme.label_axes(ax, _("Enforcement actions by policy"), _("Policy"), _("Actions"), y_unit=_("count"))

Every chart must have a title and both axis labels; a numeric axis names its unit.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

from govlib.errors import GovlibError
from govlib.io import write_bytes_atomic

# Okabe, M. & Ito, K. (2008) "Color Universal Design: how to make figures and presentations that are
# friendly to colorblind people". Black is left out of the cycle (it is used for text and reference lines).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
PALETTE: list[str] = list(OKABE_ITO[:7])
# Sequential map for heat maps (perceptually uniform, readable by colour-blind readers and in grey).
SEQUENTIAL_CMAP = "cividis"
# Highlight and muted colours for "this market vs. the others" charts.
HIGHLIGHT, MUTED, REFERENCE = "#D55E00", "#9E9E9E", "#000000"

CM = 1 / 2.54
# A4 portrait with 2.5 cm margins leaves 16 cm of text width.
WIDTHS_CM = {"full": 16.0, "half": 7.8, "wide": 16.0}
DEFAULT_HEIGHT_CM = 9.0
DPI = 150
SVG_HASH_SALT = "govlib"

RC: dict[str, Any] = {
    "figure.figsize": (WIDTHS_CM["full"] * CM, DEFAULT_HEIGHT_CM * CM),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "savefig.bbox": "tight",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],  # shipped with matplotlib: same glyphs on every machine
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.6,
    "svg.hashsalt": SVG_HASH_SALT,  # fixed ids in SVG output (default is random per run)
    "svg.fonttype": "path",
    "pdf.fonttype": 42,
    "image.cmap": SEQUENTIAL_CMAP,
}

# Metadata that would put the date or the software version into saved files.
SAVE_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}


class FigureError(GovlibError):
    """A chart is missing its title, an axis label or a unit."""


def apply_theme() -> None:
    """Set the house theme for matplotlib and seaborn (idempotent).

    Notes
    -----
    ``seaborn.set_theme(style="whitegrid", palette=PALETTE)`` plus :data:`RC`. Also sets
    ``SOURCE_DATE_EPOCH`` to 0 if unset, which matplotlib's PDF/PS backends use instead of
    the current time.
    """
    matplotlib.rcParams.update(_seaborn_theme_rc())
    matplotlib.rcParams.update(RC)
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")


def _seaborn_theme_rc() -> dict[str, Any]:
    """The rcParams ``seaborn.set_theme`` sets for the house theme, memoised across processes.

    Importing seaborn costs about 1.5 s of CPU, paid by every report kernel although the
    reports only need its theme. Seaborn computes the settings once (on matplotlib's
    defaults) and they are pickled under ``<cache>/theme/``, keyed by the seaborn and
    matplotlib versions and the house settings; later calls read the file (milliseconds).
    """
    import hashlib
    import pickle
    from importlib.metadata import version

    from govlib import config

    key = hashlib.sha256(
        repr((version("seaborn"), matplotlib.__version__, PALETTE, sorted(RC.items()))).encode()
    )
    path = Path(config.CACHE_DIR) / "theme" / f"seaborn-rc-{key.hexdigest()[:16]}.pkl"
    try:
        return pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError):
        pass
    import warnings

    import seaborn as sns

    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore")
        matplotlib.rcdefaults()
        before = dict(matplotlib.rcParams)
        sns.set_theme(context="paper", style="whitegrid", palette=PALETTE, rc=RC)
        rc = {k: v for k, v in matplotlib.rcParams.items() if k != "backend" and before.get(k) != v}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(path, pickle.dumps(rc))
    except OSError:
        pass  # a read-only cache only costs the import next time
    return rc


def new_figure(
    width: str | float = "full", height_cm: float | None = None, nrows: int = 1, ncols: int = 1, **kwargs
):
    """A themed figure sized for A4.

    Parameters
    ----------
    width : {"full", "half", "wide"} or float
        "full" and "wide" are 16 cm (the A4 text width), "half" 7.8 cm; a number is centimetres.
    height_cm : float, optional
        Defaults to 9 cm per row of axes (capped at 22 cm).
    nrows, ncols : int
        Passed to ``plt.subplots``; further keyword arguments too.

    Returns
    -------
    (matplotlib.figure.Figure, Axes or array of Axes)
    """
    import matplotlib.pyplot as plt

    apply_theme()
    if isinstance(width, str):
        if width not in WIDTHS_CM:
            raise FigureError(f"unknown figure width {width!r}: use 'full', 'half', 'wide' or centimetres")
        w = WIDTHS_CM[width]
    else:
        w = float(width)
    h = height_cm if height_cm is not None else min(DEFAULT_HEIGHT_CM * nrows, 22.0)
    kwargs.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=(w * CM, h * CM), **kwargs)


def with_unit(label: str, unit: str | None) -> str:
    """``"Time to action (hours)"`` from ``("Time to action", "hours")``; the label alone without a unit."""
    return f"{label} ({unit})" if unit else label


def label_axes(
    ax,
    title: str,
    x: str,
    y: str,
    *,
    x_unit: str | None = None,
    y_unit: str | None = None,
    wrap: int | None = None,
) -> None:
    """Title and axis labels, all required (pass translated text).

    A numeric axis must state its unit, either in ``x``/``y`` (``"Actions (count)"``) or with
    ``x_unit``/``y_unit``, which are appended in parentheses. ``wrap`` breaks the title and
    the x label into lines of at most that many characters (panels side by side, whose labels
    would otherwise run into each other; translations are often longer than English).

    Raises
    ------
    FigureError
        When the title or a label is empty, or a numeric axis has no unit.
    """
    for name, text in (("title", title), ("x label", x), ("y label", y)):
        if not isinstance(text, str) or not text.strip():
            raise FigureError(f"every chart needs a {name}; got {text!r}")
    xl, yl = with_unit(x, x_unit), with_unit(y, y_unit)
    for axis_name, _axis, label in (("x", ax.xaxis, xl), ("y", ax.yaxis, yl)):
        if _is_numeric_axis(ax, axis_name) and not _has_unit(label):
            raise FigureError(
                f"chart {title!r}: numeric {axis_name} axis label {label!r} has no unit; "
                f"pass {axis_name}_unit=... (e.g. 'count', '%', 'hours', 'EUR')"
            )
    if wrap:
        title, xl = (textwrap.fill(t, wrap, break_on_hyphens=False) for t in (title, xl))
    ax.set_title(title)
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)


def annotate_no_data(ax, text: str) -> None:
    """An empty panel that says why (``text``, translated), instead of bare axes.

    Ticks are removed and nothing is plotted, so :func:`label_axes` then treats neither
    axis as numeric: an empty chart needs no unit, and a missing value is never drawn as 0.
    """
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", wrap=True, color=MUTED)


def _has_unit(label: str) -> bool:
    return ("(" in label and label.rstrip().endswith(")")) or ("[" in label and label.rstrip().endswith("]"))


_NUMERIC_TICK = re.compile(r"^[\d\s.,'+\-\u2212\u00a0\u202f]*$")


def _is_numeric_axis(ax, which: str) -> bool:
    """True when the axis shows bare numbers, which need a unit in the label.

    Categories (seaborn bar/box/heat maps), dates, and ticks already formatted with a unit
    ("12 %", "1,5 Std.") carry their meaning in the tick labels.
    """
    axis = ax.xaxis if which == "x" else ax.yaxis
    from matplotlib.category import StrCategoryConverter

    conv = axis.get_converter() if hasattr(axis, "get_converter") else axis.converter
    if isinstance(conv, StrCategoryConverter) or type(conv).__module__ == "matplotlib.dates":
        return False
    if not ax.has_data():
        return False
    locs = list(axis.get_majorticklocs())
    formatter = axis.get_major_formatter()
    formatter.set_locs(locs)
    labels = [str(formatter(v, i)) for i, v in enumerate(locs)]
    return all(_NUMERIC_TICK.match(t) for t in labels)


def format_axis(ax, fmt: Callable[[float], str], axis: str = "y") -> None:
    """Tick labels through a locale formatter, e.g. ``format_axis(ax, fmt.percent)``.

    ``fmt`` is a bound method of :class:`govlib.report.i18n.Formatter` (``number``, ``count``,
    ``percent``, ``money``) or any function of one number.
    """
    from matplotlib.ticker import FuncFormatter

    if axis not in ("x", "y"):
        raise FigureError(f"axis must be 'x' or 'y', got {axis!r}")
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: fmt(v)))


def save_figure(fig, path, format: str | None = None) -> None:
    """Save without run-dependent metadata (no date, no software version), at :data:`DPI`."""
    ext = (format or os.path.splitext(str(path))[1].lstrip(".") or "png").lower()
    fig.savefig(path, format=ext, dpi=DPI, metadata=SAVE_METADATA.get(ext))
