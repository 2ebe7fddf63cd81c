"""Stage 1's dense-energy regulariser: the lattice's Gaussian sums against the exact kernel."""

from __future__ import annotations

import cv2
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from csptrain.data.labels import IGNORE
from csptrain.losses import energy
from csptrain.losses.energy import dense_energy_loss
from csptrain.losses.lattice import build_lattice, exact_sum_at, gaussian_sum
from scribblesim.datasets.sample import coco_sample_root

#: ToCo's regulariser runs at half of the 448^2 crop, with sigma_xy 100 and sigma_rgb 15.
SIZE, SIGMA_XY, SIGMA_RGB = 224, 50.0, 15.0


def crop_features(path) -> torch.Tensor:
    """Kernel features (N, 5) of a real image: a 448^2 centre crop at half resolution."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    scale = 2 * SIZE / min(image.shape[:2])
    image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    top, left = (image.shape[0] - 2 * SIZE) // 2, (image.shape[1] - 2 * SIZE) // 2
    image = cv2.resize(
        image[top : top + 2 * SIZE, left : left + 2 * SIZE], (SIZE, SIZE), interpolation=cv2.INTER_NEAREST
    )
    ys, xs = torch.meshgrid(torch.arange(float(SIZE)), torch.arange(float(SIZE)), indexing="ij")
    position = torch.stack([ys, xs], -1).reshape(-1, 2) / SIGMA_XY
    colour = torch.from_numpy(image).float().reshape(-1, 3) / SIGMA_RGB
    return torch.cat([position, colour], 1)


def smooth_softmax(classes: int, generator: torch.Generator) -> torch.Tensor:
    """(N, classes) probabilities that vary over the image as a segmentation head's do."""
    logits = torch.randn(1, classes, 14, 14, generator=generator) * 4
    return F.interpolate(logits, size=(SIZE, SIZE), mode="bilinear")[0].softmax(0).reshape(classes, -1).T


@pytest.mark.parametrize("index", [0, 3, 7])
def test_lattice_energy_and_gradient_agree_with_the_exact_kernel_on_real_crops(index: int) -> None:
    path = sorted((coco_sample_root() / "train2017").glob("*.jpg"))[index]
    features = crop_features(path)
    generator = torch.Generator().manual_seed(index)
    probabilities = smooth_softmax(81, generator)
    gate = (1 - probabilities.max(1).values)[:, None]
    # the exact kernel at ToCo's resolution costs N^2 = 2.5e9 entries: compare on 1,000 random pixels
    rows = torch.randperm(len(features), generator=generator)[:1000]
    exact = exact_sum_at(features, probabilities, rows) * gate[rows]
    lattice = gaussian_sum(features, probabilities)[rows] * gate[rows]
    energy_ratio = (probabilities[rows] * lattice).sum() / (probabilities[rows] * exact).sum()
    assert abs(energy_ratio.item() - 1) <= 0.05
    # the energy's gradient is -2 (K S * G)
    assert F.cosine_similarity(lattice.flatten(), exact.flatten(), 0).item() >= 0.99


def test_exact_sum_matches_brute_force_far_from_the_origin() -> None:
    generator = torch.Generator().manual_seed(1)
    features = torch.rand(300, 5, generator=generator, dtype=torch.float64) * 4 + 1000
    values = torch.rand(300, 3, generator=generator, dtype=torch.float64)
    expected = torch.exp(-0.5 * torch.cdist(features, features).square()) @ values
    points = torch.arange(0, 300, 7)
    assert torch.allclose(exact_sum_at(features, values, points).double(), expected[points], rtol=1e-4)


def test_gaussian_sum_ignores_offset_autocast_and_tf32() -> None:
    """Coordinates are centred and worked out in float64, so neither precision nor offset moves them."""
    features = crop_features(sorted((coco_sample_root() / "train2017").glob("*.jpg"))[1])[::7]
    values = torch.rand(len(features), 4, generator=torch.Generator().manual_seed(2))
    reference = gaussian_sum(features, values)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.allclose(gaussian_sum(features, values), reference, rtol=1e-5, atol=1e-6)
    shifted = features + torch.tensor([300.0, -500.0, 40.0, 40.0, 40.0])
    assert torch.allclose(gaussian_sum(shifted, values), reference, rtol=1e-3, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=1, max_value=60),
    st.integers(min_value=1, max_value=5),
    st.floats(min_value=0.1, max_value=20.0),
    st.integers(min_value=0, max_value=2**16),
)
def test_lattice_weights_and_neighbours(points: int, dims: int, spread: float, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    features = torch.rand(points, dims, generator=generator) * spread
    lattice = build_lattice(features)
    assert lattice.vertices.shape == (points, dims + 1)
    assert (lattice.weights >= -1e-6).all()
    assert torch.allclose(lattice.weights.sum(1), torch.ones(points), atol=1e-5)
    assert lattice.size <= points * (dims + 1)
    # each direction's blur is symmetric: b follows a exactly when a precedes b
    for before, after in lattice.neighbours:
        present = before < lattice.size
        assert (after[before[present]] == torch.arange(lattice.size)[present]).all()
    assert (lattice.filter(torch.rand(points, 1, generator=generator)) > 0).all()


def test_far_apart_clusters_do_not_mix() -> None:
    generator = torch.Generator().manual_seed(3)
    cluster = torch.rand(50, 5, generator=generator)
    features = torch.cat([cluster, cluster + 40])
    first = torch.cat([torch.ones(50, 1), torch.zeros(50, 1)])
    filtered = build_lattice(features).filter(first)
    assert (filtered[:50] > 0).all()
    assert (filtered[50:] == 0).all()


def test_energy_is_tocos_value_and_gradient_of_the_kernel_sum(monkeypatch) -> None:
    """Value -S.(K S * G), gradient -2 (K S * G) with the gate held, on a padded box and an ignored pixel."""
    torch.manual_seed(0)
    images = torch.rand(1, 3, 6, 8) * 255
    logits = torch.randn(1, 2, 6, 8, requires_grad=True)
    roi = torch.ones(1, 6, 8)
    roi[0, :, 6:] = 0
    labels = torch.zeros(1, 6, 8, dtype=torch.long)
    labels[0, 0, 0] = IGNORE
    probabilities = logits.softmax(1)
    sums = []
    monkeypatch.setattr(energy, "gaussian_sum", lambda f, v: sums.append((f, v)) or gaussian_sum(f, v))
    value = dense_energy_loss(images, probabilities, roi, labels, sigma_xy=2.0, scale=1.0, weight=1.0)
    features, s = sums[0]
    ys, xs = torch.meshgrid(torch.arange(6.0), torch.arange(8.0), indexing="ij")
    assert torch.allclose(features[:, :2], torch.stack([ys, xs], -1).reshape(-1, 2) / 2.0)
    assert torch.allclose(features[:, 2:], images[0].reshape(3, -1).T / 15.0)
    assert torch.allclose(s, (probabilities.detach() * roi[:, None])[0].reshape(2, -1).T)
    gate = (roi[0] - probabilities.detach()[0].max(0).values).reshape(-1)
    gate[0] = 1
    filtered = gaussian_sum(features, s) * gate.clamp_min(0)[:, None]
    assert value.item() == pytest.approx(-(s * filtered).sum().item(), rel=1e-5)
    grad = torch.autograd.grad(value, probabilities)[0][0].reshape(2, -1).T
    assert torch.allclose(grad, -2 * filtered * roi[0].reshape(-1, 1), atol=1e-5)
