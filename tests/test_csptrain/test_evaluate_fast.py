"""Stage-2 evaluation at GPU speed gives what the plain fp32 path gave (on the CPU, where both are fp32).

The reference below is the evaluation before it batched the windows of all scales and read
images in DataLoader workers: one scale at a time, four windows per forward pass, each
image read on the main thread.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from csptrain.data.labels import read_labels
from csptrain.data.layout import find_image, normalise, read_image, read_split
from csptrain.errors import DataError
from csptrain.metrics import confusion_matrix
from csptrain.models import Stage2Model
from csptrain.stage2.evaluate import (
    _channels_last_on_cuda,
    default_workers,
    evaluate,
    long_side_size,
    predict,
    predict_authors,
    predict_with,
    window_starts,
)
from csptrain.stage2.protocol import EvalProtocol, make_protocol
from scribblesim.sets.layout import Layout

CLASSES = 3
#: Odd image sizes: smaller than the window at every scale, at some, and at none.
SIZES = [(37, 53), (50, 29), (61, 61), (23, 90)]


# --- the reference: the fp32 path as it was -------------------------------------------------------


def reference_probabilities(model: torch.nn.Module, images: torch.Tensor, flip: bool) -> torch.Tensor:
    probs = model(images)["out"].float().softmax(1)
    if flip:
        probs = (probs + model(images.flip(-1))["out"].float().softmax(1).flip(-1)) / 2
    return probs


@torch.no_grad()
def reference_predict(model: torch.nn.Module, image: torch.Tensor, scales, flip: bool) -> torch.Tensor:
    height, width = image.shape[-2:]
    total = torch.zeros(())
    for scale in scales:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        scaled = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)
        probs = reference_probabilities(model, scaled, flip)
        total = total + F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)[0]
    return total / len(scales)


@torch.no_grad()
def reference_sliding_window(
    model: torch.nn.Module, image: torch.Tensor, window: int, stride: int, flip: bool, batch: int = 4
) -> torch.Tensor:
    height, width = image.shape[-2:]
    rows, cols = max(0, window - height), max(0, window - width)
    top, left = rows // 2, cols // 2
    padded = F.pad(image, (left, cols - left, top, rows - top))
    boxes = [
        (y, x)
        for y in window_starts(padded.shape[-2], window, stride)
        for x in window_starts(padded.shape[-1], window, stride)
    ]
    total: torch.Tensor | None = None
    count = torch.zeros(padded.shape[-2:])
    for first in range(0, len(boxes), batch):
        chunk = boxes[first : first + batch]
        crops = torch.stack([padded[:, y : y + window, x : x + window] for y, x in chunk])
        probs = reference_probabilities(model, crops, flip)
        if total is None:
            total = torch.zeros((probs.shape[1], *padded.shape[-2:]))
        for (y, x), prob in zip(chunk, probs):
            total[:, y : y + window, x : x + window] += prob
            count[y : y + window, x : x + window] += 1
    assert total is not None
    return (total / count)[:, top : top + height, left : left + width]


@torch.no_grad()
def reference_authors(model: torch.nn.Module, image: torch.Tensor, protocol: EvalProtocol) -> torch.Tensor:
    assert protocol.base_size is not None and protocol.window is not None and protocol.stride is not None
    height, width = image.shape[-2:]
    total = torch.zeros(())
    for scale in protocol.scales:
        size = long_side_size(height, width, round(scale * protocol.base_size))
        scaled = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        probs = reference_sliding_window(model, scaled, protocol.window, protocol.stride, protocol.flip)
        total = total + F.interpolate(probs[None], size=(height, width), mode="bilinear", align_corners=False)[0]
    return total / len(protocol.scales)


def reference_predict_with(model: torch.nn.Module, image: torch.Tensor, protocol: EvalProtocol) -> torch.Tensor:
    if protocol.name == "authors":
        return reference_authors(model, image, protocol)
    return reference_predict(model, image, protocol.scales, protocol.flip)


def reference_confusion(model: torch.nn.Module, data: Path, split: str, protocol: EvalProtocol) -> np.ndarray:
    confusion = np.zeros((CLASSES, CLASSES), dtype=np.int64)
    for name in read_split(data, split):
        image = normalise(read_image(find_image(data, name)))
        truth = read_labels(Layout(data).ground_truth(name))
        prediction = reference_predict_with(model, image, protocol).argmax(0).numpy().astype(np.uint8)
        confusion += confusion_matrix(prediction, truth, CLASSES)
    return confusion


# --- models and data -----------------------------------------------------------------------------


class Toy(torch.nn.Module):
    """A tiny segmentor whose output depends on where the window lies (zero-padded convolutions, pooling)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.local = torch.nn.Conv2d(3, CLASSES, 5, padding=2)
        self.pooled = torch.nn.Conv2d(3, CLASSES, 1)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"out": self.local(images) + self.pooled(images.mean((2, 3), keepdim=True))}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny forward passes gain nothing from threads, and lose much to them on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A build folder of four odd-sized images: colour blobs on noise, their labels in SegmentationClassAug."""
    out = tmp_path_factory.mktemp("eval-fast")
    rng = np.random.default_rng(0)
    colours = np.array([[40, 40, 200], [220, 40, 40], [40, 200, 40]])
    names = []
    for k, (height, width) in enumerate(SIZES):
        rows, cols = np.mgrid[:height, :width]
        label = np.zeros((height, width), np.uint8)
        label[: height // 2, : width // 2] = 1
        label[(rows - 2 * height // 3) ** 2 + (cols - 2 * width // 3) ** 2 < (min(height, width) // 4) ** 2] = 2
        label[0, :3] = 255  # ignored pixels
        image = np.clip(colours[np.minimum(label, 2)] + rng.normal(0, 25, (height, width, 3)), 0, 255)
        names.append(f"img{k}")
        for folder, array in (("JPEGImages", image.astype(np.uint8)), ("SegmentationClassAug", label)):
            (out / folder).mkdir(exist_ok=True)
            Image.fromarray(array).save(out / folder / f"img{k}.png")
    (out / "ImageSets/SegmentationAug").mkdir(parents=True)
    (out / "ImageSets/SegmentationAug/val.txt").write_text("".join(f"{name}\n" for name in names))
    (out / "meta.json").write_text(json.dumps({"classes": ["background", "red", "green"]}))
    return out


@pytest.fixture(scope="module")
def deeplab(data: Path) -> Stage2Model:
    """A randomly initialised DeepLabV3+ on ResNet-18 whose predictions vary across the images.

    As initialised, its logits vary by ~0.005 and its classifier's bias picks one class
    everywhere: the weights grow and the bias centres the logits on the images, so that
    every class is predicted somewhere.
    """
    torch.manual_seed(0)
    model = Stage2Model("resnet18", CLASSES, None).eval()
    classifier = model.segmentor.classifier
    assert classifier.bias is not None
    with torch.no_grad():
        classifier.weight.mul_(200)
        classifier.bias.zero_()
        images = [normalise(read_image(find_image(data, name))) for name in read_split(data, "val")]
        classifier.bias.copy_(-torch.stack([model(image[None])["out"].mean((0, 2, 3)) for image in images]).mean(0))
    return model


def authors(flip: bool, scales=(0.5, 1.0, 1.75), base_size: int = 48, window: int = 32) -> EvalProtocol:
    return make_protocol("authors", base_size=base_size, window=window, scales=scales, flip=flip)


# --- probabilities ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("size", SIZES)
def test_batched_scales_give_the_per_scale_probabilities(size: tuple[int, int], flip: bool) -> None:
    """Every batch size, from one window to all windows of all scales at once, gives the reference's probabilities."""
    model = Toy().eval()
    image = torch.randn(3, *size, generator=torch.Generator().manual_seed(sum(size)))
    protocol = authors(flip, scales=(0.5, 0.75, 1.0, 1.25, 2.0), window=29)  # odd window, stride 20
    expected = reference_authors(model, image, protocol)
    for batch in (1, 3, 4, 16, 1000):
        ours = predict_authors(model, image, protocol, window_batch=batch)
        assert ours.dtype == torch.float32 and ours.shape == (CLASSES, *size)
        torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)


