"""§3.2 Importance-based neighbourhoods: random walks, visit counts and personalized PageRank.

PinSage does not convolve over *all* k-hop neighbours. The neighbourhood of an item ``u`` is the T
items that influence ``u`` most: run short random walks item → collection → item from ``u``, count
how often each item is visited, keep the T most visited and L1-normalise their counts into
importance weights α. In the limit of many walks the normalised counts are personalized PageRank
(PPR) scores with respect to ``u``; the hard negatives of §3.3 are drawn from the same ranking.

Everything here is vectorised in torch: all walks of a batch advance together (the only Python loop
is over the few traversals of a walk), randomness comes from a ``torch.Generator`` passed in, and
the work runs on whatever device the graph lives on.

One **traversal** is two hops, item → collection → item (DGL's ``PinSAGESampler`` calls the same
thing a traversal; a **walk step** in the benchmark is one hop). After each traversal a walk stops
with probability ``termination_prob``; with ``restart_prob`` it jumps back to its seed before the
next traversal (Pixie's restart). ``num_traversals`` caps the length.

**Edge weights.** Hops are uniform by default, as in the paper and DGL's sampler. With
``weighted=True`` (on a graph that has weights) each hop is biased by the edge weight: item ``i``
moves to collection ``c`` with probability w(i, c) / Σ_c' w(i, c'), and collection ``c`` to item
``j`` with probability w(j, c) / Σ_j' w(j', c); exact PPR then uses the same two transition matrices,
so both views of "importance" agree. Zero-weight edges are never taken, except that a node whose
edges all weigh zero steps uniformly. Why not weighted by default: on goodbooks (weight = how many
readers shelved a book under a name) weighted walks pour through the giant generic shelves
("to-read", "favorites") and return popular books rather than related ones; uniform walks give
each shelf a book is on an equal say.

Main entry points: :func:`random_walks` (full traces, for pictures), :func:`visit_counts`,
:func:`importance_neighborhoods` and :func:`top_neighbors` (the top-T cut),
:func:`uniform_neighborhoods` (GraphSAGE's alternative), :func:`personalized_pagerank`,
:func:`monte_carlo_ppr` and :func:`ppr_rank`. The walker itself (:func:`walk_steps`), the counting
(:func:`count_visits`) and the per-row top-k (:func:`top_per_row`) are public too: the Pixie
baseline (:mod:`pinsage_edu.baselines`) is built from them.
"""

from __future__ import annotations

import math
import warnings
import weakref
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch

from .graph import BipartiteGraph
from .utils import TensorFields, check_items, check_positive_int, check_prob, concat_ranges, make_generator

__all__ = [
    "Walks",
    "VisitCounts",
    "Neighborhoods",
    "PPRRanking",
    "random_walks",
    "visit_counts",
    "top_neighbors",
    "importance_neighborhoods",
    "uniform_neighborhoods",
    "personalized_pagerank",
    "monte_carlo_ppr",
    "ppr_rank",
    "walk_steps",
    "count_visits",
    "random_tie_order",
    "top_per_row",
    "check_weighted",
]

_LOW31 = (1 << 31) - 1


# ====================================================================== typed results
@dataclass(frozen=True)
class Walks(TensorFields):
    """Full traces of random walks, ``num_walks`` per seed, walk ``w`` belonging to seed ``w // num_walks``.

    * ``items``: LongTensor [W, num_traversals + 1] — column 0 is the seed, column t the item reached
      by traversal t, ``-1`` once the walk has stopped.
    * ``collections``: LongTensor [W, num_traversals] — the collection passed through in traversal t
      (``-1`` once stopped). With restarts, traversal t + 1 may start from the seed rather than from
      ``items[:, t]``.
    """

    seeds: torch.Tensor  # LongTensor [S]
    items: torch.Tensor  # LongTensor [S * num_walks, num_traversals + 1]
    collections: torch.Tensor  # LongTensor [S * num_walks, num_traversals]
    num_walks: int

    @property
    def seed_index(self) -> torch.Tensor:
        """LongTensor [W]: which seed (position in ``seeds``) each walk started from."""
        return torch.arange(self.items.shape[0], device=self.items.device) // self.num_walks

    @property
    def lengths(self) -> torch.Tensor:
        """LongTensor [W]: traversals each walk made (0 for a seed with no collections)."""
        return (self.collections >= 0).sum(1)

    @property
    def num_steps(self) -> int:
        """Hops taken in total (two per traversal: item → collection, collection → item)."""
        return 2 * int(self.lengths.sum())


