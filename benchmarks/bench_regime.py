"""The regime map at full size: sweep one knob of the synthetic ``pinterest-like`` preset with the preset's
own catalogue and training budget (225 steps per rung), too slow for a classroom run; notebook 09 renders it.

For each knob value and seed (each seed draws its own data: data seed = training seed) it trains
mean-pooling, mean-pooling-hard and PinSage (:func:`pinsage_edu.regimes.regime_map`, ``size="full"``) and
prints one JSON line per knob value: the two-hop coverage, each rung's mean hit@10 and the gains of hard
negatives and importance pooling with their paired standard errors. On validation pairs (the knobs are
the generator's, not tuned here):

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_regime.py --knob subtopic_purity --values 1.0 0.9 \\
        --out benchmarks/results/regime_map.jsonl
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from _common import emit


def main() -> None:
    from pinsage_edu.regimes import regime_map

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--knob", required=True, help="a synthetic_pins_boards argument, e.g. subtopic_purity")
    p.add_argument("--values", nargs="+", required=True, help="values of the knob (parsed as JSON: 1.0, 4, true)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--out", default=None, help="also append the JSON lines to this file")
    args = p.parse_args()
    torch.set_num_threads(1)
    rmap = regime_map(args.knob, [json.loads(v) for v in args.values], seeds=args.seeds, size="full", progress=True)
    print(rmap.format(), flush=True)
    for pt in rmap.points:
        fields = dict(figure="regime_map", size=rmap.size, pairs=rmap.pairs, seeds=rmap.seeds, knob=rmap.knob,
                      value=pt.value, coverage=pt.coverage, hit_rates=pt.hit_rates,
                      gains={n: {"difference": d, "stderr": se} for n, (d, se) in pt.gains.items()},
                      seconds=round(rmap.seconds, 1))
        emit(**fields)
        if args.out:
            with Path(args.out).open("a", encoding="utf-8") as f:
                f.write(json.dumps(fields) + "\n")


if __name__ == "__main__":
    main()
