"""ScribbleACDC: ACDC's cardiac cine-MRI volumes cut into 2D slices, with the experts' scribbles.

Two layouts, found by what the root holds (a root may hold both; no frame may be in both):

- **WSL4MIS** (HiLab-git/WSL4MIS): ``ROOT/ACDC_training_volumes/patientNNN_frameFF.h5``
  (or the ``.h5`` files in ``ROOT`` itself), each with ``image`` (float, min-max
  normalised to [0, 1] per volume), ``label`` (0 background, 1 RV, 2 MYO, 3 LV) and
  ``scribble`` (0-3 as ``label``, 4 = unlabelled), all of shape (n_slices, H, W). Read
  with h5py.
- **ACDC's own NIfTI files**: ``ROOT/patientNNN/patientNNN_frameFF.nii.gz`` (also under
  ``ROOT/training/``) with the ground truth ``patientNNN_frameFF_gt.nii.gz`` and Valvano
  et al.'s scribbles ``patientNNN_frameFF_scribble.nii.gz`` (the name WSL4MIS's converter
  reads, with the h5 ``scribble``'s values); ``.nii`` works too. Read with nibabel
  (``pip install 'scribblesim[medical]'``). Slices run along the third NIfTI axis, each
  transposed to (y, x) as SimpleITK (WSL4MIS's converter) orders the array, so a frame's
  slices match its h5 volume's.

Each slice is one image ``patientNNN_frameFF_zZZ`` (ZZ from 00):

- image: 8-bit grayscale, ``round(255 * value)`` of the h5's [0, 1] image (a volume with
  values outside [0, 1] is min-max scaled first); a NIfTI volume is first clipped at its
  99th percentile (the smallest value with at least 99 % of the voxels at or below it) and
  min-max scaled, as WSL4MIS's converter made the h5 files;
- dense ground truth: the label slice (0 background, 1 RV, 2 MYO, 3 LV);
- instances: the 8-connected components of each class (see
  :func:`~scribblesim.datasets.base.class_components`), the objects that ``scribblesim
  stats`` reads back from the ground truth;
- human scribbles (when every volume has them): the scribble slice, unlabelled 4 -> 255.

Every slice is kept, with or without structures (ACDC counts all of them). Every volume
either has scribbles or none has; the build's human set covers every slice. Volumes are
checked when listed (names, datasets, shapes: a bad one stops the build with one line);
a slice with values outside the classes is skipped with its reason.

Splits (:func:`split_slices`): by default 9:1 by patient (no patient on both sides), the
patients shuffled by ``--split-seed``; ``--val-patients`` names the validation patients;
``by="slice"`` is the paper's random 9:1 split of slices. Of ``n`` patients (slices),
``n - floor(9 n / 10)`` (= ceil(n / 10)) go to validation: 80 patients give 72 / 8, and
ACDC's 1,902 slices the paper's 1,711 / 191.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..engine.result import UNLABELLED
from ..errors import ConfigError, DatasetError
from .base import LoadedSample, class_components
from .volumes import (
    NIFTI_EXTENSIONS,
    clipped_eight_bit,
    eight_bit,
    h5py_module,
    nifti_shape,
    read_nifti_slices,
)

CLASS_NAMES = ["background", "RV", "MYO", "LV"]
#: Long names of the classes (right ventricle, myocardium, left ventricle cavity).
LONG_NAMES = ["background", "right ventricle", "myocardium", "left ventricle"]
#: Value of unlabelled pixels in the source scribbles (WSL4MIS trains with ignore_index=4).
SOURCE_UNLABELLED = 4
H5_FOLDER = "ACDC_training_volumes"
#: Suffixes of the NIfTI ground truth and scribble volumes next to a frame's image.
GT_SUFFIX = "_gt"
SCRIBBLE_SUFFIX = "_scribble"
SPLIT_BY = ("patient", "slice")
#: Share of patients (or slices) in the training split: floor(9 n / 10) of n.
TRAIN_SHARE = (9, 10)

_FRAME = re.compile(r"patient(\d+)_frame(\d+)")


@dataclass(frozen=True)
class AcdcVolume:
    """One frame's volume: where its image, ground truth and scribbles are, and its slice count.

    For an h5 volume, ``image``, ``label`` and ``scribble`` are the same file (``scribble``
    None if it has no ``scribble`` dataset). ``stamp`` (modification time and size of each
    file) keeps a cached read from outliving a change of the files.
    """

    stem: str
    patient: int
    layout: str
    image: Path
    label: Path
    scribble: Path | None
    slices: int
    stamp: tuple[int, ...]


@dataclass(frozen=True)
class AcdcSlice:
    """One slice of a volume: a build's image ``patientNNN_frameFF_zZZ``."""

    name: str
    volume: AcdcVolume
    index: int
    image_path: Path | None = None
    #: The build writes the image from :attr:`LoadedSample.pixels` (there is no image file).
    generates_image: ClassVar[bool] = True
    #: Every slice counts as annotated (its ground truth says where the structures are, or that there are none).
    annotated: ClassVar[bool] = True

    @property
    def patient(self) -> int:
        return self.volume.patient

    def load(self) -> LoadedSample:
        """The slice's image, ground truth, instances and human scribbles.

        Raises
        ------
        DatasetError
            If the volume cannot be read, or the slice holds a label or scribble value
            that is no class.
        """
        image, label, scribble = _volume_arrays(self.volume)
        semantic = _checked(label[self.index], "label", range(len(CLASS_NAMES)), self)
        human = None
        if scribble is not None:
            values = _checked(scribble[self.index], "scribble", range(SOURCE_UNLABELLED + 1), self)
            human = np.where(values == SOURCE_UNLABELLED, UNLABELLED, values).astype(np.uint8)
        masks, classes = class_components(semantic)
        return LoadedSample(
            self.name,
            self.name,
            masks,
            classes,
            np.zeros(semantic.shape, dtype=bool),
            semantic,
            None,
            pixels=image[self.index].copy(),
            human=human,
        )


