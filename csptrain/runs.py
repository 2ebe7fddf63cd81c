"""csptrain's run folders: the one place that names their files and decides what is done.

Layout of ``csptrain run``'s ``OUT`` (one folder per seed's scribbles)::

    OUT/r{seed}/stage1/      last.pt, progress.json, config.json, tensorboard/
    OUT/r{seed}/pseudo/      {id}.png (255 = uncertain; 65535 above 255 classes), eval.json (pseudo-label mIoU), source.json
    OUT/r{seed}/stage2/      last.pt, progress.json, config.json, inputs.json, tensorboard/,
                             eval.json, predictions/{id}.png
    OUT/report.txt, OUT/report.json, OUT/report.png
    OUT/preview/{id}.png     the first seed's predictions on a few val images beside their ground truth

``csptrain stage1``/``stage2`` write one training folder each, ``csptrain pseudo`` one
pseudo-label folder. A step is done when its output records the input it was made from:
a checkpoint step reached, the checkpoint step (and PAR) of the labels, the protocol of
an evaluation. Nothing here imports torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from scribblesim.sets.files import json_bytes, write_bytes_atomic

CHECKPOINT = "last.pt"
PROGRESS = "progress.json"
CONFIG = "config.json"
INPUTS = "inputs.json"
EVALUATION = "eval.json"
SOURCE = "source.json"
TENSORBOARD = "tensorboard"
PREDICTIONS = "predictions"
REPORT_TEXT = "report.txt"
REPORT_JSON = "report.json"
REPORT_PNG = "report.png"
PREVIEW = "preview"


class StepName(str, Enum):
    """The steps of one seed in ``csptrain run``, in order."""

    STAGE1 = "stage1"
    PSEUDO = "pseudo"
    STAGE2 = "stage2"
    EVAL = "eval"


def read_json_or_none(path: Path) -> Any:
    """The JSON in ``path``, or None if it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def write_json_atomic(path: Path, value: Any) -> None:
    """JSON to a temporary file, then rename (scribblesim's canonical JSON)."""
    write_bytes_atomic(Path(path), json_bytes(value))


@dataclass(frozen=True)
class TrainingRun:
    """A folder of one stage's training: checkpoint, progress sidecar, settings, logs, evaluation."""

    folder: Path

    @property
    def checkpoint(self) -> Path:
        return Path(self.folder) / CHECKPOINT

    @property
    def progress_file(self) -> Path:
        return Path(self.folder) / PROGRESS

    @property
    def config_file(self) -> Path:
        return Path(self.folder) / CONFIG

    @property
    def inputs_file(self) -> Path:
        return Path(self.folder) / INPUTS

    @property
    def tensorboard(self) -> Path:
        return Path(self.folder) / TENSORBOARD

    @property
    def predictions(self) -> Path:
        return Path(self.folder) / PREDICTIONS

    @property
    def evaluation_file(self) -> Path:
        return Path(self.folder) / EVALUATION

    def progress(self) -> dict:
        """``{"step": .., "stop": .., "last": {..}}``, or ``{}`` before the first checkpoint.

        A small sidecar of the checkpoint, so that a pipeline can tell a finished step
        without loading hundreds of megabytes.
        """
        return read_json_or_none(self.progress_file) or {}

    def write_progress(self, step: int, stop: int, last: dict | None) -> None:
        """The sidecar of a checkpoint at ``step``; ``last`` are that step's numbers."""
        write_json_atomic(self.progress_file, {"step": step, "stop": stop, "last": last or {"step": step}})

    def last_numbers(self, step: int) -> dict:
        """The numbers of the last step recorded (what a rerun of a finished run reports)."""
        return self.progress().get("last", {"step": step})

    def reached(self, step: int) -> bool:
        """Whether a checkpoint at ``step`` or later is saved."""
        return self.progress().get("step", 0) >= step

    def evaluation(self) -> dict:
        return read_json_or_none(self.evaluation_file) or {}

    def write_evaluation(self, scores: dict, checkpoint: Path, checkpoint_step: int) -> dict:
        """``eval.json``: the scores and the checkpoint (and, in ``scores``, the protocol) they measure."""
        record = {**scores, "checkpoint": str(checkpoint), "checkpoint_step": checkpoint_step}
        write_json_atomic(self.evaluation_file, record)
        return record

    def evaluated(self, checkpoint_step: int, protocol: dict) -> bool:
        """Whether ``eval.json`` measures the checkpoint at ``checkpoint_step`` under ``protocol``."""
        record = self.evaluation()
        return record.get("checkpoint_step") == checkpoint_step and record.get("protocol") == protocol

    def inputs(self) -> dict | None:
        """What a pipeline trained this run on (``inputs.json``), or None."""
        return read_json_or_none(self.inputs_file)

    def write_inputs(self, inputs: dict) -> None:
        write_json_atomic(self.inputs_file, inputs)


