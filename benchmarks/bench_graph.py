#!/usr/bin/env python3
"""Graph-build benchmark: seconds to build a BipartiteGraph from an edge list, and peak memory.

Prints one JSON line per figure. Default: the synthetic 1M-item / 500k-collection / 20M-edge graph
of the foundation issue (from ``synthetic_pins_boards``), plus a uniform random edge list of the same
size with 5% duplicates, so the dedup path is timed too. Run by hand, not in CI:

    .venv/bin/python benchmarks/bench_graph.py [--items 1000000 --collections 500000 --edges 20000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time

import torch

from pinsage_edu import BipartiteGraph, synthetic_pins_boards


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux


def timed(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--collections", type=int, default=500_000)
    ap.add_argument("--edges", type=int, default=20_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    common = {"items": a.items, "collections": a.collections, "threads": torch.get_num_threads()}

    bench_synthetic(a, common)
    bench_random(a, common)
    print(json.dumps({"figure": "peak_rss_gib", "value": round(peak_rss_gib(), 2), **common}), flush=True)


def bench_synthetic(a: argparse.Namespace, common: dict) -> None:
    """Generate the synthetic graph, then time building a BipartiteGraph from its edge list."""
    t = time.perf_counter()
    ds = synthetic_pins_boards(a.items, a.collections, a.edges, seed=0)
    print(json.dumps({"figure": "synthetic_generate_s", "value": round(time.perf_counter() - t, 2),
                      "edges": len(ds.interactions), **common}), flush=True)
    item, coll = ds.interactions.item, ds.interactions.collection
    secs, g = timed(lambda: BipartiteGraph.from_edges(item, coll, num_items=a.items,
                                                      num_collections=a.collections), a.repeat)
    print(json.dumps({"figure": "from_edges_synthetic_s", "value": round(secs, 2), "edges": g.num_edges,
                      "medges_per_s": round(g.num_edges / secs / 1e6, 1), **common}), flush=True)


def bench_random(a: argparse.Namespace, common: dict) -> None:
    """Uniform random weighted edges with 5% duplicates (the dedup path), then save and mmap-load."""
    gen = torch.Generator().manual_seed(0)
    n_unique = int(a.edges * 0.95)
    it = torch.randint(a.items, (n_unique,), generator=gen)
    co = torch.randint(a.collections, (n_unique,), generator=gen)
    dup = torch.randint(n_unique, (a.edges - n_unique,), generator=gen)
    it, co = torch.cat([it, it[dup]]), torch.cat([co, co[dup]])
    w = torch.rand(a.edges, generator=gen)
    secs, g2 = timed(lambda: BipartiteGraph.from_edges(it, co, w, num_items=a.items, num_collections=a.collections),
                     a.repeat)
    print(json.dumps({"figure": "from_edges_random_weighted_s", "value": round(secs, 2), "edges_in": a.edges,
                      "edges_out": g2.num_edges, "medges_per_s": round(a.edges / secs / 1e6, 1), **common}),
          flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        secs, _ = timed(lambda: g2.save(f"{tmp}/g"), 1)
        print(json.dumps({"figure": "save_s", "value": round(secs, 2), **common}), flush=True)
        secs, g3 = timed(lambda: BipartiteGraph.load(f"{tmp}/g", mmap=True), 1)
        print(json.dumps({"figure": "load_mmap_s", "value": round(secs, 4), **common}), flush=True)
        assert torch.equal(g3.item_indptr, g2.item_indptr)


if __name__ == "__main__":
    main()
