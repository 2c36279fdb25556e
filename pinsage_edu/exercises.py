"""Checkers for the notebooks' exercises.

Each ``check_*`` runs the student's function on small seeded cases, compares it with the library
and prints a one-line verdict. A wrong answer raises ``AssertionError`` with a hint; an unattempted
one (the stub still raises ``NotImplementedError``) prints "not attempted" and returns, so a student
copy still runs top to bottom. Checkers return ``None`` so a notebook cell shows only the verdict.
"""

from __future__ import annotations

import contextlib
import random
from typing import Any, Callable, Iterator

import numpy as np
import torch

from .convolve import importance_pooling, pool
from .loss import max_margin_loss
from .utils import csr_indptr

__all__ = ["check_indptr", "check_top_t", "check_pooling", "check_convolve", "check_reindex", "check_sample_blocks",
           "check_margin_loss", "check_hard_negative_batch", "check_training_step", "check_warmup_decay",
           "check_rank_share", "check_embed_all", "check_lsh_codes", "check_scaled_mrr", "check_shard_range"]


def _attempt(name: str, fn: Callable[[], None]) -> bool:
    try:
        fn()
    except NotImplementedError:
        print(f"{name}: not attempted yet — replace the `raise NotImplementedError` with your code")
        return False
    return True


@contextlib.contextmanager
def _global_rngs_kept() -> Iterator[None]:
    """Restore torch's, NumPy's and Python's global RNG states on exit: a checker that builds a model
    (``nn.Linear`` draws its initial weights from torch's global RNG) must leave the notebook's later
    cells the random numbers they would have seen without it."""
    state = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    try:
        yield
    finally:
        torch.set_rng_state(state[0])
        np.random.set_state(state[1])
        random.setstate(state[2])


def _rows(t: torch.Tensor, row: int, digits: int = 3) -> list[float]:
    return [round(v, digits) for v in t[row].tolist()]


def check_indptr(student: Callable[[torch.Tensor, int], torch.Tensor]) -> None:
    """Exercise (notebook 01): the CSR row pointer of rows sorted ascending.

    ``student(sorted_rows, n_rows)`` must return ``indptr`` (LongTensor [n_rows + 1]) with
    ``indptr[r]`` = index of the first edge of row ``r`` and ``indptr[n_rows]`` = number of edges.
    """
    g = torch.Generator().manual_seed(0)
    cases = [
        (torch.tensor([0, 0, 1, 3, 3, 3]), 5),  # rows 2 and 4 are empty
        (torch.tensor([], dtype=torch.long), 3),  # no edges at all
        (torch.sort(torch.randint(0, 50, (400,), generator=g)).values, 60),
    ]

    def run() -> None:
        for rows, n in cases:
            got = student(rows.clone(), n)
            want = csr_indptr(rows, n)
            if not isinstance(got, torch.Tensor):
                raise AssertionError(f"check_indptr: return a torch.Tensor, got {type(got).__name__}")
            if got.shape != want.shape:
                raise AssertionError(
                    f"check_indptr: for {n} rows indptr needs {n + 1} entries, got shape {tuple(got.shape)} "
                    "(hint: one extra entry at the end holds the edge count)")
            if not torch.equal(got.to(torch.long), want):
                raise AssertionError(
                    f"check_indptr: wrong values for rows={rows.tolist()[:12]}…, n_rows={n}: got "
                    f"{got.tolist()[:8]}…, expected {want.tolist()[:8]}… (hint: count the edges of each "
                    "row with torch.bincount(..., minlength=n_rows), then a cumulative sum starting at 0)")

    if _attempt("check_indptr", run):
        print(f"check_indptr: correct on {len(cases)} cases (empty rows and an empty graph included) ✓")


def check_top_t(student: Callable[[torch.Tensor, torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]) -> None:
    """Exercise (notebook 02): turn one seed's visit counts into an L1-normalised top-T neighbourhood.

    ``student(items, counts, T)`` gets the visited items (LongTensor [M]) and their visit counts
    (LongTensor [M], > 0) and must return ``(ids, weights)``, both of length ``T``: the T most visited
    items, most visited first, weights = counts / (sum of the *kept* counts), padded with id -1 and
    weight 0 when fewer than T items were visited. Items with equal counts may come in any order (the
    library's :func:`~pinsage_edu.walks.top_neighbors` orders them at random), so the checker accepts
    every valid tie order and compares the weights item by item.
    """
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(500, generator=g)[:200]
    cases = [
        (torch.tensor([1, 3, 4, 6]), torch.tensor([5, 9, 5, 1]), 3),  # a tie at the cut: 1 or 4 is kept
        (torch.tensor([5, 2]), torch.tensor([2, 2]), 4),  # fewer visited items than T: pad
        (torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long), 2),  # an isolated item
        (perm, torch.randint(1, 30, (200,), generator=g), 50),
    ]

    def run() -> None:
        for items, counts, T in cases:
            got = student(items.clone(), counts.clone(), T)
            where = f"(items={items.tolist()[:6]}{'…' if items.numel() > 6 else ''}, T={T})"
            if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
                raise AssertionError("check_top_t: return a pair of tensors (ids, weights)")
            ids, w = got
            if ids.shape != (T,) or w.shape != (T,):
                raise AssertionError(
                    f"check_top_t {where}: ids and weights need exactly T = {T} entries, got shapes "
                    f"{tuple(ids.shape)} and {tuple(w.shape)} (hint: pad with id -1 and weight 0)")
            count_of = dict(zip(items.tolist(), counts.tolist()))
            kept = min(T, items.numel())
            want_counts = sorted(count_of.values(), reverse=True)[:kept]
            ids_l = ids.long().tolist()
            if ids_l[kept:] != [-1] * (T - kept) or any(i not in count_of for i in ids_l[:kept]) \
                    or len(set(ids_l[:kept])) != kept:
                raise AssertionError(f"check_top_t {where}: ids {ids_l[:8]}… must be {kept} distinct visited "
                                     f"items, then {T - kept} × -1 (never invent neighbours, never repeat one)")
            got_counts = [count_of[i] for i in ids_l[:kept]]
            if got_counts != want_counts:
                hint = ("right items, wrong order: most visited first" if sorted(got_counts) == sorted(want_counts)
                        else "keep the T largest counts (torch.sort / torch.topk)")
                raise AssertionError(f"check_top_t {where}: the kept ids have counts {got_counts[:8]}…, expected "
                                     f"{want_counts[:8]}… ({hint})")
            want_w = torch.zeros(T)
            want_w[:kept] = torch.tensor(got_counts, dtype=torch.float32) / max(sum(got_counts), 1)
            if not torch.allclose(w.float(), want_w, atol=1e-5):
                kept_sum = w[ids >= 0].float().sum()
                hint = ("the kept weights must sum to 1: divide by the sum of the kept counts, not of all counts"
                        if abs(float(kept_sum) - 1.0) > 1e-4 and kept else
                        "weights must follow the counts of the kept items, 0 on padding")
                raise AssertionError(f"check_top_t {where}: weights {[round(x, 3) for x in w.tolist()[:6]]}…, "
                                     f"expected {[round(x, 3) for x in want_w.tolist()[:6]]}… ({hint})")

    if _attempt("check_top_t", run):
        print(f"check_top_t: correct on {len(cases)} cases (a tie at the cut, padding and an isolated item included) ✓")


