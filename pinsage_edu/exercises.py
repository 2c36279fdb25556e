"""Checkers for the notebooks' exercises.

Each ``check_*`` runs the student's function on small seeded cases, compares it with the library
and prints a one-line verdict. A wrong answer raises ``AssertionError`` with a hint; an unattempted
one (the stub still raises ``NotImplementedError``) prints "not attempted" and returns, so a student
copy still runs top to bottom. Checkers return ``None`` so a notebook cell shows only the verdict.
"""

from __future__ import annotations

from typing import Callable

import torch

from .graph import _indptr
from .walks import VisitCounts, top_neighbors

__all__ = ["check_indptr", "check_top_t"]


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
            want = _indptr(rows, n)
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
    items, most visited first (equal counts: smaller id first), weights = counts / (sum of the *kept*
    counts), padded with id -1 and weight 0 when fewer than T items were visited.
    """
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(500, generator=g)[:200]
    cases = [
        (torch.tensor([1, 3, 4, 6]), torch.tensor([5, 9, 5, 1]), 3),  # a tie at the cut: 1 before 4
        (torch.tensor([5, 2]), torch.tensor([2, 2]), 4),  # fewer visited items than T: pad
        (torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long), 2),  # an isolated item
        (perm, torch.randint(1, 30, (200,), generator=g), 50),
    ]

    def expected(items: torch.Tensor, counts: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
        order = torch.argsort(items)
        v = VisitCounts(seeds=torch.zeros(1, dtype=torch.long), rows=torch.zeros(items.numel(), dtype=torch.long),
                        items=items[order], counts=counts[order], num_items=1000, num_walks=1)
        n = top_neighbors(v, T)
        return n.ids[0], n.weights[0]

    def run() -> None:
        for items, counts, T in cases:
            got = student(items.clone(), counts.clone(), T)
            want_ids, want_w = expected(items, counts, T)
            where = f"(items={items.tolist()[:6]}{'…' if items.numel() > 6 else ''}, T={T})"
            if not (isinstance(got, tuple) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got)):
                raise AssertionError("check_top_t: return a pair of tensors (ids, weights)")
            ids, w = got
            if ids.shape != (T,) or w.shape != (T,):
                raise AssertionError(
                    f"check_top_t {where}: ids and weights need exactly T = {T} entries, got shapes "
                    f"{tuple(ids.shape)} and {tuple(w.shape)} (hint: pad with id -1 and weight 0)")
            if not torch.equal(ids.long(), want_ids):
                if set(ids.long().tolist()) == set(want_ids.tolist()):
                    hint = "right items, wrong order: most visited first, equal counts smaller id first"
                else:
                    hint = "keep the T largest counts (torch.sort / torch.topk), and never invent neighbours"
                raise AssertionError(f"check_top_t {where}: ids {ids.tolist()[:8]}…, expected "
                                     f"{want_ids.tolist()[:8]}… ({hint})")
            if not torch.allclose(w.float(), want_w, atol=1e-5):
                kept = w[ids >= 0].float().sum()
                hint = ("the kept weights must sum to 1: divide by the sum of the kept counts, not of all counts"
                        if abs(float(kept) - 1.0) > 1e-4 else "weights must follow the counts of the kept items")
                raise AssertionError(f"check_top_t {where}: weights {[round(x, 3) for x in w.tolist()[:6]]}…, "
                                     f"expected {[round(x, 3) for x in want_w.tolist()[:6]]}… ({hint})")

    if _attempt("check_top_t", run):
        print(f"check_top_t: correct on {len(cases)} cases (a tie at the cut, padding and an isolated item included) ✓")
