"""Unit tests of the geometry helpers: medial axes, Bezier smoothing, rasters, skeleton trees."""

import math

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage
from skimage.measure import block_reduce
from skimage.morphology import medial_axis as skimage_medial_axis

from scribblesim.engine import kernels, medial
from scribblesim.engine.boundary import radial_jitter
from scribblesim.engine.grid import coarsen, to_fine, work_factor
from scribblesim.engine.medial import medial_axis
from scribblesim.engine.raster import brush_radius, stroke_pixels
from scribblesim.engine.skeleton import (
    _pixel_graph,
    _spanning_tree,
    largest_component,
    longest_path,
    random_path,
    skeleton_tree,
)
from scribblesim.engine.smoothing import bezier_smooth, resample

EIGHT = np.ones((3, 3), dtype=bool)
SETTINGS = settings(max_examples=100, deadline=None)
MEDIAL_SETTINGS = settings(max_examples=60, deadline=None)


def _masks(max_side=24):
    shapes = st.tuples(st.integers(1, max_side), st.integers(1, max_side))
    return shapes.flatmap(lambda shape: arrays(np.bool_, shape))


# --- OpenCV kernels with scipy.ndimage's meaning --------------------------------------


@settings(max_examples=60, deadline=None)
@given(_masks(max_side=40), st.integers(1, 6))
def test_kernels_equal_scipy_ndimage(mask, size):
    labels, count = kernels.label8(mask)
    expected, expected_count = ndimage.label(mask, np.ones((3, 3), dtype=bool))
    assert count == expected_count
    np.testing.assert_array_equal(labels, expected)  # same numbering: raster order of first pixels
    if (~mask).any():
        np.testing.assert_allclose(kernels.distance_to_unset(mask), ndimage.distance_transform_edt(mask), rtol=1e-6)
    eroded = ndimage.minimum_filter(mask.astype(np.uint8), size=size, mode="constant", cval=0).astype(bool)
    np.testing.assert_array_equal(kernels.erode_square(mask, size), eroded)
    objects = ndimage.find_objects(mask.astype(np.uint8))
    assert kernels.bounding_box(mask) == (objects[0] if objects else None)


@settings(max_examples=60, deadline=None)
@given(st.integers(10, 60), st.integers(10, 60), st.floats(0.6, 1.0))
def test_distances_are_the_exact_roots_whatever_the_buffers(height, width, size) -> None:
    """Bitwise the correctly rounded float32 root of the exact squared distance: OpenCV's own
    roots differ by a bit with the output buffer's alignment, which moved strokes run to run."""
    rows, cols = np.mgrid[:height, :width]
    blob = np.pad(np.hypot((rows - height / 2) / (height / 2), (cols - width / 2) / (width / 2)) < size, 1)
    nearest = ndimage.distance_transform_edt(blob, return_distances=False, return_indices=True)
    grid = np.indices(blob.shape)
    exact = np.sqrt(((nearest - grid) ** 2).sum(axis=0).astype(np.float32))
    np.testing.assert_array_equal(kernels.distance_to_unset(blob), exact)


# --- medial_axis ----------------------------------------------------------------------


@MEDIAL_SETTINGS
@given(_masks(), st.integers(0, 2**32 - 1))
def test_medial_axis_equals_scikit_image(mask, seed):
    expected = skimage_medial_axis(mask, rng=seed)
    np.testing.assert_array_equal(medial_axis(mask, rng=seed), expected)


@pytest.mark.parametrize("top", [0, 50, 3_000_000], ids=["flat", "few distances", "many distances"])
def test_thinning_order_is_a_lexsort(top):
    rng = np.random.default_rng(top)
    n = 20_000
    distance = rng.integers(0, top + 1, n) ** 2
    corner = rng.integers(0, 10, n).astype(np.uint8)
    tiebreaker = rng.permutation(n)
    expected = np.lexsort((tiebreaker, corner, distance))
    np.testing.assert_array_equal(medial._thinning_order(distance, corner, tiebreaker), expected)


