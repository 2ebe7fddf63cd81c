"""Stage-2 evaluation protocols, without torch: what evaluation records and reports name.

``authors`` is the authors' ``evaluate.py``: the image resized so that its long side is
``scale * base_size`` for scales 0.5 to 2.0, each scale cut into ``window``-pixel sliding
windows at a stride of 2/3 of the window, the windows' class probabilities averaged where
they overlap, resized back to the image and averaged over the scales. ``single-scale``
runs the whole image once at its own size: fast, for checks and smoke runs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..catalog import PROTOCOLS
from ..errors import ConfigError
from .config import Stage2Config

#: The authors' scales, base size (the long side at scale 1) and window stride over window size.
AUTHORS_SCALES: tuple[float, ...] = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
AUTHORS_BASE_SIZE = 512
STRIDE_RATE = 2 / 3


@dataclass(frozen=True)
class EvalProtocol:
    """How the predictions that are scored are made.

    ``base_size`` and ``window`` are the authors' protocol's (``None`` for ``single-scale``,
    which scales the image's own size); ``flip`` also averages horizontally flipped views.
    """

    name: str
    scales: tuple[float, ...]
    flip: bool = False
    base_size: int | None = None
    window: int | None = None

    @property
    def stride(self) -> int | None:
        """Step between windows: 2/3 of the window, rounded up as the authors do (465 -> 310)."""
        return None if self.window is None else math.ceil(self.window * STRIDE_RATE)

    def to_dict(self) -> dict:
        """The JSON record of the protocol in an evaluation record."""
        return {
            "name": self.name,
            "scales": list(self.scales),
            "flip": self.flip,
            "base_size": self.base_size,
            "window": self.window,
            "stride": self.stride,
        }


def make_protocol(
    name: str, *, base_size: int, window: int, scales: Sequence[float] | None = None, flip: bool = False
) -> EvalProtocol:
    """The protocol ``name`` with its own scales unless ``scales`` is given.

    Raises a one-line :class:`ConfigError` for an unknown name or a non-positive size or scale.
    """
    if name not in PROTOCOLS:
        raise ConfigError(f"unknown evaluation protocol {name!r}; choose from {', '.join(PROTOCOLS)}")
    chosen = tuple(float(s) for s in scales) if scales else (AUTHORS_SCALES if name == "authors" else (1.0,))
    if any(not s > 0 for s in chosen):
        raise ConfigError(f"evaluation scales must be > 0, got {', '.join(map(str, chosen))}")
    if name == "single-scale":
        return EvalProtocol(name, chosen, flip)
    if base_size < 1 or window < 1:
        raise ConfigError(f"base size and window must be >= 1, got {base_size} and {window}")
    return EvalProtocol(name, chosen, flip, base_size, window)


def protocol_for(
    config: Stage2Config,
    name: str = "authors",
    *,
    scales: Sequence[float] | None = None,
    flip: bool = False,
    base_size: int | None = None,
    window: int | None = None,
) -> EvalProtocol:
    """The protocol ``name`` for a stage-2 run of ``config``.

    The base size defaults to the run's ``eval_base_size`` (512; the Cityscapes preset's
    2048) and the window to its training crop (the authors': 465 for both).
    """
    return make_protocol(
        name,
        base_size=config.eval_base_size if base_size is None else base_size,
        window=config.crop_size if window is None else window,
        scales=scales,
        flip=flip,
    )


@dataclass(frozen=True)
class ProtocolChoice:
    """A protocol as a command asks for it, before the run it scores is known.

    ``None`` takes the run's own: the protocol's scales, and the base size and window of
    :func:`protocol_for`.
    """

    name: str = "authors"
    scales: tuple[float, ...] | None = None
    flip: bool = False
    base_size: int | None = None
    window: int | None = None

    def for_run(self, config: Stage2Config) -> EvalProtocol:
        """The protocol for a stage-2 run of ``config`` (one-line :class:`ConfigError` if unusable)."""
        return protocol_for(
            config, self.name, scales=self.scales, flip=self.flip, base_size=self.base_size, window=self.window
        )


#: The authors' protocol at the run's sizes.
AUTHORS_PROTOCOL = ProtocolChoice()


def describe_protocol(record: dict | None) -> str:
    """One line naming an evaluation record's protocol, e.g. for reports."""
    if not isinstance(record, dict) or "name" not in record:
        return "unrecorded protocol"
    scales = ", ".join(f"{s:g}" for s in record.get("scales", []))
    flip = ", flipped" if record.get("flip") else ""
    if record["name"] == "single-scale":
        return f"single-scale (whole image at scales {scales}{flip})"
    return (
        f"{record['name']} (long side {record.get('base_size')} at scales {scales}, "
        f"{record.get('window')}-px windows at stride {record.get('stride')}{flip})"
    )
