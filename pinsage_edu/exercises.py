"""Checkers for the notebooks' exercises.

Each ``check_*`` runs the student's function on small seeded cases, compares it with the library
and prints a one-line verdict. A wrong answer raises ``AssertionError`` with a hint; an unattempted
one (the stub still raises ``NotImplementedError``) prints "not attempted" and returns, so a student
copy still runs top to bottom. Checkers return ``None`` so a notebook cell shows only the verdict.
"""

from __future__ import annotations

from typing import Callable

import torch

from .convolve import importance_pooling
from .loss import max_margin_loss
from .utils import csr_indptr

__all__ = ["check_indptr", "check_top_t", "check_importance_pooling", "check_reindex", "check_shared_negative_loss",
           "check_hard_negatives", "check_warmup_decay", "check_rank_share", "check_lsh_codes", "check_scaled_mrr",
           "check_shard_range"]


def _attempt(name: str, fn: Callable[[], None]) -> bool:
    try:
        fn()
    except NotImplementedError:
        print(f"{name}: not attempted yet — replace the `raise NotImplementedError` with your code")
        return False
    return True


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


def check_importance_pooling(student: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """Exercise (notebook 03): γ, importance pooling — the α-weighted mean of the kept neighbours' messages.

    ``student(messages, weights, mask)`` gets ``messages [B, T, d]``, ``weights [B, T]`` (≥ 0) and
    ``mask [B, T]`` (True on real neighbours) and must return ``[B, d]``: Σ α·m / Σ α over the kept
    neighbours. Padded slots must not contribute; a row with no neighbour pools to zeros.
    """
    g = torch.Generator().manual_seed(0)
    m = torch.rand(6, 5, 4, generator=g)
    w = torch.rand(6, 5, generator=g)
    mask = torch.rand(6, 5, generator=g) > 0.3
    mask[0] = True
    mask[5] = False  # an isolated item
    padded = torch.where(mask.unsqueeze(-1), m, torch.full_like(m, 1e3))  # garbage where padded
    cases = [
        ("weights summing to 1", padded, torch.where(mask, w, 0.0) / torch.where(mask, w, 0.0).sum(1, keepdim=True)
         .clamp_min(1e-12), mask),
        ("weights that do not sum to 1", padded, torch.where(mask, w, 0.0), mask),
        ("non-zero weights on padded slots", padded, w, mask),
    ]

    def run() -> None:
        for what, msgs, wts, msk in cases:
            got = student(msgs.clone(), wts.clone(), msk.clone())
            want = importance_pooling(msgs, wts, msk)
            if not isinstance(got, torch.Tensor) or got.shape != want.shape:
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                raise AssertionError(f"check_importance_pooling ({what}): return a tensor of shape "
                                     f"{tuple(want.shape)} = [B, d], got {shape} (hint: sum over the T axis)")
            if not bool(torch.isfinite(got).all()):
                raise AssertionError(f"check_importance_pooling ({what}): NaN or inf in the result — a node "
                                     "with no neighbour has Σα = 0; clamp the denominator (it pools to zeros)")
            if not torch.allclose(got.float(), want, atol=1e-4):
                row = int((got.float() - want).abs().amax(1).argmax())
                if row == 5:
                    hint = "the node with no neighbour must pool to zeros"
                elif not bool(torch.allclose(got.float()[mask.all(1)], want[mask.all(1)], atol=1e-4)):
                    hint = "divide by the sum of the kept weights, Σα over the kept neighbours"
                else:
                    hint = "padded slots must not contribute: zero their weights with the mask first"
                raise AssertionError(f"check_importance_pooling ({what}): row {row} is "
                                     f"{[round(x, 3) for x in got[row].tolist()]}, expected "
                                     f"{[round(x, 3) for x in want[row].tolist()]} ({hint})")

    if _attempt("check_importance_pooling", run):
        print(f"check_importance_pooling: correct on {len(cases)} cases (padding and an isolated item included) ✓")


def check_shared_negative_loss(student: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float], torch.Tensor]
                               ) -> None:
    """Exercise (notebook 05): the max-margin loss with negatives shared by the whole batch.

    ``student(z_q, z_pos, z_neg, margin)`` gets ``z_q, z_pos [B, d]`` and ``z_neg [N, d]`` and must
    return the scalar mean over queries b and negatives n of max(0, z_q·z_n − z_q·z_i + Δ).
    """
    g = torch.Generator().manual_seed(0)

    def unit(*shape: int) -> torch.Tensor:
        z = torch.randn(*shape, generator=g)
        return z / z.norm(dim=-1, keepdim=True)

    cases = [(unit(4, 3), unit(4, 3), unit(7, 3), 0.1), (unit(32, 8), unit(32, 8), unit(50, 8), 0.5),
             (unit(1, 2), unit(1, 2), unit(1, 2), 0.0)]

    def run() -> None:
        for zq, zp, zn, margin in cases:
            got = student(zq.clone(), zp.clone(), zn.clone(), margin)
            want = max_margin_loss(zq, zp, zn, margin=margin).loss
            where = f"(B={zq.shape[0]}, N={zn.shape[0]}, Δ={margin})"
            if not isinstance(got, torch.Tensor) or got.numel() != 1:
                raise AssertionError(f"check_shared_negative_loss {where}: return a scalar tensor, got "
                                     f"{tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__}"
                                     " (hint: average over both the queries and the negatives)")
            if not torch.allclose(got.float().reshape(()), want, atol=1e-5):
                no_relu = (zq @ zn.T - (zq * zp).sum(1, keepdim=True) + margin).mean()
                hint = ("clip each hinge at zero before averaging: max(0, ·) is torch.relu or .clamp_min(0)"
                        if torch.allclose(got.float().reshape(()), no_relu, atol=1e-5) else
                        "scores are dot products: z_q @ z_neg.T gives [B, N]; the positive's score "
                        "(z_q * z_pos).sum(1) is subtracted from each row")
                raise AssertionError(f"check_shared_negative_loss {where}: got {float(got):.5f}, expected "
                                     f"{float(want):.5f} ({hint})")

    if _attempt("check_shared_negative_loss", run):
        print(f"check_shared_negative_loss: correct on {len(cases)} cases ✓")


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


