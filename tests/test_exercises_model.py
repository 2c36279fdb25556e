"""The checker of notebook 04's re-indexing exercise (the others: test_viz_exercises.py, test_exercises_pipeline.py)."""

from __future__ import annotations

import pytest
import torch

from pinsage_edu import exercises


@pytest.mark.parametrize("check", [exercises.check_reindex])
def test_unattempted_exercises_do_not_fail(check, capsys):
    def stub(*args):
        raise NotImplementedError

    check(stub)
    assert "not attempted" in capsys.readouterr().out


def good_reindex(src_ids, ids, mask):
    sorted_ids, perm = torch.sort(src_ids)
    rows = perm[torch.searchsorted(sorted_ids, ids.clamp_min(0))]
    return torch.where(mask, rows, torch.full_like(ids, -1))


def test_check_reindex_accepts_a_right_answer(capsys):
    exercises.check_reindex(good_reindex)
    assert "check_reindex: correct on 5 blocks" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda s, ids, mask: torch.searchsorted(torch.sort(s).values, ids.clamp_min(0)), "padded|permutation"),
    (lambda s, ids, mask: torch.where(mask, torch.searchsorted(torch.sort(s).values, ids.clamp_min(0)), -1),
     "permutation"),
    (lambda s, ids, mask: ids[:, :1], "shape"),
])
def test_check_reindex_explains_a_wrong_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_reindex(wrong)
