"""Notebook 05's margin explorer: the pure render function and its ipywidgets wiring."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pinsage_edu import widgets  # noqa: E402
from pinsage_edu.loss import max_margin_loss  # noqa: E402


def test_render_margin_draws_the_hinge_with_its_kink_at_minus_the_margin():
    fig, caption = widgets.render_margin(0.2)
    assert isinstance(fig, Figure) and caption.startswith("Δ = 0.20: a negative n still teaches")
    ax = fig.axes[0]
    x, y = ax.lines[0].get_data()
    assert torch.allclose(torch.as_tensor(y), torch.as_tensor(x + 0.2).clamp_min(0), atol=1e-12)
    assert float(ax.lines[1].get_xdata()[0]) == pytest.approx(-0.2)  # the dashed line at x = −Δ
    plt.close(fig)


def test_render_margin_reports_the_active_share_and_mean_hinge_of_the_loss():
    g = torch.Generator().manual_seed(0)
    z = torch.nn.functional.normalize(torch.randn(40, 8, generator=g), dim=1)
    z_q, z_pos, z_neg = z[:10], z[10:20], z[20:]
    diff = z_q @ z_neg.T - (z_q * z_pos).sum(1, keepdim=True)  # [B, N]
    res = max_margin_loss(z_q, z_pos, z_neg, margin=0.1)
    fig, caption = widgets.render_margin(0.1, diff)
    assert f"{res.active:.1%} of 200 (query, negative) hinges active" in caption
    assert f"mean hinge {float(res.loss):.4f}" in caption
    assert len(fig.axes) == 2 and len(fig.axes[1].patches) > 0  # the histogram under the curve
    plt.close(fig)


def test_render_margin_rejects_a_negative_margin_and_empty_differences():
    with pytest.raises(ValueError, match="margin must be a number >= 0"):
        widgets.render_margin(-0.1)
    with pytest.raises(ValueError, match="no finite value"):
        widgets.render_margin(0.1, torch.tensor([float("nan")]))


def test_margin_explorer_builds_and_redraws_when_the_slider_moves(capsys):
    box = widgets.margin_explorer(torch.tensor([-0.9, -0.55, -0.35, -0.25, -0.05, 0.2, 0.4, -0.45]))
    slider = box.children[0]
    assert slider.value == pytest.approx(0.1)
    first = capsys.readouterr().out
    assert "Δ = 0.10: 37.5% of 8 (query, negative) hinges active" in first
    slider.value = 0.5
    assert "Δ = 0.50: 75.0% of 8" in capsys.readouterr().out
    plt.close("all")