def check_hard_negatives(student: Callable[..., torch.Tensor]) -> None:
    """Exercise (notebook 06): one query's hard-negative draw from its PPR rank band.

    ``student(ranked, query, positives, band, h, generator)`` gets the query's items best first
    (``ranked`` LongTensor, the query itself not ranked, −1 on unranked slots), the query id, a
    set of its known positives, ``band = (lo, hi)``, ``h`` and a ``torch.Generator``; it must return
    ``min(h, #candidates)`` **distinct** items from ``ranked[lo:hi]``, none of them −1, the query or
    a positive. Every draw is compared with the library's candidates (:func:`negatives.hard_negatives`).
    """
    from .data import synthetic_pins_boards
    from .negatives import hard_negatives
    from .walks import ppr_rank

    graph = synthetic_pins_boards(num_pins=300, num_boards=40, seed=0).graph()
    queries = torch.tensor([3, 7, 11, 40, 123])
    ranking = ppr_rank(graph, queries, k=120)
    ranked = ranking.ids.clone()
    ranked[0, 20] = int(queries[0])  # a ranking that names the query itself must not yield it
    ranking = type(ranking)(ranking.queries, ranked, ranking.scores, ranking.mask)
    positives = torch.stack([queries.repeat_interleave(3), ranking.ids[:, 25:28].reshape(-1)], 1)
    cases = [((20, 60), 6), ((20, 60), 50), ((100, 120), 4)]

    def run() -> None:
        for band, h in cases:
            lo, hi = band
            everything = hard_negatives(ranking, hi - lo, band, positives=positives, generator=0)
            for b, q in enumerate(queries.tolist()):
                allowed = set(everything.ids[b][everything.mask[b]].tolist())
                pos = set(positives[positives[:, 0] == q, 1].tolist()) | set(positives[positives[:, 1] == q, 0].tolist())
                for seed in range(2):
                    got = student(ranking.ids[b].clone(), q, set(pos), band, h, torch.Generator().manual_seed(seed))
                    where = f"(query {q}, band {band}, h={h})"
                    if not isinstance(got, torch.Tensor):
                        raise AssertionError(f"check_hard_negatives {where}: return a LongTensor of item ids")
                    items = got.reshape(-1).tolist()
                    if len(items) != min(h, len(allowed)):
                        raise AssertionError(f"check_hard_negatives {where}: {len(items)} items, expected "
                                             f"{min(h, len(allowed))} (h, or every candidate when there are fewer)")
                    if len(set(items)) != len(items):
                        raise AssertionError(f"check_hard_negatives {where}: an item drawn twice (hint: a random "
                                             "permutation of the candidates, then the first h)")
                    bad = sorted(set(items) - allowed)
                    if bad:
                        why = ("the query itself" if q in bad else "a known positive" if set(bad) & pos else
                               "−1 (an unranked slot)" if -1 in bad else "outside the band ranks[lo:hi]")
                        raise AssertionError(f"check_hard_negatives {where}: {bad[:5]} is not a candidate: {why}")

    if _attempt("check_hard_negatives", run):
        print(f"check_hard_negatives: correct on {len(cases) * len(queries) * 2} draws "
              "(distinct, from the band, no query, no positive) ✓")


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
