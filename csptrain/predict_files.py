"""``csptrain predict`` on files: which images, where each one's label PNG goes, and the per-file errors.

Every image gets an 8-bit grayscale label PNG of class ids at its own size (the layout every
loader reads), and with ``overlay`` a colour overlay under ``OUT/overlay/``. A file that
cannot be read is reported in one line and the others are still written; outputs that
exist are kept, so a rerun finishes an interrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from scribblesim.sets.files import label_png_bytes, write_bytes_atomic
from scribblesim.sets.palette import PALETTE

from .data.layout import read_image
from .errors import DataError
from .predictor import SegmentationModel
from .stage2.protocol import EvalProtocol

#: Image files predicted from a folder (and accepted by name).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
#: Folder of the overlays under the output folder.
OVERLAY_DIR = "overlay"


@dataclass(frozen=True)
class PredictionJob:
    """One image and the label PNG written for it (relative to the output folder)."""

    source: Path
    target: Path


def collect_jobs(inputs: Sequence[Path], out: Path) -> tuple[list[PredictionJob], list[str]]:
    """The images of ``inputs`` (files, or folders searched recursively) and their outputs under ``out``.

    Returns the jobs, in order, and one line per input that gives none (missing, not an
    image, a folder without images, an output two inputs would share).
    """
    jobs: list[PredictionJob] = []
    problems: list[str] = []
    for given in map(Path, inputs):
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            if not found:
                problems.append(f"{given}: no image files ({', '.join(IMAGE_SUFFIXES)}) in this folder")
            jobs += [PredictionJob(p, p.relative_to(given).with_suffix(".png")) for p in found]
        elif given.is_file():
            if given.suffix.lower() in IMAGE_SUFFIXES:
                jobs.append(PredictionJob(given, Path(f"{given.stem}.png")))
            else:
                problems.append(f"{given}: not an image file ({', '.join(IMAGE_SUFFIXES)})")
        else:
            problems.append(f"{given}: no such file or folder")
    seen: dict[Path, Path] = {}
    unique = []
    for job in jobs:
        if job.target in seen:
            problems.append(
                f"{job.source}: its output {out / job.target} is {seen[job.target]}'s too; predict it apart"
            )
        else:
            seen[job.target] = job.source
            unique.append(job)
    return unique, problems


class _Images(Dataset):
    """(index, RGB image or None, error line or None) of each job, read in loader workers."""

    def __init__(self, jobs: Sequence[PredictionJob]) -> None:
        self.jobs = list(jobs)

    def __len__(self) -> int:
        return len(self.jobs)

    def __getitem__(self, index: int) -> tuple[int, np.ndarray | None, str | None]:
        try:
            return index, read_image(self.jobs[index].source), None
        except DataError as error:
            return index, None, str(error)


def _one(item):
    return item


def overlay_png(image: np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> bytes:
    """PNG bytes of an RGB image with its classes (not the background) blended in the class palette."""
    blended = image.astype(np.float32)
    shown = labels > 0
    blended[shown] = (1 - alpha) * blended[shown] + alpha * PALETTE[labels[shown]]
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(blended.round().astype(np.uint8), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("OpenCV could not encode an overlay PNG")
    return encoded.tobytes()


def predict_jobs(
    model: SegmentationModel,
    jobs: Sequence[PredictionJob],
    out: Path,
    protocol: EvalProtocol,
    *,
    overlay: bool = False,
    workers: int = 0,
    progress: bool = True,
    report: Callable[[str], None] = print,
) -> tuple[int, int]:
    """Write the label PNG (and overlay) of every job whose output is missing; return (written, failed).

    ``report`` takes one line per file that could not be read.
    """
    todo = [job for job in jobs if not (out / job.target).is_file()]
    loader = DataLoader(_Images(todo), batch_size=None, num_workers=workers, collate_fn=_one)
    written = failed = 0
    items: Iterator = iter(loader)
    for index, image, error in tqdm(
        items, total=len(todo), desc="predict", unit="img", disable=None if progress else True
    ):
        job = todo[index]
        if image is None:
            report(error or f"{job.source}: unreadable image")
            failed += 1
            continue
        labels = model.predict(image, protocol)
        target = out / job.target
        target.parent.mkdir(parents=True, exist_ok=True)
        if overlay:
            shown = out / OVERLAY_DIR / job.target
            shown.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(shown, overlay_png(image, labels), durable=False)
        write_bytes_atomic(target, label_png_bytes(labels), durable=False)  # last: it marks the job done
        written += 1
    return written, failed
