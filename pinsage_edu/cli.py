"""Command line: ``python -m pinsage_edu [summary | neighbors] [--dataset NAME_OR_PATH ...]``.

Argument parsing lives here and only here. The main job (``summary``) loads each dataset, builds its
train graph and features and prints a summary; ``neighbors --title TEXT`` prints one item's
importance neighbourhood (§3.2) and Pixie's recommendations for it. Later issues add ``train``,
``embed``, ``recommend`` and ``evaluate``.
"""

from __future__ import annotations

import argparse
import sys
import time

from .data import SHIPPED, DataError, load_dataset
from .features import item_features
from .walks import importance_neighborhoods, pixie_recommend

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
    args = parser.parse_args(argv)
    data = dict(min_rating=args.min_rating, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                seed=args.seed)
    try:
        if args.command == "neighbors":
            return neighbors(args.dataset or ["ml-latest-small"], title=args.title, num_neighbors=args.num_neighbors,
                             num_walks=args.walks, num_traversals=args.traversals, pixie_steps=args.pixie_steps,
                             **data)
        return summary(args.dataset or list(DEFAULT_DATASETS), **data)
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
