"""What the benchmark scripts measure, as library code that tests can import.

- :mod:`~csptrain.experiments.rows`: the rows of ``benchmarks/learning.py`` and the build
  and labels each trains on;
- :mod:`~csptrain.experiments.budget`: a time budget turned into a step count and a schedule;
- :mod:`~csptrain.experiments.volumes`: Dice per 3D volume and the background-only floor;
- :mod:`~csptrain.experiments.learning`: one row trained for its budget and evaluated on a curve;
- :mod:`~csptrain.experiments.throughput`: the real train steps of both stages, timed.

The scripts in ``benchmarks/`` parse their arguments, call these and print.
"""
