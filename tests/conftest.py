"""Shared fixtures: the hand-written data files under tests/fixtures and the two shipped datasets.

The shipped datasets are loaded at most once per test session (ml-latest-small ~0.5 s, goodbooks ~3.5 s;
under pytest-xdist, once per worker).

Under pytest-xdist (``pytest -n 2``) each worker computes with its share of the cores: CPUs // workers
torch threads (1 for two workers on two cores) unless ``OMP_NUM_THREADS`` says otherwise, so workers don't
fight over the cores. Tests marked ``slow`` (10 s or more) are skipped by ``-m "not slow"``.
"""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # before torch is imported: its thread pool reads this once
    _cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, _cpus // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # plotting tests must never need a display

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from pinsage_edu.loaders import load_dataset  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):  # in case torch was imported before this file (a plugin, notebooks/)
    torch.set_num_threads(max(1, int(os.environ["OMP_NUM_THREADS"].split(",")[0] or 1)))

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def copy_fixture(tmp_path):
    """Copy a fixture file or folder into ``tmp_path`` (so a test may break it) and return the copy."""

    def copy(name: str) -> Path:
        src, dst = FIXTURES / name, tmp_path / name
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copyfile(src, dst)
        return dst

    return copy


@pytest.fixture(scope="session")
def ml_small():
    """ml-latest-small, loaded by its shipped name with the default threshold (min_rating=4)."""
    return load_dataset("ml-latest-small")


@pytest.fixture(scope="session")
def ml_small_split(ml_small):
    return ml_small.split(val_fraction=0.1, test_fraction=0.1, seed=0)


@pytest.fixture(scope="session")
def ml(ml_small, ml_small_split):
    """(split, train graph, features, T = 10 neighbourhood table) of ml-latest-small: what training tests use."""
    from pinsage_edu.features import item_features
    from pinsage_edu.minibatch import NeighborhoodTable

    g = ml_small_split.graph
    return ml_small_split, g, item_features(ml_small, g).x, NeighborhoodTable.build(g, 10, generator=0)


@pytest.fixture(scope="session")
def goodbooks():
    """goodbooks-10k, loaded by its short shipped name."""
    return load_dataset("goodbooks")
