# %% [markdown]
# Solutions to the exercises of `notebooks/03_convolve.ipynb` (the instructor edition:
# `python3 tasks.py instructor` puts each cell below in place of its exercise stub).


# %%
def my_pool(kind: str, messages: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    kept = mask.unsqueeze(-1)  # [B, T, 1]
    m = torch.where(kept, messages, torch.zeros_like(messages))  # garbage in padded slots → 0
    if kind == "importance":
        a = torch.where(mask, weights, torch.zeros_like(weights))
        return (a.unsqueeze(-1) * m).sum(1) / a.sum(1, keepdim=True).clamp_min(1e-12)
    if kind == "mean":
        return m.sum(1) / mask.sum(1, keepdim=True).clamp_min(1)
    if kind == "max":
        return m.amax(1)  # messages are ≥ 0, so a padded 0 never wins; no neighbour → 0
    raise ValueError(f"unknown pooling {kind!r}")


# %%
def my_convolve(z_self: torch.Tensor, z_neighbors: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor,
                Q: torch.Tensor, q: torch.Tensor, W: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    messages = torch.relu(z_neighbors @ Q.T + q)  # line 1: m_v = ReLU(Q·z_v + q)   [B, T, m]
    alpha = torch.where(mask, weights, torch.zeros_like(weights))  # padded slots weigh nothing
    alpha = alpha / alpha.sum(1, keepdim=True).clamp_min(1e-12)  # Σα = 1 over the kept neighbours
    n_u = (alpha.unsqueeze(-1) * messages).sum(1)  # line 1: γ, importance pooling   [B, m]
    h = torch.relu(torch.cat([z_self, n_u], dim=1) @ W.T + w)  # line 2   [B, d]
    return h / h.norm(dim=1, keepdim=True).clamp_min(1e-12)  # line 3
