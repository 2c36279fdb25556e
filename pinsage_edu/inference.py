"""§3.4: computing the embeddings of every item once the model is trained.

Two ways, which give the same vectors for the same neighbourhoods:

* :func:`embed_minibatches` — the *naive* way: Algorithm 2 for every minibatch of items. Each
  minibatch recomputes the layer-1 vectors of all the neighbours it reaches, so an item shared by
  many neighbourhoods is recomputed in every minibatch that reaches it
  (:func:`computation_counts` counts how often).
* :func:`embed_all` — the paper's "MapReduce" inference: layer by layer for *all* items, each item's
  vector at each layer computed exactly once. For layer k:

  1. **map**: every item u sends its message ReLU(Q⁽ᵏ⁾·h_u⁽ᵏ⁻¹⁾ + q⁽ᵏ⁾) (once per item, not once per
     (item, neighbour) pair);
  2. **join**: each item's T neighbours' messages are looked up through the neighbourhood table,
     computed once for all layers;
  3. **reduce**: pool them with the importance weights and combine with the item's own
     h_u⁽ᵏ⁻¹⁾ (Algorithm 1, lines 1–3) to get h_u⁽ᵏ⁾.

  After K layers the head G₂·ReLU(G₁·h + g) maps every item once more. Items are processed in
  chunks, so the working memory beyond the per-layer arrays ([N, m] messages, [N, d] vectors) is
  bounded by ``chunk_size``. Under ``torchrun`` each rank maps and reduces its own contiguous shard
  of the items and the ranks exchange the messages of every layer — by an all-gather, or by writing
  their shards to a shared folder and reading the others' back (the MapReduce picture). Every rank
  ends with all the embeddings.

Embeddings are stored with the items' ids and a hash of the model that made them
(:func:`save_embeddings`, :func:`load_embeddings`), so vectors from different models are never mixed.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .distributed import World, shard_range, world as current_world
from .minibatch import NeighborhoodFn, NeighborhoodTable, sample_blocks
from .model import PinSage

__all__ = ["embed_minibatches", "embed_all", "computation_counts", "model_hash", "ItemEmbeddings",
           "save_embeddings", "load_embeddings", "EMBEDDINGS_FORMAT"]

EMBEDDINGS_FORMAT = "pinsage_edu.embeddings/1"


def _check_batch(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


@torch.no_grad()
def embed_minibatches(model: PinSage, features: torch.Tensor, neighborhood_fn: NeighborhoodFn,
                      items: Any = None, *, batch_size: int = 1024) -> torch.Tensor:
    """FloatTensor [len(items), embed_dim]: the model's embeddings of ``items`` (default: every item),
    by Algorithm 2 for each minibatch of ``batch_size`` items (the naive way, see the module notes).

    The model is put in eval mode for the call (no dropout) and restored afterwards.
    """
    _check_batch("batch_size", batch_size)
    items = torch.arange(features.shape[0]) if items is None else torch.as_tensor(items).long().reshape(-1)
    was_training = model.training
    model.eval()
    try:
        out = [model(sample_blocks(items[lo:lo + batch_size], model.config.num_layers, neighborhood_fn)
                     .to(model.device), features)
               for lo in range(0, items.numel(), batch_size)]
    finally:
        model.train(was_training)
    if not out:
        return torch.zeros((0, model.config.embed_dim), device=model.device)
    return torch.cat(out)


def computation_counts(table: NeighborhoodTable, num_layers: int, batch_size: int,
                       items: Any = None) -> dict[str, list[int]]:
    """How many item vectors each way computes, per layer k = 1 … K (and the messages of layer 1).

    ``naive``: Σ over minibatches of |S⁽ᵏ⁾| (Algorithm 2 computes h⁽ᵏ⁾ for every node of S⁽ᵏ⁾, and
    the layer-k messages for every node of S⁽ᵏ⁻¹⁾); ``layerwise``: every item once per layer.
    Returned as ``{"naive_vectors", "naive_messages", "layerwise_vectors", "layerwise_messages"}``,
    lists of K counts.
    """
    K = _check_batch("num_layers", num_layers)
    _check_batch("batch_size", batch_size)
    items = torch.arange(table.num_items) if items is None else torch.as_tensor(items).long().reshape(-1)
    vec, msg = [0] * K, [0] * K
    for lo in range(0, items.numel(), batch_size):
        sizes = sample_blocks(items[lo:lo + batch_size], K, table).sizes  # |S⁽⁰⁾| … |S⁽ᴷ⁾|
        for k in range(K):
            vec[k] += sizes[k + 1]
            msg[k] += sizes[k]
    n = int(items.numel())
    return {"naive_vectors": vec, "naive_messages": msg, "layerwise_vectors": [n] * K,
            "layerwise_messages": [table.num_items] * K}


@torch.no_grad()
def embed_all(model: PinSage, table: NeighborhoodTable, features: torch.Tensor, *, chunk_size: int = 8192,
              storage_device: torch.device | str | None = None, world: World | None = None,
              shard_dir: str | os.PathLike | None = None) -> torch.Tensor:
    """FloatTensor [N, embed_dim] on ``storage_device``: every item's embedding, layer by layer.

    * ``table``: every item's neighbourhood (computed once; the same table given to
      :func:`embed_minibatches` gives the same vectors up to float rounding).
    * ``features``: [N, in_dim], on any device; rows are moved to the model's device chunk by chunk.
    * ``chunk_size``: items mapped or reduced at once on the model's device; the gather of the
      reduce step holds ``chunk_size × T × m`` floats.
    * ``storage_device``: where the per-layer arrays live (default: the model's device; ``"cpu"``
      keeps GPU memory to one chunk's work).
    * ``world``: the process group (default: the current one, a single process if none). With
      several ranks each computes its shard of items and the messages are exchanged per layer, by
      all-gather, or through ``shard_dir`` (a folder every rank can read: each writes
      ``layer{k}-messages-rank{r}.pt`` and reads the others').
    """
    _check_batch("chunk_size", chunk_size)
    if not isinstance(table, NeighborhoodTable):
        raise TypeError(f"embed_all needs a NeighborhoodTable (every item's neighbourhood, computed once), "
                        f"got {type(table).__name__}")
    if not isinstance(features, torch.Tensor) or features.dim() != 2:
        raise ValueError(f"features must be a [num_items, in_dim] tensor, got "
                         f"{tuple(features.shape) if isinstance(features, torch.Tensor) else type(features)}")
    N, c = features.shape[0], model.config
    if features.shape[1] != c.in_dim:
        raise ValueError(f"features have {features.shape[1]} columns but the model expects in_dim = {c.in_dim}")
    if table.num_items != N:
        raise ValueError(f"the neighbourhood table holds {table.num_items} items but features {N}")
    if table.num_neighbors <= 0:
        raise ValueError("the neighbourhood table has T = 0")
    w = world or current_world()
    dev = model.device
    store = torch.device(storage_device) if storage_device is not None else dev
    lo, hi = shard_range(N, w.rank, w.size)
    if shard_dir is not None:
        shard_dir = Path(shard_dir)
        shard_dir.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        # h⁽⁰⁾ of this shard: the features (or their input projection)
        h = torch.empty((hi - lo, c.input_dim or c.in_dim), dtype=torch.float32, device=store)
        for a in range(lo, hi, chunk_size):
            b = min(a + chunk_size, hi)
            x = features[a:b].to(dev, non_blocking=True).float()
            if not bool(torch.isfinite(x).all()):
                bad = a + int(torch.nonzero(~torch.isfinite(x).all(1))[0])
                raise ValueError(f"features of item {bad} hold NaN or infinite values")
            h[a - lo:b - lo] = model.input_embeddings(x, torch.arange(a, b, device=dev)).to(store)
        h0 = h if c.input_skip else None  # kept for the head's input skip
        for k, layer in enumerate(model.layers, start=1):
            # map: this shard's messages ReLU(Q·h_u + q), once per item
            msg = torch.empty((hi - lo, layer.hidden_dim), dtype=torch.float32, device=store)
            for a in range(0, hi - lo, chunk_size):
                msg[a:a + chunk_size] = layer.neighbor_messages(h[a:a + chunk_size].to(dev)).to(store)
            messages = _exchange(msg, N, w, shard_dir, f"layer{k}-messages")
            del msg
            # join + reduce: each item pools its neighbours' messages and combines with its own h
            new = torch.empty((hi - lo, layer.out_dim), dtype=torch.float32, device=store)
            for a in range(lo, hi, chunk_size):
                b = min(a + chunk_size, hi)
                nb = table(torch.arange(a, b, device=table.device))
                ids, mask = nb.ids.to(store), nb.mask.to(store)
                gathered = messages.index_select(0, ids.clamp_min(0).reshape(-1)).view(b - a, ids.shape[1], -1)
                new[a - lo:b - lo] = layer.combine(h[a - lo:b - lo].to(dev), gathered.to(dev),
                                                   nb.weights.to(dev), mask.to(dev)).to(store)
            del messages
            h = new
        z = torch.empty((hi - lo, c.embed_dim), dtype=torch.float32, device=store)
        for a in range(0, hi - lo, chunk_size):
            z[a:a + chunk_size] = model.head(h[a:a + chunk_size].to(dev),
                                             None if h0 is None else h0[a:a + chunk_size].to(dev)).to(store)
        return _exchange(z, N, w, shard_dir, "embeddings")
    finally:
        model.train(was_training)


def _exchange(rows: torch.Tensor, total: int, w: World, shard_dir: Path | None, name: str) -> torch.Tensor:
    """All ranks' shards of ``rows`` joined in item order: by all-gather, or through ``shard_dir``."""
    if not w.distributed:
        return rows
    if shard_dir is None:
        # NCCL gathers GPU tensors only, gloo CPU tensors only: the rows travel on the backend's device
        on = torch.device("cuda", torch.cuda.current_device()) if torch.distributed.get_backend() == "nccl" \
            else torch.device("cpu")
        return w.all_gather_rows(rows.to(on), total).to(rows.device)
    save_checkpoint({"rows": rows.cpu()}, shard_dir / f"{name}-rank{w.rank}.pt")
    w.barrier()
    out = torch.cat([load_checkpoint(shard_dir / f"{name}-rank{r}.pt")["rows"] for r in range(w.size)])
    w.barrier()  # everyone has read every shard before any rank overwrites its own next layer
    if out.shape[0] != total:
        raise RuntimeError(f"the shards of {name} in {shard_dir} hold {out.shape[0]} rows, expected {total}")
    return out.to(rows.device)


def model_hash(model: PinSage) -> str:
    """A short SHA-256 of the model's config and parameters: the same weights give the same hash."""
    h = hashlib.sha256(json.dumps(model.config.to_dict(), sort_keys=True).encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        buf = io.BytesIO()
        t_cpu = t.detach().to("cpu").contiguous()
        buf.write(t_cpu.numpy().tobytes() if t_cpu.dtype != torch.bfloat16 else t_cpu.float().numpy().tobytes())
        h.update(buf.getvalue())
    return h.hexdigest()[:16]


@dataclass
class ItemEmbeddings:
    """Every item's embedding with what identifies it: the source's item ids, the titles, and the
    hash and config of the model that computed them (``meta`` holds anything else, e.g. the dataset)."""

    vectors: torch.Tensor
    item_ids: list[Any]
    model_hash: str
    config: dict[str, Any]
    titles: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.vectors.dim() != 2:
            raise ValueError(f"vectors must be [num_items, d], got shape {tuple(self.vectors.shape)}")
        if len(self.item_ids) != self.vectors.shape[0]:
            raise ValueError(f"{self.vectors.shape[0]} vectors but {len(self.item_ids)} item ids")
        if self.titles and len(self.titles) != self.vectors.shape[0]:
            raise ValueError(f"{self.vectors.shape[0]} vectors but {len(self.titles)} titles")

    def __len__(self) -> int:
        return int(self.vectors.shape[0])


def save_embeddings(emb: ItemEmbeddings, path: str | os.PathLike) -> Path:
    """Write ``emb`` atomically (a temp file, then rename): a crash leaves the old file or none."""
    ids = emb.item_ids
    ids = [i.item() if hasattr(i, "item") else i for i in ids]
    if not all(isinstance(i, (int, str)) for i in ids):
        raise ValueError("item ids must be integers or strings")
    state = {"kind": EMBEDDINGS_FORMAT, "vectors": emb.vectors.detach().float().cpu(),
             "item_ids": json.dumps(ids), "model_hash": emb.model_hash,
             "config": json.dumps(emb.config), "titles": json.dumps(list(emb.titles)), "meta": json.dumps(emb.meta)}
    return save_checkpoint(state, path)


def load_embeddings(path: str | os.PathLike, *, expect_hash: str | None = None) -> ItemEmbeddings:
    """Read what :func:`save_embeddings` wrote; :class:`CheckpointError` naming the file if it is not
    an embeddings file or (with ``expect_hash``) was made by another model."""
    state = load_checkpoint(path)
    if state.get("kind") != EMBEDDINGS_FORMAT:
        raise CheckpointError(f"{path} is not a pinsage_edu embeddings file (format {EMBEDDINGS_FORMAT})")
    emb = ItemEmbeddings(state["vectors"], json.loads(state["item_ids"]), state["model_hash"],
                         json.loads(state["config"]), json.loads(state["titles"]), json.loads(state["meta"]))
    if expect_hash is not None and emb.model_hash != expect_hash:
        raise CheckpointError(f"{path} holds embeddings of model {emb.model_hash}, not of {expect_hash}")
    if emb.vectors.numel() and not bool(torch.isfinite(emb.vectors).all()):
        raise CheckpointError(f"{path} holds NaN or infinite embeddings")
    return emb
