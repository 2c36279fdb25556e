"""PinSage: blocks-based forward equals a direct full-graph computation; configs; gradients; bad input."""

from __future__ import annotations

import pytest
import torch

from pinsage_edu.data import synthetic_pins_boards
from pinsage_edu.loss import max_margin_loss
from pinsage_edu.minibatch import NeighborhoodTable, sample_blocks
from pinsage_edu.model import PinSage, PinSageConfig


@pytest.fixture(scope="module")
def toy():
    ds = synthetic_pins_boards(num_pins=300, num_boards=60, seed=0)
    g = ds.graph()
    tab = NeighborhoodTable.build(g, 6, generator=0)
    x = torch.randn(g.num_items, 12, generator=torch.Generator().manual_seed(0))
    return g, tab, x


def full_graph_embeddings(model: PinSage, x: torch.Tensor, tab: NeighborhoodTable) -> torch.Tensor:
    """Every item, layer by layer, with Algorithm 1 called literally on gathered [N, T, d] neighbours."""
    nb = tab.table
    h = h0 = model.input_embeddings(x)
    for layer in model.layers:
        h = layer(h, h[nb.ids.clamp_min(0)], nb.weights, nb.mask)
    return model.head(h, h0 if model.config.input_skip else None)


@pytest.mark.parametrize("pooling", ["importance", "mean", "max"])
@pytest.mark.parametrize("input_dim", [None, 16])
def test_forward_on_blocks_equals_the_full_graph_computation(toy, pooling, input_dim):
    g, tab, x = toy
    torch.manual_seed(0)
    model = PinSage(PinSageConfig(in_dim=12, hidden_dim=20, embed_dim=8, num_layers=2, num_neighbors=6,
                                  pooling=pooling, input_dim=input_dim)).eval()
    seeds = torch.tensor([5, 17, 5, 230, 0])
    z = model(sample_blocks(seeds, 2, tab), x)
    full = full_graph_embeddings(model, x, tab)
    assert z.shape == (5, 8)
    assert torch.allclose(z, full[seeds], atol=1e-5)
    norms = z.norm(dim=1)  # unit vectors (or exactly 0 when the head's ReLU zeroes everything, as at random init)
    assert torch.all(((norms - 1).abs() < 1e-5) | (norms == 0))


@pytest.mark.parametrize("input_dim", [None, 16])
def test_the_input_skip_adds_each_item_its_own_h0(toy, input_dim):
    from pinsage_edu.inference import embed_all
    g, tab, x = toy
    torch.manual_seed(0)
    model = PinSage(PinSageConfig(in_dim=12, hidden_dim=20, embed_dim=8, num_neighbors=6, input_dim=input_dim,
                                  input_skip=True)).eval()
    assert model.inductive
    seeds = torch.tensor([5, 17, 5, 230, 0])
    z = model(sample_blocks(seeds, 2, tab), x)
    full = full_graph_embeddings(model, x, tab)
    assert torch.allclose(z, full[seeds], atol=1e-5)
    assert torch.allclose(embed_all(model, tab, x, chunk_size=64), full, atol=1e-5)
    # by hand: the head without the skip, plus S·h⁽⁰⁾, normalised
    h0 = model.input_embeddings(x)
    nb = tab.table
    h = h0
    for layer in model.layers:
        h = layer(h, h[nb.ids.clamp_min(0)], nb.weights, nb.mask)
    by_hand = model.G2(torch.relu(model.G1(h))) + h0 @ model.skip.weight.T
    assert torch.allclose(full, by_hand / by_hand.norm(dim=1, keepdim=True), atol=1e-5)
    with pytest.raises(ValueError, match="input skip"):
        model.head(h)
    with pytest.raises(ValueError, match="input_skip must be True or False"):
        PinSageConfig(in_dim=12, input_skip=1)


