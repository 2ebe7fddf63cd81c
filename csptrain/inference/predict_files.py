"""``csptrain predict`` on files: which images and volumes, where each one's labels go, and the per-file errors.

Every image gets an 8-bit grayscale label PNG of class ids at its own size (the layout every
loader reads), and with ``overlay`` a colour overlay under ``OUT/overlay/``. Every medical
volume (WSL4MIS h5, NIfTI) is cut into 8-bit slices as the ACDC build cuts it, and gets a
label volume of the same name, format and geometry (see
:func:`~scribblesim.datasets.volumes.write_label_volume`). A file that cannot be read is
reported in one line and the others are still written; outputs that exist are kept, so a
rerun finishes an interrupted one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from scribblesim.datasets.volumes import VOLUME_EXTENSIONS, read_image_volume, volume_extension, write_label_volume
from scribblesim.errors import DatasetError
from scribblesim.sets.files import write_bytes_atomic
from scribblesim.sets.palette import palette_of

from ..data.labels import labels_png
from ..data.layout import read_image
from ..errors import DataError
from ..stage2.protocol import EvalProtocol
from .predictor import SegmentationModel

#: Image files predicted from a folder (and accepted by name).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
#: Folder of the overlays under the output folder.
OVERLAY_DIR = "overlay"


@dataclass(frozen=True)
class PredictionJob:
    """One image or volume and the labels written for it (relative to the output folder)."""

    source: Path
    target: Path

    @property
    def volume(self) -> bool:
        """Whether the source is a medical volume (its labels are a volume too)."""
        return volume_extension(self.source) is not None


def _job(source: Path, relative: Path) -> PredictionJob:
    """A volume's labels keep its name (and format); an image's are a PNG of its name."""
    return PredictionJob(source, relative if volume_extension(source) else relative.with_suffix(".png"))


def _readable(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES or volume_extension(path) is not None


def collect_jobs(inputs: Sequence[Path], out: Path) -> tuple[list[PredictionJob], list[str]]:
    """The images and volumes of ``inputs`` (files, or folders searched recursively) and their outputs under ``out``.

    Returns the jobs, in order, and one line per input that gives none (missing, not an
    image or volume, a folder without any, an output two inputs would share).
    """
    jobs: list[PredictionJob] = []
    problems: list[str] = []
    kinds = ", ".join((*IMAGE_SUFFIXES, *VOLUME_EXTENSIONS))
    for given in map(Path, inputs):
        if given.is_dir():
            found = sorted(p for p in given.rglob("*") if _readable(p) and p.is_file())
            if not found:
                problems.append(f"{given}: no image or volume files ({kinds}) in this folder")
            jobs += [_job(p, p.relative_to(given)) for p in found]
        elif given.is_file():
            if _readable(given):
                jobs.append(_job(given, Path(given.name)))
            else:
                problems.append(f"{given}: not an image or volume file ({kinds})")
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
    blended[shown] = (1 - alpha) * blended[shown] + alpha * palette_of(labels.dtype)[labels[shown]]
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
    """Write the labels (and image overlays) of every job whose output is missing; return (written, failed).

    ``report`` takes one line per file that could not be read.
    """
    todo = [job for job in jobs if not (out / job.target).is_file()]
    images = [job for job in todo if not job.volume]
    loader = DataLoader(_Images(images), batch_size=None, num_workers=workers, collate_fn=_one)
    written = failed = 0
    bar = tqdm(total=len(todo), desc="predict", unit="file", disable=None if progress else True)
    for job in (job for job in todo if job.volume):
        bar.update()
        try:
            slices = read_image_volume(job.source)
        except DatasetError as unreadable:
            report(str(unreadable))
            failed += 1
            continue
        labels = np.stack([model.predict(one, protocol) for one in slices])
        write_label_volume(labels, job.source, out / job.target)
        written += 1
    items: Iterator = iter(loader)
    for index, image, error in items:
        bar.update()
        job = images[index]
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
        write_bytes_atomic(target, labels_png(labels, model.num_classes), durable=False)  # last: it marks the job done
        written += 1
    bar.close()
    return written, failed
