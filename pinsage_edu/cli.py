"""Command line: ``python -m pinsage_edu [summary | neighbors | train] [--dataset NAME_OR_PATH ...]``.

Argument parsing lives here and only here. The main job (``summary``) loads each dataset, builds its
train graph and features and prints a summary; ``neighbors --title TEXT`` prints one item's
importance neighbourhood (§3.2) and Pixie's recommendations for it; ``train`` fits PinSage (§3.3)
into a run folder (``--out``, resumable with ``--resume``; the same command runs under ``torchrun``
on several GPUs or machines) and compares its hit-rate@10 with Pixie's and popularity's on the same
held-out pairs. Later issues add ``embed``, ``recommend`` and ``evaluate``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import torch

from .checkpoint import CheckpointError, write_json_atomic
from .data import SHIPPED, DataError, load_dataset
from .distributed import World, close_distributed, init_distributed
from .evaluate import hit_rate, popularity_recommendations
from .features import item_features
from .inference import embed_minibatches
from .knn import exact_top_k
from .minibatch import NeighborhoodSampler, NeighborhoodTable
from .model import PinSage, PinSageConfig
from .train import RunDirError, TrainConfig, train_pinsage

# TrainConfig fields whose flag is not the field's name with dashes
_FLAGS = {"num_shared_negatives": "--shared-negatives", "max_hard_negatives": "--max-hard", "num_workers": "--workers",
          "prefetch_factor": "--prefetch", "max_steps_per_epoch": "--steps-per-epoch", "eval_mrr_scale": "--mrr-scale",
          "curriculum": "--no-curriculum", "amp": "--no-amp", "hard_band": "--band"}
from .walks import importance_neighborhoods, pixie_recommend, pixie_recommend_batch

DEFAULT_DATASETS = (*SHIPPED, "synthetic")


def summary(datasets: list[str], *, min_rating: float, val_fraction: float, test_fraction: float, seed: int) -> int:
    """Load each dataset, split it, build features, and print what a reader needs to know."""
    for name in datasets:
        t0 = time.perf_counter()
        ds = load_dataset(name, min_rating=min_rating)
        split = ds.split(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
        feats = item_features(ds, split.graph, seed=seed)
        print(ds.summary(split))
        print(f"features: {feats.describe()}")
        print(f"(loaded, split and featurised in {time.perf_counter() - t0:.1f} s)\n")
    return 0


def neighbors(datasets: list[str], *, title: str, num_neighbors: int, num_walks: int, num_traversals: int,
              pixie_steps: int, min_rating: float, val_fraction: float, test_fraction: float, seed: int) -> int:
    """Print the importance neighbourhood and Pixie's top items for the first title containing ``title``."""
    for name in datasets:
        ds = load_dataset(name, min_rating=min_rating)
        graph = ds.split(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed).graph
        hits = ds.items.find(title)
        if not hits:
            raise ValueError(f"{ds.name}: no item title contains {title!r}")
        item, titles = hits[0], ds.items.titles
        nb = importance_neighborhoods(graph, [item], num_neighbors, num_walks=num_walks,
                                      num_traversals=num_traversals, generator=seed)
        pix = pixie_recommend(graph, item, k=num_neighbors, num_steps=pixie_steps, generator=seed)
        print(f"== {ds.name}: {titles[item]} (item {item}, {int(graph.item_degrees[item])} collections in train)")
        print(f"importance neighbourhood (T = {num_neighbors}, {num_walks} walks of <= {num_traversals} traversals):")
        for i, a in zip(nb.ids[0][nb.mask[0]].tolist(), nb.weights[0][nb.mask[0]].tolist()):
            print(f"  α = {a:.3f}  {titles[i]}")
        if not bool(nb.mask.any()):
            print("  (empty: the item is in no collection of the train graph)")
        print(f"Pixie ({pixie_steps:,} steps):")
        for i, s in pix.top(0):
            print(f"  {s:8.0f}  {titles[i]}")
    return 0


