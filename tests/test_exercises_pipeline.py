"""The pipeline exercises' checkers (notebooks 04, 07, 08): a right answer passes, the usual wrong answers
fail with the hint meant for them, a stub is reported as not attempted, and torch's global generator is
left where it was."""

from __future__ import annotations

import random
from functools import partial

import numpy as np
import pytest
import torch

from pinsage_edu import exercises


def _rng_state():
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def _same_rng(before) -> bool:
    now = _rng_state()
    return torch.equal(now[0], before[0]) and bool((now[1] == before[1]).all()) and now[2] == before[2]


def _stub(*args):
    raise NotImplementedError


# ------------------------------------------------------------------------------ notebook 04: Algorithm 2
def _sample_blocks(seeds, num_layers, table, *, reverse=True, dedup=True, dst_first=True, reindex=True, pad=True,
                   union=True, unique_seeds=True, mask_ids=True, seed_index=True, container=True):
    """Algorithm 2 as a student writes it; each flag turned off is one typical slip."""
    from pinsage_edu.minibatch import Block, Blocks

    if unique_seeds:
        dst, index = torch.unique(seeds, return_inverse=True)
    else:
        dst, index = seeds, torch.arange(seeds.numel())
    layers = []
    for _ in range(num_layers):
        nb = table(dst)
        ids = nb.ids[nb.mask] if mask_ids else nb.ids.flatten()
        reached = torch.unique(ids) if dedup else ids
        if not union:
            src = reached
        elif not dst_first:
            src = torch.unique(torch.cat([dst, reached]))
        else:
            src = torch.cat([dst, reached[~torch.isin(reached, dst)]])
        sorted_src, perm = torch.sort(src)
        rows = perm[torch.searchsorted(sorted_src, nb.ids.clamp_min(0)).clamp_max(src.numel() - 1)]
        if not reindex:
            rows = nb.ids
        neighbors = torch.where(nb.mask, rows, torch.full_like(rows, -1)) if pad else rows
        layers.append(Block(src_ids=src, neighbors=neighbors, weights=nb.weights, mask=nb.mask))
        dst = src
    layers = tuple(reversed(layers)) if reverse else tuple(layers)
    if not container:
        return list(layers)
    return Blocks(layers, seeds, index if seed_index else torch.zeros_like(seeds))


def test_check_sample_blocks_accepts_algorithm_2(capsys):
    before = _rng_state()
    exercises.check_sample_blocks(_sample_blocks)
    assert "check_sample_blocks: correct on 4 minibatches" in capsys.readouterr().out
    assert _same_rng(before)


def test_check_sample_blocks_accepts_the_library_and_any_order_of_the_new_nodes(capsys):
    from pinsage_edu.minibatch import Block, Blocks, sample_blocks

    def new_nodes_reversed(seeds, K, table):
        """The library's blocks with the new nodes of S(0) in decreasing id (destinations still first)."""
        b = sample_blocks(seeds, K, table)
        low = b.layers[0]
        src = torch.cat([low.dst_ids, low.src_ids[low.num_dst:].flip(0)])
        row_of = torch.sort(src).indices  # the new row of the r-th smallest id
        old_rank = torch.argsort(torch.argsort(low.src_ids))  # sorted-id rank of each old row
        nbrs = torch.where(low.mask, row_of[old_rank[low.neighbors.clamp_min(0)]], -1)
        return Blocks((Block(src, nbrs, low.weights, low.mask),) + b.layers[1:], b.seeds, b.seed_index)

    exercises.check_sample_blocks(partial(sample_blocks))
    exercises.check_sample_blocks(new_nodes_reversed)
    assert capsys.readouterr().out.count("check_sample_blocks: correct") == 2


@pytest.mark.parametrize("slip, hint", [
    (dict(reverse=False), "upside down"),
    (dict(dedup=False), "appear more than once"),
    (dict(dst_first=False), "must start with the destinations"),
    (dict(reindex=False), "global item ids"),
    (dict(pad=False), "padded slots"),
    (dict(union=False), "keep the nodes of S"),
    (dict(unique_seeds=False), "torch.unique\\(seeds, return_inverse=True\\)"),
    (dict(mask_ids=False), "-1 marks padding"),
    (dict(seed_index=False), "seed_index\\[b\\] must be the row"),
    (dict(container=False), "return a Blocks"),
])
def test_check_sample_blocks_explains_a_wrong_answer(slip, hint):
    before = _rng_state()
    with pytest.raises(AssertionError, match=hint):
        exercises.check_sample_blocks(partial(_sample_blocks, **slip))
    assert _same_rng(before)


def test_check_sample_blocks_reports_an_unattempted_exercise(capsys):
    exercises.check_sample_blocks(_stub)
    assert "check_sample_blocks: not attempted yet" in capsys.readouterr().out


