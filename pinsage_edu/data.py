"""§4.1 Data: pins–boards interactions, the synthetic generator, splits and related-item pairs.

The paper trains on a bipartite graph of pins (items) and boards (collections) and on labelled pairs
(q, i) — "a user engaged with i right after q". This module holds exactly that:

* the containers: :class:`Interactions` (dense item and collection ids, weights, times), an
  :class:`ItemTable` of metadata, a :class:`Dataset` (both, with a record of what was dropped and
  why) and a :class:`Split`;
* **synthetic pins–boards**: a generator with known topics, power-law popularity and "visual" and
  "text" feature vectors that are noisy views of each pin's topic (:func:`synthetic_pins_boards`,
  and its named settings :data:`SYNTHETIC_PRESETS`);
* the **splits**: ``Dataset.split()`` / :func:`split_interactions` give train / val / test edges, the
  train-only graph and the (q, i) pairs of each part (:func:`related_pairs`).

Reading public data — MovieLens in every format, goodbooks-10k, any interactions CSV, and
:func:`~pinsage_edu.loaders.load_dataset` — is :mod:`pinsage_edu.loaders`, the layer above
(``from pinsage_edu.loaders import load_movielens``). A file that cannot be read
as documented raises :class:`DataError`, defined here, naming the file, the line and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .graph import BipartiteGraph

__all__ = [
    "DataError",
    "Interactions",
    "ItemTable",
    "Dataset",
    "Split",
    "merge_duplicates",
    "synthetic_pins_boards",
    "synthetic_preset",
    "SYNTHETIC_PRESETS",
    "split_interactions",
    "related_pairs",
]


class DataError(ValueError):
    """A data file that cannot be read as documented; the message names the file, line and problem."""


# ====================================================================== containers
@dataclass(frozen=True)
class Interactions:
    """Item–collection edges with dense ids (one row per distinct (item, collection) pair).

    ``item [E]`` and ``collection [E]`` are LongTensors of dense ids, ``weight [E]`` a FloatTensor
    (1.0 where the source has no weight), ``time [E]`` a LongTensor of timestamps or ``None``.
    """

    item: torch.Tensor
    collection: torch.Tensor
    weight: torch.Tensor
    time: torch.Tensor | None
    num_items: int
    num_collections: int

    @classmethod
    def from_arrays(cls, item: np.ndarray, coll: np.ndarray, weight: np.ndarray | None, time: np.ndarray | None,
                    num_items: int, num_collections: int) -> "Interactions":
        """From NumPy arrays of dense ids (``weight`` None: all 1.0; ``time`` None: untimed)."""
        return cls(
            item=torch.from_numpy(np.ascontiguousarray(item, dtype=np.int64)),
            collection=torch.from_numpy(np.ascontiguousarray(coll, dtype=np.int64)),
            weight=torch.from_numpy(np.ascontiguousarray(weight, dtype=np.float32)) if weight is not None
            else torch.ones(len(item), dtype=torch.float32),
            time=torch.from_numpy(np.ascontiguousarray(time, dtype=np.int64)) if time is not None else None,
            num_items=num_items,
            num_collections=num_collections,
        )

    def __post_init__(self) -> None:
        E = self.item.numel()
        for name in ("collection", "weight") + (("time",) if self.time is not None else ()):
            if getattr(self, name).shape != (E,):
                raise DataError(f"Interactions.{name} must have one entry per edge ({E})")

    def __len__(self) -> int:
        return int(self.item.numel())

    @property
    def timed(self) -> bool:
        return self.time is not None

    def subset(self, mask: torch.Tensor) -> "Interactions":
        """The edges where ``mask`` (BoolTensor [E]) is true; id spaces unchanged."""
        return replace(
            self,
            item=self.item[mask],
            collection=self.collection[mask],
            weight=self.weight[mask],
            time=self.time[mask] if self.time is not None else None,
        )

    @property
    def weighted(self) -> bool:
        """Whether the weights carry information (some edge weighs other than 1)."""
        return bool((self.weight != 1).any())

    def to_graph(self, weighted: bool | None = None, device: torch.device | str | None = None) -> BipartiteGraph:
        """The bipartite graph of these edges over the full id spaces (so item ids stay aligned).

        ``weighted=None`` keeps the weights only where they carry information (see :attr:`weighted`).
        """
        use = self.weighted if weighted is None else weighted
        return BipartiteGraph.from_edges(
            self.item,
            self.collection,
            self.weight if use else None,
            num_items=self.num_items,
            num_collections=self.num_collections,
            device=device,
        )


@dataclass(frozen=True)
class ItemTable:
    """Metadata of the items, aligned with the dense item ids.

    ``raw_ids`` are the source's ids (movieId, book_id, pin number). Fields a source lacks are empty
    (``genres`` lists, ``text`` strings, ``category`` strings) or NaN (``year``). ``vectors`` holds
    dense content the source itself provides (the synthetic "visual" and "text" views); ``topic`` is
    the synthetic ground truth, ``None`` for real data.
    """

    raw_ids: np.ndarray
    titles: list[str]
    genres: list[list[str]]
    year: torch.Tensor
    text: list[str]
    category: list[str]
    vectors: dict[str, torch.Tensor] = field(default_factory=dict)
    topic: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.titles)

    def index_of(self, raw_id: Any) -> int:
        """Dense id of the item with source id ``raw_id``; :class:`KeyError` if unknown."""
        try:
            key = np.asarray(raw_id).astype(self.raw_ids.dtype)
        except (ValueError, TypeError):
            raise KeyError(f"unknown item id {raw_id!r}") from None
        if isinstance(raw_id, bool) or key.ndim != 0 or (
                self.raw_ids.dtype.kind in "iu" and not (isinstance(raw_id, str) or key == raw_id)):
            raise KeyError(f"unknown item id {raw_id!r}")  # 1.7 must not find movie 1
        hits = np.nonzero(self.raw_ids == key)[0]
        if len(hits) == 0:
            raise KeyError(f"unknown item id {raw_id!r}")
        return int(hits[0])

    def find(self, text: str) -> list[int]:
        """Dense ids of the items whose title contains ``text`` (case-insensitive)."""
        t = text.lower()
        return [i for i, title in enumerate(self.titles) if t in title.lower()]

    def subset(self, idx: np.ndarray) -> "ItemTable":
        ii = [int(i) for i in idx]
        return ItemTable(
            raw_ids=self.raw_ids[idx],
            titles=[self.titles[i] for i in ii],
            genres=[self.genres[i] for i in ii],
            year=self.year[torch.as_tensor(idx, dtype=torch.long)],
            text=[self.text[i] for i in ii],
            category=[self.category[i] for i in ii],
            vectors={k: v[torch.as_tensor(idx, dtype=torch.long)] for k, v in self.vectors.items()},
            topic=self.topic[torch.as_tensor(idx, dtype=torch.long)] if self.topic is not None else None,
        )


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: interactions, item metadata, collection names and what was dropped."""

    name: str
    interactions: Interactions
    items: ItemTable
    collection_names: list[str]
    dropped: dict[str, int]
    source: str
    collection_topic: torch.Tensor | None = None  # synthetic ground truth
    # bool [num_collections]: collections whose consecutive saves are labelled related pairs (None: all);
    # the others still shape the graph (train edges, neighbourhoods, walks) but give no pairs
    pair_collections: torch.Tensor | None = None

    @property
    def num_items(self) -> int:
        return self.interactions.num_items

    @property
    def num_collections(self) -> int:
        return self.interactions.num_collections

    def graph(self, weighted: bool | None = None, device: torch.device | str | None = None) -> BipartiteGraph:
        """The full graph (every edge; use :meth:`split` for the train-only graph)."""
        return self.interactions.to_graph(weighted=weighted, device=device)

    def split(self, val_fraction: float = 0.1, test_fraction: float = 0.1, seed: int = 0) -> "Split":
        """Train / val / test split and related-item pairs; see :func:`split_interactions`."""
        return split_interactions(self.interactions, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                                  pair_collections=self.pair_collections)

    def with_items_last(self, items: Any) -> "Dataset":
        """The same data with item ids renumbered so that ``items`` come last (in the order given),
        every other item keeping its relative order: what :meth:`Split.seen_items` needs to hold those
        items out of training as "new pins"."""
        n = self.num_items
        last = torch.as_tensor(items, dtype=torch.long).reshape(-1)
        if last.numel() and (int(last.min()) < 0 or int(last.max()) >= n):
            raise DataError(f"{self.name}: cannot move unknown item ids to the end (valid ids are 0..{n - 1})")
        if torch.unique(last).numel() != last.numel():
            raise DataError(f"{self.name}: the items to move to the end repeat an id")
        is_last = torch.zeros(n, dtype=torch.bool)
        is_last[last] = True
        order = torch.cat([torch.nonzero(~is_last).squeeze(1), last])  # new id j is old item order[j]
        new_id = torch.empty(n, dtype=torch.long)
        new_id[order] = torch.arange(n)
        x = self.interactions
        return replace(self, interactions=replace(x, item=new_id[x.item]), items=self.items.subset(order.numpy()),
                       name=self.name, source=self.source)

    def summary(self, split: "Split | None" = None) -> str:
        """A short, readable report: sizes, degree quantiles, drops and (given a split) pair counts."""
        g = split.graph if split is not None else self.graph()
        s = g.summary(quantiles=(0.0, 0.5, 0.9, 0.99, 1.0))
        lines = [f"== {self.name}  ({_display_path(self.source)})"]
        if split is not None:
            lines.append(f"full data: {self.num_items:,} items · {self.num_collections:,} collections · "
                         f"{len(self.interactions):,} edges; train graph below")
        lines += s.lines()
        if split is not None:
            lines.append(split.describe())
        if self.dropped:
            lines.append("dropped: " + " · ".join(f"{k} {v:,}" for k, v in self.dropped.items()))
        return "\n".join(lines)


