"""§3.3: training PinSage at scale — the loop, its checkpoints and DDP.

**The loop** is the paper's: the producer samples a minibatch, the model embeds its items, the loss
scores them, the optimiser steps (:meth:`Trainer.fit`, :meth:`Trainer._step`). The minibatches come from
:mod:`pinsage_edu.producer` (§3.3's producer–consumer: built ahead by worker processes while the model
computes, or on the model's GPU with ``sampling="device"``); the trainer times how long each step waited
for its data (:attr:`EpochLog.data_wait`, and :attr:`TrainHistory.timeline` step by step). A step waits
for the GPU once, to read its loss: the data's values are checked when the :class:`Trainer` is built.

**The training run** (:class:`Trainer`): Adam, or SGD with momentum as in the paper; a learning rate that
rises linearly through the first epoch and then decays exponentially (:class:`WarmupDecay`); the
curriculum of hard negatives; gradient clipping; bf16 autocast on CUDA; after each epoch the
validation hit-rate@k and scaled MRR on a sample of held-out pairs, with early stopping on them;
checkpoints written atomically every N steps and at each epoch's end, from which a killed run
resumes exactly (bit for bit on a CPU; on CUDA to float rounding, as the backward pass's
scatter-adds use atomics); metrics as JSON lines next to them — the run folder of :mod:`pinsage_edu.runs`.

**DDP.** Under ``torchrun`` (a process group initialised, see :mod:`pinsage_edu.distributed`) the
model is wrapped in ``DistributedDataParallel``: each rank computes the loss of its share of every
global minibatch, gradients are averaged across ranks, and every rank takes the same optimiser step
— the paper's synchronous multi-GPU training.
"""

from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from .checkpoint import CheckpointError, json_safe, rng_state, set_rng_state
from .distributed import World, parameter_checksum, world
from .graph import BipartiteGraph
from .inference import embed_all, embed_minibatches
from .knn import exact_top_k
from .loss import STATISTICS, LossResult, cross_entropy_loss, host_floats, max_margin_loss
from .metrics import hit_rate, mrr_scale, scaled_mrr, target_ranks
from .minibatch import NeighborhoodFn, NeighborhoodTable
from .model import PinSage
from .negatives import hard_negative_band
from .utils import InvalidSetting, check_pairs, setting
from .walks import PPRRanking
from .producer import LazyRanks, Minibatch, MinibatchProducer, PrecomputedRanks, minibatches, mix_seed
from .runs import RunDirError, RunFolder, read_run_file

__all__ = ["TrainConfig", "WarmupDecay", "Minibatch", "MinibatchProducer", "minibatches", "EpochLog",
           "TrainHistory", "Trainer", "train_pinsage", "evaluate_hit_rate", "evaluate_pairs", "RunDirError",
           "read_run_file", "RunFolder", "EpochStats", "EarlyStopping"]