# ------------------------------------------------------------------------------ notebook 07: a training step
def _training_step(model, optimizer, producer, epoch, index, margin, *, zero_grad=True, step=True, mask=True,
                   swap=False, fixed_margin=None, by_hand=False, step_first=False, returns=True):
    from pinsage_edu.loss import max_margin_loss

    mb = producer(epoch, index)
    z = model(mb.blocks, inputs=mb.inputs)
    B, S = mb.queries.numel(), mb.negatives.numel()
    z_q, z_pos, z_neg = z[:B], z[B:2 * B], z[2 * B:2 * B + S]
    if swap:
        z_q, z_pos = z_pos, z_q
    delta = margin if fixed_margin is None else fixed_margin
    if by_hand:  # the same hinge written out: a right answer that does not call the library's loss
        hinge = torch.relu(z_q @ z_neg.T - (z_q * z_pos).sum(1, keepdim=True) + delta)
        m = mb.shared_mask.float()
        loss = ((hinge * m).sum(1) / m.sum(1).clamp_min(1)).mean()
    else:
        loss = max_margin_loss(z_q, z_pos, z_neg, margin=delta, shared_mask=mb.shared_mask if mask else None).loss
    if zero_grad:
        optimizer.zero_grad()
    if step_first:
        optimizer.step()
    loss.backward()
    if step and not step_first:
        optimizer.step()
    return loss.item() if returns else None


@pytest.mark.parametrize("by_hand", [False, True])
def test_check_training_step_accepts_a_right_step(capsys, by_hand):
    before = _rng_state()
    exercises.check_training_step(partial(_training_step, by_hand=by_hand))
    assert "check_training_step: correct" in capsys.readouterr().out
    assert _same_rng(before)


@pytest.mark.parametrize("slip, hint", [
    (dict(zero_grad=False), "zero_grad"),
    (dict(step=False), "left the parameters as they were"),
    (dict(step_first=True), "left the parameters as they were"),
    (dict(mask=False), "shared_mask=mb.shared_mask"),
    (dict(swap=True), "z\\[:B\\] are the queries"),
    (dict(fixed_margin=0.1), "use the margin you are given, Δ = 0.3"),
    (dict(returns=False), "return the step's loss"),
])
def test_check_training_step_explains_a_wrong_answer(slip, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_training_step(partial(_training_step, **slip))


def test_check_training_step_reports_an_unattempted_exercise(capsys):
    exercises.check_training_step(_stub)
    assert "check_training_step: not attempted yet" in capsys.readouterr().out


# ------------------------------------------------------------------------------ notebook 08: layer-wise inference
def _embed_all(model, table, features, chunk_size, *, head=True, chunked=True, per_pair=False, interleaved=False,
               projection=True):
    N = features.shape[0]
    step = chunk_size if chunked else N
    chunks = [(a, min(a + step, N)) for a in range(0, N, step)]
    with torch.no_grad():
        h = torch.cat([model.input_embeddings(features[a:b]) if projection else features[a:b] for a, b in chunks])
        for layer in model.layers:
            if interleaved:  # map and reduce chunk by chunk: later chunks' messages are not there yet
                messages = torch.zeros(N, layer.hidden_dim)
                new = torch.zeros(N, layer.out_dim)
                for a, b in chunks:
                    messages[a:b] = layer.neighbor_messages(h[a:b])
                    nb = table(torch.arange(a, b))
                    new[a:b] = layer.combine(h[a:b], messages[nb.ids.clamp_min(0)], nb.weights, nb.mask)
                h = new
                continue
            messages = None if per_pair else torch.cat([layer.neighbor_messages(h[a:b]) for a, b in chunks])
            new = []
            for a, b in chunks:
                nb = table(torch.arange(a, b))
                gathered = (layer.neighbor_messages(h[nb.ids.clamp_min(0)]) if per_pair
                            else messages[nb.ids.clamp_min(0)])
                new.append(layer.combine(h[a:b], gathered, nb.weights, nb.mask))
            h = torch.cat(new)
        return torch.cat([model.head(h[a:b]) for a, b in chunks]) if head else h


def test_check_embed_all_accepts_the_layer_wise_job(capsys):
    before = _rng_state()
    exercises.check_embed_all(_embed_all)
    assert "check_embed_all: correct on 3 models and chunk sizes" in capsys.readouterr().out
    assert _same_rng(before)


@pytest.mark.parametrize("slip, hint", [
    (dict(head=False), "model.head\\(h\\)"),
    (dict(chunked=False), "more than chunk_size = 64"),
    (dict(per_pair=True), "not once per \\(item, neighbour\\) pair"),
    (dict(interleaved=True), "first map every item"),
    (dict(projection=False), "model.input_embeddings"),
])
def test_check_embed_all_explains_a_wrong_answer(slip, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_embed_all(partial(_embed_all, **slip))


def test_check_embed_all_reports_an_unattempted_exercise(capsys):
    exercises.check_embed_all(_stub)
    assert "check_embed_all: not attempted yet" in capsys.readouterr().out
