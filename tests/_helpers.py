"""Small helpers shared by the test modules (imported as ``from _helpers import ...``)."""

from __future__ import annotations

import torch

from pinsage_edu.data import Interactions


def edges_of(x: Interactions) -> set[tuple[int, int]]:
    """The (item, collection) pairs of a set of interactions."""
    return set(zip(x.item.tolist(), x.collection.tolist()))


def make_interactions(edges, num_items=None, num_collections=None, timed=True) -> Interactions:
    """Interactions from a list of (item, collection[, time]) tuples (unit weights)."""
    item = torch.tensor([e[0] for e in edges], dtype=torch.long)
    coll = torch.tensor([e[1] for e in edges], dtype=torch.long)
    time = torch.tensor([e[2] for e in edges], dtype=torch.long) if timed else None
    return Interactions(
        item=item,
        collection=coll,
        weight=torch.ones(len(edges)),
        time=time,
        num_items=num_items if num_items is not None else int(item.max()) + 1,
        num_collections=num_collections if num_collections is not None else int(coll.max()) + 1,
    )
