"""Skeleton trees: skeleton -> chain graph -> Kruskal MST -> root-to-leaf paths.

This is Algorithm 1 of the paper ("random depth search") up to the choice of a path.
Runs of pixels with exactly two neighbours (chains) are contracted into single weighted
edges first, so that Kruskal sees the end points and junctions of a skeleton (tens of
nodes) rather than every pixel (thousands). Kruskal is array code rather than a graph
library's, whose set-up per tree cost a fifth of a build's simulation (docs/benchmarks.md);
it visits the edges in the order networkx's Kruskal does, which the tests check against
networkx itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np

from .grid import framed
from .kernels import label8


def _padded_edges(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of a framed mask as index pairs into its set pixels ``(rows, cols)`` (raster order).

    Returns
    -------
    sources, targets, diagonal
        Both ends of every edge (each once: right, down, down-right and down-left steps
        from each pixel, one step after another) and whether the step is diagonal.
    """
    width = mask.shape[1]
    flat = mask.ravel()
    at = rows * width + cols  # sorted: the pixels are in raster order
    steps = np.array([1, width, width + 1, width - 1])
    ends = at + steps[:, None]  # (step, pixel)
    hit = flat[ends]
    # A diagonal step is no edge where the L-shaped detour's corner pixel is set.
    hit[2:] &= ~flat[at + width] & ~flat[at + np.array([1, -1])[:, None]]
    step, source = np.nonzero(hit)
    return source, np.searchsorted(at, ends[step, source]), step >= 2


def skeleton_edges(skeleton: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges of the 8-connected pixel graph of a skeleton, without corner-cutting diagonals.

    A diagonal step is an edge only where neither pixel of the L-shaped detour exists, so
    that an L corner counts as two unit steps, not as a triangle.

    Parameters
    ----------
    skeleton : ndarray of bool, shape (H, W)

    Returns
    -------
    starts, ends : ndarray of int, shape (E, 2)
        ``(row, col)`` of both ends of every edge (each edge once).
    """
    mask = framed(skeleton, bool)
    rows, cols = np.nonzero(mask)
    sources, targets = _padded_edges(mask, rows, cols)[:2]
    pixels = np.stack([rows, cols], axis=1) - 1
    return pixels[sources], pixels[targets]


def largest_component(skeleton: np.ndarray) -> np.ndarray:
    """Keep the largest 8-connected component of a skeleton (the first one on ties)."""
    labels, count = label8(skeleton)
    if count <= 1:
        return skeleton
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


@dataclass(frozen=True)
class _PixelGraph:
    """Pixels of a skeleton, its edges as index pairs, and the chains of degree-2 pixels."""

    pixels: np.ndarray  # (n, 2) row, col
    sources: np.ndarray
    targets: np.ndarray
    weights: np.ndarray
    is_node: np.ndarray  # pixels that stay graph nodes: degree != 2, plus one per closed loop
    chain_of: np.ndarray  # chain label of every non-node pixel, -1 for nodes
    walk: np.ndarray  # every chain's pixels from end to end, one chain after another
    bounds: np.ndarray  # (chains, 2): where each chain lies in ``walk``

    def chain_order(self, first: int) -> np.ndarray:
        """Pixels of the chain that ends at ``first``, in order from ``first``."""
        start, stop = self.bounds[self.chain_of[first]]
        chain = self.walk[start:stop]
        return chain if chain[0] == first else chain[::-1]


def _chains(
    neighbours: list[int], offsets: list[int], is_node: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Follow every chain of degree-2 pixels from a node to the next one.

    ``neighbours[offsets[p]:offsets[p + 1]]`` are the neighbours of pixel ``p``. A closed
    loop of chain pixels has no end: its first pixel becomes a node (``is_node`` is
    updated), as a junction would be. Chains are numbered by their first pixel, in index
    order, and each one's pixels lie from end to end in ``walk``.

    Returns
    -------
    chain_of, walk, bounds
        Chain of every pixel (-1 for nodes), all chains' pixels one chain after another,
        and where each chain lies in ``walk``.
    """
    node = is_node.tolist()
    chain = [-1] * len(node)
    chains: list[list[int]] = []

    def follow_from(start: int) -> None:
        for pixel in neighbours[offsets[start] : offsets[start + 1]]:
            if node[pixel] or chain[pixel] >= 0:
                continue
            number, sequence, previous = len(chains), [], start
            while not node[pixel]:
                chain[pixel] = number
                sequence.append(pixel)
                first, second = neighbours[offsets[pixel] : offsets[pixel] + 2]
                previous, pixel = pixel, (second if first == previous else first)
            chains.append(sequence)

    # A Python walk: scipy.sparse's set-up costs more than the walk on skeletons of tens of pixels.
    for start in np.flatnonzero(is_node).tolist():
        follow_from(start)
    for pixel, (is_end, seen) in enumerate(zip(node, chain)):
        if not is_end and seen < 0:
            node[pixel] = is_node[pixel] = True
            follow_from(pixel)
    by_first = sorted(range(len(chains)), key=lambda c: min(chains[c]))
    number = np.empty(len(chains), dtype=np.int64)
    number[by_first] = np.arange(len(chains))
    chain_of = np.asarray(chain, dtype=np.int64)
    inner = chain_of >= 0
    chain_of[inner] = number[chain_of[inner]]
    sizes = np.array([len(chains[c]) for c in by_first], dtype=np.int64)
    stops = np.cumsum(sizes)
    walk = np.array([pixel for c in by_first for pixel in chains[c]], dtype=np.int64)
    return chain_of, walk, np.stack([stops - sizes, stops], axis=1)


def _neighbour_lists(sources: np.ndarray, targets: np.ndarray, n: int) -> tuple[list[int], list[int]]:
    """Every pixel's neighbours as one flat list, and where each pixel's run starts."""
    ends = np.concatenate([sources, targets])
    order = np.argsort(ends, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=n))])
    return np.concatenate([targets, sources])[order].tolist(), offsets.tolist()


