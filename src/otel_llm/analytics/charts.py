"""The report's figures: matplotlib rendered to SVG text that is pasted into the page.

SVG keeps the page self-contained and light (no images, no scripts) and stays sharp when zoomed.
``Figure`` is used without pyplot, so no global figure state and no GUI backend is involved.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Sequence

import matplotlib
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

_SIZE = (8.0, 3.4)
# Colour-blind-safe palette (Okabe-Ito), enough for the top models plus "other".
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#999999"]


def _svg(fig: Figure, chart_id: str) -> str:
    buffer = io.StringIO()
    # Text stays text (smaller files, selectable); the salt keeps clip-path ids unique per chart,
    # since every chart lands in the same HTML document; no date makes the output reproducible.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": chart_id}):
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: invalid inside HTML


def _empty(fig: Figure, title: str, reason: str) -> None:
    ax = fig.subplots()
    ax.set_title(title, loc="left")
    ax.text(0.5, 0.5, reason, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_axis_off()


def _time_axis(ax, x: Sequence[datetime], bucket_s: int) -> None:
    # The whole window, not just the buckets with data: otherwise one point autoscales to years.
    ax.set_xlim(x[0], x[-1] + timedelta(seconds=bucket_s))
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)


def stacked_bars(
    chart_id: str,
    title: str,
    ylabel: str,
    x: Sequence[datetime],
    series: dict[str, Sequence[float]],
    bucket_s: int,
) -> str:
    fig = Figure(figsize=_SIZE)
    if not x or not any(any(values) for values in series.values()):
        _empty(fig, title, "nothing to show in this window")
        return _svg(fig, chart_id)
    ax = fig.subplots()
    width = bucket_s / 86_400 * 0.85  # matplotlib date units are days
    bottom = [0.0] * len(x)
    for colour, (label, values) in zip(PALETTE * 2, series.items()):
        ax.bar(x, values, width=width, bottom=bottom, label=label, color=colour, align="edge")
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    _time_axis(ax, x, bucket_s)
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig, chart_id)


def lines(
    chart_id: str,
    title: str,
    ylabel: str,
    x: Sequence[datetime],
    series: dict[str, Sequence[float | None]],
    bucket_s: int,
) -> str:
    fig = Figure(figsize=_SIZE)
    present = {label: v for label, v in series.items() if any(p is not None for p in v)}
    if not x or not present:
        _empty(fig, title, "nothing to show in this window")
        return _svg(fig, chart_id)
    ax = fig.subplots()
    for colour, (label, values) in zip(PALETTE, present.items()):
        # None (no data in a bucket) becomes NaN: a gap in the line rather than a drop to zero.
        ys = [float("nan") if v is None else v for v in values]
        # Points at bucket centres, where the bars of the other charts are.
        centres = [t + timedelta(seconds=bucket_s / 2) for t in x]
        ax.plot(centres, ys, marker="o", markersize=3, label=label, color=colour)
    ax.set_title(title, loc="left")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    _time_axis(ax, x, bucket_s)
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig, chart_id)


def ranking(chart_id: str, title: str, xlabel: str, labels: Sequence[str], values: Sequence[float]) -> str:
    """Horizontal bars, largest on top: the "top N by cost" charts."""
    fig = Figure(figsize=(_SIZE[0], max(1.6, 0.35 * len(labels) + 1.0)))
    if not labels:
        _empty(fig, title, "nothing to show in this window")
        return _svg(fig, chart_id)
    ax = fig.subplots()
    ax.barh(list(reversed(labels)), list(reversed(values)), color=PALETTE[0])
    ax.set_title(title, loc="left")
    ax.set_xlabel(xlabel)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    return _svg(fig, chart_id)