@dataclass(frozen=True)
class VisitCounts(TensorFields):
    """How often walks from each seed visited each item — a sparse [S, num_items] count matrix.

    Entries are sorted by seed position (``rows``), then by item id. ``num_walks`` is the number of
    walks per seed, so ``counts / num_walks`` is the expected number of visits per walk.
    """

    seeds: torch.Tensor  # LongTensor [S]
    rows: torch.Tensor  # LongTensor [M]: position of the seed in ``seeds``
    items: torch.Tensor  # LongTensor [M]
    counts: torch.Tensor  # LongTensor [M], > 0
    num_items: int
    num_walks: int

    def of(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(items, counts)`` visited from the ``i``-th seed, most visited first (ties: smaller id first)."""
        if not 0 <= i < self.seeds.numel():
            raise IndexError(f"seed position {i} out of range: these counts hold {self.seeds.numel()} seeds")
        lo, hi = torch.searchsorted(self.rows, torch.tensor([i, i + 1], device=self.rows.device)).tolist()
        items, counts = self.items[lo:hi], self.counts[lo:hi]
        order = torch.sort(-counts, stable=True).indices
        return items[order], counts[order]

    def dense(self) -> torch.Tensor:
        """LongTensor [S, num_items] (for small graphs and pictures)."""
        out = torch.zeros(self.seeds.numel(), self.num_items, dtype=torch.long, device=self.counts.device)
        out[self.rows, self.items] = self.counts
        return out

    def totals(self) -> torch.Tensor:
        """LongTensor [S]: visits counted per seed."""
        return torch.zeros(self.seeds.numel(), dtype=torch.long, device=self.counts.device).index_add_(
            0, self.rows, self.counts)


@dataclass(frozen=True)
class Neighborhoods(TensorFields):
    """Fixed-size neighbourhoods: for seed ``s = seeds[b]``, neighbours ``ids[b, :]`` with weights ``weights[b, :]``.

    * ``ids``: LongTensor [N, T], ``-1`` where a seed has fewer than T neighbours (padding).
    * ``weights``: FloatTensor [N, T], ≥ 0, summing to 1 over the kept entries of each row (0 on
      padding; a row with no neighbour at all sums to 0).
    * ``mask``: BoolTensor [N, T], True on real neighbours. Real neighbours come first in each row,
      ordered by importance (most visited first).
    """

    seeds: torch.Tensor
    ids: torch.Tensor
    weights: torch.Tensor
    mask: torch.Tensor

    @property
    def num_neighbors(self) -> int:
        """T, the width of the neighbourhood tensors."""
        return int(self.ids.shape[1])

    @property
    def sizes(self) -> torch.Tensor:
        """LongTensor [N]: real (unpadded) neighbours per seed."""
        return self.mask.sum(1)

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class PPRRanking(TensorFields):
    """Items ranked by personalized PageRank from each query (the query itself excluded by default).

    ``ids[q, r]`` is the item at rank ``r`` (0 = highest score) for ``queries[q]``, ``scores`` its PPR
    score (a probability: the share of time a walk with restart spends at that item). Items never
    reached (score 0) are not ranked: their entries are ``-1`` with ``mask`` False. Ties are broken
    by the smaller item id.
    """

    queries: torch.Tensor  # LongTensor [Q]
    ids: torch.Tensor  # LongTensor [Q, k]
    scores: torch.Tensor  # FloatTensor [Q, k]
    mask: torch.Tensor  # BoolTensor [Q, k]


# ====================================================================== walking
class _HopTable:
    """One CSR half prepared for sampling: start and degree packed in one int64 (one random gather per hop).

    ``packed[v] = start[v] << shift | degree[v]``. For weighted hops, ``cum`` is the running sum
    (float64, leading 0) of each edge's probability *within its node* (:func:`_row_probabilities`),
    so ``cum[start_v] = v`` up to rounding whatever the weights' scale, and a weighted pick is one
    ``searchsorted``: edge e of node v is chosen when
    ``cum[e] ≤ cum[start_v] + u · (cum[end_v] − cum[start_v]) < cum[e + 1]``.
    """

    def __init__(self, indptr: torch.Tensor, indices: torch.Tensor, weights: torch.Tensor | None):
        deg = indptr[1:] - indptr[:-1]
        self.shift = max(1, int(deg.max()).bit_length()) if deg.numel() else 1
        self.mask = (1 << self.shift) - 1
        self.packed = (indptr[:-1] << self.shift) | deg
        self.degree = deg
        self.indices = indices
        self.cum = None
        if weights is not None:
            self.cum = torch.zeros(weights.numel() + 1, dtype=torch.float64, device=weights.device)
            torch.cumsum(_row_probabilities(indptr, weights), 0, out=self.cum[1:])

    def hop(self, nodes: torch.Tensor, r: torch.Tensor, weighted: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """One neighbour of each node (all nodes have degree ≥ 1); ``r``: 63 random bits per node.

        Returns ``(neighbours, edge positions)``. The uniform pick uses the top 32 random bits:
        ``offset = (u32 · degree) >> 32`` — bias below degree / 2³², no float rounding at the top end.
        """
        pk = self.packed.index_select(0, nodes)
        start, deg = pk >> self.shift, pk & self.mask
        if weighted and self.cum is not None:
            lo, hi = self.cum.index_select(0, start), self.cum.index_select(0, start + deg)
            u = (r >> 31).to(torch.float64) * (2.0 ** -32)  # the top 32 random bits, in [0, 1)
            e = torch.searchsorted(self.cum, lo + u * (hi - lo), right=True) - 1
            e = torch.minimum(torch.maximum(e, start), start + deg - 1)
        else:
            e = start + (((r >> 31) * deg) >> 32)
        return self.indices.index_select(0, e), e


def _row_probabilities(indptr: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Float64 [E]: each edge's weight divided by its node's total — the probability of taking it.

    A node whose edges all weigh zero steps uniformly (1 / degree): walks and exact PPR share this
    rule, so they never disagree about where such a node's mass goes.
    """
    deg = indptr[1:] - indptr[:-1]
    row = torch.repeat_interleave(torch.arange(deg.numel(), device=indptr.device), deg)
    w = weights.to(torch.float64)
    total = torch.zeros(deg.numel(), dtype=torch.float64, device=w.device).index_add_(0, row, w)
    t = total.index_select(0, row)
    uniform = 1.0 / deg.index_select(0, row).clamp_min(1).to(torch.float64)
    return torch.where(t > 0, w / t.clamp_min(torch.finfo(torch.float64).tiny), uniform)


class _Tables:
    def __init__(self, g: BipartiteGraph):
        self.items = _HopTable(g.item_indptr, g.item_indices, g.item_weights)
        self.colls = _HopTable(g.coll_indptr, g.coll_indices, g.coll_weights)


_TABLES: "weakref.WeakKeyDictionary[BipartiteGraph, _Tables]" = weakref.WeakKeyDictionary()


def _tables(graph: BipartiteGraph) -> _Tables:
    """Sampling tables, built once per graph object (graphs are immutable) and freed with it."""
    t = _TABLES.get(graph)
    if t is None:
        t = _Tables(graph)
        _TABLES[graph] = t
    return t


def check_weighted(graph: BipartiteGraph, weighted: bool) -> bool:
    """``weighted`` if it is a bool the graph can honour (``True`` needs edge weights), else ValueError."""
    if not isinstance(weighted, bool):
        raise ValueError(f"weighted must be True or False, got {weighted!r}")
    if weighted and not graph.weighted:
        raise ValueError("weighted=True but the graph has no edge weights")
    return weighted


def walk_steps(graph: BipartiteGraph, start: torch.Tensor, *, num_traversals: int, termination_prob: float,
               restart_prob: float, weighted: bool, generator: torch.Generator, with_collections: bool = False,
               ) -> list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]]:
    """Advance one walk per entry of ``start`` (item ids) for up to ``num_traversals`` traversals.

    Returns, per traversal t, ``(walk ids, collections or None, items reached)`` for the walks still
    going in that traversal. Walks from items with no collections never move. Stopped walks are
    dropped from the working set, so the cost follows the walks actually alive (≈ 1/termination_prob
    traversals each), not the cap.
    """
    tab = _tables(graph)
    dev = start.device
    walk = torch.arange(start.numel(), device=dev)
    can_move = tab.items.degree.index_select(0, start) > 0
    if not bool(can_move.all()):
        walk = torch.nonzero(can_move).squeeze(1)
    cur = start.index_select(0, walk)
    stop_thr = round(termination_prob * 2**31)
    restart_thr = round(restart_prob * 2**31)
    out: list[tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]] = []
    for t in range(num_traversals):
        n = walk.numel()
        if n == 0:
            break
        r = torch.empty(2, n, dtype=torch.long, device=dev).random_(generator=generator)
        coll, _ = tab.items.hop(cur, r[0], weighted)
        cur, _ = tab.colls.hop(coll, r[1], weighted)
        out.append((walk, coll if with_collections else None, cur))
        if t == num_traversals - 1:
            break
        # Low 31 bits of the first draw decide termination, of the second the restart (the top 32
        # bits already chose the neighbours, so the decisions are independent of the picks).
        if stop_thr > 0:
            alive = torch.nonzero((r[0] & _LOW31) >= stop_thr).squeeze(1)
            walk, cur = walk.index_select(0, alive), cur.index_select(0, alive)
            if restart_thr > 0:
                r1 = r[1].index_select(0, alive)
        elif restart_thr > 0:
            r1 = r[1]
        if restart_thr > 0:
            cur = torch.where((r1 & _LOW31) < restart_thr, start.index_select(0, walk), cur)
    return out


