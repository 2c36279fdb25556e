"""§3.3: the max-margin ranking loss with shared and hard negatives, and the cross-entropy ablation.

For a labelled pair (q, i) — i is a good recommendation for q — and negatives n drawn from P_n(q)::

    J(z_q, z_i) = E_{n ~ P_n(q)} max(0, z_q·z_n − z_q·z_i + Δ)

**Shared negatives**: one set of N negatives (500 in the paper) serves every pair of the minibatch,
so their embeddings are computed once: ``z_neg_shared [N, d]`` and the scores are one matrix product
``z_q @ z_neg_sharedᵀ [B, N]``. **Hard negatives** are per query: ``z_neg_hard [B, h, d]``.

How the two kinds are weighed is ours to choose (the paper only says hard negatives are *added*):
a query's loss is the mean hinge over its shared negatives **plus** the mean hinge over its hard
negatives, so that the curriculum's 1…6 hard negatives are not drowned by 500 shared ones. Entries
masked out (a shared negative that happens to be the query or its positive, a query with fewer hard
negatives than h) take no part in either mean.

**Statistics without waiting for the GPU.** Reading a number of a tensor on a GPU (``float(t)``,
``t.item()``, ``bool(t)``) waits for everything queued before it. ``sync=False`` leaves a result's
statistics as 0-d tensors on the device, so a training step can hand them to the host together with
the loss in one transfer (:func:`host_floats`) instead of one wait per statistic.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch.nn import functional as F

__all__ = ["LossResult", "STATISTICS", "max_margin_loss", "cross_entropy_loss", "host_floats"]

STATISTICS = ("active", "pos_score", "neg_score", "hard_score", "active_hard")
"""The fields of :class:`LossResult` that describe a step (everything but the loss)."""


@dataclass(frozen=True)
class LossResult:
    """The loss to back-propagate and what a student wants to watch while it trains.

    * ``loss``: scalar tensor (with gradient).
    * ``active``: share of hinges that are still active (z_q·z_n − z_q·z_i + Δ > 0) — when it nears 0
      the negatives have stopped teaching.
    * ``pos_score``: mean z_q·z_i; ``neg_score``: mean z_q·z_n over the shared negatives;
      ``hard_score``: mean over the hard negatives (NaN without any).
    * ``active_hard``: share of active hinges among the hard negatives (NaN without any).

    The statistics are Python floats, or 0-d tensors on the loss's device when the loss was computed
    with ``sync=False`` (:meth:`on_host` turns them into floats).
    """

    loss: torch.Tensor
    active: float | torch.Tensor
    pos_score: float | torch.Tensor
    neg_score: float | torch.Tensor
    hard_score: float | torch.Tensor = float("nan")
    active_hard: float | torch.Tensor = float("nan")

    def __float__(self) -> float:
        return float(self.loss.detach())

    def on_host(self) -> "LossResult":
        """This result with its statistics as Python floats (one device-to-host transfer for all of them)."""
        return replace(self, **dict(zip(STATISTICS, host_floats(*(getattr(self, k) for k in STATISTICS)))))


def host_floats(*values: torch.Tensor | float) -> list[float]:
    """``values`` as Python floats; the tensors among them (0-d, on one device) are copied to the host in a
    single transfer — one GPU→CPU synchronisation however many there are. A float32 value comes back
    exactly as ``float(t)`` gives it."""
    tensors = [v for v in values if isinstance(v, torch.Tensor)]
    if not tensors:
        return [float(v) for v in values]
    got = iter(torch.stack([t.detach().reshape(()).double() for t in tensors]).tolist())
    return [next(got) if isinstance(v, torch.Tensor) else float(v) for v in values]


def _check(z_q: torch.Tensor, z_pos: torch.Tensor, z_neg_shared: torch.Tensor, z_neg_hard: torch.Tensor | None,
           shared_mask: torch.Tensor | None, hard_mask: torch.Tensor | None) -> None:
    if z_q.dim() != 2:
        raise ValueError(f"z_q must be [B, d], got shape {tuple(z_q.shape)}")
    B, d = z_q.shape
    if tuple(z_pos.shape) != (B, d):
        raise ValueError(f"z_pos must be [B, d] = {(B, d)} like z_q, got {tuple(z_pos.shape)}")
    if z_neg_shared.dim() != 2 or z_neg_shared.shape[1] != d:
        raise ValueError(f"z_neg_shared must be [N, d] with d = {d}, got {tuple(z_neg_shared.shape)}")
    if z_neg_shared.shape[0] == 0:
        raise ValueError("z_neg_shared holds no negatives: the loss needs at least one")
    if shared_mask is not None and tuple(shared_mask.shape) != (B, z_neg_shared.shape[0]):
        raise ValueError(f"shared_mask must be [B, N] = {(B, z_neg_shared.shape[0])}, got {tuple(shared_mask.shape)}")
    if z_neg_hard is not None:
        if z_neg_hard.dim() != 3 or z_neg_hard.shape[0] != B or z_neg_hard.shape[2] != d:
            raise ValueError(f"z_neg_hard must be [B, h, d] with B = {B}, d = {d}, got {tuple(z_neg_hard.shape)}")
        if hard_mask is not None and tuple(hard_mask.shape) != tuple(z_neg_hard.shape[:2]):
            raise ValueError(f"hard_mask must be [B, h] = {tuple(z_neg_hard.shape[:2])}, got {tuple(hard_mask.shape)}")
    elif hard_mask is not None:
        raise ValueError("hard_mask given without z_neg_hard")
    for name, t in (("z_pos", z_pos), ("z_neg_shared", z_neg_shared), ("z_neg_hard", z_neg_hard)):
        if t is not None and t.device != z_q.device:
            raise ValueError(f"{name} is on {t.device} but z_q on {z_q.device}")


def _masked_mean(x: torch.Tensor, mask: torch.Tensor | None, dim: int) -> torch.Tensor:
    """Mean over ``dim`` of the kept entries (a row with none kept has mean 0)."""
    if mask is None:
        return x.mean(dim)
    m = mask.to(x.dtype)
    return (x * m).sum(dim) / m.sum(dim).clamp_min(1.0)


def _share(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor | float:
    """The mean of ``values`` over the kept entries, as a 0-d tensor (float64: the float32 sum divided by
    the count, as Python would divide them); NaN when none is kept. No host synchronisation."""
    if mask is None:
        return values.float().mean().double() if values.numel() else float("nan")
    kept = torch.where(mask, values.float(), torch.zeros((), dtype=torch.float32, device=values.device))
    return kept.sum().double() / mask.sum().double()  # 0 / 0 = NaN when nothing is kept


def max_margin_loss(z_q: torch.Tensor, z_pos: torch.Tensor, z_neg_shared: torch.Tensor,
                    z_neg_hard: torch.Tensor | None = None, margin: float = 0.1, *,
                    shared_mask: torch.Tensor | None = None, hard_mask: torch.Tensor | None = None,
                    sync: bool = True) -> LossResult:
    """The paper's hinge on dot products, averaged over the batch.

    * ``z_q``, ``z_pos``: FloatTensor [B, d], the queries and their positives.
    * ``z_neg_shared``: FloatTensor [N, d], negatives shared by every query of the batch.
    * ``z_neg_hard``: optional FloatTensor [B, h, d], each query's own hard negatives.
    * ``margin``: Δ ≥ 0. The paper does not give it; with unit-length embeddings scores lie in
      [−1, 1], and 0.1 asks a positive to beat each negative by a tenth of that range.
    * ``shared_mask`` [B, N] / ``hard_mask`` [B, h]: True where the pair counts.
    * ``sync``: True returns the statistics as floats; False as 0-d tensors on the device (no wait for
      the GPU: see the module).
    """
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")
    _check(z_q, z_pos, z_neg_shared, z_neg_hard, shared_mask, hard_mask)
    pos = (z_q * z_pos).sum(1)  # z_q·z_i            [B]
    neg = z_q @ z_neg_shared.T  # z_q·z_n            [B, N]
    hinge = F.relu(neg - pos.unsqueeze(1) + margin)
    per_query = _masked_mean(hinge, shared_mask, 1)
    hard_score = active_hard = float("nan")
    if z_neg_hard is not None and z_neg_hard.shape[1] > 0:
        hard = torch.einsum("bd,bhd->bh", z_q, z_neg_hard)  # [B, h]
        hinge_h = F.relu(hard - pos.unsqueeze(1) + margin)
        per_query = per_query + _masked_mean(hinge_h, hard_mask, 1)
        with torch.no_grad():
            hard_score = _share(hard, hard_mask)
            active_hard = _share(hinge_h > 0, hard_mask)
    return _result(per_query, hinge, neg, pos, shared_mask, hard_score, active_hard, sync)


def _result(per_query: torch.Tensor, hinge: torch.Tensor, neg: torch.Tensor, pos: torch.Tensor,
            shared_mask: torch.Tensor | None, hard_score: torch.Tensor | float, active_hard: torch.Tensor | float,
            sync: bool) -> LossResult:
    with torch.no_grad():
        stats = dict(active=_share(hinge > 0, shared_mask), pos_score=pos.mean(), neg_score=_share(neg, shared_mask))
    res = LossResult(loss=per_query.mean(), hard_score=hard_score, active_hard=active_hard, **stats)
    return res.on_host() if sync else res


def cross_entropy_loss(z_q: torch.Tensor, z_pos: torch.Tensor, z_neg_shared: torch.Tensor,
                       z_neg_hard: torch.Tensor | None = None, temperature: float = 0.1, *,
                       shared_mask: torch.Tensor | None = None, hard_mask: torch.Tensor | None = None,
                       sync: bool = True) -> LossResult:
    """The "xent" ablation: −log softmax of the positive among {positive} ∪ negatives, per query.

    Logits are dot products divided by ``temperature`` (unit vectors give scores in [−1, 1], too flat
    for a softmax without it). Masked negatives get −∞ logits. The statistics are those of the
    margin loss with Δ = 0 (a negative is "active" when it outscores the positive). ``sync``: as for
    :func:`max_margin_loss`.
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}")
    _check(z_q, z_pos, z_neg_shared, z_neg_hard, shared_mask, hard_mask)
    pos = (z_q * z_pos).sum(1)
    neg = z_q @ z_neg_shared.T
    logits = [pos.unsqueeze(1), neg if shared_mask is None else neg.masked_fill(~shared_mask, float("-inf"))]
    hard_score = active_hard = float("nan")
    if z_neg_hard is not None and z_neg_hard.shape[1] > 0:
        hard = torch.einsum("bd,bhd->bh", z_q, z_neg_hard)
        logits.append(hard if hard_mask is None else hard.masked_fill(~hard_mask, float("-inf")))
        with torch.no_grad():
            hard_score = _share(hard, hard_mask)
            active_hard = _share(hard > pos.unsqueeze(1), hard_mask)
    all_logits = torch.cat(logits, 1) / temperature
    per_query = -torch.log_softmax(all_logits, dim=1)[:, 0]
    return _result(per_query, neg - pos.unsqueeze(1), neg, pos, shared_mask, hard_score, active_hard, sync)