def _pooling_cases() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Messages ≥ 0 (ReLU outputs) with garbage on padded slots, weights that do not sum to 1 and are
    non-zero on padded slots, a row with every neighbour kept and an isolated node (row 5)."""
    g = torch.Generator().manual_seed(0)
    m = torch.rand(6, 5, 4, generator=g)
    w = torch.rand(6, 5, generator=g) + 0.1
    mask = torch.rand(6, 5, generator=g) > 0.3
    mask[0] = True
    mask[5] = False  # an isolated item
    padded = torch.where(mask.unsqueeze(-1), m, torch.full_like(m, 1e3))  # garbage where padded
    return padded, w, mask, m


def check_pooling(student: Callable[[str, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise (notebook 03): γ, the three symmetric poolings of Algorithm 1's line 1.

    ``student(kind, messages, weights, mask)`` gets ``kind`` ∈ {"importance", "mean", "max"},
    ``messages [B, T, m]`` (≥ 0: ReLU outputs; anything on padded slots), ``weights [B, T]`` (≥ 0, not
    summing to 1, possibly non-zero on padded slots) and ``mask [B, T]`` (True on real neighbours), and
    returns ``[B, m]``: the α-weighted mean Σ α·m / Σ α, the plain mean, or the element-wise max over the
    **kept** neighbours — :func:`~pinsage_edu.convolve.pool`. A row with no neighbour pools to zeros.
    """
    msgs, w, mask, clean = _pooling_cases()
    kinds = ("importance", "mean", "max")

    def diagnose(kind: str, got: torch.Tensor, want: torch.Tensor) -> str:
        wrong = (got - want).abs().amax(1) > 1e-4
        if wrong.nonzero().flatten().tolist() == [5]:
            return "the node with no neighbour must pool to zeros"
        full = mask.all(1)
        if kind == "importance":
            if torch.allclose(got, pool("mean", msgs, w, mask), atol=1e-4):
                return "importance pooling weighs each message by its α: Σ α·m / Σ α, not the plain mean"
            if not torch.allclose(got[full], want[full], atol=1e-4):
                return "divide by the sum of the kept weights, Σα over the kept neighbours"
            return "padded slots must not contribute: zero their weights with the mask first"
        if kind == "mean":
            if torch.allclose(got[~full], (torch.where(mask.unsqueeze(-1), msgs, 0.0).sum(1) / msgs.shape[1])[~full],
                              atol=1e-4):
                return "divide by the number of kept neighbours, mask.sum(1), not by T"
            if torch.allclose(got[~full], importance_pooling(msgs, w, mask)[~full], atol=1e-4):
                return "the mean gives every kept neighbour the same weight: ignore α"
            return "average over the kept neighbours only: padded slots hold garbage"
        if torch.allclose(got[full], want[full], atol=1e-4):
            return "padded slots must not win the max: fill them with 0 (messages are ≥ 0) or -inf first"
        return "the max is taken per coordinate over the T axis: .amax(1)"

    def run() -> None:
        for kind in kinds:
            got = student(kind, msgs.clone(), w.clone(), mask.clone())
            want = pool(kind, clean, w, mask)
            where = f"check_pooling ({kind!r})"
            if not isinstance(got, torch.Tensor) or got.shape != want.shape:
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                raise AssertionError(f"{where}: return a tensor of shape {tuple(want.shape)} = [B, m], got {shape} "
                                     "(hint: reduce over the T axis, dim 1)")
            if not bool(torch.isfinite(got).all()):
                raise AssertionError(f"{where}: NaN or inf in the result — a node with no neighbour has nothing "
                                     "to pool: clamp the denominator, or replace its row by zeros")
            got = got.float()
            if not torch.allclose(got, want, atol=1e-4):
                err = (got - want).abs().amax(1)
                row = int(err[:5].argmax()) if bool((err[:5] > 1e-4).any()) else 5  # row 5: the isolated item
                raise AssertionError(f"{where}: row {row} is {_rows(got, row)}, expected {_rows(want, row)} "
                                     f"(hint: {diagnose(kind, got, want)})")

    if _attempt("check_pooling", run):
        print("check_pooling: importance, mean and max correct (garbage on padded slots and an isolated item "
              "included) ✓")


def _convolve_reference(z_self: torch.Tensor, z_nb: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor,
                        Q: torch.Tensor, q: torch.Tensor, W: torch.Tensor, w: torch.Tensor, *,
                        relu_messages: bool = True,
                        mask_weights: bool = True, concat_self_first: bool = True, relu_out: bool = True,
                        normalize: bool = True) -> torch.Tensor:
    """Algorithm 1 with one step switchable off: the typical slips, to name the one a student made."""
    m = z_nb @ Q.T + q
    m = torch.relu(m) if relu_messages else m
    a = torch.where(mask, weights, torch.zeros_like(weights)) if mask_weights else weights
    n_u = (a.unsqueeze(-1) * m).sum(1) / a.sum(1, keepdim=True).clamp_min(1e-12)
    cat = torch.cat([z_self, n_u], 1) if concat_self_first else torch.cat([n_u, z_self], 1)
    h = cat @ W.T + w
    h = torch.relu(h) if relu_out else h
    return torch.nn.functional.normalize(h, dim=1) if normalize else h


_CONVOLVE_SLIPS = (
    (dict(normalize=False), "line 3: divide each row by its L2 norm, h / h.norm(dim=1, keepdim=True) (clamped)"),
    (dict(relu_messages=False), "line 1: each neighbour's message is ReLU(Q·z_v + q) — the ReLU comes before pooling"),
    (dict(relu_out=False), "line 2: ReLU(W·CONCAT(z_u, n_u) + w) — the ReLU before the normalisation"),
    (dict(concat_self_first=False), "CONCAT(z_u, n_u): the node's own vector first, then the pooled neighbourhood "
                                    "(W's first in_dim columns act on z_u)"),
    (dict(mask_weights=False), "padded slots must not count: zero their weights with the mask before pooling"),
)


def _convolve_cases() -> list[tuple[str, tuple[torch.Tensor, ...], "torch.nn.Module"]]:
    """(what, (z_self, z_neighbors, weights, mask), the library layer holding Q, q, W, w)."""
    from .convolve import Convolve

    g = torch.Generator().manual_seed(0)
    cases = []
    # notebook 03's hand-checked example: one node, three neighbours, α = (0.5, 0.3, 0.2)
    hand = Convolve(2, 3, 2)
    with torch.no_grad():
        hand.Q.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]))
        hand.Q.bias.copy_(torch.tensor([0.0, -0.2, 0.1]))
        hand.W.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0, -1.0]]))
        hand.W.bias.zero_()
    cases.append(("the hand-checked example", (torch.tensor([[1.0, 0.0]]),
                  torch.tensor([[[0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]]]), torch.tensor([[0.5, 0.3, 0.2]]),
                  torch.ones(1, 3, dtype=torch.bool)), hand))
    B, T, d_in, m, d = 7, 5, 6, 5, 4
    mask = torch.rand(B, T, generator=g) > 0.35
    mask[0], mask[1], mask[6] = True, torch.arange(T) < 1, False  # every neighbour kept; one; none (isolated)
    for what, pooling in (("importance weights", "importance"), ("uniform weights (mean pooling)", "mean")):
        layer = Convolve(d_in, m, d, pooling=pooling)
        with torch.no_grad():
            for p in layer.parameters():
                p.copy_(torch.randn(p.shape, generator=g) * 0.7)
        z_self = torch.randn(B, d_in, generator=g)
        z_nb = torch.randn(B, T, d_in, generator=g)
        z_nb = torch.where(mask.unsqueeze(-1), z_nb, torch.full_like(z_nb, 50.0))  # garbage on padded slots
        weights = (torch.rand(B, T, generator=g) + 0.1 if pooling == "importance"  # non-zero on padding too
                   else torch.ones(B, T))
        cases.append((what, (z_self, z_nb, weights, mask), layer))
    return cases


def _convolve_e2e(student: Callable[..., torch.Tensor]) -> tuple[float, float, int, int]:
    """Train a small PinSage whose CONVOLVE layers run ``student`` and return (its validation hit-rate@10,
    popularity's, the steps, the number of val pairs) on a seeded synthetic pins–boards catalogue."""
    from .baselines import popularity_recommendations
    from .data import synthetic_pins_boards
    from .features import item_features
    from .knn import exact_top_k
    from .metrics import hit_rate
    from .minibatch import NeighborhoodTable
    from .model import PinSage, PinSageConfig
    from .train import TrainConfig, Trainer

    ds = synthetic_pins_boards(num_pins=1_000, num_boards=300, num_edges=15_000, seed=0)
    split = ds.split(seed=0)
    g, val = split.graph, split.val_pairs
    x = item_features(ds, g, seed=0).x
    table = NeighborhoodTable.build(g, 10, num_walks=100, generator=0)
    torch.manual_seed(0)  # the model's initial weights (the caller restores the global RNG)
    model = PinSage(PinSageConfig.classroom(x.shape[1], hidden_dim=32, embed_dim=32))

    def student_layer(layer: torch.nn.Module) -> Callable[..., torch.Tensor]:
        # the library's forward_indexed transforms each source row once; Algorithm 1 literally gathers
        # every neighbour's z_v first and hands CONVOLVE the [B, T, in_dim] block
        def forward_indexed(z_src: torch.Tensor, neighbors: torch.Tensor, weights: torch.Tensor,
                            mask: torch.Tensor) -> torch.Tensor:
            B, T = neighbors.shape
            z_nb = z_src.index_select(0, neighbors.clamp_min(0).reshape(-1)).view(B, T, z_src.shape[1])
            return student(z_src[:B], z_nb, weights, mask, layer.Q.weight, layer.Q.bias, layer.W.weight,
                           layer.W.bias)
        return forward_indexed

    for layer in model.layers:
        layer.forward_indexed = student_layer(layer)  # this model's layers only
    config = TrainConfig(epochs=4, max_steps_per_epoch=30, batch_size=128, lr=3e-3, warmup_epochs=0.5,
                         num_shared_negatives=100, max_hard_negatives=0, seed=0)
    trainer = Trainer(model, x, split.train_pairs, table, config=config)
    trainer.fit()
    with torch.no_grad():  # every item, layer by layer, through the student's CONVOLVE (as §3.4's inference)
        h = x
        for layer in model.layers:
            h = layer.forward_indexed(h, table.table.ids, table.table.weights, table.table.mask)
        z = model.head(h)
    ids, _ = exact_top_k(z, val[:, 0], 10)
    popular = popularity_recommendations(g.item_degrees, val[:, 0], 10)
    return hit_rate(ids, val[:, 1]), hit_rate(popular, val[:, 1]), config.epochs * trainer.steps_per_epoch, len(val)


