"""One stage's training run, set up the same way for both stages: resume, record, wrap, loop, save."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

from ..data.loader import batches_from
from ..errors import StopRequested
from ..runs import TrainingRun
from .accumulation import BatchPlan
from .checkpoints import record_config, resume, save_checkpoint
from .loop import TrainLog, run_training
from .process import Process, any_rank, barrier, distributed
from .settings import RunSettings

#: ``optimise(forward, batch, step)``: one optimisation step (``step`` 0-based) on a batch on the
#: device, through ``forward`` (the model or its DDP wrapper); returns the weighted loss terms and
#: the learning rate it used.
Optimise = Callable[[torch.nn.Module, Any, int], tuple[dict[str, torch.Tensor], float]]


@dataclass(frozen=True)
class StageTraining:
    """What one stage brings to :func:`train_run`; the rest is the same for both.

    ``inputs`` go into ``config.json`` beside the config's fields (the data it trains
    on); ``per_epoch`` counts each process's micro-batches, ``plan.accumulate`` of which make
    one step; ``rate`` names the throughput logged, per ``samples_per_step`` samples of each
    micro-batch; ``save_every_epoch`` adds a checkpoint at each epoch's end; ``about`` goes
    into every checkpoint for the model's users (plain data only, see
    :func:`~csptrain.runtime.checkpoints.save_checkpoint`).
    """

    name: str
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    dataset: Dataset
    per_epoch: int
    plan: BatchPlan
    stop: int
    num_classes: int
    inputs: dict
    optimise: Optimise
    rate: tuple[str, str] = ("iterations_per_s", "it_s")
    samples_per_step: int = 1
    save_every_epoch: bool = False
    compile: bool = False
    find_unused_parameters: bool = False
    about: dict | None = None


def train_run(
    run: TrainingRun,
    process: Process,
    config: Any,
    stage: StageTraining,
    *,
    settings: RunSettings,
    reconfigure: bool = False,
) -> dict:
    """Train (or resume) ``stage`` in ``run``'s folder; return the last step's numbers.

    The run resumes from its checkpoint: same step, learning rate and data order.
    Resuming with other settings is refused unless ``reconfigure`` (see
    :func:`~csptrain.runtime.checkpoints.record_config`); a finished run returns its
    last numbers without training; SIGINT or SIGTERM saves a checkpoint and raises
    :class:`~csptrain.errors.StopRequested`. ``config`` is the stage's config
    (``seed``, ``batch_size``, ``to_dict()``); ``settings`` say how the run runs (its
    workers, saves and progress bar).
    """
    run.folder.mkdir(parents=True, exist_ok=True)
    model, optimizer = stage.model, stage.optimizer
    step = resume(run, model, optimizer)
    if process.is_main:
        learnt = {
            **config.to_dict(),
            **stage.inputs,
            "num_classes": stage.num_classes,
            "global_batch_per_step": stage.plan.global_batch,
        }
        record_config(run, learnt, resuming=step > 0, reconfigure=reconfigure)
    forward = distributed(model, process, compile=stage.compile, find_unused_parameters=stage.find_unused_parameters)
    log = TrainLog(run, process, stage.stop, step, stage.name, settings.progress)
    rate_name, rate_label = stage.rate
    model.train()
    started = time.perf_counter()

    def take_step(batch: Any, step: int) -> dict:
        nonlocal started
        terms, lr = stage.optimise(forward, batch, step)
        samples = stage.samples_per_step * process.world * stage.plan.accumulate
        rate = samples / (time.perf_counter() - started)
        started = time.perf_counter()
        values = {k: float(v.detach()) for k, v in terms.items()}
        last = {"step": step + 1, "lr": lr, "loss": sum(values.values()), **values}
        log.step(
            step + 1,
            {**{k: v for k, v in last.items() if k != "step"}, rate_name: rate},
            loss=last["loss"],
            **{rate_label: rate},
        )
        return last

    def save(step: int, last: dict) -> None:
        if process.is_main:
            save_checkpoint(run, model, optimizer, step, stage.stop, config, stage.num_classes, last, stage.about)

    def save_after(step: int) -> bool:
        micro = step * stage.plan.accumulate  # an epoch ended within the last step's micro-batches
        return step % settings.checkpoint_every == 0 or (
            stage.save_every_epoch and micro % stage.per_epoch < stage.plan.accumulate
        )

    micro_batches = batches_from(
        step * stage.plan.accumulate,
        stage.dataset,
        config.batch_size,
        stage.per_epoch,
        settings.loader_workers,
        config.seed,
        process.device,
        process.rank,
        process.world,
    )
    batches = _grouped(micro_batches, stage.plan.accumulate)
    try:
        step, last = run_training(
            run.folder, step, stage.stop, batches, take_step, save, save_after, lambda flag: any_rank(flag, process)
        )
    except StopRequested:
        barrier(process)  # no rank exits (and so ends the job) before the checkpoint is saved
        raise
    else:
        barrier(process)  # the checkpoint is written before any rank goes on to read it
    finally:
        log.close()
    return last or run.last_numbers(step)


def _grouped(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of ``size`` items (a step's micro-batches)."""
    while group := list(itertools.islice(items, size)):
        yield group
