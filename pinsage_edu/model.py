"""§3.2: the PinSage model — K stacked CONVOLVE layers and a dense head.

    h⁽⁰⁾ = x                                          (optionally through an input projection,
                                                       optionally plus a learned id vector)
    h⁽ᵏ⁾ = CONVOLVE⁽ᵏ⁾(h⁽ᵏ⁻¹⁾, N, α)                   k = 1 … K, separate parameters per layer
    z_u  = G₂ · ReLU(G₁ · h_u⁽ᴷ⁾ + g)                  the head
         (+ S · h_u⁽⁰⁾ with ``input_skip``: not the paper, see below)

The paper uses K = 2, a neighbour-transform width m = 2048 and embeddings of d = 1024.
:meth:`PinSageConfig.paper` holds those sizes; :meth:`PinSageConfig.classroom` is small enough to
train on a laptop CPU in minutes. The head's output is L2-normalised too (``normalize_output``,
our choice, not stated in the paper): every layer's output already is, and with unit vectors the
margin of the loss has a fixed meaning and dot products are cosines for nearest-neighbour search.

**Inductive or transductive.** The paper's PinSage is *inductive*: an item's embedding is a function
of its features and its neighbourhood only, so a pin that was never in the training graph is
embedded from its features the moment it has a neighbourhood. ``id_embeddings=N`` (not the paper;
DGL's PinSAGE example does it) adds a learnable vector per item id to h⁽⁰⁾: the model can then
memorise what features miss, but it becomes *transductive* — it knows items 0 … N−1 only and
refuses any other (:attr:`PinSage.inductive`, :meth:`PinSage.check_known`).

**Input skip.** ``input_skip=True`` (not the paper) adds a linear map of the item's own h⁽⁰⁾ to the
head's output, as jumping-knowledge networks and LightGCN keep the layer-0 representation in the final
embedding. The convolutions then only have to learn what the neighbourhood adds to the item's own
features, instead of re-encoding those features through K layers of a d-wide bottleneck — on a dense
catalogue with a strong item-level feature (goodbooks' shelves sketch) the trained model otherwise
embeds worse than its own input. The model stays inductive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from .convolve import POOLINGS, Convolve, l2_normalize
from .minibatch import Blocks
from .utils import InvalidSetting, setting

__all__ = ["PinSageConfig", "PinSage"]


@dataclass(frozen=True)
class PinSageConfig:
    """Sizes and choices of a :class:`PinSage` model.

    * ``in_dim``: width of the item features x.
    * ``hidden_dim``: m, width of each layer's neighbour transform ReLU(Q·z_v + q).
    * ``embed_dim``: d, width of every layer's output and of the final embedding.
    * ``num_layers``: K. ``num_neighbors``: T (used by whoever samples the neighbourhoods).
    * ``pooling``: ``importance`` (the paper), ``mean`` or ``max`` (the ablations).
    * ``input_dim``: if set, h⁽⁰⁾ = ReLU(P·x + p) of this width instead of x itself.
    * ``id_embeddings``: None (inductive, the paper) or the catalogue size N: h⁽⁰⁾ then also adds a
      learnable vector per item id (transductive: items ≥ N cannot be embedded).
    * ``input_skip``: add S·h⁽⁰⁾ to the head's output (not the paper; still inductive).

    The fields with a ``python -m pinsage_edu train`` flag carry it in their metadata
    (:func:`~pinsage_edu.utils.setting`); a setting out of range raises :class:`PinSageConfig.Invalid`,
    a ValueError naming the field ``PinSageConfig.NAME`` (the command line names the flag instead).
    """

    in_dim: int
    hidden_dim: int = setting(2048, "--hidden-dim", "model", "m, the neighbour transform's width (default: the "
                              "preset's)", cli_default=None)
    embed_dim: int = setting(1024, "--embed-dim", "model", "d, the embedding width (default: the preset's)",
                             cli_default=None)
    num_layers: int = setting(2, "--layers", "model", "K, the number of CONVOLVE layers (default: the preset's)",
                              cli_default=None)
    num_neighbors: int = setting(50, "-T", "model", "T, the neighbourhood size (default: the preset's)",
                                 aliases=("--num-neighbors",), cli_default=None)
    pooling: str = setting("importance", "--pooling", "model", "how a layer pools its neighbours' messages",
                           choices=POOLINGS)
    dropout: float = setting(0.0, "--dropout", "model", "dropout before each CONVOLVE transform (training only)")
    input_dim: int | None = setting(None, "--input-dim", "model", "project the features to this width first")
    normalize_output: bool = setting(True, "--no-normalize-output", "model", "leave the head's output unnormalised",
                                     negate=True)
    id_embeddings: int | None = None
    input_skip: bool = False

    class Invalid(InvalidSetting):
        """A PinSageConfig setting out of range (fields named ``PinSageConfig.NAME``; see :class:`InvalidSetting`)."""

        owner = "PinSageConfig"

    def __post_init__(self) -> None:
        invalid = PinSageConfig.Invalid.of
        for name in ("in_dim", "hidden_dim", "embed_dim", "num_layers", "num_neighbors"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise invalid(name, f"must be a positive integer, got {v!r}")
        if self.input_dim is not None and (not isinstance(self.input_dim, int) or self.input_dim <= 0):
            raise invalid("input_dim", f"must be None or a positive integer, got {self.input_dim!r}")
        if self.id_embeddings is not None and (isinstance(self.id_embeddings, bool)
                                               or not isinstance(self.id_embeddings, int) or self.id_embeddings <= 0):
            raise invalid("id_embeddings", f"must be None (inductive) or the number of items, "
                                           f"got {self.id_embeddings!r}")
        if not isinstance(self.input_skip, bool):
            raise invalid("input_skip", f"must be True or False, got {self.input_skip!r}")
        if self.pooling not in POOLINGS:
            raise invalid("pooling", f"must be one of {POOLINGS}, got {self.pooling!r}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise invalid("dropout", f"must be in [0, 1), got {self.dropout!r}")

    @classmethod
    def paper(cls, in_dim: int, **overrides: Any) -> "PinSageConfig":
        """The paper's sizes: K = 2, T = 50, m = 2048, d = 1024, importance pooling."""
        return replace(cls(in_dim=in_dim), **overrides)

    @classmethod
    def classroom(cls, in_dim: int, **overrides: Any) -> "PinSageConfig":
        """Laptop sizes with the paper's shape: K = 2, T = 10, m = 128, d = 64."""
        return replace(cls(in_dim=in_dim, hidden_dim=128, embed_dim=64, num_layers=2, num_neighbors=10), **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PinSage(nn.Module):
    """K :class:`~pinsage_edu.convolve.Convolve` layers with separate parameters, then the head G₁, g, G₂.

    ``model(blocks, features)`` returns the embeddings of ``blocks.seeds`` (in their order, repeats
    included): FloatTensor [B, embed_dim]. ``features`` is the full item feature matrix
    [num_items, in_dim] on the model's device; only the rows of S⁽⁰⁾ are read.
    """

    def __init__(self, config: PinSageConfig):
        super().__init__()
        self.config = c = config
        self.input = nn.Linear(c.in_dim, c.input_dim) if c.input_dim is not None else None
        # Transductive option: one learnable vector per item id, added to h⁽⁰⁾ (small at first, so
        # training starts from what the features say).
        self.item_embedding = None
        if c.id_embeddings is not None:
            self.item_embedding = nn.Embedding(c.id_embeddings, c.input_dim or c.in_dim)
            nn.init.normal_(self.item_embedding.weight, std=0.1)
        dims = [c.input_dim or c.in_dim] + [c.embed_dim] * c.num_layers
        self.layers = nn.ModuleList(
            Convolve(dims[k], c.hidden_dim, dims[k + 1], pooling=c.pooling, dropout=c.dropout)
            for k in range(c.num_layers))
        self.G1 = nn.Linear(c.embed_dim, c.embed_dim)  # G₁·h + g
        self.G2 = nn.Linear(c.embed_dim, c.embed_dim, bias=False)  # G₂·(…)
        self.skip = nn.Linear(dims[0], c.embed_dim, bias=False) if c.input_skip else None  # S·h⁽⁰⁾

    @property
    def device(self) -> torch.device:
        return self.G1.weight.device

    @property
    def inductive(self) -> bool:
        """True when embeddings depend on features and neighbourhoods only (the paper's PinSage):
        an item unseen in training can be embedded. False with ``id_embeddings``."""
        return self.item_embedding is None

    def check_known(self, ids: torch.Tensor) -> None:
        """A transductive model refuses item ids it has no learned vector for (a clear error, not an
        index error deep in the embedding)."""
        if self.item_embedding is not None and ids.numel():
            n = self.item_embedding.num_embeddings
            bad = ids[(ids >= n) | (ids < 0)]
            if bad.numel():
                raise ValueError(f"this PinSage has learned id embeddings for items 0 … {n - 1} (transductive, "
                                 f"id_embeddings={n}) and cannot embed item {int(bad.min())}: "
                                 f"a new item needs an inductive model (id_embeddings=None), which embeds it "
                                 f"from its features and neighbourhood")

    def input_embeddings(self, x: torch.Tensor, ids: torch.Tensor | None = None, *, check: bool = True) -> torch.Tensor:
        """h⁽⁰⁾ from feature rows: x itself, or ReLU(P·x + p) with an input projection, plus the rows'
        id vectors when the model has them (then ``ids``, the rows' item ids, is required; ``check=False``
        does not look for ids without a vector, see :meth:`forward`)."""
        h = x if self.input is None else F.relu(self.input(x))
        if self.item_embedding is not None:
            if ids is None:
                raise ValueError("this PinSage has id embeddings (transductive): input_embeddings needs the "
                                 "rows' item ids")
            if check:
                self.check_known(ids)
            h = h + self.item_embedding(ids)
        return h

    def head(self, h: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        """z = G₂·ReLU(G₁·h⁽ᴷ⁾ + g) (+ S·h⁽⁰⁾ with ``input_skip``: then ``h0``, the same items'
        h⁽⁰⁾ rows, is required), L2-normalised when the config says so."""
        z = self.G2(F.relu(self.G1(h)))
        if self.skip is not None:
            if h0 is None or h0.shape[0] != h.shape[0]:
                raise ValueError("this PinSage has an input skip: head(h, h0) needs h0, the same items' h⁽⁰⁾ rows "
                                 f"({h.shape[0]} of them)")
            z = z + self.skip(h0)
        return l2_normalize(z) if self.config.normalize_output else z

    def forward(self, blocks: Blocks, features: torch.Tensor | None = None, *,
                inputs: torch.Tensor | None = None, check: bool = True) -> torch.Tensor:
        """Embeddings of ``blocks.seeds``: from the full ``features`` matrix (rows of S⁽⁰⁾ are gathered
        here), or from ``inputs`` = those rows already gathered, [len(blocks.input_ids), in_dim] — what
        the producer of §3.3 hands over so that the consumer never touches the feature matrix.

        Shapes and devices are always checked (that costs nothing). ``check=False`` skips the checks of
        values — NaN or infinite features, item ids the id embeddings do not know, ids beyond the
        feature matrix — each of which makes the CPU wait for the GPU: for a caller that checked the
        data once where they entered (the trainer checks the features when it is built)."""
        if (features is None) == (inputs is None):
            raise ValueError("pass exactly one of features= (the [num_items, in_dim] matrix) or inputs= "
                             "(its rows for blocks.input_ids)")
        if blocks.num_layers != self.config.num_layers:
            raise ValueError(f"blocks were sampled for K = {blocks.num_layers} layers but the model has "
                             f"K = {self.config.num_layers}: "
                             f"sample_blocks(seeds, {self.config.num_layers}, ...)")
        if features is not None:
            self.check_inputs(blocks, features, values=check)
            x = features.index_select(0, blocks.input_ids)
        else:
            self._check_tensor("inputs", inputs, blocks)
            if inputs.shape[0] != blocks.input_ids.numel():
                raise ValueError(f"inputs have {inputs.shape[0]} rows but the blocks need "
                                 f"{blocks.input_ids.numel()} (one per id in blocks.input_ids)")
            x = inputs
        if check and not bool(torch.isfinite(x).all()):
            bad = blocks.input_ids[~torch.isfinite(x).all(1)][0]
            raise ValueError(f"features of item {int(bad)} hold NaN or infinite values")
        h = h0 = self.input_embeddings(x, blocks.input_ids, check=check)
        for layer, block in zip(self.layers, blocks.layers):
            h = layer.forward_indexed(h, block.neighbors, block.weights, block.mask)
        # S⁽ᴷ⁾ is a prefix of S⁽⁰⁾ (destinations come first), so h0[:len(h)] are the seeds' own inputs
        return self.head(h, h0[:h.shape[0]] if self.skip is not None else None).index_select(0, blocks.seed_index)

    def _check_tensor(self, name: str, t: Any, blocks: Blocks) -> None:
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            raise ValueError(f"{name} must be a [rows, in_dim] tensor, got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t)}")
        if t.shape[1] != self.config.in_dim:
            raise ValueError(f"{name} have {t.shape[1]} columns but the model expects in_dim = {self.config.in_dim}")
        if not t.is_floating_point():
            raise ValueError(f"{name} must be floating point, got {t.dtype}")
        dev = self.device
        if t.device != dev:
            raise ValueError(f"{name} are on {t.device} but the model is on {dev}: {name}.to({str(dev)!r})")
        if blocks.device != dev:
            raise ValueError(f"blocks are on {blocks.device} but the model is on {dev}: blocks.to({str(dev)!r})")

    def check_inputs(self, blocks: Blocks, features: torch.Tensor, *, values: bool = True) -> None:
        """Clear errors for features of the wrong shape and for tensors on another device than the model;
        with ``values``, also for blocks that reach beyond the features (a GPU→CPU wait)."""
        if not isinstance(features, torch.Tensor) or features.dim() != 2:
            raise ValueError(f"features must be a [num_items, in_dim] tensor, got "
                             f"{tuple(features.shape) if isinstance(features, torch.Tensor) else type(features)}")
        self._check_tensor("features", features, blocks)
        if values and blocks.input_ids.numel() and int(blocks.input_ids.max()) >= features.shape[0]:
            raise ValueError(f"blocks reach item {int(blocks.input_ids.max())} but features hold "
                             f"{features.shape[0]} items")
