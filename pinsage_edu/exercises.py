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

__all__ = ["check_indptr"]


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
