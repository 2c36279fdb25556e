# %% [markdown]
# Solutions to the exercises of `notebooks/07_training_at_scale.ipynb` (the instructor edition:
# `python3 tasks.py instructor` puts each cell below in place of its exercise stub).


# %%
def my_training_step(model: PinSage, optimizer: torch.optim.Optimizer, producer: MinibatchProducer, epoch: int,
                     index: int, margin: float) -> float:
    from pinsage_edu.loss import max_margin_loss  # imported here: the function is self-contained
    mb = producer(epoch, index)  # sample: the pairs, the shared negatives, Algorithm 2's blocks, the feature rows
    z = model(mb.blocks, inputs=mb.inputs)  # forward: queries ‖ positives ‖ shared negatives
    B, S = mb.queries.numel(), mb.negatives.numel()
    z_q, z_pos, z_neg = z[:B], z[B:2 * B], z[2 * B:2 * B + S]
    loss = max_margin_loss(z_q, z_pos, z_neg, margin=margin, shared_mask=mb.shared_mask).loss
    optimizer.zero_grad()  # the previous step's gradients
    loss.backward()
    optimizer.step()
    return loss.item()


# %%
def my_warmup_decay(step: int, steps_per_epoch: int, warmup_epochs: float, lr_decay: float) -> float:
    w = round(warmup_epochs * steps_per_epoch)
    if step < w:
        return (step + 1) / w
    return lr_decay ** ((step - w) / steps_per_epoch)


# %%
def my_rank_share(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    n = batch.shape[0]
    return batch[rank * n // world_size:(rank + 1) * n // world_size]