@dataclass(frozen=True)
class PseudoLabelFolder:
    """A folder of pseudo-label PNGs, the record of what made them, and their scores."""

    folder: Path

    def label(self, name: str) -> Path:
        return Path(self.folder) / f"{name}.png"

    @property
    def source_file(self) -> Path:
        return Path(self.folder) / SOURCE

    @property
    def summary_file(self) -> Path:
        return Path(self.folder) / EVALUATION

    @staticmethod
    def source_record(checkpoint_step: int, par: bool, split: str, scribbles: str, source: str = "cam") -> dict:
        """What the labels are made from; labels of another source are never mixed in."""
        return {
            "checkpoint_step": checkpoint_step,
            "par": par,
            "split": split,
            "scribbles": scribbles,
            "source": source,
        }

    def source(self) -> dict | None:
        """The record of what made the labels (one from before sources existed: CAMs), or None."""
        record = read_json_or_none(self.source_file)
        return None if record is None else {"source": "cam", **record}

    def write_source(self, record: dict) -> None:
        write_json_atomic(self.source_file, record)

    def made_by(self, checkpoint_step: int, par: bool, source: str = "cam") -> bool:
        """Whether the labels here (if any) come from that checkpoint step and source, with or without PAR."""
        return _same_labels(self.source() or {}, checkpoint_step, par, source)

    def summary(self) -> dict:
        """The labels' scores and what made them (one from before sources existed: CAMs), or {}."""
        record = read_json_or_none(self.summary_file)
        return {} if record is None else {"source": "cam", **record}

    def write_summary(
        self, scores: dict, checkpoint: Path, checkpoint_step: int, par: bool, source: str = "cam"
    ) -> dict:
        """``eval.json``: the labels' scores, the checkpoint and its step, PAR and the labels' source."""
        record = {**scores, "checkpoint": str(checkpoint), "checkpoint_step": checkpoint_step, "par": par}
        record["source"] = source
        write_json_atomic(self.summary_file, record)
        return record

    def complete(self, checkpoint_step: int, par: bool, source: str = "cam") -> bool:
        """Whether every label is written and scored (the summary is written last)."""
        return _same_labels(self.summary(), checkpoint_step, par, source)


def _same_labels(record: dict, checkpoint_step: int, par: bool, source: str) -> bool:
    """Whether a pseudo-label record names that checkpoint step, PAR and source."""
    return (record.get("checkpoint_step"), record.get("par"), record.get("source")) == (checkpoint_step, par, source)


@dataclass(frozen=True)
class SeedRuns:
    """One seed's folders in ``csptrain run``: ``OUT/r{seed}/{stage1,pseudo,stage2}``."""

    root: Path

    @property
    def stage1(self) -> TrainingRun:
        return TrainingRun(Path(self.root) / StepName.STAGE1.value)

    @property
    def pseudo(self) -> PseudoLabelFolder:
        return PseudoLabelFolder(Path(self.root) / StepName.PSEUDO.value)

    @property
    def stage2(self) -> TrainingRun:
        return TrainingRun(Path(self.root) / StepName.STAGE2.value)

    def folder(self, step: StepName) -> Path:
        """Where ``step`` writes (evaluation goes into the stage-2 folder)."""
        return {
            StepName.STAGE1: self.stage1.folder,
            StepName.PSEUDO: self.pseudo.folder,
            StepName.STAGE2: self.stage2.folder,
            StepName.EVAL: self.stage2.folder,
        }[step]

    @staticmethod
    def stage2_inputs(stage1_stop: int, par: bool = True, source: str = "cam") -> dict:
        """What stage 2 records it was trained on: the pseudo-labels of stage 1's last step, their PAR and source."""
        return {"pseudo_step": stage1_stop, "par": par, "pseudo_source": source}

    def stage2_trained_on(self, stage1_stop: int, par: bool = True, source: str = "cam") -> bool:
        """Whether stage 2's recorded inputs are these (a record without PAR and source: the defaults)."""
        recorded = self.stage2.inputs()
        return recorded is not None and {**self.stage2_inputs(0), **recorded} == self.stage2_inputs(
            stage1_stop, par, source
        )

    def done(
        self, step: StepName, stage1_stop: int, stage2_stop: int, par: bool, protocol: dict, source: str = "cam"
    ) -> bool:
        """Whether ``step`` is finished for these inputs (a later step needs the earlier ones' inputs)."""
        if step is StepName.STAGE1:
            return self.stage1.reached(stage1_stop)
        if step is StepName.PSEUDO:
            return self.pseudo.complete(stage1_stop, par, source)
        stage2_done = self.stage2.reached(stage2_stop) and self.stage2_trained_on(stage1_stop, par, source)
        if step is StepName.STAGE2:
            return stage2_done
        return stage2_done and self.stage2.evaluated(stage2_stop, protocol)


@dataclass(frozen=True)
class PipelineRuns:
    """The ``OUT`` folder of ``csptrain run``: one :class:`SeedRuns` per seed and the report."""

    out: Path

    def seed(self, seed: int) -> SeedRuns:
        return SeedRuns(Path(self.out) / f"r{seed}")

    @property
    def report_text(self) -> Path:
        return Path(self.out) / REPORT_TEXT

    @property
    def report_json(self) -> Path:
        return Path(self.out) / REPORT_JSON

    @property
    def report_png(self) -> Path:
        return Path(self.out) / REPORT_PNG

    @property
    def preview(self) -> Path:
        """Folder of the first seed's predictions on a few val images, beside their ground truth."""
        return Path(self.out) / PREVIEW

    def write_report(self, table: str, record: dict, picture: bytes | None = None) -> None:
        """The report as a table (``report.txt``), as JSON (``report.json``) and as a PNG, each atomically."""
        Path(self.out).mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(self.report_text, (table + "\n").encode())
        write_json_atomic(self.report_json, record)
        if picture is not None:
            write_bytes_atomic(self.report_png, picture)
