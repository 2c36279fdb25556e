"""§3.3: training PinSage on related-item pairs — a minimal, single-process loop.

One epoch walks the positive pairs (q, i) in a seeded random order, ``batch_size`` at a time. For
each minibatch:

1. draw the shared negatives (one set for the whole minibatch) and, from epoch 2 on, each query's
   hard negatives from its PPR rank band — as many per query as the curriculum says;
2. build Algorithm 2's blocks for every item the loss needs (queries, positives, negatives) at once,
   so an item shared by several roles is embedded once;
3. embed them, take the max-margin loss (or the cross-entropy ablation), one Adam step.

After each epoch the whole catalogue is embedded and the validation hit-rate@K measured
(item-to-item: the query's K nearest items by dot product). The producer–consumer loading,
multi-GPU training, learning-rate schedule and checkpoints of §3.3 build on this loop.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import torch

from .evaluate import hit_rate
from .graph import BipartiteGraph
from .inference import embed_minibatches
from .knn import exact_top_k
from .loss import LossResult, cross_entropy_loss, max_margin_loss
from .minibatch import NeighborhoodFn, sample_blocks
from .model import PinSage
from .negatives import curriculum, hard_negative_band, hard_negatives, shared_negative_mask, shared_negatives
from .walks import PPRRanking, _generator, ppr_rank

__all__ = ["TrainConfig", "EpochLog", "TrainHistory", "train_pinsage", "evaluate_hit_rate"]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_pinsage`.

    * ``max_hard_negatives``: the curriculum's cap (6 in the paper); 0 trains with shared negatives only.
    * ``curriculum``: True adds hard negatives epoch by epoch (none in epoch 1, then n − 1, capped);
      False uses ``max_hard_negatives`` per query from the first epoch (the paper's comparison:
      about twice the epochs to converge).
    * ``hard_band``: PPR ranks ``(lo, hi)`` of the hard negatives; None scales the paper's
      2000–5000 to the catalogue (:func:`~pinsage_edu.negatives.hard_negative_band`).
    * ``ppr_method``: how the PPR ranking for hard negatives is computed when none is given —
      ``"exact"`` (power iteration), ``"monte_carlo"`` (walks; far faster on large catalogues) or
      ``"auto"`` (exact up to 50,000 items).
    * ``loss``: ``"margin"`` (the paper) or ``"xent"`` (the ablation); ``temperature`` for the latter.
    * ``max_steps_per_epoch``: stop an epoch early (for quick demonstrations); None = every pair.
    * ``eval_k`` / ``eval_pairs``: hit-rate@K on at most this many validation pairs (None = all).
    """

    epochs: int = 5
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    margin: float = 0.1
    loss: str = "margin"
    temperature: float = 0.1
    num_shared_negatives: int = 500
    max_hard_negatives: int = 6
    curriculum: bool = True
    hard_band: tuple[int, int] | None = None
    ppr_method: str = "auto"
    max_steps_per_epoch: int | None = None
    eval_k: int = 10
    eval_pairs: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "num_shared_negatives", "eval_k", "max_steps_per_epoch", "eval_pairs"):
            v = getattr(self, name)
            if v is None and name in ("max_steps_per_epoch", "eval_pairs"):
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {v!r}")
        if isinstance(self.max_hard_negatives, bool) or not isinstance(self.max_hard_negatives, int) \
                or self.max_hard_negatives < 0:
            raise ValueError(f"TrainConfig.max_hard_negatives must be an integer >= 0, got {self.max_hard_negatives!r}")
        if self.ppr_method not in ("auto", "exact", "monte_carlo"):
            raise ValueError(f"TrainConfig.ppr_method must be 'auto', 'exact' or 'monte_carlo', got {self.ppr_method!r}")
        if self.loss not in ("margin", "xent"):
            raise ValueError(f"TrainConfig.loss must be 'margin' or 'xent', got {self.loss!r}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if not self.margin >= 0:
            raise ValueError(f"TrainConfig.margin must be >= 0, got {self.margin!r}")


@dataclass
class EpochLog:
    """What one epoch did: the mean loss statistics of its steps and the validation hit-rate after it."""

    epoch: int
    hard_per_query: int
    steps: int
    loss: float
    active: float
    pos_score: float
    neg_score: float
    hard_score: float
    active_hard: float
    val_hit_rate: float
    seconds: float


@dataclass
class TrainHistory:
    """Per-step losses (``step_loss``, ``step_active``) and one :class:`EpochLog` per epoch.

    ``initial_hit_rate`` is the validation hit-rate of the untrained model (NaN without val pairs).
    """

    step_loss: list[float] = field(default_factory=list)
    step_active: list[float] = field(default_factory=list)
    epochs: list[EpochLog] = field(default_factory=list)
    initial_hit_rate: float = float("nan")

    @property
    def val_hit_rates(self) -> list[float]:
        return [e.val_hit_rate for e in self.epochs]

    def table(self) -> str:
        """The epochs as a small text table."""
        head = "epoch  hard/q  steps    loss  active  pos·q  neg·q  hard·q  active hard  val hit@K"
        rows = [f"{e.epoch:>5}  {e.hard_per_query:>6}  {e.steps:>5}  {e.loss:6.4f}  {e.active:6.3f}  "
                f"{e.pos_score:5.3f}  {e.neg_score:5.3f}  {e.hard_score:6.3f}  {e.active_hard:11.3f}  "
                f"{e.val_hit_rate:9.4f}" for e in self.epochs]
        if self.initial_hit_rate == self.initial_hit_rate:  # measured: the untrained model as epoch 0
            rows.insert(0, f"{0:>5}  {'(untrained)':>76}  {self.initial_hit_rate:9.4f}")
        return "\n".join([head] + rows)

    def to_dict(self) -> dict[str, Any]:
        return {"step_loss": self.step_loss, "step_active": self.step_active,
                "epochs": [asdict(e) for e in self.epochs], "initial_hit_rate": self.initial_hit_rate}


def _check_pairs(name: str, pairs: Any, num_items: int) -> torch.Tensor:
    p = torch.as_tensor(pairs)
    if p.dim() != 2 or p.shape[1] != 2 or p.is_floating_point() or p.dtype == torch.bool:
        raise ValueError(f"{name} must be an integer [P, 2] tensor of (query, item) pairs, got "
                         f"{p.dtype} {tuple(p.shape)}")
    p = p.long()
    if p.numel() and (int(p.min()) < 0 or int(p.max()) >= num_items):
        raise ValueError(f"{name} hold item {int(p.max()) if int(p.max()) >= num_items else int(p.min())}, "
                         f"outside the {num_items} items of the features")
    return p


class _PrecomputedRanks:
    """PPR rankings given for every item: a minibatch's rows are looked up."""

    def __init__(self, ranking: PPRRanking):
        self.ranking = ranking

    def __call__(self, q: torch.Tensor) -> PPRRanking:
        r = self.ranking
        return PPRRanking(q, r.ids.index_select(0, q), r.scores.index_select(0, q), r.mask.index_select(0, q))


class _LazyRanks:
    """PPR rankings computed for a minibatch's queries when first needed.

    Rows are kept while a table of every item's top ranks fits in ``max_cache_bytes`` (small
    catalogues: each query is ranked once over the whole run); past that, every minibatch ranks its
    own queries afresh (Monte-Carlo PPR keeps that cheap on large graphs).
    """

    def __init__(self, graph: BipartiteGraph, k: int, method: str, *, seed: int, device: torch.device,
                 max_cache_bytes: int = 1 << 29):
        self.graph, self.k, self.method, self.device = graph, k, method, device
        self.generator = _generator(seed, graph.device)
        n = graph.num_items
        self.cached = n * k * 13 <= max_cache_bytes  # int64 id + float32 score + bool per entry
        if self.cached:
            self.ids = torch.full((n, k), -1, dtype=torch.long, device=device)
            self.scores = torch.zeros((n, k), dtype=torch.float32, device=device)
            self.mask = torch.zeros((n, k), dtype=torch.bool, device=device)
            self.done = torch.zeros(n, dtype=torch.bool, device=device)

    def _rank(self, queries: torch.Tensor) -> PPRRanking:
        return ppr_rank(self.graph, queries.to(self.graph.device), k=self.k, method=self.method,
                        generator=self.generator).to(self.device)

    def __call__(self, q: torch.Tensor) -> PPRRanking:
        if not self.cached:
            u, inv = torch.unique(q, return_inverse=True)
            r = self._rank(u)
            return PPRRanking(q, r.ids[inv], r.scores[inv], r.mask[inv])
        u = torch.unique(q)
        need = u[~self.done[u]]
        if need.numel():
            r = self._rank(need)
            self.ids[need], self.scores[need], self.mask[need] = r.ids, r.scores, r.mask
            self.done[need] = True
        return PPRRanking(q, self.ids[q], self.scores[q], self.mask[q])


def evaluate_hit_rate(model: PinSage, features: torch.Tensor, neighborhood_fn: NeighborhoodFn, pairs: Any, *,
                      k: int = 10, batch_size: int = 1024) -> float:
    """Hit-rate@k of the model on ``pairs`` (q, i): is i among q's k nearest items by dot product?"""
    p = _check_pairs("pairs", pairs, features.shape[0])
    z = embed_minibatches(model, features, neighborhood_fn, batch_size=batch_size)
    ids, _ = exact_top_k(z, p[:, 0].to(z.device), k)
    return hit_rate(ids, p[:, 1].to(z.device))


def train_pinsage(model: PinSage, features: torch.Tensor, train_pairs: Any, neighborhood_fn: NeighborhoodFn, *,
                  config: TrainConfig = TrainConfig(), graph: BipartiteGraph | None = None,
                  val_pairs: Any = None, ranking: PPRRanking | None = None,
                  on_step: Callable[[int, LossResult], None] | None = None,
                  optimizer: torch.optim.Optimizer | None = None, start_epoch: int = 1) -> TrainHistory:
    """Fit ``model`` to the positive ``train_pairs`` [P, 2]; returns the :class:`TrainHistory`.

    * ``features`` [num_items, in_dim] on the model's device; ``neighborhood_fn`` as for
      :func:`~pinsage_edu.minibatch.sample_blocks` (its blocks are moved to the model's device).
    * Hard negatives need a PPR ranking of every query: pass ``ranking`` (rows for items
      ``0 … num_items−1``, ``k >=`` the band's end) or the train ``graph``, from which each
      minibatch's queries are ranked with :func:`~pinsage_edu.walks.ppr_rank` when first needed.
    * ``on_step(step, result)`` is called after every optimiser step (for live plots).
    * ``start_epoch``/``optimizer`` continue an earlier run one call at a time: epochs
      ``start_epoch … start_epoch + epochs − 1`` are trained, with that epoch's curriculum and fresh
      seeded draws (a call for epoch 3 never replays epoch 1's order or negatives). The untrained
      hit-rate is measured only when ``start_epoch == 1``.
    """
    c = config
    if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or start_epoch < 1:
        raise ValueError(f"start_epoch must be an integer >= 1, got {start_epoch!r}")
    N = features.shape[0]
    pairs = _check_pairs("train_pairs", train_pairs, N).cpu()  # indexed by a CPU permutation; batches move
    if pairs.shape[0] == 0:
        raise ValueError("train_pairs is empty: nothing to train on")
    val = _check_pairs("val_pairs", val_pairs, N).cpu() if val_pairs is not None else None
    if val is not None and c.eval_pairs is not None and val.shape[0] > c.eval_pairs:
        pick = torch.randperm(val.shape[0], generator=torch.Generator().manual_seed(c.seed))[: c.eval_pairs]
        val = val[torch.sort(pick).values]
    dev = model.device
    # the order of pairs (CPU) and the negatives (model's device); a later start_epoch draws afresh
    gen = torch.Generator().manual_seed(c.seed + 1_000_003 * (start_epoch - 1))
    neg_gen = _generator(c.seed + 1 + 1_000_003 * (start_epoch - 1), dev)
    band, ranks = None, None
    last_epoch = start_epoch + c.epochs - 1
    if c.max_hard_negatives > 0 and (last_epoch > 1 or not c.curriculum):
        band = hard_negative_band(N, band=c.hard_band)
        if ranking is not None:
            if ranking.ids.shape[0] != N or ranking.ids.shape[1] < band[1]:
                raise ValueError(f"ranking must hold a row for each of the {N} items and at least {band[1]} ranks, "
                                 f"got {tuple(ranking.ids.shape)}")
            if not torch.equal(ranking.queries.cpu(), torch.arange(N)):
                raise ValueError("ranking must rank items 0 … N−1 in order (row q for query q): "
                                 "ppr_rank(graph, torch.arange(graph.num_items), k=...)")
            ranks = _PrecomputedRanks(ranking.to(dev))
        elif graph is None:
            raise ValueError("hard negatives need a PPR ranking: pass graph= (the train graph) or ranking=")
        else:
            method = c.ppr_method if c.ppr_method != "auto" else ("exact" if N <= 50_000 else "monte_carlo")
            ranks = _LazyRanks(graph, band[1], method, seed=c.seed + 2, device=dev)
        known = pairs.to(dev)
    opt = optimizer or torch.optim.Adam(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
    history = TrainHistory()
    if val is not None and start_epoch == 1:
        history.initial_hit_rate = evaluate_hit_rate(model, features, neighborhood_fn, val, k=c.eval_k)
    step = 0
    for epoch in range(start_epoch, last_epoch + 1):
        t0 = time.perf_counter()
        h = 0 if band is None else curriculum(epoch, c.max_hard_negatives) if c.curriculum else c.max_hard_negatives
        order = torch.randperm(pairs.shape[0], generator=gen)
        sums = {"loss": 0.0, "active": 0.0, "pos_score": 0.0, "neg_score": 0.0, "hard_score": 0.0,
                "active_hard": 0.0}
        counts = dict.fromkeys(sums, 0)
        n_steps = 0
        model.train()
        for lo in range(0, order.numel(), c.batch_size):
            if c.max_steps_per_epoch is not None and n_steps >= c.max_steps_per_epoch:
                break
            batch = pairs.index_select(0, order[lo:lo + c.batch_size]).to(dev)
            q, pos = batch[:, 0], batch[:, 1]
            B = q.numel()
            neg = shared_negatives(N, c.num_shared_negatives, device=dev, generator=neg_gen)
            seeds = [q, pos, neg]
            hard = None
            if h > 0:
                hard = hard_negatives(ranks(q), h, band, positives=known, generator=neg_gen)
                seeds.append(hard.ids.clamp_min(0).reshape(-1))  # padding embeds item 0; the mask drops it
            blocks = sample_blocks(torch.cat(seeds), model.config.num_layers, neighborhood_fn).to(dev)
            z = model(blocks, features)
            z_q, z_pos, z_neg = z[:B], z[B:2 * B], z[2 * B:2 * B + neg.numel()]
            z_hard = z[2 * B + neg.numel():].view(B, h, -1) if hard is not None else None
            smask = shared_negative_mask(neg, q, pos)
            if c.loss == "margin":
                res = max_margin_loss(z_q, z_pos, z_neg, z_hard, c.margin, shared_mask=smask,
                                      hard_mask=hard.mask if hard is not None else None)
            else:
                res = cross_entropy_loss(z_q, z_pos, z_neg, z_hard, c.temperature, shared_mask=smask,
                                         hard_mask=hard.mask if hard is not None else None)
            loss_value = float(res.loss.detach())
            if not math.isfinite(loss_value):  # checked before the step: the parameters stay as they were
                raise FloatingPointError(f"the loss became {loss_value} at epoch {epoch}, step {n_steps + 1}; the "
                                         f"model was not updated with it: lower the learning rate (now {c.lr}) "
                                         "or check the features")
            opt.zero_grad(set_to_none=True)
            res.loss.backward()
            opt.step()
            history.step_loss.append(loss_value)
            history.step_active.append(res.active)
            for key in sums:
                v = loss_value if key == "loss" else getattr(res, key)
                if v == v:  # a NaN statistic (no hard negative left in this step) is not averaged in
                    sums[key] += v
                    counts[key] += 1
            n_steps += 1
            step += 1
            if on_step is not None:
                on_step(step, res)
        val_hr = evaluate_hit_rate(model, features, neighborhood_fn, val, k=c.eval_k) if val is not None \
            else float("nan")
        mean = {k: v / counts[k] if counts[k] else float("nan") for k, v in sums.items()}
        history.epochs.append(EpochLog(epoch=epoch, hard_per_query=h, steps=n_steps, loss=mean["loss"],
                                       active=mean["active"], pos_score=mean["pos_score"],
                                       neg_score=mean["neg_score"],
                                       hard_score=mean["hard_score"] if h > 0 else float("nan"),
                                       active_hard=mean["active_hard"] if h > 0 else float("nan"),
                                       val_hit_rate=val_hr, seconds=time.perf_counter() - t0))
    return history
