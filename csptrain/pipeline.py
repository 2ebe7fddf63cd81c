"""``csptrain run``: stage 1 -> pseudo-labels -> stage 2 -> eval for each seed, then the report.

The run folder's layout, and when a step counts as done, are :mod:`csptrain.runs`'s: a
rerun skips done steps, resumes an interrupted one, and redoes a step whose input changed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .catalog import PRESET_CLASSES
from .data.layout import class_names_of, read_split, scribble_folder
from .errors import ConfigError, DataError
from .reporting.report import RunResult, format_report, report_json
from .runs import PipelineRuns, StepName
from .runtime.process import Process, barrier, joined
from .runtime.settings import RUN_DEFAULTS, RunSettings
from .stage1.config import Stage1Config
from .stage2.config import Stage2Config
from .stage2.protocol import EvalProtocol, describe_protocol, protocol_for

if TYPE_CHECKING:
    from .runtime.accumulation import BatchPlan
    from .stage2.train import Stage2Schedule


@dataclass(frozen=True)
class PipelineSpec:
    """Everything ``csptrain run`` needs."""

    data: Path
    seeds: tuple[int, ...]
    out: Path
    stage1: Stage1Config
    stage2: Stage2Config
    settings: RunSettings = RUN_DEFAULTS
    """How the job runs, and stage 2's steps."""
    stage1_max_steps: int | None = None
    stage1_accumulate: int | None = None
    preset: str | None = None
    train_split: str = "train"
    val_split: str = "val"
    stage1_pretrained: Path | None = None
    stage2_pretrained: Path | None = None
    use_par: bool = True
    pseudo_source: str = "cam"
    eval_protocol: str = "authors"
    eval_scales: tuple[float, ...] = ()
    eval_flip: bool = False
    preview: int = 4

    @property
    def stage1_settings(self) -> RunSettings:
        """How each stage-1 run runs: the job's settings with stage 1's own steps."""
        return replace(self.settings, max_steps=self.stage1_max_steps, accumulate=self.stage1_accumulate)

    def protocol(self) -> EvalProtocol:
        """The evaluation protocol of every seed's stage-2 run (``eval_scales`` overrides its scales)."""
        return protocol_for(self.stage2, self.eval_protocol, scales=self.eval_scales, flip=self.eval_flip)


@dataclass(frozen=True)
class Step:
    """One step of one seed: where it writes, and the checkpoint step it must reach or read."""

    seed: int
    name: StepName
    folder: Path
    target: int
    done: bool


def check_inputs(spec: PipelineSpec) -> dict[int, str]:
    """Validate the build, splits, preset and seeds; return each seed's scribble folder.

    Raises :class:`DataError` or :class:`ConfigError` with a one-line message.
    """
    if not Path(spec.data).is_dir():
        raise DataError(f"{spec.data}: build folder not found")
    classes = class_names_of(spec.data)
    if spec.preset is not None and PRESET_CLASSES[spec.preset] != len(classes):
        raise ConfigError(
            f"preset {spec.preset!r} is for {PRESET_CLASSES[spec.preset]} classes, but "
            f"{Path(spec.data) / 'meta.json'} lists {len(classes)}"
        )
    if not spec.seeds:
        raise ConfigError("--seeds: give at least one seed")
    read_split(spec.data, spec.val_split)
    return {seed: scribble_folder(spec.data, spec.train_split, seed) for seed in spec.seeds}


def stage2_schedule_of(spec: PipelineSpec, world: int = 1) -> Stage2Schedule:
    """The batch plan and steps of each stage-2 run on ``world`` processes."""
    from .stage2.train import stage2_schedule

    size = len(read_split(spec.data, spec.train_split))
    return stage2_schedule(spec.stage2, size, world, spec.train_split, spec.settings)


def stage1_plan_of(spec: PipelineSpec, world: int = 1) -> BatchPlan:
    """The batch plan of each stage-1 run on ``world`` processes."""
    from .runtime.accumulation import batch_plan

    return batch_plan(spec.stage1.batch_size, world, spec.stage1_settings.accumulate, spec.stage1.global_batch)


def plan(spec: PipelineSpec, stop2: int) -> list[Step]:
    """The steps of every seed, in order, each marked done or not; stage 2 ends at ``stop2``."""
    stop1 = stage1_stop(spec)
    protocol = spec.protocol().to_dict()
    targets = {StepName.STAGE1: stop1, StepName.PSEUDO: stop1, StepName.STAGE2: stop2, StepName.EVAL: stop2}
    steps = []
    for seed in spec.seeds:
        runs = PipelineRuns(spec.out).seed(seed)
        for name in StepName:
            done = runs.done(name, stop1, stop2, spec.use_par, protocol, spec.pseudo_source)
            steps.append(Step(seed, name, runs.folder(name), targets[name], done))
    return steps


def describe(step: Step, scribbles: str, protocol: str = "") -> str:
    """One line of the plan; ``protocol`` names the evaluation protocol."""
    what = {
        StepName.STAGE1: f"train stage 1 on {scribbles} to step {step.target}",
        StepName.PSEUDO: f"pseudo-labels from stage-1 step {step.target}",
        StepName.STAGE2: f"train stage 2 to step {step.target}",
        StepName.EVAL: f"evaluate stage 2: {protocol}" if protocol else "evaluate stage 2",
    }[step.name]
    status = "done" if step.done else "todo"
    return f"r{step.seed} {step.name.value:<6}  {status}  {what}  -> {step.folder}"


def stage1_stop(spec: PipelineSpec) -> int:
    """The step each stage-1 run ends at."""
    return spec.stage1_settings.stop(spec.stage1.iterations)


