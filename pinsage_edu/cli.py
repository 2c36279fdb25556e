"""Command line: ``python -m pinsage_edu [summary | neighbors | train] [--dataset NAME_OR_PATH ...]``.

Argument parsing lives here and only here. The main job (``summary``) loads each dataset, builds its
train graph and features and prints a summary; ``neighbors --title TEXT`` prints one item's
importance neighbourhood (§3.2) and Pixie's recommendations for it; ``train`` fits PinSage with the
minimal training loop (§3.3) and compares its hit-rate@10 with Pixie's and popularity's on the same
held-out pairs. Later issues add ``embed``, ``recommend`` and ``evaluate``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from .data import SHIPPED, DataError, load_dataset
from .evaluate import hit_rate, popularity_recommendations
from .features import item_features
from .inference import embed_minibatches
from .knn import exact_top_k
from .minibatch import NeighborhoodSampler, NeighborhoodTable
from .model import PinSage, PinSageConfig
from .train import TrainConfig, train_pinsage
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


def train(dataset: str, *, preset: str, epochs: int, batch_size: int, lr: float, margin: float, loss: str,
          pooling: str, num_neighbors: int | None, max_hard: int, band: list[int] | None, resample: bool,
          steps_per_epoch: int | None, eval_pairs: int | None, device: str, title: str | None,
          min_rating: float, val_fraction: float,
          test_fraction: float, seed: int) -> int:
    """Train PinSage on one dataset; print the epoch table and hit-rate@10 next to Pixie's and popularity's."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    ds = load_dataset(dataset, min_rating=min_rating)
    split = ds.split(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
    graph = split.graph.to(device)
    x = item_features(ds, split.graph, seed=seed).x.to(device)
    make = PinSageConfig.paper if preset == "paper" else PinSageConfig.classroom
    overrides: dict = {"pooling": pooling}
    if num_neighbors is not None:
        overrides["num_neighbors"] = num_neighbors
    config = make(x.shape[1], **overrides)
    nfn = (NeighborhoodSampler(graph, config.num_neighbors, generator=seed) if resample
           else NeighborhoodTable.build(graph, config.num_neighbors, generator=seed))
    model = PinSage(config).to(device)
    tc = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, margin=margin, loss=loss,
                     max_hard_negatives=max_hard, hard_band=tuple(band) if band else None,
                     max_steps_per_epoch=steps_per_epoch, eval_pairs=eval_pairs, seed=seed)
    print(f"== {ds.name}: {graph.num_items:,} items, {len(split.train_pairs):,} train pairs; K = {config.num_layers}, "
          f"T = {config.num_neighbors}, m = {config.hidden_dim}, d = {config.embed_dim}, {config.pooling} pooling, "
          f"{loss} loss, up to {max_hard} hard negatives per query ({'resampled' if resample else 'fixed'} "
          f"neighbourhoods, {device})")
    history = train_pinsage(model, x, split.train_pairs, nfn, config=tc, graph=graph, val_pairs=split.val_pairs)
    print(history.table())
    z = embed_minibatches(model, x, nfn)
    held_out = {"val": split.val_pairs, "test": split.test_pairs}
    if eval_pairs is not None:  # the same seeded subset for every recommender
        held_out = {k: v[torch.randperm(len(v), generator=torch.Generator().manual_seed(seed))[:eval_pairs]]
                    for k, v in held_out.items()}
    print("hit-rate@10 (" + " · ".join(f"{k} pairs {len(v):,}" for k, v in held_out.items()) + "):")
    for name, pairs in held_out.items():
        q, a = pairs[:, 0].to(device), pairs[:, 1].to(device)
        pin = hit_rate(exact_top_k(z, q, 10)[0], a)
        pix = hit_rate(pixie_recommend_batch(graph, q, k=10, generator=seed).ids, a)
        pop = hit_rate(popularity_recommendations(graph.item_degrees, q, 10), a)
        print(f"  {name:>4}: PinSage {pin:.4f} · Pixie {pix:.4f} · popularity {pop:.4f}")
    if title:
        hits = ds.items.find(title)
        if not hits:
            raise ValueError(f"{ds.name}: no item title contains {title!r}")
        ids, scores = exact_top_k(z, [hits[0]], 10)
        print(f"PinSage's nearest items to {ds.items.titles[hits[0]]}:")
        for i, sc in zip(ids[0].tolist(), scores[0].tolist()):
            print(f"  {sc:6.3f}  {ds.items.titles[i]}")
    print(f"(done in {time.perf_counter() - t0:.1f} s)")
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
    tr = sub.add_parser("train", help="train PinSage (§3.3) and compare its hit-rate@10 with Pixie and popularity")
    _data_options(tr, defaults=False)
    tr.add_argument("--preset", choices=["classroom", "paper"], default="classroom", help="model sizes")
    tr.add_argument("--epochs", type=int, default=10)
    tr.add_argument("--batch-size", type=int, default=512)
    tr.add_argument("--lr", type=float, default=1e-3)
    tr.add_argument("--margin", type=float, default=0.1, help="Δ of the max-margin loss")
    tr.add_argument("--loss", choices=["margin", "xent"], default="margin")
    tr.add_argument("--pooling", choices=["importance", "mean", "max"], default="importance")
    tr.add_argument("-T", "--num-neighbors", type=int, default=None, help="neighbourhood size (default: preset's)")
    tr.add_argument("--max-hard", type=int, default=6, help="curriculum cap on hard negatives per query (0: none)")
    tr.add_argument("--band", type=int, nargs=2, metavar=("LO", "HI"), help="PPR rank band of hard negatives")
    tr.add_argument("--resample", action="store_true", help="fresh walks for every minibatch (default: one table)")
    tr.add_argument("--steps-per-epoch", type=int, default=None, help="cap the steps of each epoch")
    tr.add_argument("--eval-pairs", type=int, default=None, help="evaluate on at most this many held-out pairs")
    tr.add_argument("--device", default="cpu", help="cpu or cuda")
    tr.add_argument("--title", default=None, help="print PinSage's nearest items to this title")
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
            return train((args.dataset or ["ml-latest-small"])[0], preset=args.preset, epochs=args.epochs,
                         batch_size=args.batch_size, lr=args.lr, margin=args.margin, loss=args.loss,
                         pooling=args.pooling, num_neighbors=args.num_neighbors, max_hard=args.max_hard,
                         band=args.band, resample=args.resample, steps_per_epoch=args.steps_per_epoch,
                         eval_pairs=args.eval_pairs,
                         device=args.device, title=args.title, **data)
        return summary(args.dataset or list(DEFAULT_DATASETS), **data)
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