def check_convolve(student: Callable[..., torch.Tensor]) -> None:
    """Exercise (notebook 03): CONVOLVE, Algorithm 1, written out in full.

    ``student(z_self, z_neighbors, weights, mask, Q, q, W, w)`` gets ``z_self [B, in_dim]``,
    ``z_neighbors [B, T, in_dim]`` (anything on padded slots), the importance weights ``weights [B, T]``
    (≥ 0, any sum, possibly non-zero on padding), ``mask [B, T]`` and the layer's parameters as
    ``nn.Linear`` stores them — ``Q [m, in_dim]``, ``q [m]``, ``W [d, in_dim + m]``, ``w [d]`` — and
    returns ``[B, d]``::

        n_u = γ({ReLU(Q·z_v + q)}, α)   (importance pooling over the kept neighbours; none → 0)
        z_u = ReLU(W·CONCAT(z_u, n_u) + w),   then z_u / ‖z_u‖₂

    Compared with :class:`~pinsage_edu.convolve.Convolve` (values and gradients) on seeded cases —
    the notebook's hand-checked example, padding with garbage, an isolated node, importance and uniform
    weights. Then the end-to-end test: the function becomes the CONVOLVE of both layers of a small
    PinSage, trained for a few seconds on a seeded synthetic catalogue; its validation hit-rate@10 must
    beat the popularity baseline.
    """
    with _global_rngs_kept():  # nn.Linear draws its initial weights from the global RNG
        cases = _convolve_cases()

    def call(what: str, args: tuple[torch.Tensor, ...], params: tuple[torch.Tensor, ...]) -> torch.Tensor:
        try:
            return student(*args, *params)
        except NotImplementedError:
            raise
        except (RuntimeError, IndexError) as exc:
            raise AssertionError(
                f"check_convolve ({what}): your function raised {type(exc).__name__}: {exc} (hint: nn.Linear "
                "stores Q as [m, in_dim], so the messages are z_neighbors @ Q.T + q; CONCAT is torch.cat along "
                "dim 1, the features' axis)") from exc

    def run() -> None:
        for what, (zs, zn, a, mask), layer in cases:
            where = f"check_convolve ({what})"
            params = tuple(p.detach().clone().requires_grad_(True)
                           for p in (layer.Q.weight, layer.Q.bias, layer.W.weight, layer.W.bias))
            inputs = (zs.clone().requires_grad_(True), zn.clone().requires_grad_(True), a.clone(), mask.clone())
            got = call(what, inputs, params)
            want = layer(zs, zn, a, mask)
            if not isinstance(got, torch.Tensor) or got.shape != want.shape:
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                raise AssertionError(f"{where}: return a tensor of shape {tuple(want.shape)} = [B, d], got {shape}")
            if not bool(torch.isfinite(got).all()):
                raise AssertionError(f"{where}: NaN or inf in the result — a node with no neighbour has Σα = 0: "
                                     "clamp the denominator (its n_u is the zero vector), and clamp the norm too")
            if not torch.allclose(got.float(), want, atol=1e-4):
                row = int((got.float() - want).abs().amax(1).argmax())
                hint = "compare your three lines with the formulas above"
                for slip, text in _CONVOLVE_SLIPS:
                    if torch.allclose(got.float(), _convolve_reference(zs, zn, a, mask, *params, **slip), atol=1e-4):
                        hint = text
                        break
                raise AssertionError(f"{where}: row {row} is {_rows(got.detach().float(), row)}, expected "
                                     f"{_rows(want.detach(), row)} (hint: {hint})")
            # the gradients too: training back-propagates through these lines into Q, q, W and w
            probe = torch.randn(want.shape, generator=torch.Generator().manual_seed(1))
            if not got.requires_grad:
                raise AssertionError(f"{where}: the result carries no gradient (hint: stay in torch — no .detach(), "
                                     ".item(), .numpy() or torch.no_grad() — or training cannot change Q and W)")
            got_grads = torch.autograd.grad((got * probe).sum(), params, allow_unused=True)
            want_grads = torch.autograd.grad((want * probe).sum(), (layer.Q.weight, layer.Q.bias, layer.W.weight,
                                                                     layer.W.bias), allow_unused=True)
            for name, gg, wg in zip(("Q", "q", "W", "w"), got_grads, want_grads):
                if gg is None or not torch.allclose(gg, wg, atol=1e-4):
                    raise AssertionError(f"{where}: the gradient reaching {name} differs from the library's (hint: "
                                         "build the output from Q, q, W, w with torch operations only; no in-place "
                                         "changes of the inputs)")

        with _global_rngs_kept():
            try:
                hr, hr_pop, steps, n_val = _convolve_e2e(student)
            except FloatingPointError as exc:
                raise AssertionError(f"check_convolve (end to end): training diverged — {exc}") from exc
        if not hr > hr_pop:
            raise AssertionError(
                f"check_convolve (end to end): PinSage with your CONVOLVE reached val hit-rate@10 {hr:.1%} after "
                f"{steps} steps, not above popularity's {hr_pop:.1%} (hint: the cases above passed, so look for what "
                "only training sees — state kept between calls, or inputs changed in place)")
        print(f"check_convolve: correct on {len(cases)} cases (values and gradients; padding, an isolated node, "
              f"importance and uniform weights) ✓")
        print(f"check_convolve: end to end — PinSage with your CONVOLVE in both layers, trained {steps} steps on a "
              f"synthetic catalogue: val hit-rate@10 {hr:.1%} vs popularity {hr_pop:.1%} on {n_val} pairs ✓")

    _attempt("check_convolve", run)


def _margin_loss_cases() -> list[tuple[str, tuple[torch.Tensor, ...], float]]:
    """(what, (z_q, z_pos, z_neg, queries, positives, negatives), Δ): random unit vectors with ids that
    collide, and one minibatch of the real pipeline (an untrained PinSage on a small synthetic catalogue)."""
    from .data import synthetic_pins_boards
    from .features import item_features
    from .minibatch import NeighborhoodTable, sample_blocks
    from .model import PinSage, PinSageConfig
    from .negatives import shared_negatives

    g = torch.Generator().manual_seed(0)

    def unit(*shape: int) -> torch.Tensor:
        z = torch.randn(*shape, generator=g)
        return z / z.norm(dim=-1, keepdim=True)

    cases = []
    # no collision: ids from a large catalogue, every negative counts
    cases.append(("no negative masked", (unit(4, 3), unit(4, 3), unit(7, 3), torch.tensor([0, 1, 2, 3]),
                                         torch.tensor([10, 11, 12, 13]), torch.tensor([20, 21, 22, 23, 24, 25, 26])),
                  0.1))
    # collisions: every shared negative of query 0 is that query or its positive (none left: its mean is
    # 0); the others keep 2, 4, 2 and 4 of the 4 (a per-query mean differs from one mean over the kept)
    cases.append(("negatives equal to a query or its positive", (
        unit(5, 4), unit(5, 4), unit(4, 4), torch.tensor([4, 1, 2, 7, 5]), torch.tensor([7, 4, 3, 9, 6]),
        torch.tensor([4, 7, 4, 7])), 0.3))
    # a larger batch drawn from a small catalogue: many collisions, Δ = 0.5
    cases.append(("B = 32, N = 50 from 12 items", (unit(32, 8), unit(32, 8), unit(50, 8),
                                                   torch.randint(0, 12, (32,), generator=g),
                                                   torch.randint(0, 12, (32,), generator=g),
                                                   torch.randint(0, 12, (50,), generator=g)), 0.5))
    # the real pipeline: a minibatch of train pairs, 100 shared negatives of a 150-pin catalogue, embedded
    # by an untrained PinSage (Algorithm 2's blocks): scores near each other, so every hinge matters
    ds = synthetic_pins_boards(num_pins=150, num_boards=25, num_edges=1_500, num_topics=3, seed=0)
    split = ds.split(seed=0)
    pairs = split.train_pairs[torch.randperm(len(split.train_pairs), generator=g)[:64]]
    neg = shared_negatives(ds.num_items, 100, generator=0)
    x = item_features(ds, split.graph, seed=0).x
    table = NeighborhoodTable.build(split.graph, 5, num_walks=50, generator=0)
    with _global_rngs_kept():
        torch.manual_seed(0)
        model = PinSage(PinSageConfig.classroom(x.shape[1], hidden_dim=16, embed_dim=8))
    with torch.no_grad():
        z = model(sample_blocks(torch.cat([pairs[:, 0], pairs[:, 1], neg]), 2, table), x)
    B = len(pairs)
    cases.append(("a real minibatch, untrained PinSage", (z[:B], z[B:2 * B], z[2 * B:], pairs[:, 0], pairs[:, 1], neg),
                  0.1))
    return cases