def _run_step(spec: PipelineSpec, step: Step, scribbles: str, process: Process) -> None:
    """Run one step; under torchrun every rank runs it, and only the first removes or records files."""
    runs = PipelineRuns(spec.out).seed(step.seed)
    if step.name is StepName.STAGE1:
        from .stage1.train import train_stage1

        train_stage1(
            spec.data,
            scribbles,
            runs.stage1.folder,
            spec.stage1,
            process,
            settings=spec.stage1_settings,
            split=spec.train_split,
            pretrained=spec.stage1_pretrained,
        )
    elif step.name is StepName.PSEUDO:
        from .stage1.pseudo import generate_pseudo_labels

        if process.is_main and not runs.pseudo.made_by(step.target, spec.use_par, spec.pseudo_source):
            shutil.rmtree(runs.pseudo.folder, ignore_errors=True)  # labels of another checkpoint
        barrier(process)
        generate_pseudo_labels(
            spec.data,
            runs.stage1.checkpoint,
            runs.pseudo.folder,
            process,
            split=spec.train_split,
            scribbles=scribbles,
            use_par=spec.use_par,
            source=spec.pseudo_source,
            progress=spec.settings.progress,
        )
    elif step.name is StepName.STAGE2:
        from .stage2.train import train_stage2

        made = (stage1_stop(spec), spec.use_par, spec.pseudo_source)
        if process.is_main and not runs.stage2_trained_on(*made):
            shutil.rmtree(runs.stage2.folder, ignore_errors=True)  # trained on other pseudo-labels
            runs.stage2.folder.mkdir(parents=True)
            runs.stage2.write_inputs(runs.stage2_inputs(*made))
        barrier(process)
        train_stage2(
            spec.data,
            scribbles,
            runs.pseudo.folder,
            runs.stage2.folder,
            spec.stage2,
            process,
            settings=spec.settings,
            split=spec.train_split,
            pretrained=spec.stage2_pretrained,
        )
    else:
        from .stage2.evaluate import evaluate_checkpoint

        evaluate_checkpoint(
            spec.data,
            runs.stage2.checkpoint,
            spec.val_split,
            process,
            protocol=spec.protocol(),
            save_dir=runs.stage2.predictions,
            progress=spec.settings.progress,
        )


def collect(spec: PipelineSpec) -> list[RunResult]:
    """Each seed's stage-2 mIoU and pseudo-label mIoU, read from the run folders."""
    results = []
    for seed in spec.seeds:
        runs = PipelineRuns(spec.out).seed(seed)
        evaluation, pseudo = runs.stage2.evaluation(), runs.pseudo.summary()
        results.append(
            RunResult(
                f"r{seed}",
                100 * evaluation.get("miou", float("nan")),
                100 * pseudo.get("miou", float("nan")),
                100 * pseudo.get("uncertain_share", float("nan")),
                describe_protocol(evaluation.get("protocol")),
            )
        )
    return results


def run_pipeline(spec: PipelineSpec, *, dry_run: bool = False, echo: Callable[[str], None] = print) -> list[RunResult]:
    """Run (or resume) every step not yet done, then write and print the report.

    With ``dry_run`` only the plan is printed. Under torchrun every rank runs every step
    (training in DDP, pseudo-labels and evaluation split between the ranks); the first
    rank prints and writes the report.
    """
    scribbles = check_inputs(spec)
    with joined(spec.settings.device) as process:
        say = echo if process.is_main else _silent
        schedule2 = stage2_schedule_of(spec, process.world)
        steps = plan(spec, schedule2.stop)
        protocol = describe_protocol(spec.protocol().to_dict())
        say(f"stage 1: {stage1_plan_of(spec, process.world).describe()}")
        plan2 = schedule2.plan
        batches = plan2.processes * plan2.accumulate  # the authors scale the lr with them
        say(f"stage 2: {plan2.describe()}, lr {spec.stage2.lr:g} x {batches}; on {process.device.type}")
        for step in steps:
            say(describe(step, scribbles[step.seed], protocol))
        if dry_run:
            return []
        for step in steps:
            if not step.done:
                say(f"r{step.seed}: {step.name.value}")
                _run_step(spec, step, scribbles[step.seed], process)
        results = collect(spec)
        table = format_report(results)
        runs = PipelineRuns(spec.out)
        shown = 0
        if process.is_main:
            from .reporting.figure import report_png

            stage2_runs = [runs.seed(seed).stage2.folder for seed in spec.seeds]
            picture = report_png(stage2_runs, class_names_of(spec.data))
            runs.write_report(table, report_json(results, spec.val_split), picture)
            shown = _write_preview(spec, runs, process)
        barrier(process)
        say(table)
        say(f"report: {runs.report_text}, {runs.report_json.name}, {runs.report_png.name}")
        if spec.preview:
            say(f"preview: {shown} val images of r{spec.seeds[0]} beside their ground truth in {runs.preview}")
        return results


def _write_preview(spec: PipelineSpec, runs: PipelineRuns, process: Process) -> int:
    """The first seed's predictions on the first ``spec.preview`` val images; return how many."""
    if not spec.preview:
        return 0
    from .inference.predictor import model_on
    from .reporting.preview import write_run_previews

    model = model_on(runs.seed(spec.seeds[0]).stage2.checkpoint, process)
    names = read_split(spec.data, spec.val_split)[: spec.preview]
    write_run_previews(model, spec.data, names, runs.preview, spec.protocol(), class_names_of(spec.data))
    return len(names)


def _silent(line: str) -> None:
    """The echo of ranks other than the first."""