# the PPR rank caches under their names from before they moved to producer (tests and notebooks import them)
_LazyRanks, _PrecomputedRanks = LazyRanks, PrecomputedRanks


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
        * ``eval_k`` / ``eval_pairs``: hit-rate@k and scaled MRR on at most this many validation pairs
          (None = all); ``eval_mrr_scale``: the MRR's rank divisor (None: :func:`~pinsage_edu.evaluate.mrr_scale`).
        * ``early_stopping``: stop after this many epochs without a better validation
          ``early_stopping_metric`` (``"hit_rate"`` or ``"mrr"``); None: never.
        * ``checkpoint_every``: also checkpoint every this many steps (None: at epoch ends only; needs an
          output folder).

    Each field's metadata holds its ``python -m pinsage_edu train`` flag (see
    :func:`~pinsage_edu.utils.setting`); a setting out of range raises :class:`TrainConfig.Invalid`, a ValueError that names the field
    ``TrainConfig.NAME`` and can name it otherwise (the command line: by its flag).
    """

    epochs: int = setting(5, "--epochs", "optimisation", cli_default=10)
    batch_size: int = setting(512, "--batch-size", "optimisation", "global minibatch (split across ranks)")
    optimizer: str = setting("adam", "--optimizer", "optimisation", choices=("adam", "sgd"))
    lr: float = setting(1e-3, "--lr", "optimisation", "peak learning rate")
    momentum: float = setting(0.9, "--momentum", "optimisation", "SGD's momentum")
    weight_decay: float = setting(0.0, "--weight-decay", "optimisation")
    warmup_epochs: float = setting(1.0, "--warmup-epochs", "optimisation", "linear warm-up length (0: none)")
    lr_decay: float = setting(0.9, "--lr-decay", "optimisation", "learning-rate factor per epoch after warm-up")
    grad_clip: float | None = setting(1.0, "--grad-clip", "optimisation", "clip the gradient norm (0: no clipping)",
                                       none_at=0)
    amp: bool = setting(True, "--no-amp", "optimisation", "no bf16 autocast on CUDA", negate=True)
    margin: float = setting(0.1, "--margin", "loss and negatives", "Δ of the max-margin loss")
    loss: str = setting("margin", "--loss", "loss and negatives", choices=("margin", "xent"))
    temperature: float = setting(0.1, "--temperature", "loss and negatives", "of the xent loss")
    num_shared_negatives: int = setting(500, "--shared-negatives", "loss and negatives", "per minibatch")
    max_hard_negatives: int = setting(6, "--max-hard", "loss and negatives",
                                       "curriculum cap on hard negatives per query (0: none)")
    curriculum: bool = setting(True, "--no-curriculum", "loss and negatives",
                                "all --max-hard hard negatives from epoch 1", negate=True)
    hard_band: tuple[int, int] | None = setting(None, "--band", "loss and negatives",
                                                 "PPR rank band of hard negatives", nargs=2, metavar=("LO", "HI"))
    ppr_method: str = setting("auto", "--ppr-method", "loss and negatives", choices=("auto", "exact", "monte_carlo"))
    num_workers: int = setting(0, "--workers", "loading",
                                "CPU processes building minibatches ahead (0: in the training process; default: 0 "
                                "when training on the CPU, which needs its cores for the compute, else min(4, cores "
                                "− 1))", cli_default=None)
    prefetch_factor: int = setting(2, "--prefetch", "loading", "minibatches each worker keeps ready")
    sampling: str = setting("cpu", "--sampling", "loading",
                             "device: walks, blocks and features on the model's device (a GPU)",
                             choices=("cpu", "device"))
    max_steps_per_epoch: int | None = setting(None, "--steps-per-epoch", "optimisation", "cap the steps of each epoch")
    eval_k: int = setting(10, "--eval-k", "evaluation", "k of the validation hit-rate@k")
    eval_pairs: int | None = setting(None, "--eval-pairs", "evaluation",
                                      "evaluate on at most this many held-out pairs")
    eval_mrr_scale: int | None = setting(None, "--mrr-scale", "evaluation",
                                          "rank divisor of the scaled MRR (default: by catalogue)")
    early_stopping: int | None = setting(None, "--early-stopping", "evaluation",
                                          "stop after this many epochs without improvement")
    early_stopping_metric: str = setting("hit_rate", "--early-stopping-metric", "evaluation",
                                          choices=("hit_rate", "mrr"))
    checkpoint_every: int | None = setting(None, "--checkpoint-every", "run", "also checkpoint every this many steps")
    seed: int = setting(0, "--seed")  # the flag is one of the data options (it also seeds the split)

    class Invalid(InvalidSetting):
        """A TrainConfig setting out of range (fields named ``TrainConfig.NAME``; see :class:`InvalidSetting`)."""

        owner = "TrainConfig"

    def __post_init__(self) -> None:
        invalid = TrainConfig.Invalid.of

        optional = ("max_steps_per_epoch", "eval_pairs", "eval_mrr_scale", "early_stopping", "checkpoint_every")
        for name in ("epochs", "batch_size", "num_shared_negatives", "eval_k", "prefetch_factor") + optional:
            v = getattr(self, name)
            if v is None and name in optional:
                continue
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise invalid(name, f"must be a positive integer, got {v!r}")
        for name in ("max_hard_negatives", "num_workers", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise invalid(name, f"must be an integer >= 0, got {v!r}")
        for f in fields(self):
            allowed = f.metadata.get("choices")
            if allowed is not None and getattr(self, f.name) not in allowed:
                raise invalid(f.name, f"must be one of {allowed}, got {getattr(self, f.name)!r}")
        for name in ("lr", "temperature"):
            if not getattr(self, name) > 0:
                raise invalid(name, f"must be > 0, got {getattr(self, name)!r}")
        for name in ("margin", "weight_decay", "momentum", "warmup_epochs"):
            if not getattr(self, name) >= 0:
                raise invalid(name, f"must be >= 0, got {getattr(self, name)!r}")
        if not 0 < self.lr_decay <= 1:
            raise invalid("lr_decay", f"must be in (0, 1], got {self.lr_decay!r}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise invalid("grad_clip", f"must be > 0 or None, got {self.grad_clip!r}")
        if self.sampling == "device" and self.num_workers:
            raise TrainConfig.Invalid("{0} must be 0 with {1}='device' (minibatches are then drawn on the model's "
                                      "device, in the training process)", "num_workers", "sampling")
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
    " neg·q, hard·q = mean score z_q·z of the positives, shared negatives, hard negatives · val hit@k, val MRR =\n"
    " validation hit-rate@k (k = --eval-k, 10 by default) and scaled MRR · lr = learning rate of the epoch's\n"
    " last step · wait s / compute s = seconds waiting for minibatches / computing · — = not measured, e.g. no\n"
    " hard negatives yet)")


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
        head = ("epoch  hard/q  steps    loss  active  pos·q  neg·q  hard·q  active hard  val hit@k  val MRR"
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
    p = check_pairs("pairs", pairs, features.shape[0])
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


def _on_device(fn: Any, device: torch.device, what: str) -> Any:
    """``fn`` moved to ``device`` when it lives elsewhere and can move (tables, graphs); else an error."""
    dev = getattr(fn, "device", None)
    if dev is None or torch.device(dev) == device or (torch.device(dev).type == device.type == "cpu"):
        return fn
    if hasattr(fn, "to"):
        return fn.to(device)
    raise ValueError(f"the {what} lives on {dev} but minibatches are built on {device}: build it on {device} "
                     "(or use a NeighborhoodTable, which can move)")


class EpochStats:
    """The running sums of one epoch's steps, from which its :class:`EpochLog` is made: each loss statistic's
    mean (a NaN statistic — no hard negative left in a step — is not averaged in), the seconds spent
    waiting for data and computing, the last step's learning rate, the epoch's clock. A checkpoint holds
    it as a plain dict (:meth:`to_dict`), so a run resumed mid-epoch logs the epoch as if it never stopped."""

    KEYS = ("loss",) + STATISTICS

    def __init__(self, saved: dict[str, Any] | None = None):
        d = saved or {"sums": dict.fromkeys(self.KEYS, 0.0), "counts": dict.fromkeys(self.KEYS, 0), "steps": 0,
                      "wait": 0.0, "compute": 0.0, "seconds": 0.0, "lr": float("nan")}
        self.sums, self.counts = dict(d["sums"]), dict(d["counts"])
        self.steps, self.wait, self.compute, self.seconds, self.lr = (d["steps"], d["wait"], d["compute"],
                                                                      d["seconds"], d["lr"])
        self._t0: float | None = None

    def start(self) -> None:
        """Start the epoch's clock (where it stopped, in an epoch resumed from a checkpoint)."""
        self._t0 = time.perf_counter() - self.seconds

    def elapsed(self) -> float:
        return self.seconds if self._t0 is None else time.perf_counter() - self._t0

    def add(self, loss: float, res: LossResult, lr: float, *, wait: float, compute: float) -> None:
        """One step: its loss, the statistics of its :class:`~pinsage_edu.loss.LossResult` (floats)."""
        self.wait += wait
        self.compute += compute
        self.steps += 1
        self.lr = lr
        for key in self.KEYS:
            v = loss if key == "loss" else getattr(res, key)
            if v == v:  # a NaN statistic (no hard negative left in this step) is not averaged in
                self.sums[key] += v
                self.counts[key] += 1

    def epoch_log(self, epoch: int, hard_per_query: int, val_hit_rate: float, val_mrr: float) -> EpochLog:
        mean = {k: self.sums[k] / self.counts[k] if self.counts[k] else float("nan") for k in self.KEYS}
        h, nan = hard_per_query, float("nan")
        return EpochLog(epoch=epoch, hard_per_query=h, steps=self.steps, loss=mean["loss"], active=mean["active"],
                        pos_score=mean["pos_score"], neg_score=mean["neg_score"],
                        hard_score=mean["hard_score"] if h > 0 else nan,
                        active_hard=mean["active_hard"] if h > 0 else nan,
                        val_hit_rate=val_hit_rate, seconds=self.elapsed(), val_mrr=val_mrr, lr=self.lr,
                        data_wait=self.wait, compute=self.compute)

    def to_dict(self) -> dict[str, Any]:
        """What a checkpoint holds (``epoch_acc``)."""
        return {"sums": dict(self.sums), "counts": dict(self.counts), "steps": self.steps, "wait": self.wait,
                "compute": self.compute, "seconds": self.elapsed(), "lr": self.lr}


