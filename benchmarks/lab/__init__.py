"""What the benchmark scripts measure: their library, beside them and not shipped in the wheel.

The scripts in ``benchmarks/`` import it as ``lab`` (their folder is on ``sys.path``), and
so do the tests (pytest's ``pythonpath``). They parse their arguments, call these and print.

- :mod:`~lab.rows`: the rows of ``benchmarks/learning.py`` and the build and labels each
  trains on;
- :mod:`~lab.budget`: a time budget turned into a step count and a schedule;
- :mod:`~lab.learning`: one row trained for its budget and evaluated on a curve, and the
  settings of the machines it runs on;
- :mod:`~lab.repeats`: rows trained for several seeds, and their means and spread;
- :mod:`~lab.ablation`: the lines of Table VI trained and tabled;
- :mod:`~lab.volumes`: a prediction folder's Dice per 3D volume and the background-only floor;
- :mod:`~lab.pseudo_variants`: stage-1 pseudo-label variants scored against the ground truth;
- :mod:`~lab.throughput`: the real train steps of both stages, timed.
"""