def _walk_args(num_walks: int, num_traversals: int, termination_prob: float, restart_prob: float) -> tuple:
    return (check_positive_int("num_walks", num_walks), check_positive_int("num_traversals", num_traversals),
            check_prob("termination_prob", termination_prob), check_prob("restart_prob", restart_prob))


def random_walks(graph: BipartiteGraph, seeds: Any, *, num_walks: int = 10, num_traversals: int = 3,
                 termination_prob: float = 0.5, restart_prob: float = 0.0, weighted: bool = False,
                 generator: torch.Generator | int | None = None) -> Walks:
    """``num_walks`` random walks item → collection → item from each seed, with their full traces.

    For pictures and teaching; :func:`visit_counts` and :func:`importance_neighborhoods` use the same
    walker without materialising traces. See the module docstring for the parameters.
    """
    num_walks, num_traversals, termination_prob, restart_prob = _walk_args(
        num_walks, num_traversals, termination_prob, restart_prob)
    seeds = check_items(graph, seeds)
    gen = make_generator(generator, graph.device)
    start = seeds.repeat_interleave(num_walks)
    W = start.numel()
    items = torch.full((W, num_traversals + 1), -1, dtype=torch.long, device=graph.device)
    colls = torch.full((W, num_traversals), -1, dtype=torch.long, device=graph.device)
    items[:, 0] = start
    for t, (walk, c, it) in enumerate(walk_steps(graph, start, num_traversals=num_traversals,
                                                 termination_prob=termination_prob, restart_prob=restart_prob,
                                                 weighted=check_weighted(graph, weighted), generator=gen,
                                                 with_collections=True)):
        items[walk, t + 1] = it
        colls[walk, t] = c  # type: ignore[index]
    return Walks(seeds=seeds, items=items, collections=colls, num_walks=num_walks)


