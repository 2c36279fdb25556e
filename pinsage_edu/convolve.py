"""§3.2, Algorithm 1: the CONVOLVE layer and its pooling functions.

For a node u with current embedding z_u and neighbourhood N(u) with importance weights α::

    n_u ← γ({ ReLU(Q·z_v + q) : v ∈ N(u) }, α)      line 1: transform each neighbour, then pool
    z_u ← ReLU(W · CONCAT(z_u, n_u) + w)              line 2: combine self and neighbourhood
    z_u ← z_u / ‖z_u‖₂                                 line 3: L2-normalise

(The paper's line 1 writes h_v where the neighbour's current embedding z_v is meant.) γ is
importance pooling — the α-weighted mean — or one of the ablations, ``mean`` and ``max``.

Neighbourhoods come as fixed-width tensors, ``[B, T]`` ids / weights / mask as produced by
:func:`pinsage_edu.walks.importance_neighborhoods`; padded entries (mask False) never contribute, and a
node with no neighbour at all pools to the zero vector (its embedding then comes from itself alone).
Everything is batched over ``[B, T, d]`` tensors: no loop over nodes. :func:`pool_indexed` is the
same pooling over rows picked from a source matrix; on the CPU the two weighted means run as one
sparse–dense product instead of gathering the ``[B, T, d]`` tensor first (several times faster, same
result up to float rounding).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["POOLINGS", "Convolve", "importance_pooling", "mean_pooling", "max_pooling", "pool", "pool_indexed",
           "l2_normalize"]

POOLINGS = ("importance", "mean", "max")


def _check_pool_args(messages: torch.Tensor, weights: torch.Tensor | None, mask: torch.Tensor) -> None:
    if messages.dim() != 3:
        raise ValueError(f"messages must be [B, T, d], got shape {tuple(messages.shape)}")
    if tuple(mask.shape) != tuple(messages.shape[:2]):
        raise ValueError(f"mask must be [B, T] = {tuple(messages.shape[:2])}, got {tuple(mask.shape)}")
    if mask.dtype != torch.bool:
        raise ValueError(f"mask must be a bool tensor, got {mask.dtype}")
    if weights is not None and tuple(weights.shape) != tuple(messages.shape[:2]):
        raise ValueError(f"weights must be [B, T] = {tuple(messages.shape[:2])}, got {tuple(weights.shape)}")


def importance_pooling(messages: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """γ = the α-weighted mean: ``Σ_v α_v m_v / Σ_v α_v`` over the kept neighbours. ``[B, T, d] → [B, d]``.

    The weights from :func:`~pinsage_edu.walks.importance_neighborhoods` already sum to 1 over the
    kept entries; dividing by their sum anyway makes the pooling a true weighted mean for any
    non-negative weights. A row with no neighbour (or zero total weight) pools to 0.
    """
    _check_pool_args(messages, weights, mask)
    return torch.einsum("bt,btd->bd", _importance_weights(weights, mask, messages.dtype), messages)


def _importance_weights(weights: torch.Tensor, mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """α over the kept neighbours, divided by its row sum: ``[B, T]``, rows summing to 1 (0 without any)."""
    a = torch.where(mask, weights.to(dtype), torch.zeros((), dtype=dtype, device=weights.device))
    return a / a.sum(1, keepdim=True).clamp_min(1e-12)


def mean_pooling(messages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """γ = the plain mean over the kept neighbours (every neighbour alike). ``[B, T, d] → [B, d]``."""
    _check_pool_args(messages, None, mask)
    m = mask.to(messages.dtype)
    return torch.einsum("bt,btd->bd", m, messages) / m.sum(1, keepdim=True).clamp_min(1.0)


def max_pooling(messages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """γ = the element-wise max over the kept neighbours. ``[B, T, d] → [B, d]``; no neighbour → 0."""
    _check_pool_args(messages, None, mask)
    # max(1).values, not amax(1): its gradient goes to the one arg-max entry by index, where amax's compares
    # every entry with the maximum and splits it between ties (after a ReLU, ties are at 0, where the ReLU
    # passes no gradient anyway); about twice as fast backwards
    out = messages.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(1).values
    # an empty row is all -inf; its gradient must be 0, not NaN, so replace rather than multiply
    return torch.where(mask.any(1, keepdim=True), out, torch.zeros((), dtype=messages.dtype, device=messages.device))


def pool(kind: str, messages: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Dispatch to ``importance`` / ``mean`` / ``max`` pooling by name."""
    if kind == "importance":
        return importance_pooling(messages, weights, mask)
    if kind == "mean":
        return mean_pooling(messages, mask)
    if kind == "max":
        return max_pooling(messages, mask)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {kind!r}")