class EarlyStopping:
    """The best validation figure so far, its epoch, and the epochs since (``state``: the plain dict a
    checkpoint holds); :attr:`stop` once ``patience`` epochs in a row brought no improvement (None: never)."""

    def __init__(self, patience: int | None, state: dict[str, Any] | None = None):
        self.patience = patience
        self.state = dict(state) if state is not None else {"metric": None, "epoch": 0, "bad_epochs": 0}

    def update(self, epoch: int, value: float) -> bool:
        """Record an epoch's figure; True when it is the best so far."""
        if self.state["metric"] is None or value > self.state["metric"]:
            self.state = {"metric": value, "epoch": epoch, "bad_epochs": 0}
            return True
        self.state["bad_epochs"] += 1
        return False

    @property
    def stop(self) -> bool:
        return self.patience is not None and self.state["bad_epochs"] >= self.patience


@dataclass
class _RunState:
    """Where a run stands: its history, the next epoch and minibatch, the global step, the running epoch's
    sums, early stopping; ``t0`` = when this process (re)started it (the timeline counts from there)."""

    history: TrainHistory
    epoch: int
    first: int
    step: int
    stats: EpochStats
    stopper: EarlyStopping
    resumed: bool = False
    t0: float = 0.0

    @classmethod
    def from_checkpoint(cls, state: dict[str, Any], patience: int | None) -> "_RunState":
        history = TrainHistory.from_dict(state["history"])
        for e in history.epochs:  # JSON-safe None back to NaN
            for f in fields(e):
                if getattr(e, f.name) is None:
                    setattr(e, f.name, float("nan"))
        if history.initial_hit_rate is None:
            history.initial_hit_rate = history.initial_mrr = float("nan")
        pr, stopper = state["progress"], EarlyStopping(patience, state["best"])
        if history.stopped_early is not None and not stopper.stop:
            history.stopped_early = None  # resumed with more patience: training goes on
        if pr["epoch_done"]:
            return cls(history, pr["epoch"] + 1, 0, pr["global_step"], EpochStats(), stopper, resumed=True)
        return cls(history, pr["epoch"], pr["next_batch"], pr["global_step"], EpochStats(state["epoch_acc"]),
                   stopper, resumed=True)


