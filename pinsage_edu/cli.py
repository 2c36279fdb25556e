"""Command line: ``python -m pinsage_edu [summary] [--dataset NAME_OR_PATH ...]``.

Argument parsing lives here and only here. Today the main job loads each dataset, builds its train
graph and features and prints a summary; later issues add ``train``, ``embed``, ``recommend`` and
``evaluate`` as sub-commands.
"""

from __future__ import annotations

import argparse
import sys
import time

from .data import SHIPPED, DataError, load_dataset
from .features import item_features

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
    args = parser.parse_args(argv)
    try:
        return summary(args.dataset or list(DEFAULT_DATASETS), min_rating=args.min_rating,
                       val_fraction=args.val_fraction, test_fraction=args.test_fraction, seed=args.seed)
    except (DataError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