def pool_indexed(kind: str, messages: torch.Tensor, neighbors: torch.Tensor, weights: torch.Tensor,
                 mask: torch.Tensor) -> torch.Tensor:
    """``pool(kind, messages[neighbors], weights, mask)`` without materialising the gathered tensor.

    ``messages [N, d]`` holds one message per source node, ``neighbors [B, T]`` indexes its rows (−1 on
    padding). On the CPU, mean and importance pooling are one weighted sum per node, i.e. the product
    of a sparse ``[B, N]`` matrix holding each node's pooling weights with ``messages``: a CSR
    sparse–dense product reads each message once instead of copying ``B·T·d`` values and back again
    for the gradient. Max pooling gathers from the messages with one extra row of −inf that padding
    points at. Elsewhere (another device, bf16 under autocast) it gathers, then calls :func:`pool`.
    """
    if neighbors.dim() != 2 or messages.dim() != 2:
        raise ValueError(f"messages must be [N, d] and neighbors [B, T], got shapes {tuple(messages.shape)} "
                         f"and {tuple(neighbors.shape)}")
    B, T = neighbors.shape
    if kind == "max" and B and T:
        _check_pool_args(neighbors.unsqueeze(-1), None, mask)
        # padding points at an extra row of −inf, so the gather needs no masking pass of its own
        pad = torch.full((1, messages.shape[1]), float("-inf"), dtype=messages.dtype, device=messages.device)
        idx = torch.where(mask, neighbors, torch.full((), messages.shape[0], device=neighbors.device))
        out = torch.cat([messages, pad]).index_select(0, idx.reshape(-1)).view(B, T, -1).max(1).values
        return torch.where(mask.any(1, keepdim=True), out, torch.zeros((), dtype=out.dtype, device=out.device))
    if messages.device.type != "cpu" or messages.dtype not in (torch.float32, torch.float64) or B == 0 or T == 0:
        gathered = messages.index_select(0, neighbors.clamp_min(0).reshape(-1)).view(B, T, messages.shape[1])
        return pool(kind, gathered, weights, mask)
    _check_pool_args(neighbors.unsqueeze(-1), weights if kind == "importance" else None, mask)
    if kind == "importance":
        a = _importance_weights(weights, mask, messages.dtype)
    elif kind == "mean":
        a = mask.to(messages.dtype)
        a = a / a.sum(1, keepdim=True).clamp_min(1.0)
    else:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {kind!r}")
    rows = torch.arange(0, B * T + 1, T, dtype=torch.long)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": a notebook should not show it
        warnings.simplefilter("ignore", UserWarning)
        A = torch.sparse_csr_tensor(rows, neighbors.clamp_min(0).reshape(-1), a.reshape(-1), (B, messages.shape[0]))
        return A @ messages