def train(args: argparse.Namespace, *, min_rating: float, val_fraction: float, test_fraction: float, seed: int) -> int:
    """Train PinSage on one dataset into ``--out``; print the epoch table and hit-rate@10 next to Pixie's
    and popularity's. Under ``torchrun`` every rank runs this; rank 0 prints and writes."""
    t0 = time.perf_counter()
    try:
        torch.device(args.device)
    except RuntimeError:
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {args.device!r}") from None
    w, device = init_distributed(args.device)
    try:
        return _train(args, w, device, t0, min_rating=min_rating, val_fraction=val_fraction,
                      test_fraction=test_fraction, seed=seed)
    finally:
        close_distributed()


def _train(args: argparse.Namespace, w: World, device: torch.device, t0: float, *, min_rating: float,
           val_fraction: float, test_fraction: float, seed: int) -> int:
    say = print if w.is_main else (lambda *a, **k: None)
    dataset = (args.dataset or ["ml-latest-small"])[0]
    if args.workers is None:
        args.workers = 0 if device.type == "cpu" or args.sampling == "device" else \
            min(4, max(1, (os.cpu_count() or 1) // max(1, w.size) - 1))
    torch.manual_seed(seed)
    try:
        tc = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer, lr=args.lr,
                         momentum=args.momentum, weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs,
                         lr_decay=args.lr_decay, grad_clip=args.grad_clip if args.grad_clip > 0 else None,
                         amp=not args.no_amp, margin=args.margin, loss=args.loss, temperature=args.temperature,
                         num_shared_negatives=args.shared_negatives, max_hard_negatives=args.max_hard,
                         curriculum=not args.no_curriculum, hard_band=tuple(args.band) if args.band else None,
                         ppr_method=args.ppr_method, num_workers=args.workers, prefetch_factor=args.prefetch,
                         sampling=args.sampling, max_steps_per_epoch=args.steps_per_epoch, eval_k=args.eval_k,
                         eval_pairs=args.eval_pairs, eval_mrr_scale=args.mrr_scale,
                         early_stopping=args.early_stopping, early_stopping_metric=args.early_stopping_metric,
                         checkpoint_every=args.checkpoint_every, seed=seed)
    except ValueError as exc:  # name the flag the user typed, not the field behind it
        raise ValueError(re.sub(r"TrainConfig\.(\w+)", lambda m: _FLAGS.get(m.group(1), "--" + m.group(1).replace("_", "-")),
                                str(exc))) from None
    for flag, value in (("--walks", args.walks), ("--traversals", args.traversals)):
        if value <= 0:
            raise ValueError(f"{flag} must be a positive integer, got {value}")
    if args.grad_clip < 0:
        raise ValueError(f"--grad-clip must be >= 0 (0: no clipping), got {args.grad_clip}")
    if args.band and not 0 <= args.band[0] < args.band[1]:
        raise ValueError(f"--band LO HI needs 0 <= LO < HI, got {args.band[0]} {args.band[1]}")
    if tc.batch_size < w.size:
        raise ValueError(f"--batch-size {tc.batch_size} is below the number of ranks ({w.size}): each rank needs "
                         "at least one pair of every minibatch")
    if args.out is None and args.resume:
        raise ValueError("--resume needs --out, the folder of the run to continue")
    out = Path(args.out) if args.out else Path("runs") / f"{Path(dataset).name}-{args.preset}-" \
        f"{time.strftime('%Y%m%d-%H%M%S')}"
    out = Path(w.broadcast_object(str(out)))  # every rank writes (or reads) the same folder
    # the folder checks that need no data, before minutes of loading (the trainer checks the rest)
    if not args.resume and (out / "last.pt").exists():
        raise RunDirError(f"{out} already holds a training run; nothing was overwritten. Pass --resume to continue "
                          "it, or choose another --out")
    if args.resume and not (out / "run.json").exists():
        raise RunDirError(f"{out} holds no run to resume (no run.json)")
    ds = load_dataset(dataset, min_rating=min_rating)
    split = ds.split(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    graph = split.graph
    x = item_features(ds, split.graph, seed=seed).x
    make = PinSageConfig.paper if args.preset == "paper" else PinSageConfig.classroom
    overrides: dict = {"pooling": args.pooling, "dropout": args.dropout,
                       "normalize_output": not args.no_normalize_output}
    for key, value in (("num_neighbors", args.num_neighbors), ("hidden_dim", args.hidden_dim),
                       ("embed_dim", args.embed_dim), ("num_layers", args.layers), ("input_dim", args.input_dim)):
        if value is not None:
            overrides[key] = value
    try:
        config = make(x.shape[1], **overrides)
    except ValueError as exc:
        raise ValueError(re.sub(r"PinSageConfig\.(\w+)", lambda m: {"num_layers": "--layers", "num_neighbors": "-T"}.get(
            m.group(1), "--" + m.group(1).replace("_", "-")), str(exc))) from None
    where = device if tc.sampling == "device" else torch.device("cpu")
    walk_graph = graph.to(where)
    walks = dict(num_walks=args.walks, num_traversals=args.traversals)
    nfn = (NeighborhoodSampler(walk_graph, config.num_neighbors, generator=seed, **walks) if args.resample
           else NeighborhoodTable.build(walk_graph, config.num_neighbors, generator=seed, **walks))
    model = PinSage(config).to(device)
    # the same initial parameters on every rank (DDP also broadcasts rank 0's); different dropout masks
    torch.manual_seed(seed + 1_000_003 * w.rank)
    run_info = {"dataset": dataset, "min_rating": min_rating, "val_fraction": val_fraction,
                "test_fraction": test_fraction, "seed": seed, "preset": args.preset, "resample": args.resample,
                **walks, "device": device.type}
    say(f"== {ds.name}: {graph.num_items:,} items, {len(split.train_pairs):,} train pairs, "
        f"{len(split.val_pairs):,} val pairs")
    say(f"model: {json.dumps(config.to_dict())}")
    say(f"training: {json.dumps(tc.to_dict())}")
    say(f"{'resuming' if args.resume else 'writing'} {out}/ (run.json, last.pt, best.pt, metrics.jsonl) · "
        f"{w.size} process{'es' if w.size > 1 else ''} on {device} · "
        f"{'fresh walks per minibatch' if args.resample else 'one neighbourhood table'} built on {where}"
        + (f" · {tc.num_workers} loader worker{'s' if tc.num_workers != 1 else ''}" if tc.num_workers else ""))
    history = train_pinsage(model, x, split.train_pairs, nfn, config=tc, graph=walk_graph,
                            val_pairs=split.val_pairs, out_dir=out, resume=args.resume, run_info=run_info,
                            progress=not args.no_progress)
    if not w.is_main:
        return 0
    print(history.table())
    x_dev = x.to(device)
    z = embed_minibatches(model, x_dev, nfn)
    held_out = {"val": split.val_pairs, "test": split.test_pairs}
    if args.eval_pairs is not None:  # the same seeded subset for every recommender
        held_out = {k: v[torch.randperm(len(v), generator=torch.Generator().manual_seed(seed))[:args.eval_pairs]]
                    for k, v in held_out.items()}
    print("hit-rate@10 (" + " · ".join(f"{k} pairs {len(v):,}" for k, v in held_out.items()) + "):")
    results: dict = {"out": str(out), "epochs": len(history.epochs), "stopped_early": history.stopped_early}
    for name, pairs in held_out.items():
        q, a = pairs[:, 0].to(device), pairs[:, 1].to(device)
        pin = hit_rate(exact_top_k(z, q, 10)[0], a)
        pix = hit_rate(pixie_recommend_batch(graph, q.cpu(), k=10, generator=seed).ids, a.cpu())
        pop = hit_rate(popularity_recommendations(graph.item_degrees, q.cpu(), 10), a.cpu())
        results[name] = {"pinsage": pin, "pixie": pix, "popularity": pop}
        print(f"  {name:>4}: PinSage {pin:.4f} · Pixie {pix:.4f} · popularity {pop:.4f}")
    write_json_atomic(results, out / "results.json")
    if args.title:
        hits = ds.items.find(args.title)
        if not hits:
            raise ValueError(f"{ds.name}: no item title contains {args.title!r}")
        ids, scores = exact_top_k(z, [hits[0]], 10)
        print(f"PinSage's nearest items to {ds.items.titles[hits[0]]}:")
        for i, sc in zip(ids[0].tolist(), scores[0].tolist()):
            print(f"  {sc:6.3f}  {ds.items.titles[i]}")
    print(f"(done in {time.perf_counter() - t0:.1f} s; checkpoints and metrics in {out}/)")
    return 0


def _data_options(p: argparse.ArgumentParser, *, defaults: bool) -> None:
    def d(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    p.add_argument("--dataset", action="append", metavar="NAME_OR_PATH", default=d(None),
                   help=f"a shipped name ({', '.join(DEFAULT_DATASETS)}) or a folder/file; repeatable "
                        "(default: all of them)")
    p.add_argument("--min-rating", type=float, default=d(4.0), help="MovieLens: a rating >= this is a like")
    p.add_argument("--val-fraction", type=float, default=d(0.1), help="share of each collection's edges for val")
    p.add_argument("--test-fraction", type=float, default=d(0.1), help="share of each collection's edges for test")
    p.add_argument("--seed", type=int, default=d(0), help="seed of the split's tie-breaks and random orders")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pinsage_edu", description=__doc__.splitlines()[0])
    _data_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command")
    # The sub-command repeats the options so they may come after it; SUPPRESS keeps its defaults from
    # overwriting values given before it (`--seed 5 summary`).
    _data_options(sub.add_parser("summary", help="load datasets and print their graph summaries (the default)"),
                  defaults=False)
    nb = sub.add_parser("neighbors", help="one item's importance neighbourhood (§3.2) and Pixie's recommendations")
    _data_options(nb, defaults=False)
    nb.add_argument("--title", required=True, help="part of the item's title (the first match is used)")
    nb.add_argument("-T", "--num-neighbors", type=int, default=10, help="neighbourhood size T")
    nb.add_argument("--walks", type=int, default=200, help="walks per item")
    nb.add_argument("--traversals", type=int, default=3, help="at most this many item→collection→item traversals")
    nb.add_argument("--pixie-steps", type=int, default=20_000, help="Pixie's traversal budget")
    tr = sub.add_parser("train", help="train PinSage (§3.3) into --out and compare its hit-rate@10 with Pixie and "
                                      "popularity; runs under torchrun for several GPUs or machines")
    _data_options(tr, defaults=False)
    d = TrainConfig()
    g = tr.add_argument_group("run")
    g.add_argument("--out", default=None, help="run folder (default runs/DATASET-PRESET-TIME); must not hold another run")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    g.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: each rank's GPU)")
    g.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every this many steps")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--title", default=None, help="print PinSage's nearest items to this title")
    g = tr.add_argument_group("model")
    g.add_argument("--preset", choices=["classroom", "paper"], default="classroom", help="model sizes")
    g.add_argument("-T", "--num-neighbors", type=int, default=None, help="neighbourhood size (default: preset's)")
    g.add_argument("--hidden-dim", type=int, default=None, help="m, the neighbour transform's width")
    g.add_argument("--embed-dim", type=int, default=None, help="d, the embedding width")
    g.add_argument("--layers", type=int, default=None, help="K, the number of CONVOLVE layers")
    g.add_argument("--input-dim", type=int, default=None, help="project the features to this width first")
    g.add_argument("--pooling", choices=["importance", "mean", "max"], default="importance")
    g.add_argument("--dropout", type=float, default=0.0)
    g.add_argument("--no-normalize-output", action="store_true", help="leave the head's output unnormalised")
    g.add_argument("--resample", action="store_true", help="fresh walks for every minibatch (default: one table)")
    g.add_argument("--walks", type=int, default=200, help="walks per item for its importance neighbourhood")
    g.add_argument("--traversals", type=int, default=3, help="at most this many item→collection→item steps a walk")
    g = tr.add_argument_group("optimisation")
    g.add_argument("--epochs", type=int, default=10)
    g.add_argument("--batch-size", type=int, default=d.batch_size, help="global minibatch (split across ranks)")
    g.add_argument("--optimizer", choices=["adam", "sgd"], default=d.optimizer)
    g.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    g.add_argument("--momentum", type=float, default=d.momentum, help="SGD's momentum")
    g.add_argument("--weight-decay", type=float, default=d.weight_decay)
    g.add_argument("--warmup-epochs", type=float, default=d.warmup_epochs, help="linear warm-up length (0: none)")
    g.add_argument("--lr-decay", type=float, default=d.lr_decay, help="learning-rate factor per epoch after warm-up")
    g.add_argument("--grad-clip", type=float, default=d.grad_clip, help="clip the gradient norm (0: no clipping)")
    g.add_argument("--no-amp", action="store_true", help="no bf16 autocast on CUDA")
    g.add_argument("--steps-per-epoch", type=int, default=None, help="cap the steps of each epoch")
    g = tr.add_argument_group("loss and negatives")
    g.add_argument("--loss", choices=["margin", "xent"], default=d.loss)
    g.add_argument("--margin", type=float, default=d.margin, help="Δ of the max-margin loss")
    g.add_argument("--temperature", type=float, default=d.temperature, help="of the xent loss")
    g.add_argument("--shared-negatives", type=int, default=d.num_shared_negatives, help="per minibatch")
    g.add_argument("--max-hard", type=int, default=d.max_hard_negatives,
                   help="curriculum cap on hard negatives per query (0: none)")
    g.add_argument("--no-curriculum", action="store_true", help="all --max-hard hard negatives from epoch 1")
    g.add_argument("--band", type=int, nargs=2, metavar=("LO", "HI"), help="PPR rank band of hard negatives")
    g.add_argument("--ppr-method", choices=["auto", "exact", "monte_carlo"], default=d.ppr_method)
    g = tr.add_argument_group("loading")
    g.add_argument("--workers", type=int, default=None,
                   help="CPU processes building minibatches ahead (0: in the training process; default: 0 when "
                        "training on the CPU, which needs its cores for the compute, else min(4, cores − 1))")
    g.add_argument("--prefetch", type=int, default=d.prefetch_factor, help="minibatches each worker keeps ready")
    g.add_argument("--sampling", choices=["cpu", "device"], default=d.sampling,
                   help="device: walks, blocks and features on the model's device (a GPU)")
    g = tr.add_argument_group("evaluation")
    g.add_argument("--eval-k", type=int, default=d.eval_k, help="K of the validation hit-rate@K")
    g.add_argument("--eval-pairs", type=int, default=None, help="evaluate on at most this many held-out pairs")
    g.add_argument("--mrr-scale", type=int, default=None, help="rank divisor of the scaled MRR (default: by catalogue)")
    g.add_argument("--early-stopping", type=int, default=None, help="stop after this many epochs without improvement")
    g.add_argument("--early-stopping-metric", choices=["hit_rate", "mrr"], default=d.early_stopping_metric)
    args = parser.parse_args(argv)
    data = dict(min_rating=args.min_rating, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                seed=args.seed)
    try:
        if args.command == "neighbors":
            return neighbors(args.dataset or ["ml-latest-small"], title=args.title, num_neighbors=args.num_neighbors,
                             num_walks=args.walks, num_traversals=args.traversals, pixie_steps=args.pixie_steps,
                             **data)
        if args.command == "train":
            if args.dataset and len(args.dataset) > 1:
                raise ValueError("train takes one --dataset")
            return train(args, **data)
        return summary(args.dataset or list(DEFAULT_DATASETS), **data)
    except (DataError, OSError, ValueError, CheckpointError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
