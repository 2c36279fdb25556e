"""Command line: ``python -m pinsage_edu [main | summary | neighbors | train | embed | recommend | evaluate]``.

Argument parsing lives here and only here.

* ``main`` (the default, the README's first command): train PinSage on the shipped MovieLens data in
  classroom size, embed every item layer by layer (§3.4), evaluate it against every baseline on the
  held-out test pairs (§4: popularity, Pixie, content-only, item-kNN CF; ``--ablation`` adds Table 1's
  other rungs), print the table and three example recommendations, and write it all to ``runs/``.
* ``summary`` loads each dataset, builds its train graph and features and prints a summary.
* ``neighbors --title TEXT`` prints one item's importance neighbourhood (§3.2) and Pixie's list.
* ``train`` fits PinSage (§3.3) into a run folder (``--out``, resumable with ``--resume``; the same
  command runs under ``torchrun`` on several GPUs or machines) and compares its hit-rate@10 with
  item-kNN CF, Pixie and popularity.
* ``embed --run-dir DIR`` (a ``train`` run folder, or the main job's, whose run is in ``pinsage/``)
  computes every item's embedding from a run's checkpoint, layer by layer
  (sharded across ranks under ``torchrun``), into an embeddings file; ``recommend --embeddings FILE
  --item TITLE`` serves nearest neighbours from it (exact, LSH or faiss); ``evaluate --embeddings
  FILE`` puts it next to the baselines on the run's held-out pairs.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

import torch

from .baselines import ItemKNNRecommender, pixie_recommend, pixie_recommend_batch, popularity_recommendations
from .checkpoint import CheckpointError, load_checkpoint, write_json_atomic
from .data import DataError
from .distributed import World, close_distributed, init_distributed
from .evaluate import ABLATIONS, RECIPE, RECIPES, Experiment, Variant, format_table, recipe_for, train_variant
from .features import item_features
from .inference import ItemEmbeddings, embed_all, embed_minibatches, load_embeddings, model_hash, save_embeddings
from .knn import build_index, exact_top_k, recommend
from .loaders import SHIPPED, load_dataset, resolve_dataset
from .metrics import EmbeddingRecommender, compare, evaluate_recommender, hit_rate, mrr_scale
from .minibatch import NeighborhoodTable
from .model import PinSage, PinSageConfig
from .threads import use_free_cpus
from .train import EPOCH_TABLE_LEGEND, RunDirError, TrainConfig, read_run_file, train_pinsage
from .walks import importance_neighborhoods

DEFAULT_DATASETS = (*SHIPPED, "synthetic")
# the dataset `main`, `train` and `neighbors` use without --dataset (`summary` goes through all of DEFAULT_DATASETS)
DEFAULT_DATASET = "ml-latest-small"


def _plain_value(value: object) -> str:
    """A config value as a reader writes it: ``—`` for None, true/false, 0.001 rather than 1e-03."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "–".join(_plain_value(v) for v in value)
    return str(value)


def describe_config(title: str, settings: dict[str, Any], *, effective: dict[str, str] | None = None,
                    width: int = 110) -> str:
    """``title: key value · key value · …`` wrapped to ``width`` columns, for a person to read (the
    run folder's run.json keeps the exact dict). ``effective`` replaces the shown value of some keys:
    what the run will really do where that differs from the setting (``amp`` on a CPU)."""
    effective = effective or {}
    # a no-break space inside each "key value" keeps it on one line; lines break only between settings
    parts = [f"{key} {effective.get(key, _plain_value(value))}".replace(" ", "\xa0") for key, value in settings.items()]
    return textwrap.fill(" · ".join(parts), width=width, initial_indent=f"{title}: ", subsequent_indent="  ",
                         break_long_words=False, break_on_hyphens=False).replace("\xa0", " ")


def _effective_train_settings(tc: TrainConfig, device: torch.device, num_items: int) -> dict[str, str]:
    """The shown values of the training settings whose effect depends on the device or the data."""
    shown = {"amp": "true (bf16 autocast)" if tc.amp and device.type == "cuda" else
             "false (CPU: bf16 autocast is used on CUDA only)" if tc.amp else "false"}
    if tc.eval_mrr_scale is None:
        shown["eval_mrr_scale"] = f"{mrr_scale(num_items)} (by catalogue size)"
    return shown


def _stderr(rate: float, n: int) -> float:
    """Binomial standard error of a hit-rate measured on ``n`` pairs: √(p(1 − p)/n)."""
    return (rate * (1 - rate) / n) ** 0.5 if n else float("nan")


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


def _flag_dest(meta: Any) -> str:
    """The attribute argparse stores a field's flag in, by argparse's rule: the first long option string
    (``--max-hard`` → ``max_hard``; ``-T`` with alias ``--num-neighbors`` → ``num_neighbors``)."""
    strings = (meta["flag"], *meta.get("aliases", ()))
    return next((f for f in strings if f.startswith("--")), strings[0]).lstrip("-").replace("-", "_")


def _flag_of(config: type) -> Callable[[str], str]:
    """Field name → its flag, from ``config``'s field metadata (``max_hard_negatives`` → ``--max-hard``)."""
    flags = {f.name: f.metadata["flag"] for f in fields(config) if "flag" in f.metadata}
    return lambda name: flags.get(name, name)


