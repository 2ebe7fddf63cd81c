"""Figures (matplotlib, PNG bytes): Fig. 18's heatmaps, and human vs simulated style distributions."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np

from .summary import AREA_EDGES, SCRIBBLE_EDGES, finite_values


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _edge_label(value: float) -> str:
    return f"{value:g}"


def heatmap_png(
    panels: Sequence[tuple[str, np.ndarray]],
    area_edges: Sequence[float] = AREA_EDGES,
    scribble_edges: Sequence[float] = SCRIBBLE_EDGES,
) -> bytes:
    """Fig. 18: one heatmap per (title, counts) panel, colour and numbers = % of objects; PNG bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6 * len(panels), 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    percents = [100.0 * c / max(c.sum(), 1) for _, c in panels]
    top = max(max((float(p.max()) for p in percents), default=0.0), 1e-9)
    colours = matplotlib.colormaps["YlOrRd"].with_extremes(bad="white")
    for ax, (title, counts), percent in zip(axes, panels, percents):
        shown = np.where(counts > 0, percent, np.nan)  # empty cells stay white
        image = ax.imshow(
            shown,
            origin="lower",
            cmap=colours,
            vmin=0.0,
            vmax=top,
            aspect="auto",
            extent=(0, percent.shape[1], 0, percent.shape[0]),
        )
        for (row, col), value in np.ndenumerate(percent):
            if counts[row, col]:
                ax.text(
                    col + 0.5,
                    row + 0.5,
                    f"{value:.1f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > 0.6 * top else "black",
                )
        ax.set_xticks(range(len(area_edges)), [_edge_label(e) for e in area_edges], fontsize=8)
        ax.set_yticks(range(len(scribble_edges)), [_edge_label(e) for e in scribble_edges], fontsize=8)
        ax.set_xlabel("mask ratio (%)")
        ax.set_ylabel("scribble ratio (%)")
        ax.set_title(f"{title} (n = {int(counts.sum())} objects)", fontsize=10)
        figure.colorbar(image, ax=ax, label="objects (%)")
    return _png(figure)


def distributions_png(rows: Sequence[tuple[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]]]) -> bytes:
    """Per row (a source) and measure, the human and simulated values as overlaid histograms; PNG bytes.

    ``rows`` holds (title, {measure: (human values, simulated values)}).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    measures = list(rows[0][1]) if rows else []
    figure = Figure(figsize=(3.2 * max(len(measures), 1), 2.6 * max(len(rows), 1)), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(max(len(rows), 1), max(len(measures), 1), squeeze=False)
    for row, (title, values) in zip(axes, rows):
        for ax, (measure, (human, simulated)) in zip(row, values.items()):
            both = [finite_values(v) for v in (human, simulated)]
            joined = np.concatenate(both)
            edges = np.histogram_bin_edges(joined, bins=20) if joined.size else np.linspace(0, 1, 21)
            for data, name, colour in zip(both, ("human", "simulated"), ("tab:blue", "tab:orange")):
                ax.hist(data, bins=edges, density=True, alpha=0.55, color=colour, label=f"{name} (n = {data.size})")
            ax.set_title(f"{title}: {measure}", fontsize=9)
            ax.tick_params(labelsize=7)
            ax.legend(fontsize=6)
    return _png(figure)
