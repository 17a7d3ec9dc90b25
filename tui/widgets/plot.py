"""Plots in the terminal with textual-plotext, imported when a plot is first made (it adds
~0.2 s to start-up otherwise)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.widget import Widget


def make_plot(id: str) -> Widget:
    from textual_plotext import PlotextPlot

    return PlotextPlot(id=id, classes="plot")


def draw_lines(plot: Any, title: str, series: Sequence[tuple[str, Sequence[float],
                                                                Sequence[float]]],
               xlabel: str = "", ylabel: str = "") -> None:
    """Overlay `series` (label, xs, ys) on one plot."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title(title)
    for label, xs, ys in series:
        if xs:
            plt.plot(list(xs), list(ys), label=label, marker="braille")
    if xlabel:
        plt.xlabel(xlabel)
    if ylabel:
        plt.ylabel(ylabel)
    plot.refresh()


def draw_bars(plot: Any, title: str, labels: Sequence[str],
              series: Sequence[tuple[str, Sequence[float]]]) -> None:
    """Side-by-side bars per label, one colour per series (reference, current)."""
    plt = plot.plt
    plt.clear_data()
    plt.clear_figure()
    plt.title(title)
    if labels:
        plt.multiple_bar(list(labels), [list(values) for _, values in series],
                         labels=[name for name, _ in series])
        # Ticks chosen here: plotext's own choice varied from one process to the next.
        step = max(1, len(labels) // 6)
        positions = list(range(1, len(labels) + 1))[::step]
        plt.xticks(positions, [str(x) for x in list(labels)[::step]])
    plot.refresh()