def test_three_layers_too(toy):
    g, tab, x = toy
    torch.manual_seed(1)
    model = PinSage(PinSageConfig(in_dim=12, hidden_dim=10, embed_dim=6, num_layers=3, num_neighbors=6)).eval()
    seeds = torch.arange(0, 300, 7)
    assert torch.allclose(model(sample_blocks(seeds, 3, tab), x), full_graph_embeddings(model, x, tab)[seeds],
                          atol=1e-5)


def test_gradients_reach_every_parameter(toy):
    g, tab, x = toy
    torch.manual_seed(0)
    model = PinSage(PinSageConfig(in_dim=12, hidden_dim=16, embed_dim=8, input_dim=10))
    seeds = torch.arange(40)
    z = model(sample_blocks(seeds, 2, tab), x)
    res = max_margin_loss(z[:10], z[10:20], z[20:], margin=0.5)
    res.loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient reaches {name}"


def test_layers_have_separate_parameters():
    model = PinSage(PinSageConfig.classroom(12))
    a, b = model.layers
    assert a.Q.weight.data_ptr() != b.Q.weight.data_ptr()
    assert len(list(model.parameters())) == 2 * 4 + 3  # Q, q, W, w per layer; G₁, g, G₂


def test_presets():
    p = PinSageConfig.paper(4096 + 256 + 1)
    assert (p.num_layers, p.num_neighbors, p.hidden_dim, p.embed_dim, p.pooling) == (2, 50, 2048, 1024, "importance")
    c = PinSageConfig.classroom(86, pooling="mean")
    assert (c.num_layers, c.embed_dim, c.pooling) == (2, 64, "mean")
    assert PinSageConfig(**c.to_dict()) == c


def test_bad_input_is_named(toy):
    g, tab, x = toy
    model = PinSage(PinSageConfig(in_dim=12, hidden_dim=8, embed_dim=4))
    blocks = sample_blocks([1, 2], 2, tab)
    with pytest.raises(ValueError, match="13 columns.*in_dim = 12"):
        model(blocks, torch.zeros(300, 13))
    bad = x.clone()
    bad[int(blocks.input_ids[1])] = float("nan")
    with pytest.raises(ValueError, match=f"item {int(blocks.input_ids[1])} hold NaN"):
        model(blocks, bad)
    with pytest.raises(ValueError, match="blocks are on meta"):
        model(blocks.to("meta"), x)
    with pytest.raises(ValueError, match="K = 1 layers but the model has K = 2"):
        model(sample_blocks([1], 1, tab), x)
    with pytest.raises(ValueError, match="features hold 10 items"):
        model(blocks, x[:10])
    with pytest.raises(ValueError, match="pooling"):
        PinSageConfig(in_dim=3, pooling="sum")
    with pytest.raises(ValueError, match="num_layers"):
        PinSageConfig(in_dim=3, num_layers=0)


def test_an_empty_minibatch_gives_no_embeddings(toy):
    g, tab, x = toy
    model = PinSage(PinSageConfig(in_dim=12, hidden_dim=8, embed_dim=4))
    assert model(sample_blocks([], 2, tab), x).shape == (0, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_forward_and_gradients_match_the_cpu(toy):
    g, tab, x = toy
    torch.manual_seed(0)
    model = PinSage(PinSageConfig(in_dim=12, hidden_dim=16, embed_dim=8))
    blocks = sample_blocks(torch.arange(0, 300, 5), 2, tab)
    z_cpu = model(blocks, x)
    z_cpu.sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    model.zero_grad()
    gpu = model.to("cuda")
    z_gpu = gpu(blocks.to("cuda"), x.to("cuda"))
    z_gpu.sum().backward()
    assert torch.allclose(z_gpu.cpu(), z_cpu, atol=1e-5)
    for n, p in gpu.named_parameters():
        assert torch.allclose(p.grad.cpu(), grads[n], atol=1e-4), n
    # sampling on the device the neighbourhoods live on, and a model that refuses CPU blocks
    assert sample_blocks(torch.arange(10), 2, tab.to("cuda")).device.type == "cuda"
    with pytest.raises(ValueError, match="blocks are on cpu"):
        gpu(blocks, x.to("cuda"))
