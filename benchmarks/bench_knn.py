#!/usr/bin/env python3
"""§3.4 nearest-neighbour search: exact (chunked matmul + top-k), faiss' flat index, and LSH.

Prints one JSON line per figure. Run by hand, not in CI:

    .venv/bin/python benchmarks/bench_knn.py                         # 1M clustered unit vectors, d = 64
    .venv/bin/python benchmarks/bench_knn.py --items 100000          # quicker
    .venv/bin/python benchmarks/bench_knn.py --embeddings runs/…/embeddings.pt   # real embeddings
    .venv/bin/python benchmarks/bench_knn.py --device cuda           # exact and LSH on the GPU

The vectors (unless ``--embeddings``) are unit vectors around ``--clusters`` random centres with
Gaussian noise (``--noise`` per coordinate), so that items have true near neighbours the way topic-
structured embeddings do. ``--queries`` items are looked up, k = 10, the query itself excluded.

* ``exact`` — :func:`~pinsage_edu.knn.exact_top_k` seconds; ``faiss`` — ``IndexFlatIP`` seconds
  (when faiss is installed) and ``exact_over_faiss`` (target ≤ 1.5);
* ``lsh`` — for each setting (tables × bits, probes): build and search seconds, candidates scored
  per query, recall@10 against exact, and ``speedup`` = exact search seconds / LSH search seconds
  (target: recall ≥ 0.9 at a stated speed-up).
"""

from __future__ import annotations

import argparse
import time

import torch

from _common import emit, sync

from pinsage_edu.inference import load_embeddings
from pinsage_edu.knn import FaissIndex, LSHIndex, exact_top_k, faiss_available, recall_at_k

SETTINGS = [(8, 16, 0), (16, 16, 0), (16, 16, 2), (16, 16, 4), (24, 16, 2), (32, 16, 2), (16, 14, 2), (32, 16, 4)]




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--clusters", type=int, default=10_000)
    p.add_argument("--noise", type=float, default=0.06)
    p.add_argument("--embeddings", default=None, help="an embeddings file instead of the clustered vectors")
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    if args.embeddings:
        e = load_embeddings(args.embeddings).vectors
    else:
        c = torch.nn.functional.normalize(torch.randn(args.clusters, args.dim, generator=g), dim=1)
        e = torch.nn.functional.normalize(c[torch.randint(0, args.clusters, (args.items,), generator=g)]
                                          + args.noise * torch.randn(args.items, args.dim, generator=g), dim=1)
    e = e.to(device)
    n = e.shape[0]
    q = torch.randint(0, n, (args.queries,), generator=g).to(device)
    emit(figure="setup", items=n, dim=e.shape[1], queries=args.queries, device=str(device),
         threads=torch.get_num_threads(), source=args.embeddings or f"{args.clusters} clusters, noise {args.noise}")
    exact_top_k(e, q[:10], 10)
    sync(device)
    t0 = time.perf_counter()
    ex_ids, ex_s = exact_top_k(e, q, 10)
    sync(device)
    te = time.perf_counter() - t0
    emit(figure="exact", seconds=round(te, 3), ms_per_query=round(1000 * te / args.queries, 3),
         mean_10th_cosine=round(float(ex_s[:, -1].mean()), 3))
    if faiss_available() and device.type == "cpu":
        t0 = time.perf_counter()
        fi = FaissIndex(e)
        tb = time.perf_counter() - t0
        fi.search(q[:10], 10)
        t0 = time.perf_counter()
        f_ids, _ = fi.search(q, 10)
        tf = time.perf_counter() - t0
        emit(figure="faiss", build_seconds=round(tb, 3), seconds=round(tf, 3), exact_over_faiss=round(te / tf, 2),
             target="<= 1.5", recall_vs_exact=round(recall_at_k(f_ids, ex_ids), 4))
    else:
        emit(figure="faiss", skipped="faiss not installed (pip install faiss-cpu) or not on the CPU")
    for L, b, probes in SETTINGS:
        t0 = time.perf_counter()
        index = LSHIndex(e, num_tables=L, num_bits=b, probes=probes, generator=0)
        sync(device)
        tb = time.perf_counter() - t0
        t0 = time.perf_counter()
        ids, _ = index.search(q, 10)
        sync(device)
        ts = time.perf_counter() - t0
        rows, _ = index.candidates(q[:200])
        emit(figure="lsh", tables=L, bits=b, probes=probes, build_seconds=round(tb, 2), seconds=round(ts, 3),
             candidates_per_query=round(rows.numel() / min(200, args.queries)), recall_at_10=round(recall_at_k(ids, ex_ids), 4),
             speedup=round(te / ts, 1))


if __name__ == "__main__":
    main()