def test_medial_axis_equals_scikit_image_on_a_real_background():
    """A COCO-size background with holes: long distance ties, many corners."""
    yy, xx = np.mgrid[:240, :320]
    mask = np.ones((240, 320), dtype=bool)
    for cy, cx, r in [(60, 80, 30), (150, 200, 55), (200, 40, 25), (40, 260, 20)]:
        mask[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = False
    mask[100:110, :] = False
    for seed in (0, 7):
        np.testing.assert_array_equal(medial_axis(mask, rng=seed), skimage_medial_axis(mask, rng=seed))


@pytest.mark.parametrize("exact_below", [0, 2**21])  # scipy's transform, OpenCV's
def test_medial_axis_distances_are_exact_either_way(exact_below, monkeypatch):
    """Far from any edge OpenCV's float32 distances stop rounding to exact squares; scipy's take over."""
    monkeypatch.setattr(medial, "EXACT_SQUARED_DISTANCE_BELOW", exact_below)
    rng = np.random.default_rng(3)
    mask = rng.random((300, 400)) > 0.002
    for seed in (0, 7):
        np.testing.assert_array_equal(medial_axis(mask, rng=seed), skimage_medial_axis(mask, rng=seed))


def test_medial_axis_of_a_bar_is_its_centre_line():
    mask = np.zeros((7, 30), dtype=bool)
    mask[2:5, 3:27] = True
    skeleton = medial_axis(mask, rng=0)
    assert skeleton[3, 4:26].all()
    assert skeleton[:, 4:26].sum() == 22  # away from the corners: only the centre row
    assert not (skeleton & ~mask).any()


# --- smoothing ------------------------------------------------------------------------


def _points(min_size=1, max_size=30):
    # Pixel coordinates in 1/100 steps (shapely's hull distance breaks on 1e-244 offsets).
    coords = st.integers(-10_000, 10_000).map(lambda v: v / 100.0)
    return st.integers(min_size, max_size).flatmap(lambda n: arrays(np.float64, (n, 2), elements=coords))


@SETTINGS
@given(_points(), st.integers(1, 7))
def test_open_bezier_keeps_end_points_and_stays_in_the_hull(control, degree):
    curve = bezier_smooth(control, degree)
    assert curve.ndim == 2 and curve.shape[1] == 2 and len(curve) >= 1
    assert np.isfinite(curve).all()
    np.testing.assert_allclose(curve[0], control[0], atol=1e-7)
    np.testing.assert_allclose(curve[-1], control[-1], atol=1e-7)
    tol = 1e-6 * (1 + np.abs(control).max())
    assert (curve >= control.min(axis=0) - tol).all() and (curve <= control.max(axis=0) + tol).all()
    hull = shapely.MultiPoint(control).convex_hull
    assert max(hull.distance(shapely.Point(p)) for p in curve) <= tol


@SETTINGS
@given(_points(min_size=3), st.integers(1, 7))
def test_closed_bezier_returns_to_its_start(control, degree):
    curve = bezier_smooth(control, degree, closed=True)
    tol = 1e-6 * (1 + np.abs(control).max())
    np.testing.assert_allclose(curve[0], control[0], atol=tol)
    np.testing.assert_allclose(curve[-1], control[0], atol=tol)
    assert (curve >= control.min(axis=0) - tol).all() and (curve <= control.max(axis=0) + tol).all()


@SETTINGS
@given(_points(min_size=2))
def test_degree_one_bezier_passes_through_every_control_point(control):
    curve = bezier_smooth(control, 1)
    for point in control:
        assert np.min(np.linalg.norm(curve - point, axis=1)) <= 1e-7 * (1 + np.abs(point).max())


def test_bezier_pieces_are_sampled_about_once_per_pixel():
    control = np.array([[0.0, 0.0], [30.0, 0.0], [60.0, 0.0], [90.0, 0.0]])
    curve = bezier_smooth(control, 3)
    assert np.all(np.diff(curve[:, 0]) > 0)
    assert np.abs(np.diff(curve, axis=0)).max() <= 1.0 + 1e-9
    np.testing.assert_allclose(curve[:, 1], 0.0)


@SETTINGS
@given(_points(min_size=2), st.floats(0.5, 20))
def test_resample_keeps_ends_and_spacing(points, spacing):
    out = resample(points, spacing)
    length = np.linalg.norm(np.diff(points, axis=0), axis=1).sum()
    np.testing.assert_allclose(out[0], points[0])
    if length == 0:
        assert len(out) == 1
        return
    tol = 1e-7 * (1 + np.abs(points).max())
    np.testing.assert_allclose(out[-1], points[-1], atol=tol)
    # Consecutive points at most ``spacing`` apart, and no more points than that needs.
    assert len(out) >= 2
    assert np.linalg.norm(np.diff(out, axis=0), axis=1).max() <= spacing + tol
    assert (len(out) - 2) * spacing < length + tol


# --- raster -----------------------------------------------------------------------------


def _polylines(low, high, max_size=20):
    coords = st.floats(low, high, allow_nan=False, allow_infinity=False)
    return st.integers(1, max_size).flatmap(lambda n: arrays(np.float64, (n, 2), elements=coords))


@SETTINGS
@given(_polylines(-10.0, 60.0), st.integers(1, 4))
def test_stroke_pixels_are_unique_in_bounds_and_cover_the_vertices(points, width):
    shape = (50, 50)
    rows, cols = stroke_pixels(points, shape, width)
    assert rows.shape == cols.shape and rows.dtype.kind == "i"
    flat = rows * shape[1] + cols
    assert len(np.unique(flat)) == len(flat)
    assert np.all(np.diff(flat) > 0)  # row-major order
    assert ((rows >= 0) & (rows < 50) & (cols >= 0) & (cols < 50)).all()
    covered = set(zip(rows.tolist(), cols.tolist()))
    radius = brush_radius(width)
    for x, y in points:
        near = [(r, c) for r in range(50) for c in range(50) if (c - x) ** 2 + (r - y) ** 2 <= radius**2]
        for pixel in near or [(round(y), round(x))]:
            if 0 <= pixel[0] < 50 and 0 <= pixel[1] < 50:
                assert pixel in covered


@SETTINGS
@given(_polylines(-10.0, 60.0), st.integers(2, 4))
def test_thick_stroke_pixels_lie_within_the_brush_radius_of_the_polyline(points, width):
    rows, cols = stroke_pixels(points, (50, 50), width)
    pixels = np.stack([cols, rows], axis=1).astype(float)[:, None, :]
    starts, steps = (
        points[:-1] if len(points) > 1 else points,
        np.diff(points, axis=0) if len(points) > 1 else np.zeros((1, 2)),
    )
    along = np.clip(((pixels - starts) * steps).sum(-1) / np.maximum((steps**2).sum(-1), 1e-12), 0.0, 1.0)
    distances = np.linalg.norm(pixels - starts - along[..., None] * steps, axis=-1).min(axis=1)
    assert (distances <= brush_radius(width) + 0.02).all()


@SETTINGS
@given(_polylines(0.0, 49.0), st.integers(1, 3))
def test_stroke_pixels_of_an_in_bounds_polyline_are_8_connected(points, width):
    rows, cols = stroke_pixels(points, (50, 50), width)
    image = np.zeros((50, 50), dtype=bool)
    image[rows, cols] = True
    assert ndimage.label(image, structure=EIGHT)[1] == 1


@SETTINGS
@given(_polylines(0.0, 49.0), st.integers(1, 3))
def test_4_connected_lines_add_a_corner_to_each_diagonal_step(points, width):
    eight = set(zip(*(a.tolist() for a in stroke_pixels(points, (50, 50), width))))
    rows, cols = stroke_pixels(points, (50, 50), width, connectivity=4)
    four = set(zip(rows.tolist(), cols.tolist()))
    if width > 1:
        assert four == eight  # only 1-px lines have a connectivity
        return
    image = np.zeros((50, 50), dtype=bool)
    image[rows, cols] = True
    assert eight <= four and ndimage.label(image)[1] == 1  # one 4-connected piece
    # every added pixel sits beside two pixels of the 8-connected line, across their corner
    for r, c in four - eight:
        assert {(r + 1, c), (r - 1, c)} & eight and {(r, c + 1), (r, c - 1)} & eight


def test_4_connected_diagonal_is_a_staircase():
    rows, cols = stroke_pixels(np.array([[0.0, 0.0], [9.0, 9.0]]), (10, 10), 1, connectivity=4)
    assert len(rows) == 19 and set(zip(rows.tolist(), cols.tolist())) >= {(k, k + 1) for k in range(9)}


def test_stroke_pixels_of_a_diagonal_segment():
    rows, cols = stroke_pixels(np.array([[0.0, 0.0], [9.0, 9.0]]), (10, 10), 1)
    assert rows.tolist() == list(range(10)) and cols.tolist() == list(range(10))


def test_stroke_pixels_entirely_outside_are_empty():
    rows, cols = stroke_pixels(np.array([[-20.0, -20.0], [-5.0, -30.0]]), (10, 10), 2)
    assert rows.size == 0 and cols.size == 0


# --- skeleton trees ----------------------------------------------------------------------


def _tree_graph(tree):
    """The tree expanded to pixels: every pixel step of every root-to-node path, weighted."""
    graph = nx.Graph()
    graph.add_nodes_from(map(tuple, tree.pixels[[tree.root]].tolist()))
    for node in tree.parent:
        path = [tuple(p) for p in tree.path_to(node).tolist()]
        for a, b in zip(path[:-1], path[1:]):
            step = np.subtract(b, a)
            assert np.abs(step).max() == 1  # paths join 8-neighbours
            graph.add_edge(a, b, weight=float(np.hypot(*step)))
    return graph


def _path_length(path):
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())


