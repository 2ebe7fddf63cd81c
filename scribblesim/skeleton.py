"""Skeleton trees: skeleton pixels -> pixel graph -> Kruskal MST -> DFS root-to-leaf paths.

This is Algorithm 1 of the paper ("random depth search") up to the choice of a path.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy import ndimage

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
# Half of the 8-neighbourhood: each undirected pixel edge is found once.
_NEIGHBOUR_OFFSETS = ((0, 1, 1.0), (1, 0, 1.0), (1, 1, np.sqrt(2.0)), (1, -1, np.sqrt(2.0)))


@dataclass(frozen=True)
class SkeletonTree:
    """A spanning tree of a skeleton, explored by DFS from an extreme end point.

    Attributes
    ----------
    pixels : ndarray, shape (n, 2)
        (row, col) of every skeleton pixel; node ``i`` of the tree is ``pixels[i]``.
    root : int
        The extreme end point the DFS starts from.
    parent : dict
        DFS predecessor of every node but the root.
    depth : ndarray, shape (n,)
        Euclidean path length from the root to every node.
    leaves : ndarray of int
        Leaf nodes (degree 1, root excluded); a lone pixel is its own leaf.
    """

    pixels: np.ndarray
    root: int
    parent: dict[int, int]
    depth: np.ndarray
    leaves: np.ndarray

    def path_to(self, node: int) -> np.ndarray:
        """(row, col) pixels of the tree path from the root to ``node``."""
        nodes = [node]
        while nodes[-1] != self.root:
            nodes.append(self.parent[nodes[-1]])
        return self.pixels[nodes[::-1]]


def largest_component(skeleton: np.ndarray) -> np.ndarray:
    """Keep the largest 8-connected component of a skeleton (the first one on ties)."""
    labels, count = ndimage.label(skeleton, structure=_EIGHT_CONNECTED)
    if count <= 1:
        return skeleton
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def pixel_graph(skeleton: np.ndarray) -> tuple[nx.Graph, np.ndarray]:
    """8-connected graph of skeleton pixels with Euclidean edge weights."""
    rows, cols = np.nonzero(skeleton)
    index = np.full((skeleton.shape[0] + 2, skeleton.shape[1] + 2), -1, dtype=np.int64)
    index[rows + 1, cols + 1] = np.arange(len(rows))
    graph = nx.Graph()
    graph.add_nodes_from(range(len(rows)))
    for d_row, d_col, weight in _NEIGHBOUR_OFFSETS:
        neighbours = index[rows + 1 + d_row, cols + 1 + d_col]
        found = neighbours >= 0
        sources = np.nonzero(found)[0].tolist()
        graph.add_weighted_edges_from(
            zip(sources, neighbours[found].tolist(), [weight] * len(sources))
        )
    return graph, np.stack([rows, cols], axis=1)


def _dfs_depths(tree: nx.Graph, root: int) -> tuple[dict[int, int], np.ndarray]:
    """DFS predecessors of every node and its path length from ``root``, in one traversal."""
    parent: dict[int, int] = {}
    depth = np.zeros(tree.number_of_nodes())
    for up, node in nx.dfs_edges(tree, root):
        parent[node] = up
        depth[node] = depth[up] + tree[up][node]["weight"]
    return parent, depth


def skeleton_tree(skeleton: np.ndarray) -> SkeletonTree | None:
    """Build the DFS tree of a connected skeleton; ``None`` when it is empty.

    The graph's Kruskal minimum spanning tree removes cycles; the DFS root is an
    extreme end point: the node farthest (along the tree) from the first pixel.
    """
    graph, pixels = pixel_graph(skeleton)
    if graph.number_of_nodes() == 0:
        return None
    tree = nx.minimum_spanning_tree(graph, algorithm="kruskal")
    _, depth_from_first = _dfs_depths(tree, 0)
    root = int(np.argmax(depth_from_first))
    parent, depth = _dfs_depths(tree, root)
    leaves = np.array([n for n, d in tree.degree() if d <= 1 and n != root], dtype=np.int64)
    if leaves.size == 0:
        leaves = np.array([root], dtype=np.int64)
    return SkeletonTree(pixels=pixels, root=root, parent=parent, depth=depth, leaves=leaves)


def random_path(tree: SkeletonTree, rng: np.random.Generator) -> np.ndarray:
    """Pick a root-to-leaf path with probability proportional to its length."""
    lengths = tree.depth[tree.leaves]
    total = lengths.sum()
    probabilities = lengths / total if total > 0 else None
    leaf = int(rng.choice(tree.leaves, p=probabilities))
    return tree.path_to(leaf)


def longest_path(tree: SkeletonTree) -> np.ndarray:
    """The longest root-to-leaf path, which is the tree's diameter."""
    return tree.path_to(int(tree.leaves[np.argmax(tree.depth[tree.leaves])]))
