"""Shared fixtures: the embedded COCO sample, loaded and simulated once per session.

Under pytest-xdist each worker gets its share of the cores for torch's (OpenMP) threads:
with every worker running as many threads as the machine has cores, a 2-core run
had a worker's test of torch at 7 % of a core, its threads waiting for each other.
"""

import os

import pytest

if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # set before torch is first imported
    _threads = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads))

import scribblesim
from scribblesim.datasets.coco import coco_samples
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root


def simulate_sample(sample, seed, config=None):
    """Simulate one loaded COCO sample the way the dataset builder does."""
    return scribblesim.simulate(
        sample.masks,
        sample.classes,
        seed=seed,
        image_id=sample.image_id,
        config=config,
        ignore=sample.ignore,
    )


@pytest.fixture(scope="session")
def simulate_coco():
    """The function that simulates one loaded sample: ``simulate_coco(sample, seed, config=None)``."""
    return simulate_sample


@pytest.fixture(scope="session")
def coco_loaded():
    """All images of the embedded COCO sample, decoded (masks, classes, ignore, semantic)."""
    return [s.load() for s in coco_samples(coco_sample_root(), COCO_SAMPLE_SPLIT)]


@pytest.fixture(scope="session")
def coco_maps(coco_loaded):
    """Seed-1 scribble maps of every sample image with the default SimConfig."""
    return [simulate_sample(s, seed=1) for s in coco_loaded]


@pytest.fixture(scope="session")
def coco_maps_seed2(coco_loaded):
    """Seed-2 scribble maps of every sample image with the default SimConfig."""
    return [simulate_sample(s, seed=2) for s in coco_loaded]
