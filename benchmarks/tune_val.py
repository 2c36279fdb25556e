#!/usr/bin/env python3
"""Validation runs behind the main job's recipe: train PinSage with each setting given and score it on the
**validation** pairs (never the test pairs), next to item-kNN CF on the same pairs.

Each line of the JSON-lines file is one setting; keys other than these go to ``TrainConfig``:
``dataset`` (default ml-latest-small), ``T`` (neighbourhood size, 10), ``walks`` (200), ``traversals`` (3),
``cdim`` (collection_dim, 0), ``model`` (PinSageConfig overrides; ``"ids": true`` adds id embeddings,
``"pooling"``), ``weights`` (``best`` or ``last``). Catalogues with more than 10,000 validation pairs are
scored on a seeded sample of ``--val-sample`` of them.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tune_val.py settings.jsonl >> my_runs.jsonl

Every run kept for the README goes into ``benchmarks/results/tuning.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from pinsage_edu.evaluate import Experiment, ItemKNNRecommender, Variant, compare, train_variant
from pinsage_edu.train import TrainConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("settings", help="a JSON-lines file, one setting per line (# comments allowed)")
    ap.add_argument("--val-sample", type=int, default=20_000, help="validation pairs scored on a large catalogue")
    args = ap.parse_args()
    exps: dict[tuple, Experiment] = {}
    for line in open(args.settings, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        cfg = json.loads(line)
        key = (cfg.pop("dataset", "ml-latest-small"), cfg.pop("T", 10), cfg.pop("walks", 200),
               cfg.pop("traversals", 3), cfg.pop("cdim", 0))
        if key not in exps:
            ds, T, walks, trav, cdim = key
            exps[key] = Experiment.load(ds, num_neighbors=T, num_walks=walks, num_traversals=trav, seed=0,
                                        collection_dim=cdim)
        exp = exps[key]
        model = dict(cfg.pop("model", {}))
        ids = bool(model.pop("ids", False))
        if ids:
            model["id_embeddings"] = exp.graph.num_items
        pooling = model.pop("pooling", "importance")
        weights = cfg.pop("weights", "best")
        t0 = time.perf_counter()
        tv = train_variant(exp, Variant("PinSage", {"pooling": pooling}), config=TrainConfig(**{"epochs": 10, **cfg}),
                           weights=weights, **model)
        held = exp.split.val_pairs
        if len(held) > 10_000:
            held = held[torch.randperm(len(held), generator=torch.Generator().manual_seed(0))[:args.val_sample]]
        pinsage, knn = compare([tv.recommender(), ItemKNNRecommender(exp.graph)], held, k=10)
        model.pop("id_embeddings", None)
        print(json.dumps({"dataset": key[0], "T": key[1], "cdim": key[4], "ids": ids, "model": model,
                          "pooling": pooling, "train": cfg, "weights": weights, "pairs": f"val ({len(held):,})",
                          "hit": round(100 * pinsage.hit_rate, 3), "mrr": round(pinsage.mrr, 5),
                          "knn": round(100 * knn.hit_rate, 3), "best_epoch": tv.epoch,
                          "val_curve": [round(100 * e.val_hit_rate, 2) for e in tv.history.epochs],
                          "secs": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
