"""§3.3: training PinSage at scale — producer–consumer minibatches, the loop, checkpoints, DDP.

**One minibatch** of the global batch ``b`` in epoch ``e`` is built by :class:`MinibatchProducer`:
the pairs ``order(e)[b·B : (b+1)·B]`` (this rank's share of them under DDP), 500 shared negatives,
each query's hard negatives from its PPR rank band (as many as the curriculum says for epoch e),
Algorithm 2's blocks for every item the loss needs, and the rows of the feature matrix those blocks
read. Every random choice in it is seeded from ``(seed, e, b)`` alone, so the same minibatch comes
out whichever process builds it and whenever: in the training process, in a ``DataLoader`` worker,
or after a resume.

**Producer–consumer.** With ``num_workers > 0`` CPU worker processes build the next minibatches
(prefetched, in pinned memory when the model is on a GPU, copied without blocking) while the model
computes the current one; with ``sampling="device"`` the walks run on the model's GPU itself. The
trainer times how long each step waited for its data (:attr:`EpochLog.data_wait`, and
:attr:`TrainHistory.timeline` step by step).

**The loop** (:class:`Trainer`): Adam, or SGD with momentum as in the paper; a learning rate that
rises linearly through the first epoch and then decays exponentially (:class:`WarmupDecay`); the
curriculum of hard negatives; gradient clipping; bf16 autocast on CUDA; after each epoch the
validation hit-rate@K and scaled MRR on a sample of held-out pairs, with early stopping on them;
checkpoints written atomically every N steps and at each epoch's end, from which a killed run
resumes exactly (bit for bit on a CPU; on CUDA to float rounding, as the backward pass's
scatter-adds use atomics); metrics as JSON lines next to them.

**DDP.** Under ``torchrun`` (a process group initialised, see :mod:`pinsage_edu.distributed`) the
model is wrapped in ``DistributedDataParallel``: each rank computes the loss of its share of every
global minibatch, gradients are averaged across ranks, and every rank takes the same optimiser step
— the paper's synchronous multi-GPU training.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from torch.utils.data import DataLoader, Dataset

from .checkpoint import (CheckpointError, json_safe, load_checkpoint, rng_state, save_checkpoint, set_rng_state,
                         write_json_atomic)
from .distributed import World, parameter_checksum, world
from .evaluate import hit_rate, mrr_scale, scaled_mrr, target_ranks
from .graph import BipartiteGraph
from .inference import embed_all, embed_minibatches
from .knn import exact_top_k
from .loss import LossResult, cross_entropy_loss, max_margin_loss
from .minibatch import Blocks, NeighborhoodFn, NeighborhoodTable, sample_blocks
from .model import PinSage
from .negatives import (curriculum, hard_negative_band, hard_negatives, pair_keys, shared_negative_mask,
                        shared_negatives)
from .walks import PPRRanking, _generator, ppr_rank

__all__ = ["TrainConfig", "WarmupDecay", "Minibatch", "MinibatchProducer", "minibatches", "EpochLog",
           "TrainHistory", "Trainer", "train_pinsage", "evaluate_hit_rate", "evaluate_pairs", "RunDirError",
           "read_run_file"]


class RunDirError(ValueError):
    """An output folder that holds another run, or no run to resume."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :class:`Trainer` / :func:`train_pinsage`.

    Optimisation
        * ``optimizer``: ``"adam"`` or ``"sgd"`` (with ``momentum``; the paper's choice).
        * ``lr``: the peak learning rate. ``warmup_epochs``: it rises linearly from lr / W to lr over
          the first W = ``warmup_epochs`` × steps-per-epoch steps (0: no warm-up); after that it decays
          by ``lr_decay`` per epoch, smoothly step by step (1.0: constant). See :class:`WarmupDecay`.
        * ``grad_clip``: clip the gradients' global norm to this (None: no clipping).
        * ``amp``: bf16 autocast for the model's forward pass on CUDA (ignored on CPU).
    Loss and negatives
        * ``loss``: ``"margin"`` (the paper, with ``margin`` Δ) or ``"xent"`` (the ablation, with
          ``temperature``); ``num_shared_negatives`` per minibatch.
        * ``max_hard_negatives``: the curriculum's cap (6 in the paper); 0 trains with shared negatives only.
        * ``curriculum``: True adds hard negatives epoch by epoch (none in epoch 1, then n − 1, capped);
          False uses ``max_hard_negatives`` per query from the first epoch.
        * ``hard_band``: PPR ranks ``(lo, hi)`` of the hard negatives; None scales the paper's
          2000–5000 to the catalogue (:func:`~pinsage_edu.negatives.hard_negative_band`).
        * ``ppr_method``: ``"exact"``, ``"monte_carlo"`` or ``"auto"`` (exact up to 50,000 items).
    Loading
        * ``num_workers``: CPU worker processes building minibatches ahead (0: in this process).
        * ``prefetch_factor``: minibatches each worker keeps ready.
        * ``sampling``: ``"cpu"`` (neighbourhoods and features read on the CPU, copied to the model's
          device) or ``"device"`` (everything on the model's device: the walks run on the GPU).
    Epochs, evaluation, checkpoints
        * ``max_steps_per_epoch``: stop an epoch early (for quick demonstrations); None = every pair.
        * ``eval_k`` / ``eval_pairs``: hit-rate@K and scaled MRR on at most this many validation pairs
          (None = all); ``eval_mrr_scale``: the MRR's rank divisor (None: :func:`~pinsage_edu.evaluate.mrr_scale`).
        * ``early_stopping``: stop after this many epochs without a better validation
          ``early_stopping_metric`` (``"hit_rate"`` or ``"mrr"``); None: never.
        * ``checkpoint_every``: also checkpoint every this many steps (None: at epoch ends only; needs an
          output folder).
    """

    epochs: int = 5
    batch_size: int = 512
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    warmup_epochs: float = 1.0
    lr_decay: float = 0.9
    grad_clip: float | None = 1.0
    amp: bool = True
    margin: float = 0.1
    loss: str = "margin"
    temperature: float = 0.1
    num_shared_negatives: int = 500
    max_hard_negatives: int = 6
    curriculum: bool = True
    hard_band: tuple[int, int] | None = None
    ppr_method: str = "auto"
    num_workers: int = 0
    prefetch_factor: int = 2
    sampling: str = "cpu"
    max_steps_per_epoch: int | None = None
    eval_k: int = 10
    eval_pairs: int | None = None
    eval_mrr_scale: int | None = None
    early_stopping: int | None = None
    early_stopping_metric: str = "hit_rate"
    checkpoint_every: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        optional = ("max_steps_per_epoch", "eval_pairs", "eval_mrr_scale", "early_stopping", "checkpoint_every")
        for name in ("epochs", "batch_size", "num_shared_negatives", "eval_k", "prefetch_factor") + optional:
            v = getattr(self, name)
            if v is None and name in optional:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {v!r}")
        for name in ("max_hard_negatives", "num_workers", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"TrainConfig.{name} must be an integer >= 0, got {v!r}")
        choices = {"optimizer": ("adam", "sgd"), "loss": ("margin", "xent"), "sampling": ("cpu", "device"),
                   "ppr_method": ("auto", "exact", "monte_carlo"), "early_stopping_metric": ("hit_rate", "mrr")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"TrainConfig.{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("lr", "temperature"):
            if not getattr(self, name) > 0:
                raise ValueError(f"TrainConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("margin", "weight_decay", "momentum", "warmup_epochs"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"TrainConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 < self.lr_decay <= 1:
            raise ValueError(f"TrainConfig.lr_decay must be in (0, 1], got {self.lr_decay!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"TrainConfig.grad_clip must be > 0 or None, got {self.grad_clip!r}")
        if self.sampling == "device" and self.num_workers:
            raise ValueError("TrainConfig.num_workers must be 0 with TrainConfig.sampling='device' (minibatches "
                             "are then drawn on the model's device, in the training process)")
        if self.hard_band is not None:
            object.__setattr__(self, "hard_band", tuple(int(v) for v in self.hard_band))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hard_band"] = list(self.hard_band) if self.hard_band is not None else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {unknown}")
        return cls(**d)


class WarmupDecay:
    """The learning-rate factor of step s (0-based): linear warm-up, then exponential decay.

    ``factor(s) = (s + 1) / W`` for s < W = round(warmup_epochs × steps_per_epoch), then
    ``lr_decay ** ((s − W) / steps_per_epoch)``: one factor of ``lr_decay`` per epoch after the
    warm-up. Used as ``LambdaLR(optimizer, WarmupDecay(...))``; ``offset`` shifts the steps (a run
    continued from epoch e starts at step (e − 1) × steps_per_epoch).
    """

    def __init__(self, steps_per_epoch: int, warmup_epochs: float = 1.0, lr_decay: float = 0.9, offset: int = 0):
        if steps_per_epoch <= 0:
            raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch!r}")
        self.steps_per_epoch = int(steps_per_epoch)
        self.warmup_steps = int(round(warmup_epochs * steps_per_epoch))
        self.lr_decay = float(lr_decay)
        self.offset = int(offset)

    def __call__(self, step: int) -> float:
        s = step + self.offset
        if s < self.warmup_steps:
            return (s + 1) / self.warmup_steps
        return self.lr_decay ** ((s - self.warmup_steps) / self.steps_per_epoch)


def _mix(*values: int) -> int:
    """A 63-bit seed from integers, the same in every process (unlike ``hash``)."""
    h = hashlib.blake2b(",".join(str(int(v)) for v in values).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") >> 1


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

    def __call__(self, q: torch.Tensor, generator: torch.Generator | None = None) -> PPRRanking:
        r = self.ranking
        q = q.to(r.ids.device)
        return PPRRanking(q, r.ids.index_select(0, q), r.scores.index_select(0, q), r.mask.index_select(0, q))


class _LazyRanks:
    """PPR rankings computed for a minibatch's queries when first needed.

    Exact rankings (deterministic) are kept while a table of every item's top ranks fits in
    ``max_cache_bytes``, so each query is ranked once per process. Monte-Carlo rankings are drawn
    afresh for each minibatch from the minibatch's own generator, so they do not depend on which
    process met the query first.
    """

    def __init__(self, graph: BipartiteGraph, k: int, method: str, *, device: torch.device,
                 max_cache_bytes: int = 1 << 29):
        self.graph, self.k, self.method, self.device = graph, k, method, device
        n = graph.num_items
        self.cached = method == "exact" and n * k * 13 <= max_cache_bytes  # int64 id + float32 + bool
        if self.cached:
            self.ids = torch.full((n, k), -1, dtype=torch.long, device=device)
            self.scores = torch.zeros((n, k), dtype=torch.float32, device=device)
            self.mask = torch.zeros((n, k), dtype=torch.bool, device=device)
            self.done = torch.zeros(n, dtype=torch.bool, device=device)

    def _rank(self, queries: torch.Tensor, generator: torch.Generator | None) -> PPRRanking:
        return ppr_rank(self.graph, queries.to(self.graph.device), k=self.k, method=self.method,
                        generator=generator).to(self.device)

    def __call__(self, q: torch.Tensor, generator: torch.Generator | None = None) -> PPRRanking:
        q = q.to(self.device)
        if not self.cached:
            u, inv = torch.unique(q, return_inverse=True)
            r = self._rank(u, generator)
            return PPRRanking(q, r.ids[inv], r.scores[inv], r.mask[inv])
        u = torch.unique(q)
        need = u[~self.done[u]]
        if need.numel():
            r = self._rank(need, generator)
            self.ids[need], self.scores[need], self.mask[need] = r.ids, r.scores, r.mask
            self.done[need] = True
        return PPRRanking(q, self.ids[q], self.scores[q], self.mask[q])


@dataclass
class Minibatch:
    """Everything one training step reads, built ahead by the producer.

    ``queries``/``positives`` [B] (this rank's share of global batch ``index`` of ``epoch``),
    ``negatives`` [S] shared by the minibatch with ``shared_mask`` [B, S] (False where a negative is
    the query or its positive), ``hard_ids``/``hard_mask`` [B, h] (None when the curriculum gives no
    hard negatives), ``blocks`` for the seeds ``queries ‖ positives ‖ negatives ‖ hard_ids`` and
    ``inputs`` = the feature rows of ``blocks.input_ids``. ``share`` = this rank's pairs × ranks /
    the global minibatch's pairs: the rank's mean loss is scaled by it, so that DDP's average over
    ranks is the mean over the whole minibatch even when it does not split evenly (1.0 in one process).
    """

    epoch: int
    index: int
    queries: torch.Tensor
    positives: torch.Tensor
    negatives: torch.Tensor
    shared_mask: torch.Tensor
    hard_ids: torch.Tensor | None
    hard_mask: torch.Tensor | None
    blocks: Blocks
    inputs: torch.Tensor
    share: float = 1.0

    _TENSORS = ("queries", "positives", "negatives", "shared_mask", "hard_ids", "hard_mask", "inputs")

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor], blocks: Blocks) -> "Minibatch":
        moved = {k: (fn(getattr(self, k)) if getattr(self, k) is not None else None) for k in self._TENSORS}
        return replace(self, blocks=blocks, **moved)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Minibatch":
        return self._map(lambda t: t.to(device, non_blocking=non_blocking),
                         self.blocks.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Minibatch":
        """Page-locked copies, so the copy to the GPU can overlap with compute (DataLoader calls this)."""
        return self._map(lambda t: t.pin_memory(), self.blocks.pin_memory())

    @property
    def num_hard(self) -> int:
        return 0 if self.hard_ids is None else self.hard_ids.shape[1]

    @property
    def seeds(self) -> torch.Tensor:
        return self.blocks.seeds


class MinibatchProducer:
    """Builds minibatch ``index`` of ``epoch`` — the producer of §3.3's producer–consumer pipeline.

    Holds the train pairs, the feature matrix, the neighbourhood function and (for hard negatives)
    the PPR ranker, all on ``device`` (the CPU for worker processes; the GPU for
    ``sampling="device"``). Calling ``producer(epoch, index)`` is deterministic: the pair order of an
    epoch comes from ``(seed, epoch)`` and every draw of a minibatch from ``(seed, epoch, index)``
    (plus the rank for what is drawn per query). Under DDP, ``world`` says which share of each
    global minibatch this process takes: a contiguous slice, ``batch_size // world.size`` pairs or one
    more.
    """

    def __init__(self, pairs: torch.Tensor, features: torch.Tensor, neighborhood_fn: NeighborhoodFn, *,
                 num_layers: int, config: TrainConfig, ranks: Callable[..., PPRRanking] | None = None,
                 band: tuple[int, int] | None = None, world: World = World(), device: torch.device | str = "cpu"):
        self.pairs = pairs.cpu()
        self.features = features
        self.neighborhood_fn = neighborhood_fn
        self.num_layers = num_layers
        self.config = config
        self.ranks, self.band = ranks, band
        self.world = world
        self.device = torch.device(device)
        self.num_items = features.shape[0]
        # the train pairs' sorted keys, made once: hard negatives must not be known positives
        self.known = pair_keys(self.pairs).to(self.device) if ranks is not None else None
        self._order: tuple[int, torch.Tensor] | None = None
        if config.batch_size < world.size:
            raise ValueError(f"batch size {config.batch_size} is below the number of ranks ({world.size}): every "
                             "rank needs at least one pair of each minibatch")

    @property
    def steps_per_epoch(self) -> int:
        """Global minibatches per epoch. Under DDP a last minibatch with fewer pairs than ranks is
        dropped (some rank would get none); a single process keeps every pair."""
        P, B = self.pairs.shape[0], self.config.batch_size
        n = P // B + (1 if P % B >= self.world.size else 0)
        cap = self.config.max_steps_per_epoch
        return n if cap is None else min(n, cap)

    def hard_per_query(self, epoch: int) -> int:
        c = self.config
        if self.ranks is None or c.max_hard_negatives == 0:
            return 0
        return curriculum(epoch, c.max_hard_negatives) if c.curriculum else c.max_hard_negatives

    def order(self, epoch: int) -> torch.Tensor:
        """The epoch's permutation of the train pairs (CPU), seeded by ``(seed, epoch)``."""
        if self._order is None or self._order[0] != epoch:
            g = torch.Generator().manual_seed(_mix(self.config.seed, epoch))
            self._order = (epoch, torch.randperm(self.pairs.shape[0], generator=g))
        return self._order[1]

    def __call__(self, epoch: int, index: int) -> Minibatch:
        c, dev, w = self.config, self.device, self.world
        if not 0 <= index < self.steps_per_epoch:
            raise IndexError(f"minibatch {index} of an epoch with {self.steps_per_epoch}")
        glob = self.order(epoch)[index * c.batch_size:(index + 1) * c.batch_size]
        n = glob.numel()
        share = glob[w.rank * n // w.size:(w.rank + 1) * n // w.size]
        batch = self.pairs.index_select(0, share).to(dev)
        q, pos = batch[:, 0], batch[:, 1]
        neg = shared_negatives(self.num_items, c.num_shared_negatives, device=dev,
                               generator=_generator(_mix(c.seed, epoch, index, 1), dev))
        seeds = [q, pos, neg]
        h = self.hard_per_query(epoch)
        hard_ids = hard_mask = None
        if h > 0:
            gen_rank = _generator(_mix(c.seed, epoch, index, 3, w.rank), self.ranks_device)
            hard = hard_negatives(self.ranks(q, generator=gen_rank), h, self.band, positive_keys=self.known,
                                  generator=_generator(_mix(c.seed, epoch, index, 2, w.rank), dev))
            hard_ids, hard_mask = hard.ids.to(dev), hard.mask.to(dev)
            seeds.append(hard_ids.clamp_min(0).reshape(-1))  # padding embeds item 0; the mask drops it
        if hasattr(self.neighborhood_fn, "reseed"):  # fresh walks: seeded by the minibatch, not by history
            self.neighborhood_fn.reseed(_mix(c.seed, epoch, index, 4, w.rank))
        blocks = sample_blocks(torch.cat(seeds), self.num_layers, self.neighborhood_fn).to(dev)
        inputs = self.features.index_select(0, blocks.input_ids.to(self.features.device)).to(dev)
        return Minibatch(epoch, index, q, pos, neg, shared_negative_mask(neg, q, pos), hard_ids, hard_mask,
                         blocks, inputs, share=share.numel() * w.size / n)

    @property
    def ranks_device(self) -> torch.device:
        r = self.ranks
        if isinstance(r, _LazyRanks):
            return r.graph.device
        if isinstance(r, _PrecomputedRanks):
            return r.ranking.ids.device
        return self.device


class _RunBatches(Dataset):
    """The minibatches at ``positions`` [(epoch, index), …], as a map-style dataset for ``DataLoader``."""

    def __init__(self, producer: MinibatchProducer, positions: list[tuple[int, int]]):
        self.producer, self.positions = producer, positions

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> Minibatch:
        return self.producer(*self.positions[i])


def _as_is(batch: Minibatch) -> Minibatch:
    return batch


def minibatches(producer: MinibatchProducer, epoch: int, start: int = 0, *, last_epoch: int | None = None,
                num_workers: int = 0, prefetch_factor: int = 2, pin_memory: bool = False) -> Iterator[Minibatch]:
    """Minibatches ``start …`` of ``epoch``, then every minibatch of the epochs up to ``last_epoch``
    (default: ``epoch`` alone), in order.

    Built here one at a time (``num_workers=0``), or by ``num_workers`` worker processes that each
    keep ``prefetch_factor`` ready (in pinned memory when asked). One iterator serves the whole run:
    the workers live across epochs (keeping their PPR caches) and build the next epoch's first
    minibatches while the trainer validates.
    """
    last = epoch if last_epoch is None else last_epoch
    spe = producer.steps_per_epoch
    positions = [(e, i) for e in range(epoch, last + 1) for i in range(start if e == epoch else 0, spe)]
    if num_workers == 0:
        return (producer(e, i) for e, i in positions)
    # fork (no pickling of the graph) where it is safe; macOS and Windows keep their default, spawn
    ctx = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    loader = DataLoader(_RunBatches(producer, positions), batch_size=None, shuffle=False,
                        num_workers=num_workers, prefetch_factor=prefetch_factor, pin_memory=pin_memory,
                        collate_fn=_as_is, multiprocessing_context=ctx,
                        # the workers' base seed is drawn from this generator, not from torch's global one
                        generator=torch.Generator().manual_seed(_mix(producer.config.seed, epoch, start, 5)))
    return iter(loader)


@dataclass
class EpochLog:
    """What one epoch did: the mean loss statistics of its steps, the validation figures after it, the
    learning rate of its last step, and where its time went (``data_wait``: seconds the compute waited for
    minibatches; ``compute``: seconds of forward, backward and step; ``seconds``: the whole epoch
    including validation). Under DDP ``loss`` is averaged over the ranks; the other statistics are
    rank 0's share of each minibatch."""

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
    val_mrr: float = float("nan")
    lr: float = float("nan")
    data_wait: float = 0.0
    compute: float = 0.0


EPOCH_TABLE_LEGEND = (
    "(epoch table columns: hard/q = hard negatives per query, by the curriculum · active = share of the shared\n"
    " negatives still inside the margin, z_q·z_n + Δ > z_q·z_i (active hard = of the hard negatives) · pos·q,\n"
    " neg·q, hard·q = mean score z_q·z of the positives, shared negatives, hard negatives · val hit@K, val MRR =\n"
    " validation hit-rate@K and scaled MRR · lr = learning rate of the epoch's last step · wait s / compute s =\n"
    " seconds waiting for minibatches / computing · — = not measured, e.g. no hard negatives yet)")


def _cell(value: float, width: int, spec: str) -> str:
    """``value`` formatted with ``spec`` right-aligned in ``width`` columns; ``—`` for NaN (not measured)."""
    return f"{'—' if math.isnan(value) else format(value, spec):>{width}}"


@dataclass
class TrainHistory:
    """Per-step losses (``step_loss``, ``step_active``, ``step_lr`` = the rate each step ran with), one :class:`EpochLog` per epoch and
    the step timeline ``(epoch, step, t_request, t_ready, t_done)`` in seconds since the run started
    (the compute asked for the minibatch at ``t_request``, had it on its device at ``t_ready``, and
    finished the step at ``t_done``).

    ``initial_hit_rate``/``initial_mrr``: the untrained model's validation figures (NaN without
    val pairs); ``stopped_early``: the epoch after which early stopping ended the run, else None.
    """

    step_loss: list[float] = field(default_factory=list)
    step_active: list[float] = field(default_factory=list)
    step_lr: list[float] = field(default_factory=list)
    epochs: list[EpochLog] = field(default_factory=list)
    timeline: list[tuple[int, int, float, float, float]] = field(default_factory=list)
    initial_hit_rate: float = float("nan")
    initial_mrr: float = float("nan")
    stopped_early: int | None = None

    @property
    def val_hit_rates(self) -> list[float]:
        return [e.val_hit_rate for e in self.epochs]

    @property
    def val_mrrs(self) -> list[float]:
        return [e.val_mrr for e in self.epochs]

    def table(self, *, legend: bool = False) -> str:
        """The epochs as a small text table (epoch 0 = the untrained model, when measured). A figure
        that was not measured (the hard-negative columns before the curriculum adds hard negatives,
        validation without val pairs) shows as ``—``, not ``nan``. ``legend``: add a few lines saying
        what each column is."""
        head = ("epoch  hard/q  steps    loss  active  pos·q  neg·q  hard·q  active hard  val hit@K  val MRR"
                "        lr  wait s  compute s")
        rows = [f"{e.epoch:>5}  {e.hard_per_query:>6}  {e.steps:>5}  {_cell(e.loss, 6, '.4f')}  "
                f"{_cell(e.active, 6, '.3f')}  {_cell(e.pos_score, 5, '.3f')}  {_cell(e.neg_score, 5, '.3f')}  "
                f"{_cell(e.hard_score, 6, '.3f')}  {_cell(e.active_hard, 11, '.3f')}  "
                f"{_cell(e.val_hit_rate, 9, '.4f')}  {_cell(e.val_mrr, 7, '.4f')}  {_cell(e.lr, 8, '.2e')}  "
                f"{e.data_wait:6.1f}  {e.compute:9.1f}"
                for e in self.epochs]
        if self.initial_hit_rate == self.initial_hit_rate:
            rows.insert(0, f"{0:>5}  {'(untrained)':>76}  {self.initial_hit_rate:9.4f}  "
                           f"{_cell(self.initial_mrr, 7, '.4f')}")
        if self.stopped_early is not None:
            rows.append(f"(stopped early after epoch {self.stopped_early})")
        return "\n".join([head] + rows + ([EPOCH_TABLE_LEGEND] if legend else []))

    def to_dict(self) -> dict[str, Any]:
        return {"step_loss": self.step_loss, "step_active": self.step_active, "step_lr": self.step_lr,
                "epochs": [asdict(e) for e in self.epochs], "timeline": [list(t) for t in self.timeline],
                "initial_hit_rate": self.initial_hit_rate, "initial_mrr": self.initial_mrr,
                "stopped_early": self.stopped_early}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainHistory":
        return cls(step_loss=list(d["step_loss"]), step_active=list(d["step_active"]),
                   step_lr=list(d.get("step_lr", [])), epochs=[EpochLog(**e) for e in d["epochs"]],
                   timeline=[tuple(t) for t in d.get("timeline", [])],
                   initial_hit_rate=d["initial_hit_rate"], initial_mrr=d.get("initial_mrr", float("nan")),
                   stopped_early=d.get("stopped_early"))


def evaluate_pairs(model: PinSage, features: torch.Tensor, neighborhood_fn: NeighborhoodFn, pairs: Any, *,
                   k: int = 10, scale: int | None = None, batch_size: int = 1024) -> tuple[float, float]:
    """(hit-rate@k, scaled MRR) of the model on ``pairs`` (q, i): i among q's k nearest items by dot
    product, and the mean of 1 / ⌈rank(i) / scale⌉ (``scale`` None: :func:`~pinsage_edu.evaluate.mrr_scale`).

    With a :class:`~pinsage_edu.minibatch.NeighborhoodTable` every item is embedded layer by layer
    (:func:`~pinsage_edu.inference.embed_all`, in this process alone); with fresh walks, by minibatches.
    """
    p = _check_pairs("pairs", pairs, features.shape[0])
    if isinstance(neighborhood_fn, NeighborhoodTable):
        z = embed_all(model, neighborhood_fn, features, world=World())
    else:
        z = embed_minibatches(model, features, neighborhood_fn, batch_size=batch_size)
    q, t = p[:, 0].to(z.device), p[:, 1].to(z.device)
    ids, _ = exact_top_k(z, q, k)
    ranks = target_ranks(z, q, t)
    return hit_rate(ids, t), scaled_mrr(ranks.cpu(), scale or mrr_scale(features.shape[0]))


def evaluate_hit_rate(model: PinSage, features: torch.Tensor, neighborhood_fn: NeighborhoodFn, pairs: Any, *,
                      k: int = 10, batch_size: int = 1024) -> float:
    """Hit-rate@k of the model on ``pairs`` (q, i): is i among q's k nearest items by dot product?"""
    return evaluate_pairs(model, features, neighborhood_fn, pairs, k=k, batch_size=batch_size)[0]


_json_safe = json_safe  # NaN → None (strict JSON); shared with checkpoint.write_json_atomic


class _Metrics:
    """``metrics.jsonl``: one JSON object per line, flushed to disk with every checkpoint."""

    def __init__(self, path: Path):
        self.path = path
        self.f = open(path, "a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        self.f.write(json.dumps(_json_safe(record)) + "\n")

    def sync(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()

    @staticmethod
    def truncate_after(path: Path, step: int, epochs_done: int) -> None:
        """Drop records written after the checkpoint a run resumes from (they will be written again)."""
        if not path.exists():
            return
        keep = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by the kill
                continue
            if r.get("type") == "step" and r.get("step", 0) > step:
                continue
            if r.get("type") == "epoch" and r.get("epoch", 0) > epochs_done:
                continue
            keep.append(line)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(k + "\n" for k in keep), encoding="utf-8")
        os.replace(tmp, path)


RUN_FILE = "run.json"
LAST = "last.pt"
BEST = "best.pt"
METRICS = "metrics.jsonl"

# settings that may change when a run is resumed: they do not change what the run computes
_RESUMABLE_CHANGES = {"epochs", "num_workers", "prefetch_factor", "checkpoint_every", "early_stopping"}
# what run.json holds (Trainer.run_record)
RUN_KEYS = ("model", "train", "run", "world_size")


def read_run_file(path: str | os.PathLike, required: tuple[str, ...] = RUN_KEYS) -> dict[str, Any]:
    """The record in a run folder's ``run.json`` (see :meth:`Trainer.run_record`), checked: a file that
    cannot be read, is not JSON, is not an object or lacks one of the ``required`` parts (``model``,
    ``train`` and ``run`` objects, ``world_size``) is a :class:`RunDirError` naming it. Used by every
    command that reads a run (``train --resume``, ``embed``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunDirError(f"{path.parent} holds no run (no {path.name})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path} cannot be read: {exc}") from None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path} is not valid JSON ({exc}): damaged, or not a pinsage_edu run file") from None
    if not isinstance(record, dict):
        raise RunDirError(f"{path} holds a JSON {type(record).__name__}, not a run record (an object with "
                          f"{', '.join(RUN_KEYS)})")
    missing = [k for k in required if k not in record]
    if missing:
        raise RunDirError(f"{path} lacks {', '.join(repr(k) for k in missing)}: not a run record written by "
                          "pinsage_edu (or damaged)")
    wrong = [k for k in ("model", "train", "run") if k in required and not isinstance(record[k], dict)]
    if wrong:
        raise RunDirError(f"{path}: {', '.join(repr(k) for k in wrong)} must be a JSON object, found "
                          f"{', '.join(type(record[k]).__name__ for k in wrong)}")
    return record


_ABSENT = object()


def _differences(old: Any, new: Any, where: str, skip: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """``"where.key: OLD there, NEW now"`` for each setting that differs between two records, descending
    into objects so that only the differing keys are listed (never a whole config); keys in ``skip``
    (at the top of ``old`` / ``new``) are ignored."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if key not in skip:
                out += _differences(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{where}.{key}")
        return out
    if old == new:
        return []
    show = lambda v: "(absent)" if v is _ABSENT else repr(v)  # noqa: E731
    return [f"{where}: {show(old)} there, {show(new)} now"]


def _on_device(fn: Any, device: torch.device, what: str) -> Any:
    """``fn`` moved to ``device`` when it lives elsewhere and can move (tables, graphs); else an error."""
    dev = getattr(fn, "device", None)
    if dev is None or torch.device(dev) == device or (torch.device(dev).type == device.type == "cpu"):
        return fn
    if hasattr(fn, "to"):
        return fn.to(device)
    raise ValueError(f"the {what} lives on {dev} but minibatches are built on {device}: build it on {device} "
                     "(or use a NeighborhoodTable, which can move)")


class Trainer:
    """PinSage's training run: the producer, the loop, checkpoints, metrics and DDP (see the module).

    * ``model`` on its device; ``features`` [num_items, in_dim] (any device: the producer reads a copy
      where minibatches are built); ``train_pairs`` / ``val_pairs`` [P, 2] related-item pairs.
    * ``neighborhood_fn``: a :class:`~pinsage_edu.minibatch.NeighborhoodTable` (moved to where
      minibatches are built) or :class:`~pinsage_edu.minibatch.NeighborhoodSampler` (fresh walks,
      reseeded per minibatch; it must live there already).
    * Hard negatives need a PPR ranking: ``ranking`` for every item, or the train ``graph`` (queries
      are ranked when first met).
    * ``out_dir``: where ``run.json``, ``last.pt`` (every ``checkpoint_every`` steps and each epoch's
      end), ``best.pt`` (the best validation epoch) and ``metrics.jsonl`` go; ``run_info`` (e.g. the
      dataset and split) is stored in ``run.json`` and must match on resume. Without it nothing is written.
      Under DDP every rank passes the same folder (rank 0 writes it; a resume reads it on every rank).
    * ``optimizer`` / ``start_epoch``: continue an earlier in-memory run one call at a time (epochs
      ``start_epoch …``, that epoch's curriculum and draws, the learning-rate schedule at that point).
    * ``on_step(step, result)`` after every optimiser step; ``progress``: tqdm bars (terminal or Jupyter).
    """

    def __init__(self, model: PinSage, features: torch.Tensor, train_pairs: Any, neighborhood_fn: NeighborhoodFn, *,
                 config: TrainConfig = TrainConfig(), graph: BipartiteGraph | None = None, val_pairs: Any = None,
                 ranking: PPRRanking | None = None, out_dir: str | os.PathLike | None = None,
                 run_info: dict[str, Any] | None = None, on_step: Callable[[int, LossResult], None] | None = None,
                 optimizer: torch.optim.Optimizer | None = None, start_epoch: int = 1, progress: bool = False):
        c = self.config = config
        if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or start_epoch < 1:
            raise ValueError(f"start_epoch must be an integer >= 1, got {start_epoch!r}")
        self.world = world()
        self.model, dev = model, model.device
        N = features.shape[0]
        pairs = _check_pairs("train_pairs", train_pairs, N).cpu()
        if pairs.shape[0] == 0:
            raise ValueError("train_pairs is empty: nothing to train on")
        val = _check_pairs("val_pairs", val_pairs, N).cpu() if val_pairs is not None else None
        if val is not None and c.eval_pairs is not None and val.shape[0] > c.eval_pairs:
            pick = torch.randperm(val.shape[0], generator=torch.Generator().manual_seed(c.seed))[: c.eval_pairs]
            val = val[torch.sort(pick).values]
        if c.early_stopping is not None and val is None:
            raise ValueError("early_stopping needs val_pairs to watch")
        self.val = val
        self.features = features.to(dev)  # for validation
        self.eval_fn = neighborhood_fn
        pdev = dev if c.sampling == "device" else torch.device("cpu")
        nfn = _on_device(neighborhood_fn, pdev, "neighbourhood function")
        band, ranks = None, None
        last_epoch = start_epoch + c.epochs - 1
        if c.max_hard_negatives > 0 and (last_epoch > 1 or not c.curriculum):
            band = hard_negative_band(N, band=c.hard_band)
            if ranking is not None:
                if ranking.ids.shape[0] != N or ranking.ids.shape[1] < band[1]:
                    raise ValueError(f"ranking must hold a row for each of the {N} items and at least {band[1]} "
                                     f"ranks, got {tuple(ranking.ids.shape)}")
                if not torch.equal(ranking.queries.cpu(), torch.arange(N)):
                    raise ValueError("ranking must rank items 0 … N−1 in order (row q for query q): "
                                     "ppr_rank(graph, torch.arange(graph.num_items), k=...)")
                ranks = _PrecomputedRanks(ranking.to(pdev))
            elif graph is None:
                raise ValueError("hard negatives need a PPR ranking: pass graph= (the train graph) or ranking=")
            else:
                method = c.ppr_method if c.ppr_method != "auto" else ("exact" if N <= 50_000 else "monte_carlo")
                ranks = _LazyRanks(_on_device(graph, pdev, "graph"), band[1], method, device=pdev)
        self.producer = MinibatchProducer(pairs, features.to(pdev), nfn, num_layers=model.config.num_layers,
                                          config=c, ranks=ranks, band=band, world=self.world, device=pdev)
        self.steps_per_epoch = self.producer.steps_per_epoch
        if self.world.distributed:
            from torch.nn.parallel import DistributedDataParallel
            self.net: torch.nn.Module = DistributedDataParallel(
                model, device_ids=[dev.index] if dev.type == "cuda" else None)
        else:
            self.net = model
        if optimizer is None:
            optimizer = (torch.optim.Adam(model.parameters(), lr=c.lr, weight_decay=c.weight_decay) if c.optimizer == "adam"
                         else torch.optim.SGD(model.parameters(), lr=c.lr, momentum=c.momentum,
                                              weight_decay=c.weight_decay))
        self.optimizer = optimizer
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, WarmupDecay(self.steps_per_epoch, c.warmup_epochs, c.lr_decay,
                                   offset=(start_epoch - 1) * self.steps_per_epoch))
        self.start_epoch = start_epoch
        self.best_state: dict[str, torch.Tensor] | None = None  # the best validation epoch's weights (CPU)
        self.best_epoch: int | None = None
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.run_info = dict(run_info or {})
        self.on_step, self.progress = on_step, progress
        if self.out_dir is not None and start_epoch != 1:
            raise ValueError("start_epoch continues an in-memory run; a run with out_dir continues with resume=True")
        if c.checkpoint_every is not None and self.out_dir is None:
            raise ValueError("checkpoint_every needs an out_dir to write the checkpoints to")

    # ------------------------------------------------------------------ run folder and checkpoints
    def run_record(self) -> dict[str, Any]:
        """What ``run.json`` holds: the model and training configs, ``run_info`` and the world size."""
        return {"model": self.model.config.to_dict(), "train": self.config.to_dict(), "run": _json_safe(self.run_info),
                "world_size": self.world.size}

    def _check_out_dir(self, resume: bool) -> tuple[str | None, bool]:
        """(the problem with the output folder or None, whether there is a checkpoint to resume from).

        Checked on rank 0 before anything is written. A folder whose run was stopped before its first
        checkpoint (``run.json`` but no ``last.pt``) may start again with the same settings.
        """
        out = self.out_dir
        if out is None:
            return ("resume needs the out_dir of the run to continue" if resume else None), False
        if out.exists() and not out.is_dir():
            return f"--out {out} is a file, not a folder", False
        parent = out
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            return f"cannot create --out {out}: {parent} is a file, not a folder", False
        if not os.access(parent, os.W_OK | os.X_OK):
            return f"cannot write --out {out}: no write permission in {parent}", False
        run_file = out / RUN_FILE
        if not run_file.exists():
            if resume:
                return f"{out} holds no run to resume (no {RUN_FILE})", False
            if (out / LAST).exists():
                return f"{out} holds a checkpoint ({LAST}) but no {RUN_FILE}: choose another --out", False
            return None, False
        if not resume and (out / LAST).exists():
            return (f"{out} already holds a training run ({RUN_FILE}, {LAST}); nothing was overwritten. Pass "
                    "--resume to continue it, or choose another --out"), False
        try:
            old = read_run_file(run_file)
        except RunDirError as exc:
            return str(exc), False
        new = json.loads(json.dumps(json_safe(self.run_record())))
        diffs = []
        for part in ("model", "run", "world_size"):
            diffs += _differences(old[part], new[part], part)
        diffs += _differences(old["train"], new["train"], "train", skip=_RESUMABLE_CHANGES)
        if diffs:
            verb = "resume it" if resume else "start it again"
            return f"{out} holds a different run; cannot {verb} with these settings: " + "; ".join(diffs), False
        return None, (out / LAST).exists()

    def _save(self, paths: Path | list[Path], *, epoch: int, next_batch: int, epoch_done: bool, global_step: int,
              acc: dict[str, Any], history: TrainHistory, best: dict[str, Any]) -> None:
        rngs = self.world.all_gather_object(rng_state(self.model.device))  # collective: every rank calls it
        if not self.world.is_main:
            return
        hist = history.to_dict()
        hist.pop("timeline")  # wall-clock times of this process: not part of the run's state
        state = {
            "model": self.model.state_dict(), "model_config": self.model.config.to_dict(),
            "train_config": self.config.to_dict(), "run": _json_safe(self.run_info),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "progress": {"epoch": epoch, "next_batch": next_batch, "epoch_done": epoch_done,
                         "global_step": global_step, "steps_per_epoch": self.steps_per_epoch},
            "curriculum": {"epoch": epoch, "hard_per_query": self.producer.hard_per_query(epoch),
                           "max_hard_negatives": self.config.max_hard_negatives,
                           "enabled": self.config.curriculum},
            "epoch_acc": acc, "history": _json_safe(hist), "best": best,
            "rng": rngs, "world_size": self.world.size}
        for path in [paths] if isinstance(paths, Path) else paths:
            save_checkpoint(state, path)

    def _restore(self, state: dict[str, Any]) -> None:
        for key in ("model", "optimizer", "scheduler", "progress", "epoch_acc", "history", "best", "rng"):
            if key not in state:
                raise CheckpointError(f"checkpoint in {self.out_dir} lacks {key!r}: not a training checkpoint")
        if state["progress"]["steps_per_epoch"] != self.steps_per_epoch:
            raise CheckpointError(f"the checkpoint's epochs had {state['progress']['steps_per_epoch']} steps, this "
                                  f"run's have {self.steps_per_epoch}: the train pairs or batch size differ")
        rngs = state["rng"]
        if len(rngs) != self.world.size:
            raise CheckpointError(f"the checkpoint was written by {len(rngs)} ranks, this run has {self.world.size}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(rngs[self.world.rank], self.model.device)

    # ------------------------------------------------------------------ the loop
    def _evaluate(self, epoch: int) -> tuple[float, float]:
        """Validation (hit-rate@K, scaled MRR) after ``epoch`` (0: untrained). Fresh-walk neighbourhoods
        are reseeded from (seed, epoch), so the figures do not depend on what was sampled before (or on
        a resume). Every rank evaluates; rank 0's figures are broadcast, so early stopping agrees."""
        if self.val is None:
            return float("nan"), float("nan")
        if hasattr(self.eval_fn, "reseed"):
            self.eval_fn.reseed(_mix(self.config.seed, epoch, 6))
        figures = evaluate_pairs(self.model, self.features, self.eval_fn, self.val, k=self.config.eval_k,
                                 scale=self.config.eval_mrr_scale)
        return tuple(self.world.broadcast_object(figures))

    def _step(self, mb: Minibatch) -> tuple[LossResult, float, float, float]:
        c, dev = self.config, self.model.device
        use_amp = c.amp and dev.type == "cuda"
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16) if use_amp else nullcontext():
            z = self.net(mb.blocks, inputs=mb.inputs)
        z = z.float()
        B, S, h = mb.queries.numel(), mb.negatives.numel(), mb.num_hard
        z_q, z_pos, z_neg = z[:B], z[B:2 * B], z[2 * B:2 * B + S]
        z_hard = z[2 * B + S:].view(B, h, -1) if h > 0 else None
        if c.loss == "margin":
            res = max_margin_loss(z_q, z_pos, z_neg, z_hard, c.margin, shared_mask=mb.shared_mask,
                                  hard_mask=mb.hard_mask)
        else:
            res = cross_entropy_loss(z_q, z_pos, z_neg, z_hard, c.temperature, shared_mask=mb.shared_mask,
                                     hard_mask=mb.hard_mask)
        # DDP averages gradients over ranks: weighting each rank's mean by its share of the minibatch makes
        # that average the gradient of the mean over the whole minibatch (share = 1 in one process)
        loss = res.loss * mb.share if mb.share != 1.0 else res.loss
        # one number shared by all ranks, so that a NaN stops every rank before the gradient all-reduce
        loss_value = float(self.world.all_reduce_mean(loss.detach()))
        if not math.isfinite(loss_value):  # checked before the step: the parameters stay as they were
            raise FloatingPointError(f"the loss became {loss_value} at epoch {mb.epoch}, minibatch {mb.index + 1}; "
                                     f"the model was not updated with it: lower the learning rate (now {c.lr}) "
                                     "or check the features")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = float("nan")
        if c.grad_clip is not None:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip))
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this step runs with
        self.optimizer.step()
        self.scheduler.step()
        return res, loss_value, grad_norm, lr

    def fit(self, resume: bool = False) -> TrainHistory:
        """Train for the configured epochs (or continue the run in ``out_dir`` with ``resume=True``)."""
        c, w = self.config, self.world
        problem, has_checkpoint = w.broadcast_object(self._check_out_dir(resume) if w.is_main else None)
        if problem:
            raise RunDirError(problem)
        # resume=True in a folder stopped before its first checkpoint starts the run again
        state = load_checkpoint(self.out_dir / LAST) if resume and has_checkpoint else None
        if state is not None and state.get("progress", {}).get("epoch", 0) > self.start_epoch + c.epochs - 1:
            pr = state["progress"]
            raise RunDirError(f"{self.out_dir} has already reached epoch {pr['epoch']}"
                              f"{'' if pr.get('epoch_done') else ' (mid-epoch)'}: resume it with --epochs "
                              f">= {pr['epoch']}, not {c.epochs}")
        keys = ("loss", "active", "pos_score", "neg_score", "hard_score", "active_hard")
        fresh_acc = lambda: {"sums": dict.fromkeys(keys, 0.0), "counts": dict.fromkeys(keys, 0), "steps": 0,
                             "wait": 0.0, "compute": 0.0, "seconds": 0.0, "lr": float("nan")}
        history, acc = TrainHistory(), fresh_acc()
        epoch0, first, step = self.start_epoch, 0, (self.start_epoch - 1) * self.steps_per_epoch
        best = {"metric": None, "epoch": 0, "bad_epochs": 0}
        if state is not None:
            self._restore(state)
            history = TrainHistory.from_dict(state["history"])
            for e in history.epochs:  # JSON-safe None back to NaN
                for f in fields(e):
                    if getattr(e, f.name) is None:
                        setattr(e, f.name, float("nan"))
            if history.initial_hit_rate is None:
                history.initial_hit_rate = history.initial_mrr = float("nan")
            pr = state["progress"]
            step, best = pr["global_step"], dict(state["best"])
            if pr["epoch_done"]:
                epoch0, first = pr["epoch"] + 1, 0
            else:
                epoch0, first, acc = pr["epoch"], pr["next_batch"], state["epoch_acc"]
            if history.stopped_early is not None and (
                    c.early_stopping is None or best["bad_epochs"] < c.early_stopping):
                history.stopped_early = None  # resumed with more patience: training goes on
        metrics = None
        if self.out_dir is not None and w.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            for name in (LAST, BEST, RUN_FILE, "results.json"):  # half-written files of a killed run
                for stale in self.out_dir.glob(f".{name}.*.tmp"):
                    stale.unlink(missing_ok=True)
            (self.out_dir / (METRICS + ".tmp")).unlink(missing_ok=True)
            if state is None:
                write_json_atomic(self.run_record(), self.out_dir / RUN_FILE)
            _Metrics.truncate_after(self.out_dir / METRICS, step, epoch0 - 1)
            metrics = _Metrics(self.out_dir / METRICS)
            metrics.write({"type": "resume" if state else "start", "step": step, "epoch": epoch0,
                           "world_size": w.size, "time": time.time(), **({} if state else self.run_record())})
        w.barrier()
        last_epoch = self.start_epoch + c.epochs - 1
        t0 = time.perf_counter()
        it: Iterator[Minibatch] | None = None
        try:
            if state is None and self.val is not None and self.start_epoch == 1:
                history.initial_hit_rate, history.initial_mrr = self._evaluate(0)
            pin = self.model.device.type == "cuda" and self.producer.device.type == "cpu"
            # one iterator for the rest of the run: worker processes outlive the epochs
            it = minibatches(self.producer, epoch0, first, last_epoch=last_epoch, num_workers=c.num_workers,
                             prefetch_factor=c.prefetch_factor, pin_memory=pin)
            for epoch in range(epoch0, last_epoch + 1):
                if history.stopped_early is not None:
                    break
                t_epoch = time.perf_counter() - acc["seconds"]
                h = self.producer.hard_per_query(epoch)
                bar = _progress(self.steps_per_epoch, first, f"epoch {epoch}", enabled=self.progress and w.is_main)
                self.model.train()
                index = first
                for _ in range(first, self.steps_per_epoch):
                    t_req = time.perf_counter()
                    mb = next(it)
                    if (mb.epoch, mb.index) != (epoch, index):
                        raise RuntimeError(f"minibatch ({mb.epoch}, {mb.index}) arrived where ({epoch}, {index}) was due")
                    mb = mb.to(self.model.device, non_blocking=pin)
                    t_ready = time.perf_counter()
                    res, loss_value, grad_norm, lr = self._step(mb)
                    t_done = time.perf_counter()
                    step += 1
                    index = mb.index + 1
                    history.step_loss.append(loss_value)
                    history.step_active.append(res.active)
                    history.step_lr.append(lr)
                    history.timeline.append((epoch, step, t_req - t0, t_ready - t0, t_done - t0))
                    acc["wait"] += t_ready - t_req
                    acc["compute"] += t_done - t_ready
                    acc["steps"] += 1
                    acc["lr"] = lr
                    for key in keys:
                        v = loss_value if key == "loss" else getattr(res, key)
                        if v == v:  # a NaN statistic (no hard negative left in this step) is not averaged in
                            acc["sums"][key] += v
                            acc["counts"][key] += 1
                    if metrics is not None:
                        metrics.write({"type": "step", "epoch": epoch, "step": step, "loss": loss_value,
                                       "active": res.active, "lr": lr, "grad_norm": grad_norm,
                                       "hard_per_query": h, "wait_s": t_ready - t_req, "compute_s": t_done - t_ready})
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.1e}", refresh=False)
                    if self.on_step is not None:
                        self.on_step(step, res)
                    if c.checkpoint_every is not None and step % c.checkpoint_every == 0:
                        acc["seconds"] = time.perf_counter() - t_epoch
                        if metrics is not None:  # first the metrics, so a checkpoint never outruns them
                            metrics.sync()
                        self._save(self.out_dir / LAST, epoch=epoch, next_batch=index, epoch_done=False,
                                   global_step=step, acc=acc, history=history, best=best)
                if bar is not None:
                    bar.close()
                first = 0
                val_hr, val_mrr = self._evaluate(epoch)
                mean = {k: acc["sums"][k] / acc["counts"][k] if acc["counts"][k] else float("nan") for k in keys}
                log = EpochLog(epoch=epoch, hard_per_query=h, steps=acc["steps"], loss=mean["loss"],
                               active=mean["active"], pos_score=mean["pos_score"], neg_score=mean["neg_score"],
                               hard_score=mean["hard_score"] if h > 0 else float("nan"),
                               active_hard=mean["active_hard"] if h > 0 else float("nan"),
                               val_hit_rate=val_hr, seconds=time.perf_counter() - t_epoch, val_mrr=val_mrr,
                               lr=acc["lr"], data_wait=acc["wait"], compute=acc["compute"])
                history.epochs.append(log)
                improved = False
                if self.val is not None:
                    m = val_mrr if c.early_stopping_metric == "mrr" else val_hr
                    if best["metric"] is None or m > best["metric"]:
                        best = {"metric": m, "epoch": epoch, "bad_epochs": 0}
                        improved = True
                        self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
                        self.best_epoch = epoch
                    else:
                        best["bad_epochs"] += 1
                    if c.early_stopping is not None and best["bad_epochs"] >= c.early_stopping:
                        history.stopped_early = epoch
                if metrics is not None:
                    metrics.write({"type": "epoch", **asdict(log), "stopped_early": history.stopped_early})
                acc = fresh_acc()
                if self.out_dir is not None:
                    # best.pt first: a kill between the two writes never leaves last.pt naming a best.pt
                    # that does not exist
                    paths = [self.out_dir / BEST, self.out_dir / LAST] if improved else [self.out_dir / LAST]
                    if metrics is not None:
                        metrics.sync()
                    self._save(paths, epoch=epoch, next_batch=self.steps_per_epoch, epoch_done=True,
                               global_step=step, acc=acc, history=history, best=best)
            sums = w.all_gather_object(parameter_checksum(self.model))
            if metrics is not None:
                metrics.write({"type": "end", "step": step, "world_size": w.size, "param_checksums": sums,
                               "ranks_in_sync": len(set(sums)) == 1, "stopped_early": history.stopped_early})
                metrics.sync()
        finally:
            if metrics is not None:
                metrics.close()
            del it  # a DataLoader iterator shuts its worker processes down when dropped
        return history


    def restore_best(self) -> int | None:
        """Load the weights of the best validation epoch into the model (kept in memory when that epoch
        ended, or read from ``best.pt`` after a resume) and return that epoch; None, weights unchanged,
        when there was no validation."""
        if self.best_state is None and self.out_dir is not None and (self.out_dir / BEST).exists():
            state = load_checkpoint(self.out_dir / BEST)
            self.best_state, self.best_epoch = state["model"], int(state["best"]["epoch"])
        if self.best_state is None:
            return None
        self.model.load_state_dict(self.best_state)
        return self.best_epoch


def _progress(total: int, initial: int, desc: str, *, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm  # a widget in JupyterLab, a text bar in a terminal
    return tqdm(total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True)


def train_pinsage(model: PinSage, features: torch.Tensor, train_pairs: Any, neighborhood_fn: NeighborhoodFn, *,
                  config: TrainConfig = TrainConfig(), graph: BipartiteGraph | None = None,
                  val_pairs: Any = None, ranking: PPRRanking | None = None,
                  on_step: Callable[[int, LossResult], None] | None = None,
                  optimizer: torch.optim.Optimizer | None = None, start_epoch: int = 1,
                  out_dir: str | os.PathLike | None = None, resume: bool = False,
                  run_info: dict[str, Any] | None = None, progress: bool = False) -> TrainHistory:
    """Fit ``model`` to the positive ``train_pairs`` [P, 2] and return the :class:`TrainHistory`.

    ``Trainer(...).fit(resume)`` in one call; see :class:`Trainer` for the arguments.
    """
    return Trainer(model, features, train_pairs, neighborhood_fn, config=config, graph=graph, val_pairs=val_pairs,
                   ranking=ranking, out_dir=out_dir, run_info=run_info, on_step=on_step, optimizer=optimizer,
                   start_epoch=start_epoch, progress=progress).fit(resume=resume)
