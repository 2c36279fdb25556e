"""§4 the experiments: PinSage against its baselines, Table 1's ablations and the runtime tables.

The measures (hit-rate@k, scaled MRR, the :class:`Recommender` protocol, :func:`evaluate_recommender`,
:func:`compare`, the similarity kurtosis) are in :mod:`pinsage_edu.metrics`; the baselines
(popularity, content-only, item-kNN CF, Pixie) in :mod:`pinsage_edu.baselines`. Both are re-exported
here, so ``from pinsage_edu.evaluate import hit_rate, ItemKNNRecommender`` keeps working.

**The experiment**: :class:`Experiment` is a dataset ready for comparisons — split, features, one
neighbourhood table — and :meth:`Experiment.baselines` its baselines; :func:`hold_out_items` builds
the inductive test (items never seen in training).

**The ablation table** (Table 1): :data:`ABLATIONS` are the paper's rungs — max-pooling,
mean-pooling, mean-pooling-xent, mean-pooling-hard, PinSage — trained on the same data by
:func:`train_variant`; :func:`ablation_table` evaluates them next to the baselines, with the
**similarity kurtosis** of each method's embeddings (Figure 4). :data:`RECIPE` holds the settings for
real data (the main job's defaults). **The runtime tables** (Tables 3 and 4) are
:func:`runtime_by_batch_size` and :func:`runtime_by_neighbors`. :data:`PAPER` holds the paper's
figures for every table.
"""

from __future__ import annotations

import inspect
import math
import statistics
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import torch

from .baselines import (ContentRecommender, ItemKNNRecommender, PixieRecommender, PopularityRecommender,
                        content_baselines, popularity_recommendations)
from .data import Dataset, DataError, Split, synthetic_pins_boards
from .features import ItemFeatures, item_features
from .graph import BipartiteGraph
from .inference import embed_all
from .loaders import canonical_name, load_dataset
from .metrics import (EmbeddingRecommender, Metrics, Recommender, compare, evaluate_recommender, hit_rate, hits,
                      kurtosis, mrr_scale, scaled_mrr, score_ranks, similarity_distribution, similarity_kurtosis,
                      target_ranks)
from .minibatch import NeighborhoodSampler, NeighborhoodTable
from .model import PinSage, PinSageConfig
from .train import TrainConfig, TrainHistory, Trainer

__all__ = ["hits", "hit_rate", "popularity_recommendations", "target_ranks", "scaled_mrr", "mrr_scale",
           "Recommender", "EmbeddingRecommender", "ContentRecommender", "PopularityRecommender", "PixieRecommender",
           "ItemKNNRecommender", "content_baselines", "Metrics", "score_ranks", "evaluate_recommender", "compare",
           "similarity_distribution", "kurtosis", "similarity_kurtosis", "Variant", "ABLATIONS", "Experiment",
           "hold_out_items", "Recipe", "RECIPE", "RECIPES", "recipe_for", "PAPER_MAX_HARD",
           "TrainedVariant", "train_variant", "ablation_table", "RuntimeRow", "runtime_by_batch_size",
           "runtime_by_neighbors", "format_table", "format_runtime_table", "PAPER"]

# ---------------------------------------------------------------------------------------------------
# The paper's figures (§4; PAPER.md)
PAPER: dict[str, dict[str, Any]] = {
    # Table 1: hit-rate@500 and scaled MRR among ~5M candidates
    "table1": {"Visual": (0.17, 0.23), "Annot.": (0.14, 0.19), "Combined": (0.27, 0.37),
               "max-pooling": (0.39, 0.37), "mean-pooling": (0.41, 0.51), "mean-pooling-xent": (0.29, 0.35),
               "mean-pooling-hard": (0.46, 0.56), "PinSage": (0.67, 0.59)},
    # Figure 4: kurtosis of the pairwise cosine similarities
    "kurtosis": {"PinSage": 0.43, "Visual": 1.20, "Annot.": 2.49},
    # Table 3 (mean-pooling-hard): batch size -> (ms per iteration, iterations, total hours)
    "table3": {512: (590, 390_000, 63.9), 1024: (870, 220_000, 53.2), 2048: (1350, 130_000, 48.8),
               4096: (2240, 100_000, 68.4)},
    # Table 4: T -> (hit-rate, MRR, training hours)
    "table4": {10: (0.60, 0.51, 20), 20: (0.63, 0.54, 33), 50: (0.67, 0.59, 78)},
}


