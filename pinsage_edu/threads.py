"""How many CPU threads torch should use: the CPUs that are free for this process, not every core.

Torch's intra-op pool has one thread per core by default. PinSage's CPU work is many small ops (walk
steps, gathers and scatter-adds over a minibatch), each split across the pool and joined at its end;
when another process keeps a core busy — a second kernel, a browser tab, a shared classroom server —
every op waits for the thread that lost its core, and two threads on two shared cores are several
times slower than one (``benchmarks/bench_contention.py`` measures it). So the command line asks for
as many threads as there are CPUs nobody else is using:

* ``PINSAGE_EDU_THREADS=N`` (or ``OMP_NUM_THREADS=N``, which torch reads itself) wins — the documented
  setting for shared servers (``PINSAGE_EDU_THREADS=1``);
* otherwise the CPUs this process may run on (its affinity mask, and a container's cgroup CPU quota)
  minus the CPUs other processes keep busy right now (Linux's count of runnable tasks, sampled a few
  times, this process excluded), and at least 1.

:func:`use_free_cpus` applies it (``torch.set_num_threads``); the library itself never changes the
thread count behind a caller's back — the command line and ``tasks.py`` call it.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from pathlib import Path

import torch

__all__ = ["ENV_VAR", "usable_cpus", "busy_cpus", "default_num_threads", "use_free_cpus"]

ENV_VAR = "PINSAGE_EDU_THREADS"


def usable_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota if any."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def busy_cpus(samples: int = 5, interval: float = 0.01) -> int:
    """How many CPUs other processes keep busy now: the median count of runnable tasks in
    ``/proc/loadavg`` over ``samples`` readings, less this process's own thread; elsewhere the
    one-minute load average. 0 when it cannot be told."""
    try:
        counts = []
        for i in range(samples):
            running = Path("/proc/loadavg").read_text().split()[3].split("/")[0]
            counts.append(int(running) - 1)  # the reading thread itself is running
            if i + 1 < samples:
                time.sleep(interval)
        return max(0, round(statistics.median(counts)))
    except (OSError, ValueError, IndexError):
        try:
            return max(0, round(os.getloadavg()[0]))
        except (AttributeError, OSError):
            return 0


def default_num_threads() -> int:
    """The thread count the command line uses (see the module docstring)."""
    for var in (ENV_VAR, "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value:
            if not value.isascii() or not value.isdigit() or int(value) < 1:
                raise ValueError(f"{var} must be a positive integer (threads), got {value!r}")
            return int(value)
    n = usable_cpus()
    return max(1, min(n, n - busy_cpus()))


def use_free_cpus() -> int:
    """Set torch's intra-op thread count to :func:`default_num_threads` and return it."""
    n = default_num_threads()
    torch.set_num_threads(n)
    return n