def check_margin_loss(student: Callable[..., torch.Tensor]) -> None:
    """Exercise (notebook 05): the max-margin loss with shared negatives, masks included.

    ``student(z_q, z_pos, z_neg, queries, positives, negatives, margin)`` gets the embeddings
    ``z_q, z_pos [B, d]`` and ``z_neg [N, d]`` and the item ids behind them — ``queries``, ``positives``
    LongTensor [B], ``negatives`` LongTensor [N] (shared by the whole minibatch, drawn with replacement)
    — and returns the scalar loss of :func:`~pinsage_edu.loss.max_margin_loss` with the mask of
    :func:`~pinsage_edu.negatives.shared_negative_mask`: for each query b, the mean over its **kept**
    negatives n (not the query itself, not its positive) of max(0, z_q·z_n − z_q·z_i + Δ) (0 when none is
    kept), then the mean over the B queries. Values and gradients are compared with the library's.
    """
    from .negatives import shared_negative_mask

    cases = _margin_loss_cases()

    def diagnose(zq: torch.Tensor, zp: torch.Tensor, zn: torch.Tensor, q: torch.Tensor, p: torch.Tensor,
                 n: torch.Tensor, margin: float, got: torch.Tensor) -> str:
        x = zq @ zn.T - (zq * zp).sum(1, keepdim=True)  # z_q·z_n − z_q·z_i   [B, N]

        def per_query(values: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
            k = kept.float()
            return ((values * k).sum(1) / k.sum(1).clamp_min(1)).mean()

        keep = shared_negative_mask(n, q, p)
        hinge = torch.relu(x + margin)
        slips = (
            (per_query(x + margin, keep), "clip each hinge at zero before averaging: max(0, ·) is torch.relu or "
                                          ".clamp_min(0)"),
            (hinge.mean(), "a shared negative that is the query itself or its positive is not a negative: mask it "
                           "out (negatives[None, :] != queries[:, None], and the same for the positives)"),
            ((hinge * keep).sum(1).div(zn.shape[0]).mean(), "average each query's hinges over its kept negatives "
                                                            "only: divide by the number kept, not by N"),
            ((hinge * keep).sum() / keep.sum(), "average per query first (over its kept negatives), then over the "
                                                "queries: one mean over all kept entries weighs queries with more "
                                                "kept negatives more"),
            (per_query(hinge, n[None, :] != q[:, None]), "mask the positive too, not only the query itself"),
            (per_query(hinge, n[None, :] != p[:, None]), "mask the query itself too, not only its positive"),
            (per_query(torch.relu(x - margin), keep), "the margin is added: max(0, z_q·z_n − z_q·z_i + Δ)"),
        )
        for value, hint in slips:
            if torch.allclose(got, value.reshape(()), atol=1e-5):
                return hint
        return ("scores are dot products: z_q @ z_neg.T gives [B, N]; the positive's score (z_q * z_pos).sum(1) is "
                "subtracted from each row")

    def run() -> None:
        for what, (zq, zp, zn, q, p, n), margin in cases:
            where = f"check_margin_loss ({what}, Δ={margin})"
            leaves = [t.clone().requires_grad_(True) for t in (zq, zp, zn)]
            got = student(*leaves, q.clone(), p.clone(), n.clone(), margin)
            ref = [t.clone().requires_grad_(True) for t in (zq, zp, zn)]
            want = max_margin_loss(*ref, margin=margin, shared_mask=shared_negative_mask(n, q, p)).loss
            if not isinstance(got, torch.Tensor) or got.numel() != 1:
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                raise AssertionError(f"{where}: return a scalar tensor, got {shape} (hint: average over the kept "
                                     "negatives of each query, then over the queries)")
            if not bool(torch.isfinite(got)):
                raise AssertionError(f"{where}: the loss is {float(got.detach())} — a query whose every negative is "
                                     "masked has nothing to average: clamp its count at 1 (its mean is then 0)")
            if not torch.allclose(got.detach().float().reshape(()), want.detach(), atol=1e-5):
                hint = diagnose(zq, zp, zn, q, p, n, margin, got.detach().float().reshape(()))
                raise AssertionError(f"{where}: got {float(got.detach()):.5f}, expected {float(want.detach()):.5f} "
                                     f"(hint: {hint})")
            if not got.requires_grad:
                raise AssertionError(f"{where}: the loss carries no gradient (hint: stay in torch — no .item(), "
                                     ".detach() or numpy — or training cannot follow it)")
            got_grads = torch.autograd.grad(got.sum(), leaves, allow_unused=True)
            want_grads = torch.autograd.grad(want, ref)
            for name, gg, wg in zip(("z_q", "z_pos", "z_neg"), got_grads, want_grads):
                if gg is None or not torch.allclose(gg, wg, atol=1e-5):
                    raise AssertionError(f"{where}: the gradient reaching {name} differs from the library's (hint: "
                                         "mask by multiplying or torch.where, never by writing into the inputs)")

    if _attempt("check_margin_loss", run):
        print(f"check_margin_loss: correct on {len(cases)} cases (values and gradients; masked negatives, a query "
              "with none left, a real minibatch) ✓")


def check_reindex(student: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise (notebook 04): Algorithm 2's re-indexing — global neighbour ids to local rows.

    ``student(src_ids, ids, mask)`` gets the distinct global ids of a source set ``src_ids [N]`` and
    the neighbours' global ids ``ids [B, T]`` (−1 where ``mask`` is False) and must return the local
    rows ``[B, T]``: ``src_ids[out] == ids`` wherever ``mask`` holds, −1 elsewhere — exactly
    :attr:`pinsage_edu.minibatch.Block.neighbors`.
    """
    from .data import synthetic_pins_boards
    from .minibatch import NeighborhoodTable, sample_blocks

    graph = synthetic_pins_boards(num_pins=300, num_boards=40, seed=0).graph()
    table = NeighborhoodTable.build(graph, 5, generator=0)
    isolated = torch.nonzero(graph.item_degrees == 0).squeeze(1)[:3].tolist()
    batches = [sample_blocks([3, 7, 11], 2, table), sample_blocks(list(range(0, 300, 13)) + isolated, 3, table)]
    cases = [blk for b in batches for blk in b.layers]

    def run() -> None:
        for n, blk in enumerate(cases):
            nb = table(blk.dst_ids)
            got = student(blk.src_ids.clone(), nb.ids.clone(), nb.mask.clone())
            if not isinstance(got, torch.Tensor) or got.shape != blk.neighbors.shape:
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                raise AssertionError(f"check_reindex (block {n}): return a LongTensor of shape "
                                     f"{tuple(blk.neighbors.shape)} = [B, T], got {shape}")
            got = got.long()
            if not torch.equal(got[~nb.mask], blk.neighbors[~nb.mask]):
                raise AssertionError(f"check_reindex (block {n}): padded slots (mask False) must hold -1")
            if not torch.equal(got, blk.neighbors):
                b, t = [int(x) for x in torch.nonzero(got != blk.neighbors)[0]]
                raise AssertionError(
                    f"check_reindex (block {n}): neighbour {int(nb.ids[b, t])} of row {b} got local row "
                    f"{int(got[b, t])}, but it sits at row {int(blk.neighbors[b, t])} of src_ids (hint: "
                    "searchsorted gives positions in the *sorted* ids; map them back through the permutation)")

    if _attempt("check_reindex", run):
        print(f"check_reindex: correct on {len(cases)} blocks (padding and items without neighbours included) ✓")


def _hard_negative_cases() -> list[tuple[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, int], int]]:
    """(what, (ranked, queries, positives, num_items), h) on two seeded synthetic catalogues whose scaled
    bands are ranks 42–105 (400 pins) and 50–125 (800 pins). Each ranking reaches twice as deep as the
    band, so a wrong band finds items; it holds a query that ranks itself inside the band, a cold query
    (no edges: nothing ranked) and positives in both directions."""
    from .data import synthetic_pins_boards
    from .negatives import hard_negative_band
    from .walks import ppr_rank

    cases = []
    for num_pins, boards, edges in ((400, 40, 3_000), (800, 60, 6_000)):
        ds = synthetic_pins_boards(num_pins=num_pins, num_boards=boards, num_edges=edges, num_topics=4, seed=0)
        graph = ds.graph()
        lo, hi = hard_negative_band(ds.num_items)
        cold = int(torch.nonzero(graph.item_degrees == 0)[0])
        queries = torch.tensor([3, 7, 11, 40, 123, cold])
        ranked = ppr_rank(graph, queries, k=2 * hi).ids.clone()
        ranked[0, lo + 5] = int(queries[0])  # a ranking that names the query itself must not yield it
        positives = ds.split(seed=0).train_pairs
        extra = torch.stack([ranked[1, lo:lo + 4], queries[1].repeat(4)], 1)  # (item, query): the other direction
        positives = torch.cat([positives, extra, torch.stack([queries[2].repeat(3), ranked[2, lo + 1:lo + 4]], 1)])
        for h in (6, hi - lo + 10):  # a few per query; more than any query has (every candidate, then padding)
            cases.append((f"{ds.num_items} items, h={h}", (ranked, queries, positives, ds.num_items), h))
    return cases


def _candidates(ranked: torch.Tensor, queries: torch.Tensor, positives: torch.Tensor, num_items: int) -> list[set[int]]:
    """Each query's candidates as the library draws them: every one, via hard_negatives with h = the band."""
    from .negatives import hard_negative_band, hard_negatives
    from .walks import PPRRanking

    lo, hi = hard_negative_band(num_items)
    everything = hard_negatives(PPRRanking(queries, ranked, torch.zeros(ranked.shape), ranked >= 0), hi - lo,
                                (lo, hi), positives=positives, generator=0)
    return [set(row[m].tolist()) for row, m in zip(everything.ids, everything.mask)]


_BAND_HINT = ("hint: lo = round(2000·(num_items / 2e9) ** 0.25), hi = round(2.5·lo); ranks are 0-based and hi is "
             "excluded: ranked[:, lo:hi]")


def check_hard_negative_batch(student: Callable[..., torch.Tensor]) -> None:
    """Exercise (notebook 06): §3.3's hard negatives for a batch of queries, band included.

    ``student(ranked, queries, positives, num_items, n_hard, generator)`` gets each query's PPR ranking
    ``ranked`` LongTensor [B, K] (best first, the query normally left out, −1 on unranked slots),
    ``queries`` [B], the known positive pairs ``positives`` [P, 2] (a relation in either direction), the
    catalogue size and ``n_hard``. It returns LongTensor [B, n_hard]: for each query, min(n_hard, #candidates)
    **distinct** items drawn uniformly at random (with ``generator``) from the ranks of
    :func:`~pinsage_edu.negatives.hard_negative_band` — ``[lo, hi)`` with lo = round(2000·(num_items /
    2·10⁹)^¼) and hi = round(2.5·lo) — leaving out −1, the query and its positives; −1 pads the rest.

    The library's draw (:func:`~pinsage_edu.negatives.hard_negatives`) uses its random numbers its own
    way, so the draws are compared by their properties: each is a set of the library's candidates of the
    right size, the same generator state gives the same draw, and over 200 seeds every candidate turns
    up, none more than three times as often as a uniform draw would pick it.
    """
    from .negatives import hard_negative_band

    cases = _hard_negative_cases()
    repeats = 200

    def draw(args: tuple[torch.Tensor, torch.Tensor, torch.Tensor, int], n_hard: int, seed: int) -> torch.Tensor:
        ranked, queries, positives, num_items = args
        state = torch.get_rng_state()
        got = student(ranked.clone(), queries.clone(), positives.clone(), num_items, n_hard,
                      torch.Generator().manual_seed(seed))
        if not torch.equal(torch.get_rng_state(), state):
            torch.set_rng_state(state)
            raise AssertionError("check_hard_negative_batch: your draw used torch's global random numbers (hint: pass "
                                 "generator=generator to torch.randperm / torch.rand, so a seeded run is reproducible)")
        return got

    def why(item: int, b: int, args: tuple[torch.Tensor, torch.Tensor, torch.Tensor, int], pos: set[int]) -> str:
        ranked, queries, _, num_items = args
        lo, hi = hard_negative_band(num_items)
        row = ranked[b].tolist()
        if item == int(queries[b]):
            return "the query itself"
        if item in pos:
            return "a known positive (hint: a pair (q, i) or (i, q) in positives — check both columns)"
        if item not in row or not lo <= row.index(item) < hi:
            r = row.index(item) if item in row else None
            return f"at rank {r}, outside the band [{lo}, {hi}) ({_BAND_HINT})"
        return "not a candidate"

    def run() -> None:
        for what, args, n_hard in cases:
            ranked, queries, positives, num_items = args
            where = f"check_hard_negative_batch ({what})"
            cands = _candidates(*args)
            pos = [set(positives[positives[:, 0] == q, 1].tolist())
                   | set(positives[positives[:, 1] == q, 0].tolist())
                   for q in queries.tolist()]
            counts = [dict.fromkeys(c, 0) for c in cands]
            for seed in range(repeats if n_hard < 20 else 2):
                got = draw(args, n_hard, seed)
                if not isinstance(got, torch.Tensor) or got.shape != (len(queries), n_hard):
                    shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                    raise AssertionError(f"{where}: return a LongTensor of shape [B, n_hard] = {(len(queries), n_hard)}, got "
                                         f"{shape} (hint: pad each row with -1 up to n_hard)")
                got = got.long()
                if seed == 0:
                    again = draw(args, n_hard, 0)
                    if not torch.equal(again.long(), got):
                        raise AssertionError(f"{where}: two draws with the same generator seed differ (hint: take "
                                             "every random number from generator)")
                for b, row in enumerate(got.tolist()):
                    items = [i for i in row if i != -1]
                    want = min(n_hard, len(cands[b]))
                    if any(i < -1 for i in row):
                        raise AssertionError(f"{where}: row {b} holds {row[:8]}…: pad with -1 only")
                    if len(set(items)) != len(items):
                        raise AssertionError(f"{where}: query {int(queries[b])} got an item twice (hint: draw without "
                                             "replacement: a random permutation of the candidates, then the first n_hard)")
                    bad = [i for i in items if i not in cands[b]]
                    if bad:
                        raise AssertionError(f"{where}: query {int(queries[b])} got item {bad[0]}, which is "
                                             f"{why(bad[0], b, args, pos[b])}")
                    if len(items) != want:
                        hint = ("a query with no ranked item (a cold one) gets none" if not cands[b] else
                                "n_hard of them, or every candidate when there are fewer" if len(items) < want else
                                "no more than n_hard")
                        raise AssertionError(f"{where}: query {int(queries[b])} got {len(items)} items, expected "
                                             f"{want} of its {len(cands[b])} candidates ({hint}; is the band right? "
                                             f"{_BAND_HINT})")
                    for i in items:
                        counts[b][i] += 1
            if n_hard < 20:  # a uniform draw: every candidate turns up, none far more often than n_hard / #candidates
                lo, hi = hard_negative_band(num_items)
                for b, c in enumerate(counts):
                    if not c or n_hard >= len(c):
                        continue
                    expected = repeats * n_hard / len(c)
                    never = [i for i, n in c.items() if n == 0]
                    if never or max(c.values()) > 3 * expected:
                        row = ranked[b].tolist()
                        ranks = sorted(row.index(i) for i in never)
                        if ranks and all(r < lo + 3 or r >= hi - 3 for r in ranks):
                            raise AssertionError(
                                f"{where}: query {int(queries[b])}'s candidates at ranks {ranks} were never drawn in "
                                f"{repeats} seeds: your band misses the ends of [{lo}, {hi}) ({_BAND_HINT})")
                        raise AssertionError(
                            f"{where}: over {repeats} seeds query {int(queries[b])}'s draws are not uniform — "
                            f"{len(never)} of its {len(c)} candidates never drawn, the most frequent drawn "
                            f"{max(c.values())} times where about {expected:.0f} was expected (hint: every candidate "
                            "equally likely: torch.randperm(len(candidates), generator=generator)[:n_hard], not the first "
                            "n_hard in rank order)")

    if _attempt("check_hard_negative_batch", run):
        print(f"check_hard_negative_batch: correct on {len(cases)} batches — the scaled band, no query, no positive "
              f"(either direction), cold queries padded, uniform over {repeats} seeds ✓")


def check_warmup_decay(student: Callable[[int, int, float, float], float]) -> None:
    """Exercise (notebook 07): the learning-rate factor of §3.3's schedule.

    ``student(step, steps_per_epoch, warmup_epochs, lr_decay)`` returns the factor for 0-based
    ``step``: ``(step + 1) / W`` during the warm-up of W = round(warmup_epochs × steps_per_epoch)
    steps, then ``lr_decay ** ((step − W) / steps_per_epoch)``. Compared with
    :class:`~pinsage_edu.train.WarmupDecay` on several schedules.
    """
    from .train import WarmupDecay

    cases = [(10, 1.0, 0.9), (4, 0.5, 0.5), (7, 0.0, 0.8), (3, 2.0, 1.0)]

    def run() -> None:
        for spe, warm, decay in cases:
            ref = WarmupDecay(spe, warm, decay)
            for step in range(5 * spe):
                got = student(step, spe, warm, decay)
                want = ref(step)
                if not isinstance(got, (int, float)) or abs(float(got) - want) > 1e-9:
                    w = ref.warmup_steps
                    hint = ("during the warm-up the factor rises linearly to 1 at its last step: (step + 1) / W"
                            if step < w else "after the warm-up, one factor of lr_decay per epoch: "
                            "lr_decay ** ((step - W) / steps_per_epoch)")
                    raise AssertionError(f"check_warmup_decay (step {step}, {spe} steps/epoch, warm-up {warm} epochs, "
                                         f"decay {decay}): got {got!r}, expected {want:.6f}; {hint}")

    if _attempt("check_warmup_decay", run):
        print(f"check_warmup_decay: correct on {sum(5 * c[0] for c in cases)} steps of {len(cases)} schedules ✓")


def check_rank_share(student: Callable[[torch.Tensor, int, int], torch.Tensor]) -> None:
    """Exercise (notebook 07): which pairs of a global minibatch one DDP rank takes.

    ``student(batch, rank, world_size)`` returns the rank's contiguous share of ``batch`` [n, 2]:
    rows ``rank·n // world_size`` up to ``(rank + 1)·n // world_size``. The shares must be disjoint,
    cover the batch in order and differ in size by at most one — what
    :class:`~pinsage_edu.train.MinibatchProducer` does.
    """
    cases = [(512, 2), (512, 3), (7, 4), (5, 5), (1000, 8)]

    def run() -> None:
        for n, size in cases:
            batch = torch.stack([torch.arange(n), torch.arange(n) + 10_000], 1)
            parts = [student(batch, r, size) for r in range(size)]
            for r, part in enumerate(parts):
                want = batch[r * n // size:(r + 1) * n // size]
                if not isinstance(part, torch.Tensor) or not torch.equal(part, want):
                    raise AssertionError(f"check_rank_share (n={n}, {size} ranks, rank {r}): expected rows "
                                         f"{r * n // size}…{(r + 1) * n // size - 1}; hint: the share starts at "
                                         "rank·n // world_size")

    if _attempt("check_rank_share", run):
        print(f"check_rank_share: correct for {len(cases)} batch/world sizes — every pair on exactly one rank ✓")


def check_lsh_codes(student: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise (notebook 08): random-hyperplane hashing, one table.

    ``student(vectors, planes)`` takes ``vectors`` [N, d] and ``planes`` [d, b] (one random hyperplane
    per column) and returns LongTensor [N]: each vector's b-bit code, bit j set when the vector lies on
    the positive side of plane j (``vectors @ planes > 0``), i.e. Σ_j [v·p_j > 0] · 2ʲ — what
    :class:`~pinsage_edu.knn.LSHIndex` computes for each of its tables.
    """
    gen = torch.Generator().manual_seed(0)
    cases = [(50, 8, 4), (200, 16, 10), (3, 5, 1)]

    def run() -> None:
        for n, d, b in cases:
            v = torch.randn(n, d, generator=gen)
            planes = torch.randn(d, b, generator=gen)
            want = ((v @ planes > 0).long() * (2 ** torch.arange(b))).sum(1)
            got = student(v, planes)
            if not isinstance(got, torch.Tensor) or got.shape != want.shape or not torch.equal(got.long(), want):
                raise AssertionError(f"check_lsh_codes ({n} vectors, d={d}, b={b} bits): wrong codes; hint: bit j is "
                                     "(vectors @ planes)[:, j] > 0, weighted by 2**j and summed over j")

    if _attempt("check_lsh_codes", run):
        print(f"check_lsh_codes: correct on {len(cases)} tables — near vectors share most bits ✓")


def check_scaled_mrr(student: Callable[[torch.Tensor, int], float]) -> None:
    """Exercise (notebook 09): the paper's scaled MRR.

    ``student(ranks, scale)`` returns the mean of 1 / ⌈rank / scale⌉ over the ranks (1 = best), as
    :func:`~pinsage_edu.metrics.scaled_mrr` does.
    """
    from .metrics import scaled_mrr

    cases = [(torch.tensor([1, 2, 3, 100, 101]), 100), (torch.tensor([1, 2, 3, 4]), 1),
             (torch.tensor([250, 5000, 1]), 100), (torch.tensor([7]), 3)]

    def run() -> None:
        for ranks, scale in cases:
            got, want = student(ranks, scale), scaled_mrr(ranks, scale)
            if not isinstance(got, (int, float)) or abs(float(got) - want) > 1e-9:
                raise AssertionError(f"check_scaled_mrr (ranks {ranks.tolist()}, scale {scale}): got {got!r}, expected "
                                     f"{want:.6f}; hint: divide each rank by the scale and round *up* before 1/x")

    if _attempt("check_scaled_mrr", run):
        print(f"check_scaled_mrr: correct on {len(cases)} cases — ranks 1 and 100 count alike at scale 100 ✓")


def check_shard_range(student: Callable[[int, int, int], tuple[int, int]]) -> None:
    """Exercise (notebook 10): which items one rank embeds in the sharded layer-wise inference.

    ``student(total, rank, size)`` returns ``(lo, hi)``: contiguous shares covering 0 … total − 1 in rank
    order, differing in size by at most one (the first ``total % size`` ranks take one more) — what
    :func:`~pinsage_edu.distributed.shard_range` does.
    """
    from .distributed import shard_range

    cases = [(10, 3), (7, 7), (3, 5), (1_000_000, 8), (0, 2)]

    def run() -> None:
        for total, size in cases:
            for r in range(size):
                got, want = student(total, r, size), shard_range(total, r, size)
                if tuple(got) != want:
                    raise AssertionError(f"check_shard_range ({total} items, {size} ranks, rank {r}): got {got!r}, "
                                         f"expected {want}; hint: base, extra = divmod(total, size); "
                                         "lo = rank·base + min(rank, extra)")

    if _attempt("check_shard_range", run):
        print(f"check_shard_range: correct for {len(cases)} item/rank counts — every item on exactly one rank ✓")


# ------------------------------------------------- checkers that run the student's code in the pipeline
def _small_catalogue() -> Any:
    """400 synthetic pins on 60 boards: many items with a full neighbourhood, many with none."""
    from .data import synthetic_pins_boards

    return synthetic_pins_boards(num_pins=400, num_boards=60, num_edges=3000, seed=0)


def _seeded_model(config: Any, seed: int = 0) -> Any:
    """A PinSage initialised from ``seed`` without moving torch's global generator."""
    from .model import PinSage

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PinSage(config)


def _ids(t: torch.Tensor, n: int = 8) -> str:
    values = t.tolist()
    return f"{values[:n]}{'…' if len(values) > n else ''}"


# ------------------------------------------------------------------------------ notebook 04
def check_sample_blocks(student: Callable[[torch.Tensor, int, Any], Any]) -> None:
    """Exercise (notebook 04): Algorithm 2 — the layered node sets of a minibatch, re-indexed.

    ``student(seeds, num_layers, table)`` gets the minibatch ``seeds`` (LongTensor [B], repeats
    allowed), K and a :class:`~pinsage_edu.minibatch.NeighborhoodTable` (``table(ids)`` → ids,
    weights, mask [len(ids), T]) and must return a :class:`~pinsage_edu.minibatch.Blocks`:
    ``layers[k]`` from S⁽ᵏ⁾ to S⁽ᵏ⁺¹⁾, each set's items once with the destinations first, the
    neighbours as local rows (−1 on padding), the table's weights and mask; ``seeds`` as given and
    ``seed_index`` the row of each seed in S⁽ᴷ⁾. Any order of the new nodes is accepted. The blocks
    are then fed to the library's PinSage, which must give the embeddings it gives from
    :func:`~pinsage_edu.minibatch.sample_blocks`' blocks.
    """
    from .minibatch import Block, Blocks, NeighborhoodTable, sample_blocks
    from .model import PinSageConfig

    graph = _small_catalogue().graph()
    table = NeighborhoodTable.build(graph, 5, generator=0)
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(graph.num_items, 12, generator=gen)
    isolated = torch.nonzero(graph.item_degrees == 0).squeeze(1)[:3].tolist()
    connected = torch.nonzero(table.table.mask.all(1)).squeeze(1)
    cases = [
        ("three seeds, K = 2", connected[[0, 5, 10]], 2),
        ("repeated seeds and items without neighbours, K = 3",
         torch.cat([connected[:40:4], torch.tensor(isolated), connected[[4, 0, 4]]]), 3),
        ("one seed, K = 1", connected[[7]], 1),
        ("64 random seeds, K = 2", torch.randint(0, graph.num_items, (64,), generator=gen), 2),
    ]
    models = {K: _seeded_model(PinSageConfig.classroom(12, hidden_dim=16, embed_dim=8, num_layers=K, num_neighbors=5))
              for K in sorted({c[2] for c in cases})}

    def check_layer(where: str, k: int, got: Any, above: torch.Tensor | None, want: Any, seeds: torch.Tensor
                    ) -> torch.Tensor:
        """Raise with a hint when block ``k`` (S⁽ᵏ⁾ → S⁽ᵏ⁺¹⁾) is wrong; ``above`` is the student's S⁽ᵏ⁺¹⁾ in
        its order, None for the top block (whose destinations are the distinct seeds, in any order).
        Returns the block's S⁽ᵏ⁾."""
        where = f"{where}, layers[{k}]: S({k}) → S({k + 1})"
        if not isinstance(got, Block):
            raise AssertionError(f"{where}: each layer must be a Block(src_ids, neighbors, weights, mask), got "
                                 f"{type(got).__name__}")
        src, nbr = got.src_ids, got.neighbors
        if not isinstance(src, torch.Tensor) or not isinstance(nbr, torch.Tensor) or src.dim() != 1:
            raise AssertionError(f"{where}: src_ids must be a 1-D LongTensor and neighbors a [N_dst, T] LongTensor")
        if src.numel() and int(src.min()) < 0:
            raise AssertionError(f"{where}: src_ids hold {int(src.min())}, which is padding, not an item (hint: "
                                 "take only the real neighbours, nb.ids[nb.mask])")
        values, counts = torch.unique(src, return_counts=True)
        if bool((counts > 1).any()):
            twice = values[counts > 1]
            hint = ("S(K) holds each item once even when the minibatch repeats one: torch.unique(seeds, "
                    "return_inverse=True)" if above is None and seeds.unique().numel() < seeds.numel()
                    and bool(torch.isin(twice, seeds).all()) else
                    "keep each item once: torch.unique the new neighbours and drop those already in the set above "
                    "(torch.isin)")
            raise AssertionError(f"{where}: items {_ids(twice, 5)} appear more than once in src_ids = S({k}); "
                                 f"hint: {hint}")
        above_set = set(seeds.tolist()) if above is None else set(above.tolist())
        got_set, want_set = set(src.tolist()), set(want.src_ids.tolist())
        if got_set != want_set:
            missing, extra = sorted(want_set - got_set), sorted(got_set - want_set)
            if missing and set(missing) <= above_set:
                hint = (f"S({k}) = S({k + 1}) ∪ N(S({k + 1})) must keep the nodes of S({k + 1}) themselves: a node "
                        "needs its own previous embedding")
            elif missing:
                hint = "every real neighbour (mask True) of every node of the set above belongs to it"
            else:
                hint = "only the set above and its nodes' neighbours belong to it"
            raise AssertionError(f"{where}: S({k}) has {len(got_set)} items, expected {len(want_set)} (missing "
                                 f"{missing[:5]}, unexpected {extra[:5]}); hint: {hint}")
        n_dst = len(above_set)
        if nbr.dim() != 2 or nbr.shape[0] != n_dst or nbr.shape[1] != table.num_neighbors:
            raise AssertionError(f"{where}: neighbors must have one row per destination and T columns, shape "
                                 f"({n_dst}, {table.num_neighbors}), got {tuple(nbr.shape)}")
        dst = src[:n_dst]
        if (above is None and set(dst.tolist()) != above_set) or (above is not None and not torch.equal(dst, above)):
            order = "" if above is None else f", in their order there ({_ids(above)})"
            raise AssertionError(f"{where}: src_ids must start with the destinations S({k + 1}){order}, got "
                                 f"{_ids(src)} (hint: src = torch.cat([dst, new]), so that row i of this layer is "
                                 "node i of the layer above)")
        nb = table(dst)
        if not torch.equal(got.mask.bool(), nb.mask) or not torch.allclose(got.weights.float(), nb.weights):
            raise AssertionError(f"{where}: weights and mask must be the destinations' rows of the table, "
                                 "table(dst).weights and table(dst).mask")
        if nbr.dtype != torch.long:
            raise AssertionError(f"{where}: neighbors must be a LongTensor (row numbers), got {nbr.dtype}")
        if bool((nbr[~nb.mask] != -1).any()):
            raise AssertionError(f"{where}: padded slots (mask False) of neighbors must hold -1")
        real, real_ids = nbr[nb.mask], nb.ids[nb.mask]
        if real.numel() and (int(real.min()) < 0 or int(real.max()) >= src.numel() or not torch.equal(src[real],
                                                                                                  real_ids)):
            hint = ("they are global item ids: re-index them to rows of src_ids (exercise 1)"
                    if torch.equal(real, real_ids) else
                    f"neighbors[i, j] is the row (0 … {src.numel() - 1}) of src_ids that holds table(dst).ids[i, j]")
            raise AssertionError(f"{where}: src_ids[neighbors] do not give the table's neighbours back; hint: {hint}")
        return src

    def run() -> None:
        with torch.random.fork_rng(devices=[]):
            for what, seeds, K in cases:
                where = f"check_sample_blocks ({what})"
                want = sample_blocks(seeds, K, table)
                try:
                    got = student(seeds.clone(), K, table)
                except (RuntimeError, IndexError, ValueError, TypeError) as e:
                    if isinstance(e, NotImplementedError):
                        raise
                    hint = ("-1 marks padding in nb.ids, never an item: take the real neighbours, nb.ids[nb.mask]"
                            if "-1" in str(e) else "table(ids) gives ids, weights, mask [len(ids), T]; Block and "
                            "Blocks are built from tensors")
                    raise AssertionError(f"{where}: your function raised {type(e).__name__}: {e} "
                                         f"(hint: {hint})") from e
                if not isinstance(got, Blocks):
                    raise AssertionError(f"{where}: return a Blocks(tuple(layers), seeds, seed_index), got "
                                         f"{type(got).__name__}")
                layers = list(got.layers)
                if len(layers) != K:
                    raise AssertionError(f"{where}: one Block per layer: {K} for num_layers = {K}, got {len(layers)}")
                top = set(seeds.tolist())
                if K > 1 and isinstance(layers[0], Block) and set(layers[0].dst_ids.tolist()) == top \
                        and set(layers[-1].dst_ids.tolist()) != top:
                    raise AssertionError(f"{where}: the layers are upside down: layers[0] must go from S(0) to S(1) "
                                         "and layers[-1] end at the seeds (hint: you build them top-down, so reverse "
                                         "the list at the end)")
                above = None
                for k in range(K - 1, -1, -1):
                    above = check_layer(where, k, layers[k], above, want.layers[k], seeds)
                if not isinstance(got.seeds, torch.Tensor) or not torch.equal(got.seeds.long(), seeds):
                    raise AssertionError(f"{where}: Blocks.seeds is the minibatch as given, repeats included")
                idx = got.seed_index
                top_ids = layers[-1].dst_ids
                if not isinstance(idx, torch.Tensor) or idx.shape != seeds.shape or idx.dtype != torch.long \
                        or bool(((idx < 0) | (idx >= top_ids.numel())).any()) or not torch.equal(top_ids[idx], seeds):
                    raise AssertionError(f"{where}: seed_index[b] must be the row of seeds[b] among S(K) (hint: "
                                         "torch.unique(seeds, return_inverse=True) gives both)")
                model = models[K]
                with torch.no_grad():
                    z_got, z_want = model(Blocks(tuple(layers), got.seeds, idx), x), model(want, x)
                if not torch.allclose(z_got, z_want, atol=1e-5):
                    raise AssertionError(f"{where}: the library's PinSage gives other embeddings from your blocks "
                                         f"(largest difference {float((z_got - z_want).abs().max()):.1e})")

    if _attempt("check_sample_blocks", run):
        print(f"check_sample_blocks: correct on {len(cases)} minibatches (repeated seeds, items without neighbours, "
              f"K = 1 … {max(models)}), and PinSage embeds them as it embeds the library's blocks ✓")


# ------------------------------------------------------------------------------ notebook 07
def check_training_step(student: Callable[..., Any]) -> None:
    """Exercise (notebook 07): one training step of §3.3, next to the library's :class:`~pinsage_edu.train.Trainer`.

    ``student(model, optimizer, producer, epoch, index, margin)`` must build minibatch ``index`` of
    ``epoch`` with the :class:`~pinsage_edu.producer.MinibatchProducer`, embed its seeds (queries ‖
    positives ‖ shared negatives) with ``model``, compute the max-margin loss with the minibatch's
    ``shared_mask``, back-propagate, take one optimiser step and return the loss. From identical seeded
    models the checker runs a few such steps and the library's trainer the same steps (constant learning
    rate, no clipping, no hard negatives), with Adam and with SGD + momentum: the losses and then the
    parameters must agree after every step.
    """
    from .minibatch import NeighborhoodTable
    from .model import PinSageConfig
    from .producer import MinibatchProducer
    from .train import TrainConfig, train_pinsage

    split = _small_catalogue().split(seed=0)
    table = NeighborhoodTable.build(split.graph, 5, generator=0)
    x = torch.rand(split.graph.num_items, 12, generator=torch.Generator().manual_seed(0))
    model_config = PinSageConfig.classroom(12, hidden_dim=16, embed_dim=8, num_neighbors=5)
    steps = 3
    cases = [("Adam", dict(optimizer="adam", lr=1e-2), 0.1), ("SGD + momentum", dict(optimizer="sgd", lr=0.5), 0.3)]

    def optimizer_for(model: torch.nn.Module, c: TrainConfig) -> torch.optim.Optimizer:
        if c.optimizer == "adam":
            return torch.optim.Adam(model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        return torch.optim.SGD(model.parameters(), lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)

    def params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in model.named_parameters()}

    def loss_hint(state: dict[str, torch.Tensor], producer: MinibatchProducer, s: int, margin: float,
                  got: float) -> str:
        """What the student's loss equals, among the usual slips, on the model before step ``s``."""
        probe = _seeded_model(model_config)
        probe.load_state_dict(state, strict=False)
        mb = producer(1, s)
        with torch.no_grad():
            z = probe(mb.blocks, inputs=mb.inputs)
        B, S = mb.queries.numel(), mb.negatives.numel()
        zq, zp, zn = z[:B], z[B:2 * B], z[2 * B:2 * B + S]
        slips = [
            ("pass shared_mask=mb.shared_mask: a shared negative that is the query itself or its positive must not "
             "count", max_margin_loss(zq, zp, zn, margin=margin)),
            ("the seeds are queries ‖ positives ‖ negatives: z[:B] are the queries, z[B:2B] their positives",
             max_margin_loss(zp, zq, zn, margin=margin, shared_mask=mb.shared_mask)),
            (f"use the margin you are given, Δ = {margin}",
             max_margin_loss(zq, zp, zn, margin=0.1 if margin != 0.1 else 0.0, shared_mask=mb.shared_mask)),
            ("the shared negatives are z[2B:2B + S], after the queries and the positives",
             max_margin_loss(zq, zp, z[B:], margin=margin)),
        ]
        for hint, res in slips:
            if abs(float(res.loss) - got) < 1e-6:
                return hint
        return ("z = model(mb.blocks, inputs=mb.inputs) embeds the seeds queries ‖ positives ‖ negatives; the loss "
                "is max_margin_loss(z_q, z_pos, z_neg, margin=margin, shared_mask=mb.shared_mask).loss")

    def run() -> None:
        with torch.random.fork_rng(devices=[]):
            for name, opt, margin in cases:
                c = TrainConfig(epochs=1, batch_size=32, num_shared_negatives=40, max_hard_negatives=0,
                                warmup_epochs=0.0, lr_decay=1.0, grad_clip=None, max_steps_per_epoch=steps,
                                margin=margin, **opt)
                ref = _seeded_model(model_config)
                snapshots = [params(ref)]
                history = train_pinsage(ref, x, split.train_pairs, table, config=c, optimizer=optimizer_for(ref, c),
                                        on_step=lambda step, result: snapshots.append(params(ref)))
                model = _seeded_model(model_config)
                optimizer = optimizer_for(model, c)
                producer = MinibatchProducer(split.train_pairs, x, table, num_layers=model_config.num_layers,
                                             config=c)
                for s in range(steps):
                    where = f"check_training_step ({name}, margin {margin}, step {s + 1} of {steps})"
                    got = student(model, optimizer, producer, 1, s, margin)
                    if isinstance(got, torch.Tensor) and got.numel() == 1:
                        got = float(got.detach())
                    if isinstance(got, bool) or not isinstance(got, (int, float)):
                        raise AssertionError(f"{where}: return the step's loss as a number (float(loss)), got "
                                             f"{type(got).__name__}")
                    want = history.step_loss[s]
                    if abs(got - want) > 1e-5 * max(1.0, abs(want)):
                        raise AssertionError(f"{where}: loss {got:.6f}, the library's step has {want:.6f}; hint: "
                                             f"{loss_hint(snapshots[s], producer, s, margin, got)}")
                    now = params(model)
                    off = [k for k, v in now.items()
                           if not torch.allclose(v, snapshots[s + 1][k], rtol=1e-4, atol=1e-6)]
                    if off:
                        if all(torch.equal(v, snapshots[s][k]) for k, v in now.items()):
                            hint = ("your step left the parameters as they were: call loss.backward(), then "
                                    "optimizer.step()")
                        elif s > 0:
                            hint = ("the first steps agreed, so look at what carries over between steps: "
                                    "gradients add up unless cleared, optimizer.zero_grad() before loss.backward()")
                        else:
                            hint = ("back-propagate the loss you return (loss.backward()), then exactly one "
                                    "optimizer.step(); nothing else changes the parameters")
                        raise AssertionError(f"{where}: the loss is right but the parameters after the step differ "
                                             f"from the library's ({', '.join(off[:3])}…); hint: {hint}")

    if _attempt("check_training_step", run):
        print(f"check_training_step: correct — the library Trainer's loss and parameters at each of {steps} steps, "
              f"with {' and with '.join(c[0] for c in cases)} ✓")


# ------------------------------------------------------------------------------ notebook 08
def check_embed_all(student: Callable[[Any, Any, torch.Tensor, int], torch.Tensor]) -> None:
    """Exercise (notebook 08): §3.4's layer-wise inference in chunks.

    ``student(model, table, features, chunk_size)`` must return every item's embedding [N, d] as
    :func:`~pinsage_edu.inference.embed_all` does: h⁽⁰⁾ from the features, then for each layer every
    item's message ReLU(Q·h + q) once (map), each item's neighbours' messages looked up in the
    table (join), pooled and combined with the item's own h (reduce), then the head — never more than
    ``chunk_size`` items at a time. The checker compares the vectors with ``embed_all`` on seeded small
    models and counts the rows every linear map of the model sees: each item exactly once per map,
    in calls of at most ``chunk_size`` rows.
    """
    from .distributed import World
    from .inference import embed_all
    from .minibatch import NeighborhoodTable
    from .model import PinSageConfig

    graph = _small_catalogue().graph()
    table = NeighborhoodTable.build(graph, 5, generator=0)
    N = graph.num_items
    x = torch.rand(N, 12, generator=torch.Generator().manual_seed(0))
    small = PinSageConfig.classroom(12, hidden_dim=16, embed_dim=8, num_neighbors=5)
    cases = [("K = 2, importance pooling", small, 64),
             ("K = 3, mean pooling, an input projection",
              PinSageConfig.classroom(12, hidden_dim=16, embed_dim=8, num_layers=3, num_neighbors=5, pooling="mean",
                                      input_dim=10), 7),
             ("one chunk larger than the catalogue", small, 1000)]

    def maps_of(model: Any) -> dict[torch.nn.Module, str]:
        names = {} if model.input is None else {model.input: "the input projection"}
        for k, layer in enumerate(model.layers, start=1):
            names[layer.Q] = f"layer {k}'s map ReLU(Q·h + q) (layer.neighbor_messages)"
            names[layer.W] = f"layer {k}'s reduce W·[h, n] (layer.combine)"
        names[model.G1] = "the head (model.head)"
        return names

    def full_pass(model: Any) -> torch.Tensor:
        """h⁽ᴷ⁾ of every item in one go (no head): what a forgotten head leaves."""
        nb = table(torch.arange(N))
        with torch.no_grad():
            h = model.input_embeddings(x)
            for layer in model.layers:
                h = layer.combine(h, layer.neighbor_messages(h)[nb.ids.clamp_min(0)], nb.weights, nb.mask)
        return h

    def run() -> None:
        with torch.random.fork_rng(devices=[]):
            for what, config, chunk in cases:
                where = f"check_embed_all ({what}, chunk_size {chunk})"
                model = _seeded_model(config)
                want = embed_all(model, table, x, chunk_size=chunk, world=World())
                rows: dict[torch.nn.Module, list[int]] = {m: [] for m in maps_of(model)}
                hooks = [m.register_forward_hook(
                    lambda mod, inp, out: rows[mod].append(inp[0].numel() // max(inp[0].shape[-1], 1))) for m in rows]
                try:
                    got = student(model, table, x.clone(), chunk)
                except NotImplementedError:
                    raise
                except (RuntimeError, IndexError, ValueError, TypeError) as e:
                    raise AssertionError(f"{where}: your function raised {type(e).__name__}: {e} (hint: h⁽⁰⁾ = "
                                         "model.input_embeddings(rows of features) applies the model's input "
                                         "projection when it has one; then per layer layer.neighbor_messages, "
                                         "table(ids) and layer.combine; model.head at the end)") from e
                finally:
                    for hk in hooks:
                        hk.remove()
                if not isinstance(got, torch.Tensor) or got.shape != want.shape:
                    shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                    raise AssertionError(f"{where}: return one embedding per item, a tensor of shape "
                                         f"{tuple(want.shape)} = [N, d] in item order, got {shape}")
                got = got.detach().float()
                if not torch.allclose(got, want, atol=1e-5):
                    h_k = full_pass(model)
                    if torch.allclose(got, h_k, atol=1e-5):
                        hint = "after the last layer every item goes through the head: model.head(h)"
                    else:
                        hint = ("for each layer, first map every item (all the chunks: the messages of the whole "
                                "catalogue), then reduce chunk by chunk from those messages and the items' own "
                                "h⁽ᵏ⁻¹⁾, and only then replace h by the new vectors: a neighbour's message may sit "
                                "in a later chunk")
                    raise AssertionError(f"{where}: embeddings differ from embed_all's (largest difference "
                                         f"{float((got - want).abs().max()):.1e}); hint: {hint}")
                for m, name in maps_of(model).items():
                    seen = rows[m]
                    if sum(seen) > N:
                        raise AssertionError(f"{where}: {name} saw {sum(seen):,} rows for {N} items: compute each "
                                             "item's vector once per layer (the map over all items, then look the "
                                             "messages up: messages[ids]), not once per (item, neighbour) pair")
                    if sum(seen) < N:
                        raise AssertionError(f"{where}: {name} saw only {sum(seen)} rows for {N} items: every item "
                                             "passes through every map once")
                    if max(seen) > chunk:
                        raise AssertionError(f"{where}: {name} got {max(seen)} items in one call, more than "
                                             f"chunk_size = {chunk} (hint: loop over the items in slices "
                                             "[a, a + chunk_size), the last one shorter)")

    if _attempt("check_embed_all", run):
        print(f"check_embed_all: correct on {len(cases)} models and chunk sizes — embed_all's vectors, each item "
              "mapped once per layer, never more than chunk_size items at a time ✓")