# ---------------------------------------------------------------------------------------------------
# Table 1: the ablations
@dataclass(frozen=True)
class Variant:
    """One rung of the ablation: a name, model overrides (``pooling``) and training overrides."""

    name: str
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    hard: bool = False  # hard negatives: the config's curriculum, or the paper's cap of 6 if it has none

    def config(self, base: "TrainConfig") -> "TrainConfig":
        """The training config of this rung: ``base`` with the rung's overrides."""
        tc = replace(base, **self.train)
        if self.hard and tc.max_hard_negatives == 0:
            tc = replace(tc, max_hard_negatives=PAPER_MAX_HARD)
        return tc


PAPER_MAX_HARD = 6
"""The curriculum's cap on hard negatives per query in the paper (§3.3)."""

ABLATIONS: tuple[Variant, ...] = (
    Variant("max-pooling", {"pooling": "max"}, {"max_hard_negatives": 0}),
    Variant("mean-pooling", {"pooling": "mean"}, {"max_hard_negatives": 0}),
    Variant("mean-pooling-xent", {"pooling": "mean"}, {"max_hard_negatives": 0, "loss": "xent"}),
    Variant("mean-pooling-hard", {"pooling": "mean"}, hard=True),
    Variant("PinSage", {"pooling": "importance"}, hard=True),
)
"""Table 1's rungs, in the paper's order. All use the same importance-sampled neighbourhoods (top-T by
visit count); they differ in the pooling γ, the loss, and whether the curriculum of hard negatives
is used. PinSage = importance pooling + hard negatives (the training config's own curriculum, or the
paper's cap of 6 when the config has none)."""


