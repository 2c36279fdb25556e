"""Algorithm 1 (CONVOLVE) against a hand computation, the three poolings, masks and gradients."""

from __future__ import annotations

import math

import pytest
import torch

from pinsage_edu.convolve import (Convolve, importance_pooling, l2_normalize, max_pooling, mean_pooling, pool,
                                  pool_indexed)


def hand_layer(pooling: str) -> Convolve:
    """in = hidden = out = 2; Q = I, q = (0, −0.5); W = [I | I], w = 0 — small enough to follow by hand."""
    layer = Convolve(2, 2, 2, pooling=pooling)
    with torch.no_grad():
        layer.Q.weight.copy_(torch.eye(2))
        layer.Q.bias.copy_(torch.tensor([0.0, -0.5]))
        layer.W.weight.copy_(torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]))
        layer.W.bias.zero_()
    return layer


# node u = (1, 0) with neighbours v1 = (0, 2), v2 = (1, 1), α = (0.75, 0.25), and a padded third slot
# holding garbage. Line 1: ReLU(Q·v + q) = (0, 1.5) and (1, 0.5).
Z_U = torch.tensor([[1.0, 0.0]])
Z_N = torch.tensor([[[0.0, 2.0], [1.0, 1.0], [100.0, -100.0]]])
ALPHA = torch.tensor([[0.75, 0.25, 0.0]])
MASK = torch.tensor([[True, True, False]])
# n_u: importance 0.75·(0, 1.5) + 0.25·(1, 0.5) = (0.25, 1.25); mean (0.5, 1.0); max (1, 1.5).
# Line 2: ReLU(z_u + n_u) = (1.25, 1.25), (1.5, 1.0), (2.0, 1.5). Line 3 normalises.
EXPECTED = {
    "importance": [1 / math.sqrt(2), 1 / math.sqrt(2)],
    "mean": [1.5 / math.sqrt(3.25), 1.0 / math.sqrt(3.25)],
    "max": [0.8, 0.6],
}


@pytest.mark.parametrize("pooling", ["importance", "mean", "max"])
def test_convolve_matches_the_hand_computation(pooling):
    out = hand_layer(pooling)(Z_U, Z_N, ALPHA, MASK)
    assert torch.allclose(out, torch.tensor([EXPECTED[pooling]]), atol=1e-6)


@pytest.mark.parametrize("pooling", ["importance", "mean", "max"])
def test_padded_neighbours_never_contribute(pooling):
    layer = hand_layer(pooling)
    a = layer(Z_U, Z_N, ALPHA, MASK)
    other = Z_N.clone()
    other[0, 2] = torch.tensor([-7.0, 3e4])
    b = layer(Z_U, other, torch.tensor([[0.75, 0.25, 0.9]]), MASK)  # even a weight on the pad is ignored
    assert torch.equal(a, b)


def test_the_pooled_messages_by_hand():
    m = torch.tensor([[[0.0, 1.5], [1.0, 0.5], [9.0, 9.0]]])
    assert torch.allclose(importance_pooling(m, ALPHA, MASK), torch.tensor([[0.25, 1.25]]))
    assert torch.allclose(mean_pooling(m, MASK), torch.tensor([[0.5, 1.0]]))
    assert torch.allclose(max_pooling(m, MASK), torch.tensor([[1.0, 1.5]]))
    assert torch.allclose(pool("importance", m, ALPHA, MASK), importance_pooling(m, ALPHA, MASK))


def test_importance_pooling_is_a_weighted_mean_for_unnormalised_weights():
    m = torch.randn(4, 5, 3, generator=torch.Generator().manual_seed(0))
    w = torch.rand(4, 5, generator=torch.Generator().manual_seed(1))
    mask = torch.ones(4, 5, dtype=torch.bool)
    assert torch.allclose(importance_pooling(m, w, mask), importance_pooling(m, 3 * w, mask), atol=1e-6)
    assert torch.allclose(importance_pooling(m, torch.ones(4, 5), mask), mean_pooling(m, mask), atol=1e-6)


@pytest.mark.parametrize("pooling", ["importance", "mean", "max"])
def test_a_node_without_neighbours_is_embedded_from_itself(pooling):
    layer = hand_layer(pooling)
    out = layer(Z_U, Z_N, torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.bool))
    assert torch.allclose(out, torch.tensor([[1.0, 0.0]]))  # n_u = 0, so ReLU(W·(z_u, 0)) = (1, 0)
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters() if p.grad is not None)


