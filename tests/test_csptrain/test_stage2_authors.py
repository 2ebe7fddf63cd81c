"""Stage 2 as the authors train and evaluate it: augmentation, DPM maps, evaluation protocol."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from torch.nn import functional as F

from csptrain.data.crop_window import rounding_ties
from csptrain.data.distance import foreground_boundary, pseudo_boundary_distance_map, scribble_distance_map
from csptrain.data.labels import IGNORE, as_labels
from csptrain.data.stage2 import MEAN_FILL, Augment, ScribbleDataset, apply_draw
from csptrain.stage2.config import make_stage2_config
from csptrain.stage2.evaluate import long_side_size, predict_authors, predict_with, window_starts
from csptrain.stage2.protocol import AUTHORS_SCALES, make_protocol, protocol_for

#: Class k of the synthetic images is painted in COLOURS[k], so a pixel's colour names its label.
COLOURS = np.array([[40, 40, 200], [220, 40, 40], [40, 200, 40]], dtype=np.uint8)
SHAPE = (90, 120)


def synthetic_labels() -> np.ndarray:
    """Dense labels: background with a rectangle of class 1 and a disc of class 2."""
    rows, cols = np.mgrid[: SHAPE[0], : SHAPE[1]]
    label = np.zeros(SHAPE, dtype=np.uint8)
    label[15:60, 10:55] = 1
    label[(rows - 50) ** 2 + (cols - 88) ** 2 < 22**2] = 2
    return label


def synthetic_scribble(label: np.ndarray) -> np.ndarray:
    """Thin strokes well inside each region (background, rectangle, disc); the rest unlabelled."""
    scribble = np.full(SHAPE, 255, dtype=np.uint8)
    scribble[80, 5:110] = 0
    scribble[35:40, 20:45] = 1
    scribble[50, 75:100] = 2
    assert np.all(label[scribble != 255] == scribble[scribble != 255])
    return scribble


def synthetic_pseudo(label: np.ndarray) -> np.ndarray:
    """The dense labels with an uncertain (255) band."""
    pseudo = label.copy()
    pseudo[:, 60:64] = 255
    return pseudo


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A build-layout folder of two synthetic images (train and val lists), scribbles and pseudo-labels."""
    out = tmp_path_factory.mktemp("synthetic")
    label = synthetic_labels()
    folders = {
        "JPEGImages": COLOURS[label],
        "SegmentationClassAug": label,
        "syn_scribble_r1": synthetic_scribble(label),
        "pseudo": synthetic_pseudo(label),
    }
    for name in ("a", "b"):
        for folder, array in folders.items():
            (out / folder).mkdir(exist_ok=True)
            Image.fromarray(array if name == "a" else np.ascontiguousarray(array[::-1])).save(
                out / folder / f"{name}.png"
            )
    (out / "ImageSets/SegmentationAug").mkdir(parents=True)
    for split in ("train", "val"):
        (out / f"ImageSets/SegmentationAug/{split}.txt").write_text("a\nb\n")
    (out / "meta.json").write_text(json.dumps({"classes": ["background", "red", "green"]}))
    return out


def draws_of(augment: Augment, count: int = 40):
    return [augment.draw(SHAPE, np.random.default_rng([5, k])) for k in range(count)]


def test_draws_follow_the_authors_probabilities_and_ranges() -> None:
    draws = draws_of(Augment(64), 400)
    rotated = [d for d in draws if d.angle]
    assert 0.4 < len(rotated) / len(draws) < 0.6 and all(abs(d.angle) <= 10 for d in rotated)
    assert 0.4 < np.mean([d.blur for d in draws]) < 0.6 and 0.4 < np.mean([d.flip for d in draws]) < 0.6
    sizes = np.array([d.size for d in draws]) / SHAPE
    assert sizes.min() >= 0.49 and sizes.max() <= 2.01
    # rotation and blur off: no rotation, no blur, and every other draw as it was
    plain = draws_of(Augment(64, max_angle=0, blur=False), 400)
    assert all(p.angle == 0 and not p.blur for p in plain)
    assert [(p.size, p.flip, p.offset) for p in plain] == [(d.size, d.flip, d.offset) for d in draws]


