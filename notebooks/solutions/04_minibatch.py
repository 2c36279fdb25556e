# %% [markdown]
# Solutions to the exercises of `notebooks/04_minibatch.ipynb` (the instructor edition:
# `python3 tasks.py instructor` puts each cell below in place of its exercise stub).


# %%
def my_reindex(src_ids: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    sorted_ids, perm = torch.sort(src_ids)
    rows = perm[torch.searchsorted(sorted_ids, ids.clamp_min(0))]
    return torch.where(mask, rows, torch.full_like(ids, -1))


# %%
def my_sample_blocks(seeds: torch.Tensor, num_layers: int, table: NeighborhoodTable):
    from pinsage_edu.minibatch import Block, Blocks  # the containers to fill (imported here: self-contained)
    dst, seed_index = torch.unique(seeds, return_inverse=True)  # S(K): each item once
    layers = []
    for _ in range(num_layers):
        nb = table(dst)  # ids, weights, mask [len(dst), T]
        reached = torch.unique(nb.ids[nb.mask])
        src = torch.cat([dst, reached[~torch.isin(reached, dst)]])  # S(k-1): the destinations first
        sorted_src, perm = torch.sort(src)
        rows = perm[torch.searchsorted(sorted_src, nb.ids.clamp_min(0))]
        neighbors = torch.where(nb.mask, rows, torch.full_like(rows, -1))
        layers.append(Block(src_ids=src, neighbors=neighbors, weights=nb.weights, mask=nb.mask))
        dst = src
    return Blocks(tuple(reversed(layers)), seeds, seed_index)
