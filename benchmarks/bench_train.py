#!/usr/bin/env python3
"""Training throughput at the paper's shape: does the producer keep up with the compute?

Prints one JSON line per figure. Run by hand, not in CI:

    .venv/bin/python benchmarks/bench_train.py                          # CPU, synthetic 1M items / 20M edges
    .venv/bin/python benchmarks/bench_train.py --size 100k --steps 6    # a quicker look
    .venv/bin/python benchmarks/bench_train.py --device cuda            # GPU: CPU workers feed it
    .venv/bin/python benchmarks/bench_train.py --device cuda --sampling device   # walks on the GPU too

The shape is the paper's: K = 2, T = 50, 512 pairs per minibatch, 500 shared negatives (and
``--hard`` hard negatives per query, 0 by default). The model widths are the classroom ones (m = 128,
d = 64) unless ``--preset paper`` (m = 2048, d = 1024). Two measurements of the same minibatches:

* ``live`` — :class:`~pinsage_edu.train.Trainer` as used for real: ``--workers`` CPU processes build
  the next minibatches (neighbourhood lookup or fresh walks, blocks, feature gather, negatives)
  while the model computes. Seconds per step = wall time of the timed steps / their number.
* ``prebuilt`` — the same minibatches built beforehand and held in memory; only the step is timed.

``live_over_prebuilt`` is the ratio of the two: 1.0 means the compute never waits for data (target
≤ 1.15 on CPU with one worker per spare core; the compute then gets the remaining cores as torch
threads, in both measurements). Throughput is printed as ``pairs_per_s`` (positive pairs) and as
``examples_per_s`` = pairs × (1 positive + 500 shared + h hard negatives) / s, every (query, item)
comparison the loss makes (the paper's "7.5 billion training examples" counts pairs with negatives).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch

from _common import SYNTHETIC_SIZES, emit, sync

from pinsage_edu import synthetic_pins_boards
from pinsage_edu.features import item_features
from pinsage_edu.minibatch import NeighborhoodSampler, NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import TrainConfig, Trainer

SIZES = {k: SYNTHETIC_SIZES[k] for k in ("100k", "1m")}




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SIZES), default="1m")
    p.add_argument("--device", default="cpu")
    p.add_argument("--sampling", choices=["cpu", "device"], default="cpu")
    p.add_argument("--neighborhoods", choices=["table", "walks"], default="table",
                   help="table: every item's neighbourhood computed once; walks: fresh walks per minibatch")
    p.add_argument("--workers", type=int, default=None, help="loader processes (default: one per spare core on "
                                                              "CPU, min(8, cores − 1) with a GPU)")
    p.add_argument("--preset", choices=["classroom", "paper"], default="classroom")
    p.add_argument("--hard", type=int, default=0, help="hard negatives per query")
    p.add_argument("--steps", type=int, default=10, help="timed steps (after --warmup steps)")
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    device = torch.device(args.device)
    cores = os.cpu_count() or 1
    workers = args.workers if args.workers is not None else (0 if args.sampling == "device" else
                                                              max(1, cores - 1) if device.type == "cpu"
                                                              else min(8, max(1, cores - 1)))
    threads = max(1, cores - workers) if device.type == "cpu" else torch.get_num_threads()
    torch.set_num_threads(threads)

    t0 = time.perf_counter()
    ds = synthetic_pins_boards(**SIZES[args.size], seed=0)
    split = ds.split(seed=0)
    graph = split.graph
    x = item_features(ds, graph).x
    emit(figure="data", size=args.size, items=graph.num_items, edges=graph.num_edges,
         train_pairs=len(split.train_pairs), feature_dim=x.shape[1], seconds=round(time.perf_counter() - t0, 1))
    where = device if args.sampling == "device" else torch.device("cpu")
    g = graph.to(where)
    t0 = time.perf_counter()
    nfn = (NeighborhoodTable.build(g, 50, generator=0) if args.neighborhoods == "table"
           else NeighborhoodSampler(g, 50, generator=0))
    sync(where)
    emit(figure="neighbourhoods", mode=args.neighborhoods, T=50, device=str(where),
         seconds=round(time.perf_counter() - t0, 1))
    make = PinSageConfig.paper if args.preset == "paper" else PinSageConfig.classroom
    config = make(x.shape[1], num_neighbors=50)
    total = args.warmup + args.steps
    tc = TrainConfig(epochs=1, batch_size=512, num_shared_negatives=500, max_hard_negatives=args.hard,
                     curriculum=False, max_steps_per_epoch=total, num_workers=workers, sampling=args.sampling,
                     ppr_method="monte_carlo", seed=0)

    def trainer() -> Trainer:
        torch.manual_seed(0)
        model = PinSage(config).to(device)
        return Trainer(model, x, split.train_pairs, nfn, config=tc, graph=g)

    # live: the trainer with its producer
    tr = trainer()
    hist = tr.fit()
    timed = [t for t in hist.timeline if t[1] > args.warmup]
    live = (timed[-1][4] - timed[0][2]) / len(timed)
    wait = sum(t[3] - t[2] for t in timed) / len(timed)
    # prebuilt: the same minibatches, made first
    tr = trainer()
    batches = [tr.producer(1, i).to(device) for i in range(total)]
    tr.model.train()
    for mb in batches[: args.warmup]:
        tr._step(mb)
    sync(device)
    t0 = time.perf_counter()
    for mb in batches[args.warmup:]:
        tr._step(mb)
    sync(device)
    pre = (time.perf_counter() - t0) / args.steps
    per_pair = 1 + 500 + args.hard
    common = dict(size=args.size, device=str(device), sampling=args.sampling, neighbourhoods=args.neighborhoods,
                  workers=workers, torch_threads=threads, model=args.preset, hidden=config.hidden_dim,
                  embed=config.embed_dim, K=2, T=50, batch=512, shared_negatives=500, hard=args.hard,
                  amp=device.type == "cuda")
    for mode, s in (("live", live), ("prebuilt", pre)):
        emit(figure="train_step", mode=mode, seconds_per_step=round(s, 4), steps_per_s=round(1 / s, 3),
             pairs_per_s=round(512 / s), examples_per_s=round(512 * per_pair / s), **common)
    emit(figure="live_over_prebuilt", value=round(live / pre, 3), wait_seconds_per_step=round(wait, 4), **common)
    emit(figure="peak_rss_gib", value=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2))
    if device.type == "cuda":
        emit(figure="peak_cuda_gib", value=round(torch.cuda.max_memory_allocated(device) / 2**30, 2))


if __name__ == "__main__":
    main()