def test_rotation_keeps_image_scribble_pseudo_and_maps_aligned() -> None:
    label = synthetic_labels()
    scribble, pseudo = as_labels(synthetic_scribble(label)), as_labels(synthetic_pseudo(label))
    image = COLOURS[label]
    maps = [scribble_distance_map(scribble, 1.0), pseudo_boundary_distance_map(pseudo, 7.0)]
    boundary = foreground_boundary(pseudo).astype(np.uint8)
    augment = Augment(64)
    rotated = 0
    for k in range(40):
        draw = augment.draw(SHAPE, np.random.default_rng([9, k]))
        rotated += abs(draw.angle) > 2
        out, (s, p), (d_s, d_c) = augment.apply(image, [scribble, pseudo], maps, draw)
        # the colour nearest to each pixel names the class painted there
        painted = np.argmin(((out[..., None, :].astype(int) - COLOURS.astype(int)) ** 2).sum(-1), axis=-1)
        on_scribble = s != IGNORE
        assert np.all(painted[on_scribble] == s[on_scribble]), k
        for cls in range(3):  # away from region edges (bilinear vs nearest, blur) the pseudo-label sits on its colour
            inner = ndimage.binary_erosion(p == cls, iterations=4)
            assert np.all(painted[inner] == cls), (k, cls)
        # maps move with the labels: 1 on foreground scribble pixels, 0 on the pseudo-label's boundary
        assert np.all(d_s[(s != 0) & on_scribble] == 1.0)
        moved = apply_draw(boundary, draw, 64, nearest=True, fill=0)
        assert np.all(d_c[moved == 1] == 0.0)
        # rotated-in corners and padding: mean in the image, IGNORE in labels, the authors' 1 in maps
        outside = apply_draw(np.zeros(SHAPE, np.uint8), draw, 64, nearest=True, fill=1) == 1
        assert np.all(s[outside] == IGNORE) and np.all(p[outside] == IGNORE) and np.all(d_s[outside] == 1.0)
        assert np.all(d_c[outside] == 1.0)
        assert np.all(out[ndimage.binary_erosion(outside, iterations=2)] == MEAN_FILL)  # (blur mixes the edge)
    assert rotated >= 10


def test_dpm_maps_are_full_resolution_maps_transformed_like_the_image(data: Path) -> None:
    """The dataset's maps and labels are the whole-image path's, but where a rotated coordinate rounds half-way."""
    augment = Augment(48)
    dataset = ScribbleDataset(data, "train", "syn_scribble_r1", data / "pseudo", augment, 1.0, 7.0, seed=3)
    scribble = as_labels(np.asarray(Image.open(data / "syn_scribble_r1/a.png")))
    pseudo = as_labels(np.asarray(Image.open(data / "pseudo/a.png")))
    full = [scribble_distance_map(scribble, 1.0), pseudo_boundary_distance_map(pseudo, 7.0)]
    differs = 0
    for epoch in range(12):
        dataset.epoch = epoch
        item = dataset[0]
        draw = augment.draw(SHAPE, dataset.rng(0))
        sure = torch.from_numpy(~rounding_ties(draw, 48))
        expected = [torch.from_numpy(apply_draw(m, draw, 48, nearest=True, fill=1.0)) for m in full]
        assert torch.equal(item["d_s"][sure], expected[0][sure])
        assert torch.equal(item["d_c"][sure], expected[1][sure])
        # what computing them on the augmented labels would give: distances in scaled pixels, cut by the crop
        labels = [apply_draw(label, draw, 48, nearest=True, fill=IGNORE) for label in (scribble, pseudo)]
        assert np.array_equal(item["scribble"].numpy()[sure], labels[0][sure])
        assert np.array_equal(item["pseudo"].numpy()[sure], labels[1][sure])
        differs += not np.array_equal(scribble_distance_map(labels[0], 1.0), expected[0].numpy())
    assert differs > 0


def test_zero_dpm_padding_gives_no_weight_outside_the_image(data: Path) -> None:
    augment = Augment(160, scale_min=0.5, scale_max=0.6, map_fill=0.0)  # always smaller than the crop
    dataset = ScribbleDataset(data, "train", "syn_scribble_r1", data / "pseudo", augment, 1.0, 7.0)
    item = dataset[0]
    draw = augment.draw(SHAPE, dataset.rng(0))
    outside = apply_draw(np.zeros(SHAPE, np.uint8), draw, 160, nearest=True, fill=1) == 1
    outside = torch.from_numpy(outside & ~rounding_ties(draw, 160))  # (a rotated edge pixel may round either way)
    assert outside.any() and torch.all(item["scribble"][outside] == IGNORE)
    assert item["d_s"][~outside].max() == 1.0  # the scribble's own weight is untouched
    assert torch.all(item["d_s"][outside] == 0) and torch.all(item["d_c"][outside] == 0)


