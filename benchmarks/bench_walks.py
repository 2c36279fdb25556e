#!/usr/bin/env python3
"""Random-walk benchmark: importance neighbourhoods per second, walk steps per second, peak memory.

Prints one JSON line per figure, with its parameters. Graphs come from the foundation's generator
(``synthetic_pins_boards``: power-law pin popularity and board sizes) at the issue's two sizes,
100k items / 50k collections / 2M edge draws and 1M / 500k / 20M. Settings as in the paper and
DGL's ``PinSAGESampler``: 3 traversals, termination 0.5, 200 walks per seed, T = 50, batches of
512 random seeds. Run by hand, not in CI:

    .venv/bin/python benchmarks/bench_walks.py                  # both graphs, CPU
    .venv/bin/python benchmarks/bench_walks.py --device cuda    # the same on a GPU
    .venv/bin/python benchmarks/bench_walks.py --sizes 100k --batches 50

Reference on the same 2-core CPU (from the issue): DGL 2.1's C++ ``PinSAGESampler`` does 10.7k
neighbourhoods/s (100k graph) and 6.3k/s (1M graph); its ``random_walk`` 10.3M / 4.8M walk steps/s.
A *walk step* is one hop (item → collection or collection → item), as in DGL's traces.

Figures (median over the timed batches, after warm-up):
* ``importance_neighborhoods_per_s`` — the full PinSage sampler: walks, visit counts, top-T, weights.
* ``walk_steps_per_s`` — the walker alone (what ``importance_neighborhoods`` runs), hops per second.
* ``random_walks_traces_steps_per_s`` — :func:`random_walks`, which also materialises the traces.
* ``uniform_neighborhoods_per_s`` — the GraphSAGE-style sampler, for comparison.
* ``ppr_exact_queries_per_s`` — exact personalized PageRank (power iteration) per query.
* ``ppr_monte_carlo_queries_per_s`` — ``ppr_rank(method="monte_carlo")``, 1000 walks per query.
* ``pixie_queries_per_s`` — the Pixie baseline, batched single-item queries (20k-step budget).
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

from pinsage_edu import synthetic_pins_boards
from pinsage_edu import walks as W
from pinsage_edu.baselines import pixie_recommend_batch

SIZES = {
    "100k": dict(num_pins=100_000, num_boards=50_000, num_edges=2_000_000),
    "1m": dict(num_pins=1_000_000, num_boards=500_000, num_edges=20_000_000),
}


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[int], object], batches: int, warmup: int, device: torch.device) -> float:
    """Median wall time of ``fn(batch_index)`` over ``batches`` calls after ``warmup`` untimed ones.

    The fastest call is kept in ``LAST_BEST`` too: on a shared machine the median moves with the
    neighbours' load, the best call much less.
    """
    for i in range(warmup):
        fn(-1 - i)
    sync(device)
    times = []
    for i in range(batches):
        t = time.perf_counter()
        fn(i)
        sync(device)
        times.append(time.perf_counter() - t)
    LAST_BEST[0] = min(times)
    return statistics.median(times)


LAST_BEST = [float("nan")]


def emit(figure: str, value: float, **params) -> None:
    print(json.dumps({"figure": figure, "value": round(value, 3 if value < 100 else 0), **params}), flush=True)


def bench_graph(size: str, a: argparse.Namespace, device: torch.device) -> None:
    t = time.perf_counter()
    graph = synthetic_pins_boards(**SIZES[size], seed=0).graph(device=device)
    common = {"graph": size, "items": graph.num_items, "collections": graph.num_collections,
              "edges": graph.num_edges, "device": str(device), "threads": torch.get_num_threads()}
    emit("graph_build_s", time.perf_counter() - t, **common)
    walk = dict(num_walks=a.walks, num_traversals=a.traversals, termination_prob=a.termination)
    params = {**walk, "T": a.T, "batch": a.batch, **common}
    gen = torch.Generator(device=device).manual_seed(0)
    seed_gen = torch.Generator().manual_seed(1)
    seed_batches = {i: torch.randint(0, graph.num_items, (a.batch,), generator=seed_gen).to(device)
                    for i in range(-a.warmup, a.batches)}

    secs = median_seconds(lambda i: W.importance_neighborhoods(graph, seed_batches[i], a.T, **walk, generator=gen),
                          a.batches, a.warmup, device)
    emit("importance_neighborhoods_per_s", a.batch / secs, ms_per_batch=round(secs * 1e3, 2),
         best_per_s=round(a.batch / LAST_BEST[0]), **params)

    # The walker alone, counting hops exactly as they happen.
    hops: dict[int, int] = {}

    def walker(i: int) -> None:
        start = seed_batches[i].repeat_interleave(a.walks)
        steps = W.walk_steps(graph, start, num_traversals=a.traversals, termination_prob=a.termination,
                             restart_prob=0.0, weighted=graph.weighted, generator=gen)
        hops[i] = 2 * sum(int(w.numel()) for w, _, _ in steps)

    secs = median_seconds(walker, a.batches, a.warmup, device)
    timed = [hops[i] for i in range(a.batches)]
    emit("walk_steps_per_s", statistics.median(timed) / secs, best_per_s=round(statistics.median(timed) / LAST_BEST[0]),
         **params)

    traced: dict[int, int] = {}

    def traces(i: int) -> None:
        traced[i] = W.random_walks(graph, seed_batches[i], **walk, generator=gen).num_steps

    secs = median_seconds(traces, a.batches, a.warmup, device)
    emit("random_walks_traces_steps_per_s", statistics.median([traced[i] for i in range(a.batches)]) / secs, **params)

    secs = median_seconds(lambda i: W.uniform_neighborhoods(graph, seed_batches[i], a.T, generator=gen),
                          max(3, a.batches // 4), 1, device)
    emit("uniform_neighborhoods_per_s", a.batch / secs, T=a.T, batch=a.batch, **common)

    q = seed_batches[0][:a.ppr_queries]
    secs = median_seconds(lambda i: W.ppr_rank(graph, q, 100, restart_prob=a.termination, num_iterations=20), 1, 0,
                          device)
    emit("ppr_exact_queries_per_s", q.numel() / secs, queries=q.numel(), iterations=20, k=100, **common)
    q = seed_batches[0]
    secs = median_seconds(lambda i: W.ppr_rank(graph, q, 100, method="monte_carlo", restart_prob=a.termination,
                                               num_walks=1000, generator=gen), 3, 1, device)
    emit("ppr_monte_carlo_queries_per_s", q.numel() / secs, queries=q.numel(), num_walks=1000, k=100, **common)

    q = seed_batches[0][:a.pixie_queries]
    secs = median_seconds(lambda i: pixie_recommend_batch(graph, q, 10, num_steps=20_000, generator=gen), 2, 1,
                          device)
    emit("pixie_queries_per_s", q.numel() / secs, queries=q.numel(), num_steps=20_000, **common)
    emit("peak_rss_gib", peak_rss_gib(), **common)
    if device.type == "cuda":
        emit("peak_cuda_gib", torch.cuda.max_memory_allocated(device) / 2**30, **common)
    del graph


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", default=["100k", "1m"], choices=sorted(SIZES))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--batches", type=int, default=30, help="timed batches per figure")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--walks", type=int, default=200)
    ap.add_argument("--traversals", type=int, default=3)
    ap.add_argument("--termination", type=float, default=0.5)
    ap.add_argument("--T", type=int, default=50)
    ap.add_argument("--ppr-queries", type=int, default=16)
    ap.add_argument("--pixie-queries", type=int, default=256)
    a = ap.parse_args()
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA device")
    for size in a.sizes:
        bench_graph(size, a, device)


if __name__ == "__main__":
    main()
