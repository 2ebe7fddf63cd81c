"""Simulation parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError

BackgroundSplit = Literal["none", "horizontal"]
StrokePosition = Literal["centred", "random"]
StrokePath = Literal["root-to-leaf", "leaf-to-leaf", "chord"]
BackgroundPlacement = Literal["medial", "around"]
#: Per class id, the fields its objects' strokes draw with instead (see ``SimConfig.per_class``).
ClassStyles = tuple[tuple[int, tuple[tuple[str, Any], ...]], ...]


@dataclass(frozen=True)
class SimConfig:
    """Parameters of the scribble simulation (paper Section IV).

    Parameters
    ----------
    erosion_kernel : int
        Side ``k`` of the square kernel that erodes an object before its boundary
        scribble is traced (at full resolution; an even ``k`` is rounded up to the next
        odd size so the kernel is centred); the radial jitter ``delta`` of Eq. 21 is
        drawn from ``[-k, k]``.
    width : int
        Stroke thickness in pixels, as OpenCV's ``cv2.polylines`` thickness: 1 is a
        thin 8-connected line, ``w >= 2`` a round brush of radius ``(w + 1) / 2``. The
        default 2 is the reference simulator's 2-px polyline, about 3 pixels across.
    line_connectivity : {8, 4}
        How a 1-px stroke's pixels connect: 8 is OpenCV's thin line; 4 adds the pixel
        across each diagonal step's corner, as a pen dragged through pixels that share a
        side draws (about 1.3 pixels per pixel of length against 0.9: ScribbleACDC's
        experts label 1.2). Wider strokes ignore it.
    min_area : int
        Objects with this many visible pixels or fewer get no stroke (recorded as skipped).
    boundary_min_ratio : float
        Boundary style is possible only when the area ratio ``P`` (Eq. 20) reaches this
        value and the object is one connected component; it is then chosen with
        probability ``P``.
    background : bool
        Draw background scribbles.
    background_split : {"none", "horizontal"}
        ``"none"``: one background stroke, on the largest piece of the background's
        skeleton. ``"horizontal"`` (the paper's Cityscapes setting, as its reference
        code does it): a band of rows around the middle row is left unscribbled, which
        splits the background into an upper and a lower part, and every piece of their
        skeleton gets a background stroke.
    background_band : float
        Height of that band as a share of the image height: 201 rows on Cityscapes'
        1024, the reference's band.
    background_placement : {"medial", "around"}
        ``"medial"``: the paper's background stroke on the background's skeleton, far
        from the objects. ``"around"``: a loop around each group of objects, as
        ScribbleACDC's experts draw it, ``background_margin`` outside them (runs of it
        that reach the image border are left out there); an image without objects keeps
        the medial stroke. Needs ``background_split="none"``.
    background_margin : float
        How far outside the objects the ``"around"`` loop runs, in units of their
        equivalent radius (the radius of a disc of their total area).
    background_width : int or None
        Thickness of background strokes, as ``width`` (``None``: ``width``).
    clip_to_mask : bool
        Keep only stroke pixels that lie on their own object (or on background for
        background strokes), so that scribbles are always correct.
    bezier_degree : int
        Highest degree of a Bezier piece; long strokes are smoothed piecewise.
    control_spacing : float
        Arc length in pixels between consecutive Bezier control points of a line stroke.
    max_work_pixels : int or None
        Objects whose bounding box holds more pixels than this get their line-stroke
        skeleton on a proportionally coarser grid; the path is mapped back to full
        resolution before smoothing, rasterising and clipping (it is smoothed anyway).
        ``None`` analyses every object at full resolution. Boundary strokes are always
        traced at full resolution.
    background_work_pixels : int or None
        The same cap for each background part (kept cells: all background). The
        default puts COCO-size images (up to 640 x 640) on a 2x grid, where the
        background's medial axis costs a quarter; its strokes keep the reference's pixel
        counts (see docs/fidelity.md).

    Style knobs (off by default, when the paper's style is drawn exactly):

    stroke_path : {"root-to-leaf", "leaf-to-leaf", "chord"}
        The path of a line stroke: on the skeleton from the DFS root to a random leaf (the
        paper's Algorithm 1), or between two random leaves through the tree; or a
        ``"chord"``, a straight line through the object's deepest pixel at a random angle
        from border to border (a round object's skeleton is nearly a point, and an
        annotator crosses it).
    stroke_extension : float
        Both ends of a line stroke's path carry on straight for this many inscribed
        radii (clipped to the object): a hand overshoots a blob's short skeleton.
    stroke_length : float or None
        Share of the chosen skeleton path's length that a line stroke keeps (``None``:
        all of it), at the place ``stroke_position`` says: ``"centred"`` or ``"random"``.
    inset : float
        Line strokes keep to the stretch of their path at least ``inset`` x the
        object's inscribed radius from its boundary (0: the whole path).
    strokes_per_object : int
        Line strokes per object, each on its own random path (boundary-style objects
        keep one stroke). Paths share the skeleton's root, so whole strokes touch; with
        a ``stroke_length`` at ``"random"`` places they mostly lie apart.
    boundary_probability : float or None
        Chance of boundary style for every connected object, whatever its size
        (``None``: its area ratio P, as Eq. 20, from ``boundary_min_ratio`` up).
    boundary_inset : float or None
        Boundary strokes follow the object's pixels at least this share of its inscribed
        radius deep, jittered by half that depth: a loop that keeps its distance from the
        boundary on objects of any size (``None``: the paper's erosion by
        ``erosion_kernel`` pixels, jittered by as much).
    boundary_spiral : float
        Boundary strokes spiral inwards instead of closing: from a random point of the
        loop, its distance to the outline's centroid shrinks steadily to ``1 -
        boundary_spiral`` of itself over one turn (0: a closed loop). An annotator who
        circles a cavity near its edge and curls into it.
    wobble_amplitude, wobble_wavelength : float
        Hand wobble of line strokes: a sideways sine of this amplitude and wavelength,
        both in units of the object's inscribed radius, random phase (amplitude 0: none).
    zigzag_reach, zigzag_wavelength : float
        Hatching: line strokes zigzag sideways to ``zigzag_reach`` x the object's local
        depth (its distance to the boundary where the path runs, so a reach below 1 stays
        inside and fills the object), one full zigzag every ``zigzag_wavelength``
        inscribed radii of path, random phase (reach 0: none).

    Styles per class:

    per_class : mapping of class id to a mapping of fields, optional
        The objects of a class are drawn with these fields instead (e.g. ``{2:
        {"boundary_probability": 0.0}}``: class 2 gets line strokes); any field but the
        background's (:data:`CLASS_FIELDS`). Kept as sorted ``(id, ((field, value), ...))``
        pairs; :meth:`to_dict` writes ``{"2": {...}}``, which the constructor takes back.
    """

    erosion_kernel: int = 20
    width: int = 2
    line_connectivity: int = 8
    min_area: int = 5
    boundary_min_ratio: float = 0.1
    background: bool = True
    background_split: BackgroundSplit = "none"
    clip_to_mask: bool = True
    bezier_degree: int = 5
    control_spacing: float = 6.0
    max_work_pixels: int | None = 4096
    background_work_pixels: int | None = 160_000
    background_band: float = 201 / 1024
    background_placement: BackgroundPlacement = "medial"
    background_margin: float = 0.4
    background_width: int | None = None
    stroke_path: StrokePath = "root-to-leaf"
    stroke_extension: float = 0.0
    stroke_length: float | None = None
    stroke_position: StrokePosition = "centred"
    inset: float = 0.0
    strokes_per_object: int = 1
    boundary_probability: float | None = None
    boundary_inset: float | None = None
    boundary_spiral: float = 0.0
    wobble_amplitude: float = 0.0
    wobble_wavelength: float = 2.0
    zigzag_reach: float = 0.0
    zigzag_wavelength: float = 1.0
    per_class: ClassStyles = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_class", _class_styles(self.per_class))
        if self.erosion_kernel < 1:
            raise ConfigError(f"erosion_kernel must be >= 1, got {self.erosion_kernel}")
        if self.width < 1:
            raise ConfigError(f"width must be >= 1, got {self.width}")
        if self.line_connectivity not in (4, 8):
            raise ConfigError(f"line_connectivity must be 4 or 8, got {self.line_connectivity}")
        if self.min_area < 0:
            raise ConfigError(f"min_area must be >= 0, got {self.min_area}")
        if not 0.0 <= self.boundary_min_ratio <= 1.0:
            raise ConfigError(f"boundary_min_ratio must lie in [0, 1], got {self.boundary_min_ratio}")
        if self.background_split not in ("none", "horizontal"):
            raise ConfigError(f"background_split must be 'none' or 'horizontal', got {self.background_split!r}")
        if self.bezier_degree < 1:
            raise ConfigError(f"bezier_degree must be >= 1, got {self.bezier_degree}")
        if self.control_spacing <= 0:
            raise ConfigError(f"control_spacing must be > 0, got {self.control_spacing}")
        for name in ("max_work_pixels", "background_work_pixels"):
            cap = getattr(self, name)
            if cap is not None and cap < 64:
                raise ConfigError(f"{name} must be >= 64 or None, got {cap}")
        if self.background_placement not in ("medial", "around"):
            raise ConfigError(f"background_placement must be 'medial' or 'around', got {self.background_placement!r}")
        if self.background_margin <= 0:
            raise ConfigError(f"background_margin must be > 0, got {self.background_margin}")
        if self.background_width is not None and self.background_width < 1:
            raise ConfigError(f"background_width must be >= 1 or None, got {self.background_width}")
        if self.background_placement == "around" and self.background_split != "none":
            raise ConfigError("background_placement 'around' needs background_split 'none'")
        if not 0.0 <= self.background_band < 1.0:
            raise ConfigError(f"background_band must lie in [0, 1), got {self.background_band}")
        if self.stroke_extension < 0:
            raise ConfigError(f"stroke_extension must be >= 0, got {self.stroke_extension}")
        if self.stroke_length is not None and not 0.0 < self.stroke_length <= 1.0:
            raise ConfigError(f"stroke_length must lie in (0, 1] or be None, got {self.stroke_length}")
        if self.stroke_path not in ("root-to-leaf", "leaf-to-leaf", "chord"):
            raise ConfigError(
                f"stroke_path must be 'root-to-leaf', 'leaf-to-leaf' or 'chord', got {self.stroke_path!r}"
            )
        if self.stroke_position not in ("centred", "random"):
            raise ConfigError(f"stroke_position must be 'centred' or 'random', got {self.stroke_position!r}")
        if not 0.0 <= self.inset <= 1.0:
            raise ConfigError(f"inset must lie in [0, 1], got {self.inset}")
        if self.strokes_per_object < 1:
            raise ConfigError(f"strokes_per_object must be >= 1, got {self.strokes_per_object}")
        if self.boundary_probability is not None and not 0.0 <= self.boundary_probability <= 1.0:
            raise ConfigError(f"boundary_probability must lie in [0, 1] or be None, got {self.boundary_probability}")
        if not 0.0 <= self.boundary_spiral < 1.0:
            raise ConfigError(f"boundary_spiral must lie in [0, 1), got {self.boundary_spiral}")
        if self.boundary_inset is not None and not 0.0 < self.boundary_inset < 1.0:
            raise ConfigError(f"boundary_inset must lie in (0, 1) or be None, got {self.boundary_inset}")
        if self.wobble_amplitude < 0 or self.wobble_wavelength <= 0:
            raise ConfigError(
                f"need wobble_amplitude >= 0 and wobble_wavelength > 0, got {self.wobble_amplitude}, "
                f"{self.wobble_wavelength}"
            )
        if not 0.0 <= self.zigzag_reach <= 1.0 or self.zigzag_wavelength <= 0:
            raise ConfigError(
                f"need zigzag_reach in [0, 1] and zigzag_wavelength > 0, got {self.zigzag_reach}, "
                f"{self.zigzag_wavelength}"
            )

    def to_dict(self) -> dict:
        """Return the parameters as a JSON-serialisable dict (``per_class`` as ``{"id": {field: value}}``)."""
        values = asdict(self)
        values["per_class"] = {str(label): dict(overrides) for label, overrides in self.per_class}
        return values

    def for_class(self, label: int) -> SimConfig:
        """The config that objects of class ``label`` are drawn with (itself, unless ``per_class`` names it)."""
        for known, overrides in self.per_class:
            if known == label:
                return replace(self, per_class=(), **dict(overrides))
        return self

    @classmethod
    def from_file(
        cls, path: str | Path, base: SimConfig | None = None, class_names: Sequence[str] | None = None
    ) -> SimConfig:
        """The config of a style file: JSON of SimConfig fields, optionally in sections.

        ``"config"`` (or the whole file) sets fields; ``"background"`` sets background fields
        (those named ``background*``); ``"classes"`` maps a class, by id or by one of
        ``class_names``, to the fields its objects are drawn with (see ``per_class``).
        Fields it does not name keep ``base``'s values (default: ``SimConfig()``). Raises a
        one-line :class:`ConfigError` naming the file for unreadable JSON, unknown fields or
        classes, or bad values.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise ConfigError(f"{path}: not a readable style file ({error})") from None
        values = data.get("config", data) if isinstance(data, dict) else None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a JSON object of SimConfig fields")
        # the sections sit beside "config" (without it, "background" is the field of that name)
        sections = {key: data.get(key, {}) for key in ("background", "classes")} if "config" in data else {}
        if not all(isinstance(section, dict) for section in sections.values()):
            raise ConfigError(f"{path}: 'background' and 'classes' must be JSON objects")
        background = sections.get("background", {})
        if any(not name.startswith("background") for name in background):
            raise ConfigError(f"{path}: 'background' holds fields other than background_*: {sorted(background)}")
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(f"{path}: unknown SimConfig fields {', '.join(unknown)}")
        classes = {**dict(values.pop("per_class", None) or {}), **sections.get("classes", {})}
        try:
            config = replace(base or cls(), **{**values, **background})
            return replace(config, per_class=_class_styles(_class_ids(classes, class_names)))
        except (TypeError, ValueError) as error:
            raise ConfigError(f"{path}: {error}") from None


#: Fields that a class's own style may set: how its objects are drawn, not the background.
CLASS_FIELDS = frozenset(
    f.name for f in fields(SimConfig) if not f.name.startswith("background") and f.name != "per_class"
)


def _class_ids(classes: Mapping, class_names: Sequence[str] | None) -> dict[int, Any]:
    """``classes`` keyed by class id: ids as they are (``3`` or ``"3"``), names through ``class_names``."""
    resolved: dict[int, Any] = {}
    for key, overrides in classes.items():
        if isinstance(key, int) or str(key).isdigit():
            resolved[int(key)] = overrides
        elif class_names is not None and key in class_names:
            resolved[list(class_names).index(key)] = overrides
        else:
            known = f" (classes: {', '.join(class_names)})" if class_names is not None else ""
            raise ConfigError(f"unknown class {key!r}{known}")
    return resolved


def _class_styles(per_class: ClassStyles | Mapping) -> ClassStyles:
    """``per_class`` as sorted ``(id, ((field, value), ...))`` pairs, each checked as a config."""
    items = per_class.items() if isinstance(per_class, Mapping) else per_class
    styles = []
    for key, overrides in items:
        if not (isinstance(key, int) or str(key).isdigit()) or int(key) < 1:
            raise ConfigError(f"per_class: class ids are integers from 1 (0 is the background), got {key!r}")
        pairs = tuple(sorted(dict(overrides).items()))
        unknown = sorted(name for name, _ in pairs if name not in CLASS_FIELDS)
        if unknown:
            raise ConfigError(f"per_class: class {key}: fields {', '.join(unknown)} are not a class's own")
        replace(SimConfig(), **dict(pairs))  # checks the values
        styles.append((int(key), pairs))
    labels = [label for label, _ in styles]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"per_class: a class given twice ({labels})")
    return tuple(sorted(styles))
