"""The max-margin loss and the cross-entropy ablation against hand computations."""

from __future__ import annotations

import math

import pytest
import torch

from pinsage_edu.loss import cross_entropy_loss, max_margin_loss

Z_Q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
Z_POS = torch.tensor([[0.8, 0.6], [0.6, 0.8]])  # both positives score 0.8
Z_NEG = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
# negative scores: query 0 → (1, 0, 0.6), query 1 → (0, 1, 0.8)
# hinges with Δ = 0.1, max(0, s_n − 0.8 + 0.1): query 0 → (0.3, 0, 0), query 1 → (0, 0.3, 0.1)


def test_shared_negatives_by_hand():
    r = max_margin_loss(Z_Q, Z_POS, Z_NEG, margin=0.1)
    assert float(r.loss) == pytest.approx((0.3 / 3 + 0.4 / 3) / 2)
    assert r.active == pytest.approx(3 / 6)
    assert r.pos_score == pytest.approx(0.8)
    assert r.neg_score == pytest.approx(3.4 / 6)
    assert math.isnan(r.hard_score)


def test_hard_negatives_add_their_own_mean_by_hand():
    hard = torch.tensor([[[0.8, 0.6]], [[1.0, 0.0]]])  # scores 0.8 and 0 → hinges 0.1 and 0
    r = max_margin_loss(Z_Q, Z_POS, Z_NEG, hard, margin=0.1)
    assert float(r.loss) == pytest.approx(((0.1 + 0.1) + (0.4 / 3 + 0.0)) / 2)
    assert r.hard_score == pytest.approx(0.4)
    assert r.active_hard == pytest.approx(0.5)


def test_masks_remove_pairs_from_the_means():
    smask = torch.tensor([[True, True, True], [True, True, False]])
    r = max_margin_loss(Z_Q, Z_POS, Z_NEG, margin=0.1, shared_mask=smask)
    assert float(r.loss) == pytest.approx((0.1 + 0.3 / 2) / 2)
    hard = torch.tensor([[[0.8, 0.6], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])
    hmask = torch.tensor([[True, False], [True, False]])
    r = max_margin_loss(Z_Q, Z_POS, Z_NEG, hard, margin=0.1, hard_mask=hmask)
    assert float(r.loss) == pytest.approx(((0.1 + 0.1) + (0.4 / 3 + 0.0)) / 2)


def test_margin_zero_and_a_large_margin():
    assert float(max_margin_loss(Z_Q, Z_POS, Z_NEG, margin=0.0).loss) == pytest.approx((0.2 / 3 + 0.2 / 3) / 2)
    big = max_margin_loss(Z_Q, Z_POS, Z_NEG, margin=2.0)
    assert big.active == 1.0


def test_gradients_push_positives_up_and_negatives_down():
    zq = Z_Q.clone().requires_grad_()
    zp = Z_POS.clone().requires_grad_()
    zn = Z_NEG.clone().requires_grad_()
    max_margin_loss(zq, zp, zn, margin=0.1).loss.backward()
    assert (zp.grad * zq.detach()).sum() < 0  # descending the loss raises z_q·z_i
    assert zn.grad[0, 0] > 0  # the active negative of query 0 is pushed away from it


def test_cross_entropy_by_hand():
    r = cross_entropy_loss(Z_Q, Z_POS, Z_NEG, temperature=0.5)
    want = []
    for logits in ([0.8, 1.0, 0.0, 0.6], [0.8, 0.0, 1.0, 0.8]):
        t = torch.tensor(logits) / 0.5
        want.append(-float(torch.log_softmax(t, 0)[0]))
    assert float(r.loss) == pytest.approx(sum(want) / 2, rel=1e-5)
    masked = cross_entropy_loss(Z_Q, Z_POS, Z_NEG, temperature=0.5,
                                shared_mask=torch.tensor([[True, False, False], [True, True, True]]))
    t0 = torch.tensor([0.8, 1.0]) / 0.5
    assert float(masked.loss) == pytest.approx((-float(torch.log_softmax(t0, 0)[0]) + want[1]) / 2, rel=1e-5)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="margin"):
        max_margin_loss(Z_Q, Z_POS, Z_NEG, margin=-0.1)
    with pytest.raises(ValueError, match="z_pos"):
        max_margin_loss(Z_Q, Z_POS[:1], Z_NEG)
    with pytest.raises(ValueError, match="z_neg_shared"):
        max_margin_loss(Z_Q, Z_POS, torch.zeros(3, 5))
    with pytest.raises(ValueError, match="no negatives"):
        max_margin_loss(Z_Q, Z_POS, torch.zeros(0, 2))
    with pytest.raises(ValueError, match="z_neg_hard"):
        max_margin_loss(Z_Q, Z_POS, Z_NEG, torch.zeros(3, 1, 2))
    with pytest.raises(ValueError, match="shared_mask"):
        max_margin_loss(Z_Q, Z_POS, Z_NEG, shared_mask=torch.ones(2, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="temperature"):
        cross_entropy_loss(Z_Q, Z_POS, Z_NEG, temperature=0)
