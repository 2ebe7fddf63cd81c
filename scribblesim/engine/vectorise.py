"""Strokes recovered from scribble pixels: skeleton chains between end points and junctions.

Shared by the PNG importer, degrade (for sets without vector strokes) and the stroke
length of :mod:`scribblesim.analysis.metrics`.
"""

from __future__ import annotations

import numpy as np

from .kernels import label8
from .result import Stroke, StrokeStyle, unlabelled_value
from .skeleton import skeleton_edges

#: Stroke style recorded for strokes drawn by people (imported) or recovered from pixels.
HUMAN_STYLE: StrokeStyle = "human"


def skeleton_length(skeleton: np.ndarray) -> float:
    """Length of a one-pixel-wide skeleton: 1 per orthogonal and sqrt(2) per diagonal edge."""
    starts, ends = skeleton_edges(skeleton)
    steps = np.abs(ends - starts).sum(axis=1)
    return float(np.sum(np.where(steps == 2, np.sqrt(2.0), 1.0)))


def skeleton_chains(skeleton: np.ndarray) -> list[np.ndarray]:
    """Cut a skeleton into chains between end points and junctions (and closed loops).

    Returns
    -------
    list of ndarray, shape (M, 2)
        Every chain as float ``(x, y)`` pixel coordinates; isolated pixels are one-point chains.
    """
    starts, ends = skeleton_edges(skeleton)
    nodes = {tuple(p) for p in np.argwhere(skeleton)}
    neighbours: dict[tuple, list[tuple]] = {p: [] for p in nodes}
    for a, b in zip(map(tuple, starts.tolist()), map(tuple, ends.tolist())):
        neighbours[a].append(b)
        neighbours[b].append(a)
    used: set[frozenset] = set()
    chains = []

    def walk(first: tuple, second: tuple) -> list[tuple]:
        chain = [first, second]
        used.add(frozenset((first, second)))
        while len(neighbours[chain[-1]]) == 2 and chain[-1] != first:
            nxt = [q for q in neighbours[chain[-1]] if frozenset((chain[-1], q)) not in used]
            if not nxt:
                break
            used.add(frozenset((chain[-1], nxt[0])))
            chain.append(nxt[0])
        return chain

    for node in sorted(nodes):
        if not neighbours[node]:
            chains.append([node])
        elif len(neighbours[node]) != 2:
            for other in sorted(neighbours[node]):
                if frozenset((node, other)) not in used:
                    chains.append(walk(node, other))
    for node in sorted(nodes):  # what is left are closed loops
        for other in sorted(neighbours[node]):
            if frozenset((node, other)) not in used:
                chains.append(walk(node, other))
    return [np.array(chain, dtype=float)[:, ::-1] for chain in chains]


def vectorise(label_map: np.ndarray) -> list[Stroke]:
    """Strokes of a scribble label map: skeleton chains of each connected piece of each label."""
    # Imported here: scikit-image's morphology package imports all of scipy.ndimage, which
    # builds that never vectorise (no human scribbles) should not wait for.
    from skimage.morphology import skeletonize

    strokes = []
    for label in np.unique(label_map):
        if label == unlabelled_value(label_map.dtype):
            continue
        pieces, count = label8(label_map == label)
        for piece in range(1, count + 1):
            mask = pieces == piece
            skeleton = skeletonize(mask) if mask.sum() > 1 else mask
            if not skeleton.any():  # skeletonize can erase tiny blobs; keep one pixel
                skeleton = np.zeros_like(mask)
                skeleton[tuple(np.argwhere(mask)[0])] = True
            strokes += [Stroke(points, int(label), None, HUMAN_STYLE) for points in skeleton_chains(skeleton)]
    return strokes
