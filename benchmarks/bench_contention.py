#!/usr/bin/env python3
"""Speed under load: the main job and the walk figure beside 0, 1 and 2 busy processes, with the
default thread count (``pinsage_edu.threads``: the CPUs nobody else is using), single-threaded and
with every core (torch's own default), and the ratios.

A student's laptop or a shared classroom server always has something else running (a browser tab,
another kernel). Torch's default — one thread per core — then oversubscribes the cores: many small
ops each wait for the thread that lost its core. The goal: the default is never slower than
single-threaded under load, and within 10% of the best thread count when idle.

    .venv/bin/python benchmarks/bench_contention.py            # main job (2 epochs) + walks, ~15 min on 2 cores
    .venv/bin/python benchmarks/bench_contention.py --quick    # walks only, ~5 min
    .venv/bin/python benchmarks/bench_contention.py --main-only  # the main job only

Prints one JSON line per (figure, busy processes, threads setting), then one per figure and load with
``default / single`` and ``default / best`` time ratios; ``--out`` appends them to a file. Run it on
an otherwise quiet machine: the busy processes are the only load it should see.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

ROOT = Path(__file__).resolve().parent.parent
BUSY = [sys.executable, "-c", "while True: pass"]
SETTINGS = {"default": {}, "single": {"PINSAGE_EDU_THREADS": "1"}, "all cores": {"PINSAGE_EDU_THREADS": str(os.cpu_count() or 1)}}

WALKS = """
import time, torch
from pinsage_edu.threads import use_free_cpus
threads = use_free_cpus()
from pinsage_edu.data import synthetic_pins_boards
from pinsage_edu.walks import importance_neighborhoods
SIZE = dict(num_pins=100_000, num_boards=50_000, num_edges=2_000_000)  # _common.SYNTHETIC_SIZES["100k"]
g = synthetic_pins_boards(**SIZE, seed=0).graph()
seeds = torch.arange(512)
importance_neighborhoods(g, seeds, 50, generator=0)  # warm-up
t0, n = time.perf_counter(), 0
while time.perf_counter() - t0 < 10.0:
    importance_neighborhoods(g, seeds + n % 1000, 50, generator=n); n += 1
print(threads, n * 512 / (time.perf_counter() - t0))
"""


def run_walks(env: dict[str, str]) -> tuple[int, float]:
    r = subprocess.run([sys.executable, "-c", WALKS], cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(r.stderr[-2000:])
    threads, rate = r.stdout.split()
    return int(threads), float(rate)


def run_main_job(env: dict[str, str], epochs: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "pinsage_edu", "--out", str(Path(tmp) / "main"), "--no-progress",
                            "--epochs", str(epochs)], cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(r.stderr[-2000:])
    found = re.search(r"^torch threads: (\d+)", r.stdout, re.M)
    threads = int(found.group(1)) if found else -1
    return threads, seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the walk figure only")
    ap.add_argument("--main-only", action="store_true", help="the main job only")
    ap.add_argument("--epochs", type=int, default=2, help="main job epochs (default 2)")
    ap.add_argument("--busy", type=int, nargs="+", default=[0, 1, 2], help="busy processes beside (default 0 1 2)")
    ap.add_argument("--out", type=Path, default=None, help="append the JSON lines here")
    args = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "PINSAGE_EDU_THREADS", "MKL_NUM_THREADS")}
    figures = [] if args.main_only else [("walks", "neighbourhoods/s", run_walks)]
    if not args.quick:
        figures.append(("main job", "seconds", lambda env: run_main_job(env, args.epochs)))
    for busy in args.busy:
        procs = [subprocess.Popen(BUSY) for _ in range(busy)]
        try:
            time.sleep(1.0)  # let them be scheduled before the thread count is chosen
            for figure, unit, fn in figures:
                seconds = {}
                for name, extra in SETTINGS.items():
                    threads, value = fn({**base, **extra})
                    seconds[name] = value if unit == "seconds" else 1.0 / value  # time per unit of work
                    row = {"figure": figure, "busy": busy, "setting": name, "threads": threads, unit: round(value, 2),
                           "cpus": os.cpu_count()}
                    emit(**row)
                    if args.out:
                        with open(args.out, "a") as f:
                            f.write(json.dumps(row) + "\n")
                row = {"figure": figure, "busy": busy, "default/single": round(seconds["default"] / seconds["single"], 2),
                       "default/best": round(seconds["default"] / min(seconds.values()), 2)}
                emit(**row)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(json.dumps(row) + "\n")
        finally:
            for p in procs:
                p.kill()


if __name__ == "__main__":
    main()
