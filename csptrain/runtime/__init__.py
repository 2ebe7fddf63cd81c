"""What both trainers share: the process and its DDP job, checkpoints, the training loop and its schedules.

- :mod:`.settings`: how a run runs (device, loaders, precision, saves, where it stops), apart
  from what it learns.
- :mod:`.process`: the device and this process's place in a torchrun job.
- :mod:`.checkpoints`: atomic checkpoints, resuming, the recorded settings, trained models.
- :mod:`.loop`: the step loop with its stops on signals, and its log.
- :mod:`.trainer`: one stage's whole training run, set up the same way for both stages.
- :mod:`.schedule`: the learning-rate schedules of both stages.
"""