def _check_values(features: torch.Tensor, model: PinSage) -> None:
    """The value checks the training step leaves out (each would make it wait for the GPU), done once per
    run where the data enter: every feature finite, every item known to a transductive model."""
    finite = torch.isfinite(features).reshape(features.shape[0], -1).all(1)
    if not bool(finite.all()):
        raise ValueError(f"features of item {int((~finite).nonzero()[0, 0])} hold NaN or infinite values")
    model.check_known(torch.arange(features.shape[0]))


def _in_order(mb: Minibatch, epoch: int, index: int) -> Minibatch:
    if (mb.epoch, mb.index) != (epoch, index):
        raise RuntimeError(f"minibatch ({mb.epoch}, {mb.index}) arrived where ({epoch}, {index}) was due")
    return mb


class Trainer:
    """PinSage's training run: the producer, the loop, checkpoints, metrics and DDP (see the module).

    * ``model`` on its device; ``features`` [num_items, in_dim] (any device: the producer reads a copy
      where minibatches are built); ``train_pairs`` / ``val_pairs`` [P, 2] related-item pairs. Their
      values are checked here, once (finite features, item ids in range), not in every step.
    * ``neighborhood_fn``: a :class:`~pinsage_edu.minibatch.NeighborhoodTable` (moved to where
      minibatches are built) or :class:`~pinsage_edu.minibatch.NeighborhoodSampler` (fresh walks,
      reseeded per minibatch; it must live there already).
    * Hard negatives need a PPR ranking: ``ranking`` for every item, or the train ``graph`` (queries
      are ranked when first met).
    * ``out_dir``: where ``run.json``, ``last.pt`` (every ``checkpoint_every`` steps and each epoch's
      end), ``best.pt`` (the best validation epoch) and ``metrics.jsonl`` go (a :class:`~pinsage_edu.runs.RunFolder`);
      ``run_info`` (e.g. the dataset and split) is stored in ``run.json`` and must match on resume. Without
      it nothing is written. Under DDP every rank passes the same folder (rank 0 writes it; a resume
      reads it on every rank).
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
        pairs = check_pairs("train_pairs", train_pairs, N).cpu()
        if pairs.shape[0] == 0:
            raise ValueError("train_pairs is empty: nothing to train on")
        val = check_pairs("val_pairs", val_pairs, N).cpu() if val_pairs is not None else None
        if val is not None and c.eval_pairs is not None and val.shape[0] > c.eval_pairs:
            pick = torch.randperm(val.shape[0], generator=torch.Generator().manual_seed(c.seed))[: c.eval_pairs]
            val = val[torch.sort(pick).values]
        if c.early_stopping is not None and val is None:
            raise ValueError("early_stopping needs val_pairs to watch")
        self.val = val
        _check_values(features, model)  # once here: the training step checks no values
        self.features = features.to(dev)  # for validation
        self.eval_fn = neighborhood_fn
        pdev = dev if c.sampling == "device" else torch.device("cpu")
        nfn = _on_device(neighborhood_fn, pdev, "neighbourhood function")
        band, ranks = None, None
        self.last_epoch = last_epoch = start_epoch + c.epochs - 1
        if c.max_hard_negatives > 0 and (last_epoch > 1 or not c.curriculum):
            band = hard_negative_band(N, band=c.hard_band)
            if ranking is not None:
                if ranking.ids.shape[0] != N or ranking.ids.shape[1] < band[1]:
                    raise ValueError(f"ranking must hold a row for each of the {N} items and at least {band[1]} "
                                     f"ranks, got {tuple(ranking.ids.shape)}")
                if not torch.equal(ranking.queries.cpu(), torch.arange(N)):
                    raise ValueError("ranking must rank items 0 … N−1 in order (row q for query q): "
                                     "ppr_rank(graph, torch.arange(graph.num_items), k=...)")
                ranks = PrecomputedRanks(ranking.to(pdev))
            elif graph is None:
                raise ValueError("hard negatives need a PPR ranking: pass graph= (the train graph) or ranking=")
            else:
                method = c.ppr_method if c.ppr_method != "auto" else ("exact" if N <= 50_000 else "monte_carlo")
                ranks = LazyRanks(_on_device(graph, pdev, "graph"), band[1], method, device=pdev)
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
        self.folder = RunFolder(self.out_dir, is_main=self.world.is_main)
        self.run_info = dict(run_info or {})
        self.on_step, self.progress = on_step, progress
        if self.out_dir is not None and start_epoch != 1:
            raise ValueError("start_epoch continues an in-memory run; a run with out_dir continues with resume=True")
        if c.checkpoint_every is not None and self.out_dir is None:
            raise ValueError("checkpoint_every needs an out_dir to write the checkpoints to")

    # ------------------------------------------------------------------ the loop
    def fit(self, resume: bool = False) -> TrainHistory:
        """Train for the configured epochs (or continue the run in ``out_dir`` with ``resume=True``).

        §3.3's loop: the producer samples each minibatch (ahead, in worker processes or here), the model
        embeds its items, the loss scores them, the optimiser steps (:meth:`_step`); after each epoch,
        validation, early stopping and a checkpoint (:meth:`_end_epoch`). Where the run starts (a fresh
        folder or a checkpoint) is :meth:`_begin`'s business; what a step leaves behind, :meth:`_log_step`'s.
        """
        c = self.config
        run = self._begin(resume)
        batches: Iterator[Minibatch] | None = None
        try:
            if not run.resumed and self.val is not None and self.start_epoch == 1:
                run.history.initial_hit_rate, run.history.initial_mrr = self._evaluate(0)
            pin = self.model.device.type == "cuda" and self.producer.device.type == "cpu"
            # one iterator for the rest of the run: worker processes outlive the epochs
            batches = minibatches(self.producer, run.epoch, run.first, last_epoch=self.last_epoch,
                                  num_workers=c.num_workers, prefetch_factor=c.prefetch_factor, pin_memory=pin)
            for epoch in range(run.epoch, self.last_epoch + 1):
                if run.history.stopped_early is not None:
                    break
                run.stats.start()
                bar = _progress(self.steps_per_epoch, run.first, f"epoch {epoch}",
                                enabled=self.progress and self.world.is_main)
                self.model.train()
                for index in range(run.first, self.steps_per_epoch):
                    t_request = time.perf_counter()
                    mb = _in_order(next(batches), epoch, index).to(self.model.device, non_blocking=pin)  # sample
                    t_ready = time.perf_counter()
                    step = self._step(mb)  # forward → loss → backward → optimiser step
                    run.step += 1
                    self._log_step(run, epoch, step, (t_request, t_ready, time.perf_counter()), bar)
                    if self.on_step is not None:
                        self.on_step(run.step, step[0])
                    if c.checkpoint_every is not None and run.step % c.checkpoint_every == 0:
                        self._checkpoint(run, epoch, next_batch=index + 1)
                if bar is not None:
                    bar.close()
                run.first = 0
                self._end_epoch(run, epoch)  # validation, early stopping, checkpoint
            self._finish(run)
        finally:
            self.folder.close()
            del batches  # a DataLoader iterator shuts its worker processes down when dropped
        return run.history

    def _step(self, mb: Minibatch) -> tuple[LossResult, float, torch.Tensor | float, float]:
        """One step on one minibatch: forward, loss, backward, optimiser step.

        Returns the loss result (statistics as floats), the loss (averaged over the ranks), the gradient
        norm before clipping (a 0-d tensor left on the device, read when the metrics are written; NaN
        without clipping) and the learning rate the step ran with. The step waits for the GPU once, to
        read the loss and its statistics in one transfer: the data's values were checked when they
        entered (:meth:`__init__`), so the model's forward pass checks shapes only (``check=False``)."""
        c, dev = self.config, self.model.device
        use_amp = c.amp and dev.type == "cuda"
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16) if use_amp else nullcontext():
            z = self.net(mb.blocks, inputs=mb.inputs, check=False)
        z = z.float()
        B, S, h = mb.queries.numel(), mb.negatives.numel(), mb.num_hard
        z_q, z_pos, z_neg = z[:B], z[B:2 * B], z[2 * B:2 * B + S]
        z_hard = z[2 * B + S:].view(B, h, -1) if h > 0 else None
        if c.loss == "margin":
            res = max_margin_loss(z_q, z_pos, z_neg, z_hard, c.margin, shared_mask=mb.shared_mask,
                                  hard_mask=mb.hard_mask, sync=False)
        else:
            res = cross_entropy_loss(z_q, z_pos, z_neg, z_hard, c.temperature, shared_mask=mb.shared_mask,
                                     hard_mask=mb.hard_mask, sync=False)
        # DDP averages gradients over ranks: weighting each rank's mean by its share of the minibatch makes
        # that average the gradient of the mean over the whole minibatch (share = 1 in one process)
        loss = res.loss * mb.share if mb.share != 1.0 else res.loss
        # the step's one wait for the GPU: the loss — one number shared by all ranks, so that a NaN stops
        # every rank before the gradient all-reduce — and its statistics, in one transfer
        loss_value, *stats = host_floats(self.world.all_reduce_mean(loss.detach()),
                                         *(getattr(res, k) for k in STATISTICS))
        res = replace(res, **dict(zip(STATISTICS, stats)))
        if not math.isfinite(loss_value):  # checked before the step: the parameters stay as they were
            raise FloatingPointError(f"the loss became {loss_value} at epoch {mb.epoch}, minibatch {mb.index + 1}; "
                                     f"the model was not updated with it: lower the learning rate (now {c.lr}) "
                                     "or check the features")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm: torch.Tensor | float = float("nan")
        if c.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), c.grad_clip).detach()
        lr = self.optimizer.param_groups[0]["lr"]  # the rate this step runs with
        self.optimizer.step()
        self.scheduler.step()
        return res, loss_value, grad_norm, lr

    # ------------------------------------------------------------------ the loop's bookkeeping
    def _begin(self, resume: bool) -> _RunState:
        """Where the run starts: the run folder checked (on rank 0, before anything is written), the last
        checkpoint restored when resuming, the folder made ready (``run.json``, the metrics file)."""
        w = self.world
        problem, has_checkpoint = w.broadcast_object(self.folder.check(resume, self.run_record()) if w.is_main
                                                     else None)
        if problem:
            raise RunDirError(problem)
        # resume=True in a folder stopped before its first checkpoint starts the run again
        state = self.folder.last_checkpoint() if resume and has_checkpoint else None
        if state is None:
            run = _RunState(TrainHistory(), self.start_epoch, 0, (self.start_epoch - 1) * self.steps_per_epoch,
                            EpochStats(), EarlyStopping(self.config.early_stopping))
        else:
            if state.get("progress", {}).get("epoch", 0) > self.last_epoch:
                pr = state["progress"]
                raise RunDirError(f"{self.out_dir} has already reached epoch {pr['epoch']}"
                                  f"{'' if pr.get('epoch_done') else ' (mid-epoch)'}: resume it with --epochs "
                                  f">= {pr['epoch']}, not {self.config.epochs}")
            self._restore(state)
            run = _RunState.from_checkpoint(state, self.config.early_stopping)
        self.folder.open(self.run_record(), resumed=run.resumed, step=run.step, epoch=run.epoch, world_size=w.size)
        w.barrier()
        run.t0 = time.perf_counter()
        return run

    def _log_step(self, run: _RunState, epoch: int, step: tuple[LossResult, float, torch.Tensor | float, float],
                  times: tuple[float, float, float], bar: Any) -> None:
        """What a step leaves behind: the history, the epoch's sums, a metrics record, the progress bar."""
        (res, loss, grad_norm, lr), (t_request, t_ready, t_done) = step, times
        h = run.history
        h.step_loss.append(loss)
        h.step_active.append(res.active)
        h.step_lr.append(lr)
        h.timeline.append((epoch, run.step, t_request - run.t0, t_ready - run.t0, t_done - run.t0))
        run.stats.add(loss, res, lr, wait=t_ready - t_request, compute=t_done - t_ready)
        self.folder.log({"type": "step", "epoch": epoch, "step": run.step, "loss": loss, "active": res.active,
                         "lr": lr, "grad_norm": grad_norm, "hard_per_query": self.producer.hard_per_query(epoch),
                         "wait_s": t_ready - t_request, "compute_s": t_done - t_ready})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.1e}", refresh=False)

    def _end_epoch(self, run: _RunState, epoch: int) -> None:
        """Validation, the epoch's log, early stopping (keeping the best epoch's weights), a checkpoint."""
        val_hr, val_mrr = self._evaluate(epoch)
        log = run.stats.epoch_log(epoch, self.producer.hard_per_query(epoch), val_hr, val_mrr)
        run.history.epochs.append(log)
        improved = False
        if self.val is not None:
            improved = run.stopper.update(epoch, val_mrr if self.config.early_stopping_metric == "mrr" else val_hr)
            if improved:
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}
                self.best_epoch = epoch
            if run.stopper.stop:
                run.history.stopped_early = epoch
        self.folder.log({"type": "epoch", **asdict(log), "stopped_early": run.history.stopped_early})
        run.stats = EpochStats()
        self._checkpoint(run, epoch, next_batch=self.steps_per_epoch, epoch_done=True, best=improved)

    def _finish(self, run: _RunState) -> None:
        sums = self.world.all_gather_object(parameter_checksum(self.model))
        self.folder.log({"type": "end", "step": run.step, "world_size": self.world.size, "param_checksums": sums,
                         "ranks_in_sync": len(set(sums)) == 1, "stopped_early": run.history.stopped_early})
        self.folder.sync()

    def _evaluate(self, epoch: int) -> tuple[float, float]:
        """Validation (hit-rate@k, scaled MRR) after ``epoch`` (0: untrained). Fresh-walk neighbourhoods
        are reseeded from (seed, epoch), so the figures do not depend on what was sampled before (or on
        a resume). Every rank evaluates; rank 0's figures are broadcast, so early stopping agrees."""
        if self.val is None:
            return float("nan"), float("nan")
        if hasattr(self.eval_fn, "reseed"):
            self.eval_fn.reseed(mix_seed(self.config.seed, epoch, 6))
        figures = evaluate_pairs(self.model, self.features, self.eval_fn, self.val, k=self.config.eval_k,
                                 scale=self.config.eval_mrr_scale)
        return tuple(self.world.broadcast_object(figures))

    # ------------------------------------------------------------------ checkpoints
    def run_record(self) -> dict[str, Any]:
        """What ``run.json`` holds: the model and training configs, ``run_info`` and the world size."""
        return {"model": self.model.config.to_dict(), "train": self.config.to_dict(), "run": _json_safe(self.run_info),
                "world_size": self.world.size}

    def _checkpoint(self, run: _RunState, epoch: int, *, next_batch: int, epoch_done: bool = False,
                    best: bool = False) -> None:
        """``last.pt`` (and first ``best.pt`` when ``best``) in the run folder, if there is one. Every rank
        calls it (the RNG states are gathered); rank 0 writes."""
        if self.out_dir is None:
            return
        rngs = self.world.all_gather_object(rng_state(self.model.device))  # collective: every rank calls it
        if not self.world.is_main:
            return
        hist = run.history.to_dict()
        hist.pop("timeline")  # wall-clock times of this process: not part of the run's state
        state = {
            "model": self.model.state_dict(), "model_config": self.model.config.to_dict(),
            "train_config": self.config.to_dict(), "run": _json_safe(self.run_info),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "progress": {"epoch": epoch, "next_batch": next_batch, "epoch_done": epoch_done,
                         "global_step": run.step, "steps_per_epoch": self.steps_per_epoch},
            "curriculum": {"epoch": epoch, "hard_per_query": self.producer.hard_per_query(epoch),
                           "max_hard_negatives": self.config.max_hard_negatives,
                           "enabled": self.config.curriculum},
            "epoch_acc": run.stats.to_dict(), "history": _json_safe(hist), "best": run.stopper.state,
            "rng": rngs, "world_size": self.world.size}
        self.folder.save(state, best=best)

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

    def restore_best(self) -> int | None:
        """Load the weights of the best validation epoch into the model (kept in memory when that epoch
        ended, or read from ``best.pt`` after a resume) and return that epoch; None, weights unchanged,
        when there was no validation."""
        if self.best_state is None and (state := self.folder.best_checkpoint()) is not None:
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