def _value_type(hint: Any) -> Any:
    """What argparse converts a flag's words with, from the field's type: ``int | None`` → int,
    ``tuple[int, int] | None`` → int (with ``nargs``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        hint = typing.get_args(hint)[0]
    return hint


def _add_config_options(group: Any, name: str, config: type = TrainConfig) -> None:
    """The ``train`` options of the ``config`` fields (TrainConfig's or PinSageConfig's) whose metadata puts
    them in section ``name`` of ``train --help``, generated from the metadata (flag and aliases, help,
    choices, ``negate`` for a ``--no-X`` switch, ``cli_default`` where the flag's default differs from the
    field's, ``nargs``, ``metavar``)."""
    hints = typing.get_type_hints(config)
    for f in fields(config):
        meta = f.metadata
        if meta.get("group") != name:
            continue
        kw: dict[str, Any] = {"help": meta["help"]} if meta.get("help") else {}
        flags = (meta["flag"], *meta.get("aliases", ()))
        if meta.get("negate"):
            group.add_argument(*flags, action="store_true", **kw)
            continue
        kw["default"] = meta.get("cli_default", f.default)
        if "choices" in meta:
            kw["choices"] = list(meta["choices"])
        else:
            kw["type"] = _value_type(hints[f.name])
        kw.update({key: meta[key] for key in ("nargs", "metavar") if key in meta})
        group.add_argument(*flags, **kw)


def train_config(args: argparse.Namespace, **settings: Any) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``train`` options, read through the same field metadata that
    made the options (``--no-amp`` → ``amp=False``, ``--grad-clip 0`` → ``grad_clip=None``,
    ``--seed`` from the data options), ``settings`` taking precedence; a setting out of range is a
    ValueError naming its flag."""
    values = {}
    for f in fields(TrainConfig):
        meta = f.metadata
        if "flag" not in meta or f.name in settings:
            continue
        value = getattr(args, _flag_dest(meta))
        if meta.get("negate"):
            value = not value
        elif meta.get("none_at") is not None and value is not None and value <= meta["none_at"]:
            value = None
        values[f.name] = value
    try:
        return TrainConfig(**{**values, **settings})
    except TrainConfig.Invalid as exc:  # name the flag the user typed, not the field behind it
        raise ValueError(exc.naming(_flag_of(TrainConfig))) from None


def model_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The PinSageConfig settings given by parsed ``train`` options, read through the fields' metadata
    (``--no-normalize-output`` → ``normalize_output=False``); a size flag not given is left to the preset."""
    overrides = {}
    for f in fields(PinSageConfig):
        meta = f.metadata
        if "flag" not in meta:
            continue
        value = getattr(args, _flag_dest(meta))
        if meta.get("negate"):
            value = not value
        if value is not None:
            overrides[f.name] = value
    return overrides


def _model_config(make: Any, in_dim: int, overrides: dict[str, Any]) -> PinSageConfig:
    """``make(in_dim, **overrides)`` (a PinSageConfig preset); a setting out of range is a ValueError naming
    its flag."""
    try:
        return make(in_dim, **overrides)
    except PinSageConfig.Invalid as exc:
        raise ValueError(exc.naming(_flag_of(PinSageConfig))) from None


def _as_recorded(recorded: Any, run_info: dict[str, Any]) -> dict[str, Any]:
    """``run_info`` as the run being resumed recorded it in ``run.json``: a run started before run.json held
    the whole experiment record lacks ``num_neighbors`` (its model config holds T, compared on its own)
    and ``collection_dim`` (0 then, as ``train`` always uses); without them the settings compare equal."""
    if isinstance(recorded, dict) and "collection_dim" not in recorded:
        return {k: v for k, v in run_info.items() if k not in ("num_neighbors", "collection_dim") or k in recorded}
    return run_info


def train(args: argparse.Namespace, *, min_rating: float, val_fraction: float, test_fraction: float, seed: int) -> int:
    """Train PinSage on one dataset into ``--out``; print its configs, the epoch table and hit-rate@10 next
    to item-kNN CF's, Pixie's and popularity's. Under ``torchrun`` every rank runs this; rank 0 prints and
    writes."""
    t0 = time.perf_counter()
    try:
        torch.device(args.device)
    except RuntimeError:
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {args.device!r}") from None
    w, device = init_distributed(args.device)
    try:
        rc = _train(args, w, device, t0, min_rating=min_rating, val_fraction=val_fraction,
                    test_fraction=test_fraction, seed=seed)
        # leave together: a rank that tears its process group down while rank 0 still evaluates and
        # writes can abort in gloo's threads ("terminate called without an active exception")
        w.barrier()
        return rc
    finally:
        close_distributed()


def _train(args: argparse.Namespace, w: World, device: torch.device, t0: float, *, min_rating: float,
           val_fraction: float, test_fraction: float, seed: int) -> int:
    say = print if w.is_main else (lambda *a, **k: None)
    # run.json records a path as an absolute one, so `embed` finds the data from any folder
    dataset = resolve_dataset((args.dataset or [DEFAULT_DATASET])[0])
    if args.workers is None:
        args.workers = 0 if device.type == "cpu" or args.sampling == "device" else \
            min(4, max(1, (os.cpu_count() or 1) // max(1, w.size) - 1))
    torch.manual_seed(seed)
    tc = train_config(args, seed=seed)
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
    # a damaged run.json is named now, not after the data is loaded
    recorded = read_run_file(out / "run.json")["run"] if args.resume else None
    make = PinSageConfig.paper if args.preset == "paper" else PinSageConfig.classroom
    overrides = model_overrides(args)
    # the model flags are checked now too; the config itself needs the features' width (in_dim 1 until then)
    num_neighbors = _model_config(make, 1, overrides).num_neighbors
    # the walks run where the minibatches are drawn: on the model's device with --sampling device
    where = device if tc.sampling == "device" else torch.device("cpu")
    # the one builder (as main's, and embed's from run.json): the synthetic graph is drawn with the run's seed
    exp = Experiment.load(dataset, num_neighbors=num_neighbors, num_walks=args.walks, num_traversals=args.traversals,
                          val_fraction=val_fraction, test_fraction=test_fraction, seed=seed, min_rating=min_rating,
                          check_pairs=("train", "val", "test"), resample=args.resample,
                          walk_device=where if where.type != "cpu" else None)
    split, graph, x, nfn = exp.split, exp.graph, exp.x, exp.table
    walk_graph = nfn.graph if args.resample else graph if where.type == "cpu" else graph.to(where)
    config = _model_config(make, x.shape[1], overrides)
    model = PinSage(config).to(device)
    # the same initial parameters on every rank (DDP also broadcasts rank 0's); different dropout masks
    torch.manual_seed(seed + 1_000_003 * w.rank)
    run_info = _as_recorded(recorded, {**exp.info, "preset": args.preset, "resample": args.resample,
                                       "device": device.type})
    say(f"== {exp.name}: {graph.num_items:,} items, {len(split.train_pairs):,} train pairs, "
        f"{len(split.val_pairs):,} val pairs")
    say(describe_config(f"model ({args.preset} preset)", config.to_dict()))
    say(describe_config("training", tc.to_dict(), effective=_effective_train_settings(tc, device, graph.num_items)))
    say(f"{'resuming' if args.resume else 'writing'} {out}/ (run.json, last.pt, best.pt, metrics.jsonl) · "
        f"{w.size} process{'es' if w.size > 1 else ''} on {device} · "
        f"{'fresh walks per minibatch' if args.resample else 'one neighbourhood table'} built on {where}"
        + (f" · {tc.num_workers} loader worker{'s' if tc.num_workers != 1 else ''}" if tc.num_workers else ""))
    history = train_pinsage(model, x, split.train_pairs, nfn, config=tc, graph=walk_graph,
                            val_pairs=split.val_pairs, out_dir=out, resume=args.resume, run_info=run_info,
                            progress=not args.no_progress)
    if not w.is_main:
        return 0
    print(history.table(legend=True))
    x_dev = x.to(device)
    z = embed_all(model, nfn, x_dev, world=World()) if isinstance(nfn, NeighborhoodTable) else \
        embed_minibatches(model, x_dev, nfn)
    held_out = {"val": split.val_pairs, "test": split.test_pairs}
    if args.eval_pairs is not None:  # the same seeded subset for every recommender
        held_out = {k: v[torch.randperm(len(v), generator=torch.Generator().manual_seed(seed))[:args.eval_pairs]]
                    for k, v in held_out.items()}
    print("hit-rate@10 (" + " · ".join(f"{k} pairs {len(v):,}" for k, v in held_out.items()) + "):")
    results: dict = {"out": str(out), "epochs": len(history.epochs), "stopped_early": history.stopped_early}
    knn = ItemKNNRecommender(graph)
    for name, pairs in held_out.items():
        q, a = pairs[:, 0].to(device), pairs[:, 1].to(device)
        rates = {"PinSage": hit_rate(exact_top_k(z, q, 10)[0], a),
                 "item-kNN CF": evaluate_recommender(knn, pairs, k=10).hit_rate,
                 "Pixie": hit_rate(pixie_recommend_batch(graph, q.cpu(), k=10, generator=seed).ids, a.cpu()),
                 "popularity": hit_rate(popularity_recommendations(graph.item_degrees, q.cpu(), 10), a.cpu())}
        results[name] = {"pinsage": rates["PinSage"], "item_knn": rates["item-kNN CF"], "pixie": rates["Pixie"],
                         "popularity": rates["popularity"]}
        print(f"  {name:>4}: " + " · ".join(f"{method} {rate:.4f}" for method, rate in rates.items()))
    best, n = max(rates, key=rates.__getitem__), len(held_out["test"])  # rates: the test pairs' (the last)
    print(f"  (highest on the test pairs: {best}; two standard errors on {n:,} pairs are about "
          f"±{2 * _stderr(rates[best], n):.4f}: a smaller gap is noise)")
    write_json_atomic(results, out / "results.json")
    if args.title:
        hits = [i for i, t in enumerate(exp.titles) if args.title.lower() in t.lower()]  # as ItemTable.find
        if not hits:
            raise ValueError(f"{exp.name}: no item title contains {args.title!r}")
        ids, scores = exact_top_k(z, [hits[0]], 10)
        print(f"PinSage's nearest items to {exp.titles[hits[0]]}:")
        for i, sc in zip(ids[0].tolist(), scores[0].tolist()):
            print(f"  {sc:6.3f}  {exp.titles[i]}")
    print(f"(done in {time.perf_counter() - t0:.1f} s; checkpoints and metrics in {out}/)")
    return 0


def _device(flag: str, value: str) -> torch.device:
    """``torch.device(value)``, or a ValueError naming the flag (and CUDA's absence)."""
    try:
        dev = torch.device(value)
    except RuntimeError:
        raise ValueError(f"{flag} must be cpu, cuda or cuda:N, got {value!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{flag} {value}: CUDA is not available on this machine")
    return dev


RUN_FILES = ("results.json", "embeddings.pt", "table.txt", "run.json", "last.pt")
MAIN_RUN = "pinsage"  # the sub-folder of the main job's --out that holds its PinSage training run

EXAMPLE_TITLES = ("Matrix, The (1999)", "Toy Story (1995)", "Godfather, The (1972)")


def _sample_pairs(pairs: torch.Tensor, at_most: int | None, seed: int) -> torch.Tensor:
    """At most ``at_most`` of ``pairs``, a seeded sample kept in order (all of them if fewer)."""
    if at_most is None or at_most <= 0 or len(pairs) <= at_most:
        return pairs
    pick = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))[:at_most]
    return pairs[torch.sort(pick).values]


def main_job(args: argparse.Namespace, *, min_rating: float, val_fraction: float, test_fraction: float,
             seed: int) -> int:
    """Train PinSage, embed every item, evaluate against every baseline, print the table and three
    example recommendations, and write everything under ``--out`` (default ``runs/main-TIME``)."""

    t0 = time.perf_counter()
    dataset = resolve_dataset((args.dataset or ["ml-latest-small"])[0])  # recorded in results.json and embeddings
    device = _device("--device", args.device)
    out = Path(args.out) if args.out else Path("runs") / f"main-{time.strftime('%Y%m%d-%H%M%S')}"
    held = [f for f in RUN_FILES if (out / f).exists()] + (["pinsage/"] if (out / "pinsage").exists() else [])
    if held:
        raise RunDirError(f"{out} already holds a run ({', '.join(held)}); nothing was overwritten. Choose another --out")
    recipe = recipe_for(dataset)  # the dataset's own recipe where it has one, else RECIPE
    for name in ("epochs", "lr", "max_hard", "collection_dim"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(recipe, name))
    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    for flag, v in (("--collection-dim", args.collection_dim), ("--test-pairs", args.test_pairs),
                    ("--max-hard", args.max_hard)):
        if v < 0:
            raise ValueError(f"{flag} must be >= 0, got {v}")
    load_kw = {} if dataset == "synthetic" else {"min_rating": min_rating}
    exp = Experiment.load(dataset, num_neighbors=args.num_neighbors, val_fraction=val_fraction,
                          test_fraction=test_fraction, seed=seed, collection_dim=args.collection_dim,
                          check_pairs=("train", "val", "test"), **load_kw)
    test_pairs = _sample_pairs(exp.split.test_pairs, args.test_pairs, seed)
    print(f"== {exp.name}: {exp.graph.num_items:,} items, {len(exp.split.train_pairs):,} train pairs, "
          f"{len(test_pairs):,} test pairs"
          + (f" (a seeded sample of {len(exp.split.test_pairs):,})" if len(test_pairs) < len(exp.split.test_pairs) else "")
          + f" · features {exp.x.shape[1]} ({', '.join(exp.features.names)}) · T = {exp.table.num_neighbors}")
    print(f"writing {out}/ (pinsage/ run folder, embeddings.pt, results.json, table.txt)")
    tc = recipe.train_config(len(exp.split.train_pairs), epochs=args.epochs, lr=args.lr,
                             max_hard_negatives=args.max_hard, seed=seed,
                             **({"max_steps_per_epoch": args.steps_per_epoch} if args.steps_per_epoch else {}),
                             **({"eval_pairs": args.eval_pairs} if args.eval_pairs is not None else {}))
    steps = tc.max_steps_per_epoch
    model_kw = {**recipe.model, **({"id_embeddings": exp.graph.num_items} if args.id_embeddings else {})}
    pinsage = Variant("PinSage", {"pooling": "importance"})
    rungs = [*ABLATIONS[:-1], pinsage, Variant("PinSage + hard negatives", {"pooling": "importance"}, hard=True)] \
        if args.ablation else [pinsage]
    kind = "transductive: + id embeddings" if args.id_embeddings else "inductive: features + neighbourhood"
    print(f"-- PinSage: importance pooling, {kind}, "
          + (f"up to {args.max_hard} hard negatives per query (curriculum)" if args.max_hard else
             "shared negatives only (--max-hard N adds hard negatives)")
          + f"; lr {args.lr:g}, {args.epochs} epochs" + (f" of {steps} steps" if steps else "")
          + "; the best validation epoch is embedded")
    trained = []
    sizes = "".join(f", {k} {val}" for k, val in recipe.model.items())
    for v in rungs:
        print(f"-- training {v.name} ({args.epochs} epochs, classroom model{sizes}) on {device}")
        tv = train_variant(exp, v, config=tc, device=device, progress=not args.no_progress,
                           out_dir=out / ("pinsage" if v is pinsage else v.name.replace(" ", "-").replace("+", "plus")),
                           **model_kw)
        print(tv.history.table())
        print(f"   ({tv.seconds:.1f} s; embedded: epoch {tv.epoch})")
        trained.append(tv)
    main_tv = next(tv for tv in trained if tv.variant is pinsage)
    emb = ItemEmbeddings(main_tv.embeddings.cpu(), [_plain(i) for i in _raw_ids(exp)], model_hash(main_tv.model),
                         main_tv.model.config.to_dict(), exp.titles,
                         {**exp.info, "run": str(out / "pinsage"), "weights": f"best validation epoch ({main_tv.epoch})"})
    save_embeddings(emb, out / "embeddings.pt")
    print(EPOCH_TABLE_LEGEND)
    print("-- evaluating every method on the held-out test pairs")
    recs = [*exp.baselines(), *(tv.recommender() for tv in trained)]
    rows = compare(recs, test_pairs, k=10, seed=seed)
    table = format_table(rows, title=f"{exp.name}: hit-rate@10 and MRR on the test pairs (paper: hit@500 among ~5M)")
    print(table)
    index = build_index(main_tv.embeddings)
    examples = []
    for title in EXAMPLE_TITLES:
        if exp.titles and any(title.casefold() in t.casefold() for t in exp.titles):
            r = recommend(index, title, 5, titles=exp.titles)
        else:  # another dataset: the three most connected items
            top = torch.argsort(exp.graph.item_degrees, descending=True)
            r = recommend(index, int(top[len(examples) % top.numel()]), 5, titles=exp.titles or None)
        examples.append(r)
        print(r)
    by = {m.name: m for m in rows}
    pin = by["PinSage"].hit_rate
    base = [m for m in rows if m.name not in {v.name for v in rungs}]
    above = [m.name for m in base if m.hit_rate < pin]
    not_above = [m.name for m in base if m.hit_rate >= pin]
    print(f"PinSage's hit-rate@10 ({100 * pin:.2f}%) is above {', '.join(above) or 'no baseline'}"
          + (f"; not above {', '.join(not_above)}" if not_above else " — every baseline"))
    results = {"dataset": exp.name, "info": exp.info, "epochs": args.epochs, "pairs": "test",
               "config": {"train": tc.to_dict(), "model": main_tv.model.config.to_dict(), "embedded_epoch": main_tv.epoch},
               "rows": [{"name": m.name, "hit_rate": m.hit_rate, "stderr": m.stderr(), "mrr": m.mrr, "k": m.k,
                         "mrr_scale": m.scale, "kurtosis": m.kurtosis, "num_pairs": m.num_pairs,
                         "seconds": m.seconds} for m in rows],
               "training_seconds": {tv.name: tv.seconds for tv in trained},
               "examples": [{"query": r.query_title, "titles": r.titles, "scores": r.scores} for r in examples],
               "embeddings": str(out / "embeddings.pt"), "model_hash": emb.model_hash}
    write_json_atomic(results, out / "results.json")
    (out / "table.txt").write_text(table + "\n", encoding="utf-8")
    print(f"(done in {time.perf_counter() - t0:.1f} s; figures in {out}/results.json)")
    return 0


def _raw_ids(exp: Experiment) -> list:
    return list(exp.raw_ids) if exp.raw_ids is not None else list(range(exp.graph.num_items))


def _plain(v: object) -> object:
    return v.item() if hasattr(v, "item") else v


def _recorded_dataset(info: Any, source: str | os.PathLike) -> str:
    """The dataset recorded in a run's settings ``info`` (:meth:`Experiment.recorded_dataset`)."""
    return Experiment.recorded_dataset(info, source)


def _experiment_from_info(info: dict, num_neighbors: int, source: str | os.PathLike = "the run") -> Experiment:
    """The experiment a run or an embeddings file was made from (:meth:`Experiment.from_info`, T =
    ``num_neighbors``); errors name ``source``, the file the settings were read from."""
    return Experiment.from_info(info, num_neighbors=num_neighbors, source=source)


def _model_from_checkpoint(state: dict[str, Any], path: Path) -> PinSage:
    """The model a training checkpoint holds; a :class:`CheckpointError` naming ``path`` when its config
    or weights do not make one (a checkpoint of another kind, or damaged)."""
    try:
        model = PinSage(PinSageConfig(**state["model_config"]))
        model.load_state_dict(state["model"])
    except KeyError as exc:
        raise CheckpointError(f"{path} lacks {exc}: not a pinsage_edu training checkpoint") from None
    except (TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise CheckpointError(f"{path} does not hold a model of its recorded config: damaged, or not a pinsage_edu "
                              f"training checkpoint ({str(exc).splitlines()[0][:300]})") from None
    return model


def find_run_dir(path: str | os.PathLike) -> Path:
    """The training run folder ``path`` names: ``path`` itself when it holds a run.json (a folder `train`
    wrote), else its ``pinsage/`` sub-folder, where the main job writes its PinSage run. A
    :class:`RunDirError` saying where it looked when neither holds one."""
    run = Path(path)
    if (run / "run.json").exists():
        return run
    if (run / MAIN_RUN / "run.json").exists():
        return run / MAIN_RUN
    raise RunDirError(f"{run} holds no run (no run.json, nor {run / MAIN_RUN / 'run.json'} as in a main job's "
                      "folder): give the folder `train --out` wrote, or the main job's runs/main-TIME")


def embed(args: argparse.Namespace) -> int:
    """Every item's embedding from a run folder's checkpoint, layer by layer (sharded under torchrun).
    ``--run-dir`` may also be the main job's folder: its PinSage run is in ``pinsage/``."""
    t0 = time.perf_counter()
    run = find_run_dir(args.run)
    ckpt = run / ("last.pt" if args.last else "best.pt")
    if not ckpt.exists():
        raise RunDirError(f"{run} has no {ckpt.name} checkpoint yet")
    info = read_run_file(run / "run.json", required=("run",))["run"]
    _recorded_dataset(info, run / "run.json")  # before minutes of work, not after
    out = Path(args.out) if args.out else run / f"embeddings-{ckpt.stem}.pt"
    if out.exists() and not args.force:
        raise RunDirError(f"{out} exists; nothing was overwritten (pass --force to replace it, or --out)")
    _device("--device", args.device)
    if args.storage_device is not None:
        _device("--storage-device", args.storage_device)
    w, device = init_distributed(args.device)
    try:
        if w.is_main and run != Path(args.run):
            made = Path(args.run) / "embeddings.pt"
            print(f"{args.run} is a main job's folder: embedding its PinSage run, {run}/ ({ckpt.name})"
                  + (f"; the main job's own embeddings are in {made}" if made.exists() else ""), flush=True)
        model = _model_from_checkpoint(load_checkpoint(ckpt), ckpt).to(device)
        config = model.config
        exp = Experiment.from_info(info, num_neighbors=config.num_neighbors, source=run / "run.json")
        t1 = time.perf_counter()
        z = embed_all(model, exp.table.to(device), exp.x, chunk_size=args.chunk_size,
                      storage_device=args.storage_device, world=w, shard_dir=args.shard_dir)
        seconds = time.perf_counter() - t1
        if w.is_main:
            emb = ItemEmbeddings(z.cpu(), [_plain(i) for i in _raw_ids(exp)], model_hash(model), config.to_dict(),
                                 exp.titles, {**exp.info, "run": str(run), "checkpoint": ckpt.name})
            save_embeddings(emb, out)
            print(f"embedded {z.shape[0]:,} items × {z.shape[1]} layer by layer in {seconds:.2f} s on {w.size} "
                  f"process{'es' if w.size > 1 else ''} ({device}); model {emb.model_hash} → {out} "
                  f"(the whole command {time.perf_counter() - t0:.1f} s)")
        w.barrier()  # leave together (see train)
    finally:
        close_distributed()
    return 0


def recommend_cmd(args: argparse.Namespace) -> int:
    """Nearest neighbours of one item from an embeddings file."""
    emb = load_embeddings(args.embeddings)
    kwargs = {"num_tables": args.tables, "num_bits": args.bits, "probes": args.probes,
              "center": not args.no_center} if args.method == "lsh" else {}
    if (args.item is None) == (args.id is None):
        raise ValueError("give exactly one of --item TITLE or --id N")
    index = build_index(emb.vectors, args.method, **kwargs)
    print(recommend(index, args.item if args.item is not None else args.id, args.k, titles=emb.titles or None))
    return 0


def evaluate_cmd(args: argparse.Namespace) -> int:
    """An embeddings file next to every baseline on the held-out pairs of the data it was made from."""
    emb = load_embeddings(args.embeddings)
    exp = Experiment.from_info(emb.meta, num_neighbors=emb.config.get("num_neighbors", 10), source=args.embeddings)
    if len(emb) != exp.graph.num_items:
        raise ValueError(f"{args.embeddings} holds {len(emb)} items but {exp.name} has {exp.graph.num_items}")
    exp.split.check_pairs(exp.name, parts=(args.pairs,))
    pairs = exp.split.test_pairs if args.pairs == "test" else exp.split.val_pairs
    recs = [*exp.baselines(pixie_steps=args.pixie_steps), EmbeddingRecommender("PinSage", emb.vectors)]
    rows = compare(recs, pairs, k=args.k, seed=exp.seed)
    print(format_table(rows, title=f"{exp.name}: model {emb.model_hash} on the {args.pairs} pairs"))
    if args.json:
        write_json_atomic([{"name": m.name, "hit_rate": m.hit_rate, "mrr": m.mrr, "k": m.k, "mrr_scale": m.scale,
                            "kurtosis": m.kurtosis, "num_pairs": m.num_pairs} for m in rows], args.json)
    return 0


def _subcommand_given(argv: list[str], choices: Any) -> bool:
    """Whether a sub-command follows the top-level options (each of which takes one value)."""
    i = 0
    while i < len(argv):
        if argv[i] in choices:
            return True
        if not argv[i].startswith("-"):
            return False
        i += 1 if "=" in argv[i] else 2
    return False


def _data_options(p: argparse.ArgumentParser, *, defaults: bool, dataset_help: str) -> None:
    """The data options every sub-command shares; ``dataset_help`` ends --dataset's help (how many it
    takes and the default, which differ between sub-commands)."""
    def d(value: object) -> object:
        return value if defaults else argparse.SUPPRESS

    p.add_argument("--dataset", action="append", metavar="NAME_OR_PATH", default=d(None),
                   help=f"a shipped name ({', '.join(DEFAULT_DATASETS)}) or a folder/file; {dataset_help}")
    p.add_argument("--min-rating", type=float, default=d(4.0), help="MovieLens: a rating >= this is a like")
    p.add_argument("--val-fraction", type=float, default=d(0.1), help="share of each collection's edges for val")
    p.add_argument("--test-fraction", type=float, default=d(0.1), help="share of each collection's edges for test")
    p.add_argument("--seed", type=int, default=d(0), help="seed of the split's tie-breaks and random orders")


def _recipe_default(name: str) -> str:
    """A main-job flag's default as its help states it: the recipe's value, then each dataset's own."""
    values = [f"{getattr(RECIPE, name):g}"] + [f"{ds}: {getattr(r, name):g}" for ds, r in RECIPES.items()
                                               if getattr(r, name) != getattr(RECIPE, name)]
    return f"default: the dataset's recipe, {'; '.join(values)}"


def _main_job_options(p: argparse.ArgumentParser) -> None:
    """The main job's own options (the data options aside): on ``main``, and shown by the top-level --help."""
    p.add_argument("--out", default=None, help="folder to write (default runs/main-TIME)")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    p.add_argument("--epochs", type=int, default=None, help=f"training epochs ({_recipe_default('epochs')})")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="cap the steps of each epoch")
    p.add_argument("--eval-pairs", type=int, default=None,
                   help=f"validate each epoch on at most this many pairs (default {RECIPE.val_pairs:,})")
    p.add_argument("--test-pairs", type=int, default=RECIPE.test_pairs,
                   help=f"evaluate the table on at most this many test pairs, a seeded sample (default "
                        f"{RECIPE.test_pairs:,}; 0: all)")
    p.add_argument("--lr", type=float, default=None, help=f"peak learning rate ({_recipe_default('lr')})")
    p.add_argument("--max-hard", type=int, default=None,
                   help=f"hard negatives per query, curriculum cap ({_recipe_default('max_hard')}; 0: shared "
                        "negatives only)")
    p.add_argument("--collection-dim", type=int, default=None,
                   help=f"width of the item's train-graph collections feature group "
                        f"({_recipe_default('collection_dim')}; 0: none)")
    p.add_argument("--id-embeddings", action="store_true",
                   help="add a learned vector per item id (transductive: cannot embed items unseen in training)")
    p.add_argument("-T", "--num-neighbors", type=int, default=10, help="neighbourhood size T (default 10)")
    p.add_argument("--ablation", action="store_true",
                   help="also train Table 1's other rungs (max, mean, mean-xent, mean-hard pooling)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _main_job_help() -> str:
    """The top-level --help's epilog: the main job's options, which the command takes without the word
    ``main`` too (it is the default sub-command)."""
    shown = argparse.ArgumentParser(prog="python -m pinsage_edu", add_help=False)
    _main_job_options(shown)
    options = shown.format_help().split("\n\n", 1)[1].split("\n", 1)[1]  # after the usage and "options:"
    return ("main job options (with no sub-command the main job runs: python -m pinsage_edu --epochs 3\n"
            "is python -m pinsage_edu main --epochs 3; main --help lists them with the data options):\n" + options)


def build_parser() -> tuple[argparse.ArgumentParser, Any]:
    """The command line's parser and its sub-command parsers (``sub.choices``: name → parser)."""
    parser = argparse.ArgumentParser(
        prog="python -m pinsage_edu", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="PinSage step by step. Without a sub-command it runs the main job: train PinSage on\n"
                    f"{DEFAULT_DATASET}, evaluate it against every baseline, write runs/main-TIME/.",
        epilog=_main_job_help())
    _data_options(parser, defaults=True,
                  dataset_help=f"the main job takes one (default: {DEFAULT_DATASET}); summary: repeatable "
                               "(default: all the shipped ones)")
    sub = parser.add_subparsers(dest="command")
    # The sub-command repeats the options so they may come after it; SUPPRESS keeps its defaults from
    # overwriting values given before it (`--seed 5 summary`).
    mj = sub.add_parser("main", help="the main job (the default): train PinSage, evaluate it against every "
                                     "baseline, print the table and example recommendations, write runs/")
    _data_options(mj, defaults=False, dataset_help=f"one dataset (default: {DEFAULT_DATASET})")
    _main_job_options(mj)
    _data_options(sub.add_parser("summary", help="load datasets and print their graph summaries"), defaults=False,
                  dataset_help=f"repeatable (default: all {len(DEFAULT_DATASETS)} of them)")
    nb = sub.add_parser("neighbors", help="one item's importance neighbourhood (§3.2) and Pixie's recommendations")
    _data_options(nb, defaults=False, dataset_help=f"repeatable (default: {DEFAULT_DATASET})")
    nb.add_argument("--title", required=True, help="part of the item's title (the first match is used)")
    nb.add_argument("-T", "--num-neighbors", type=int, default=10, help="neighbourhood size T")
    nb.add_argument("--walks", type=int, default=200, help="walks per item")
    nb.add_argument("--traversals", type=int, default=3, help="at most this many item→collection→item traversals")
    nb.add_argument("--pixie-steps", type=int, default=20_000, help="Pixie's traversal budget")
    tr = sub.add_parser("train", help="train PinSage (§3.3) into --out and compare its hit-rate@10 with item-kNN "
                                      "CF, Pixie and popularity; runs under torchrun for several GPUs or machines")
    _data_options(tr, defaults=False, dataset_help=f"one dataset (default: {DEFAULT_DATASET})")
    g = tr.add_argument_group("run")
    g.add_argument("--out", default=None, help="run folder (default runs/DATASET-PRESET-TIME); must not hold another run")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    g.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: each rank's GPU)")
    _add_config_options(g, "run")  # the TrainConfig fields' flags, from their metadata
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("--title", default=None, help="print PinSage's nearest items to this title")
    g = tr.add_argument_group("model")
    g.add_argument("--preset", choices=["classroom", "paper"], default="classroom", help="model sizes")
    _add_config_options(g, "model", PinSageConfig)  # PinSageConfig's flags, from its fields' metadata
    g.add_argument("--resample", action="store_true", help="fresh walks for every minibatch (default: one table)")
    g.add_argument("--walks", type=int, default=200, help="walks per item for its importance neighbourhood")
    g.add_argument("--traversals", type=int, default=3, help="at most this many item→collection→item steps a walk")
    for name in ("optimisation", "loss and negatives", "loading", "evaluation"):
        _add_config_options(tr.add_argument_group(name), name)
    em = sub.add_parser("embed", help="every item's embedding from a run's checkpoint, layer by layer (§3.4); "
                                      "sharded across ranks under torchrun")
    em.add_argument("--run-dir", "--from", dest="run", required=True,
                    help="a run folder written by train --out, or a main job's folder (runs/main-TIME: its "
                         "PinSage run in pinsage/ is used)")
    em.add_argument("--out", default=None,
                    help="embeddings file (default RUN/embeddings-best.pt or -last.pt, RUN the run folder: "
                         "runs/main-TIME/pinsage for a main job)")
    em.add_argument("--force", action="store_true", help="replace an existing embeddings file")
    em.add_argument("--last", action="store_true", help="use last.pt instead of best.pt")
    em.add_argument("--device", default="cpu", help="cpu or cuda (under torchrun: each rank's GPU)")
    em.add_argument("--chunk-size", type=int, default=8192, help="items per chunk of each layer")
    em.add_argument("--storage-device", default=None, help="where the per-layer arrays live (default: --device)")
    em.add_argument("--shard-dir", default=None,
                    help="under torchrun: exchange each layer's shards through files in this shared folder "
                         "instead of an all-gather")
    rc = sub.add_parser("recommend", help="an item's nearest neighbours from an embeddings file")
    rc.add_argument("--embeddings", required=True, help="a file written by embed, or a main job's embeddings.pt")
    rc.add_argument("--item", default=None, help="part of a title (the first match is used)")
    rc.add_argument("--id", type=int, default=None, help="a dense item id (0 … N−1) instead of a title")
    rc.add_argument("-k", type=int, default=10)
    rc.add_argument("--method", choices=["exact", "lsh", "faiss"], default="exact")
    rc.add_argument("--tables", type=int, default=16, help="LSH: hash tables")
    rc.add_argument("--bits", type=int, default=12, help="LSH: bits per table")
    rc.add_argument("--probes", type=int, default=2, help="LSH: extra buckets probed per table")
    rc.add_argument("--no-center", action="store_true",
                    help="LSH: hash the raw vectors, not their offsets from the mean (see LSHIndex)")
    ev = sub.add_parser("evaluate", help="an embeddings file next to every baseline on its data's held-out pairs")
    ev.add_argument("--embeddings", required=True, help="a file written by embed, or a main job's embeddings.pt")
    ev.add_argument("--pairs", choices=["test", "val"], default="test")
    ev.add_argument("-k", type=int, default=10)
    ev.add_argument("--pixie-steps", type=int, default=20_000)
    ev.add_argument("--json", default=None, help="also write the rows to this JSON file")
    return parser, sub


def main(argv: list[str] | None = None) -> int:
    parser, sub = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # the first word that is not an option or an option's value names the sub-command
    if not (argv and argv[0] in sub.choices) and not _subcommand_given(argv, sub.choices) \
            and not any(a in ("-h", "--help") for a in argv):
        argv = ["main", *argv]  # no sub-command: the main job (options before it still apply)
    args = parser.parse_args(argv)
    data = dict(min_rating=args.min_rating, val_fraction=args.val_fraction, test_fraction=args.test_fraction,
                seed=args.seed)
    try:
        # torch's threads: the CPUs nobody else is using (pinsage_edu.threads; PINSAGE_EDU_THREADS=N chooses)
        threads = use_free_cpus()
        if args.command in ("train", "main"):
            print(f"torch threads: {threads} (the free CPUs; PINSAGE_EDU_THREADS=N to choose)", flush=True)
        if args.command == "neighbors":
            return neighbors(args.dataset or [DEFAULT_DATASET], title=args.title, num_neighbors=args.num_neighbors,
                             num_walks=args.walks, num_traversals=args.traversals, pixie_steps=args.pixie_steps,
                             **data)
        if args.command in ("train", "main"):
            if args.dataset and len(args.dataset) > 1:
                raise ValueError(f"{args.command} takes one --dataset")
            return train(args, **data) if args.command == "train" else main_job(args, **data)
        if args.command == "embed":
            return embed(args)
        if args.command == "recommend":
            return recommend_cmd(args)
        if args.command == "evaluate":
            return evaluate_cmd(args)
        return summary(args.dataset or list(DEFAULT_DATASETS), **data)
    except (DataError, OSError, ValueError, KeyError, CheckpointError, FloatingPointError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
