#!/usr/bin/env python3
"""§3.4: layer-wise ("MapReduce") inference against Algorithm 2 per minibatch, and how it scales.

Prints one JSON line per figure. Run by hand, not in CI:

    .venv/bin/python benchmarks/bench_inference.py                      # synthetic 100k and 1M items, T = 50
    .venv/bin/python benchmarks/bench_inference.py --sizes 100k         # the speed-up only
    .venv/bin/python benchmarks/bench_inference.py --device cuda        # the same on a GPU

For each size: the synthetic pins–boards graph (100k pins / 50k boards / 2M saves, or ten times
that), its T = 50 importance neighbourhood table, and an untrained K = 2 model (classroom widths
m = 128, d = 64 unless ``--preset paper``; training does not change the cost). Then

* ``layerwise`` — :func:`~pinsage_edu.inference.embed_all` over every item (seconds, items/s);
* ``naive`` — :func:`~pinsage_edu.inference.embed_minibatches` (Algorithm 2 per minibatch of
  ``--batch-size`` items). On the first size it runs over every item, or over ``--naive-batches``
  minibatches and is extrapolated (said so in the line); it also checks that both ways give the same
  vectors on those items. ``speedup`` = naive / layer-wise seconds (target ≥ 10 at 100k).
* ``scaling`` — layer-wise seconds per item at each size over the first size's (1.0 = linear).
"""

from __future__ import annotations

import argparse
import time

import torch

from _common import SYNTHETIC_SIZES, emit, sync

from pinsage_edu import synthetic_pins_boards
from pinsage_edu.features import item_features
from pinsage_edu.inference import computation_counts, embed_all, embed_minibatches
from pinsage_edu.minibatch import NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig

SIZES = SYNTHETIC_SIZES




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", choices=sorted(SIZES), default=["100k", "1m"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--preset", choices=["classroom", "paper"], default="classroom")
    p.add_argument("-T", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--naive-batches", type=int, default=None,
                   help="time Algorithm 2 on this many minibatches and extrapolate (default: every item)")
    args = p.parse_args()
    device = torch.device(args.device)
    emit(figure="setup", device=str(device), threads=torch.get_num_threads(), preset=args.preset, T=args.T,
         batch_size=args.batch_size)
    first = None
    for size in args.sizes:
        t0 = time.perf_counter()
        ds = synthetic_pins_boards(**SIZES[size], seed=0)
        graph = ds.split(seed=0).graph
        x = item_features(ds, graph).x
        table = NeighborhoodTable.build(graph.to(device), args.T, generator=0)
        n = graph.num_items
        emit(figure="data", size=size, items=n, edges=graph.num_edges, seconds=round(time.perf_counter() - t0, 1))
        make = PinSageConfig.paper if args.preset == "paper" else PinSageConfig.classroom
        torch.manual_seed(0)
        model = PinSage(make(x.shape[1], num_neighbors=args.T)).to(device)
        xd = x.to(device)
        sync(device)
        t0 = time.perf_counter()
        z = embed_all(model, table, xd, chunk_size=8192)
        sync(device)
        lw = time.perf_counter() - t0
        emit(figure="layerwise", size=size, items=n, seconds=round(lw, 3), items_per_s=round(n / lw))
        if first is None:
            first = (size, lw / n)
            batches = -(-n // args.batch_size)
            use = batches if args.naive_batches is None else min(args.naive_batches, batches)
            items = torch.arange(min(n, use * args.batch_size))
            counts = computation_counts(table, 2, args.batch_size, items)
            sync(device)
            t0 = time.perf_counter()
            zn = embed_minibatches(model, xd, table, items, batch_size=args.batch_size)
            sync(device)
            nv = (time.perf_counter() - t0) * batches / use
            err = float((zn - z[: items.numel()]).abs().max())
            emit(figure="naive", size=size, minibatches_timed=use, minibatches=batches,
                 extrapolated=use < batches, seconds=round(nv, 3), max_abs_difference=err,
                 layer1_messages_per_item=round(counts["naive_messages"][0] / items.numel(), 2),
                 layer1_vectors_per_item=round(counts["naive_vectors"][0] / items.numel(), 2))
            emit(figure="speedup", size=size, naive_over_layerwise=round(nv / lw, 1), target=">= 10")
        else:
            emit(figure="scaling", sizes=[first[0], size], seconds_per_item_ratio=round((lw / n) / first[1], 2),
                 target="about 1 (linear)")


if __name__ == "__main__":
    main()
