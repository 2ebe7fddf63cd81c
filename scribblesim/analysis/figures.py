"""Fig. 18: heatmaps of objects by mask ratio and scribble ratio (matplotlib, PNG bytes)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from .summary import AREA_EDGES, SCRIBBLE_EDGES


def _edge_label(value: float) -> str:
    return f"{value:g}"


def heatmap_png(panels: Sequence[tuple[str, np.ndarray]], area_edges: Sequence[float] = AREA_EDGES,
                scribble_edges: Sequence[float] = SCRIBBLE_EDGES) -> bytes:
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
        image = ax.imshow(shown, origin="lower", cmap=colours, vmin=0.0, vmax=top, aspect="auto",
                          extent=(0, percent.shape[1], 0, percent.shape[0]))
        for (row, col), value in np.ndenumerate(percent):
            if counts[row, col]:
                ax.text(col + 0.5, row + 0.5, f"{value:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.6 * top else "black")
        ax.set_xticks(range(len(area_edges)), [_edge_label(e) for e in area_edges], fontsize=8)
        ax.set_yticks(range(len(scribble_edges)), [_edge_label(e) for e in scribble_edges], fontsize=8)
        ax.set_xlabel("mask ratio (%)")
        ax.set_ylabel("scribble ratio (%)")
        ax.set_title(f"{title} (n = {int(counts.sum())} objects)", fontsize=10)
        figure.colorbar(image, ax=ax, label="objects (%)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
