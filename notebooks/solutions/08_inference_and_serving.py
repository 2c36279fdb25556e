# %% [markdown]
# Solutions to the exercises of `notebooks/08_inference_and_serving.ipynb` (the instructor edition:
# `python3 tasks.py instructor` puts each cell below in place of its exercise stub).


# %%
def my_embed_all(model: PinSage, table: NeighborhoodTable, features: torch.Tensor, chunk_size: int) -> torch.Tensor:
    N = features.shape[0]
    chunks = [(a, min(a + chunk_size, N)) for a in range(0, N, chunk_size)]
    with torch.no_grad():
        h = torch.cat([model.input_embeddings(features[a:b]) for a, b in chunks])  # h⁽⁰⁾
        for layer in model.layers:
            messages = torch.cat([layer.neighbor_messages(h[a:b]) for a, b in chunks])  # map: once per item
            new = []
            for a, b in chunks:  # join and reduce, chunk by chunk
                nb = table(torch.arange(a, b))
                gathered = messages[nb.ids.clamp_min(0)]  # [b - a, T, m]
                new.append(layer.combine(h[a:b], gathered, nb.weights, nb.mask))
            h = torch.cat(new)  # h⁽ᵏ⁾ of every item
        return torch.cat([model.head(h[a:b]) for a, b in chunks])


# %%
def my_lsh_codes(vectors: torch.Tensor, planes: torch.Tensor) -> torch.Tensor:
    bits = (vectors @ planes > 0).long()  # [N, b]: which side of each plane
    return (bits * (2 ** torch.arange(planes.shape[1]))).sum(1)