def _pixel_graph(mask: np.ndarray, rows: np.ndarray, cols: np.ndarray, root: int) -> _PixelGraph:
    """The pixel graph of a skeleton framed by empty pixels, with pixel ``root`` kept as a node."""
    n = rows.size
    sources, targets, diagonal = _padded_edges(mask, rows, cols)
    weights = np.where(diagonal, np.sqrt(2.0), 1.0)
    degree = np.bincount(sources, minlength=n) + np.bincount(targets, minlength=n)
    is_node = degree != 2
    is_node[root] = True
    chain_of, walk, bounds = _chains(*_neighbour_lists(sources, targets, n), is_node)
    pixels = np.stack([rows, cols], axis=1) - 1
    return _PixelGraph(pixels, sources, targets, weights, is_node, chain_of, walk, bounds)


@dataclass(frozen=True)
class _ChainEdges:
    """The chain graph's edges, in the order networkx's Kruskal visits them (any order for a tree).

    One edge per direct pixel step between nodes (``first`` is -1) and one per chain of
    degree-2 pixels (``anchor`` is the end next to chain pixel ``first``). The order is
    that of ``nx.minimum_spanning_edges`` over the ``nx.MultiGraph`` these edges once
    filled: by weight, ties in the graph's edge order, so the tree stays the one it was.
    """

    sources: list[int]
    targets: list[int]
    weights: list[float]
    anchors: list[int]
    firsts: list[int]


def _chain_edges(graph: _PixelGraph) -> _ChainEdges:
    """Edges joining nodes and junctions: one per chain and one per direct pixel step."""
    sources, targets, weights, is_node = graph.sources, graph.targets, graph.weights, graph.is_node
    direct = np.flatnonzero(is_node[sources] & is_node[targets])
    inner = ~is_node[sources] & ~is_node[targets]
    chain_count = int(graph.chain_of.max(initial=-1)) + 1
    length = np.bincount(graph.chain_of[sources[inner]], weights[inner], minlength=chain_count)
    link = np.flatnonzero(is_node[sources] != is_node[targets])
    node = np.where(is_node[sources[link]], sources[link], targets[link])
    pixel = np.where(is_node[sources[link]], targets[link], sources[link])
    chain = graph.chain_of[pixel]
    a, b = np.lexsort((link, chain)).reshape(-1, 2).T  # every chain has exactly two links
    # In the order they were once added to the multigraph: steps, then chains.
    us = np.concatenate([sources[direct], node[a]])
    vs = np.concatenate([targets[direct], node[b]])
    cost = np.concatenate([weights[direct], length[chain[a]] + weights[link[a]] + weights[link[b]]])
    anchors = np.concatenate([np.full(direct.size, -1), node[a]])
    firsts = np.concatenate([np.full(direct.size, -1), pixel[a]])
    low, high = np.minimum(us, vs), np.maximum(us, vs)
    if us.size == int(is_node.sum()) - 1:  # already a tree (the skeleton is connected): Kruskal keeps every edge
        return _ChainEdges(low.tolist(), high.tolist(), cost.tolist(), anchors.tolist(), firsts.tolist())
    # networkx lists a multigraph's edges node by node (ascending here), each node's
    # neighbours in the order they first met it, parallel edges in the order added; its
    # Kruskal sorts them stably by weight.
    added = np.arange(us.size)
    first_index, pair = np.unique(low * len(graph.pixels) + high, return_index=True, return_inverse=True)[1:]
    order = np.lexsort((added, first_index[pair.reshape(-1)], low, cost))
    return _ChainEdges(
        low[order].tolist(), high[order].tolist(), cost[order].tolist(), anchors[order].tolist(), firsts[order].tolist()
    )


