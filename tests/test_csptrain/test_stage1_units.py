"""Stage-1 building blocks against hand-computed values and synthetic CAMs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from csptrain.data.labels import IGNORE
from csptrain.data.stage1 import ToCoAugment, image_labels
from csptrain.errors import ConfigError, WeightsError
from csptrain.losses.toco import background_foreground_ce, classification_loss, ctc_loss, ptc_loss
from csptrain.models import toco_vit
from csptrain.runtime.schedule import poly_warmup_multiplier
from csptrain.stage1.cam import cams_to_labels, local_crops, multi_scale_cams, refine_labels, roi_mask, scale_boxes
from csptrain.stage1.config import make_stage1_config
from csptrain.stage1.par import PAR
from csptrain.stage1.pseudo import pseudo_labels
from csptrain.stage1.train import active_terms


def test_classification_loss_is_multilabel_soft_margin() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    labels = torch.tensor([[1.0, 0.0, 1.0]])
    sigmoid = lambda x: 1 / (1 + math.exp(-x))  # noqa: E731
    expected = -(math.log(sigmoid(2.0)) + math.log(1 - sigmoid(-1.0)) + math.log(sigmoid(0.5))) / 3
    assert classification_loss(logits, labels).item() == pytest.approx(expected, rel=1e-6)


def test_ptc_loss_by_hand() -> None:
    # three tokens of one image: a and b share label 1, c has label 2, d is ignored
    a, b, c, d = [1.0, 0.0], [0.6, 0.8], [0.0, -1.0], [5.0, 5.0]
    features = torch.tensor([a, b, c, d]).T.reshape(1, 2, 2, 2)
    labels = torch.tensor([[[1, 1], [2, IGNORE]]])
    cos_ab, cos_ac, cos_bc = 0.6, 0.0, 0.8  # |cos|
    positives = 2 * cos_ab  # ordered pairs (a,b), (b,a)
    negatives = 2 * (cos_ac + cos_bc)
    expected = 0.5 * (1 - positives / (2 + 1)) + 0.5 * negatives / (4 + 1)
    assert ptc_loss(features, labels).item() == pytest.approx(expected, rel=1e-6)


def test_ctc_loss_by_hand() -> None:
    # one sample, views v0, v1 (positive), v2 (negative local crop), v3 (positive local crop)
    teacher = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    student = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 2.0], [0.2, 0.1]])
    flags = torch.tensor([[1.0, 1.0, 0.0, 1.0]])
    temperature = 0.5
    total = 0.0
    for t in teacher:
        e = [math.exp(float(t @ s) / temperature) for s in student]
        negative = e[2]
        total += sum(-math.log(e[j] / (e[j] + negative + 1e-4)) for j in (0, 1, 3))
        total += -math.log(1 / (1 + negative + 1e-4))
    expected = total / 2 / (3 + 1e-4)
    assert ctc_loss(student, teacher, flags, temperature).item() == pytest.approx(expected, rel=1e-5)


def test_ctc_loss_survives_large_dot_products() -> None:
    student = torch.full((3, 4), 30.0)
    teacher = torch.full((2, 4), 30.0)
    value = ctc_loss(student, teacher, torch.tensor([[1.0, 1.0, 0.0]]), 0.5)
    assert torch.isfinite(value)


def test_background_foreground_ce_by_hand() -> None:
    logits = torch.tensor([[[[2.0, 0.0, 1.0]], [[0.0, 1.0, 1.0]]]])  # K = 2, three pixels
    labels = torch.tensor([[[0, 1, IGNORE]]])
    background = -math.log(math.exp(2) / (math.exp(2) + 1))
    foreground = -math.log(math.exp(1) / (math.exp(1) + 1))
    assert background_foreground_ce(logits, labels).item() == pytest.approx(0.5 * (background + foreground))
    only_background = background_foreground_ce(logits, torch.tensor([[[0, IGNORE, IGNORE]]]))
    assert only_background.item() == pytest.approx(0.5 * background)


def test_two_threshold_labels_on_a_synthetic_cam() -> None:
    cams = torch.zeros(1, 3, 2, 3)
    cams[0, 0] = torch.tensor([[0.9, 0.5, 0.1], [0.9, 0.9, 0.9]])
    cams[0, 2] = torch.tensor([[0.8, 0.95, 0.2], [0.0, 0.0, 0.0]])
    cams[0, 1] = 1.0  # absent from the image: must never win
    labels = torch.tensor([[1.0, 0.0, 1.0]])
    out = cams_to_labels(cams, labels, high=0.7, low=0.25, boxes=torch.tensor([[0, 2, 0, 2]]))
    assert out.tolist() == [[[1, 3, IGNORE], [1, 1, IGNORE]]]
    out = cams_to_labels(cams, labels, high=0.7, low=0.25)
    assert out.tolist() == [[[1, 3, 0], [1, 1, 1]]]
    roi = roi_mask(cams, labels, high=0.7, low=0.25)
    assert roi.tolist() == [[[2, 2, 0], [2, 2, 2]]]
    cams[0, 0, 0, 1] = 0.5
    cams[0, 2, 0, 1] = 0.5
    assert cams_to_labels(cams, labels, 0.7, 0.25)[0, 0, 1] == IGNORE
    assert roi_mask(cams, labels, 0.7, 0.25)[0, 0, 1] == 1


def test_boxes_scale_to_the_token_grid() -> None:
    # a 448 crop whose valid region starts 40 px down: ToCo's slice would blank the 28 x 28 grid
    boxes = torch.tensor([[40, 448, 0, 300]])
    assert scale_boxes(boxes, 448, 28).tolist() == [[2, 28, 0, 19]]


def test_local_crops_flags_negatives_and_avoid_confident_centres() -> None:
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    roi = torch.zeros(2, 8, 8, dtype=torch.long)
    roi[1] = 2
    roi[1, 3, 3] = 1  # the only non-confident centre
    crops, flags = local_crops(images, roi, count=1, size=4, generator=torch.Generator().manual_seed(0))
    assert flags.tolist() == [[1, 1, 0], [1, 1, 1]]  # all-background crop is a negative
    assert torch.equal(crops[0][1], images[1, :, 1:5, 1:5])  # centred on (3, 3)


def test_multi_scale_cams_are_normalised_per_class() -> None:
    class Fixed(torch.nn.Module):
        def cams(self, images):
            ramp = torch.linspace(-1, 3, images.shape[-1]).expand(images.shape[0], 2, images.shape[-2] // 4, -1)
            return ramp[..., ::4], ramp[..., ::4] * 2

    cam, cam_aux = multi_scale_cams(Fixed(), torch.zeros(1, 3, 16, 16), scales=(1.0, 0.5))
    for maps in (cam, cam_aux):
        assert maps.shape == (1, 2, 16, 16)
        assert maps.amin().item() == pytest.approx(0.0, abs=1e-6)
        assert maps.amax(dim=(-2, -1)).flatten().tolist() == pytest.approx([1.0, 1.0], abs=1e-4)


def test_pseudo_labels_infer_at_the_images_own_aspect_ratio_in_whole_patches() -> None:
    """A 2048 x 1024-like frame is no longer squashed to a square crop (issue 19)."""
    seen = []

    class Recording(torch.nn.Module):
        patch_size = 16

        def cams(self, images):
            seen.append(tuple(images.shape[-2:]))
            grid = torch.nn.functional.avg_pool2d(images[:, :2], 16)  # class k's CAM: channel k's brightness
            return grid, grid

    config = make_stage1_config(None, None, cam_scales=(1.0, 0.5, 1.5))
    image = torch.zeros(3, 100, 203)
    image[0, :, :100] = 1.0  # class 1 on the left half
    (label,) = pseudo_labels(Recording(), None, [image], torch.tensor([[1.0, 0.0]]), config)
    assert label.shape == (100, 203)
    assert seen == [(96, 208), (48, 96), (144, 320)]  # each side in whole patches, aspect about 2:1
    assert (label[:, :60] == 1).all() and (label[:, -60:] == 0).all()  # the class where its CAM is


def two_colour_image(size: int = 32, edge: int = 16) -> torch.Tensor:
    image = torch.zeros(1, 3, size, size)
    image[0, 0, :, :edge] = 0.9  # red left
    image[0, 2, :, edge:] = 0.9  # blue right
    return image


def test_par_moves_a_blurred_boundary_onto_the_colour_edge() -> None:
    size, edge, wrong = 32, 16, 11
    columns = torch.arange(size, dtype=torch.float32)
    cams = torch.zeros(1, 5, size, size)
    # class 3 (index 2) fills the left; the CAM's soft boundary sits 5 px too far left
    cams[0, 2] = torch.sigmoid((wrong - columns) / 2.0).expand(size, size)
    cams[0, 4] = 0.99  # a class absent from the image, confident everywhere
    labels = torch.tensor([[0.0, 0.0, 1.0, 0.0, 0.0]])
    box = torch.tensor([[0, size, 0, size]])
    raw = cams_to_labels(cams, labels, high=0.5, low=0.49, boxes=box)
    assert (raw[0, :, wrong + 2 : edge] == 0).all()  # the raw CAM misses the object's right part
    refined = refine_labels(
        PAR(), two_colour_image(size, edge), cams * labels[:, :, None, None], labels, high=0.5, low=0.49, boxes=box
    )
    assert set(refined.unique().tolist()) <= {0, 3, IGNORE}
    assert (refined[0, :, 2 : edge - 1] == 3).float().mean() > 0.98
    assert (refined[0, :, edge + 1 :] == 0).float().mean() > 0.98


def test_image_labels_come_from_the_scribble() -> None:
    scribble = np.array([[IGNORE, 0, 3], [7, IGNORE, 3]], dtype=np.uint16)
    assert np.flatnonzero(image_labels(scribble, 10)).tolist() == [2, 6]
    assert image_labels(np.full((2, 2), IGNORE, np.uint16), 4).sum() == 0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(20, 90), st.integers(20, 90), st.integers(24, 64))
def test_augmentation_keeps_the_scribble_on_its_pixels(seed: int, height: int, width: int, crop: int) -> None:
    # the image's red channel encodes each pixel's class in 8-px blocks; the scribble is that class map
    rows, cols = np.mgrid[0:height, 0:width]
    classes = (1 + (rows // 8 + cols // 8) % 3).astype(np.uint8)
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = classes * 60
    image[..., 1] = 200
    out, (scribble,), box = ToCoAugment(crop)(image, [classes], np.random.default_rng(seed))
    assert out.shape == (crop, crop, 3) and scribble.shape == (crop, crop)
    inside = np.zeros((crop, crop), bool)
    inside[box[0] : box[1], box[2] : box[3]] = True
    assert (scribble[~inside] == IGNORE).all() and (out[~inside] == 0).all()
    assert (scribble[inside] != IGNORE).all() and (out[inside][:, 1] > 100).all()
    # away from block edges the bilinear image and the nearest-neighbour scribble agree
    decoded = np.rint(out[..., 0] / 60.0)
    agree = (decoded == scribble)[inside]
    assert agree.mean() > 0.75


def test_poly_warmup_schedule() -> None:
    assert poly_warmup_multiplier(0, 100, 10) == pytest.approx(1e-6)
    assert poly_warmup_multiplier(5, 100, 10) == pytest.approx(0.5, abs=1e-6)
    assert poly_warmup_multiplier(10, 100, 10) == pytest.approx(0.9**0.9)
    assert poly_warmup_multiplier(100, 100, 10) == 0.0


def test_loss_schedule_follows_toco() -> None:
    coco = make_stage1_config("coco")
    assert set(active_terms(0, coco)) == {"cls", "aux", "segs"}
    assert set(active_terms(8000, coco)) == {"cls", "aux", "seg", "reg", "segs"}
    assert set(active_terms(12000, coco)) == {"cls", "aux", "seg", "reg", "ptc", "ctc", "segs"}
    voc = make_stage1_config("scribblesup", w_reg=0.0, segs_from=100)
    assert set(active_terms(0, voc)) == {"cls", "aux", "ptc", "ctc"}
    assert active_terms(2000, voc)["segs"] == 0.03 and "reg" not in active_terms(2000, voc)
    acdc = active_terms(0, make_stage1_config("acdc"))
    assert (acdc["cls"], acdc["aux"], acdc["segs"]) == (0.1, 0.1, 0.9)


def test_vit_loads_local_weights_resampled_to_448(tmp_path) -> None:
    import timm

    reference = timm.create_model("vit_tiny_patch16_224", pretrained=False)
    weights = tmp_path / "vit_tiny.pth"
    torch.save(reference.state_dict(), weights)
    model = toco_vit("vit_tiny_patch16_224", num_classes=5, weights=weights)
    assert model.encoder.pos_embed.shape == (1, 1 + 28 * 28, 192)
    assert not model.encoder.pos_embed.requires_grad
    assert torch.equal(model.encoder.patch_embed.proj.weight, reference.patch_embed.proj.weight)
    outputs = model(torch.randn(1, 3, 64, 96))
    assert (
        outputs["cls"].shape == (1, 4)
        and outputs["seg"].shape == (1, 5, 4, 6)
        and outputs["features"].shape[-2:] == (4, 6)
    )
    weights.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="vit_tiny.pth: "):
        toco_vit("vit_tiny_patch16_224", 5, weights)
    with pytest.raises(ConfigError, match="unknown timm model"):
        toco_vit("vit_nonexistent", 5)
    with pytest.raises(ConfigError, match="not a timm VisionTransformer"):
        toco_vit("resnet18", 5)


def test_an_unreadable_weights_file_is_a_weights_error_in_both_stages(tmp_path) -> None:
    from csptrain.models.weights import load_weights

    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="corrupt.pth: (unreadable weights file|not a checkpoint of)"):
        toco_vit("vit_tiny_patch16_224", 4, corrupt, img_size=32)
    with pytest.raises(WeightsError, match="corrupt.pth: unreadable weights file"):
        load_weights(corrupt)