def test_padding_scales_and_many_window_scales_are_both_covered() -> None:
    """The scales of the tests above include images smaller than the window and ones of several windows."""
    windows = []
    for height, width in SIZES:
        for scale in (0.5, 2.0):
            rows, cols = long_side_size(height, width, round(scale * 48))
            windows.append(len(window_starts(max(rows, 29), 29, 20)) * len(window_starts(max(cols, 29), 29, 20)))
    assert min(windows) == 1 and max(windows) >= 6


@pytest.mark.parametrize("flip", [False, True])
def test_deeplab_probabilities_equal_the_reference(deeplab: Stage2Model, flip: bool) -> None:
    image = torch.randn(3, 41, 57, generator=torch.Generator().manual_seed(1))
    protocol = authors(flip)
    torch.testing.assert_close(
        predict_with(deeplab, image, protocol, window_batch=16),
        reference_authors(deeplab, image, protocol),
        atol=1e-5,
        rtol=0,
    )


@pytest.mark.parametrize("flip", [False, True])
def test_single_scale_protocol_equals_the_reference(deeplab: Stage2Model, flip: bool) -> None:
    image = torch.randn(3, 37, 53, generator=torch.Generator().manual_seed(2))
    protocol = make_protocol("single-scale", base_size=48, window=32, scales=[1.0, 0.75], flip=flip)
    ours = predict_with(deeplab, image, protocol)
    torch.testing.assert_close(ours, reference_predict(deeplab, image, (1.0, 0.75), flip), atol=1e-5, rtol=0)
    torch.testing.assert_close(predict(deeplab, image, (1.0, 0.75), flip), ours, atol=0, rtol=0)


