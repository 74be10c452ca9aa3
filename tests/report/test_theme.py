"""House figure theme (govlib.report.theme): palette, A4 sizes, required labels, determinism."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from govlib.report import theme  # noqa: E402
from govlib.report.i18n import Formatter  # noqa: E402


def test_palette_is_okabe_ito():
    # Okabe & Ito (2008), Table "Color Universal Design", RGB 0-255:
    # blue (0,114,178), orange (230,159,0), bluish green (0,158,115), reddish purple (204,121,167),
    # sky blue (86,180,233), vermillion (213,94,0), yellow (240,228,66)
    published = [
        (0, 114, 178),
        (230, 159, 0),
        (0, 158, 115),
        (204, 121, 167),
        (86, 180, 233),
        (213, 94, 0),
        (240, 228, 66),
    ]
    theme.apply_theme()
    cycle = [to_hex(c["color"]) for c in matplotlib.rcParams["axes.prop_cycle"]]
    assert cycle == ["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in published]
    assert [to_hex(c) for c in sns.color_palette()] == cycle


def test_theme_sizes_for_a4():
    theme.apply_theme()
    assert matplotlib.rcParams["svg.hashsalt"] == "govlib"
    assert matplotlib.rcParams["savefig.dpi"] == matplotlib.rcParams["figure.dpi"] == 150
    assert 8 <= matplotlib.rcParams["font.size"] <= 10
    fig, ax = theme.new_figure()
    w, h = fig.get_size_inches()
    assert w == pytest.approx(16 / 2.54) and h == pytest.approx(9 / 2.54)
    fig2, axes = theme.new_figure("half", nrows=2)
    assert fig2.get_size_inches()[0] == pytest.approx(7.8 / 2.54) and len(axes) == 2
    plt.close("all")
    with pytest.raises(theme.FigureError, match="width"):
        theme.new_figure("poster")


def test_label_axes_requires_title_labels_and_units():
    fig, ax = theme.new_figure()
    ax.plot([0, 1, 2], [3.0, 4.0, 5.0])
    with pytest.raises(theme.FigureError, match="title"):
        theme.label_axes(ax, "", "Week", "Actions")
    with pytest.raises(theme.FigureError, match="y label"):
        theme.label_axes(ax, "Actions per week", "Week (number)", "  ")
    with pytest.raises(theme.FigureError, match="no unit"):
        theme.label_axes(ax, "Actions per week", "Week (number)", "Actions")
    theme.label_axes(ax, "Actions per week", "Week", "Actions", x_unit="number", y_unit="count")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "Actions per week",
        "Week (number)",
        "Actions (count)",
    )
    plt.close(fig)


def test_categorical_axis_needs_no_unit():
    fig, ax = theme.new_figure()
    ax.bar(["scam_fraud", "hate_speech"], [10, 4])
    theme.label_axes(ax, "Actions by policy", "Policy", "Actions (count)")
    assert ax.get_xlabel() == "Policy"
    plt.close(fig)


def test_format_axis_uses_locale():
    fig, ax = theme.new_figure()
    ax.plot([0, 1], [0.0, 0.5])
    theme.format_axis(ax, Formatter("de_DE").percent)
    fmt = ax.yaxis.get_major_formatter()
    assert fmt(0.25, 0) == "25,0\u00a0%"
    plt.close(fig)


def _chart() -> bytes:
    fig, ax = theme.new_figure()
    sns.lineplot(x=[1, 2, 3, 4], y=[2.0, 3.5, 1.0, 4.0], ax=ax, marker="o")
    theme.label_axes(ax, "Test", "Week (number)", "Rate (%)")
    out = {}
    for fmt in ("png", "svg", "pdf"):
        buf = io.BytesIO()
        theme.save_figure(fig, buf, format=fmt)
        out[fmt] = buf.getvalue()
    plt.close(fig)
    return out


def test_saved_figures_are_byte_identical_and_undated():
    a, b = _chart(), _chart()
    for fmt in ("png", "svg", "pdf"):
        assert a[fmt] == b[fmt], fmt
    assert b"Software" not in a["png"] and b"matplotlib" not in a["png"].lower()
    assert b"<dc:date>" not in a["svg"]
    assert b"CreationDate" not in a["pdf"]


def test_unit_not_required_when_ticks_carry_it():
    import pandas as pd

    fig, ax = theme.new_figure()
    sns.heatmap(pd.DataFrame([[1, 2], [3, 4]], index=["DE", "FR"], columns=["a", "b"]), ax=ax)
    theme.label_axes(ax, "Actions by market and policy", "Policy", "Market")  # text ticks: no unit needed
    fig2, ax2 = theme.new_figure()
    ax2.plot([0, 1], [0.0, 0.5])
    theme.format_axis(ax2, Formatter("de_DE").percent)
    theme.label_axes(ax2, "Share over time", "Week (number)", "Share")  # ticks read '25,0 %'
    plt.close("all")
