"""nbval runs the notebooks in classroom size unless the caller asks otherwise.

Under pytest-xdist (``-n``), every cell of a notebook must run in one worker, in order, in the notebook's
one kernel. The scheduler below keeps each notebook whole and sends every other test, one by one, to
whichever worker is free (it replaces ``--dist load``, ``loadscope``, ``loadfile``, ``loadgroup`` and
``worksteal``; ``--dist each`` is left alone). The notebooks, with the most cells, go out first. The
kernels, started from a worker, compute with that worker's share of the cores (``OMP_NUM_THREADS``).

A cell that takes more than half of ``--nbval-cell-timeout`` is reported with a warning: the timeout
(600 s in ``tasks.py test``) should stay far out of reach, even on a loaded machine.
"""

import os

import pytest

os.environ.setdefault("PINSAGE_EDU_SIZE", "classroom")
os.environ.setdefault("PYTHONHASHSEED", "0")

if os.environ.get("PYTEST_XDIST_WORKER"):
    _cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, _cpus // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))))


def _is_cell(item: pytest.Item) -> bool:
    return item.path.suffix == ".ipynb"


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: nothing to do without it
def pytest_xdist_make_scheduler(config, log):
    # (xdist's loadgroup marks would say the same, but it renames node ids to do it, which pytest 9 ignores)
    if config.getoption("dist") not in ("load", "loadscope", "loadfile", "loadgroup", "worksteal"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        """Load scheduling where a unit of work is a whole notebook or one other test."""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return path if path.endswith(".ipynb") else nodeid

    return NotebookScheduling(config, log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    timeout = float(getattr(item.config.option, "nbval_cell_timeout", 0) or 0)
    if _is_cell(item) and report.when == "call" and timeout and report.duration > timeout / 2:
        item.warn(pytest.PytestWarning(f"{item.nodeid} took {report.duration:.0f} s, more than half of the "
                                       f"{timeout:.0f} s cell timeout"))
