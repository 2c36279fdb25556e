"""§4.1 Item features x_u: what PinSage knows about an item before it looks at the graph.

The paper feeds each pin a visual embedding (VGG-16 on the image), a text embedding (Word2Vec on the
annotations) and the log of its degree. We build the same kinds of signal from what our data has,
with no downloaded model:

| group      | MovieLens                     | goodbooks                 | synthetic            |
|------------|-------------------------------|---------------------------|----------------------|
| `text`     | title + user tags, hashed BoW | title + authors, hashed   | the "text" view      |
| `visual`   | —                             | —                         | the "visual" view    |
| `genres`   | multi-hot                     | —                         | —                    |
| `year`     | release year (+ missing flag) | publication year (+ flag) | —                    |
| `language` | —                             | one-hot language code     | —                    |
| `collections` | the item's users (opt-in) | the book's shelves (opt-in) | its boards (opt-in) |
| `degree`   | log(1 + degree)               | log(1 + degree)           | log(1 + degree)      |

Every column is standardised (mean 0, std 1 over items; constant columns become 0) and the result is
checked to be finite. The groups are named so that the content-only baselines of §4 ("Visual",
"Annot.", "Combined") can pick them: ``features.select("text")``, ``features.select("text", "genres")``.

Goodbooks' text deliberately leaves out shelf names: shelves *are* that graph's collections, and a
"content-only" baseline that read them would be a graph method in disguise. With ``collection_dim > 0``
PinSage gets the item's collections **in the train graph only** as a group of their own,
`collections` (tf-idf over collections, randomly projected to ``collection_dim`` columns): for
goodbooks what readers file the book under, for MovieLens who liked it. That is graph information,
like the degree, so the content-only baselines never read it; an item new to the model still has it
as soon as it has edges, so the model stays inductive. MovieLens tags are item
content written by users at any time, some after a user's held-out likes; they describe the movie,
not the user, so we keep them (pass ``groups`` without ``text`` to rule them out).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Sequence

import torch

from .data import Dataset
from .graph import BipartiteGraph

__all__ = ["ItemFeatures", "item_features", "hashed_bag_of_words", "tfidf_projection", "standardise", "tokenize"]

_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


@dataclass(frozen=True)
class ItemFeatures:
    """Feature matrix ``x [num_items, dim]`` (float32) and the columns of each named group."""

    x: torch.Tensor
    groups: dict[str, slice]

    @property
    def dim(self) -> int:
        return int(self.x.shape[1])

    @property
    def names(self) -> list[str]:
        return list(self.groups)

    def select(self, *names: str, balanced: bool = False) -> torch.Tensor:
        """The columns of the named groups, in the order given: FloatTensor [num_items, d].

        ``balanced=True`` divides each group by the square root of its width, so that every group
        adds the same expected squared norm and a 64-column text group does not drown a 1-column
        year in a dot product.
        """
        if not names:
            raise ValueError(f"name at least one feature group: {self.names}")
        parts = []
        for n in names:
            if n not in self.groups:
                raise KeyError(f"unknown feature group {n!r}; this dataset has {self.names}")
            block = self.x[:, self.groups[n]]
            parts.append(block / math.sqrt(block.shape[1]) if balanced else block)
        return torch.cat(parts, dim=1)

    def to(self, device: torch.device | str) -> "ItemFeatures":
        return ItemFeatures(self.x.to(device), dict(self.groups))

    def describe(self) -> str:
        return f"{self.x.shape[0]:,} items × {self.dim} features: " + ", ".join(
            f"{n} {s.stop - s.start}" for n, s in self.groups.items()
        )


def tokenize(text: str) -> list[str]:
    """Lower-cased alphabetic words (digits dropped: years have their own group)."""
    return [t for t in _TOKEN.findall(text.lower()) if len(t) > 1]


def _stable_hash(token: str) -> int:
    # Python's hash() is salted per process; features must not change between runs.
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=7).digest(), "little")


def hashed_bag_of_words(
    texts: Sequence[str], dim: int = 64, *, num_buckets: int = 1 << 14, seed: int = 0
) -> torch.Tensor:
    """Dense text vectors from words alone: FloatTensor [len(texts), dim].

    Each word is hashed to one of ``num_buckets`` buckets with a ±1 sign (the hashing trick); bucket
    counts are weighted by tf-idf (``log(1 + tf) · log((1 + N) / (1 + df))``), each row is
    L2-normalised, and a seeded Gaussian random projection maps buckets to ``dim`` dimensions
    (Johnson–Lindenstrauss: dot products are preserved up to small noise). Texts with no word get a
    zero vector.
    """
    if dim < 1 or num_buckets < 1:
        raise ValueError(f"dim and num_buckets must be positive, got {dim}, {num_buckets}")
    rows: list[int] = []
    words: list[str] = []
    for i, text in enumerate(texts):
        toks = tokenize(text)
        rows.extend([i] * len(toks))
        words.extend(toks)
    n = len(texts)
    if not words:
        return torch.zeros(n, dim)
    vocab = sorted(set(words))
    index = {w: j for j, w in enumerate(vocab)}
    h = torch.tensor([_stable_hash(w) for w in vocab], dtype=torch.int64)
    bucket_of_word = torch.remainder(h, num_buckets)
    sign_of_word = torch.where(torch.remainder(h >> 48, 2) == 0, 1.0, -1.0)
    word_ids = torch.tensor([index[w] for w in words], dtype=torch.long)
    row_ids = torch.tensor(rows, dtype=torch.long)
    # term frequencies per (row, bucket), signed
    key = row_ids * num_buckets + bucket_of_word[word_ids]
    uniq, inv = torch.unique(key, return_inverse=True)
    tf = torch.zeros(uniq.numel()).index_add_(0, inv, sign_of_word[word_ids])
    return tfidf_projection(uniq // num_buckets, uniq % num_buckets, tf, n, num_buckets, dim, seed=seed)


def tfidf_projection(rows: torch.Tensor, cols: torch.Tensor, tf: torch.Tensor, num_rows: int, num_cols: int,
                     dim: int, *, seed: int = 0) -> torch.Tensor:
    """A sparse count matrix (``rows``, ``cols``, signed counts ``tf``; each (row, col) once) as dense
    vectors [num_rows, dim]: tf-idf weights ``sign · log(1 + |tf|) · log((1 + N) / (1 + df))``, rows
    L2-normalised, then a seeded Gaussian random projection (dot products kept up to small noise)."""
    df = torch.bincount(cols, minlength=num_cols).to(torch.float32)
    val = torch.sign(tf) * torch.log1p(tf.abs()) * torch.log((1.0 + num_rows) / (1.0 + df[cols]))
    norm = torch.zeros(num_rows).index_add_(0, rows, val * val).sqrt().clamp_min(1e-12)
    val = val / norm[rows]
    g = torch.Generator().manual_seed(seed)
    proj = torch.randn(num_cols, dim, generator=g) / math.sqrt(dim)
    # sparse [num_rows, num_cols] @ proj, as one scatter-add over the non-zeros
    return torch.zeros(num_rows, dim).index_add_(0, rows, val.unsqueeze(1) * proj[cols])


def standardise(x: torch.Tensor) -> torch.Tensor:
    """Columns to mean 0 and standard deviation 1 over rows; constant columns become 0."""
    x = x.to(torch.float64)
    mean = x.mean(0, keepdim=True)
    std = x.std(0, unbiased=False, keepdim=True)
    out = (x - mean) / torch.where(std > 1e-8, std, torch.ones_like(std))
    out[:, (std <= 1e-8).squeeze(0)] = 0.0
    return out.to(torch.float32)


def _multi_hot(labels: Sequence[Sequence[str]]) -> tuple[torch.Tensor, list[str]]:
    vocab = sorted({g for gs in labels for g in gs})
    index = {g: j for j, g in enumerate(vocab)}
    rows = [i for i, gs in enumerate(labels) for _ in gs]
    cols = [index[g] for gs in labels for g in gs]
    out = torch.zeros(len(labels), len(vocab))
    if rows:
        out[torch.tensor(rows), torch.tensor(cols)] = 1.0
    return out, vocab


def _with_missing_flag(values: torch.Tensor) -> torch.Tensor:
    """[N, 1 or 2]: the value (missing ones set to the median) and, if any is missing, a 0/1 flag."""
    missing = torch.isnan(values)
    if bool(missing.all()):
        return torch.zeros(len(values), 1)
    filled = torch.where(missing, values[~missing].median(), values).unsqueeze(1)
    return torch.cat([filled, missing.float().unsqueeze(1)], 1) if bool(missing.any()) else filled


def item_features(
    dataset: Dataset,
    graph: BipartiteGraph,
    *,
    groups: Sequence[str] | None = None,
    text_dim: int = 64,
    min_category_count: int = 5,
    collection_dim: int = 0,
    seed: int = 0,
) -> ItemFeatures:
    """The feature matrix of ``dataset``'s items (see the module docstring for the groups).

    ``graph`` supplies the degrees: pass the **train** graph of a split, so that held-out edges do
    not leak into the features. ``groups`` picks a subset (default: every group the dataset has).
    Categories seen fewer than ``min_category_count`` times share one "other" column.
    """
    items = dataset.items
    n = len(items)
    if graph.num_items != n:
        raise ValueError(f"graph has {graph.num_items} items but the dataset has {n}; pass the graph of this dataset")
    built: dict[str, torch.Tensor] = {}
    if "visual" in items.vectors:
        built["visual"] = items.vectors["visual"]
    if "text" in items.vectors:
        built["text"] = items.vectors["text"]
    elif any(items.titles) or any(items.text):
        texts = [f"{t} {x}" for t, x in zip(items.titles, items.text)]
        built["text"] = hashed_bag_of_words(texts, text_dim, seed=seed)
    if any(items.genres):
        built["genres"], _ = _multi_hot(items.genres)
    if not bool(torch.isnan(items.year).all()):
        built["year"] = _with_missing_flag(items.year)
    if any(items.category):
        counts: dict[str, int] = {}
        for c in items.category:
            counts[c] = counts.get(c, 0) + 1
        labels = [[c if c and counts[c] >= min_category_count else "other"] for c in items.category]
        built["language"], _ = _multi_hot(labels)
    if collection_dim and graph.num_edges:
        # The item's collections in the *train* graph (tf = the edge's weight), tf-idf weighted and
        # randomly projected: a sketch of whom (or which shelves) the item is with. Graph information,
        # like the degree, so no content baseline reads it; an unseen item gets it from its edges.
        items_e, colls_e, w = (t.cpu() for t in graph.edges()) if graph.weighted else (
            *(t.cpu() for t in graph.edges()[:2]), None)
        tf = w.to(torch.float32) if w is not None else torch.ones(items_e.numel())
        built["collections"] = tfidf_projection(items_e, colls_e, tf, n, graph.num_collections, collection_dim,
                                                seed=seed)
    built["degree"] = torch.log1p(graph.item_degrees.cpu().to(torch.float32)).unsqueeze(1)

    names = list(groups) if groups is not None else list(built)
    if not names:
        raise ValueError("groups must name at least one feature group")
    if len(set(names)) != len(names):
        raise ValueError(f"groups names a feature group twice: {names}")
    for name in names:
        if name not in built:
            raise KeyError(f"{dataset.name} has no feature group {name!r}; available: {list(built)}")
    blocks, spans, start = [], {}, 0
    for name in names:
        block = standardise(built[name].to(torch.float32))
        if not bool(torch.isfinite(block).all()):
            raise ValueError(f"feature group {name!r} of {dataset.name} holds NaN or infinite values")
        blocks.append(block)
        spans[name] = slice(start, start + block.shape[1])
        start += block.shape[1]
    return ItemFeatures(torch.cat(blocks, dim=1), spans)
