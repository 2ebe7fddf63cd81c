"""csptrain building blocks against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from csptrain.data.batches import Stage2Batch
from csptrain.data.distance import foreground_boundary, pseudo_boundary_distance_map, scribble_distance_map
from csptrain.data.labels import IGNORE
from csptrain.data.layout import read_image
from csptrain.errors import ConfigError, DataError, WeightsError
from csptrain.losses.partial import partial_cross_entropy, pixel_entropy, weighted_entropy
from csptrain.metrics import confusion_matrix, iou_scores
from csptrain.models import LoRM, deeplabv3plus
from csptrain.runtime.schedule import lr_at, warmup_steps_for
from csptrain.stage2.config import PRESETS
from csptrain.stage2.config import make_stage2_config as make_config
from csptrain.stage2.train import stage2_losses


def test_partial_ce_ignores_unlabelled() -> None:
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 5.0]]]])  # (1, K=2, 1, 2)
    labels = torch.tensor([[[0, IGNORE]]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 1))
    assert partial_cross_entropy(logits, labels).item() == pytest.approx(expected)
    assert partial_cross_entropy(logits, torch.full_like(labels, IGNORE)).item() == 0.0


def test_label_smoothing_is_eq8() -> None:
    logits = torch.tensor([[[[1.0]], [[3.0]], [[0.0]]]])  # K = 3, one pixel
    log_p = torch.log_softmax(logits[0, :, 0, 0], 0)
    eps = 0.2
    expected = (1 - eps) * -log_p[1] + eps * -(log_p.mean())
    value = partial_cross_entropy(logits, torch.tensor([[[1]]]), label_smoothing=eps)
    assert value.item() == pytest.approx(expected.item())


def test_weighted_entropy_averages_over_nonzero_weights() -> None:
    logits = torch.zeros(1, 4, 1, 3)  # uniform over 4 classes: entropy log 4
    weights = torch.tensor([[[0.5, 0.0, 1.0]]])
    assert weighted_entropy(pixel_entropy(logits), weights).item() == pytest.approx(1.5 * math.log(4) / 2)
    assert weighted_entropy(pixel_entropy(logits), torch.zeros(1, 1, 3)).item() == 0.0


def test_lorm_all_background_and_identity_cases() -> None:
    torch.manual_seed(0)
    lorm = LoRM(8, 4)
    features = torch.randn(2, 8, 3, 5)
    background = torch.zeros(2, 3, 5)
    assert lorm(features, background).item() == pytest.approx((features**2).mean().item())
    # all foreground and delta 1: every rectified vector is a convex combination of features
    rectified = lorm.rectify(features, torch.ones(2, 3, 5))
    flat, out = features.flatten(2), rectified.flatten(2)
    assert torch.all(out.max(-1).values <= flat.max(-1).values + 1e-5)
    assert torch.all(out.min(-1).values >= flat.min(-1).values - 1e-5)


@pytest.mark.parametrize("mask", ["queries", "keys"])
def test_lorm_matches_equations(mask: str) -> None:
    torch.manual_seed(1)
    lorm = LoRM(3, 3, mask=mask)
    features = torch.randn(1, 3, 2, 2)
    foreground = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    q = lorm.query(features).flatten(2)[0]
    k = lorm.key(features).flatten(2)[0]
    similarity = (q.T @ k) / (q.norm(dim=0)[:, None] * k.norm(dim=0)[None, :])
    a = torch.softmax(similarity, dim=1)
    flat, m = features.flatten(2)[0], foreground.flatten()
    expected = (flat @ a.T) * m[None, :] if mask == "queries" else flat @ (a * m[None, :])
    assert torch.allclose(lorm.rectify(features, foreground).flatten(2)[0], expected, atol=1e-6)


def test_lorm_four_positions_by_hand() -> None:
    """The authors' LoRM on 4 positions with identity projections, written out as loops."""
    lorm = LoRM(2, 2)
    with torch.no_grad():
        for conv in (lorm.query, lorm.key):
            conv.weight.copy_(torch.eye(2)[:, :, None, None])
            conv.bias.zero_()
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.5]])
    mask = np.array([1.0, 1.0, 0.0, 1.0])
    expected = np.zeros((4, 2))
    for i in range(4):
        cosines = [
            vectors[i] @ vectors[j] / (np.linalg.norm(vectors[i]) * np.linalg.norm(vectors[j])) for j in range(4)
        ]
        weights = np.exp(cosines) / np.exp(cosines).sum()
        expected[i] = mask[i] * sum(weights[j] * vectors[j] for j in range(4))
    features = torch.tensor(vectors.T, dtype=torch.float32).reshape(1, 2, 1, 4)
    rectified = lorm.rectify(features, torch.tensor(mask, dtype=torch.float32).reshape(1, 1, 4))
    np.testing.assert_allclose(rectified.detach().reshape(2, 4).T.numpy(), expected, atol=1e-6)
    assert np.allclose(expected[2], 0.0)  # a background query is rectified to zero


