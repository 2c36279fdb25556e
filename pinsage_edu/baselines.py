"""§4 the baselines: what PinSage is measured against, each a :class:`~pinsage_edu.metrics.Recommender`.

* :class:`PopularityRecommender` (and :func:`popularity_recommendations`) — the most saved items, for
  everyone: the floor any personalised method must clear;
* :class:`ContentRecommender` / :func:`content_baselines` — cosine on feature groups only (the paper's
  Visual / Annot. / Combined: here text, genres and both for MovieLens; visual, text and both for the
  synthetic pins);
* :class:`ItemKNNRecommender` — item-kNN collaborative filtering, cosine between items' columns of the
  item–collection matrix: the strong classical reference;
* **Pixie** (Eksombatchai et al., 2018), Pinterest's walk-based recommender that PinSage builds on:
  :func:`pixie_recommend` (one item or a weighted set of items, multi-hit boosting),
  :func:`pixie_recommend_batch` (many single-item queries at once) and :class:`PixieRecommender` (its
  visit counts as scores: the graph-only baseline). Its walks are :mod:`pinsage_edu.walks`' walker.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Sequence

import numpy as np
import torch

from .features import ItemFeatures
from .graph import BipartiteGraph
from .metrics import EmbeddingRecommender
from .utils import TensorFields, check_items, check_positive_int, check_prob, concat_ranges, make_generator
from .walks import check_weighted, count_visits, top_per_row, walk_steps

__all__ = ["popularity_recommendations", "PopularityRecommender", "ContentRecommender", "content_baselines",
           "ItemKNNRecommender", "PixieResult", "pixie_recommend", "pixie_recommend_batch", "PixieRecommender"]


# ---------------------------------------------------------------------------------------------------
# Popularity
def popularity_recommendations(item_degrees: torch.Tensor, queries: torch.Tensor, k: int = 10) -> torch.Tensor:
    """LongTensor [Q, k]: the k items of highest degree for every query, the query itself skipped.

    The floor any personalised recommender must clear. Ties go to the smaller id; when the catalogue
    has fewer than k other items the rows are padded with −1.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    q = torch.as_tensor(queries, device=item_degrees.device).long().reshape(-1)
    top = torch.sort(item_degrees, descending=True, stable=True).indices[: k + 1]
    cand = top.unsqueeze(0).expand(q.numel(), -1)
    cand = torch.where(cand != q.unsqueeze(1), cand, torch.full_like(cand, -1))
    # each row holds the query at most once: move that −1 to the end, keep k columns, pad to k
    order = torch.sort((cand < 0).to(torch.int8), dim=1, stable=True).indices
    out = cand.gather(1, order)[:, :k]
    if out.shape[1] < k:
        out = torch.cat([out, torch.full((q.numel(), k - out.shape[1]), -1, dtype=torch.long, device=out.device)], 1)
    return out


class PopularityRecommender:
    """Scores = the items' degrees in the train graph: the same list for every query."""

    name = "popularity"

    def __init__(self, graph: BipartiteGraph):
        self.degrees = graph.item_degrees.float()
        self.num_items = graph.num_items

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        return self.degrees.unsqueeze(0).expand(queries.numel(), -1).to(queries.device)


# ---------------------------------------------------------------------------------------------------
# Content only
class ContentRecommender(EmbeddingRecommender):
    """Content only: cosine between items' feature groups (no graph at all). Each group is scaled to
    the same weight (:meth:`ItemFeatures.select` with ``balanced=True``), then rows are L2-normalised."""

    def __init__(self, name: str, features: ItemFeatures, groups: Sequence[str]):
        v = torch.nn.functional.normalize(features.select(*groups, balanced=True), dim=1)
        super().__init__(name, v)
        self.groups = tuple(groups)