def _checked(values: np.ndarray, what: str, allowed: range, where: AcdcSlice) -> np.ndarray:
    """``values`` as uint8 if every one is an integer in ``allowed``; else a DatasetError naming the slice."""
    bad = ~np.isin(values, np.arange(allowed.start, allowed.stop))
    if bad.any():
        value = values[bad].flat[0]
        path = where.volume.label if what == "label" else where.volume.scribble
        raise DatasetError(
            f"{path}: {what} value {value:g} in slice {where.index} is not one of {allowed.start}..{allowed.stop - 1}"
        )
    return values.astype(np.uint8)


# ---------------------------------------------------------------------------------------
# Reading volumes
# ---------------------------------------------------------------------------------------


def _stamp(*paths: Path | None) -> tuple[int, ...]:
    stamp: list[int] = []
    for path in dict.fromkeys(p for p in paths if p is not None):
        status = path.stat()
        stamp += [status.st_mtime_ns, status.st_size]
    return tuple(stamp)


def _frame_stem(path: Path, extension: str) -> tuple[str, int] | None:
    """``(stem, patient)`` of a frame file named ``patientNNN_frameFF{extension}``, else None."""
    stem = path.name[: -len(extension)] if path.name.endswith(extension) else None
    match = _FRAME.fullmatch(stem) if stem else None
    return (stem, int(match.group(1))) if stem and match else None


def _h5_volume(path: Path) -> AcdcVolume:
    found = _frame_stem(path, ".h5")
    if found is None:
        raise DatasetError(f"{path}: not named patientNNN_frameFF.h5")
    h5py = h5py_module()
    try:
        with h5py.File(path, "r") as handle:
            names = sorted(handle.keys())
            shapes = {key: handle[key].shape for key in ("image", "label", "scribble") if key in handle}
    except OSError as error:
        raise DatasetError(f"{path}: unreadable HDF5 file ({error})") from None
    for key in ("image", "label"):
        if key not in shapes:
            raise DatasetError(f"{path}: no {key!r} dataset (holds {', '.join(names) or 'nothing'})")
    _check_shapes(path, shapes)
    return AcdcVolume(
        found[0],
        found[1],
        "h5",
        path,
        path,
        path if "scribble" in shapes else None,
        int(shapes["image"][0]),
        _stamp(path),
    )


