#!/usr/bin/env python3
"""Loader benchmark: seconds to read a MovieLens-format ratings file of a given size, and peak memory.

Writes a synthetic ``ratings.csv`` (MovieLens 20M/25M/32M format) and ``movies.csv`` into a temporary
folder, then times ``load_movielens`` and ``Dataset.split`` on it. One JSON line per figure. Run by
hand, not in CI:

    .venv/bin/python benchmarks/bench_loaders.py [--ratings 5000000 --users 160000 --movies 60000]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from pinsage_edu import load_movielens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ratings", type=int, default=5_000_000)
    ap.add_argument("--users", type=int, default=160_000)
    ap.add_argument("--movies", type=int, default=60_000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        user = rng.integers(1, a.users + 1, a.ratings)
        movie = rng.zipf(1.3, a.ratings) % a.movies + 1
        rating = rng.integers(1, 11, a.ratings) / 2
        ts = rng.integers(800_000_000, 1_700_000_000, a.ratings)
        key = np.unique(user * (a.movies + 1) + movie, return_index=True)[1]  # MovieLens has no repeats
        with open(folder / "ratings.csv", "w") as f:
            f.write("userId,movieId,rating,timestamp\n")
            for u, m, r, s in zip(user[key], movie[key], rating[key], ts[key]):
                f.write(f"{u},{m},{r:.1f},{s}\n")
        with open(folder / "movies.csv", "w") as f:
            f.write("movieId,title,genres\n")
            for m in range(1, a.movies + 1):
                f.write(f'{m},"Movie {m}, The ({1950 + m % 70})",Drama|Comedy\n')
        rows = len(key)
        print(json.dumps({"figure": "write_fixture_s", "value": round(time.perf_counter() - t, 1), "rows": rows}))
        t = time.perf_counter()
        ds = load_movielens(folder)
        secs = time.perf_counter() - t
        print(json.dumps({"figure": "load_movielens_s", "value": round(secs, 2), "rows": rows,
                          "rows_per_s": round(rows / secs), "liked_edges": len(ds.interactions)}), flush=True)
        t = time.perf_counter()
        split = ds.split()
        print(json.dumps({"figure": "split_s", "value": round(time.perf_counter() - t, 2),
                          "train_pairs": len(split.train_pairs)}), flush=True)
    print(json.dumps({"figure": "peak_rss_gib", "value": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}))


if __name__ == "__main__":
    main()