@pytest.mark.parametrize("pooling", ["importance", "mean", "max"])
def test_indexed_forward_equals_the_literal_one(pooling):
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    layer = Convolve(6, 8, 5, pooling=pooling)
    z_src = torch.randn(10, 6, generator=g)
    nbr = torch.randint(0, 10, (4, 3), generator=g)
    mask = torch.rand(4, 3, generator=g) > 0.3
    nbr = torch.where(mask, nbr, torch.full_like(nbr, -1))
    w = torch.rand(4, 3, generator=g) * mask
    literal = layer(z_src[:4], z_src[nbr.clamp_min(0)], w, mask)
    assert torch.allclose(layer.forward_indexed(z_src, nbr, w, mask), literal, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("pooling", ["importance", "mean", "max"])
def test_pool_indexed_equals_gather_then_pool_with_its_gradient(pooling, dtype):
    """The CPU's sparse–dense product (mean, importance) gives the gathered pooling's values and gradients:
    padding ignored, a node without neighbours pooled to 0, unnormalised weights normalised."""
    g = torch.Generator().manual_seed(1)
    messages = torch.randn(30, 7, generator=g).to(dtype).requires_grad_()
    nbr = torch.randint(0, 30, (12, 5), generator=g)
    mask = torch.rand(12, 5, generator=g) > 0.4
    mask[2] = False  # no neighbour at all
    nbr = torch.where(mask, nbr, torch.full_like(nbr, -1))
    w = 3.0 * torch.rand(12, 5, generator=g) * mask
    want = pool(pooling, messages[nbr.clamp_min(0)], w, mask)
    (grad_want,) = torch.autograd.grad(want.float().square().sum(), messages)
    got = pool_indexed(pooling, messages, nbr, w, mask)
    (grad_got,) = torch.autograd.grad(got.float().square().sum(), messages)
    tol = 5e-2 if dtype == torch.bfloat16 else 1e-6  # bf16 falls back to the gather; sums rounded in another order
    assert got.shape == (12, 7) and got.dtype == dtype
    assert torch.allclose(got.float(), want.float(), atol=tol) and torch.allclose(grad_got.float(), grad_want.float(), atol=tol)
    assert torch.equal(got[2].float(), torch.zeros(7))


def test_pool_indexed_names_wrong_shapes():
    with pytest.raises(ValueError, match=r"neighbors \[B, T\]"):
        pool_indexed("mean", torch.zeros(4, 3), torch.zeros(4, dtype=torch.long), torch.zeros(4), torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask must be"):
        pool_indexed("mean", torch.zeros(4, 3), torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool_indexed("sum", torch.zeros(4, 3), torch.zeros(2, 2, dtype=torch.long), torch.zeros(2, 2), torch.ones(2, 2, dtype=torch.bool))


def test_outputs_are_unit_vectors_and_the_zero_vector_stays_finite():
    layer = Convolve(4, 8, 6)
    out = layer(torch.randn(5, 4), torch.randn(5, 2, 4), torch.full((5, 2), 0.5), torch.ones(5, 2, dtype=torch.bool))
    norms = out.norm(dim=1)
    assert torch.all(((norms - 1).abs() < 1e-5) | (norms < 1e-6))  # unit length (or all-zero after ReLU)
    assert torch.equal(l2_normalize(torch.zeros(2, 3)), torch.zeros(2, 3))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    layer = Convolve(4, 8, 6, pooling="importance")
    out = layer(torch.randn(5, 4), torch.randn(5, 3, 4), torch.full((5, 3), 1 / 3), torch.ones(5, 3, dtype=torch.bool))
    (out * torch.randn(5, 6)).sum().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="pooling"):
        Convolve(2, 2, 2, pooling="sum")
    with pytest.raises(ValueError, match="in_dim"):
        Convolve(0, 2, 2)
    layer = Convolve(2, 2, 2)
    with pytest.raises(ValueError, match="z_self"):
        layer(torch.zeros(1, 3), Z_N, ALPHA, MASK)
    with pytest.raises(ValueError, match="z_neighbors"):
        layer(Z_U, torch.zeros(1, 3, 5), ALPHA, MASK)
    with pytest.raises(ValueError, match="mask"):
        layer(Z_U, Z_N, ALPHA, MASK.float())
    with pytest.raises(ValueError, match="weights"):
        layer(Z_U, Z_N, ALPHA[:, :2], MASK)