#: A tree as adjacency: ``tree[u][v]`` is the data of edge u-v (shared by both ends).
Adjacency = dict[int, dict[int, dict]]


@dataclass(frozen=True)
class SkeletonTree:
    """A spanning tree of a skeleton, rooted at an extreme end point.

    Attributes
    ----------
    pixels : ndarray, shape (n, 2)
        (row, col) of every skeleton pixel; tree nodes are indices into it.
    graph : dict
        The tree over end points, junctions and cut points, as adjacency:
        ``graph[u][v]`` is the data of edge u-v (``networkx.Graph(graph)`` reads it).
        Each edge holds its ``weight`` (path length) and ``interior``: the pixels
        strictly between its ends, ordered from its ``anchor`` end.
    root : int
        The pixel paths start from (see :func:`skeleton_tree`).
    parent : dict
        Predecessor of every tree node but the root.
    depth : ndarray, shape (n,)
        Path length from the root to every tree node (NaN for pixels inside edges).
    leaves : ndarray of int
        Leaf nodes (degree 1, root excluded); a lone pixel is its own leaf.
    """

    pixels: np.ndarray
    graph: Adjacency
    root: int
    parent: dict[int, int]
    depth: np.ndarray
    leaves: np.ndarray

    def path_to(self, node: int) -> np.ndarray:
        """(row, col) pixels of the tree path from the root to ``node``."""
        nodes = [node]
        while nodes[-1] != self.root:
            nodes.append(self.parent[nodes[-1]])
        nodes.reverse()
        sequence = [np.array(nodes[:1])]
        for up, down in zip(nodes[:-1], nodes[1:]):
            edge = self.graph[up][down]
            interior = edge["interior"]() if callable(edge["interior"]) else edge["interior"]
            sequence += [interior if edge["anchor"] == up else interior[::-1], np.array([down])]
        return self.pixels[np.concatenate(sequence).astype(np.int64)]


def _add_edge(tree: Adjacency, u: int, v: int, **data) -> None:
    tree.setdefault(u, {})[v] = data
    tree.setdefault(v, {})[u] = data


def _find(roots: dict[int, int], node: int) -> int:
    while roots[node] != node:
        roots[node] = node = roots[roots[node]]  # path halving
    return node