def brute_force_distance(points: np.ndarray, lam: float) -> np.ndarray:
    ys, xs = np.nonzero(points)
    out = np.zeros(points.shape)
    for (i, j), _ in np.ndenumerate(points):
        if len(ys) == 0:
            out[i, j] = 1.0
            continue
        d2 = (ys - i) ** 2 + (xs - j) ** 2
        out[i, j] = min(min(np.floor(np.sqrt(np.exp(lam) * d)), 255) / 255 for d in d2)
    return out


@settings(max_examples=40, deadline=None)
@given(
    arrays(np.uint16, st.tuples(st.integers(1, 12), st.integers(1, 12)), elements=st.sampled_from([0, 1, 2, IGNORE])),
    st.floats(0.0, 8.0),
)
def test_distance_maps_equal_brute_force(label: np.ndarray, lam: float) -> None:
    foreground = (label != 0) & (label != IGNORE)
    assert np.allclose(scribble_distance_map(label, lam), 1 - brute_force_distance(foreground, lam), atol=1e-6)
    assert np.allclose(
        pseudo_boundary_distance_map(label, lam), brute_force_distance(foreground_boundary(label), lam), atol=1e-6
    )


def test_boundary_of_a_square() -> None:
    label = np.zeros((6, 6), np.uint8)
    label[1:5, 1:5] = 3
    expected = np.zeros((6, 6), bool)
    expected[1:5, 1:5] = True
    expected[2:4, 2:4] = False
    assert np.array_equal(foreground_boundary(label), expected)


def test_miou_matches_hand_computed_confusion() -> None:
    truth = np.array([[0, 0, 1, 1], [2, 2, IGNORE, 1]])
    prediction = np.array([[0, 1, 1, 1], [2, 0, 2, 2]])
    confusion = confusion_matrix(prediction, truth, 4)
    assert confusion.dtype == np.int64
    assert confusion[:3, :3].tolist() == [[1, 1, 0], [0, 2, 1], [1, 0, 1]]
    scores = iou_scores(confusion)
    ious = [1 / 3, 2 / 4, 1 / 3]
    assert scores["iou"][:3] == pytest.approx(ious) and math.isnan(scores["iou"][3])
    assert scores["miou"] == pytest.approx(np.mean(ious))
    assert scores["miou_present"] == pytest.approx(np.mean(ious))
    # a class predicted but absent from the ground truth counts in miou only
    confusion = confusion_matrix(np.array([[3, 0]]), np.array([[0, 0]]), 4)
    scores = iou_scores(confusion)
    assert scores["miou"] == pytest.approx(0.25) and scores["miou_present"] == pytest.approx(0.5)


def test_schedule_warmup_then_cosine_to_zero_at_the_last_step() -> None:
    total, warmup = 101, warmup_steps_for(101, 50, 10)
    assert warmup == 20
    assert lr_at(0, 1.0, total, warmup) == pytest.approx(1 / 20)
    assert lr_at(19, 1.0, total, warmup) == lr_at(20, 1.0, total, warmup) == pytest.approx(1.0)
    assert lr_at(60, 1.0, total, warmup) == pytest.approx(0.5)  # half-way from step 20 to the last, 100
    assert lr_at(100, 1.0, total, warmup) == pytest.approx(0.0)  # the last step's rate is 0