def _check_shapes(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    image = shapes["image"]
    if len(image) != 3 or 0 in image:
        raise DatasetError(f"{path}: 'image' has shape {image}, expected (slices, height, width)")
    for key, shape in shapes.items():
        if shape != image:
            raise DatasetError(f"{path}: {key!r} has shape {shape}, 'image' {image}")


def _nifti_path(folder: Path, stem: str) -> Path | None:
    return next((folder / f"{stem}{ext}" for ext in NIFTI_EXTENSIONS if (folder / f"{stem}{ext}").is_file()), None)


def _nifti_volume(image: Path, stem: str, patient: int) -> AcdcVolume:
    label = _nifti_path(image.parent, f"{stem}{GT_SUFFIX}")
    if label is None:
        raise DatasetError(f"{image}: no ground truth {stem}{GT_SUFFIX}.nii.gz next to it")
    scribble = _nifti_path(image.parent, f"{stem}{SCRIBBLE_SUFFIX}")
    shapes = {"image": nifti_shape(image), "label": nifti_shape(label)}
    if scribble is not None:
        shapes["scribble"] = nifti_shape(scribble)
    names = {"image": image.name, "label": label.name, "scribble": scribble.name if scribble else ""}
    first = shapes["image"]
    for key, shape in shapes.items():
        if shape != first:
            raise DatasetError(f"{image.parent / names[key]}: volume of shape {shape}, {image.name} {first}")
    return AcdcVolume(stem, patient, "nifti", image, label, scribble, first[0], _stamp(image, label, scribble))


def _nifti_images(root: Path) -> list[tuple[Path, str, int]]:
    """``(path, stem, patient)`` of every frame image under ``root/patient*/`` and ``root/training/patient*/``."""
    found = []
    for folder in sorted([*root.glob("patient*"), *root.glob("training/patient*")]):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            for extension in NIFTI_EXTENSIONS:
                frame = _frame_stem(path, extension)
                if frame is not None:
                    found.append((path, *frame))
    return found


def acdc_volumes(root: Path) -> list[AcdcVolume]:
    """Every frame volume under ``root``, sorted by name (see the module docstring).

    Raises
    ------
    DatasetError
        A missing root, no volume, a frame in both layouts, or a volume whose name,
        datasets or shapes are wrong (one line naming the file).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: ScribbleACDC root not found")
    h5_folder = root / H5_FOLDER
    h5_files = sorted((h5_folder if h5_folder.is_dir() else root).glob("*.h5"))
    volumes = {}
    for path in h5_files:
        volume = _h5_volume(path)
        volumes[volume.stem] = volume
    for path, stem, patient in _nifti_images(root):
        if stem in volumes:
            raise DatasetError(f"{path}: frame {stem} is also {volumes[stem].image}; keep one of the two")
        volumes[stem] = _nifti_volume(path, stem, patient)
    if not volumes:
        raise DatasetError(
            f"{root}: no volumes (expected {H5_FOLDER}/patientNNN_frameFF.h5 or patientNNN/patientNNN_frameFF.nii.gz)"
        )
    return [volumes[stem] for stem in sorted(volumes)]


def _integers(values: np.ndarray, path: Path) -> np.ndarray:
    if values.dtype.kind in "iub":
        return values
    values = np.asarray(values, dtype=np.float64)
    if not np.array_equal(values, np.round(values)):
        raise DatasetError(f"{path}: label volume holds non-integer values")
    return values.astype(np.int64)


@functools.lru_cache(maxsize=4)
def _volume_arrays(volume: AcdcVolume) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """The 8-bit image, the labels and the scribbles (or None) of a volume, (slices, H, W) each.

    Cached per process: a worker reads a volume once for its consecutive slices.
    """
    if volume.layout == "h5":
        h5py = h5py_module()
        try:
            with h5py.File(volume.image, "r") as handle:
                image = handle["image"][()]
                label = handle["label"][()]
                scribble = handle["scribble"][()] if volume.scribble is not None else None
        except (OSError, KeyError) as error:
            raise DatasetError(f"{volume.image}: unreadable HDF5 file ({error})") from None
        pixels = eight_bit(image, volume.image)
    else:
        pixels = clipped_eight_bit(read_nifti_slices(volume.image), volume.image)
        label = read_nifti_slices(volume.label)
        scribble = read_nifti_slices(volume.scribble) if volume.scribble is not None else None
    arrays = (
        pixels,
        _integers(label, volume.label),
        None if scribble is None or volume.scribble is None else _integers(scribble, volume.scribble),
    )
    for array in arrays:
        if array is not None:
            array.flags.writeable = False  # shared by the cache
    return arrays


# ---------------------------------------------------------------------------------------
# Listing and splitting
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcdcData:
    """What a ScribbleACDC root holds: its volumes and their slices."""

    root: Path
    volumes: tuple[AcdcVolume, ...]
    slices: tuple[AcdcSlice, ...]

    @property
    def human(self) -> bool:
        """Whether the volumes carry human scribbles (all of them do, or none)."""
        return self.volumes[0].scribble is not None

    @property
    def patients(self) -> list[int]:
        return sorted({v.patient for v in self.volumes})

    @property
    def layouts(self) -> list[str]:
        return sorted({v.layout for v in self.volumes})


#: A slice's name: its volume's, then ``_z`` and its index (``patient001_frame01_z03``).
_SLICE_NAME = re.compile(r"^(?P<volume>.+)_z(?P<index>[0-9]+)$")


def slice_name(volume: str, index: int) -> str:
    """The image name of slice ``index`` of ``volume`` (``patientNNN_frameFF``): ``patientNNN_frameFF_zZZ``."""
    return f"{volume}_z{index:02d}"


def volume_of(name: str) -> str | None:
    """The volume an image named as a slice belongs to (``patient001_frame01`` of ``patient001_frame01_z03``),
    or None for a name that is no slice's."""
    found = _SLICE_NAME.match(name)
    return found["volume"] if found else None


def read_acdc(root: Path) -> AcdcData:
    """The volumes under ``root`` and their slices, named ``patientNNN_frameFF_zZZ``.

    Raises
    ------
    DatasetError
        As :func:`acdc_volumes`, and if some volumes have scribbles and others not.
    """
    volumes = acdc_volumes(root)
    with_scribbles = [v for v in volumes if v.scribble is not None]
    if with_scribbles and len(with_scribbles) < len(volumes):
        lacking = next(v for v in volumes if v.scribble is None)
        raise DatasetError(
            f"{lacking.image}: no scribbles, where {len(with_scribbles)} of {len(volumes)} volumes have them "
            "(the human set must cover every slice)"
        )
    slices = [AcdcSlice(slice_name(v.stem, z), v, z) for v in volumes for z in range(v.slices)]
    return AcdcData(Path(root), tuple(volumes), tuple(sorted(slices, key=lambda s: s.name)))


def parse_patients(values: Sequence[str], known: Sequence[int], option: str = "--val-patients") -> list[int]:
    """Patient numbers from ``values`` (``"7"``, ``"007"`` or ``"patient007"``), each one of ``known``.

    Raises
    ------
    ConfigError
        One line naming a value that is no patient number, or a patient not in ``known``.
    """
    numbers = []
    for value in values:
        match = re.fullmatch(r"(?:patient)?(\d+)", value.strip())
        if match is None:
            raise ConfigError(f"{option}: not a patient number: {value!r}")
        numbers.append(int(match.group(1)))
    if not numbers:
        raise ConfigError(f"{option}: no patient named")
    missing = sorted(set(numbers) - set(known))
    if missing:
        raise ConfigError(
            f"{option}: no patient {', '.join(map(str, missing))} in the root "
            f"({len(known)} patients, {min(known)}..{max(known)})"
        )
    return sorted(set(numbers))


def validation_count(n: int) -> int:
    """Items of ``n`` in the validation split: ``n - floor(9 n / 10)``, i.e. ceil(n / 10)."""
    return n - (TRAIN_SHARE[0] * n) // TRAIN_SHARE[1]


def split_slices(
    slices: Sequence[AcdcSlice],
    *,
    by: str = "patient",
    seed: int = 0,
    val_patients: Sequence[int] | None = None,
) -> dict[str, list[AcdcSlice]]:
    """The ``train`` and ``val`` slices (see the module docstring).

    Parameters
    ----------
    slices : sequence of AcdcSlice
    by : {"patient", "slice"}
        Split patients (no patient on both sides) or slices, 9:1 at random.
    seed : int
        Seed of the shuffle (``numpy.random.default_rng(seed).permutation``) of the sorted
        patients (slices); the first :func:`validation_count` go to validation.
    val_patients : sequence of int, optional
        The validation patients (``by="patient"`` only); the others train.

    Raises
    ------
    ConfigError
        An unknown ``by``, ``val_patients`` with ``by="slice"``, or a split that leaves
        one side empty.
    """
    if by not in SPLIT_BY:
        raise ConfigError(f"--split-by: must be one of {', '.join(SPLIT_BY)}, got {by!r}")
    if by == "slice":
        if val_patients is not None:
            raise ConfigError("--val-patients: only with --split-by patient")
        names = sorted(s.name for s in slices)
        order = np.random.default_rng(seed).permutation(len(names))
        chosen_names = {names[i] for i in order[: validation_count(len(names))]}
        val = [s for s in slices if s.name in chosen_names]
        what = f"{len(names)} slice{'s' if len(names) != 1 else ''}"
    else:
        patients = sorted({s.patient for s in slices})
        if val_patients is None:
            order = np.random.default_rng(seed).permutation(len(patients))
            val_patients = [patients[i] for i in order[: validation_count(len(patients))]]
        chosen = set(val_patients)
        val = [s for s in slices if s.patient in chosen]
        what = f"{len(patients)} patient{'s' if len(patients) != 1 else ''}"
    val_names = {s.name for s in val}
    train = [s for s in slices if s.name not in val_names]
    if not train or not val:
        raise ConfigError(
            f"--split-by {by}: a 9:1 split of {what} leaves the {'training' if not train else 'validation'} split empty "
            "(name fewer --val-patients, or add volumes)"
        )
    return {"train": sorted(train, key=lambda s: s.name), "val": sorted(val, key=lambda s: s.name)}
