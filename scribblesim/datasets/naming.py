"""Output names of images: the one rule that turns where an image lies into the name a build writes.

A build writes ``JPEGImages/{name}.jpg``, ``SegmentationClassAug/{name}.png``, one
``{set}/{name}.png`` per set and a line ``name`` in the split list, so two images with one
name would overwrite each other. :func:`image_names` gives every image a name of its own:

1. the file's stem (``a/000001.jpg`` -> ``000001``) wherever no other image of the build has
   the same stem: every name that is unique today stays as it is, so the authors' loader and
   existing builds are unaffected;
2. otherwise the path relative to the image root without its suffix, folders joined by
   ``__`` (``cam1/000001.jpg`` -> ``cam1__000001``; ``.`` and ``..`` parts left out);
3. where even that is shared (``a/x.jpg`` and ``a/x.png``, or one file listed twice as two
   images), that name, ``-`` and 8 hex digits of the SHA-1 of the image's own key
   (``a__x-1f3a9c2e``), which is stable from run to run.

No name holds a path separator, so no name reaches outside the output folder, whatever
``..`` a file name holds.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import PurePosixPath

#: Joins the folders of a path in a name (readable, and never a path separator).
FOLDER_JOIN = "__"


def _parts(path: str) -> list[str]:
    """The path's parts (``/`` or ``\\`` separated), without empty, ``.`` and ``..`` ones."""
    return [part for part in path.replace("\\", "/").split("/") if part not in ("", ".", "..")]


def _without_suffix(part: str) -> str:
    return PurePosixPath(part).stem  # as pathlib takes a suffix off, so that today's names stay


def _stem(path: str) -> str:
    """pathlib's stem (today's names), or ``""`` where the path ends in no file name (``a/..``)."""
    stem = PurePosixPath(path.replace("\\", "/")).stem
    return "" if stem in (".", "..") else stem


def _folder_name(path: str) -> str:
    parts = _parts(path)
    return FOLDER_JOIN.join([*parts[:-1], _without_suffix(parts[-1])]) if parts else ""


def _hashed(name: str, key: str) -> str:
    return f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def image_names(paths: Sequence[str], keys: Sequence[str] | None = None) -> list[str]:
    """A name of its own for every image (the rule is in this module's docstring).

    Parameters
    ----------
    paths : sequence of str
        Each image's path relative to the image root (``/`` or ``\\`` separated), with or
        without its suffix.
    keys : sequence of str, optional
        What tells two images apart where their paths are the same (e.g. COCO image ids);
        by default the paths.

    Returns
    -------
    list of str
        One name per path, in their order; no two equal, none empty, none holding ``/`` or
        ``\\``.
    """
    keys = list(paths) if keys is None else list(keys)
    if len(keys) != len(paths):
        raise ValueError(f"{len(paths)} paths and {len(keys)} keys")
    stems = [_stem(path) for path in paths]
    stem_counts = Counter(stems)
    kept = [bool(stem) and stem_counts[stem] == 1 for stem in stems]
    names = [stem if keep else _folder_name(path) for stem, keep, path in zip(stems, kept, paths)]
    counts = Counter(names)
    # a kept stem stays as it is, even where a folder name equals it: the folder name gets the suffix
    names = [
        name if keep or (name and counts[name] == 1) else _hashed(name or "image", f"{path}\n{key}")
        for name, keep, path, key in zip(names, kept, paths, keys)
    ]
    # the suffixes of distinct keys differ (SHA-1), unless a path and key repeat exactly
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise ValueError(f"images with the same path and key: {repeated[:3]}")
    return names
