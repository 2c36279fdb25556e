"""§3.1 The pins–boards graph: a bipartite graph between items and collections.

Pinterest's graph joins **pins** (items) to **boards** (collections); our datasets map movies or books
onto pins and users' liked sets or shelves onto boards. Items and collections live in two separate
id spaces, ``0 .. num_items - 1`` and ``0 .. num_collections - 1``.

The graph is stored twice, once per direction, in compressed sparse row (CSR) form:

* ``item_indptr [num_items + 1]``, ``item_indices [E]`` (collection ids), ``item_weights [E]``:
  the collections of item ``u`` are ``item_indices[item_indptr[u]:item_indptr[u + 1]]``;
* ``coll_indptr [num_collections + 1]``, ``coll_indices [E]`` (item ids), ``coll_weights [E]``:
  the items of collection ``c``.

A random walk item → collection → item (§3.2) needs both halves, so both are kept. Each half is sorted
by (row, column), and the two halves are transposes of each other. All arrays are torch tensors
(``int64`` ids, ``float32`` weights) on one device; ``.to(device)`` moves them together. Any real
device works (CPU, CUDA); the shape-only ``meta`` device does not, since building and checking a graph
reads its values.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .utils import concat_ranges, csr_indptr

__all__ = ["BipartiteGraph", "GraphSummary", "GraphError"]

_FORMAT_VERSION = 1
_ARRAYS = ("item_indptr", "item_indices", "item_weights", "coll_indptr", "coll_indices", "coll_weights")


class GraphError(ValueError):
    """Raised for edges or arrays that cannot form a valid bipartite graph."""


def _as_long(name: str, values: Any) -> torch.Tensor:
    try:
        t = torch.as_tensor(values)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise GraphError(f"{name} must be a 1-D sequence of integer ids ({exc})") from None
    if t.dim() != 1:
        raise GraphError(f"{name} must be a 1-D sequence of ids, got shape {tuple(t.shape)}")
    if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
        if t.numel() and (t.dtype == torch.bool or t.is_complex() or not bool(torch.isfinite(t).all())
                          or not torch.equal(t, t.round())):
            raise GraphError(f"{name} must hold integer ids, got dtype {t.dtype} with non-integer values")
    return t.to(torch.long)


def _label(q: float) -> str:
    """``0.99 -> "p99"`` (round, not truncate: 0.29 * 100 is 28.999… in floating point)."""
    return f"p{round(q * 100, 6):g}"


def _quantiles(values: torch.Tensor, qs: Sequence[float]) -> dict[str, float]:
    if values.numel() == 0:
        return {_label(q): 0.0 for q in qs}
    v = values.to(torch.float64)
    out = torch.quantile(v, torch.tensor(list(qs), dtype=torch.float64))
    return {_label(q): float(x) for q, x in zip(qs, out)}


@dataclass(frozen=True)
class GraphSummary:
    """What a reader wants to know about a graph at a glance."""

    num_items: int
    num_collections: int
    num_edges: int
    isolated_items: int
    empty_collections: int
    item_degree: dict[str, float]
    collection_degree: dict[str, float]
    weighted: bool

    def lines(self) -> list[str]:
        def q(d: dict[str, float]) -> str:
            return " ".join(f"{k}={v:g}" for k, v in d.items())

        return [
            f"items {self.num_items:,} · collections {self.num_collections:,} · edges {self.num_edges:,}"
            f"{' (weighted)' if self.weighted else ''}",
            f"item degree       {q(self.item_degree)}",
            f"collection degree {q(self.collection_degree)}",
            f"isolated items {self.isolated_items:,} · empty collections {self.empty_collections:,}",
        ]

    def __str__(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True, eq=False)
class BipartiteGraph:
    """Items ↔ collections, CSR in both directions (see the module docstring for the layout).

    Build one with :meth:`from_edges`; the constructor only checks shapes, so that
    :meth:`load` can wrap memory-mapped arrays without copying them.
    """

    num_items: int
    num_collections: int
    item_indptr: torch.Tensor  # LongTensor [num_items + 1]
    item_indices: torch.Tensor  # LongTensor [E], collection ids, sorted within each item
    item_weights: torch.Tensor | None  # FloatTensor [E] or None (every edge weighs 1)
    coll_indptr: torch.Tensor  # LongTensor [num_collections + 1]
    coll_indices: torch.Tensor  # LongTensor [E], item ids, sorted within each collection
    coll_weights: torch.Tensor | None  # FloatTensor [E] or None

    def __post_init__(self) -> None:
        E = self.item_indices.numel()
        checks = [
            (self.item_indptr.shape == (self.num_items + 1,), "item_indptr must have num_items + 1 entries"),
            (self.coll_indptr.shape == (self.num_collections + 1,), "coll_indptr must have num_collections + 1 entries"),
            (self.coll_indices.numel() == E, "both CSR halves must hold the same number of edges"),
            (self.item_weights is None or self.item_weights.shape == (E,), "item_weights must have one entry per edge"),
            (self.coll_weights is None or self.coll_weights.shape == (E,), "coll_weights must have one entry per edge"),
            ((self.item_weights is None) == (self.coll_weights is None), "weights must be given for both halves or neither"),
        ]
        for ok, message in checks:
            if not ok:
                raise GraphError(message)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edges(
        cls,
        items: Any,
        collections: Any,
        weights: Any | None = None,
        *,
        num_items: int | None = None,
        num_collections: int | None = None,
        device: torch.device | str | None = None,
    ) -> "BipartiteGraph":
        """Build the graph from an edge list ``(items[e], collections[e], weights[e])``.

        Duplicate (item, collection) pairs are merged into one edge whose weight is the **sum** of
        the duplicates' weights (without weights, duplicates simply collapse). ``num_items`` and
        ``num_collections`` default to ``max id + 1``; pass them to keep isolated nodes at the end of
        the id space. Cost: two sorts of the edge list (``O(E log E)`` in torch), no Python loop.

        Raises :class:`GraphError` for mismatched lengths, negative or out-of-range ids, and
        non-finite or negative weights.
        """
        it = _as_long("items", items)
        co = _as_long("collections", collections)
        if it.numel() != co.numel():
            raise GraphError(f"items and collections must have the same length, got {it.numel()} and {co.numel()}")
        w = None
        if weights is not None:
            w = torch.as_tensor(weights)
            if w.dim() != 1 or w.numel() != it.numel():
                raise GraphError(
                    f"weights must be 1-D with one entry per edge ({it.numel()}), got shape {tuple(w.shape)}"
                )
            w = w.to(torch.float32)
            bad = ~torch.isfinite(w) | (w < 0)
            if bool(bad.any()):
                e = int(bad.nonzero()[0])
                raise GraphError(f"weights must be finite and non-negative; edge {e} has weight {float(w[e])}")
        if device is not None:
            it, co = it.to(device), co.to(device)
            w = w.to(device) if w is not None else None
        for name, ids, n in (("items", it, num_items), ("collections", co, num_collections)):
            if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))):
                raise GraphError(f"num_{name} must be an integer, got {n!r}")
            if ids.numel() and int(ids.min()) < 0:
                e = int((ids < 0).nonzero()[0])
                raise GraphError(f"{name} ids must be non-negative; edge {e} has id {int(ids[e])}")
            if n is not None:
                if n < 0:
                    raise GraphError(f"num_{name} must be non-negative, got {n}")
                if ids.numel() and int(ids.max()) >= n:
                    e = int((ids >= n).nonzero()[0])
                    raise GraphError(f"{name} id {int(ids[e])} at edge {e} is out of range for num_{name}={n}")
        n_items = num_items if num_items is not None else (int(it.max()) + 1 if it.numel() else 0)
        n_colls = num_collections if num_collections is not None else (int(co.max()) + 1 if co.numel() else 0)

        # One key per edge, item-major: sorting it gives the item → collection CSR directly, and equal
        # neighbouring keys are the duplicates to merge.
        key = it * max(n_colls, 1) + co
        key, order = torch.sort(key)
        first = torch.ones_like(key, dtype=torch.bool)
        first[1:] = key[1:] != key[:-1]
        uniq = key[first]
        it_u = torch.div(uniq, max(n_colls, 1), rounding_mode="floor")
        co_u = uniq - it_u * max(n_colls, 1)
        w_u = None
        if w is not None:
            group = torch.cumsum(first.to(torch.long), 0) - 1
            w_u = torch.zeros(uniq.numel(), dtype=torch.float32, device=uniq.device)
            w_u.index_add_(0, group, w[order])
        return cls._from_sorted_unique(n_items, n_colls, it_u, co_u, w_u)

    @classmethod
    def _from_sorted_unique(
        cls, n_items: int, n_colls: int, it: torch.Tensor, co: torch.Tensor, w: torch.Tensor | None
    ) -> "BipartiteGraph":
        """Both CSR halves from unique edges already sorted by (item, collection)."""
        item_indptr = csr_indptr(it, n_items)
        # A stable sort by collection keeps the items of each collection in ascending order.
        co_sorted, perm = torch.sort(co, stable=True)
        coll_indptr = csr_indptr(co_sorted, n_colls)
        return cls(
            num_items=n_items,
            num_collections=n_colls,
            item_indptr=item_indptr,
            item_indices=co.contiguous(),
            item_weights=w,
            coll_indptr=coll_indptr,
            coll_indices=it[perm].contiguous(),
            coll_weights=w[perm].contiguous() if w is not None else None,
        )

    # ------------------------------------------------------------------ basic properties
    @property
    def num_edges(self) -> int:
        return int(self.item_indices.numel())

    @property
    def device(self) -> torch.device:
        return self.item_indptr.device

    @property
    def weighted(self) -> bool:
        return self.item_weights is not None

    @property
    def item_degrees(self) -> torch.Tensor:
        """LongTensor [num_items]: number of collections each item is in."""
        return self.item_indptr[1:] - self.item_indptr[:-1]

    @property
    def collection_degrees(self) -> torch.Tensor:
        """LongTensor [num_collections]: number of items in each collection."""
        return self.coll_indptr[1:] - self.coll_indptr[:-1]

    def edges(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The edge list ``(items [E], collections [E], weights [E] or None)`` in item-major order."""
        items = torch.repeat_interleave(
            torch.arange(self.num_items, device=self.device), self.item_degrees
        )
        return items, self.item_indices, self.item_weights

    def collections_of(self, item: int) -> torch.Tensor:
        """LongTensor: the collections holding ``item``."""
        self._check_id("item", item, self.num_items)
        return self.item_indices[self.item_indptr[item] : self.item_indptr[item + 1]]

    def items_of(self, collection: int) -> torch.Tensor:
        """LongTensor: the items in ``collection``."""
        self._check_id("collection", collection, self.num_collections)
        return self.coll_indices[self.coll_indptr[collection] : self.coll_indptr[collection + 1]]

    def two_hop_paths(self, queries: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every path query → collection → item, vectorised: ``(rows, items)``, LongTensors with one
        entry per path, ``rows`` the query's position in ``queries`` (an item reached through k shared
        collections appears k times; the query itself too). Item-kNN counts them, coverage marks them."""
        q = queries.to(self.device)
        rows = torch.repeat_interleave(torch.arange(q.numel(), device=self.device), self.item_degrees.index_select(0, q))
        colls = self.item_indices.index_select(0, concat_ranges(self.item_indptr.index_select(0, q),
                                                                self.item_indptr.index_select(0, q + 1)))
        rows = torch.repeat_interleave(rows, self.collection_degrees.index_select(0, colls))
        items = self.coll_indices.index_select(0, concat_ranges(self.coll_indptr.index_select(0, colls),
                                                                self.coll_indptr.index_select(0, colls + 1)))
        return rows, items

    def two_hop_items(self, item: int) -> torch.Tensor:
        """LongTensor: the distinct items sharing at least one collection with ``item`` (itself excluded)."""
        colls = self.collections_of(item)
        starts, ends = self.coll_indptr[colls], self.coll_indptr[colls + 1]
        idx = concat_ranges(starts, ends)
        out = torch.unique(self.coll_indices[idx])
        return out[out != item]

    @staticmethod
    def _check_id(kind: str, i: int, n: int) -> None:
        if isinstance(i, torch.Tensor) and i.numel() == 1 and not i.is_floating_point():
            i = int(i)
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise GraphError(f"{kind} id must be an integer, got {i!r}")
        if not 0 <= int(i) < n:
            raise GraphError(f"unknown {kind} id {int(i)}: valid ids are 0..{n - 1}")

    # ------------------------------------------------------------------ devices
    def to(self, device: torch.device | str, non_blocking: bool = False) -> "BipartiteGraph":
        """The same graph with every array on ``device`` (a no-op copy-free return if already there)."""
        kwargs = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kwargs[f.name] = v.to(device, non_blocking=non_blocking) if isinstance(v, torch.Tensor) else v
        return type(self)(**kwargs)

    def pin_memory(self) -> "BipartiteGraph":
        """The same graph in page-locked host memory, for fast asynchronous copies to a GPU."""
        kwargs = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in _ARRAYS:
            if kwargs[name] is not None:
                kwargs[name] = kwargs[name].pin_memory()
        return type(self)(**kwargs)

    # ------------------------------------------------------------------ checks and summaries
    def validate(self) -> None:
        """Check every CSR invariant (sorted rows, ids in range, halves transposes of each other).

        ``from_edges`` produces valid graphs by construction; call this on graphs you loaded from
        disk or assembled by hand. Raises :class:`GraphError` naming the first broken invariant.
        """
        for name, indptr, indices, n_cols in (
            ("item", self.item_indptr, self.item_indices, self.num_collections),
            ("collection", self.coll_indptr, self.coll_indices, self.num_items),
        ):
            if int(indptr[0]) != 0 or int(indptr[-1]) != self.num_edges:
                raise GraphError(f"{name} indptr must start at 0 and end at the edge count {self.num_edges}")
            if bool((indptr[1:] < indptr[:-1]).any()):
                raise GraphError(f"{name} indptr must be non-decreasing")
            if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= n_cols):
                raise GraphError(f"{name} CSR holds a neighbour id outside 0..{n_cols - 1}")
        # Rebuild canonical CSR halves from the item side's edge list: the item half must come back
        # unchanged (rows sorted, no duplicates) and the collection half must equal its transpose.
        items, colls, w = self.edges()
        t = BipartiteGraph.from_edges(items, colls, w, num_items=self.num_items, num_collections=self.num_collections)
        if t.num_edges != self.num_edges:
            raise GraphError("the graph holds duplicate edges")
        if not torch.equal(t.item_indices, self.item_indices):
            raise GraphError("item rows are not sorted by collection id")
        if not (torch.equal(t.coll_indptr, self.coll_indptr) and torch.equal(t.coll_indices, self.coll_indices)):
            raise GraphError("the two CSR halves are not transposes of each other (or collection rows are unsorted)")
        if self.weighted and not (torch.equal(t.item_weights, self.item_weights)  # type: ignore[arg-type]
                                  and torch.equal(t.coll_weights, self.coll_weights)):  # type: ignore[arg-type]
            raise GraphError("the two CSR halves disagree on edge weights")

    def summary(self, quantiles: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0)) -> GraphSummary:
        di, dc = self.item_degrees.cpu(), self.collection_degrees.cpu()
        return GraphSummary(
            num_items=self.num_items,
            num_collections=self.num_collections,
            num_edges=self.num_edges,
            isolated_items=int((di == 0).sum()),
            empty_collections=int((dc == 0).sum()),
            item_degree=_quantiles(di, quantiles),
            collection_degree=_quantiles(dc, quantiles),
            weighted=self.weighted,
        )

    def __repr__(self) -> str:
        return (
            f"BipartiteGraph(items={self.num_items:,}, collections={self.num_collections:,}, "
            f"edges={self.num_edges:,}, weighted={self.weighted}, device={self.device})"
        )

    # ------------------------------------------------------------------ subgraphs
    def subgraph(
        self, items: Any, *, drop_empty_collections: bool = True
    ) -> tuple["BipartiteGraph", torch.Tensor, torch.Tensor]:
        """The subgraph induced by a set of items, re-indexed to local ids.

        Returns ``(graph, item_ids, collection_ids)``: local item ``j`` is global ``item_ids[j]``
        (ascending), local collection ``c`` is global ``collection_ids[c]``. Collections that lose
        every item are dropped unless ``drop_empty_collections=False``.
        """
        keep = torch.unique(_as_long("items", items).to(self.device))
        if keep.numel() and (int(keep.min()) < 0 or int(keep.max()) >= self.num_items):
            bad = keep[(keep < 0) | (keep >= self.num_items)][0]
            raise GraphError(f"unknown item id {int(bad)}: valid ids are 0..{self.num_items - 1}")
        idx = concat_ranges(self.item_indptr[keep], self.item_indptr[keep + 1])
        local_item = torch.repeat_interleave(torch.arange(keep.numel(), device=self.device), self.item_degrees[keep])
        colls = self.item_indices[idx]
        if drop_empty_collections:
            coll_ids, local_coll = torch.unique(colls, return_inverse=True)
        else:
            coll_ids, local_coll = torch.arange(self.num_collections, device=self.device), colls
        w = self.item_weights[idx] if self.item_weights is not None else None
        # Edges stay sorted by (local item, collection) because both re-indexings preserve order.
        g = BipartiteGraph._from_sorted_unique(keep.numel(), coll_ids.numel(), local_item, local_coll, w)
        return g, keep, coll_ids

    # ------------------------------------------------------------------ persistence
    def save(self, folder: str | os.PathLike) -> Path:
        """Write the graph to ``folder`` as ``.npy`` arrays plus ``graph.json``.

        The folder is written beside its destination and renamed into place, so an interrupted save
        never leaves a half-written graph and an existing graph at ``folder`` survives until the new
        one is complete.
        """
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            for name in _ARRAYS:
                v = getattr(self, name)
                if v is not None:
                    np.save(tmp / f"{name}.npy", v.detach().cpu().numpy())
            meta = {
                "format": "pinsage_edu.BipartiteGraph",
                "version": _FORMAT_VERSION,
                "num_items": self.num_items,
                "num_collections": self.num_collections,
                "num_edges": self.num_edges,
                "weighted": self.weighted,
            }
            (tmp / "graph.json").write_text(json.dumps(meta, indent=2) + "\n")
            old = None
            if folder.exists():
                if not (folder / "graph.json").exists():
                    raise GraphError(f"{folder} exists and is not a saved graph; refusing to replace it")
                old = folder.with_name(f".{folder.name}.old")
                if old.exists():
                    shutil.rmtree(old)
                os.replace(folder, old)
            os.replace(tmp, folder)
            if old is not None:
                shutil.rmtree(old)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike, *, mmap: bool = True, device: torch.device | str | None = None,
             validate: bool = False) -> "BipartiteGraph":
        """Read a graph written by :meth:`save`.

        With ``mmap=True`` (and no ``device``) the arrays are memory-mapped copy-on-write: nothing is
        read until it is touched, so graphs larger than free memory open instantly.
        """
        folder = Path(folder)
        meta_path = folder / "graph.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path}: no saved graph here (graph.json is missing)")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as exc:
            raise GraphError(f"{meta_path}: not valid JSON ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != "pinsage_edu.BipartiteGraph" \
                or meta.get("version") != _FORMAT_VERSION:
            raise GraphError(f"{meta_path}: not a pinsage_edu graph of format version {_FORMAT_VERSION}")
        for key, kind in (("num_items", int), ("num_collections", int), ("num_edges", int), ("weighted", bool)):
            if not isinstance(meta.get(key), kind):
                raise GraphError(f"{meta_path}: field {key!r} must be {kind.__name__}, got {meta.get(key)!r}")
        arrays: dict[str, torch.Tensor | None] = {}
        for name in _ARRAYS:
            p = folder / f"{name}.npy"
            if not p.exists():
                if name.endswith("weights") and not meta["weighted"]:
                    arrays[name] = None
                    continue
                raise FileNotFoundError(f"{p}: missing array of the saved graph")
            try:
                a = np.load(p, mmap_mode="c" if mmap else None, allow_pickle=False)
            except ValueError as exc:
                raise GraphError(f"{p}: unreadable array ({exc})") from None
            want = np.float32 if name.endswith("weights") else np.int64
            if a.dtype != want or a.ndim != 1:
                raise GraphError(f"{p}: expected a 1-D {np.dtype(want).name} array, found {a.ndim}-D {a.dtype}")
            t = torch.from_numpy(a)
            arrays[name] = t.to(device) if device is not None else t
        g = cls(num_items=int(meta["num_items"]), num_collections=int(meta["num_collections"]), **arrays)
        if g.num_edges != int(meta["num_edges"]):
            raise GraphError(f"{folder}: graph.json says {meta['num_edges']} edges, the arrays hold {g.num_edges}")
        if validate:
            g.validate()
        return g


# the old private names, for code written before they moved to utils