# --- whole evaluations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "protocol",
    [authors(flip=True), make_protocol("single-scale", base_size=48, window=32, scales=[1.0, 0.5], flip=True)],
    ids=["authors", "single-scale"],
)
def test_evaluation_scores_equal_the_reference(deeplab: Stage2Model, data: Path, protocol: EvalProtocol) -> None:
    scores = evaluate(deeplab, data, "val", CLASSES, protocol, progress=False, workers=0)
    expected = reference_confusion(deeplab, data, "val", protocol)
    assert np.array_equal(np.array(scores["confusion"]), expected)
    assert np.all(expected.sum(0) > 0)  # every class predicted: where the classes meet is compared too
    assert scores["images"] == len(SIZES) and np.array(scores["confusion"]).sum() == sum(h * w - 3 for h, w in SIZES)


def test_workers_read_the_same_images_in_order(deeplab: Stage2Model, data: Path, tmp_path: Path) -> None:
    protocol = authors(flip=False, scales=(0.5, 1.0))
    plain = evaluate(deeplab, data, "val", CLASSES, protocol, progress=False, workers=0, save_dir=tmp_path / "a")
    read = evaluate(deeplab, data, "val", CLASSES, protocol, progress=False, workers=2, save_dir=tmp_path / "b")
    assert read == plain
    for k in range(len(SIZES)):
        saved = [np.asarray(Image.open(tmp_path / folder / f"img{k}.png")) for folder in ("a", "b")]
        assert saved[0].shape == SIZES[k] and np.array_equal(saved[0], saved[1])


@pytest.mark.parametrize("workers", [0, 1])
def test_bad_data_is_a_one_line_data_error(deeplab: Stage2Model, data: Path, tmp_path: Path, workers: int) -> None:
    broken = tmp_path / "broken"
    (broken / "ImageSets/SegmentationAug").mkdir(parents=True)
    for part in ("JPEGImages", "SegmentationClassAug", "meta.json"):
        (broken / part).symlink_to(data / part)
    (broken / "ImageSets/SegmentationAug/val.txt").write_text("img0\nnope\n")
    with pytest.raises(DataError) as caught:
        evaluate(deeplab, broken, "val", CLASSES, authors(False, scales=(0.5,)), progress=False, workers=workers)
    assert str(caught.value) == f"{broken / 'JPEGImages/nope.jpg'}: image not found"


# --- CUDA settings, as far as the CPU can check them ----------------------------------------------


def test_channels_last_is_undone_after_a_cuda_evaluation() -> None:
    model = Toy()

    def format_of() -> bool:
        return (
            model.local.weight.is_contiguous(memory_format=torch.channels_last)
            and not model.local.weight.is_contiguous()
        )

    with _channels_last_on_cuda(model, torch.device("cuda")):  # the conversion itself runs on CPU tensors too
        assert format_of()
    assert not format_of()
    model.to(memory_format=torch.channels_last)
    with _channels_last_on_cuda(model, torch.device("cuda")):
        assert format_of()
    assert format_of()  # a model trained in channels_last stays so
    model.to(memory_format=torch.contiguous_format)
    with _channels_last_on_cuda(model, torch.device("cpu")):
        assert not format_of()


def test_workers_default_to_none_on_the_cpu() -> None:
    assert default_workers(torch.device("cpu")) == 0
    assert 1 <= default_workers(torch.device("cuda")) <= 4  # (only counted, nothing started)
