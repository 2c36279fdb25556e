"""§3.4: computing embeddings for many items once the model is trained.

:func:`embed_minibatches` is the *naive* way the paper sets out to avoid: run Algorithm 2 for every
minibatch of items, so the neighbours shared by many items are recomputed in every minibatch that
reaches them. It is exact, simple and fine for a catalogue of a few thousand items (and it is what
the training loop uses to evaluate); the layer-by-layer "MapReduce" inference belongs here beside it.
"""

from __future__ import annotations

from typing import Any

import torch

from .minibatch import NeighborhoodFn, sample_blocks
from .model import PinSage

__all__ = ["embed_minibatches"]


@torch.no_grad()
def embed_minibatches(model: PinSage, features: torch.Tensor, neighborhood_fn: NeighborhoodFn,
                      items: Any = None, *, batch_size: int = 1024) -> torch.Tensor:
    """FloatTensor [len(items), embed_dim]: the model's embeddings of ``items`` (default: every item).

    The model is put in eval mode for the call (no dropout) and restored afterwards.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
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