def content_baselines(features: ItemFeatures) -> list[ContentRecommender]:
    """The paper's Visual / Annot. / Combined analogues for whichever groups the dataset has:
    ``visual`` and ``text`` (synthetic pins), or ``text`` and ``genres`` (+ ``year``; MovieLens), each
    alone and combined. The ``degree`` group is graph information, not content, and is left out."""
    g = features.groups
    if "visual" in g:
        views = [("content: visual", ["visual"]), ("content: text", ["text"]) if "text" in g else None]
    else:
        meta = [n for n in ("genres", "year") if n in g]
        views = [("content: text", ["text"]) if "text" in g else None,
                 ("content: " + " + ".join(meta), meta) if meta else None]
    views = [v for v in views if v is not None]
    out = [ContentRecommender(name, features, groups) for name, groups in views]
    if len(views) > 1:
        out.append(ContentRecommender("content: combined", features, [n for _, gs in views for n in gs]))
    if not out:
        raise ValueError(f"no content feature group to build a content baseline from: {features.names}")
    return out


# ---------------------------------------------------------------------------------------------------
# Item-kNN collaborative filtering
class ItemKNNRecommender:
    """Item-kNN collaborative filtering: cosine between items' rows of the binary item–collection
    matrix A (two items are similar when the same collections hold them), |A_q ∩ A_i| / √(d_q · d_i)."""

    name = "item-kNN CF"

    def __init__(self, graph: BipartiteGraph):
        self.graph, self.num_items = graph, graph.num_items
        self.norm = graph.item_degrees.float().sqrt().clamp_min(1e-12)

    def scores(self, queries: torch.Tensor, *, budget: int = 1 << 24) -> torch.Tensor:
        """Two hops, vectorised: every (query, collection of the query, item of that collection) adds 1.

        Queries are expanded a few at a time so that at most about ``budget`` two-hop entries exist at
        once (a popular item's two hops can hold millions)."""
        g = self.graph
        q = queries.to(g.device)
        out = torch.empty((q.numel(), self.num_items), dtype=torch.float32, device=g.device)
        # two-hop size of each query: the sizes of its collections, summed
        deg = g.item_degrees.index_select(0, q)
        colls = g.item_indices.index_select(0, concat_ranges(g.item_indptr.index_select(0, q),
                                                             g.item_indptr.index_select(0, q + 1)))
        hop2 = torch.zeros(q.numel(), dtype=torch.long, device=g.device).index_add_(
            0, torch.repeat_interleave(torch.arange(q.numel(), device=g.device), deg),
            g.collection_degrees.index_select(0, colls))
        ends = torch.cumsum(hop2 + self.num_items, 0).cpu()  # each row also costs its N scores
        lo = 0
        while lo < q.numel():
            base = int(ends[lo - 1]) if lo else 0
            hi = max(lo + 1, int(torch.searchsorted(ends, base + budget, right=True)))
            out[lo:hi] = self._overlap(q[lo:hi])
            lo = hi
        return (out / self.norm.unsqueeze(0) / self.norm.index_select(0, q).unsqueeze(1)).to(queries.device)

    def _overlap(self, q: torch.Tensor) -> torch.Tensor:
        """[Q, N]: how many collections each query shares with each item."""
        g = self.graph
        rows, items = g.two_hop_paths(q)
        overlap = torch.zeros(q.numel() * self.num_items, dtype=torch.float32, device=g.device)
        overlap.index_add_(0, rows * self.num_items + items, torch.ones(items.numel(), device=g.device))
        return overlap.view(q.numel(), self.num_items)


# ---------------------------------------------------------------------------------------------------
# Pixie: random walks as a recommender
@dataclass(frozen=True)
class PixieResult(TensorFields):
    """Pixie's recommendations for S query sets (one row per set).

    ``ids`` [S, k] most visited first (``-1`` padding with ``mask`` False), ``scores`` [S, k] the
    multi-hit-boosted visit scores (plain visit counts for a single query item), ``visits`` [S, k] raw
    visit counts, ``steps`` [S] traversals walked, ``stopped_early`` [S] whether the visit threshold
    ended the walks before the step budget.
    """

    ids: torch.Tensor
    scores: torch.Tensor
    visits: torch.Tensor
    mask: torch.Tensor
    steps: torch.Tensor
    stopped_early: torch.Tensor

    def top(self, row: int = 0) -> list[tuple[int, float]]:
        """``[(item, score), …]`` for one query set, best first."""
        keep = self.mask[row]
        return list(zip(self.ids[row][keep].tolist(), self.scores[row][keep].tolist()))


