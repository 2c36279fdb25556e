#!/usr/bin/env python3
"""Where one minibatch's time goes: the producer of §3.3, stage by stage.

Prints one JSON line per figure. Run by hand, not in CI:

    .venv/bin/python benchmarks/bench_producer.py                         # CPU, 100k items, table + walks
    .venv/bin/python benchmarks/bench_producer.py --size 1m --hard 6      # the paper's shape, with hard negatives
    .venv/bin/python benchmarks/bench_producer.py --device cuda           # sampling on the GPU (fresh walks)

The shape is bench_train.py's: K = 2, T = 50, 512 pairs per minibatch, 500 shared negatives, ``--hard``
hard negatives per query. The trainer's own producer (:class:`~pinsage_edu.producer.MinibatchProducer`)
builds ``--steps`` minibatches in this process (no loader workers), twice: from a neighbourhood table
(``table``: every item's neighbourhood computed once) and with fresh walks per minibatch (``walks``).
Each stage is timed by wrapping the library function the producer calls (the GPU synchronised before
each clock read), so the stages are the library's, not a copy of them:

* ``blocks`` — Algorithm 2 (``sample_blocks``): the table lookups, de-duplication and re-indexing; with
  fresh walks, ``blocks › walks`` (the walkers' steps, ``walks._visits``), ``blocks › visit counting``
  (``count_visits``) and ``blocks › top-T`` (``top_neighbors``) are the importance neighbourhoods of
  every node Algorithm 2 asks for, and ``blocks`` alone what remains;
* ``shared negatives``, ``PPR ranks`` (the hard negatives' rankings, computed or cached),
  ``hard negatives`` (the draw from the band), ``shared mask``;
* ``rest`` — what the producer does around them: the pairs' slice, the feature gather
  ``features[input_ids]`` and moving the result to the device.

Each figure is the mean milliseconds per minibatch over the timed steps and its share of the total; a
stage called inside another is named after both (``PPR ranks › walks``), and timed exclusively.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from typing import Any, Callable

import torch

from _common import SYNTHETIC_SIZES, emit, sync

from pinsage_edu import producer as producer_module
from pinsage_edu import synthetic_pins_boards
from pinsage_edu import walks as walks_module
from pinsage_edu.features import item_features
from pinsage_edu.minibatch import NeighborhoodSampler, NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import TrainConfig, Trainer


class Stages:
    """Exclusive seconds per stage: a wrapped call made inside another is its own stage, named after both
    (``PPR ranks › walks``: the walks of the Monte-Carlo PPR), and its time is not counted twice."""

    def __init__(self, device: torch.device):
        self.device = device
        self.seconds: dict[str, float] = defaultdict(float)
        self.stack: list[list] = []  # [stage name, seconds spent in wrapped calls below it]

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            key = " › ".join([*(frame[0] for frame in self.stack[-1:]), name])
            self.stack.append([key, 0.0])
            sync(self.device)
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                sync(self.device)
                spent = time.perf_counter() - t0
                _, below = self.stack.pop()
                self.seconds[key] += spent - below
                if self.stack:
                    self.stack[-1][1] += spent

        return timed


def instrument(stages: Stages, producer: Any) -> None:
    """Wrap the functions the producer (and the walks inside its neighbourhood function) call."""
    for module, names in ((producer_module, {"shared_negatives": "shared negatives",
                                             "hard_negatives": "hard negatives",
                                             "shared_negative_mask": "shared mask",
                                             "sample_blocks": "blocks"}),
                          (walks_module, {"_visits": "walks", "count_visits": "visit counting",
                                          "top_neighbors": "top-T"})):
        for attr, name in names.items():
            setattr(module, attr, stages.wrap(name, getattr(module, attr)))
    if producer.ranks is not None:
        producer.ranks = stages.wrap("PPR ranks", producer.ranks)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", choices=sorted(SYNTHETIC_SIZES), default="100k")
    p.add_argument("--device", default="cpu", help="where the minibatches are built (cuda: sampling on the GPU)")
    p.add_argument("--hard", type=int, default=0, help="hard negatives per query")
    p.add_argument("--steps", type=int, default=8, help="timed minibatches (after --warmup)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--modes", default="table,walks")
    args = p.parse_args()
    device = torch.device(args.device)

    t0 = time.perf_counter()
    ds = synthetic_pins_boards(**SYNTHETIC_SIZES[args.size], seed=0)
    split = ds.split(seed=0)
    graph = split.graph.to(device)
    x = item_features(ds, split.graph).x
    emit(figure="data", size=args.size, items=graph.num_items, edges=graph.num_edges, device=str(device),
         threads=torch.get_num_threads(), seconds=round(time.perf_counter() - t0, 1))
    config = PinSageConfig.classroom(x.shape[1], num_neighbors=50)
    total = args.warmup + args.steps
    tc = TrainConfig(epochs=1, batch_size=512, num_shared_negatives=500, max_hard_negatives=args.hard,
                     curriculum=False, max_steps_per_epoch=total, num_workers=0,
                     sampling="device" if device.type != "cpu" else "cpu", ppr_method="monte_carlo", seed=0)
    originals = {m: dict(vars(m)) for m in (producer_module, walks_module)}
    for mode in args.modes.split(","):
        for m, saved in originals.items():  # unwrap what the previous mode wrapped
            for k, v in saved.items():
                setattr(m, k, v)
        nfn = NeighborhoodTable.build(graph, 50, generator=0) if mode == "table" else NeighborhoodSampler(
            graph, 50, generator=0)
        torch.manual_seed(0)
        producer = Trainer(PinSage(config).to(device), x, split.train_pairs, nfn, config=tc, graph=graph).producer
        for i in range(args.warmup):
            producer(0, i)
        stages = Stages(device)
        instrument(stages, producer)
        sync(device)
        t0 = time.perf_counter()
        sizes = []
        for i in range(args.warmup, total):
            mb = producer(0, i)
            sizes.append(mb.blocks.input_ids.numel())
        sync(device)
        wall = time.perf_counter() - t0
        sec = dict(stages.seconds)
        sec["rest"] = wall - sum(sec.values())
        for name, s in sorted(sec.items(), key=lambda kv: -kv[1]):
            emit(figure="producer_stage", mode=mode, stage=name, ms_per_minibatch=round(1e3 * s / args.steps, 2),
                 share=round(s / wall, 3), size=args.size, hard=args.hard, device=str(device))
        emit(figure="producer_total", mode=mode, ms_per_minibatch=round(1e3 * wall / args.steps, 1),
             minibatches_per_s=round(args.steps / wall, 2), input_rows=round(sum(sizes) / len(sizes)),
             size=args.size, hard=args.hard, device=str(device), threads=torch.get_num_threads())


if __name__ == "__main__":
    main()