@dataclass(frozen=True)
class Recipe:
    """PinSage's settings for real data — the main job's defaults — chosen on the **validation** pairs
    of ml-latest-small and goodbooks (every candidate looked at is in
    ``benchmarks/results/tuning.jsonl``; README, "How the main job's settings were chosen"):

    * ``lr`` 3·10⁻³ (the library's 10⁻³ is still climbing after 10 epochs);
    * ``max_hard`` 0: on these small catalogues the PPR band of hard negatives is full of the query's
      true related items, so hard negatives lower the hit-rate (notebooks 06 and 09 measure it);
    * ``collection_dim`` 256: the item's train-graph collections as a feature group (inductive);
    * ``epoch_pairs``: an epoch sees at most this many train pairs (goodbooks has 782k);
    * ``val_pairs``: validation each epoch on at most this many pairs (a seeded sample);
    * ``test_pairs``: the main job's table on at most this many test pairs (goodbooks has 91k, and
      Pixie walks for every query);
    * the embeddings are those of the best validation epoch (``train_variant(weights="best")``);
    * ``model`` / ``train``: further :class:`~pinsage_edu.model.PinSageConfig` and
      :class:`~pinsage_edu.train.TrainConfig` fields (none in :data:`RECIPE`; see :data:`RECIPES`).
    """

    epochs: int = 10
    lr: float = 3e-3
    max_hard: int = 0
    collection_dim: int = 256
    epoch_pairs: int = 50_000
    val_pairs: int = 5_000
    test_pairs: int = 10_000
    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    def train_config(self, num_train_pairs: int, **overrides: Any) -> "TrainConfig":
        """The :class:`~pinsage_edu.train.TrainConfig` for a dataset with this many train pairs."""
        batch = overrides.get("batch_size", self.train.get("batch_size", TrainConfig.batch_size))
        steps = -(-self.epoch_pairs // batch) if num_train_pairs > self.epoch_pairs else None
        return TrainConfig(**{"epochs": self.epochs, "lr": self.lr, "max_hard_negatives": self.max_hard,
                              "max_steps_per_epoch": steps, "eval_pairs": self.val_pairs, **self.train,
                              **overrides})


RECIPE = Recipe()

RECIPES: dict[str, Recipe] = {
    "goodbooks-10k": Recipe(epochs=8, lr=1e-3, collection_dim=512,
                            model={"embed_dim": 512, "hidden_dim": 256, "input_skip": True},
                            train={"loss": "xent", "temperature": 0.05, "batch_size": 2048}),
}
"""Recipes of their own, by shipped dataset, where :data:`RECIPE` is not the best setting found on that
dataset's validation pairs. goodbooks (10k books, every book on ~100 shelves): the default d = 64
cannot hold its neighbour structure (a 64-column LSA of the shelves scores 2.15% on validation,
item-kNN 2.52%), so d = 512 with 512 collection columns, the input skip (the embedding keeps the
item's own shelves) and the cross-entropy loss over larger batches. That brings PinSage to parity
with item-kNN there, not above it (README, "Quality")."""


def recipe_for(dataset: str) -> Recipe:
    """The recipe of ``dataset`` (a shipped name or alias: ``goodbooks`` → ``goodbooks-10k``);
    :data:`RECIPE` for any other dataset or path."""
    return RECIPES.get(canonical_name(dataset), RECIPE)


@dataclass
class Experiment:
    """A dataset ready for experiments: the split, the train graph, the features, one neighbourhood
    table (T = ``num_neighbors``) shared by every variant, and the titles for printing."""

    name: str
    split: "Split"
    features: ItemFeatures
    table: NeighborhoodTable  # a NeighborhoodSampler when built with resample=True
    titles: list[str]
    seed: int = 0
    info: dict[str, Any] = field(default_factory=dict)  # how it was loaded: enough to load it again
    raw_ids: list[Any] | None = None  # the source's item ids (movieId, book_id, …), aligned with the items

    @property
    def graph(self) -> BipartiteGraph:
        return self.split.graph

    @property
    def x(self) -> torch.Tensor:
        return self.features.x

    @classmethod
    def load(cls, dataset: "str | Dataset" = "ml-latest-small", *, num_neighbors: int = 10, num_walks: int = 200,
             num_traversals: int = 3, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0,
             collection_dim: int = 0, check_pairs: Sequence[str] = (), resample: bool = False,
             walk_device: torch.device | str | None = None, **load_kwargs: Any) -> "Experiment":
        """Load (or take) a dataset, split it, featurise it and build its neighbourhood table. ``seed``
        seeds the split, the features and the walks (and, for ``"synthetic"``, the graph itself).

        The one builder of an experiment's data: the command line's ``main`` and ``train`` build theirs
        here, and ``embed`` / ``evaluate`` rebuild it from what :attr:`info` recorded
        (:meth:`from_info`). ``check_pairs``: the parts of the split that must hold pairs
        (:meth:`Split.check_pairs`, checked before the features and walks). ``walk_device``: the
        walks run on the train graph moved there (default: where the graph is). ``resample``: the
        ``table`` is a :class:`~pinsage_edu.minibatch.NeighborhoodSampler` (fresh walks per call, the
        same settings) instead of a :class:`NeighborhoodTable`. Neither changes :attr:`info`: the
        data are the same."""
        if isinstance(dataset, Dataset):
            ds = dataset
        elif dataset == "synthetic":  # the seed also draws the synthetic graph itself
            ds = load_dataset(dataset, **{"seed": seed, **load_kwargs})
        else:
            ds = load_dataset(dataset, **load_kwargs)
        split = ds.split(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
        if check_pairs:
            split.check_pairs(dataset if isinstance(dataset, str) else ds.name, parts=tuple(check_pairs))
        feats = item_features(ds, split.graph, seed=seed, collection_dim=collection_dim)
        walk_graph = split.graph if walk_device is None else split.graph.to(walk_device)
        walks = dict(num_walks=num_walks, num_traversals=num_traversals)
        table = (NeighborhoodSampler(walk_graph, num_neighbors, generator=seed, **walks) if resample
                 else NeighborhoodTable.build(walk_graph, num_neighbors, generator=seed, **walks))
        info = {"dataset": dataset if isinstance(dataset, str) else ds.name, "num_items": ds.num_items, **load_kwargs,
                "val_fraction": val_fraction, "test_fraction": test_fraction, "seed": seed,
                "num_neighbors": num_neighbors, **walks, "collection_dim": collection_dim}
        return cls(ds.name, split, feats, table, list(ds.items.titles), seed, info,
                   [i.item() if hasattr(i, "item") else i for i in ds.items.raw_ids])

    @classmethod
    def from_info(cls, info: Any, *, num_neighbors: int | None = None, source: Any = "the run",
                  **build: Any) -> "Experiment":
        """The experiment that recorded ``info`` (its :attr:`info`, kept in a training run's ``run.json``
        and in an embeddings file), built again by :meth:`load` with the same dataset, split, features
        and walks. Reads the records of every version: a setting a record lacks takes the value the
        command that wrote it used (``collection_dim`` 0, ``num_walks`` 200, ``num_traversals`` 3, …);
        ``num_neighbors`` overrides the recorded T (a ``train`` run records it in its model config
        only). Other keys of ``info`` (a model ``preset``, ``device``, ``run``, …) are ignored. ``build`` goes to
        :meth:`load` (``check_pairs``, ``resample``, ``walk_device``). Errors name ``source``, the file
        the record was read from; a ValueError when the data no longer has the recorded item count."""
        dataset = cls.recorded_dataset(info, source)
        if dataset == "synthetic":  # the generator's sizes, as recorded (``preset`` is train's model preset)
            sizes = set(inspect.signature(synthetic_pins_boards).parameters) - {"seed"}
            kw = {k: v for k, v in info.items() if k in sizes}
        else:
            kw = {"min_rating": info.get("min_rating", 4.0)}
        if num_neighbors is None:
            num_neighbors = info.get("num_neighbors", 10)
        try:
            exp = cls.load(dataset, num_neighbors=num_neighbors, num_walks=info.get("num_walks", 200),
                           num_traversals=info.get("num_traversals", 3),
                           val_fraction=info.get("val_fraction", 0.1), test_fraction=info.get("test_fraction", 0.1),
                           seed=info.get("seed", 0), collection_dim=info.get("collection_dim", 0), **build, **kw)
        except DataError as exc:
            raise DataError(f"{source} records dataset {dataset!r}, which cannot be loaded again: {exc}") from None
        if "num_items" in info and info["num_items"] != exp.graph.num_items:
            raise ValueError(f"{source}: the run was made on {info['num_items']:,} items of {dataset!r} but loading it "
                             f"again gives {exp.graph.num_items:,}: the data changed since")
        return exp

    @staticmethod
    def recorded_dataset(info: Any, source: Any = "the run") -> str:
        """The dataset a record ``info`` names (see :meth:`from_info`); a ValueError naming ``source``
        when there is none (a damaged file, or one another program wrote)."""
        if not isinstance(info, dict):
            raise ValueError(f"{source}: the recorded run settings are a {type(info).__name__}, not an object: "
                             "damaged, or not written by `python -m pinsage_edu train` or `main`")
        dataset = info.get("dataset")
        if not dataset or not isinstance(dataset, str):
            raise ValueError(f"{source} records no dataset: it was not written by `python -m pinsage_edu train` or "
                             "`main` (or is damaged)")
        return dataset

    def seen_items(self, num_seen: int) -> "Experiment":
        """This experiment restricted to items ``0 … num_seen − 1`` (:meth:`Split.seen_items`): train a
        model here, then embed every item with the full experiment's table and features — the items
        ``num_seen …`` were never in training (see :func:`hold_out_items`)."""
        split = self.split.seen_items(num_seen)
        feats = ItemFeatures(self.features.x[:num_seen], self.features.groups)
        walks = {"num_walks": self.info.get("num_walks", 200), "num_traversals": self.info.get("num_traversals", 3)}
        table = NeighborhoodTable.build(split.graph, self.table.num_neighbors, generator=self.seed, **walks)
        return replace(self, split=split, features=feats, table=table, titles=self.titles[:num_seen],
                       raw_ids=self.raw_ids[:num_seen] if self.raw_ids is not None else None,
                       info={**self.info, "num_seen": num_seen})

    def with_neighbors(self, num_neighbors: int, **walk_kwargs: Any) -> "Experiment":
        """The same data with a neighbourhood table of another T."""
        walks = {"num_walks": self.info.get("num_walks", 200), "num_traversals": self.info.get("num_traversals", 3),
                 **walk_kwargs}
        table = NeighborhoodTable.build(self.graph, num_neighbors, generator=self.seed, **walks)
        return replace(self, table=table, info={**self.info, **walks, "num_neighbors": num_neighbors})

    def baselines(self, *, pixie_steps: int = 20_000) -> list[Recommender]:
        """Popularity, Pixie, the content-only views and item-kNN CF on this experiment's train graph."""
        return [PopularityRecommender(self.graph), PixieRecommender(self.graph, num_steps=pixie_steps, seed=self.seed),
                *content_baselines(self.features), ItemKNNRecommender(self.graph)]


def hold_out_items(dataset: "str | Dataset", fraction: float = 0.1, *, seed: int = 0, num_neighbors: int = 10,
                   collection_dim: int = 0, **load_kwargs: Any) -> tuple[Experiment, Experiment]:
    """The inductive test: ``(full, seen)``. A seeded ``fraction`` of the items (among those with
    train edges) is renumbered to the end; ``seen = full.seen_items(n)`` trains without them (no edge,
    pair or feature row of theirs), and ``full`` holds every item — the new ones with their features
    and train-graph edges, as pins saved after training. An inductive model trained on ``seen`` embeds
    ``full``'s items with ``embed_all(model, full.table, full.x)``; a transductive one (id embeddings)
    refuses the new ids. Evaluate on ``full``'s test pairs whose answer is a new item
    (``pairs[:, 1] >= seen.graph.num_items``)."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    ds = dataset if isinstance(dataset, Dataset) else load_dataset(
        dataset, **({"seed": seed, **load_kwargs} if dataset == "synthetic" else load_kwargs))
    base = ds.split(seed=seed).graph
    candidates = torch.nonzero(base.item_degrees > 0).squeeze(1)
    g = torch.Generator().manual_seed(seed)
    chosen = candidates[torch.randperm(candidates.numel(), generator=g)[: max(1, round(fraction * candidates.numel()))]]
    full = Experiment.load(ds.with_items_last(torch.sort(chosen).values), seed=seed, num_neighbors=num_neighbors,
                           collection_dim=collection_dim)
    return full, full.seen_items(ds.num_items - chosen.numel())


@dataclass
class TrainedVariant:
    """A trained ablation rung: its model, training history, every item's embedding and the seconds
    training took."""

    variant: Variant
    model: PinSage
    history: "TrainHistory"
    embeddings: torch.Tensor
    seconds: float
    epoch: int = 0  # the epoch whose weights were embedded

    @property
    def name(self) -> str:
        return self.variant.name

    def recommender(self) -> EmbeddingRecommender:
        return EmbeddingRecommender(self.name, self.embeddings)


def train_variant(exp: Experiment, variant: Variant = ABLATIONS[-1], *, config: "TrainConfig | None" = None,
                  preset: str = "classroom", device: torch.device | str = "cpu", out_dir: Any = None,
                  progress: bool = False, run_info: dict[str, Any] | None = None, weights: str = "best",
                  **model_overrides: Any) -> TrainedVariant:
    """Train one rung on ``exp`` (its train pairs, validated on its val pairs) and embed every item
    layer by layer. ``config`` is the shared training config; the variant's overrides go on top.
    With ``out_dir`` the run is checkpointed there (``run.json`` records ``exp.info``, so
    ``python -m pinsage_edu embed --run-dir OUT_DIR`` can rebuild the data). ``weights="best"`` embeds
    the weights of the best validation epoch (model selection on the val pairs), ``"last"`` the final
    ones."""
    if weights not in ("best", "last"):
        raise ValueError(f"weights must be 'best' (the best validation epoch's) or 'last', got {weights!r}")
    if preset not in ("classroom", "paper"):
        raise ValueError(f"preset must be 'classroom' or 'paper', got {preset!r}")
    tc = variant.config(config or TrainConfig())
    make = PinSageConfig.paper if preset == "paper" else PinSageConfig.classroom
    mc = make(exp.x.shape[1], num_neighbors=exp.table.num_neighbors, **{**model_overrides, **variant.model})
    torch.manual_seed(tc.seed)
    dev = torch.device(device)
    model = PinSage(mc).to(dev)
    table = exp.table.to(dev) if tc.sampling == "device" else exp.table
    graph = exp.graph.to(dev) if tc.sampling == "device" else exp.graph
    t0 = time.perf_counter()
    trainer = Trainer(model, exp.x.to(dev), exp.split.train_pairs, table, config=tc, graph=graph,
                      val_pairs=exp.split.val_pairs, out_dir=out_dir, progress=progress,
                      run_info={**exp.info, "variant": variant.name, **(run_info or {})})
    history = trainer.fit()
    seconds = time.perf_counter() - t0
    best_epoch = trainer.restore_best() if weights == "best" else None
    z = embed_all(model, exp.table.to(dev), exp.x.to(dev))
    return TrainedVariant(variant, model, history, z, seconds, best_epoch or len(history.epochs))


def ablation_table(exp: Experiment, *, variants: Sequence[Variant] = ABLATIONS, config: "TrainConfig | None" = None,
                   pairs: str = "test", k: int = 10, baselines: bool = True, pixie_steps: int = 20_000,
                   preset: str = "classroom",
                   device: torch.device | str = "cpu", progress: bool = False,
                   on_variant: Callable[[TrainedVariant], None] | None = None
                   ) -> tuple[list[Metrics], list[TrainedVariant]]:
    """Table 1 on ``exp``: the baselines (unless ``baselines=False``) and every variant trained and
    evaluated on the same held-out ``pairs`` (``"val"`` or ``"test"``; Pixie walks ``pixie_steps`` per
    query). Returns the rows and the trained variants (for their embeddings and histories)."""
    if pairs not in ("val", "test"):
        raise ValueError(f"pairs must be 'val' or 'test', got {pairs!r}")
    held = exp.split.val_pairs if pairs == "val" else exp.split.test_pairs
    recs: list[Recommender] = list(exp.baselines(pixie_steps=pixie_steps)) if baselines else []
    trained = []
    for v in variants:
        tv = train_variant(exp, v, config=config, preset=preset, device=device, progress=progress)
        trained.append(tv)
        if on_variant is not None:
            on_variant(tv)
        recs.append(tv.recommender())
    return compare(recs, held, k=k, seed=exp.seed), trained


def format_table(rows: Sequence[Metrics], *, paper: dict[str, tuple[float, float]] | None = None,
                 title: str = "") -> str:
    """A plain-text table: method, hit-rate@k (± one standard error), scaled MRR, kurtosis, and the
    paper's hit-rate and MRR where the method has an analogue in Table 1."""
    paper = PAPER["table1"] if paper is None else paper
    analog = {"content: visual": "Visual", "content: text": "Annot.", "content: combined": "Combined"}
    k = rows[0].k if rows else 10
    scale = rows[0].scale if rows else 1
    w = max([22, *(len(m.name) for m in rows)])
    head = f"{'method':<{w}} {'hit@' + str(k):>8} {'± s.e.':>7} {'MRR':>8} {'kurtosis':>8}   paper (hit@500, MRR)"
    lines = ([title] if title else []) + [head, "-" * len(head)]
    for m in rows:
        p = paper.get(m.name) or paper.get(analog.get(m.name, ""))
        kt = f"{m.kurtosis:8.2f}" if math.isfinite(m.kurtosis) else f"{'':>8}"
        lines.append(f"{m.name:<{w}} {100 * m.hit_rate:7.2f}% {100 * m.stderr():6.2f}  {m.mrr:8.4f} {kt}   "
                     + (f"{100 * p[0]:.0f}%, {p[1]:.2f}" if p else ""))
    n = rows[0].num_pairs if rows else 0
    lines.append(f"({n:,} held-out pairs · hit@{k}: share of pairs whose answer is in the top {k} · MRR: mean "
                 "reciprocal rank" + ("" if scale == 1 else f", ranks divided by {scale} as in the paper") + ")")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------
# Tables 3 and 4: what batch size and T cost
@dataclass
class RuntimeRow:
    """One setting of a runtime sweep: ``ms_per_iteration`` (median step of the last epoch, data wait included),
    ``iterations`` to the best validation epoch, ``seconds`` of training to that epoch, and the test
    hit-rate / scaled MRR of the final model."""

    setting: str
    value: int
    ms_per_iteration: float
    iterations: int
    seconds: float
    hit_rate: float
    mrr: float
    best_epoch: int


def _runtime_row(setting: str, value: int, tv: TrainedVariant, exp: Experiment, k: int) -> RuntimeRow:
    h = tv.history
    # the last epoch's steps: by then the PPR rankings of the hard negatives are cached and the first
    # step's one-off costs (imports, allocations) are behind, so rows of different lengths compare
    last = h.timeline[-1][0] if h.timeline else None
    steps = [t_done - t_req for (ep, _, t_req, _, t_done) in h.timeline if ep == last]
    vals = h.val_hit_rates
    best = max(range(len(vals)), key=lambda i: (vals[i], -i)) if vals else len(h.epochs) - 1
    iterations = sum(e.steps for e in h.epochs[:best + 1])
    seconds = sum(e.seconds for e in h.epochs[:best + 1])
    m = evaluate_recommender(tv.recommender(), exp.split.test_pairs, k=k)
    return RuntimeRow(setting, value, 1000 * statistics.median(steps) if steps else float("nan"), iterations, seconds,
                      m.hit_rate, m.mrr, best + 1)


def runtime_by_batch_size(exp: Experiment, batch_sizes: Sequence[int] = (128, 256, 512, 1024), *,
                          config: "TrainConfig | None" = None, variant: Variant = ABLATIONS[3],
                          scale_lr: bool = True, k: int = 10, device: torch.device | str = "cpu") -> list[RuntimeRow]:
    """Table 3 on ``exp``: train ``variant`` (mean-pooling-hard, as the paper) at each batch size. With
    ``scale_lr`` the learning rate follows the linear scaling rule (∝ batch size, relative to the
    config's batch size), as the paper's warm-up assumes."""
    base = config or TrainConfig()
    rows = []
    for b in batch_sizes:
        tc = replace(base, batch_size=b, lr=base.lr * b / base.batch_size if scale_lr else base.lr)
        rows.append(_runtime_row("batch size", b, train_variant(exp, variant, config=tc, device=device), exp, k))
    return rows


def runtime_by_neighbors(exp: Experiment, neighbors: Sequence[int] = (5, 10, 20), *,
                         config: "TrainConfig | None" = None, variant: Variant = ABLATIONS[-1], k: int = 10,
                         device: torch.device | str = "cpu") -> list[RuntimeRow]:
    """Table 4 on ``exp``: train ``variant`` (PinSage) with neighbourhoods of each size T."""
    rows = []
    for T in neighbors:
        e = exp.with_neighbors(T)
        rows.append(_runtime_row("T", T, train_variant(e, variant, config=config, device=device), e, k))
    return rows


def format_runtime_table(rows: Sequence[RuntimeRow]) -> str:
    """A runtime sweep as plain text next to the paper's table for the same setting: Table 3 (batch
    size: ms per iteration, iterations, hours) or Table 4 (T: hit-rate, MRR, hours). The paper's
    settings we did not run get a row of their own."""
    if not rows:
        return "(no rows)"
    setting = rows[0].setting
    if setting == "batch size":
        paper, name = PAPER["table3"], "Table 3 (mean-pooling-hard)"
        head_p = f"{'ms/iter':>8} {'iterations':>10} {'hours':>6}"

        def cells(p: tuple) -> str:
            return f"{p[0]:>8,} {p[1]:>10,} {p[2]:>6.1f}"
    else:
        paper, name = PAPER["table4"], "Table 4 (PinSage)"
        head_p = f"{'hit@500':>8} {'MRR':>5} {'hours':>6}"

        def cells(p: tuple) -> str:
            return f"{p[0]:>8.0%} {p[1]:>5.2f} {p[2]:>6}"
    k = f"{setting[:6]:>6}"
    lines = [f"{name + ' analogue':<56} │ the paper",
             f"{k} {'ms/iter':>8} {'iters':>6} {'seconds':>8} {'hit@10':>7} {'MRR':>7} {'best':>4} │ {head_p}"]
    for r in rows:
        p = paper.get(r.value)
        lines.append(f"{r.value:>6} {r.ms_per_iteration:>8.0f} {r.iterations:>6} {r.seconds:>8.2f} {r.hit_rate:>7.2%} "
                     f"{r.mrr:>7.4f} {r.best_epoch:>4} │ " + (cells(p) if p else ""))
    ran = {r.value for r in rows}
    for v, p in paper.items():
        if v not in ran:
            lines.append(f"{v:>6} {'':>8} {'':>6} {'':>8} {'':>7} {'':>7} {'':>4} │ {cells(p)}")
    return "\n".join(lines)
