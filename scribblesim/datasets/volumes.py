"""Medical volume files: WSL4MIS's h5 and NIfTI, read as the 8-bit slices ScribbleACDC is built from.

A volume is (slices, height, width): the h5 file's ``image`` dataset as it is stored, a NIfTI
file's third axis first with each slice transposed to (y, x), as SimpleITK (WSL4MIS's
converter) orders the array. Pixels become 8-bit as the ACDC build writes them: an h5 image
in [0, 1] as ``round(255 * value)`` (min-max scaled first if outside [0, 1]); a NIfTI image
clipped at its 99th percentile and min-max scaled first, as WSL4MIS's converter made the h5
files. :func:`write_label_volume` writes class ids back in the input's own format and
geometry (a NIfTI's shape, affine and header), so that medical viewers overlay them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DatasetError

NIFTI_EXTENSIONS = (".nii.gz", ".nii")
#: Every volume file read here: WSL4MIS's h5, then NIfTI.
VOLUME_EXTENSIONS = (".h5", *NIFTI_EXTENSIONS)
#: Percentile at which NIfTI volumes are clipped before min-max scaling (WSL4MIS's converter).
NIFTI_CLIP = 0.99
#: The dataset of an h5 volume that holds its image, and the one a label volume is written to.
H5_IMAGE, H5_LABEL = "image", "label"


def volume_extension(path: Path) -> str | None:
    """The extension of a volume file (``.h5``, ``.nii.gz``, ``.nii``), or None for any other file."""
    return next((ext for ext in VOLUME_EXTENSIONS if path.name.lower().endswith(ext)), None)


def h5py_module():
    """h5py, a dependency of scribblesim (imported only where volumes are read)."""
    import h5py

    return h5py


def nibabel_module():
    """nibabel, or a one-line error naming the extra that brings it."""
    try:
        import nibabel
    except ImportError:
        raise ConfigError("reading NIfTI volumes needs nibabel: pip install 'scribblesim[medical]'") from None
    return nibabel


def eight_bit(image: np.ndarray, path: Path) -> np.ndarray:
    """Values in [0, 1] (min-max scaled if they are not) as 8-bit ``round(255 * value)``."""
    image = np.asarray(image, dtype=np.float64)
    if not np.isfinite(image).all():
        raise DatasetError(f"{path}: image holds non-finite values")
    low, high = float(image.min()), float(image.max())
    if low < 0.0 or high > 1.0:
        image = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def clipped_eight_bit(raw: np.ndarray, path: Path) -> np.ndarray:
    """A NIfTI image clipped at its :data:`NIFTI_CLIP` percentile, min-max scaled, as 8 bits."""
    raw = np.asarray(raw, dtype=np.float64)
    if not np.isfinite(raw).all():
        raise DatasetError(f"{path}: image holds non-finite values")
    clipped = np.clip(raw, raw.min(), np.quantile(raw, NIFTI_CLIP, method="inverted_cdf"))
    low, high = float(clipped.min()), float(clipped.max())
    return eight_bit((clipped - low) / (high - low) if high > low else np.zeros_like(clipped), path)


def _load_nifti(path: Path):
    nibabel = nibabel_module()
    try:
        return nibabel.load(path)
    except Exception as error:  # nibabel raises ImageFileError, OSError, EOFError, ValueError...
        raise DatasetError(f"{path}: unreadable NIfTI file ({type(error).__name__}: {error})") from None


def _slices_shape(image, path: Path) -> tuple[int, int, int]:
    """(slices, height, width) of a loaded NIfTI image's header; trailing axes of 1 dropped."""
    shape = tuple(int(n) for n in image.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) != 3 or 0 in shape:
        raise DatasetError(f"{path}: NIfTI volume of shape {shape}, expected 3 axes (x, y, slices)")
    return shape[2], shape[1], shape[0]


def nifti_shape(path: Path) -> tuple[int, int, int]:
    """(slices, height, width) of a NIfTI volume, read from its header; trailing axes of 1 dropped."""
    return _slices_shape(_load_nifti(path), path)


def read_nifti_slices(path: Path) -> np.ndarray:
    """A NIfTI volume as (slices, height, width): the third axis first, each slice transposed."""
    image = _load_nifti(path)
    _slices_shape(image, path)  # three axes, or one line saying otherwise
    try:
        data = np.asanyarray(image.dataobj)
    except Exception as error:  # a truncated file fails only when its data is read
        raise DatasetError(f"{path}: unreadable NIfTI file ({type(error).__name__}: {error})") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    return np.ascontiguousarray(np.transpose(data, (2, 1, 0)))


def read_image_volume(path: Path) -> np.ndarray:
    """The 8-bit (slices, height, width) image of an h5 or NIfTI volume file, as the ACDC build makes it.

    Raises
    ------
    DatasetError
        One line naming the file: not a volume file, unreadable, no ``image`` dataset, or
        not three axes.
    """
    path = Path(path)
    extension = volume_extension(path)
    if extension is None:
        raise DatasetError(f"{path}: not a volume file ({', '.join(VOLUME_EXTENSIONS)})")
    if extension in NIFTI_EXTENSIONS:
        return clipped_eight_bit(read_nifti_slices(path), path)
    try:
        with h5py_module().File(path, "r") as handle:
            if H5_IMAGE not in handle:
                raise DatasetError(f"{path}: no {H5_IMAGE!r} dataset (holds {', '.join(sorted(handle)) or 'nothing'})")
            image = handle[H5_IMAGE][()]
    except OSError as error:
        raise DatasetError(f"{path}: unreadable HDF5 file ({error})") from None
    if image.ndim != 3 or 0 in image.shape:
        raise DatasetError(f"{path}: {H5_IMAGE!r} has shape {image.shape}, expected (slices, height, width)")
    return eight_bit(image, path)


def write_label_volume(labels: np.ndarray, like: Path, out: Path) -> None:
    """Write (slices, height, width) class ids ``labels`` as a volume in ``like``'s format, atomically.

    h5: a file with one dataset ``label`` (uint8, gzip; uint16 where an id is above 255),
    shaped as ``like``'s image. NIfTI: a volume of that dtype with ``like``'s shape (its axes
    and trailing axes of 1), affine and header.
    """
    like, out = Path(like), Path(out)
    extension = volume_extension(like)
    if extension is None:
        raise DatasetError(f"{like}: not a volume file ({', '.join(VOLUME_EXTENSIONS)})")
    labels = np.asarray(labels)
    labels = labels.astype(np.uint8 if labels.max(initial=0) <= 255 else np.uint16)
    out.parent.mkdir(parents=True, exist_ok=True)
    # the same extension, so that nibabel writes the format (and compression) it names
    temporary = out.with_name(f".{out.name[: -len(extension)]}.{os.getpid()}.tmp{extension}")
    try:
        if extension == ".h5":
            with h5py_module().File(temporary, "w") as handle:
                handle.create_dataset(H5_LABEL, data=labels, compression="gzip")
        else:
            source = _load_nifti(like)
            data = np.transpose(labels, (2, 1, 0)).reshape(source.shape)
            header = source.header.copy()
            header.set_data_dtype(labels.dtype)
            image = type(source)(data, source.affine, header)
            image.header.set_slope_inter(1.0, 0.0)  # class ids as stored, not rescaled intensities
            image.to_filename(temporary)
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