def _pixie(graph: BipartiteGraph, set_index: torch.Tensor, items: torch.Tensor, weights: torch.Tensor,
           num_sets: int, k: int, *, num_steps: int, termination_prob: float, max_traversals: int,
           stop_items: int | None, stop_visits: int, boost: bool, exclude_queries: bool, num_rounds: int,
           weighted: bool, generator: torch.Generator) -> PixieResult:
    """Shared core of :func:`pixie_recommend` and :func:`pixie_recommend_batch` (see there)."""
    dev, N = graph.device, graph.num_items
    Tq = items.numel()  # query pins over all sets
    # Step budget per query pin (Pixie): N_q ∝ w_q · s_q with s_q = d_q (C − log d_q), which grows with
    # the pin's degree but sublinearly. Descriptions of Pixie differ on C; ours is 1 + log(max item
    # degree), the smallest value that keeps every s_q > 0.
    deg = graph.item_degrees.index_select(0, items).to(torch.float64)
    C = 1.0 + math.log(max(int(graph.item_degrees.max()) if N else 1, 1))
    s = deg * (C - torch.log(deg.clamp_min(1.0)))
    share = weights.double() * s
    set_total = torch.zeros(num_sets, dtype=torch.float64, device=dev).index_add_(0, set_index, share)
    budget = torch.where(set_total.index_select(0, set_index) > 0,
                         num_steps * share / set_total.index_select(0, set_index).clamp_min(1e-300),
                         torch.zeros((), dtype=torch.float64, device=dev))
    # Expected traversals per walk: geometric with stop probability p, capped at K traversals.
    p, K = termination_prob, max_traversals
    walk_len = (1.0 - (1.0 - p) ** K) / p if p > 0 else float(K)
    used = torch.zeros(Tq, dtype=torch.long, device=dev)
    active = (budget > 0) & (deg > 0)  # False once a query pin stops early (or can never walk)
    early = torch.zeros(Tq, dtype=torch.bool, device=dev)
    acc_rows = torch.zeros(0, dtype=torch.long, device=dev)
    acc_items = torch.zeros(0, dtype=torch.long, device=dev)
    acc_counts = torch.zeros(0, dtype=torch.long, device=dev)
    for rnd in range(num_rounds):
        left = budget - used.double()
        act = torch.nonzero(active & (left > 0)).squeeze(1)
        if act.numel() == 0:
            break
        # spread what is left of each budget over the remaining rounds
        nw = torch.ceil(left.index_select(0, act) / walk_len / (num_rounds - rnd)).to(torch.long)
        walk_q = torch.repeat_interleave(act, nw)
        steps = walk_steps(graph, items.index_select(0, walk_q), num_traversals=max_traversals,
                      termination_prob=termination_prob, restart_prob=0.0, weighted=weighted, generator=generator)
        if not steps:
            break
        w = torch.cat([x for x, _, _ in steps])
        reached = torch.cat([x for _, _, x in steps])
        q_of = walk_q.index_select(0, w)
        used += torch.bincount(q_of, minlength=Tq)
        rows = torch.cat([acc_rows, q_of])
        its = torch.cat([acc_items, reached])
        vals = torch.cat([acc_counts, torch.ones(q_of.numel(), dtype=torch.long, device=dev)])
        acc_rows, acc_items, acc_counts = count_visits(rows, its, Tq, N, vals)
        if stop_items is not None:
            # Early stopping: a query pin stops once stop_items items have ≥ stop_visits visits.
            hot = torch.bincount(acc_rows[acc_counts >= stop_visits], minlength=Tq)
            newly = (hot >= stop_items) & active & (used.double() < budget)  # a spent budget is not "early"
            early |= newly
            active &= ~newly
    # Multi-hit boosting: an item reached from several query pins scores (Σ_q √V_q)², which favours
    # items related to many of the pins over items very close to just one.
    set_rows = set_index.index_select(0, acc_rows)
    contrib = acc_counts.to(torch.float64).sqrt() if boost else acc_counts.to(torch.float64)
    r, it, score = count_visits(set_rows, acc_items, num_sets, N, contrib)
    _, _, visits = count_visits(set_rows, acc_items, num_sets, N, acc_counts)
    if boost:
        score = score.square()
    if exclude_queries:
        qkey = set_index * N + items
        drop = torch.isin(r * N + it, qkey)
        keep = torch.nonzero(~drop).squeeze(1)
        r, it, score, visits = (t.index_select(0, keep) for t in (r, it, score, visits))
    ids, top_scores, mask = top_per_row(r, it, score.to(torch.float32), num_sets, k)
    # visits of the chosen items: look them up by (set, item) key
    keys = r * N + it
    want = torch.arange(num_sets, device=dev).unsqueeze(1) * N + ids.clamp_min(0)
    pos = torch.searchsorted(keys, want).clamp_max(max(keys.numel() - 1, 0))
    vis = torch.where(mask, visits[pos] if keys.numel() else torch.zeros_like(ids), 0)
    set_steps = torch.zeros(num_sets, dtype=torch.long, device=dev).index_add_(0, set_index, used)
    set_early = torch.zeros(num_sets, dtype=torch.long, device=dev).index_add_(0, set_index, early.long()) > 0
    return PixieResult(ids=ids, scores=top_scores, visits=vis, mask=mask, steps=set_steps, stopped_early=set_early)


