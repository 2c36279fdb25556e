# %% [markdown]
# Solutions to the exercises of `notebooks/02_importance_neighborhoods.ipynb` (the instructor edition:
# `python3 tasks.py instructor` puts each cell below in place of its exercise stub).


# %%
def my_top_t(items: torch.Tensor, counts: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    # shuffle (with a generator of our own, leaving the notebook's RNG alone), so that a stable sort
    # by count leaves tied items in random order
    shuffle = torch.randperm(items.numel(), generator=torch.Generator().manual_seed(0))
    items, counts = items[shuffle], counts[shuffle]
    keep = torch.sort(-counts, stable=True).indices[:T]
    ids = torch.full((T,), -1, dtype=torch.long)
    weights = torch.zeros(T)
    ids[: keep.numel()] = items[keep]
    weights[: keep.numel()] = counts[keep].float() / counts[keep].sum().clamp_min(1)
    return ids, weights