def count_visits(rows: torch.Tensor, items: torch.Tensor, num_rows: int, num_items: int,
                 values: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sum duplicate ``(row, item)`` entries: returns ``(rows, items, totals)`` sorted by row then item.

    ``values=None`` counts occurrences. Sorting int32 keys when they fit is about twice as fast.
    """
    key = rows * num_items + items
    if num_rows * num_items < 2**31:
        key = key.to(torch.int32)
    if values is None:
        key = torch.sort(key).values
        uniq, totals = torch.unique_consecutive(key, return_counts=True)
    else:
        key, order = torch.sort(key)
        uniq, inverse = torch.unique_consecutive(key, return_inverse=True)
        totals = torch.zeros(uniq.numel(), dtype=values.dtype, device=values.device).index_add_(
            0, inverse, values.index_select(0, order))
    uniq = uniq.to(torch.long)
    r = torch.div(uniq, num_items, rounding_mode="floor") if num_items else uniq
    return r, uniq - r * num_items, totals


def _visits(graph: BipartiteGraph, seeds: torch.Tensor, *, num_walks: int, num_traversals: int,
            termination_prob: float, restart_prob: float, include_seed: bool, weighted: bool,
            generator: torch.Generator | int | None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Every visit of the walks from ``seeds`` as ``(row, item)`` pairs (row = the seed's position), uncounted."""
    num_walks, num_traversals, termination_prob, restart_prob = _walk_args(
        num_walks, num_traversals, termination_prob, restart_prob)
    gen = make_generator(generator, graph.device)
    start = seeds.repeat_interleave(num_walks)
    steps = walk_steps(graph, start, num_traversals=num_traversals, termination_prob=termination_prob,
                       restart_prob=restart_prob, weighted=check_weighted(graph, weighted), generator=gen)
    if steps:
        walk = torch.cat([w for w, _, _ in steps])
        items = torch.cat([it for _, _, it in steps])
    else:
        walk = items = torch.zeros(0, dtype=torch.long, device=graph.device)
    rows = torch.div(walk, num_walks, rounding_mode="floor")
    if not include_seed:
        keep = torch.nonzero(items != start.index_select(0, walk)).squeeze(1)
        rows, items = rows.index_select(0, keep), items.index_select(0, keep)
    return rows, items, num_walks


def visit_counts(graph: BipartiteGraph, seeds: Any, *, num_walks: int = 200, num_traversals: int = 3,
                 termination_prob: float = 0.5, restart_prob: float = 0.0, include_seed: bool = False,
                 weighted: bool = False, generator: torch.Generator | int | None = None) -> VisitCounts:
    """Visits per item of ``num_walks`` walks from each seed (the seed's own start is never counted).

    ``include_seed=False`` also drops the walks' returns to their own seed (the paper's neighbourhood
    of u does not contain u).
    """
    seeds = check_items(graph, seeds)
    rows, items, num_walks = _visits(graph, seeds, num_walks=num_walks, num_traversals=num_traversals,
                                     termination_prob=termination_prob, restart_prob=restart_prob,
                                     include_seed=include_seed, weighted=weighted, generator=generator)
    S = seeds.numel()
    r, it, c = count_visits(rows, items, S, graph.num_items)
    return VisitCounts(seeds=seeds, rows=r, items=it, counts=c, num_items=graph.num_items, num_walks=num_walks)


def _top_dense(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-``k`` positive entries of each row of a dense FloatTensor [R, N], ties to the smaller column.

    One int64 key per entry — the float's bit pattern (order-preserving for non-negative floats) in
    the high 32 bits, ``N − 1 − column`` in the low 32 — so a single ``topk`` is exact and deterministic.
    """
    R, N = scores.shape
    dev = scores.device
    kk = min(k, N)
    ids = torch.full((R, k), -1, dtype=torch.long, device=dev)
    vals = torch.zeros((R, k), dtype=torch.float32, device=dev)
    mask = torch.zeros((R, k), dtype=torch.bool, device=dev)
    if kk == 0 or R == 0:
        return ids, vals, mask
    s = scores.to(torch.float32).clamp_min(0.0).contiguous()
    key = (s.view(torch.int32).to(torch.long) << 32) | (N - 1 - torch.arange(N, device=dev))
    top = torch.topk(key, kk, dim=1).values
    found = top >= (1 << 32)  # score > 0
    col = N - 1 - (top & 0xFFFFFFFF)
    ids[:, :kk] = torch.where(found, col, -1)
    vals[:, :kk] = torch.where(found, torch.gather(s, 1, col), 0.0)
    mask[:, :kk] = found
    return ids, vals, mask


def top_per_row(rows: torch.Tensor, items: torch.Tensor, values: torch.Tensor, num_rows: int, k: int, *,
                tie: torch.Tensor | None = None, tie_range: int = 0,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``k`` largest ``values`` of each row; equal values ordered by ``tie`` (smaller first).

    Entries must be grouped by row (``rows`` non-decreasing) with positive values. ``tie`` is an
    integer per entry in ``[0, tie_range)``, distinct within a row; without it, ties go to the
    earlier entry (the smaller item when entries are sorted by (row, item)). Returns ``(ids [R, k],
    values [R, k], mask [R, k])``, padded with ``-1`` / 0 / False. Vectorised: every row is laid out
    in a padded [R, D] matrix of integer keys ``value · M + (M − 1 − tie)`` — distinct within a row
    and ordered by (value desc, tie asc) — and one ``topk`` picks all rows at once. Non-negative
    float32 values keep their order when read as int32 bit patterns, so counts and scores share the path.
    """
    dev = rows.device
    if values.is_floating_point():
        ikey = values.to(torch.float32).contiguous().view(torch.int32).to(torch.long)
    else:
        ikey = values.to(torch.long)
    per_row = torch.bincount(rows, minlength=num_rows) if rows.numel() else torch.zeros(
        num_rows, dtype=torch.long, device=dev)
    starts = torch.cumsum(per_row, 0) - per_row
    D = int(per_row.max()) if num_rows else 0
    ids = torch.full((num_rows, k), -1, dtype=torch.long, device=dev)
    vals = torch.zeros((num_rows, k), dtype=values.dtype, device=dev)
    if D == 0:
        return ids, vals, torch.zeros((num_rows, k), dtype=torch.bool, device=dev)
    pos = torch.arange(rows.numel(), device=dev) - starts.index_select(0, rows)
    if tie is None:
        tie, tie_range = pos, D
    packed = torch.full((num_rows * D,), -1, dtype=torch.long, device=dev)
    packed.index_copy_(0, rows * D + pos, ikey * tie_range + (tie_range - 1 - tie))
    kk = min(k, D)
    top, where = torch.topk(packed.view(num_rows, D), kk, dim=1)  # where: the entry's position in its row
    found = top >= 0
    flat = (starts.unsqueeze(1) + where).clamp(0, max(rows.numel() - 1, 0))
    ids[:, :kk] = torch.where(found, items[flat], -1)
    vals[:, :kk] = torch.where(found, values[flat], torch.zeros((), dtype=values.dtype, device=dev))
    mask = torch.zeros((num_rows, k), dtype=torch.bool, device=dev)
    mask[:, :kk] = found
    return ids, vals, mask


def random_tie_order(rows: torch.Tensor, items: torch.Tensor, num_rows: int, num_items: int,
                     generator: torch.Generator) -> torch.Tensor:
    """A random relabelling of each row's items, for breaking ties: ``(a·v + b_row) mod N``.

    ``a`` (coprime to N, one per call) and ``b_row`` (one shift per row) are drawn from ``generator``,
    so the map is a bijection of the item ids — distinct within a row — at the cost of two element-wise
    operations per entry and no sort. It is not a uniform permutation: within one call the shared ``a``
    makes rows' orders related, but over calls (every minibatch draws afresh) each of two tied items
    comes first half the time, so no item is favoured for its id.
    """
    N, dev = num_items, rows.device
    if N < 2:
        return torch.zeros_like(items)
    a = 1
    if N >= 3:
        a = int(torch.randint(1, N, (1,), generator=generator, device=dev))
        while math.gcd(a, N) != 1:
            a = a % (N - 1) + 1
    b = torch.randint(0, N, (num_rows,), generator=generator, device=dev)
    return torch.remainder(items * a + b.index_select(0, rows), N)


def top_neighbors(visits: VisitCounts, num_neighbors: int, *,
                  generator: torch.Generator | int | None = None) -> Neighborhoods:
    """The top-T cut: each seed's ``num_neighbors`` most visited items, counts L1-normalised into α.

    ``α_v = c_v / Σ_{v' in top-T} c_v'`` — normalised over the *kept* neighbours, so each row sums to 1.
    Items tied on visits at the cut are ordered **at random** (:func:`random_tie_order`, drawn from
    ``generator``): at 200 walks most counts are small (a popular movie's runners-up are visited 3
    times each), so ties at the cut are the rule, and breaking them by the smaller id would tilt every
    neighbourhood towards low ids (in MovieLens, the oldest films). Seeds with fewer than T visited
    items are padded (id −1, weight 0, mask False).
    """
    T = check_positive_int("num_neighbors", num_neighbors)
    gen = make_generator(generator, visits.rows.device)
    S, N = visits.seeds.numel(), visits.num_items
    tie = random_tie_order(visits.rows, visits.items, S, N, gen)
    ids, counts, mask = top_per_row(visits.rows, visits.items, visits.counts, S, T, tie=tie, tie_range=max(N, 1))
    w = counts.to(torch.float32)
    w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
    return Neighborhoods(seeds=visits.seeds, ids=ids, weights=w, mask=mask)


def _importance_top(graph: BipartiteGraph, seeds: torch.Tensor, T: int, walk: dict[str, Any]) -> Neighborhoods:
    """Visit counts of fresh walks from ``seeds``, then :func:`top_neighbors` with the walks' generator."""
    rows, items, num_walks = _visits(graph, seeds, **walk)
    r, it, c = count_visits(rows, items, seeds.numel(), graph.num_items)
    visits = VisitCounts(seeds=seeds, rows=r, items=it, counts=c, num_items=graph.num_items, num_walks=num_walks)
    return top_neighbors(visits, T, generator=walk["generator"])


def importance_neighborhoods(graph: BipartiteGraph, seeds: Any, num_neighbors: int = 50, *, num_walks: int = 200,
                             num_traversals: int = 3, termination_prob: float = 0.5, restart_prob: float = 0.0,
                             keep_seed: bool = False, weighted: bool = False, chunk_size: int = 2048,
                             generator: torch.Generator | int | None = None) -> Neighborhoods:
    """PinSage's neighbourhoods (§3.2): the T most visited items of short random walks from each seed.

    Defaults follow DGL's documented ``PinSAGESampler`` example (the paper gives no walk settings):
    200 walks of at most 3 traversals, each stopping with probability 0.5 after a traversal; T = 50
    as in the paper. ``keep_seed=True`` lets the seed appear in its own neighbourhood when walks
    return to it. An item with no collections gets an empty (all-padding) neighbourhood. Seeds are
    walked ``chunk_size`` at a time, so memory stays bounded when a caller asks for every item of a
    large graph at once. Items tied on visits at the top-T cut are ordered at random (see
    :func:`top_neighbors`), not by id. Deterministic for a given generator state (and chunk size).
    """
    T = check_positive_int("num_neighbors", num_neighbors)
    chunk_size = check_positive_int("chunk_size", chunk_size)
    seeds = check_items(graph, seeds)
    gen = make_generator(generator, graph.device)
    walk = dict(num_walks=num_walks, num_traversals=num_traversals, termination_prob=termination_prob,
                restart_prob=restart_prob, include_seed=keep_seed, weighted=weighted, generator=gen)
    parts = [_importance_top(graph, seeds[lo:lo + chunk_size], T, walk) for lo in range(0, seeds.numel(), chunk_size)]
    if len(parts) == 1:
        return parts[0]
    if not parts:  # no seeds: still validate the walk arguments and return the empty shape
        return _importance_top(graph, seeds, T, walk)
    return Neighborhoods(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(Neighborhoods)})


def uniform_neighborhoods(graph: BipartiteGraph, seeds: Any, num_neighbors: int = 50, *,
                          generator: torch.Generator | int | None = None,
                          chunk_candidates: int = 1 << 23) -> Neighborhoods:
    """GraphSAGE-style neighbourhoods: T distinct two-hop items drawn uniformly, all weighted equally.

    Every item sharing a collection with the seed is equally likely, however many collections it
    shares and however big they are — the contrast the paper draws with importance sampling. A seed
    with fewer than T two-hop items keeps them all (padded). Candidates are enumerated exactly, in
    chunks of seeds holding at most ``chunk_candidates`` (collection, item) paths each (one seed may
    exceed it alone; its paths are bounded by the edge count).
    """
    T = check_positive_int("num_neighbors", num_neighbors)
    seeds = check_items(graph, seeds)
    gen = make_generator(generator, graph.device)
    dev, S = graph.device, seeds.numel()
    ids = torch.full((S, T), -1, dtype=torch.long, device=dev)
    weights = torch.zeros((S, T), dtype=torch.float32, device=dev)
    mask = torch.zeros((S, T), dtype=torch.bool, device=dev)
    if S == 0:
        return Neighborhoods(seeds, ids, weights, mask)
    tab = _tables(graph)
    # paths per seed = Σ over its collections of their sizes
    ecount = tab.items.degree.index_select(0, seeds)
    eidx = concat_ranges(graph.item_indptr.index_select(0, seeds), graph.item_indptr.index_select(0, seeds + 1))
    coll = graph.item_indices.index_select(0, eidx)
    crow = torch.repeat_interleave(torch.arange(S, device=dev), ecount)
    paths = torch.zeros(S, dtype=torch.long, device=dev).index_add_(0, crow, tab.colls.degree.index_select(0, coll))
    ends = torch.cumsum(paths, 0).tolist()
    cstarts = (torch.cumsum(ecount, 0) - ecount).tolist() + [int(ecount.sum())]
    lo = 0
    while lo < S:
        base = ends[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(ends, base + chunk_candidates, side="right")))
        hi = min(hi, S)
        c = coll[cstarts[lo]:cstarts[hi]]
        r1 = crow[cstarts[lo]:cstarts[hi]] - lo
        idx = concat_ranges(graph.coll_indptr.index_select(0, c), graph.coll_indptr.index_select(0, c + 1))
        rows = torch.repeat_interleave(r1, tab.colls.degree.index_select(0, c))
        items = graph.coll_indices.index_select(0, idx)
        keep = torch.nonzero(items != seeds[lo:hi].index_select(0, rows)).squeeze(1)
        rows, items, _ = count_visits(rows.index_select(0, keep), items.index_select(0, keep), hi - lo, graph.num_items)
        # A random 32-bit priority per distinct candidate; the T smallest per row are a uniform sample
        # without replacement. Sorting the key (row << 32 | priority) orders by row, then priority.
        prio = torch.empty(rows.numel(), dtype=torch.long, device=dev).random_(generator=gen) >> 31
        order = torch.sort((rows << 32) | prio, stable=True).indices  # stable: ties resolve the same everywhere
        rows, items = rows.index_select(0, order), items.index_select(0, order)
        per_row = torch.bincount(rows, minlength=hi - lo)
        pos = torch.arange(rows.numel(), device=dev) - (torch.cumsum(per_row, 0) - per_row).index_select(0, rows)
        sel = torch.nonzero(pos < T).squeeze(1)
        flat = (rows * T + pos).index_select(0, sel)
        ids[lo:hi].view(-1).index_copy_(0, flat, items.index_select(0, sel))
        mask[lo:hi].view(-1).index_fill_(0, flat, True)
        lo = hi
    k = mask.sum(1, keepdim=True)
    weights = torch.where(mask, 1.0 / k.clamp_min(1).to(torch.float32), weights)
    return Neighborhoods(seeds=seeds, ids=ids, weights=weights, mask=mask)