class Toy(torch.nn.Module):
    """A tiny segmentor whose output depends on where the window lies (zero-padded convolutions, pooling)."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.local = torch.nn.Conv2d(3, classes, 5, padding=2)
        self.pooled = torch.nn.Conv2d(3, classes, 1)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.local(images) + self.pooled(images.mean((2, 3), keepdim=True))}


def plain_authors_protocol(model, image: torch.Tensor, base: int, crop: int, scales, flip: bool) -> np.ndarray:
    """The authors' evaluate.py, step by step, with numpy accumulators."""
    _, h, w = image.shape
    total = np.zeros((3, h, w))
    for scale in scales:
        long = round(scale * base)
        new_h, new_w = (long, round(long / h * w)) if h > w else (round(long / w * h), long)
        scaled = F.interpolate(image[None], size=(new_h, new_w), mode="bilinear", align_corners=False)[0]
        pad_h, pad_w = max(crop - new_h, 0), max(crop - new_w, 0)
        scaled = F.pad(scaled, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
        big_h, big_w = scaled.shape[1:]
        stride = math.ceil(crop * 2 / 3)
        summed, count = np.zeros((3, big_h, big_w)), np.zeros((big_h, big_w))
        for i in range(math.ceil((big_h - crop) / stride) + 1):
            for j in range(math.ceil((big_w - crop) / stride) + 1):
                e_h, e_w = min(i * stride + crop, big_h), min(j * stride + crop, big_w)
                s_h, s_w = e_h - crop, e_w - crop
                window = scaled[:, s_h:e_h, s_w:e_w][None]
                with torch.no_grad():
                    probs = model(window)["out"].softmax(1)
                    if flip:
                        probs = (probs + model(window.flip(-1))["out"].softmax(1).flip(-1)) / 2
                summed[:, s_h:e_h, s_w:e_w] += probs[0].numpy()
                count[s_h:e_h, s_w:e_w] += 1
        probs = torch.from_numpy(summed / count)[:, pad_h // 2 : pad_h // 2 + new_h, pad_w // 2 : pad_w // 2 + new_w]
        total += F.interpolate(probs[None].float(), size=(h, w), mode="bilinear", align_corners=False)[0].numpy()
    return total / len(scales)


@pytest.mark.parametrize("flip", [False, True])
def test_authors_protocol_equals_a_plain_per_scale_computation(flip: bool) -> None:
    model = Toy().eval()
    image = torch.randn(3, 37, 53)
    protocol = make_protocol("authors", base_size=48, window=24, flip=flip)
    assert protocol.scales == AUTHORS_SCALES and protocol.stride == 16
    ours = predict_authors(model, image, protocol).numpy()
    assert ours.shape == (3, 37, 53)
    assert np.allclose(ours, plain_authors_protocol(model, image, 48, 24, AUTHORS_SCALES, flip), atol=1e-5)
    single = predict_with(model, image, make_protocol("single-scale", base_size=48, window=24))
    assert not np.allclose(single.numpy(), ours, atol=1e-3)  # the protocols really differ


def test_protocol_geometry_is_the_authors() -> None:
    assert window_starts(1024, 465, 310) == [0, 310, 559]
    assert window_starts(465, 465, 310) == [0]
    assert long_side_size(366, 500, 512) == (375, 512) and long_side_size(500, 366, 256) == (256, 187)
    assert make_protocol("authors", base_size=512, window=465).to_dict() == {
        "name": "authors",
        "scales": list(AUTHORS_SCALES),
        "flip": False,
        "base_size": 512,
        "window": 465,
        "stride": 310,
    }
    assert make_protocol("single-scale", base_size=512, window=465).scales == (1.0,)
    assert make_protocol("authors", base_size=512, window=465, scales=[1.0]).scales == (1.0,)
    with pytest.raises(ValueError, match="scales must be > 0"):
        make_protocol("authors", base_size=512, window=465, scales=[0.0])


def test_cityscapes_evaluates_from_its_full_width() -> None:
    assert protocol_for(make_stage2_config("cityscapes")).base_size == 2048
    assert protocol_for(make_stage2_config("coco")).base_size == 512
    assert protocol_for(make_stage2_config("coco", crop_size=321)).window == 321