def _cut_chain(graph: _PixelGraph, anchor: int, first: int, other: int, tree: Adjacency, root: int) -> None:
    """Keep a chain that would close a cycle as two branches, cut at its middle.

    Kruskal leaves such a chain out; a pixel-level spanning tree would drop only one
    step of it, and an annotator's stroke may still run along most of it. A loop that
    starts and ends at the root is cut beside the root instead, so that a stroke from
    the root can run all the way round.
    """
    sequence = np.concatenate([[anchor], graph.chain_order(first), [other]])
    steps = np.linalg.norm(np.diff(graph.pixels[sequence], axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    if anchor == other == root:
        cut = len(sequence) - 2  # drop the step back into the root
    else:
        cut = int(np.searchsorted(arc, arc[-1] / 2.0, side="right")) - 1  # drop sequence[cut] -> [cut + 1]
    if cut >= 1:
        _add_edge(tree, anchor, int(sequence[cut]), weight=float(arc[cut]), anchor=anchor, interior=sequence[1:cut])
    if cut + 1 <= len(sequence) - 2:
        start = int(sequence[cut + 1])
        interior = sequence[cut + 2 : -1]
        _add_edge(tree, start, other, weight=float(arc[-1] - arc[cut + 1]), anchor=start, interior=interior)


def _spanning_tree(graph: _PixelGraph, root: int) -> Adjacency:
    """Kruskal MST of the chain graph, with the chains it leaves out kept as cut branches."""
    edges = _chain_edges(graph)
    tree: Adjacency = {node: {} for node in np.flatnonzero(graph.is_node).tolist()}
    roots = {node: node for node in tree}
    left_out = []
    for u, v, weight, anchor, first in zip(edges.sources, edges.targets, edges.weights, edges.anchors, edges.firsts):
        top_u, top_v = _find(roots, u), _find(roots, v)
        if top_u == top_v:
            if first >= 0:
                left_out.append((anchor, first, v if u == anchor else u))
            continue
        roots[top_u] = top_v
        if first < 0:
            _add_edge(tree, u, v, weight=weight, anchor=u, interior=np.empty(0, dtype=np.int64))
        else:
            _add_edge(tree, u, v, weight=weight, anchor=anchor, interior=partial(graph.chain_order, first))
    for anchor, first, other in left_out:
        _cut_chain(graph, anchor, first, other, tree, root)
    return tree


def _depths(tree: Adjacency, root: int, size: int) -> tuple[dict[int, int], np.ndarray]:
    """Parent of every node and its path length from ``root``."""
    parent: dict[int, int] = {}
    length = {root: 0.0}
    stack = [root]
    while stack:
        up = stack.pop()
        for node, data in tree[up].items():
            if node not in length:
                parent[node] = up
                length[node] = length[up] + data["weight"]
                stack.append(node)
    depth = np.full(size, np.nan)
    depth[list(length)] = list(length.values())
    return parent, depth


#: Most end points and junctions a skeleton tree is built over. Real shapes have tens to
#: hundreds; a mask riddled with holes (noise, random ignore pixels) can have a million,
#: and a tree over those takes minutes.
MAX_TREE_NODES = 10_000


class SkeletonTooComplex(ValueError):
    """A skeleton has more end points and junctions than a tree is built over."""


def skeleton_tree(skeleton: np.ndarray, max_nodes: int = MAX_TREE_NODES) -> SkeletonTree | None:
    """Build the DFS tree of a connected skeleton; ``None`` when it is empty.

    The chain graph's Kruskal minimum spanning tree removes cycles. The DFS starts, as
    in the reference code, at the skeleton's leftmost pixel (its topmost one when the
    skeleton is taller than wide), so that paths run along its long axis.

    Raises
    ------
    SkeletonTooComplex
        If the chain graph has more than ``max_nodes`` nodes; the work stays bounded.
    """
    mask = framed(skeleton, bool)
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    if np.ptp(cols) >= np.ptp(rows):
        root = int(np.lexsort((rows, cols))[0])
    else:
        root = int(np.lexsort((cols, rows))[0])
    graph = _pixel_graph(mask, rows, cols, root)
    nodes = int(graph.is_node.sum())
    if nodes > max_nodes:
        raise SkeletonTooComplex(f"skeleton too fragmented ({nodes} end points and junctions > {max_nodes})")
    tree = _spanning_tree(graph, root)
    parent, depth = _depths(tree, root, len(graph.pixels))
    leaves = np.array(sorted(n for n, ends in tree.items() if len(ends) <= 1 and n != root), dtype=np.int64)
    if leaves.size == 0:
        leaves = np.array([root], dtype=np.int64)
    return SkeletonTree(pixels=graph.pixels, graph=tree, root=root, parent=parent, depth=depth, leaves=leaves)


def _random_leaf(tree: SkeletonTree, rng: np.random.Generator, leaves: np.ndarray | None = None) -> int:
    """A leaf (of ``leaves``, default all) with probability proportional to its path length."""
    leaves = tree.leaves if leaves is None else leaves
    lengths = tree.depth[leaves]
    total = lengths.sum()
    return int(rng.choice(leaves, p=lengths / total if total > 0 else None))


def random_path(tree: SkeletonTree, rng: np.random.Generator) -> np.ndarray:
    """Pick a root-to-leaf path with probability proportional to its length."""
    return tree.path_to(_random_leaf(tree, rng))


def leaf_to_leaf_path(tree: SkeletonTree, rng: np.random.Generator) -> np.ndarray:
    """Two leaves picked as :func:`random_path` does, and the tree path between them.

    The stroke runs from one leaf through the tree to another, as a hand that draws through
    an object (or around a ring, whose skeleton the spanning tree cuts once). A tree with
    one leaf gives its root-to-leaf path.
    """
    first = _random_leaf(tree, rng)
    if len(tree.leaves) < 2:
        return tree.path_to(first)
    second = _random_leaf(tree, rng, tree.leaves[tree.leaves != first])
    to_first, to_second = tree.path_to(first), tree.path_to(second)
    # both paths leave the root along the same pixels up to the leaves' last common ancestor
    shared = min(len(to_first), len(to_second))
    same = np.all(to_first[:shared] == to_second[:shared], axis=1)
    common = shared if same.all() else int(np.argmin(same))
    return np.concatenate([to_first[common - 1 :][::-1], to_second[common:]])


def longest_path(tree: SkeletonTree) -> np.ndarray:
    """The longest root-to-leaf path, which is the tree's diameter."""
    return tree.path_to(int(tree.leaves[np.argmax(tree.depth[tree.leaves])]))