@dataclass(frozen=True)
class Split:
    """Edges split into train / val / test, the train-only graph and the related-item pairs.

    ``*_pairs`` are LongTensors [P, 2] of (q, i) item ids: i is the item its collection received
    right after q (by time, or in a seeded random order where there are no times), and the pair
    belongs to the part that holds i's edge. ``graph`` is built from ``train`` alone, so no val or
    test edge can leak into neighbourhoods, walks or degrees.
    """

    train: Interactions
    val: Interactions
    test: Interactions
    train_pairs: torch.Tensor
    val_pairs: torch.Tensor
    test_pairs: torch.Tensor
    graph: BipartiteGraph
    method: str  # "temporal" or "random"

    def describe(self) -> str:
        cold = self.cold_items()
        return (
            f"split ({self.method}): edges train {len(self.train):,} / val {len(self.val):,} / "
            f"test {len(self.test):,} · pairs train {len(self.train_pairs):,} / val {len(self.val_pairs):,} / "
            f"test {len(self.test_pairs):,} · items with no train edge {cold:,}"
        )

    def check_pairs(self, dataset: str, parts: Sequence[str] = ("train", "val", "test")) -> "Split":
        """This split, or a :class:`DataError` naming ``dataset`` and every part's pair count when one of
        ``parts`` holds no pair: training needs train pairs, validation val pairs, the reported figures
        test pairs, and with none a run would only print NaN. Called by the command line before training
        or evaluating."""
        counts = {"train": len(self.train_pairs), "val": len(self.val_pairs), "test": len(self.test_pairs)}
        unknown = [p for p in parts if p not in counts]
        if unknown:
            raise ValueError(f"unknown parts {unknown}; known: {list(counts)}")
        empty = [p for p in parts if counts[p] == 0]
        if empty:
            raise DataError(
                f"{dataset}: too little data: the split gives {counts['train']:,} train / {counts['val']:,} val / "
                f"{counts['test']:,} test pairs, and {' and '.join(empty)} pairs are needed. A collection gives a "
                "val or test pair only when it is long enough for its last val/test fraction to hold an edge "
                "(10 edges at the default 0.1): use more data, or larger --val-fraction / --test-fraction")
        return self

    def seen_items(self, num_seen: int) -> "Split":
        """This split restricted to items ``0 … num_seen − 1``: the train graph, edges and pairs of those
        items only (same collection ids). With :meth:`Dataset.with_items_last` this holds the last
        items out of training entirely — the paper's inductive setting, where a pin created after
        training is embedded from its features and neighbourhood."""
        if not 0 < num_seen <= self.graph.num_items:
            raise ValueError(f"num_seen must be in 1..{self.graph.num_items}, got {num_seen}")

        def keep(x: Interactions) -> Interactions:
            return replace(x.subset(x.item < num_seen), num_items=num_seen)

        def pairs(p: torch.Tensor) -> torch.Tensor:
            return p[(p < num_seen).all(1)]

        train = keep(self.train)
        return Split(train=train, val=keep(self.val), test=keep(self.test), train_pairs=pairs(self.train_pairs),
                     val_pairs=pairs(self.val_pairs), test_pairs=pairs(self.test_pairs),
                     graph=train.to_graph(weighted=self.graph.weighted), method=self.method)

    def cold_items(self) -> int:
        """Items that have edges in val or test but none in train (new items for the model)."""
        seen = torch.zeros(self.train.num_items, dtype=torch.bool)
        seen[self.train.item] = True
        held = torch.zeros_like(seen)
        held[self.val.item] = True
        held[self.test.item] = True
        return int((held & ~seen).sum())


