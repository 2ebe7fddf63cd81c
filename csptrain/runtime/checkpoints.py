"""Checkpoints: atomic saves, resuming, the settings a run records, and loading a trained model."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch

from ..errors import ConfigError, RunFolderError, WeightsError
from ..models.weights import load_safely
from ..runs import TrainingRun, read_json_or_none, write_json_atomic
from .settings import RUN_SETTING_NAMES

ModelT = TypeVar("ModelT", bound=torch.nn.Module)
ConfigT = TypeVar("ConfigT")


def save_atomic(state: dict, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a killed run never leaves half a file."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp")
    torch.save(state, temp)
    os.replace(temp, path)


#: What every csptrain checkpoint holds; a resume also needs :data:`RESUME_KEYS`.
CHECKPOINT_KEYS = ("model", "config", "num_classes", "step")
RESUME_KEYS = ("optimizer", "torch_rng")
#: What a checkpoint may record for the model's users (see :func:`save_checkpoint`).
ABOUT_KEYS = ("class_names", "normalisation")


def load_checkpoint(path: Path, required: tuple[str, ...] = CHECKPOINT_KEYS) -> dict:
    """A checkpoint written by csptrain, read without running any code from it.

    Only tensors and plain data load (``torch.load(weights_only=True)``): a file that
    holds other Python objects is refused before any of them is built. Raises a one-line
    :class:`WeightsError` if the file is missing, corrupt, refused, or lacks a key of
    ``required``.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: checkpoint not found")
    state = load_safely(path, "checkpoint")
    if not isinstance(state, dict) or "model" not in state or not isinstance(state.get("config", {}), dict):
        raise WeightsError(f"{path}: not a csptrain checkpoint")
    missing = [key for key in required if key not in state]
    if missing:
        raise WeightsError(f"{path}: not a whole csptrain checkpoint (no {', '.join(map(repr, missing))})")
    return state


def save_checkpoint(
    run: TrainingRun,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    stop: int,
    config: Any,
    num_classes: int,
    last: dict | None = None,
    about: dict | None = None,
) -> None:
    """The run's checkpoint (weights, optimiser, step, RNG, config), then its progress sidecar.

    ``about`` adds what a user of the model needs beside it (class names, normalisation);
    everything saved is tensors and plain data, so that :func:`load_checkpoint` reads it
    without running code. The sidecar also keeps the last step's numbers (``last``), which
    a rerun of a finished run reports.
    """
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "torch_rng": torch.get_rng_state(),
        "config": config.to_dict(),
        "num_classes": num_classes,
        **(about or {}),
    }
    save_atomic(state, run.checkpoint)
    run.write_progress(step, stop, last)


def record_config(run: TrainingRun, settings: dict, resuming: bool, reconfigure: bool = False) -> None:
    """Write the run's ``config.json``; on resume, refuse changed settings unless ``reconfigure``.

    ``settings`` is what the run learns and trains on (its config, data and batch); how it
    runs (:class:`~csptrain.runtime.settings.RunSettings`) is not recorded and may change.
    Raises a one-line :class:`RunFolderError` naming the changed settings. Keys recorded
    by an older csptrain beside them (its run settings) are not compared.
    """
    recorded = read_json_or_none(run.config_file) if resuming else None
    if recorded is not None and not reconfigure:
        changed = sorted(k for k in settings if settings[k] != recorded.get(k))
        if changed:
            details = ", ".join(f"{k} {recorded.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise RunFolderError(
                f"{run.folder}: this run was started with other settings ({details}); "
                "rerun with the same ones, use another --out, or pass --reconfigure"
            )
    write_json_atomic(run.config_file, settings)


def resume(run: TrainingRun, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Load the run's checkpoint into the model, optimiser and torch RNG; return its step (0 without one)."""
    if not run.checkpoint.is_file():
        return 0
    state = load_checkpoint(run.checkpoint, CHECKPOINT_KEYS + RESUME_KEYS)
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError):
        raise WeightsError(f"{run.checkpoint}: does not fit this model; use another --out") from None
    torch.set_rng_state(state["torch_rng"])
    return state["step"]


@dataclass(frozen=True)
class Trained(Generic[ModelT, ConfigT]):
    """A model loaded from a checkpoint (on the CPU), with the config, class count and step it records.

    ``about`` is what the checkpoint records for the model's users (``class_names``,
    ``normalisation``); empty for checkpoints written before it was recorded.
    """

    model: ModelT
    config: ConfigT
    num_classes: int
    step: int
    about: dict = field(default_factory=dict)


def load_trained(
    checkpoint: Path, make_config: Callable[..., ConfigT], build: Callable[[ConfigT, int], ModelT]
) -> Trained[ModelT, ConfigT]:
    """The model of a checkpoint: ``make_config(None, None, **recorded)``, ``build(config, classes)``, its weights."""
    state = load_checkpoint(checkpoint)
    learnt = {k: v for k, v in state["config"].items() if k not in RUN_SETTING_NAMES}  # older checkpoints held both
    try:
        config = make_config(None, None, **learnt)
    except ConfigError as error:  # e.g. stage 1's checkpoint where stage 2's is wanted
        raise WeightsError(f"{checkpoint}: not a checkpoint of this stage ({error})") from None
    model = build(config, state["num_classes"])
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        raise WeightsError(f"{checkpoint}: weights do not fit the model its config describes") from None
    about = {key: state[key] for key in ABOUT_KEYS if key in state}
    return Trained(model, config, state["num_classes"], state["step"], about)