def _is_leaf_path(tree, path):
    leaves = {tuple(tree.pixels[i]) for i in tree.leaves}
    return tuple(path[0]) == tuple(tree.pixels[tree.root]) and tuple(path[-1]) in leaves


def test_empty_skeleton_has_no_tree():
    assert skeleton_tree(np.zeros((5, 5), dtype=bool)) is None


def test_single_pixel_tree():
    skeleton = np.zeros((5, 5), dtype=bool)
    skeleton[2, 3] = True
    tree = skeleton_tree(skeleton)
    assert tree.leaves.tolist() == [tree.root]
    assert longest_path(tree).tolist() == [[2, 3]]
    assert random_path(tree, np.random.default_rng(0)).tolist() == [[2, 3]]


@pytest.mark.parametrize("length", [2, 5, 23])
@pytest.mark.parametrize("direction", ["horizontal", "vertical", "diagonal"])
def test_straight_line_tree_has_one_leaf_and_its_length_as_depth(length, direction):
    skeleton = np.zeros((30, 30), dtype=bool)
    index = np.arange(length) + 3
    if direction == "horizontal":
        skeleton[10, index] = True
    elif direction == "vertical":
        skeleton[index, 10] = True
    else:
        skeleton[index, index] = True
    step = math.sqrt(2) if direction == "diagonal" else 1.0
    tree = skeleton_tree(skeleton)
    assert len(tree.leaves) == 1
    ends = {tuple(tree.pixels[tree.root]), tuple(tree.pixels[tree.leaves[0]])}
    assert ends == {tuple(p) for p in np.argwhere(skeleton)[[0, -1]]}
    assert tree.depth[tree.leaves[0]] == pytest.approx((length - 1) * step)
    assert np.nanmax(tree.depth) == pytest.approx((length - 1) * step)
    assert _path_length(longest_path(tree)) == pytest.approx((length - 1) * step)


