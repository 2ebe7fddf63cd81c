"""How a training run runs, apart from what it learns: the device, the loaders, precision, saves.

The stage configs (:class:`~csptrain.stage1.config.Stage1Config`,
:class:`~csptrain.stage2.config.Stage2Config`) hold what is learnt and recorded in a run's
``config.json``; a resume compares them whole. :class:`RunSettings` holds the rest: none of
it is recorded there, and all of it may change between a run and its resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from scribblesim.parallel import usable_cores

from ..errors import ConfigError

#: Most data-loading processes per rank by default (each holds a copy of the dataset's state).
MAX_WORKERS = 8


def cpus_per_rank() -> int:
    """The CPUs this process may use, shared among the ``LOCAL_WORLD_SIZE`` ranks of a torchrun job."""
    return max(1, usable_cores() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def default_workers() -> int:
    """Data-loading processes per rank: this rank's share of the CPUs, at least 1, at most 8.

    A training sample costs tens of milliseconds of CPU, so loading wants every CPU.
    """
    return min(MAX_WORKERS, cpus_per_rank())


@dataclass(frozen=True)
class RunSettings:
    """How one stage's run runs.

    ``device`` is where the job runs (``auto``: CUDA if present); ``workers`` the
    data-loading processes per rank (None: :func:`default_workers`); ``bf16`` autocast on
    CUDA; ``channels_last`` and ``compile`` for stage 2's convolutions on CUDA;
    ``checkpoint_every`` steps between saves; ``max_steps`` stops a run early without
    changing its schedule; ``accumulate`` micro-batches per step (None: as many as the
    stage's recorded global batch needs, see
    :func:`~csptrain.runtime.accumulation.batch_plan`); ``progress`` shows a bar.
    """

    device: str = "auto"
    workers: int | None = None
    bf16: bool = True
    channels_last: bool = True
    compile: bool = False
    checkpoint_every: int = 500
    max_steps: int | None = None
    accumulate: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for name in ("checkpoint_every", "max_steps", "accumulate"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"workers must be >= 0, got {self.workers}")

    @property
    def loader_workers(self) -> int:
        """Data-loading processes per rank: ``workers``, or this rank's share of the CPUs."""
        return default_workers() if self.workers is None else self.workers

    def stop(self, total: int) -> int:
        """The step a run of a ``total``-step schedule ends at."""
        return min(total, self.max_steps or total)


#: A run's settings where none are given: the defaults.
RUN_DEFAULTS = RunSettings()

#: The names a run's ``config.json`` held beside the learnt fields before :class:`RunSettings`
#: took them out; a recorded config drops them when it is read back.
RUN_SETTING_NAMES = frozenset(f.name for f in fields(RunSettings))
