"""Pseudo-labels from a stage-1 checkpoint (ToCo's ``tools/infer_cam.py`` + PAR) and their mIoU.

Per image, at its own size and aspect ratio (each side rounded to whole ViT patches; stage 1
trains on the image scaled 0.5-2, so its own size is a scale training saw, Cityscapes'
2048 x 1024 included): multi-scale + flip CAM (Eq. 10, ToCo's ``infer_cam.py``), the classes
of the image's scribble kept, bilinear back to the image size, then two thresholds and PAR
give background (0), a class, or IGNORE = uncertain. With ``source="scribble-head"`` (our
choice, see :data:`~csptrain.catalog.PSEUDO_SOURCES`) the scribble head's multi-scale + flip
probabilities of the image's classes take the CAMs' place: PAR-refined, a class where its
probability reaches the high threshold, else IGNORE. The labels are written as single-channel
PNGs named like the images (8-bit, 255 uncertain; 16-bit above 255 classes, 65535), which
``csptrain stage2 --pseudo`` reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from scribblesim.sets.files import remove_stale_temporaries, write_bytes_atomic
from scribblesim.sets.layout import Layout

from ..catalog import PSEUDO_SOURCES
from ..data.labels import IGNORE, labels_png, read_labels
from ..data.layout import denormalise, find_image, normalise, read_image, read_split
from ..data.stage1 import image_labels
from ..errors import ConfigError, DataError, RunFolderError
from ..metrics import confusion_matrix, iou_scores
from ..models.toco import ToCoNet
from ..runs import PseudoLabelFolder
from ..runtime.checkpoints import Trained
from ..runtime.process import Process, barrier
from .cam import (
    cams_to_labels,
    masked_cams,
    multi_scale_cams,
    multi_scale_scribble_probabilities,
    probabilities_to_labels,
    refine_labels,
    whole_patches,
)
from .config import Stage1Config
from .par import PAR
from .train import load_stage1_model


@torch.no_grad()
def pseudo_labels(
    model,
    par: PAR | None,
    images: list[torch.Tensor],
    labels: torch.Tensor,
    config: Stage1Config,
    source: str = "cam",
) -> list[torch.Tensor]:
    """Pseudo-labels (H, W) of normalised images (3, H, W) with multi-hot ``labels`` (N, C-1).

    ``par`` = None gives the plain two-threshold labels; ``source``: ``cam`` (the paper) or
    ``scribble-head``.
    """
    results = []
    patch = getattr(model, "patch_size", 1)
    for image, label in zip(images, labels):
        height, width = image.shape[-2:]
        size = (whole_patches(height, patch), whole_patches(width, patch))
        scaled = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)
        box = torch.tensor([[0, height, 0, width]], device=image.device)
        if source == "scribble-head":
            probabilities = multi_scale_scribble_probabilities(model, scaled, config.cam_scales)
            probabilities = F.interpolate(probabilities, size=(height, width), mode="bilinear", align_corners=False)
            rgb = denormalise(image[None])
            results.append(probabilities_to_labels(par, rgb, probabilities, label[None], config.high_threshold, box)[0])
            continue
        cam, _ = multi_scale_cams(model, scaled, config.cam_scales)
        cam = masked_cams(F.interpolate(cam, size=(height, width), mode="bilinear", align_corners=False), label[None])
        if par is None:
            results.append(cams_to_labels(cam, label[None], config.high_threshold, config.low_threshold, box)[0])
        else:
            results.append(
                refine_labels(
                    par, denormalise(image[None]), cam, label[None], config.high_threshold, config.low_threshold, box
                )[0]
            )
    return results


def score_pseudo_labels(data: Path, folder: Path, ids: list[str], num_classes: int) -> dict:
    """Table VII's measure: mIoU of the pseudo-labels against the dense ground truth.

    Pixels the pseudo-label leaves uncertain (IGNORE) are excluded, as are GT-ignore pixels;
    ``uncertain_share`` is the share of GT-labelled pixels left uncertain.
    """
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    uncertain = labelled = 0
    for name in ids:
        truth = read_labels(Layout(data).ground_truth(name))
        path = PseudoLabelFolder(folder).label(name)
        pseudo = read_labels(path)
        if pseudo.shape != truth.shape:
            raise DataError(f"{path}: size {pseudo.shape} differs from the ground truth {truth.shape}")
        certain = pseudo != IGNORE
        confusion += confusion_matrix(pseudo[certain], truth[certain], num_classes)
        labelled += int((truth != IGNORE).sum())
        uncertain += int(((truth != IGNORE) & ~certain).sum())
    scores = iou_scores(confusion)
    return {**scores, "uncertain_share": uncertain / labelled if labelled else float("nan"), "images": len(ids)}


def generate_pseudo_labels(
    data: Path,
    checkpoint: Path,
    out: Path,
    process: Process,
    *,
    split: str,
    scribbles: str,
    batch_size: int = 4,
    use_par: bool = True,
    source: str = "cam",
    progress: bool = True,
) -> dict:
    """Write the missing pseudo-label PNGs of ``split`` into ``out``, then score them all.

    Resumable: images whose PNG exists are skipped (files are written atomically). The
    scores go to the folder's summary (see :class:`~csptrain.runs.PseudoLabelFolder`) and
    are returned, with the checkpoint's step. Labels already in ``out`` from another
    checkpoint step are refused, never mixed. Under torchrun each rank labels its share
    of the images and the first rank scores them all. ``process``: the device and this
    process's place in the job (from :func:`~csptrain.runtime.process.joined`). ``source``:
    the classifier's CAMs (``cam``, the paper) or the scribble head (``scribble-head``).
    """
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if source not in PSEUDO_SOURCES:
        raise ConfigError(f"unknown pseudo-label source {source!r}; choose from {', '.join(PSEUDO_SOURCES)}")
    trained = load_stage1_model(checkpoint)
    labels_out = PseudoLabelFolder(Path(out))
    ids = read_split(data, split)
    scribble_dir = Path(data) / scribbles
    if not scribble_dir.is_dir():
        raise DataError(f"{scribble_dir}: scribble folder not found")
    made_from = labels_out.source_record(trained.step, use_par, split, scribbles, source)
    recorded = labels_out.source()
    if recorded is not None and recorded != made_from:
        raise RunFolderError(f"{out}: holds pseudo-labels of {recorded}, not {made_from}; use another folder")
    if process.is_main:
        labels_out.folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(labels_out.folder)
        labels_out.write_source(made_from)
    barrier(process)
    missing = [name for name in ids if not labels_out.label(name).is_file()]
    mine = missing[process.rank :: process.world]
    _label_images(
        trained,
        data,
        scribble_dir,
        mine,
        labels_out,
        process.device,
        batch_size,
        use_par,
        source,
        progress and process.is_main,
    )
    barrier(process)
    if process.is_main:
        scores = {**score_pseudo_labels(data, labels_out.folder, ids, trained.num_classes), "split": split}
        labels_out.write_summary(scores, checkpoint, trained.step, use_par, source)
    barrier(process)
    return labels_out.summary()


def _label_images(
    trained: Trained[ToCoNet, Stage1Config],
    data: Path,
    scribble_dir: Path,
    names: list[str],
    labels_out: PseudoLabelFolder,
    device: torch.device,
    batch_size: int,
    use_par: bool,
    source: str,
    progress: bool,
) -> None:
    """Write the pseudo-labels of ``names``, ``batch_size`` images at a time."""
    config, num_classes = trained.config, trained.num_classes
    model = trained.model.to(device).eval()
    par = PAR(config.par_dilations, config.par_iterations).to(device) if use_par else None
    bar = tqdm(total=len(names), desc="pseudo", unit="img", disable=None if progress else True)
    for start in range(0, len(names), batch_size):
        chunk = names[start : start + batch_size]
        images = [normalise(read_image(find_image(data, name))).to(device) for name in chunk]
        scribbles = [read_labels(scribble_dir / f"{name}.png") for name in chunk]
        labels = torch.stack([torch.from_numpy(image_labels(s, num_classes)) for s in scribbles]).to(device)
        for name, label in zip(chunk, pseudo_labels(model, par, images, labels, config, source)):
            write_bytes_atomic(labels_out.label(name), labels_png(label.cpu().numpy(), num_classes))
        bar.update(len(chunk))
    bar.close()
