#!/usr/bin/env python3
"""Model benchmark: Algorithm 2 minibatches, PinSage training steps and all-item embedding, per second.

Prints one JSON line per figure, with its parameters. Run by hand, not in CI:

    .venv/bin/python benchmarks/bench_model.py                   # CPU, ml-latest-small + synthetic 100k
    .venv/bin/python benchmarks/bench_model.py --device cuda     # the same on a GPU

Figures (median over the timed batches, after warm-up):
* ``sample_blocks_per_s`` — Algorithm 2 on 512 seeds (1,524 with the negatives of a training step)
  from a precomputed ``NeighborhoodTable`` (K = 2), and from fresh walks (``NeighborhoodSampler``).
* ``train_steps_per_s`` — one full training step of ``train_pinsage``'s kind: 512 pairs, 500 shared
  negatives, blocks, forward, max-margin loss, backward, Adam — for the classroom model (m = 128,
  d = 64) and a mid-size one (m = 512, d = 256); ``pairs_per_s`` = 512 × steps/s.
* ``embed_items_per_s`` — ``embed_minibatches`` over every item (inference without training).
* ``peak_rss_gib`` / ``peak_cuda_gib`` — memory high-water marks.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from typing import Callable

import torch

from pinsage_edu import load_dataset, synthetic_pins_boards
from pinsage_edu.features import item_features
from pinsage_edu.inference import embed_minibatches
from pinsage_edu.loss import max_margin_loss
from pinsage_edu.minibatch import NeighborhoodSampler, NeighborhoodTable, sample_blocks
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.negatives import shared_negative_mask, shared_negatives


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[int], object], batches: int, warmup: int, device: torch.device) -> float:
    for i in range(warmup):
        fn(i)
    sync(device)
    times = []
    for i in range(batches):
        t0 = time.perf_counter()
        fn(warmup + i)
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def emit(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


def run(name: str, graph, x: torch.Tensor, pairs: torch.Tensor, device: torch.device, batches: int, T: int) -> None:
    graph, x, pairs = graph.to(device), x.to(device), pairs.to(device)
    N = graph.num_items
    gen = torch.Generator(device=device).manual_seed(0)
    table = NeighborhoodTable.build(graph, T, generator=0)
    sampler = NeighborhoodSampler(graph, T, generator=0)

    def batch(i: int) -> torch.Tensor:
        return torch.randint(0, pairs.shape[0], (512,), generator=gen, device=device)

    for label, fn in (("table", table), ("fresh walks", sampler)):
        s = median_seconds(lambda i: sample_blocks(pairs[batch(i)].reshape(-1), 2, fn), batches, 2, device)
        emit(graph=name, figure="sample_blocks_per_s", neighbourhoods=label, seeds=1024, K=2, T=T,
             value=round(1 / s, 1), device=str(device))
    for preset, over in (("classroom", {}), ("mid", dict(hidden_dim=512, embed_dim=256))):
        torch.manual_seed(0)
        model = PinSage(PinSageConfig.classroom(x.shape[1], num_neighbors=T, **over)).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(i: int) -> None:
            b = pairs[batch(i)]
            neg = shared_negatives(N, 500, device=device, generator=gen)
            z = model(sample_blocks(torch.cat([b[:, 0], b[:, 1], neg]), 2, table), x)
            res = max_margin_loss(z[:512], z[512:1024], z[1024:], margin=0.1,
                                  shared_mask=shared_negative_mask(neg, b[:, 0], b[:, 1]))
            opt.zero_grad(set_to_none=True)
            res.loss.backward()
            opt.step()

        s = median_seconds(step, batches, 2, device)
        emit(graph=name, figure="train_steps_per_s", model=preset, hidden=model.config.hidden_dim,
             embed=model.config.embed_dim, K=2, T=T, batch=512, shared_negatives=500, value=round(1 / s, 2),
             pairs_per_s=round(512 / s), device=str(device))
        t0 = time.perf_counter()
        embed_minibatches(model, x, table, batch_size=2048)
        sync(device)
        emit(graph=name, figure="embed_items_per_s", model=preset, items=N, value=round(N / (time.perf_counter() - t0)),
             device=str(device))
    emit(figure="peak_rss_gib", value=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2))
    if device.type == "cuda":
        emit(figure="peak_cuda_gib", value=round(torch.cuda.max_memory_allocated(device) / 2**30, 2))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--skip-synthetic", action="store_true", help="only ml-latest-small")
    args = p.parse_args()
    device = torch.device(args.device)
    movies = load_dataset("ml-latest-small")
    split = movies.split(seed=0)
    run("ml-latest-small", split.graph, item_features(movies, split.graph).x, split.train_pairs, device,
        args.batches, T=10)
    if not args.skip_synthetic:
        ds = synthetic_pins_boards(num_pins=100_000, num_boards=50_000, num_edges=2_000_000, seed=0)
        sp = ds.split(seed=0)
        run("synthetic-100k", sp.graph, item_features(ds, sp.graph).x, sp.train_pairs, device, args.batches, T=50)


if __name__ == "__main__":
    main()