def _pixie_args(k: Any, num_steps: Any, termination_prob: Any, max_traversals: Any, stop_items: Any,
                stop_visits: Any, num_rounds: Any) -> tuple:
    return (check_positive_int("k", k), check_positive_int("num_steps", num_steps),
            check_prob("termination_prob", termination_prob), check_positive_int("max_traversals", max_traversals),
            None if stop_items is None else check_positive_int("stop_items", stop_items),
            check_positive_int("stop_visits", stop_visits), check_positive_int("num_rounds", num_rounds))


def pixie_recommend(graph: BipartiteGraph, query: Any, k: int = 10, *, query_weights: Sequence[float] | None = None,
                    num_steps: int = 20_000, termination_prob: float = 0.5, max_traversals: int = 20,
                    stop_items: int | None = 2000, stop_visits: int = 4, boost: bool = True,
                    exclude_queries: bool = True, num_rounds: int = 8, weighted: bool = False,
                    generator: torch.Generator | int | None = None) -> PixieResult:
    """Pixie (Eksombatchai et al., 2018): recommend the items most visited by walks from the query.

    ``query`` is one item id or a set of ids (a user's recent items), optionally weighted by
    ``query_weights``. Each query item gets a share of the ``num_steps`` traversal budget in
    proportion to w_q · d_q (C − log d_q). Walks have geometric length (stop with
    ``termination_prob`` after each traversal, capped at ``max_traversals``) and run in
    ``num_rounds`` rounds; a query item stops early once ``stop_items`` items have at least
    ``stop_visits`` visits (Pixie's n_p = 2000, n_v = 4; ``None`` disables). With several query items,
    ``boost`` scores an item by (Σ_q √V_q)². Returns a :class:`PixieResult` with one row.
    """
    k, num_steps, termination_prob, max_traversals, stop_items, stop_visits, num_rounds = _pixie_args(
        k, num_steps, termination_prob, max_traversals, stop_items, stop_visits, num_rounds)
    items = check_items(graph, query, "query")
    if items.numel() == 0:
        raise ValueError("query must hold at least one item id")
    if query_weights is None:
        w = torch.ones(items.numel(), dtype=torch.float64, device=graph.device)
    else:
        w = torch.as_tensor(np.asarray(query_weights, dtype=np.float64), device=graph.device)
        if w.shape != items.shape:
            raise ValueError(f"query_weights must have one weight per query item ({items.numel()}), "
                             f"got shape {tuple(w.shape)}")
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError("query_weights must be finite, non-negative and not all zero")
    uniq, inv = torch.unique(items, return_inverse=True)  # a repeated query item adds its weights
    w = torch.zeros(uniq.numel(), dtype=torch.float64, device=graph.device).index_add_(0, inv, w)
    return _pixie(graph, torch.zeros(uniq.numel(), dtype=torch.long, device=graph.device), uniq, w, 1, k,
                  num_steps=num_steps, termination_prob=termination_prob, max_traversals=max_traversals,
                  stop_items=stop_items, stop_visits=stop_visits, boost=boost, exclude_queries=exclude_queries,
                  num_rounds=num_rounds, weighted=check_weighted(graph, weighted),
                  generator=make_generator(generator, graph.device))


