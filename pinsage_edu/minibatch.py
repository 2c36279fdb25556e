"""§3.2, Algorithm 2 (the sampling half): layered node sets for a minibatch, re-indexed to local ids.

For a minibatch M of target items and K convolution layers, the node sets are built bottom-up::

    S⁽ᴷ⁾ = M,      S⁽ᵏ⁻¹⁾ = S⁽ᵏ⁾ ∪ ⋃_{u ∈ S⁽ᵏ⁾} N(u)      (k = K, …, 1)

and the model then computes h⁽¹⁾ on S⁽¹⁾, …, h⁽ᴷ⁾ on S⁽ᴷ⁾ = M. Each layer is a :class:`Block`: the
source nodes S⁽ᵏ⁻¹⁾ as global ids, **the destination nodes S⁽ᵏ⁾ first** (so a node's own previous
embedding is row i of the layer below), and every destination's T neighbours as *local* row numbers
into the source nodes. The GPU then sees a small dense problem with no global ids in it; only
``Blocks.input_ids`` (S⁽⁰⁾) is needed to gather the feature rows.

A node's neighbourhood N(u) is fetched once per minibatch and reused by every layer it appears in
(u ∈ S⁽ᴷ⁾ is also in S⁽ᴷ⁻¹⁾), as in the paper, where N(u) is a property of u, not of the layer.
``neighborhood_fn`` is any callable ``seeds → Neighborhoods``: a :class:`NeighborhoodSampler` walks
afresh for every minibatch (the paper's producer), a :class:`NeighborhoodTable` looks up
neighbourhoods computed once for every item (cheap on small catalogues, and deterministic).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch

from .graph import BipartiteGraph
from .utils import TensorFields, check_positive_int, id_vector, make_generator
from .walks import Neighborhoods, importance_neighborhoods, uniform_neighborhoods

__all__ = ["Block", "Blocks", "NeighborhoodFn", "NeighborhoodSampler", "NeighborhoodTable", "sample_blocks"]

NeighborhoodFn = Callable[[torch.Tensor], Neighborhoods]


@dataclass(frozen=True)
class Block(TensorFields):
    """One convolution layer of a minibatch: from the nodes S⁽ᵏ⁻¹⁾ (sources) to S⁽ᵏ⁾ (destinations).

    * ``src_ids``: LongTensor [N_src], global item ids of S⁽ᵏ⁻¹⁾; the first ``num_dst`` are S⁽ᵏ⁾.
    * ``neighbors``: LongTensor [N_dst, T], each destination's neighbours as rows of ``src_ids``
      (−1 on padding).
    * ``weights``: FloatTensor [N_dst, T], the importance weights α (0 on padding).
    * ``mask``: BoolTensor [N_dst, T], True on real neighbours.
    """

    src_ids: torch.Tensor
    neighbors: torch.Tensor
    weights: torch.Tensor
    mask: torch.Tensor

    @property
    def num_dst(self) -> int:
        return int(self.neighbors.shape[0])

    @property
    def num_src(self) -> int:
        return int(self.src_ids.shape[0])

    @property
    def dst_ids(self) -> torch.Tensor:
        """LongTensor [N_dst]: global ids of the destination nodes (a prefix of ``src_ids``)."""
        return self.src_ids[: self.num_dst]


@dataclass(frozen=True)
class Blocks:
    """Algorithm 2's sampled computation graph for one minibatch.

    * ``layers``: K blocks, ``layers[0]`` from S⁽⁰⁾ to S⁽¹⁾, …, ``layers[K-1]`` from S⁽ᴷ⁻¹⁾ to S⁽ᴷ⁾.
    * ``seeds``: LongTensor [B], the minibatch as given (repeats allowed: a shared negative may also
      be some query's positive).
    * ``seed_index``: LongTensor [B], the row of each seed among S⁽ᴷ⁾ (which holds each item once).
    """

    layers: tuple[Block, ...]
    seeds: torch.Tensor
    seed_index: torch.Tensor

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def input_ids(self) -> torch.Tensor:
        """LongTensor [|S⁽⁰⁾|]: the items whose features the first layer reads."""
        return self.layers[0].src_ids

    @property
    def node_ids(self) -> list[torch.Tensor]:
        """Global ids of S⁽⁰⁾, S⁽¹⁾, …, S⁽ᴷ⁾ (each set's items once, its destinations first)."""
        return [b.src_ids for b in self.layers] + [self.layers[-1].dst_ids]

    @property
    def sizes(self) -> list[int]:
        """|S⁽⁰⁾|, …, |S⁽ᴷ⁾|."""
        return [int(ids.numel()) for ids in self.node_ids]

    @property
    def device(self) -> torch.device:
        return self.seeds.device

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Blocks":
        """Every tensor of every layer on ``device`` (one call; ``non_blocking`` for pinned memory)."""
        return Blocks(tuple(b.to(device, non_blocking=non_blocking) for b in self.layers),
                      self.seeds.to(device, non_blocking=non_blocking),
                      self.seed_index.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> "Blocks":
        """Page-locked copies, so that a consumer's ``.to("cuda", non_blocking=True)`` overlaps compute."""
        return Blocks(tuple(b.pin_memory() for b in self.layers), self.seeds.pin_memory(),
                      self.seed_index.pin_memory())


def _as_seed_tensor(seeds: Any) -> torch.Tensor:
    t = id_vector(seeds, "seeds")
    if t.numel() and int(t.min()) < 0:
        raise ValueError(f"seeds hold a negative id ({int(t.min())}): item ids start at 0")
    return t


def _extend(dst: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """S⁽ᵏ⁻¹⁾ = S⁽ᵏ⁾ then the newly reached ids (increasing), and every neighbour's row in it (−1 on padding).

    When the ids span a range not much larger than the work (always, on catalogues up to a few
    million items), a dense position table does it in O(range + T·|S⁽ᵏ⁾|) with no sort; otherwise
    sorts and binary searches do.
    """
    nb = ids[mask]
    space = max(int(nb.max()) if nb.numel() else -1, int(dst.max()) if dst.numel() else -1) + 1
    if space <= max(1 << 22, 8 * (nb.numel() + dst.numel())):
        reached = torch.zeros(space, dtype=torch.bool, device=dst.device)
        reached[nb] = True
        reached[dst] = False
        new = torch.nonzero(reached).squeeze(1)
        src = torch.cat([dst, new])
        pos = torch.full((space,), -1, dtype=torch.long, device=dst.device)
        pos[src] = torch.arange(src.numel(), device=dst.device)
        return src, torch.where(mask, pos[ids.clamp_min(0)], torch.full_like(ids, -1))
    reached = torch.unique(nb)
    src = torch.cat([dst, reached[~torch.isin(reached, dst)]])
    sorted_src, perm = torch.sort(src)
    local = perm.index_select(0, torch.searchsorted(sorted_src, ids.clamp_min(0).reshape(-1))).view(ids.shape)
    return src, torch.where(mask, local, torch.full_like(ids, -1))


class _NeighborhoodCache:
    """Neighbourhoods fetched so far in this minibatch, so every node's N(u) is asked for once."""

    def __init__(self, fn: NeighborhoodFn):
        self.fn = fn
        self.ids: torch.Tensor | None = None  # sorted global ids
        self.nb: Neighborhoods | None = None  # rows aligned with self.ids

    def __call__(self, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        need = nodes if self.ids is None else nodes[~torch.isin(nodes, self.ids)]
        if need.numel() or self.nb is None:
            got = self.fn(need)
            if not isinstance(got, Neighborhoods):
                raise TypeError(f"neighborhood_fn must return a Neighborhoods, got {type(got).__name__}")
            if len(got) != need.numel():
                raise ValueError(f"neighborhood_fn returned {len(got)} neighbourhoods for {need.numel()} seeds")
            if self.nb is not None and got.num_neighbors != self.nb.num_neighbors:
                raise ValueError(f"neighborhood_fn changed T from {self.nb.num_neighbors} to {got.num_neighbors}")
            if self.nb is None:
                ids, nb = need, got
            else:
                ids = torch.cat([self.ids, need])
                nb = Neighborhoods(*(torch.cat([a, b]) for a, b in
                                     ((self.nb.seeds, got.seeds), (self.nb.ids, got.ids),
                                      (self.nb.weights, got.weights), (self.nb.mask, got.mask))))
            order = torch.argsort(ids)
            self.ids = ids.index_select(0, order)
            self.nb = Neighborhoods(nb.seeds.index_select(0, order), nb.ids.index_select(0, order),
                                    nb.weights.index_select(0, order), nb.mask.index_select(0, order))
        rows = torch.searchsorted(self.ids, nodes)
        return (self.nb.ids.index_select(0, rows), self.nb.weights.index_select(0, rows),
                self.nb.mask.index_select(0, rows))


def sample_blocks(seeds: Any, num_layers: int, neighborhood_fn: NeighborhoodFn) -> Blocks:
    """Algorithm 2's node sets S⁽ᴷ⁾ = seeds, S⁽ᵏ⁻¹⁾ = S⁽ᵏ⁾ ∪ N(S⁽ᵏ⁾), deduplicated and re-indexed.

    ``seeds`` (item ids, repeats allowed) are moved to the device of the neighbourhoods that
    ``neighborhood_fn`` returns; everything after is vectorised (a position table, or sorts and
    binary searches on huge id ranges).
    Within each set the destination nodes come first, in the order of the set above; the nodes
    new to the set follow in increasing id.
    """
    K = check_positive_int("num_layers", num_layers)
    seeds = _as_seed_tensor(seeds)
    seeds = seeds.to(_device_of(neighborhood_fn, seeds))
    # A table is a lookup already; anything else is asked once per node and minibatch.
    fetch = neighborhood_fn.lookup if isinstance(neighborhood_fn, NeighborhoodTable) else _NeighborhoodCache(
        neighborhood_fn)
    dst, seed_index = torch.unique(seeds, return_inverse=True)  # S⁽ᴷ⁾: each item once, sorted
    layers: list[Block] = []
    for _ in range(K):
        ids, weights, mask = fetch(dst)
        if ids.device != dst.device:
            raise ValueError(f"neighborhood_fn returned tensors on {ids.device} for seeds on {dst.device}")
        src, local = _extend(dst, ids, mask)
        layers.append(Block(src_ids=src, neighbors=local, weights=weights, mask=mask))
        dst = src
    return Blocks(tuple(reversed(layers)), seeds, seed_index)


def _device_of(fn: NeighborhoodFn, fallback: torch.Tensor) -> torch.device:
    dev = getattr(fn, "device", None)
    return torch.device(dev) if dev is not None else fallback.device


class NeighborhoodSampler:
    """``seeds → Neighborhoods`` by fresh random walks on every call (the paper's per-minibatch sampling).

    ``method="importance"`` calls :func:`~pinsage_edu.walks.importance_neighborhoods` (extra keyword
    arguments such as ``num_walks`` pass through), ``"uniform"`` calls
    :func:`~pinsage_edu.walks.uniform_neighborhoods` (the GraphSAGE comparison). One generator on
    the graph's device is kept, so a sequence of minibatches is reproducible from ``generator``.
    """

    def __init__(self, graph: BipartiteGraph, num_neighbors: int = 50, *, method: str = "importance",
                 generator: torch.Generator | int | None = None, **walk_kwargs: Any):
        if method not in ("importance", "uniform"):
            raise ValueError(f"method must be 'importance' or 'uniform', got {method!r}")
        self.graph, self.method, self.walk_kwargs = graph, method, walk_kwargs
        self.num_neighbors = check_positive_int("num_neighbors", num_neighbors)
        self.generator = make_generator(generator, graph.device)

    @property
    def device(self) -> torch.device:
        return self.graph.device

    def reseed(self, seed: int) -> None:
        """Restart the walks' generator from ``seed``: the trainer does this per minibatch, so a
        minibatch's neighbourhoods depend only on its own seed, whichever process draws it."""
        self.generator.manual_seed(int(seed))

    def __call__(self, seeds: torch.Tensor) -> Neighborhoods:
        fn = importance_neighborhoods if self.method == "importance" else uniform_neighborhoods
        return fn(self.graph, seeds, self.num_neighbors, generator=self.generator, **self.walk_kwargs)


class NeighborhoodTable:
    """Neighbourhoods of every item, computed once; calling it looks rows up (no walking).

    ``NeighborhoodTable.build(graph, T, ...)`` walks from every item in chunks (same arguments as
    :class:`NeighborhoodSampler`); ``NeighborhoodTable(neighborhoods)`` wraps neighbourhoods you
    already have, which must hold every item ``0 … num_items − 1`` in order.
    """

    def __init__(self, neighborhoods: Neighborhoods):
        n = len(neighborhoods)
        if not torch.equal(neighborhoods.seeds.cpu(), torch.arange(n)):
            raise ValueError("a NeighborhoodTable needs the neighbourhoods of items 0 … N−1, in order")
        self.table = neighborhoods

    @classmethod
    def build(cls, graph: BipartiteGraph, num_neighbors: int = 50, *, method: str = "importance",
              generator: torch.Generator | int | None = None, **walk_kwargs: Any) -> "NeighborhoodTable":
        sampler = NeighborhoodSampler(graph, num_neighbors, method=method, generator=generator, **walk_kwargs)
        return cls(sampler(torch.arange(graph.num_items, device=graph.device)))

    @property
    def num_items(self) -> int:
        return len(self.table)

    @property
    def num_neighbors(self) -> int:
        return self.table.num_neighbors

    @property
    def device(self) -> torch.device:
        return self.table.ids.device

    def to(self, device: torch.device | str) -> "NeighborhoodTable":
        return NeighborhoodTable(self.table.to(device))

    def lookup(self, seeds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(ids, weights, mask)`` rows of ``seeds`` (what :func:`sample_blocks` reads)."""
        nb = self(seeds)
        return nb.ids, nb.weights, nb.mask

    def __call__(self, seeds: torch.Tensor) -> Neighborhoods:
        s = seeds.to(self.device)
        if s.numel() and (int(s.min()) < 0 or int(s.max()) >= self.num_items):
            bad = s[(s < 0) | (s >= self.num_items)][0]
            raise ValueError(f"seed {int(bad)} is not an item id: this table holds items 0..{self.num_items - 1}")
        t = self.table
        return Neighborhoods(s, t.ids.index_select(0, s), t.weights.index_select(0, s), t.mask.index_select(0, s))