def _l_shape():
    skeleton = np.zeros((20, 20), dtype=bool)
    skeleton[2:15, 3] = True
    skeleton[14, 3:16] = True
    return skeleton


def _square_ring():
    skeleton = np.zeros((14, 14), dtype=bool)
    skeleton[2:12, 2:12] = True
    skeleton[3:11, 3:11] = False
    return skeleton


def _t_shape():
    skeleton = np.zeros((25, 25), dtype=bool)
    skeleton[1, 2:23] = True  # bar, 21 px
    skeleton[2:18, 12] = True  # stem, 16 px below the bar's middle
    return skeleton


@pytest.mark.parametrize("make", [_l_shape, _square_ring, _t_shape], ids=["L", "ring", "T"])
def test_tree_spans_the_skeleton_without_cycles(make):
    skeleton = make()
    tree = skeleton_tree(skeleton)
    n = int(skeleton.sum())
    assert len(tree.pixels) == n and tree.root not in tree.parent
    assert nx.is_tree(nx.Graph(tree.graph)) and len(tree.parent) == len(tree.graph) - 1
    graph = _tree_graph(tree)
    assert set(graph.nodes) == set(map(tuple, np.argwhere(skeleton).tolist()))
    assert graph.number_of_edges() == n - 1 and nx.is_tree(graph)
    # depth is the path length along the tree from the root
    lengths = nx.single_source_dijkstra_path_length(graph, tuple(tree.pixels[tree.root]))
    for node in tree.graph:
        assert tree.depth[node] == pytest.approx(lengths[tuple(tree.pixels[node])])


def test_l_shape_tree_is_a_path_between_its_ends():
    tree = skeleton_tree(_l_shape())
    assert len(tree.leaves) == 1
    ends = {tuple(tree.pixels[tree.root]), tuple(tree.pixels[tree.leaves[0]])}
    assert ends == {(2, 3), (14, 15)}
    assert np.nanmax(tree.depth) == pytest.approx(24.0)