@pytest.mark.parametrize("uncertain", ["background", "ignore"])
def test_uncertain_pseudo_pixels_train_as_background_or_not(uncertain: str) -> None:
    logits = torch.randn(1, 3, 2, 3, generator=torch.Generator().manual_seed(0))
    pseudo = torch.full((1, 2, 3), IGNORE, dtype=torch.int64)
    pseudo[0, 0, 0] = 2
    zeros = torch.zeros(1, 2, 3)
    batch = Stage2Batch(image=torch.zeros(1, 3, 2, 3), scribble=pseudo, pseudo=pseudo, d_s=zeros, d_c=zeros)
    config = make_config(None, None, losses="segc", label_smoothing=0.0, uncertain=uncertain)
    loss = stage2_losses({"out": logits}, batch, config, None)["segc"]
    target = pseudo.masked_fill(pseudo == IGNORE, 0) if uncertain == "background" else pseudo
    expected = torch.nn.functional.cross_entropy(logits, target, ignore_index=IGNORE)
    assert loss.item() == pytest.approx(config.lambda_segc * expected.item())
    with pytest.raises(ConfigError, match="uncertain must be one of background, ignore"):
        make_config(None, None, uncertain="maybe")


def test_presets_and_overrides(tmp_path) -> None:
    assert make_config("cityscapes").lr == PRESETS["cityscapes"]["lr"] == 1e-2
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("lambda_c: 3\nlosses: segs,lorm\n")
    config = make_config("coco", yaml_file, lr=0.5)
    assert (config.lambda_c, config.losses, config.lr, config.lambda_segc) == (3, ("segs", "lorm"), 0.5, 0.8)
    with pytest.raises(ValueError, match="unknown config keys: nope"):
        make_config(None, None, nope=1)
    with pytest.raises(ValueError, match="losses must be"):
        make_config(losses="segs,bogus")


def test_deeplab_output_stride_8_and_local_weights(tmp_path) -> None:
    import torchvision

    weights = tmp_path / "resnet18.pth"
    reference = torchvision.models.resnet18(weights=None)
    torch.save(reference.state_dict(), weights)
    model = deeplabv3plus("resnet18", num_classes=5, pretrained=weights)
    assert torch.equal(model.backbone.conv1.weight, reference.conv1.weight)
    outputs = model.eval()(torch.randn(1, 3, 64, 80))
    assert outputs["out"].shape == (1, 5, 64, 80) and outputs["features"].shape[-2:] == (8, 10)
    assert model.skip[0].out_channels == 48
    torch.save({"bogus": torch.zeros(1)}, weights)
    with pytest.raises(WeightsError, match="not a torchvision resnet18 state dict"):
        deeplabv3plus("resnet18", 5, weights)


@pytest.mark.parametrize("backbone", ["resnet18", "resnet50"])
def test_deeplab_dilations_and_aspp_rates_are_the_authors(backbone: str) -> None:
    model = deeplabv3plus(backbone, num_classes=3)
    layers = {name: list(module.children()) for name, module in model.backbone.named_children()}
    assert [b.conv2.dilation for b in layers["layer3"]] == [(2, 2)] * len(layers["layer3"])
    assert [b.conv2.dilation for b in layers["layer4"]] == [(4, 4), (8, 8), (16, 16)][: len(layers["layer4"])]
    assert all(b.conv2.padding == b.conv2.dilation for b in [*layers["layer3"], *layers["layer4"]])
    if backbone == "resnet50":
        assert all(b.conv1.dilation == (1, 1) and b.conv3.dilation == (1, 1) for b in layers["layer4"])
    else:
        assert all(b.conv1.dilation == (1, 1) for b in layers["layer4"])  # BasicBlock: only conv2 dilated
    rates = [branch[0].dilation[0] for branch in model.aspp.convs[1:4]]
    assert rates == [6, 12, 18] and model.aspp.convs[0][0].kernel_size == (1, 1)
    features = model.eval()(torch.randn(1, 3, 64, 64))["features"]
    assert features.shape[-2:] == (8, 8)  # output stride 8


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_png_images_read_as_pillow_reads_them(tmp_path, mode: str) -> None:
    """OpenCV decodes complete PNGs (faster); the pixels are Pillow's, in every PNG mode."""
    from PIL import Image

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).convert(mode)
    path = tmp_path / "image.png"
    image.save(path)
    expected = np.asarray(image.convert("RGB"))
    assert np.array_equal(read_image(path), expected)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError, match="truncated.png: unreadable image"):
        read_image(truncated)
