"""§3.3: the producer of the producer–consumer pipeline — minibatches built while the model trains.

**One minibatch** of the global batch ``b`` in epoch ``e`` is built by :class:`MinibatchProducer`:
the pairs ``order(e)[b·B : (b+1)·B]`` (this rank's share of them under DDP), 500 shared negatives,
each query's hard negatives from its PPR rank band (as many as the curriculum says for epoch e),
Algorithm 2's blocks for every item the loss needs, and the rows of the feature matrix those blocks
read. Every random choice in it is seeded from ``(seed, e, b)`` alone, so the same minibatch comes
out whichever process builds it and whenever: in the training process, in a ``DataLoader`` worker,
or after a resume.

**Producer–consumer.** :func:`minibatches` hands the trainer (the consumer, :mod:`pinsage_edu.train`)
one minibatch after another: built in the training process (``num_workers=0``), or by CPU worker
processes that keep the next ones ready (prefetched, in pinned memory when the model is on a GPU)
while the model computes the current one.

**PPR rank caches.** Hard negatives need each query's PPR ranking: given for every item
(:class:`PrecomputedRanks`) or computed when a query is first met (:class:`LazyRanks`, which keeps
exact rankings while they fit).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sys
from dataclasses import dataclass, replace
from typing import Callable, Iterator, Protocol

import torch
from torch.utils.data import DataLoader, Dataset

from .distributed import World
from .graph import BipartiteGraph
from .minibatch import Blocks, NeighborhoodFn, sample_blocks
from .negatives import curriculum, hard_negatives, pair_keys, shared_negative_mask, shared_negatives
from .utils import make_generator
from .walks import PPRRanking, ppr_rank

__all__ = ["Minibatch", "MinibatchProducer", "minibatches", "LazyRanks", "PrecomputedRanks", "ProducerConfig",
           "mix_seed"]


class ProducerConfig(Protocol):
    """What the producer reads of the trainer's settings (a :class:`~pinsage_edu.train.TrainConfig`; the
    trainer imports this module, never the other way round)."""

    seed: int
    batch_size: int
    num_shared_negatives: int
    max_hard_negatives: int
    curriculum: bool
    max_steps_per_epoch: int | None


def mix_seed(*values: int) -> int:
    """A 63-bit seed from integers, the same in every process (unlike ``hash``)."""
    h = hashlib.blake2b(",".join(str(int(v)) for v in values).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") >> 1


class PrecomputedRanks:
    """PPR rankings given for every item: a minibatch's rows are looked up."""

    def __init__(self, ranking: PPRRanking):
        self.ranking = ranking

    def __call__(self, q: torch.Tensor, generator: torch.Generator | None = None) -> PPRRanking:
        r = self.ranking
        q = q.to(r.ids.device)
        return PPRRanking(q, r.ids.index_select(0, q), r.scores.index_select(0, q), r.mask.index_select(0, q))


class LazyRanks:
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
                 num_layers: int, config: ProducerConfig, ranks: Callable[..., PPRRanking] | None = None,
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
            g = torch.Generator().manual_seed(mix_seed(self.config.seed, epoch))
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
                               generator=make_generator(mix_seed(c.seed, epoch, index, 1), dev))
        seeds = [q, pos, neg]
        h = self.hard_per_query(epoch)
        hard_ids = hard_mask = None
        if h > 0:
            gen_rank = make_generator(mix_seed(c.seed, epoch, index, 3, w.rank), self.ranks_device)
            hard = hard_negatives(self.ranks(q, generator=gen_rank), h, self.band, positive_keys=self.known,
                                  generator=make_generator(mix_seed(c.seed, epoch, index, 2, w.rank), dev))
            hard_ids, hard_mask = hard.ids.to(dev), hard.mask.to(dev)
            seeds.append(hard_ids.clamp_min(0).reshape(-1))  # padding embeds item 0; the mask drops it
        if hasattr(self.neighborhood_fn, "reseed"):  # fresh walks: seeded by the minibatch, not by history
            self.neighborhood_fn.reseed(mix_seed(c.seed, epoch, index, 4, w.rank))
        blocks = sample_blocks(torch.cat(seeds), self.num_layers, self.neighborhood_fn).to(dev)
        inputs = self.features.index_select(0, blocks.input_ids.to(self.features.device)).to(dev)
        return Minibatch(epoch, index, q, pos, neg, shared_negative_mask(neg, q, pos), hard_ids, hard_mask,
                         blocks, inputs, share=share.numel() * w.size / n)

    @property
    def ranks_device(self) -> torch.device:
        r = self.ranks
        if isinstance(r, LazyRanks):
            return r.graph.device
        if isinstance(r, PrecomputedRanks):
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
                        generator=torch.Generator().manual_seed(mix_seed(producer.config.seed, epoch, start, 5)))
    return iter(loader)
