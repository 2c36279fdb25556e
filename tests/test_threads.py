"""pinsage_edu.threads: the thread count is the free CPUs, an explicit setting wins, bad settings are refused."""

from __future__ import annotations

import pytest
import torch

from pinsage_edu import threads


@pytest.fixture(autouse=True)
def _keep_threads(monkeypatch):
    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cpus, busy, want", [(2, 0, 2), (2, 1, 1), (2, 2, 1), (2, 5, 1), (8, 3, 5), (1, 0, 1)])
def test_the_default_is_the_cpus_nobody_else_is_using(monkeypatch, cpus, busy, want):
    monkeypatch.setattr(threads, "usable_cpus", lambda: cpus)
    monkeypatch.setattr(threads, "busy_cpus", lambda: busy)
    assert threads.default_num_threads() == want


def test_an_explicit_setting_wins_and_is_applied(monkeypatch):
    monkeypatch.setattr(threads, "busy_cpus", lambda: 0)
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.default_num_threads() == 3
    monkeypatch.setenv(threads.ENV_VAR, "1")  # ours first
    assert threads.use_free_cpus() == 1 and torch.get_num_threads() == 1


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "١"])
def test_a_bad_setting_is_refused_by_name(monkeypatch, value):
    monkeypatch.setenv(threads.ENV_VAR, value)
    with pytest.raises(ValueError, match=f"{threads.ENV_VAR} must be a positive integer"):
        threads.default_num_threads()


def test_the_machine_figures_are_sane():
    assert threads.usable_cpus() >= 1
    assert threads.busy_cpus() >= 0
