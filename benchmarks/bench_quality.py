#!/usr/bin/env python3
"""§4 quality: hit-rate@10 and MRR of every method, on every dataset we ship and on the synthetic preset.

Prints one JSON line per figure (and appends them to ``--out``). Run by hand, not in CI:

    .venv/bin/python benchmarks/bench_quality.py                          # everything (~20 min on 2 cores)
    .venv/bin/python benchmarks/bench_quality.py --datasets ml-latest-small
    .venv/bin/python benchmarks/bench_quality.py --datasets synthetic --pairs val

* ``ml-latest-small`` and ``goodbooks``: the **main job** exactly as a user runs it
  (``python -m pinsage_edu --dataset D --out TMP``, its default settings), timed wall-clock, with its
  peak memory (Linux); one line per method of its table (test pairs, as the main job evaluates them),
  then ``{"figure": "main_job", "seconds": …, "max_rss_mib": …}``.
* ``synthetic``: the ``pinterest-like`` preset's Table 1 for training seeds 0, 1, 2
  (:func:`pinsage_edu.regimes.seed_table`): one line per method and seed, one per step of the paper's
  order with its paired standard error, and whether the order holds in each seed; every line carries
  its training budget ``steps`` (225 by default: 5 epochs of ``--steps-per-epoch`` 45).

Quality figures are measured once per candidate setting kept (README: how the defaults were chosen);
tune on ``--pairs val`` (synthetic) or on the main job's validation figures, never on these.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

ROOT = Path(__file__).resolve().parent.parent


def main_job(dataset: str, extra: list[str], out: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "main"
        cmd = [sys.executable, "-m", "pinsage_edu", "--dataset", dataset, "--out", str(run), "--no-progress", *extra]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if r.returncode != 0:
            sys.exit(f"the main job failed on {dataset}:\n{r.stderr[-3000:]}")
        res = json.loads((run / "results.json").read_text())
    variant = " ".join(extra) or "recipe"
    for row in res["rows"]:
        record(out, dataset=res["dataset"], variant=variant, pairs="test", method=row["name"], hit_rate=row["hit_rate"],
               stderr=row["stderr"], mrr=row["mrr"], k=row["k"], num_pairs=row["num_pairs"])
    record(out, dataset=res["dataset"], variant=variant, figure="main_job", seconds=round(seconds, 1),
           max_rss_mib=round(max(rss, before) / 1024) if sys.platform.startswith("linux") else None,
           threads=os.environ.get("OMP_NUM_THREADS", "default"), extra=extra,
           embedded_epoch=res["config"]["embedded_epoch"])


def synthetic(pairs: str, out: Path | None, steps_per_epoch: int | None = None, seeds: tuple[int, ...] = (0, 1, 2)) -> None:
    from pinsage_edu.regimes import PINTEREST_LIKE_TRAIN, seed_table

    train = {"max_steps_per_epoch": steps_per_epoch} if steps_per_epoch else {}
    t = seed_table(pairs=pairs, seeds=seeds, train=train)
    record_seed_table(t, out)


def record_seed_table(t, out: Path | None) -> None:  # noqa: ANN001 (a regimes.SeedTable)
    """The JSON lines of a synthetic seed table; each carries its training budget (``steps``)."""
    steps = t.info["train"]["epochs"] * t.info["train"]["max_steps_per_epoch"]
    common = dict(dataset="synthetic pinterest-like", pairs=t.pairs, steps=steps)
    for run in t.runs:
        for name, m in run.metrics.items():
            record(out, **common, seed=run.seed, method=name,
                   hit_rate=m.hit_rate, stderr=m.stderr(), mrr=m.mrr, k=m.k, num_pairs=m.num_pairs)
    for worse, better, per in t.steps():
        for run, (d, se) in zip(t.runs, per):
            record(out, **common, seed=run.seed, step=f"{worse} < {better}", difference=d, paired_stderr=se)
    record(out, **common, figure="paper_order", seeds_holding=t.seeds_holding(), seeds=len(t.runs),
           seconds=round(t.seconds, 1))


def record(out: Path | None, **fields: object) -> None:
    emit(**fields)
    if out is not None:
        with out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(fields) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["ml-latest-small", "goodbooks", "synthetic"],
                   choices=["ml-latest-small", "goodbooks", "synthetic"])
    p.add_argument("--pairs", choices=["val", "test"], default="test", help="synthetic: which held-out pairs")
    p.add_argument("--out", default=None, help="also append the JSON lines to this file")
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="synthetic: minibatches per epoch (default: the preset's 45, i.e. 225 steps per rung)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="synthetic: training seeds")
    p.add_argument("--id-embeddings", action="store_true",
                   help="ml-latest-small: also run the main job with --id-embeddings (the transductive option)")
    p.add_argument("main_args", nargs="*", help="extra arguments for every main job (after --)")
    a = p.parse_args()
    out = Path(a.out) if a.out else None
    for d in a.datasets:
        if d == "synthetic":
            synthetic(a.pairs, out, a.steps_per_epoch, tuple(a.seeds))
        else:
            main_job(d, a.main_args, out)
            if a.id_embeddings and d == "ml-latest-small":
                main_job(d, [*a.main_args, "--id-embeddings"], out)


if __name__ == "__main__":
    main()