def pixie_recommend_batch(graph: BipartiteGraph, queries: Any, k: int = 10, *, num_steps: int = 20_000,
                          termination_prob: float = 0.5, max_traversals: int = 20, stop_items: int | None = 2000,
                          stop_visits: int = 4, exclude_queries: bool = True, num_rounds: int = 8,
                          weighted: bool = False, chunk_size: int = 512,
                          generator: torch.Generator | int | None = None) -> PixieResult:
    """Pixie for many single-item queries at once (row ``b`` answers ``queries[b]``), all walks vectorised.

    The evaluation's graph-only baseline. Same parameters as :func:`pixie_recommend`; queries are
    walked ``chunk_size`` at a time (memory grows with chunk_size × num_steps).
    """
    k, num_steps, termination_prob, max_traversals, stop_items, stop_visits, num_rounds = _pixie_args(
        k, num_steps, termination_prob, max_traversals, stop_items, stop_visits, num_rounds)
    chunk_size = check_positive_int("chunk_size", chunk_size)
    items = check_items(graph, queries, "queries")
    use_w, gen, dev = check_weighted(graph, weighted), make_generator(generator, graph.device), graph.device
    parts = []
    for lo in range(0, items.numel(), chunk_size):
        q = items[lo:lo + chunk_size]
        B = q.numel()
        parts.append(_pixie(graph, torch.arange(B, device=dev), q, torch.ones(B, dtype=torch.float64, device=dev), B,
                            k, num_steps=num_steps, termination_prob=termination_prob, max_traversals=max_traversals,
                            stop_items=stop_items, stop_visits=stop_visits, boost=False,
                            exclude_queries=exclude_queries, num_rounds=num_rounds, weighted=use_w, generator=gen))
    if not parts:
        return _pixie(graph, items, items, torch.zeros(0, dtype=torch.float64, device=dev), 0, k,
                      num_steps=num_steps, termination_prob=termination_prob, max_traversals=max_traversals,
                      stop_items=stop_items, stop_visits=stop_visits, boost=False, exclude_queries=exclude_queries,
                      num_rounds=num_rounds, weighted=use_w, generator=gen)
    return PixieResult(**{f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(PixieResult)})


class PixieRecommender:
    """Scores = Pixie's visit counts from the query (:func:`pixie_recommend_batch`;
    unvisited items score 0). Seeded: the same queries get the same walks."""

    name = "Pixie"

    def __init__(self, graph: BipartiteGraph, *, num_steps: int = 20_000, seed: int = 0, **pixie_kwargs: Any):
        self.graph, self.num_items = graph, graph.num_items
        self.num_steps, self.seed, self.kwargs = num_steps, seed, pixie_kwargs

    def scores(self, queries: torch.Tensor) -> torch.Tensor:
        g = self.graph
        q = queries.to(g.device)
        # at most num_steps items can be visited: a longer list would only be padding
        res = pixie_recommend_batch(g, q, k=max(1, min(self.num_items, self.num_steps)), num_steps=self.num_steps,
                                    generator=self.seed, **self.kwargs)
        out = torch.zeros((q.numel(), self.num_items), dtype=torch.float32, device=g.device)
        rows = torch.arange(q.numel(), device=g.device).unsqueeze(1).expand_as(res.ids)
        out[rows[res.mask], res.ids[res.mask]] = res.scores[res.mask].float()
        return out
