# %% [markdown]
# Solutions to the exercises of `notebooks/05_margin_loss.ipynb` (the instructor edition:
# `python3 tasks.py instructor` puts each cell below in place of its exercise stub).


# %%
def my_max_margin_loss(z_q: torch.Tensor, z_pos: torch.Tensor, z_neg: torch.Tensor, queries: torch.Tensor,
                       positives: torch.Tensor, negatives: torch.Tensor, margin: float) -> torch.Tensor:
    pos_score = (z_q * z_pos).sum(1, keepdim=True)  # z_q·z_i   [B, 1]
    neg_score = z_q @ z_neg.T  # z_q·z_n   [B, N]
    hinge = torch.relu(neg_score - pos_score + margin)
    keep = (negatives[None, :] != queries[:, None]) & (negatives[None, :] != positives[:, None])
    per_query = (hinge * keep).sum(1) / keep.sum(1).clamp_min(1)  # mean over each query's kept negatives
    return per_query.mean()