def test_ring_tree_cuts_the_cycle_once():
    skeleton = _square_ring()
    tree = skeleton_tree(skeleton)
    # A 36-pixel ring loses one step, cut opposite the node where the cycle was closed:
    # the longest path runs all the way round, 35 steps long.
    assert np.nanmax(tree.depth) == pytest.approx(int(skeleton.sum()) - 1)
    assert _path_length(longest_path(tree)) == pytest.approx(int(skeleton.sum()) - 1)


def test_longest_path_of_a_t_shape_is_its_diameter():
    tree = skeleton_tree(_t_shape())
    path = longest_path(tree)
    graph = _tree_graph(tree)
    diameter = max(max(lengths.values()) for _, lengths in nx.all_pairs_dijkstra_path_length(graph))
    # from a bar end to the middle (10), down to the stem's end (16)
    assert diameter == pytest.approx(26.0)
    assert _path_length(path) == pytest.approx(diameter)
    assert _is_leaf_path(tree, path)
    assert {tuple(path[0]), tuple(path[-1])} & {(17, 12)}
    assert np.abs(np.diff(path, axis=0)).max() == 1


def test_random_path_picks_only_root_to_leaf_paths():
    tree = skeleton_tree(_t_shape())
    assert len(tree.leaves) == 2
    chosen = set()
    for seed in range(200):
        path = random_path(tree, np.random.default_rng(seed))
        assert _is_leaf_path(tree, path)
        assert np.abs(np.diff(path, axis=0)).max() == 1
        assert len({tuple(p) for p in path}) == len(path)
        leaf = next(i for i in tree.leaves if tuple(tree.pixels[i]) == tuple(path[-1]))
        np.testing.assert_array_equal(path, tree.path_to(leaf))
        chosen.add(int(leaf))
    assert chosen == set(tree.leaves.tolist())


def test_random_path_prefers_longer_paths_in_proportion():
    tree = skeleton_tree(_t_shape())
    lengths = tree.depth[tree.leaves]
    expected = lengths / lengths.sum()
    rng = np.random.default_rng(0)
    counts = np.zeros(len(tree.leaves))
    for _ in range(4000):
        end = tuple(random_path(tree, rng)[-1])
        counts[[tuple(tree.pixels[i]) for i in tree.leaves].index(end)] += 1
    sigma = np.sqrt(4000 * expected * (1 - expected))
    assert (np.abs(counts - 4000 * expected) <= 4 * sigma).all()


@SETTINGS
@given(arrays(np.bool_, st.tuples(st.integers(1, 20), st.integers(1, 20))), st.integers(0, 1000))
def test_random_skeletons_give_valid_trees(skeleton, seed):
    component = largest_component(skeleton)
    if not skeleton.any():
        assert skeleton_tree(component) is None
        return
    assert ndimage.label(component, structure=EIGHT)[1] == 1
    assert not (component & ~skeleton).any()
    tree = skeleton_tree(component)
    graph = _tree_graph(tree)
    assert nx.is_tree(graph) and graph.number_of_nodes() == int(component.sum())
    assert nx.is_tree(nx.Graph(tree.graph))
    for path in (random_path(tree, np.random.default_rng(seed)), longest_path(tree)):
        assert _is_leaf_path(tree, path)
        assert component[path[:, 0], path[:, 1]].all()
    assert _path_length(longest_path(tree)) == pytest.approx(tree.depth[tree.leaves].max())


def _networkx_kruskal(graph):
    """Steps (node pairs) and chains (numbers) that networkx's Kruskal keeps of the chain graph.

    The multigraph is filled as the engine once filled it, before its Kruskal became array
    code: every direct step between nodes in pixel-edge order, then every chain in chain order.
    """
    sources, targets, is_node, chain_of = graph.sources, graph.targets, graph.is_node, graph.chain_of
    multigraph = nx.MultiGraph()
    multigraph.add_nodes_from(np.flatnonzero(is_node).tolist())
    for k in np.flatnonzero(is_node[sources] & is_node[targets]).tolist():
        multigraph.add_edge(int(sources[k]), int(targets[k]), ("step", k), weight=float(graph.weights[k]))
    inner = ~is_node[sources] & ~is_node[targets]
    length = np.bincount(chain_of[sources[inner]], graph.weights[inner], minlength=int(chain_of.max(initial=-1)) + 1)
    link = np.flatnonzero(is_node[sources] != is_node[targets])
    node = np.where(is_node[sources[link]], sources[link], targets[link])
    chain = chain_of[np.where(is_node[sources[link]], targets[link], sources[link])]
    for a, b in np.lexsort((link, chain)).reshape(-1, 2).tolist():
        weight = float(length[chain[a]] + graph.weights[link[a]] + graph.weights[link[b]])
        multigraph.add_edge(int(node[a]), int(node[b]), ("chain", int(chain[a])), weight=weight)
    kept = list(nx.minimum_spanning_edges(multigraph, algorithm="kruskal", keys=True, data=False))
    return {frozenset((u, v)) for u, v, key in kept if key[0] == "step"}, {
        key[1] for *_, key in kept if key[0] == "chain"
    }