# ====================================================================== personalized PageRank
class _Transitions:
    """The item → collection → item chain as two sparse CSR matrices (transposed, for ``A @ X``).

    ``to_colls`` [C, I]: entry (c, i) = P(i → c) = w(i, c) / Σ_c' w(i, c').
    ``to_items`` [I, C]: entry (j, c) = P(c → j) = w(j, c) / Σ_j' w(j', c).
    Both use :func:`_row_probabilities`, the walker's own step probabilities (zero-weight nodes step
    uniformly). For a column-stacked batch of item distributions X [I, Q], one traversal is
    ``to_items @ (to_colls @ X)``.
    """

    def __init__(self, g: BipartiteGraph, weighted: bool):
        dev, E = g.device, g.num_edges
        ones = torch.ones(E, dtype=torch.float32, device=dev)
        p_ic = _row_probabilities(g.item_indptr, g.item_weights if weighted else ones)  # item-major order
        p_ci = _row_probabilities(g.coll_indptr, g.coll_weights if weighted else ones)  # collection-major
        item_of = torch.repeat_interleave(torch.arange(g.num_items, device=dev), g.item_degrees)
        coll_of = torch.repeat_interleave(torch.arange(g.num_collections, device=dev), g.collection_degrees)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": a notebook should not show it
            warnings.simplefilter("ignore", UserWarning)
            # transpose each half by coalescing (collection, item) / (item, collection) pairs, then CSR
            self.to_colls = torch.sparse_coo_tensor(torch.stack([g.item_indices, item_of]), p_ic.float(),
                                                    (g.num_collections, g.num_items)).coalesce().to_sparse_csr()
            self.to_items = torch.sparse_coo_tensor(torch.stack([g.coll_indices, coll_of]), p_ci.float(),
                                                    (g.num_items, g.num_collections)).coalesce().to_sparse_csr()

    def step(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_items @ (self.to_colls @ x)


def personalized_pagerank(graph: BipartiteGraph, queries: Any, *, restart_prob: float = 0.5,
                          num_iterations: int | None = None, tol: float = 1e-7, weighted: bool = False,
                          ) -> torch.Tensor:
    """Exact PPR of every item for each query, by power iteration: FloatTensor [Q, num_items].

    .. math:: \\pi_q = \\alpha\\, e_q + (1-\\alpha)\\, \\pi_q P, \\qquad P = P_{I\\to C} P_{C\\to I}

    with restart probability α = ``restart_prob`` and P one item → collection → item traversal.
    Starting from π⁰ = α e_q, iteration K gives α Σ_{t ≤ K} (1−α)ᵗ e_q Pᵗ: with
    ``num_iterations=K`` this is exactly the truncated sum that walks of at most K traversals
    estimate; with ``None`` it runs K = ⌈log tol / log(1 − α)⌉ iterations, after which the terms left
    out hold less than ``tol`` of the mass (an L1 error bound per row). Mass that reaches an item with
    no collections is lost (such items have no outgoing step), so rows may sum to < 1.

    Batched over all queries with two sparse matmuls per iteration; memory is Q × num_items floats,
    so for large graphs call :func:`ppr_rank`, which chunks the queries.
    """
    alpha = check_prob("restart_prob", restart_prob)
    if alpha == 0.0:
        raise ValueError("restart_prob must be > 0 for personalized PageRank to converge")
    if num_iterations is not None:
        num_iterations = check_positive_int("num_iterations", num_iterations)
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0.0 < float(tol) < 1.0:
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    queries = check_items(graph, queries, "queries")
    P = _transitions(graph, check_weighted(graph, weighted))
    Q = queries.numel()
    e = torch.zeros(graph.num_items, Q, dtype=torch.float32, device=graph.device)
    e[queries, torch.arange(Q, device=graph.device)] = alpha
    x = e.clone()
    if num_iterations is None:
        # The terms left out after K iterations hold (1 − α)^(K+1) of the mass: stop when that is < tol.
        num_iterations = 1 if alpha == 1.0 else max(1, math.ceil(math.log(tol) / math.log(1.0 - alpha)))
    for _ in range(num_iterations if Q else 0):
        x = e + (1.0 - alpha) * P.step(x)
    return x.T.contiguous()


_TRANSITIONS: "weakref.WeakKeyDictionary[BipartiteGraph, dict[bool, _Transitions]]" = weakref.WeakKeyDictionary()


def _transitions(graph: BipartiteGraph, weighted: bool) -> _Transitions:
    d = _TRANSITIONS.setdefault(graph, {})
    if weighted not in d:
        d[weighted] = _Transitions(graph, weighted)
    return d[weighted]


def monte_carlo_ppr(graph: BipartiteGraph, queries: Any, *, restart_prob: float = 0.5, num_walks: int = 1000,
                    max_traversals: int = 30, weighted: bool = False,
                    generator: torch.Generator | int | None = None) -> torch.Tensor:
    """PPR estimated from walks: FloatTensor [Q, num_items], unbiased up to the length cap.

    Each walk stops with probability α = ``restart_prob`` after every traversal. A walk of this kind
    visits item v at step t with probability (1−α)^(t−1) (eᵩPᵗ)_v, so
    ``π̂_v = α[v = q] + α(1−α) · visits_v / num_walks`` estimates π_v (the seed's own returns are
    counted). ``max_traversals`` truncates exactly like ``num_iterations`` of the exact version.
    """
    alpha = check_prob("restart_prob", restart_prob)
    queries = check_items(graph, queries, "queries")
    rows, items, values = _monte_carlo_entries(graph, queries, alpha, num_walks, max_traversals, weighted,
                                               make_generator(generator, graph.device), with_query=True)
    out = torch.zeros(queries.numel(), graph.num_items, dtype=torch.float32, device=graph.device)
    out[rows, items] = values
    return out


def _monte_carlo_entries(graph: BipartiteGraph, queries: torch.Tensor, alpha: float, num_walks: int,
                         max_traversals: int, weighted: bool, generator: torch.Generator, *,
                         with_query: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The non-zero entries of :func:`monte_carlo_ppr` as sparse ``(rows, items, scores)`` sorted by
    (row, item) — no dense [Q, num_items] matrix, so ranking a million-item graph stays cheap."""
    if alpha == 0.0:
        raise ValueError("restart_prob must be > 0 for personalized PageRank to converge")
    num_walks, max_traversals = check_positive_int("num_walks", num_walks), check_positive_int(
        "max_traversals", max_traversals)
    v = visit_counts(graph, queries, num_walks=num_walks, num_traversals=max_traversals, termination_prob=alpha,
                     include_seed=with_query, weighted=weighted, generator=generator)
    rows, items = v.rows, v.items
    scores = v.counts.to(torch.float32) * (alpha * (1.0 - alpha) / num_walks)
    if with_query:  # the walk's start: α at the query itself
        Q = queries.numel()
        rows, items, scores = count_visits(torch.cat([rows, torch.arange(Q, device=rows.device)]),
                                           torch.cat([items, queries]), Q, graph.num_items,
                                           torch.cat([scores, torch.full((Q,), alpha, device=scores.device)]))
    return rows, items, scores


def ppr_rank(graph: BipartiteGraph, queries: Any, k: int | None = None, *, method: str = "exact",
             restart_prob: float = 0.5, num_iterations: int | None = None, num_walks: int = 1000,
             max_traversals: int = 30, exclude_query: bool = True, weighted: bool = False,
             chunk_size: int | None = None, generator: torch.Generator | int | None = None) -> PPRRanking:
    """For each query, the ``k`` items with the highest PPR score, best first — the ranking that the
    hard negatives of §3.3 are drawn from (the paper's rank band 2000–5000).

    ``k=None`` ranks up to ``min(num_items, 5000)`` items. ``method`` is ``"exact"`` (power
    iteration, see :func:`personalized_pagerank`) or ``"monte_carlo"`` (:func:`monte_carlo_ppr`).
    Queries are processed in chunks of ``chunk_size``; the exact method holds about 5 dense
    [num_items, chunk] arrays (float32 state, int64 ranking keys), ~40 bytes × num_items × chunk, and
    the default chunk (2²³ / num_items, at most 1024) keeps that near 320 MB on any graph.
    """
    if method not in ("exact", "monte_carlo"):
        raise ValueError(f"method must be 'exact' or 'monte_carlo', got {method!r}")
    if check_prob("restart_prob", restart_prob) == 0.0:
        raise ValueError("restart_prob must be > 0 for personalized PageRank to converge")
    queries = check_items(graph, queries, "queries")
    k = min(graph.num_items, 5000) if k is None else check_positive_int("k", k)
    if chunk_size is None:
        chunk_size = max(1, min(1024, (1 << 23) // max(graph.num_items, 1)))
    chunk_size = check_positive_int("chunk_size", chunk_size)
    gen = make_generator(generator, graph.device) if method == "monte_carlo" else None
    Q, dev = queries.numel(), graph.device
    ids = torch.full((Q, k), -1, dtype=torch.long, device=dev)
    scores = torch.zeros((Q, k), dtype=torch.float32, device=dev)
    mask = torch.zeros((Q, k), dtype=torch.bool, device=dev)
    for lo in range(0, Q, chunk_size):
        q = queries[lo:lo + chunk_size]
        if method == "exact":
            pi = personalized_pagerank(graph, q, restart_prob=restart_prob, num_iterations=num_iterations,
                                       weighted=weighted)
            if exclude_query:
                pi[torch.arange(q.numel(), device=dev), q] = 0.0
            i_, s_, m_ = _top_dense(pi, k)
        else:
            rows, items, values = _monte_carlo_entries(graph, q, restart_prob, num_walks, max_traversals, weighted,
                                                       gen, with_query=not exclude_query)
            i_, s_, m_ = top_per_row(rows, items, values, q.numel(), k)
        ids[lo:lo + chunk_size], scores[lo:lo + chunk_size], mask[lo:lo + chunk_size] = i_, s_, m_
    return PPRRanking(queries=queries, ids=ids, scores=scores, mask=mask)