def l2_normalize(z: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """``z / max(‖z‖₂, eps)`` row-wise: unit vectors, and an all-zero row stays zero instead of NaN."""
    return F.normalize(z, p=2.0, dim=-1, eps=eps)


class Convolve(nn.Module):
    """Algorithm 1 (CONVOLVE) with its own parameters Q, q (``self.Q``) and W, w (``self.W``).

    * ``in_dim``: width of the incoming embeddings z (layer 1: the item features h⁽⁰⁾ = x);
    * ``hidden_dim``: m, the width of the neighbour transform's output (2048 in the paper);
    * ``out_dim``: d, the width of the new embeddings (1024 in the paper).

    Two equivalent ways to call it:

    * ``layer(z_self, z_neighbors, weights, mask)`` — Algorithm 1 literally: ``z_self [B, in_dim]``,
      ``z_neighbors [B, T, in_dim]`` (padding rows may hold anything), ``weights``/``mask [B, T]``.
    * ``layer.forward_indexed(z_src, neighbors, weights, mask)`` — what the minibatch and the
      all-items inference use: ``z_src [N, in_dim]`` holds every node of the layer below, the first
      ``B = len(neighbors)`` of which are the nodes being updated; ``neighbors [B, T]`` index rows
      of ``z_src`` (−1 on padding). The neighbour transform runs once per source node, not once per
      (node, neighbour) pair — the saving the paper's MapReduce inference is built on.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, *, pooling: str = "importance",
                 dropout: float = 0.0, normalize: bool = True):
        super().__init__()
        for name, v in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.in_dim, self.hidden_dim, self.out_dim = in_dim, hidden_dim, out_dim
        self.pooling = pooling
        self.normalize = normalize
        self.Q = nn.Linear(in_dim, hidden_dim)  # Q·z_v + q
        self.W = nn.Linear(in_dim + hidden_dim, out_dim)  # W·CONCAT(z_u, n_u) + w
        self.dropout = nn.Dropout(dropout)

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}, normalize={self.normalize}"

    # -- the three lines of Algorithm 1 --------------------------------------------------------
    def neighbor_messages(self, z: torch.Tensor) -> torch.Tensor:
        """Line 1's transform ReLU(Q·z_v + q), for any leading shape ``[..., in_dim] → [..., hidden_dim]``."""
        return F.relu(self.Q(self.dropout(z)))

    def combine(self, z_self: torch.Tensor, messages: torch.Tensor, weights: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """Line 1's pooling, then lines 2 and 3: ``[B, in_dim]`` and ``[B, T, hidden_dim]`` → ``[B, out_dim]``."""
        return self.reduce(z_self, pool(self.pooling, messages, weights, mask))

    def reduce(self, z_self: torch.Tensor, n_u: torch.Tensor) -> torch.Tensor:
        """Lines 2 and 3 on the pooled neighbourhood ``n_u [B, hidden_dim]``: ``[B, in_dim]`` → ``[B, out_dim]``."""
        z = F.relu(self.W(self.dropout(torch.cat([z_self, n_u], dim=1))))
        return l2_normalize(z) if self.normalize else z

    def forward(self, z_self: torch.Tensor, z_neighbors: torch.Tensor, weights: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        self._check(z_self, "z_self", 2)
        self._check(z_neighbors, "z_neighbors", 3)
        if z_neighbors.shape[0] != z_self.shape[0]:
            raise ValueError(f"z_neighbors holds {z_neighbors.shape[0]} nodes but z_self {z_self.shape[0]}")
        return self.combine(z_self, self.neighbor_messages(z_neighbors), weights, mask)

    def forward_indexed(self, z_src: torch.Tensor, neighbors: torch.Tensor, weights: torch.Tensor,
                        mask: torch.Tensor) -> torch.Tensor:
        self._check(z_src, "z_src", 2)
        if neighbors.dim() != 2:
            raise ValueError(f"neighbors must be [B, T], got shape {tuple(neighbors.shape)}")
        B = neighbors.shape[0]
        if B > z_src.shape[0]:
            raise ValueError(f"{B} nodes to update but only {z_src.shape[0]} source rows: the updated nodes "
                             "must be the first rows of z_src")
        messages = self.neighbor_messages(z_src)  # once per source node
        return self.reduce(z_src[:B], pool_indexed(self.pooling, messages, neighbors, weights, mask))

    def _check(self, z: torch.Tensor, name: str, dims: int) -> None:
        if z.dim() != dims or z.shape[-1] != self.in_dim:
            want = "[B, in_dim]" if dims == 2 else "[B, T, in_dim]"
            raise ValueError(f"{name} must be {want} with in_dim = {self.in_dim}, got shape {tuple(z.shape)}")