@SETTINGS
@given(arrays(np.bool_, st.tuples(st.integers(2, 24), st.integers(2, 24))), st.booleans())
def test_kruskal_keeps_what_networkx_keeps(mask, thin):
    """Ties between equal weights fall as in networkx, so trees (and scribbles) stay as they were."""
    skeleton = largest_component(medial_axis(mask, rng=0) if thin else mask)
    framed = np.pad(skeleton, 1)
    rows, cols = np.nonzero(framed)
    if rows.size == 0:
        return
    graph = _pixel_graph(framed, rows, cols, 0)
    tree = _spanning_tree(graph, 0)
    nodes = graph.is_node
    steps = {
        frozenset((u, v))
        for u in tree
        for v in tree[u]
        if nodes[u] and nodes[v] and not callable(tree[u][v]["interior"])
    }
    chains = {
        int(graph.chain_of[e["interior"].args[0]]) for u in tree for e in tree[u].values() if callable(e["interior"])
    }
    assert (steps, chains) == _networkx_kruskal(graph)


def test_largest_component_keeps_the_biggest_piece():
    skeleton = np.zeros((10, 20), dtype=bool)
    skeleton[1, 1:4] = True
    skeleton[5, 2:15] = True
    skeleton[8, 18] = True
    kept = largest_component(skeleton)
    assert kept.sum() == 13 and kept[5, 2:15].all()


# --- boundary jitter and analysis grids ------------------------------------------------


@SETTINGS
@given(_points(min_size=1), st.floats(0, 30), st.integers(0, 1000))
def test_radial_jitter_moves_points_along_their_rays(points, amplitude, seed):
    centroid = np.array([1.5, -2.5])
    moved = radial_jitter(points, centroid, amplitude, np.random.default_rng(seed))
    shift = np.linalg.norm(moved - points, axis=1)
    assert (shift <= amplitude + 1e-9).all()
    before, after = points - centroid, moved - centroid
    cross = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]
    assert np.allclose(cross, 0.0, atol=1e-6 * (1 + np.abs(points).max()) ** 2)


@pytest.mark.parametrize(
    "shape, cap, factor",
    [((10, 10), 4096, 1), ((64, 64), 4096, 1), ((65, 64), 4096, 2), ((480, 640), 4096, 9), ((480, 640), None, 1)],
)
def test_work_factor_is_the_smallest_that_fits_the_cap(shape, cap, factor):
    assert work_factor(shape, cap) == factor
    if cap is not None:
        area = shape[0] * shape[1]
        assert area / factor**2 <= cap
        assert factor == 1 or area / (factor - 1) ** 2 > cap


@settings(max_examples=60, deadline=None)
@given(_masks(max_side=40), st.integers(1, 7), st.booleans())
def test_coarsen_equals_block_reduce(mask, factor, conservative):
    expected = block_reduce(mask, (factor, factor), np.all if conservative else np.any, cval=False)
    np.testing.assert_array_equal(coarsen(mask, factor, conservative=conservative), expected)


def test_coarsen_modes_and_to_fine():
    mask = np.zeros((6, 6), dtype=bool)
    mask[0:3, 0:3] = True
    mask[4, 4] = True
    np.testing.assert_array_equal(coarsen(mask, 3, conservative=True), [[True, False], [False, False]])
    np.testing.assert_array_equal(coarsen(mask, 3, conservative=False), [[True, False], [False, True]])
    assert coarsen(mask, 1, conservative=True) is mask
    np.testing.assert_allclose(to_fine(np.array([[0.0, 1.0]]), 3), [[1.0, 4.0]])
