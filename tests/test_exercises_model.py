"""Checkers for the exercises of notebooks 03 (importance pooling) and 05 (the loss with shared negatives)."""

from __future__ import annotations

import pytest
import torch

from pinsage_edu import exercises


def good_pooling(m, w, mask):
    w = torch.where(mask, w, torch.zeros_like(w))
    return (w.unsqueeze(-1) * m).sum(1) / w.sum(1, keepdim=True).clamp_min(1e-12)


def good_loss(zq, zp, zn, margin):
    return torch.relu(zq @ zn.T - (zq * zp).sum(1, keepdim=True) + margin).mean()


def test_check_importance_pooling_accepts_a_right_answer(capsys):
    exercises.check_importance_pooling(good_pooling)
    assert "correct on 3 cases" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda m, w, mask: (w.unsqueeze(-1) * m).sum(1), "padded slots|sum of the kept"),
    (lambda m, w, mask: (torch.where(mask, w, 0.0).unsqueeze(-1) * m).sum(1), "sum of the kept weights"),
    (lambda m, w, mask: (torch.where(mask, w, 0.0).unsqueeze(-1) * m).sum(1) / torch.where(mask, w, 0.0).sum(1, keepdim=True),
     "no neighbour"),
    (lambda m, w, mask: m.mean(1, keepdim=True), "shape"),
])
def test_check_importance_pooling_explains_a_wrong_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_importance_pooling(wrong)


def test_check_shared_negative_loss_accepts_a_right_answer(capsys):
    exercises.check_shared_negative_loss(good_loss)
    assert "correct on 3 cases" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda zq, zp, zn, m: (zq @ zn.T - (zq * zp).sum(1, keepdim=True) + m).mean(), "clip each hinge"),
    (lambda zq, zp, zn, m: torch.relu(zq @ zn.T - (zq * zp).sum(1, keepdim=True) + m).mean(1), "scalar"),
    (lambda zq, zp, zn, m: torch.relu(zq @ zn.T - (zq * zp).sum(1, keepdim=True) - m).mean(), "dot products"),
])
def test_check_shared_negative_loss_explains_a_wrong_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_shared_negative_loss(wrong)


@pytest.mark.parametrize("check", [exercises.check_importance_pooling, exercises.check_shared_negative_loss,
                                   exercises.check_reindex, exercises.check_hard_negatives])
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


def good_hard(ranked, query, positives, band, h, generator):
    window = ranked[band[0]:band[1]]
    keep = (window >= 0) & (window != query) & ~torch.isin(window, torch.tensor(sorted(positives), dtype=torch.long))
    cand = window[keep]
    return cand[torch.randperm(cand.numel(), generator=generator)[:h]]


def test_check_hard_negatives_accepts_a_right_answer(capsys):
    exercises.check_hard_negatives(good_hard)
    assert "check_hard_negatives: correct on 30 draws" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, hint", [
    (lambda r, q, pos, band, h, g: r[band[0]:band[0] + h], "positive|query itself"),
    (lambda r, q, pos, band, h, g: good_hard(r, q, pos, (band[0] - 10, band[1]), h, g), "outside the band"),
    (lambda r, q, pos, band, h, g: good_hard(r, q, set(), band, h, g), "positive|items, expected"),
    (lambda r, q, pos, band, h, g: torch.cat([good_hard(r, q, pos, band, h, g)[:1]] * 2), "drawn twice|items, expected"),
])
def test_check_hard_negatives_explains_a_wrong_answer(wrong, hint):
    with pytest.raises(AssertionError, match=hint):
        exercises.check_hard_negatives(wrong)