# ====================================================================== building containers
def merge_duplicates(item: np.ndarray, coll: np.ndarray, weight: np.ndarray, time: np.ndarray | None,
                     num_collections: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, int]:
    """One row per (item, collection): weights summed, earliest time kept. Returns the merge count."""
    key = item.astype(np.int64) * max(num_collections, 1) + coll
    uniq, first, inv = np.unique(key, return_index=True, return_inverse=True)
    merged = len(key) - len(uniq)
    if merged == 0:
        return item, coll, weight, time, 0
    w = np.zeros(len(uniq), dtype=np.float64)
    np.add.at(w, inv, weight)
    t = None
    if time is not None:
        t = np.full(len(uniq), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(t, inv, time)
    return item[first], coll[first], w, t, merged


def _display_path(source: str) -> str:
    """Shipped data shown as ``datasets/...`` so summaries read the same on every machine."""
    try:
        root = Path(__file__).resolve().parent.parent / "datasets"
        return str(Path("datasets") / Path(source).resolve().relative_to(root))
    except (ValueError, OSError):
        return source


# ====================================================================== synthetic pins–boards
SYNTHETIC_PRESETS: dict[str, dict[str, Any]] = {
    # today's defaults, spelled out
    "classroom": dict(num_pins=20_000, num_boards=4_000, num_edges=200_000, num_topics=20, topic_purity=0.8,
                      popularity_exponent=0.7, board_size_exponent=2.2, visual_dim=32, text_dim=16,
                      feature_noise=1.0),
    # what makes the paper's choices matter (see :func:`synthetic_pins_boards` and pinsage_edu.regimes)
    "pinterest-like": dict(num_pins=6_000, num_boards=6_000, num_edges=120_000, num_topics=40, topic_purity=0.95,
                           num_subtopics=4, subtopic_purity=0.9, subtopic_signal=0.2,
                           catchall_boards=0.05, catchall_size=1.0, catchall_pairs=False,
                           popularity_exponent=0.8, board_size_exponent=2.2, visual_dim=32, text_dim=16,
                           feature_noise=0.6),
}
"""Named settings of :func:`synthetic_pins_boards` (drawn by :func:`synthetic_preset`, or
``load_dataset("synthetic", preset=...)``): ``"classroom"`` is the generator's defaults; ``"pinterest-like"`` is the regime in which the
paper's Table 1 ordering holds (tuned on validation pairs only; :mod:`pinsage_edu.regimes`)."""


def synthetic_pins_boards(
    num_pins: int = 20_000,
    num_boards: int = 4_000,
    num_edges: int = 200_000,
    *,
    num_topics: int = 20,
    topic_purity: float = 0.8,
    popularity_exponent: float = 0.7,
    board_size_exponent: float = 2.2,
    visual_dim: int = 32,
    text_dim: int = 16,
    feature_noise: float = 1.0,
    num_subtopics: int = 1,
    subtopic_purity: float = 1.0,
    subtopic_signal: float = 0.0,
    catchall_boards: float = 0.0,
    catchall_size: float = 1.0,
    catchall_pairs: bool = True,
    seed: int = 0,
) -> Dataset:
    """A pins–boards graph with known topics, for experiments whose right answer we know.

    * Each pin has a topic (uniform) and a popularity drawn from a power law (Zipf with
      ``popularity_exponent`` over a random ranking), so pin degrees are heavy-tailed like real saves.
    * Each board has a topic and a size from a discrete power law (exponent ``board_size_exponent``,
      at least 2), scaled so the sizes add up to about ``num_edges``. Each of its slots is filled, with
      probability ``topic_purity``, by a pin of the board's topic, else by any pin — both chosen in
      proportion to popularity. ``num_edges`` counts draws: repeated (pin, board) draws merge into
      one edge, so the graph has fewer edges than that (about 15–25% fewer at classroom sizes; the
      count is in ``Dataset.dropped``, with any draws lost to rounding or to the size cap when
      ``num_edges`` does not fit in ``num_boards`` boards). Pins never drawn are isolated items.
    * Each edge gets a save time (uniform over one year), so the temporal split applies.
    * Features: a pin's ``visual`` vector is its topic's visual centroid plus Gaussian noise
      (``feature_noise``), likewise ``text``. The views are complementary: topics 2j and 2j+1 share
      nearly the same visual centroid, and topics j and j + num_topics/2 nearly the same text
      centroid, so either view alone confuses pairs of topics that the two together separate — the
      paper's "visual + text beat either alone".

    **Knobs that model what makes the paper's choices matter on Pinterest** (their defaults give the
    graph above exactly, draw for draw):

    * ``num_subtopics`` (default 1: none) — **hierarchical topics**. Each topic splits into this many
      sub-topics (a pin's sub-topic j is uniform within its topic; it is shown in its title,
      ``"pin 7 (sub-topic 3.5)"`` for topic 3, sub-topic 5, and nowhere in the features). Each board
      is about one sub-topic: each on-topic slot takes, with probability ``subtopic_purity`` (default
      1), a pin of the board's sub-topic, else a pin of its topic. Related pairs are then mostly
      same-sub-topic: a uniform negative is almost always off-topic (easy), while a same-topic,
      other-sub-topic pin — what the PPR band holds — is hard. ``collection_topic`` stays the board's
      topic. Board sizes are capped at half a **sub**-topic's pins (the cap above, per sub-topic).
    * ``subtopic_signal`` (default 0) — how much of the sub-topic the **content** shows: each view adds
      ``subtopic_signal`` × a random unit-variance sub-topic offset to the topic centroid. Small values
      make features encode the topic strongly and the sub-topic weakly (a picture shows "food", hardly
      "vegan desserts"), so the graph must supply the finer structure.
    * ``catchall_boards`` (default 0) — the share of boards that are **noisy catch-alls** ("things I
      like"): every slot is drawn from the whole catalogue by popularity, ignoring topics, and the board
      is ``catchall_size`` (default 1) times as large as its drawn size would be, capped at half a
      topic's pins. They are named
      ``"catch-all board {b}"`` in ``collection_names``. Through them random neighbours of a pin are
      often off-topic hub pins, each seen rarely by the walks: uniform (mean) pooling takes them at
      face value, importance pooling (visit counts) discounts them.
    * ``catchall_pairs`` (default True) — whether catch-all boards give **labelled related pairs**.
      With False their saves still make edges (graph, neighbourhoods, walks, hub pins) but no train,
      val or test pairs (``Dataset.pair_collections``): Pinterest's labelled pairs were curated
      engagement (a repin or click right after a view), not any two consecutive saves to a
      "things I like" board, whose pairs are unrelated pins no method could predict.
    * ``feature_noise`` (above) sets how noisy both content views are; ``num_pins`` against
      ``num_edges`` sets how much of the catalogue lies within two hops of a pin.

    Named settings: :data:`SYNTHETIC_PRESETS`, drawn by :func:`synthetic_preset` (or
    ``load_dataset("synthetic", preset="pinterest-like", ...)``).

    Vectorised throughout (10M edges in well under a minute on 2 cores); seeded by ``seed``.
    """
    if num_pins < 1 or num_boards < 1 or num_edges < 1 or num_topics < 1:
        raise ValueError("num_pins, num_boards, num_edges and num_topics must all be positive")
    if not 0.0 <= topic_purity <= 1.0:
        raise ValueError(f"topic_purity must lie in 0..1, got {topic_purity}")
    if not board_size_exponent > 1.0:
        raise ValueError(f"board_size_exponent must be > 1 (a Pareto law with a finite total), got {board_size_exponent}")
    if isinstance(num_subtopics, bool) or not isinstance(num_subtopics, int) or num_subtopics < 1:
        raise ValueError(f"num_subtopics must be a positive integer, got {num_subtopics!r}")
    for name, v in (("subtopic_purity", subtopic_purity), ("catchall_boards", catchall_boards)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must lie in 0..1, got {v}")
    if not subtopic_signal >= 0.0:
        raise ValueError(f"subtopic_signal must be >= 0, got {subtopic_signal}")
    if not catchall_size > 0.0:
        raise ValueError(f"catchall_size must be > 0, got {catchall_size}")
    S = num_subtopics
    cap = max(2.0, num_pins / (num_topics * S) / 2)
    g = torch.Generator().manual_seed(seed)

    pin_topic = torch.randint(num_topics, (num_pins,), generator=g)
    rank = torch.randperm(num_pins, generator=g).to(torch.float64) + 1.0
    popularity = rank.pow(-popularity_exponent)

    # Board sizes: inverse-CDF samples of a Pareto law, rescaled to ~num_edges in total, floored at 2
    # and capped at half a (sub-)topic's pins (a board far larger than its topic would mostly repeat pins);
    # what the cap removes is spread over the other boards.
    u = torch.rand(num_boards, generator=g, dtype=torch.float64).clamp_min(1e-12)
    raw = u.pow(-1.0 / (board_size_exponent - 1.0))
    catchall = torch.zeros(num_boards, dtype=torch.bool)
    if catchall_boards > 0:  # drawn only when asked, so the defaults keep today's random stream
        catchall = torch.rand(num_boards, generator=g, dtype=torch.float64) < catchall_boards
        raw = torch.where(catchall, raw * catchall_size, raw)
    sizes_f = raw / raw.sum() * num_edges
    if catchall_boards > 0:  # a catch-all ignores topics: capped at half a topic's pins, as without sub-topics
        cap = torch.where(catchall, max(2.0, num_pins / num_topics / 2), cap)
    for _ in range(8):
        capped = sizes_f >= cap
        sizes_f = sizes_f.clamp(max=cap)
        free = sizes_f[~capped].sum()
        if free <= 0:
            break
        held = cap * capped.sum() if not torch.is_tensor(cap) else (cap * capped).sum()
        sizes_f[~capped] *= (num_edges - held).clamp_min(0) / free
    sizes = sizes_f.floor().clamp(min=2).clamp(max=cap).to(torch.long)
    board_topic = torch.randint(num_topics, (num_boards,), generator=g)
    board = torch.repeat_interleave(torch.arange(num_boards), sizes)
    E = board.numel()

    # Sample pins by popularity within a group: pins sorted by (sub-)topic, one cumulative sum; a
    # group is a contiguous slice [lo, hi) of it (a topic is the union of its sub-topics' slices), so
    # a uniform draw in that slice + searchsorted picks a pin.
    if S > 1:
        pin_sub = pin_topic * S + torch.randint(S, (num_pins,), generator=g)
        board_sub = board_topic * S + torch.randint(S, (num_boards,), generator=g)
    else:
        pin_sub, board_sub = pin_topic, board_topic
    by_topic = torch.argsort(pin_sub, stable=True)
    cum = torch.cumsum(popularity[by_topic], 0)
    cum0 = torch.cat([torch.zeros(1, dtype=cum.dtype), cum])

    def slices(labels: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        counts = torch.bincount(labels, minlength=n)
        ends = torch.cumsum(counts, 0)
        return cum0[ends - counts], cum0[ends], counts

    lo, hi, counts = slices(pin_topic, num_topics)
    on_topic = torch.rand(E, generator=g) < topic_purity
    t = board_topic[board]
    empty = counts[t] == 0
    on_topic &= ~empty
    if catchall_boards > 0:
        on_topic &= ~catchall[board]
    a = torch.where(on_topic, lo[t], torch.zeros(E, dtype=cum.dtype))
    b = torch.where(on_topic, hi[t], torch.full((E,), float(cum[-1]), dtype=cum.dtype))
    if S > 1:  # on-topic slots narrowed to the board's sub-topic with probability subtopic_purity
        slo, shi, scounts = slices(pin_sub, num_topics * S)
        sb = board_sub[board]
        on_sub = on_topic & (torch.rand(E, generator=g) < subtopic_purity) & (scounts[sb] > 0)
        a = torch.where(on_sub, slo[sb], a)
        b = torch.where(on_sub, shi[sb], b)
    r = a + torch.rand(E, generator=g, dtype=torch.float64) * (b - a)
    pos = torch.searchsorted(cum, r, right=True).clamp_max(num_pins - 1)
    pin = by_topic[pos]

    year = 365 * 24 * 3600
    time = 1_500_000_000 + torch.randint(year, (E,), generator=g)
    item, coll, _, tm, merged = merge_duplicates(pin.numpy(), board.numpy(), np.ones(E), time.numpy(), num_boards)
    dropped = {"repeated (pin, board) draws merged": merged}
    if E < num_edges:
        # Sizes are rounded down, and capped when num_edges does not fit in num_boards boards of `cap`.
        dropped["draws short of num_edges (board sizes rounded down or capped)"] = num_edges - E
    w = None  # a pin is in a board or not: repeated draws collapse to one unweighted edge

    def centroids(dim: int, share: torch.Tensor) -> torch.Tensor:
        base = torch.randn(int(share.max()) + 1, dim, generator=g)
        return base[share] + 0.15 * torch.randn(num_topics, dim, generator=g)

    topics = torch.arange(num_topics)
    vis_c = centroids(visual_dim, topics // 2)
    txt_c = centroids(text_dim, topics % max(num_topics // 2, 1))
    visual = vis_c[pin_topic] + feature_noise * torch.randn(num_pins, visual_dim, generator=g)
    text = txt_c[pin_topic] + feature_noise * torch.randn(num_pins, text_dim, generator=g)
    if S > 1 and subtopic_signal > 0:
        visual += subtopic_signal * torch.randn(num_topics * S, visual_dim, generator=g)[pin_sub]
        text += subtopic_signal * torch.randn(num_topics * S, text_dim, generator=g)[pin_sub]

    n = num_pins
    if S > 1:  # the ground-truth sub-topic rides in the title (not in category, which would be a feature)
        titles = [f"pin {i} (sub-topic {t // S}.{t % S})" for i, t in enumerate(pin_sub.tolist())]
    else:
        titles = [f"pin {i}" for i in range(n)]
    items = ItemTable(
        raw_ids=np.arange(n),
        titles=titles,
        genres=[[] for _ in range(n)],
        year=torch.full((n,), float("nan")),
        text=["" for _ in range(n)],
        category=["" for _ in range(n)],
        vectors={"visual": visual, "text": text},
        topic=pin_topic,
    )
    names = [f"board {b}" for b in range(num_boards)]
    if catchall_boards > 0:
        for b in torch.nonzero(catchall).flatten().tolist():
            names[b] = f"catch-all board {b}"
    return Dataset(
        name=f"synthetic-{num_pins}x{num_boards}",
        interactions=Interactions.from_arrays(item, coll, w, tm, num_pins, num_boards),
        items=items,
        collection_names=names,
        dropped=dropped,
        source=f"synthetic_pins_boards(seed={seed})",
        collection_topic=board_topic,
        pair_collections=None if catchall_pairs or catchall_boards <= 0 else ~catchall,
    )


def synthetic_preset(preset: str = "pinterest-like", *, seed: int = 0, **overrides: Any) -> Dataset:
    """:func:`synthetic_pins_boards` with the named setting ``preset`` of :data:`SYNTHETIC_PRESETS`,
    any of its keyword arguments in ``overrides`` taking precedence: ``synthetic_preset(
    "pinterest-like", num_pins=10_000, seed=1)``."""
    if preset not in SYNTHETIC_PRESETS:
        raise ValueError(f"unknown synthetic preset {preset!r}; known: {sorted(SYNTHETIC_PRESETS)}")
    return synthetic_pins_boards(**{**SYNTHETIC_PRESETS[preset], **overrides, "seed": seed})


# ====================================================================== splits and pairs
def _order_within_collections(x: Interactions, seed: int) -> torch.Tensor:
    """Edge order by (collection, time, random tie-break): the sequence in which each collection grew.

    Without times the order within a collection is a seeded random permutation. Ties in time (many
    MovieLens ratings share a second) are broken at random rather than by id, so pairs carry no
    artefact of the id numbering.
    """
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=g)
    if x.time is not None:
        order = order[torch.sort(x.time[order], stable=True).indices]
    return order[torch.sort(x.collection[order], stable=True).indices]


def _sequences(x: Interactions, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(order [E], position of each ordered edge within its collection [E], collection size [E])."""
    order = _order_within_collections(x, seed)
    c = x.collection[order]
    counts = torch.bincount(c, minlength=x.num_collections)
    start = torch.cumsum(counts, 0) - counts
    return order, torch.arange(len(x)) - start[c], counts[c]


def _consecutive(x: Interactions, order: torch.Tensor) -> torch.Tensor:
    """(previous item, item) for each ordered edge: LongTensor [E, 2]; row k is valid where k is not
    the first edge of its collection."""
    it = x.item[order]
    return torch.stack([torch.roll(it, 1), it], dim=1)


def related_pairs(x: Interactions, seed: int = 0) -> torch.Tensor:
    """All (q, i) pairs of items that one collection received consecutively: LongTensor [P, 2].

    A collection of n items gives n - 1 pairs. This is the paper's notion of a related pair (a user
    engaged with i right after q), read off the order of :func:`_order_within_collections`.
    """
    order, pos, _ = _sequences(x, seed)
    return _consecutive(x, order)[pos >= 1]


def split_interactions(x: Interactions, *, val_fraction: float = 0.1, test_fraction: float = 0.1,
                       seed: int = 0, pair_collections: torch.Tensor | None = None) -> Split:
    """Split each collection's edges in its own order: the last ``test_fraction`` go to test, the
    ``val_fraction`` before them to val, the rest to train (counts rounded down, so small collections
    stay in train).

    With times this is the per-user **temporal** split; without, the order is a seeded random
    permutation and the same rule makes a **random** edge split (stratified per collection).

    Pairs: each edge after the first in its collection makes a pair (previous item, this item); the
    pair goes to the part that holds this edge. So a test pair's query may be an item the user liked
    in train or val — the last thing they liked before — but its answer is always a held-out edge,
    and the train graph holds train edges only (no leakage).

    ``pair_collections`` (bool [num_collections], default None: all) limits the pairs to those
    collections; the edges of the others are split and kept in the graph all the same (on Pinterest
    the labelled pairs were curated engagement, not every board's saves). The split itself does not
    depend on it.
    """
    if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
        raise ValueError(f"need 0 <= val_fraction, test_fraction and their sum < 1; got {val_fraction}, {test_fraction}")
    if len(x) == 0:
        raise DataError("cannot split an empty set of interactions")
    order, pos, n = _sequences(x, seed)
    n_test = torch.floor(n.to(torch.float64) * test_fraction).to(torch.long)
    n_val = torch.floor(n.to(torch.float64) * val_fraction).to(torch.long)
    part = torch.zeros(len(x), dtype=torch.long)  # 0 train, 1 val, 2 test (in sorted order)
    part[pos >= n - n_test - n_val] = 1
    part[pos >= n - n_test] = 2

    has_prev = pos >= 1
    if pair_collections is not None:
        pc = torch.as_tensor(pair_collections, dtype=torch.bool).reshape(-1)
        if pc.numel() != x.num_collections:
            raise ValueError(f"pair_collections has {pc.numel()} entries for {x.num_collections} collections")
        has_prev = has_prev & pc[x.collection[order]]
    pairs = _consecutive(x, order)
    part_of_edge = torch.empty_like(part)
    part_of_edge[order] = part
    train, val, test = (x.subset(part_of_edge == k) for k in range(3))
    return Split(
        train=train,
        val=val,
        test=test,
        train_pairs=pairs[has_prev & (part == 0)],
        val_pairs=pairs[has_prev & (part == 1)],
        test_pairs=pairs[has_prev & (part == 2)],
        graph=train.to_graph(),
        method="temporal" if x.timed else "random",
    )
