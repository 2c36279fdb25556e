# %% [markdown]
# # 07 · Training at scale (§3.3)
#
# Notebooks 05 and 06 trained PinSage with `train_pinsage` and looked at *what* it learns. This one
# looks at *how* the training runs, the engineering half of §3.3 that let Pinterest train on billions
# of pairs. You will watch the **producer–consumer** pipeline in the trainer's own timings (when the
# compute waits for its next minibatch and when it does not), **write one training step** yourself
# and check it against the trainer's, plot the learning-rate **warm-up and decay**, follow a
# classroom-size run with **live curves**, stop a run and **resume** it exactly, see what
# **DistributedDataParallel** (DDP) does with a minibatch (a diagram and a real 2-process run on the
# CPU, launched from this notebook), and measure the paper's **runtime trade-off**: batch size
# against time per iteration against the number of iterations to reach a target.
#
# *Symbols and terms: the [notation table and glossary](00_course_map.ipynb#Notation-and-glossary) in notebook 00.*

# %% tags=["nbval-ignore-output"]
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from matplotlib.patches import FancyBboxPatch, Patch
from matplotlib.ticker import FuncFormatter, LogLocator

import pinsage_edu
from pinsage_edu import exercises, load_dataset
from pinsage_edu.viz import diagram_arrow as arrow, diagram_box as box
from pinsage_edu.checkpoint import load_checkpoint
from pinsage_edu.features import item_features
from pinsage_edu.minibatch import NeighborhoodSampler, NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import MinibatchProducer, TrainConfig, WarmupDecay, train_pinsage
from pinsage_edu.utils import seed_everything
from pinsage_edu.walks import visit_counts

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__} · {os.cpu_count()} CPU cores · "
      f"{torch.get_num_threads()} torch threads · CUDA available: {torch.cuda.is_available()}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
# Sizes change how many steps and epochs we train and how many pairs judge them, never the algorithm
# (one exception, explained where it happens: the classroom run with live curves leaves out hard negatives).
PRESET = {
    "classroom": dict(threads=1, pipeline_steps=24, epochs=2, max_hard_negatives=0, eval_pairs=2_000, ddp_steps=4,
                      sweep_batches=[64, 128, 256, 512, 1024], sweep_pairs=4_096, sweep_epochs=2, target_loss=0.06),
    "full": dict(threads=None, pipeline_steps=48, epochs=10, max_hard_negatives=6, eval_pairs=None, ddp_steps=20,
                 sweep_batches=[64, 128, 256, 512, 1024, 2048, 4096], sweep_pairs=16_384, sweep_epochs=3,
                 target_loss=0.05),
}[SIZE]
# Classroom size computes with one thread: on a shared two-core machine (a CI runner, several notebooks
# at once) two threads per process fight over the cores and every step gets several times slower.
# Full size keeps torch's default (one thread per core).
if PRESET["threads"] is not None:
    torch.set_num_threads(PRESET["threads"])

# %% [markdown]
# MovieLens as in notebooks 05 and 06: movies are items, each user's liked movies a collection, the
# positive pairs (q, i) consecutive likes of one user; the train graph, the features, and a table of
# every movie's importance neighbourhood (T = 10).

# %% tags=["nbval-check-output"]
movies = load_dataset("ml-latest-small")
split = movies.split(seed=0)
g = split.graph
x = item_features(movies, g).x
table = NeighborhoodTable.build(g, 10, generator=0)
print(g)
print(f"features {tuple(x.shape)} · train pairs {len(split.train_pairs):,} · val pairs {len(split.val_pairs):,}")


def fresh_model() -> PinSage:
    """The same initial classroom model every time (K = 2, T = 10, m = 128, d = 64)."""
    torch.manual_seed(0)
    return PinSage(PinSageConfig.classroom(x.shape[1]))

# %% [markdown]
# ## §3.3 The producer–consumer pipeline
#
# > **The paper (§3.3), in our words:** the GPUs should never wait for data. So the CPUs, with many
# > threads, do everything a minibatch needs **before** it reaches a GPU — sample the neighbourhoods
# > (random walks), re-index the sampled subgraph (Algorithm 2), gather the features its nodes read
# > and sample the negatives — for the **next** minibatch, while the GPUs compute the current one.
# > Inside CONVOLVE the GPU never talks to the CPU. This overlap **cut training time almost in half**.
#
# In the library the producer is `MinibatchProducer`: `producer(epoch, index)` builds minibatch
# `index` of `epoch` — the pairs, the 500 shared negatives, the hard negatives (when the curriculum
# gives some), Algorithm 2's blocks and the feature rows they read. Every random choice in it is
# seeded from `(seed, epoch, index)` alone, so the same minibatch comes out whichever process builds
# it, and whenever.
#
# Here the producer samples **fresh walks for every minibatch** (a `NeighborhoodSampler`), like the
# paper's producer, instead of looking neighbourhoods up in the precomputed table: that is real work
# for the CPU. We take 100 walks per node (the library's default is 200) so that building a minibatch
# costs about as much as computing on it — the case where overlapping the two helps most. One
# minibatch of 512 pairs:

# %% tags=["nbval-check-output"]
sampler = NeighborhoodSampler(g, 10, generator=0, num_walks=100)  # fresh importance walks, reseeded per minibatch
assert inspect.signature(visit_counts).parameters["num_walks"].default == 200  # the library's default, halved here
producer = MinibatchProducer(split.train_pairs, x, sampler, num_layers=2, config=TrainConfig(max_hard_negatives=0))
mb, again = producer(1, 0), producer(1, 0)
print(f"minibatch 0 of epoch 1: {mb.queries.numel()} queries, {mb.positives.numel()} positives, "
      f"{mb.negatives.numel()} shared negatives → {mb.seeds.numel():,} seed items")
print("Algorithm 2's node sets |S⁽⁰⁾|, |S⁽¹⁾|, |S⁽²⁾| =", mb.blocks.sizes, f"· feature rows gathered {tuple(mb.inputs.shape)}")
print(f"built twice, identical: {torch.equal(mb.inputs, again.inputs) and mb.blocks.sizes == again.blocks.sizes}")
assert mb.seeds.numel() == 512 + 512 + 500 and torch.equal(mb.inputs, again.inputs)
assert mb.blocks.sizes[0] == mb.inputs.shape[0] and mb.blocks.sizes[0] >= mb.blocks.sizes[1] >= mb.blocks.sizes[2]

# %% [markdown]
# The trainer consumes minibatches from `minibatches(producer, epoch, num_workers=...)`:
#
# * `num_workers=0`: the training process builds each minibatch itself, then computes on it — no
#   overlap: every step first waits for its own data.
# * `num_workers=1`: a `torch.utils.data.DataLoader` **worker process** builds minibatches ahead
#   (`prefetch_factor=2` ready at a time) while the training process computes — the producer–consumer
#   pipeline. (With `sampling="device"` the walks would run on the GPU instead.)
#
# The trainer times every step: when the compute asked for its minibatch (`t_request`), when it had
# it (`t_ready`) and when it finished the step (`t_done`): `history.timeline`. We train 24 steps (48
# in full size) both ways from the same initial model. Our machine has only 2 cores, so the training
# process computes with **one** thread (`torch.set_num_threads(1)`, in full size too for this
# section): one core for the consumer, one for the worker — a tiny version of the paper's
# CPUs-plus-GPUs split.

# %%
threads = torch.get_num_threads()
torch.set_num_threads(1)
pipeline = {}
for workers in (0, 1):
    config = TrainConfig(epochs=1, max_steps_per_epoch=PRESET["pipeline_steps"], max_hard_negatives=0,
                         num_workers=workers)
    pipeline[workers] = train_pinsage(fresh_model(), x, split.train_pairs, sampler, config=config)
torch.set_num_threads(threads)

# %%
def perfect_overlap(timeline: list[tuple]) -> list[tuple[float, float, float]]:
    """(t_request, t_ready, t_done) if a producer had built the minibatches back to back, each taking
    as long as it took in ``timeline``'s run, while the consumer computed (each step as long as there)."""
    built, done, steps = 0.0, 0.0, []
    for _, _, req, ready, end in timeline:
        built += ready - req  # the producer finishes this minibatch…
        start = max(built, done)  # …and the consumer takes it when both are ready
        steps.append((done, start, start + end - ready))
        done = start + end - ready
    return steps


rows = [("no worker:\nbuilt in the training process\n(measured)", [t[2:] for t in pipeline[0].timeline], 1.0),
        ("1 worker process:\nbuilt ahead\n(measured)", [t[2:] for t in pipeline[1].timeline], 1.0),
        ("perfect overlap of the\ntop row's own times\n(computed)", perfect_overlap(pipeline[0].timeline), 0.45)]
fig, ax = plt.subplots(figsize=(13, 4.2))
for row, (label, steps, alpha) in enumerate(rows):
    y = 10 * (len(rows) - 1 - row)
    t0 = steps[0][0]
    ax.broken_barh([(req - t0, ready - req) for req, ready, _ in steps], (y + 1, 8), color="#d62728", alpha=alpha)
    ax.broken_barh([(ready - t0, done - ready) for _, ready, done in steps], (y + 1, 8), color="#1f77b4", alpha=alpha,
                   edgecolor="white", linewidth=0.6)
    end = steps[-1][2] - t0
    ax.annotate(f"{end:.2f} s", (end, y + 5), xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
ax.set_yticks([10 * (len(rows) - 1 - r) + 5 for r in range(len(rows))], [r[0] for r in rows], fontsize=9)
ax.set(xlabel="seconds since the first step asked for its minibatch",
       title=f"The consumer's {PRESET['pipeline_steps']} steps: waiting for the minibatch (red), computing on it (blue)")
ax.legend(handles=[Patch(color="#d62728", label="waiting for data (t_request → t_ready)"),
                   Patch(color="#1f77b4", label="forward, backward, step (t_ready → t_done)")],
          loc="upper right", fontsize=8, ncol=2)
ax.set_ylim(0, 10 * len(rows) + 5)
ax.grid(True, axis="x", alpha=0.3)
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
# Timings on a shared machine: they vary from run to run, so they are printed, not asserted.
wall, compute_ms = {}, {}
for workers, h in pipeline.items():
    e = h.epochs[0]
    wall[workers] = h.timeline[-1][4] - h.timeline[0][2]
    compute_ms[workers] = 1000 * statistics.median(d - r for _, _, _, r, d in h.timeline)
    later_waits = [ready - req for _, _, req, ready, _ in h.timeline[1:]]
    print(f"num_workers={workers}: {wall[workers]:.2f} s for {e.steps} steps · waiting {e.data_wait:.2f} s "
          f"({e.data_wait / wall[workers]:.0%}; median wait after the first step {1000 * statistics.median(later_waits):.0f} ms)"
          f" · computing {e.compute:.2f} s (median step {compute_ms[workers]:.0f} ms)")
ideal = perfect_overlap(pipeline[0].timeline)
ideal_wall = ideal[-1][2] - ideal[0][0]
print(f"perfect overlap of the no-worker run's own times: {ideal_wall:.2f} s, {ideal_wall / wall[0]:.0%} of that run")
ratio = wall[1] / wall[0]
if ratio < 0.95:
    print(f"→ this time the worker run took {ratio:.0%} of the no-worker run's time: the overlap paid off")
else:
    print(f"→ this time the worker run took {ratio:.0%} of the no-worker run's time, no gain: its compute steps ran "
          f"{compute_ms[1] / compute_ms[0]:.1f}× slower while the worker built alongside them")

# %% tags=["nbval-check-output"]
same = pipeline[0].step_loss == pipeline[1].step_loss
print(f"the two runs' {len(pipeline[0].step_loss)} step losses are identical: {same}")
assert same  # the producer is deterministic: the same minibatches, whichever process builds them

# %% [markdown]
# What to look for in the figure:
#
# * **No worker (top).** Every step begins with a red bar: the training process walks, re-indexes
#   and gathers the minibatch itself, and only then computes. Red and blue strictly alternate, so the
#   run lasts the *sum* of building and computing — with our 100 walks per node the two take about
#   the same time, and about half of the run is spent waiting.
# * **Perfect overlap (bottom, computed).** The same building and computing times, rearranged as an
#   ideal producer would: it builds minibatch i + 1 while the consumer computes minibatch i. Only the
#   first minibatch is waited for in full; after that the run lasts about the *larger* of the two
#   costs per step, not their sum — roughly half the time when they are equal. This is the paper's
#   "almost in half".
# * **One worker (middle, measured).** The first red bar is long: the worker process starts and builds
#   the first minibatch while the consumer can only wait. From then on the worker is ahead and the
#   red bars shrink to slivers — each minibatch was built while the previous step computed. Whether
#   the *run* gets shorter depends on the machine: our two virtual cores are not two independent
#   processors, and with the worker busy beside it the consumer's compute steps (blue) come out
#   longer than in the top row, sometimes by enough to eat the whole gain. The last printed line
#   says how it went in the run shown; run the cells again and it may go the other way.
# * **Identical learning.** Both measured runs produce exactly the same losses step for step: the
#   pipeline changes *when* a minibatch is built, never *what* it holds.
#
# > Our remark: at Pinterest the producer had 32 CPU cores and the consumers were 16 GPUs, which do
# > not compete with the CPUs for their arithmetic, and the overlap cut the training time almost in
# > half. Here producer and consumer share two virtual cores (and whatever else runs on the machine),
# > so the measured gain varies from run to run and machine to machine; on a machine with cores to
# > spare we would expect the middle row to come much closer to the bottom one. When building takes longer than
# > computing, one worker cannot keep up and the consumer waits a little at every step (exercise 4);
# > the precomputed `NeighborhoodTable` used in the rest of this notebook makes the producer's work
# > almost free, another way to keep a consumer busy.
#
# ### Exercise 1 — one training step
#
# Each of those steps is the paper's loop body: sample a minibatch, embed its items, score them,
# back-propagate, step. Write `my_training_step(model, optimizer, producer, epoch, index, margin)`
# doing one step with the library's pieces, and return the step's loss as a Python number:
#
# 1. **Sample**: `mb = producer(epoch, index)` is the minibatch above — `mb.blocks` and `mb.inputs`
#    (the feature rows of its S⁽⁰⁾), `mb.queries`, `mb.positives`, `mb.negatives`, and
#    `mb.shared_mask` (`[B, n_neg]`, False where a shared negative is the query itself or its positive).
# 2. **Forward**: `model(mb.blocks, inputs=mb.inputs)` embeds the minibatch's seeds, which are the
#    queries, then the positives, then the shared negatives: slice the result into `z_q` and `z_pos`
#    (B rows each) and `z_neg` (the S rows after them).
# 3. **Loss**: `max_margin_loss(z_q, z_pos, z_neg, margin=margin, shared_mask=mb.shared_mask).loss`,
#    the hinge of notebook 05.
# 4. **Backward and step**: clear the gradients the previous step left behind
#    (`optimizer.zero_grad()`), back-propagate the loss, take the optimiser step. Return
#    `loss.item()` (`float(loss)` works too, with a warning, as the loss still requires a gradient).
#
# The trainer wraps more around this core — the learning-rate schedule (next section), gradient
# clipping, bf16 autocast on a GPU, hard negatives — and leaves it at that.
# `exercises.check_training_step` gives your step and the library's trainer (configured
# without those extras) identical seeded models and the same minibatches of a small synthetic
# catalogue, runs a few steps with Adam and with SGD with momentum, and requires the trainer's loss
# at every step and its parameters after every step.


# %%
def my_training_step(model: PinSage, optimizer: torch.optim.Optimizer, producer: MinibatchProducer, epoch: int,
                     index: int, margin: float) -> float:
    from pinsage_edu.loss import max_margin_loss  # imported here: the function is self-contained
    raise NotImplementedError  # your code here


# %% tags=["nbval-check-output"]
exercises.check_training_step(my_training_step)

# %% [markdown]
# ## §3.3 Learning-rate warm-up and decay
#
# > **The paper (§3.3), in our words:** with large minibatches (512 to 4096 pairs) the learning rate
# > is raised **linearly during the first epoch** (the *linear scaling rule*: a larger batch gets a
# > proportionally larger rate, reached gradually), then **decays exponentially**.
#
# `WarmupDecay(steps_per_epoch, warmup_epochs, lr_decay)` gives the factor the peak rate is
# multiplied by at 0-based step s, with W = round(warmup_epochs · steps_per_epoch) warm-up steps:
#
# $$f(s) = \begin{cases} \dfrac{s + 1}{W} & s < W \\[6pt] \text{lr\_decay}^{\,(s - W)/\text{steps\_per\_epoch}} & s \ge W \end{cases}$$
#
# — one factor of `lr_decay` per epoch after the warm-up, applied smoothly step by step. `Trainer` uses
# it as `LambdaLR(optimizer, WarmupDecay(...))`; the defaults are a one-epoch warm-up and a decay of
# 0.9 per epoch. An epoch of our 38,813 train pairs in minibatches of 512 has 76 steps.

# %%
steps_per_epoch = math.ceil(len(split.train_pairs) / 512)
settings = [(1.0, 0.9, "warm-up 1 epoch, decay 0.9 (the defaults)"), (0.0, 0.9, "no warm-up, decay 0.9"),
            (1.0, 1.0, "warm-up 1 epoch, then constant"), (2.0, 0.5, "warm-up 2 epochs, decay 0.5")]
steps = range(5 * steps_per_epoch)
fig, axes = plt.subplots(1, 2, figsize=(15, 3.8))
for warm, decay, label in settings:
    f = WarmupDecay(steps_per_epoch, warm, decay)
    axes[0].plot([s / steps_per_epoch for s in steps], [f(s) for s in steps], label=label)
axes[0].set(xlabel="epoch", ylabel="factor f(s) of the peak rate", ylim=(0, 1.05),
            title=f"WarmupDecay over 5 epochs ({steps_per_epoch} steps each)")
axes[0].legend(fontsize=8)
# The linear scaling rule: the peak rate grows with the batch, and the warm-up covers the same pairs.
for B in (512, 1024, 2048):
    spe = math.ceil(len(split.train_pairs) / B)
    f = WarmupDecay(spe, 1.0, 0.9)
    axes[1].plot([(s + 1) * B for s in range(3 * spe)], [1e-3 * B / 512 * f(s) for s in range(3 * spe)],
                 label=f"batch {B}: peak {1e-3 * B / 512:.0e} ({spe} steps/epoch)")
axes[1].set(xlabel="pairs seen", ylabel="learning rate", title="linear scaling rule: rate ∝ batch size, one-epoch warm-up")
axes[1].legend(fontsize=8)
for ax in axes:
    ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()

# %% tags=["nbval-check-output"]
f = WarmupDecay(steps_per_epoch, 1.0, 0.9)
W = f.warmup_steps
for s in (0, 1, W - 1, W, 2 * W, 5 * W - 1):
    print(f"step {s:>3} (epoch {s // steps_per_epoch + 1}): factor {f(s):.4f}")
assert W == 76 and f(0) == 1 / 76 and f(W - 1) == 1.0 == f(W)
assert abs(f(W + steps_per_epoch) - 0.9) < 1e-12 and abs(f(W + 3 * steps_per_epoch) - 0.9 ** 3) < 1e-12

# %% [markdown]
# The first step runs at 1/76 of the peak rate; the rate reaches the peak at the last step of epoch 1
# and is multiplied by 0.9 every epoch after.
#
# > Our remark, on why: the paper gives no reason beyond the linear scaling rule. The usual one is
# > that a large batch gets a large peak rate, and a large step taken from the untrained model —
# > whose embeddings are all alike (notebook 05 showed the untrained scores squeezed together) —
# > can throw the parameters far off before the gradients mean much; the warm-up lets the first
# > steps find their direction at a small rate. The decay then lets the late steps refine rather
# > than jump.
#
# ### Exercise 2 — the schedule by hand
#
# Write `my_warmup_decay(step, steps_per_epoch, warmup_epochs, lr_decay)` returning f(step) as above
# (W = round(warmup_epochs · steps_per_epoch); no warm-up at all when W = 0).
# `exercises.check_warmup_decay` compares it with `WarmupDecay` on four schedules.

# %%
def my_warmup_decay(step: int, steps_per_epoch: int, warmup_epochs: float, lr_decay: float) -> float:
    raise NotImplementedError  # your code here

# %% tags=["nbval-check-output"]
exercises.check_warmup_decay(my_warmup_decay)

# %% [markdown]
# ## A classroom-size run with live curves
#
# `train_pinsage(..., on_step=callback)` calls `callback(step, result)` after every optimiser step
# with the step's `LossResult` (the loss, the share of active hinges, the mean scores). The callback
# below keeps them and redraws the figure every 25 steps, in place — in JupyterLab you watch the
# curves grow. The learning rate panel is the schedule each step ran with, f(step − 1) × 10⁻³; the
# validation hit-rate@10 (is the held-out i among q's 10 nearest movies?) is measured after each
# epoch, so its panel is filled in when the run ends. Classroom size trains 2 epochs (152 steps of
# 512 pairs) with uniform negatives only — hard negatives would add the personalized-PageRank
# ranking of every query to epoch 2, many seconds on our CPU (notebook 06); full size trains 10
# epochs with the curriculum up to 6 hard negatives.

# %%
class LiveCurves:
    """An ``on_step`` callback that records each step and redraws its figure every ``every`` steps."""

    def __init__(self, steps_per_epoch: int, lr: float, every: int = 25):
        self.steps_per_epoch, self.every = steps_per_epoch, every
        self.schedule, self.lr = WarmupDecay(steps_per_epoch), lr
        self.loss, self.active = [], []
        self.fig, self.axes = plt.subplots(1, 4, figsize=(17, 3.4))
        self.handle = display(self.fig, display_id=True)
        plt.close(self.fig)  # shown through the handle only

    def __call__(self, step: int, result) -> None:
        self.loss.append(float(result))  # LossResult → the loss value, detached
        self.active.append(result.active)
        if step % self.every == 0:
            self.draw()

    def draw(self, history=None) -> None:
        ax_loss, ax_active, ax_lr, ax_hit = self.axes
        for ax in self.axes:
            ax.clear()
        n = len(self.loss)
        for ax, values, label in ((ax_loss, self.loss, "max-margin loss"), (ax_active, self.active, "share of active hinges")):
            ax.plot(range(1, n + 1), values, lw=0.8, alpha=0.6)
            w = 10
            ax.plot(range(1, n + 1), [sum(values[max(0, i - w + 1):i + 1]) / len(values[max(0, i - w + 1):i + 1])
                                      for i in range(n)], lw=2, color="C0")
            ax.set(xlabel="optimiser step", ylabel=label, ylim=(0, None))
        ax_lr.plot(range(1, n + 1), [self.lr * self.schedule(s) for s in range(n)], color="C2")
        ax_lr.set(xlabel="optimiser step", ylabel="learning rate", ylim=(0, 1.1 * self.lr))
        for ax in (ax_loss, ax_active, ax_lr):
            ax.set_xlim(0, self.steps_per_epoch * PRESET["epochs"])
            for e in range(1, PRESET["epochs"]):
                ax.axvline(e * self.steps_per_epoch, color="gray", ls=":", lw=1)
        ax_hit.set(xlabel="epoch (0 = untrained)", ylabel="val hit-rate@10", xlim=(-0.3, PRESET["epochs"] + 0.3))
        if history is not None:
            ax_hit.plot(range(len(history.epochs) + 1), [history.initial_hit_rate] + history.val_hit_rates, "o-", color="C3")
            ax_hit.set_ylim(0, None)
        else:
            ax_hit.text(0.5, 0.5, "measured after each epoch:\nshown when the run ends", ha="center", va="center",
                        transform=ax_hit.transAxes, color="gray")
        ax_loss.set_title("loss (thin: per step; thick: running mean)")
        ax_active.set_title("hinges that still teach")
        ax_lr.set_title("warm-up, then decay")
        ax_hit.set_title("validation hit-rate")
        for ax in self.axes:
            ax.grid(True, alpha=0.3)
        self.fig.tight_layout()
        self.handle.update(self.fig)


run_config = TrainConfig(epochs=PRESET["epochs"], max_hard_negatives=PRESET["max_hard_negatives"],
                         eval_pairs=PRESET["eval_pairs"])
live = LiveCurves(steps_per_epoch, run_config.lr)
history = train_pinsage(fresh_model(), x, split.train_pairs, table, config=run_config, graph=g,
                        val_pairs=split.val_pairs, on_step=live)
live.draw(history)

# %% tags=["nbval-ignore-output"]
# Hundreds of floating-point steps and timings: asserted below rather than compared as text.
print(history.table())

# %% tags=["nbval-ignore-output"]
hr0, hr = history.initial_hit_rate, history.val_hit_rates[-1]
epoch1 = history.step_loss[:steps_per_epoch]  # uniform negatives only, whatever the size
first_loss, last_loss = sum(epoch1[:10]) / 10, sum(epoch1[-10:]) / 10
print(f"val hit-rate@10: untrained {hr0:.2%} → after {len(history.epochs)} epochs {hr:.2%} ({hr / hr0:.1f}×)")
print(f"loss in epoch 1, mean of its first 10 steps {first_loss:.4f} → of its last 10 steps {last_loss:.4f}")
print(f"lr of the last step {history.step_lr[-1]:.2e} (peak {run_config.lr:.0e} × 0.9^{PRESET['epochs'] - 1})")
assert live.loss == history.step_loss  # the callback saw every step
assert len(history.step_loss) == PRESET["epochs"] * steps_per_epoch
assert hr > 2 * hr0 and last_loss < 0.75 * first_loss
assert max(history.step_lr) == run_config.lr
assert abs(history.step_lr[-1] - run_config.lr * 0.9 ** (PRESET["epochs"] - 1)) < 2e-3 * run_config.lr

# %% [markdown]
# The loss falls fast during the warm-up and then creeps; the share of active hinges follows it (the
# uniform negatives soon stop teaching — notebook 05's story; in full size the curriculum's hard
# negatives raise both again from epoch 2 on, notebook 06's). The validation hit-rate@10 on 2,000
# held-out pairs rises from 0.75% (untrained) to 3.30% after two epochs, more than four times higher.
# In the table, `wait s` and `compute s` are the producer–consumer timings of each epoch: with the
# precomputed neighbourhood table the producer's share is small.
#
# ## Checkpoints: stop a run and resume it exactly
#
# A training run of days must survive a crash. With `out_dir=`, the trainer writes `run.json` (the
# configs), `metrics.jsonl` (one JSON line per step and per epoch), `last.pt` (the model, optimizer,
# scheduler, every random generator's state and the position in the epoch) at the end of each epoch
# and every `checkpoint_every` steps, and `best.pt` (the best validation epoch, when validating). A
# checkpoint is written to a temporary file and renamed, so a kill mid-write leaves the previous one
# whole. `resume=True` continues from `last.pt`; the number of epochs may change on resume (nothing
# that changes what the run computes may). We train 1 epoch of 8 steps, then resume the same folder
# with `epochs=2`, and compare with one uninterrupted 2-epoch run.

# %% tags=["nbval-check-output"]
short = dict(max_steps_per_epoch=8, max_hard_negatives=0)
with tempfile.TemporaryDirectory() as tmp:
    run_dir = Path(tmp) / "run"
    train_pinsage(fresh_model(), x, split.train_pairs, table, out_dir=run_dir,
                  config=TrainConfig(epochs=1, checkpoint_every=4, **short))
    print("after epoch 1:", sorted(p.name for p in run_dir.iterdir()))
    state = load_checkpoint(run_dir / "last.pt")
    print("last.pt holds:", ", ".join(k for k in state if k != "format"))
    print("position:", state["progress"])
    # a different initial model on purpose: resume loads the checkpoint's weights
    resumed = train_pinsage(PinSage(PinSageConfig.classroom(x.shape[1])), x, split.train_pairs, table, out_dir=run_dir,
                            resume=True, config=TrainConfig(epochs=2, checkpoint_every=4, **short))
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    print("metrics.jsonl:", {t: sum(r["type"] == t for r in records) for t in ("start", "resume", "step", "epoch", "end")})
straight = train_pinsage(fresh_model(), x, split.train_pairs, table, config=TrainConfig(epochs=2, **short))
print(f"resumed run = uninterrupted run, all {len(straight.step_loss)} step losses equal: "
      f"{resumed.step_loss == straight.step_loss}")
assert resumed.step_loss == straight.step_loss and len(resumed.epochs) == 2

# %% [markdown]
# The resumed run is the uninterrupted run, bit for bit: the checkpoint restored the weights, Adam's
# moments, the scheduler's step and the generators, and the producer rebuilds epoch 2's minibatches
# from their seeds. The same resume works from a mid-epoch checkpoint (`checkpoint_every`) after a
# kill; the library's tests kill a run and check exactly that.
#
# ## §3.3 Multi-GPU training: what DDP does with a minibatch
#
# > **The paper (§3.3), in our words:** each minibatch is split **evenly across the GPUs** of one
# > machine; each GPU runs the forward and backward pass on its share; the gradients are
# > **aggregated** and one **synchronous** SGD step is taken, so every GPU holds the same model.
#
# PyTorch's `DistributedDataParallel` does exactly that. One process per device (a *rank*) holds a
# replica of the model. For global minibatch b of epoch e, rank r builds its contiguous share of the
# pairs, rows r·B/W … (r+1)·B/W − 1 of B pairs over W ranks, with the **same** 500 shared negatives
# (seeded by (e, b), not by the rank). Each rank computes its loss and gradients; during the backward
# pass DDP **all-reduces** the gradients — every rank ends with their mean; then every rank takes the
# same optimiser step from the same weights with the same gradient, so the replicas stay identical
# without ever sending weights.

# %%
fig, ax = plt.subplots(figsize=(15, 5.2))
ax.set(xlim=(0, 15.2), ylim=(-0.2, 5.2))
ax.axis("off")
rows = 8
for i in range(rows):  # the global minibatch: 8 pairs stand for B
    ax.add_patch(FancyBboxPatch((0.3, 0.6 + i * 0.45), 1.6, 0.36, boxstyle="square,pad=0",
                                fc="#aec7e8" if i >= rows // 2 else "#ffbb78", ec="k", lw=0.6))
    ax.text(1.1, 0.78 + i * 0.45, f"pair {rows - 1 - i}", ha="center", va="center", fontsize=7)
ax.text(1.1, 4.45, "global minibatch b\n(B pairs, epoch e)", ha="center", fontsize=9)
ax.text(1.1, 0.15, "+ 500 shared negatives\nseeded by (e, b)", ha="center", fontsize=8)
for r, (y, color) in enumerate(((3.0, "#aec7e8"), (0.7, "#ffbb78"))):
    share = "pairs 0 … B/2 − 1" if r == 0 else "pairs B/2 … B − 1"
    box(ax, 2.9, y, 2.5, 1.3, f"rank {r}\n{share}\n+ the same 500 negatives", color)
    box(ax, 6.0, y, 2.4, 1.3, f"replica {r} of PinSage\n(same weights θ)\nforward → loss{r}\nbackward → ∇{r}", "#f0f0f0")
    arrow(ax, (1.95, 2.4), (2.85, y + 0.65))
    arrow(ax, (5.45, y + 0.65), (5.95, y + 0.65))
    arrow(ax, (8.45, y + 0.65), (9.15, 2.4 + (0.35 if r == 0 else -0.35)))
    box(ax, 12.6, y, 2.4, 1.3, f"rank {r}: optimiser step\nθ ← θ − lr·∇\n(identical on both)", "#c7e9c0")
    arrow(ax, (11.85, 2.4 + (0.35 if r == 0 else -0.35)), (12.55, y + 0.65))
box(ax, 9.2, 1.75, 2.6, 1.3, "all-reduce\n∇ = (∇0 + ∇1) / 2\n(during backward)", "#fdd0a2")
ax.text(7.2, 4.75, "each rank: its own process, its own device (here: CPU cores, gloo)", ha="center", fontsize=9,
        style="italic")
ax.set_title("DistributedDataParallel: one global minibatch, W = 2 ranks, one synchronous step", fontsize=11)
plt.show()

# %% [markdown]
# Because each rank averages over its B/W pairs and the all-reduce averages the ranks, the step equals
# the single-process step on all B pairs (for equal shares). That is something we can check.
#
# ### A 2-process run on the CPU
#
# The command line trains under `torchrun`, which starts one process per rank and tells each its
# rank; the library joins them into a process group (gloo on the CPU, NCCL between GPUs) and wraps
# the model in DDP:
#
# ```
# torchrun --standalone --nproc_per_node=2 -m pinsage_edu train --dataset ml-latest-small \
#     --epochs 1 --steps-per-epoch 4 --batch-size 64 --max-hard 0 --eval-pairs 300 --no-progress --out DIR
# ```
#
# We launch it from here (`torchrun` is `python -m torch.distributed.run`): 4 steps (20 in full size)
# of global minibatches of 64 pairs, 32 per rank. At the end each rank hashes its parameters and the run
# writes them to the last line of `DIR/metrics.jsonl`. If the launch fails on your machine (no
# free port, a sandbox without process groups…), the cell says why and the notebook carries on.

# %% tags=["nbval-ignore-output"]
ddp_dir = tempfile.TemporaryDirectory()
ddp_out = Path(ddp_dir.name) / "ddp"
command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "pinsage_edu", "train", "--dataset", "ml-latest-small", "--epochs", "1",
           "--steps-per-epoch", str(PRESET["ddp_steps"]), "--batch-size", "64", "--max-hard", "0",
           "--eval-pairs", "300", "--no-progress", "--out", str(ddp_out)]
ddp_end = None
t_launch = time.perf_counter()
try:
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
except (OSError, subprocess.TimeoutExpired) as exc:
    print(f"could not run the 2-process training ({type(exc).__name__}: {exc}); skipping the DDP check")
else:
    if proc.returncode != 0:
        print(f"the 2-process training exited with code {proc.returncode}; skipping the DDP check. Its last words:")
        print("\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:]))
    else:
        print(proc.stdout.replace(str(ddp_out), "DIR"))
        records = [json.loads(line) for line in (ddp_out / "metrics.jsonl").read_text().splitlines()]
        ddp_end = records[-1]
        ddp_steps = [r["loss"] for r in records if r["type"] == "step"]
        print(f"launched, trained and evaluated in {time.perf_counter() - t_launch:.1f} s")

# %% tags=["nbval-ignore-output"]
if ddp_end is None:
    print("no 2-process run to check")
else:
    print("last line of metrics.jsonl:", {k: ddp_end[k] for k in ("type", "step", "world_size", "ranks_in_sync")})
    for r, digest in enumerate(ddp_end["param_checksums"]):
        print(f"  rank {r}: SHA-256 of its parameters {digest[:16]}…")
    # The same 4 global minibatches in one process, from the same initial model (the CLI seeds it with 0 too):
    single = fresh_model()
    single_history = train_pinsage(single, x, split.train_pairs, table, config=TrainConfig(
        epochs=1, batch_size=64, max_steps_per_epoch=PRESET["ddp_steps"], max_hard_negatives=0))
    ddp_weights = load_checkpoint(ddp_out / "last.pt")["model"]
    loss_gap = max(abs(a - b) for a, b in zip(ddp_steps, single_history.step_loss))
    weight_gap = max(float((ddp_weights[k] - v).abs().max()) for k, v in single.state_dict().items())
    mean_weight = float(torch.cat([v.abs().flatten() for v in single.state_dict().values()]).mean())
    print(f"2 ranks × 32 pairs vs 1 process × 64 pairs: step losses differ by at most {loss_gap:.1e}, "
          f"weights by at most {weight_gap:.1e} (mean |weight| {mean_weight:.3f})")
    assert ddp_end["world_size"] == 2 and ddp_end["ranks_in_sync"] and len(set(ddp_end["param_checksums"])) == 1
    assert len(ddp_steps) == PRESET["ddp_steps"] and loss_gap < 1e-5 and weight_gap < 1e-3
ddp_dir.cleanup()

# %% [markdown]
# When the run launched (see the output above):
#
# * **The ranks are in sync.** Both processes end with bit-identical parameters (the same SHA-256),
#   although neither ever sent its weights to the other: the same start, the same averaged gradient
#   and the same optimiser step at every step keep them together.
# * **Two ranks of 32 pairs = one process of 64.** The step losses and the final weights equal
#   those of an ordinary single-process run on the same global minibatches, up to float rounding
#   (the all-reduce sums in a different order): the printed gaps are tiny next to the weights
#   themselves (mean magnitude printed alongside). DDP changes *where* the gradient is computed,
#   not *which* gradient.
# * The whole launch took several seconds, most of it starting two Python processes, loading the
#   data and building the neighbourhood table in each, and evaluating; the training steps themselves
#   took a fraction of a second (`compute s` in the table above). On GPUs the split pays off: each device computes on B/W pairs, and DDP
#   overlaps the all-reduce with the rest of the backward pass.
#
# ### Exercise 3 — a rank's share
#
# Write `my_rank_share(batch, rank, world_size)`: the contiguous rows of `batch` [n, 2] that rank
# `rank` of `world_size` takes — rows rank·n // world_size up to (rank + 1)·n // world_size, end
# excluded. Every pair must land on exactly one rank, and the shares differ in size by at most one
# when W does not divide n. `exercises.check_rank_share` compares with what `MinibatchProducer` does.

# %%
def my_rank_share(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    raise NotImplementedError  # your code here

# %% tags=["nbval-check-output"]
exercises.check_rank_share(my_rank_share)

# %% [markdown]
# ## §3.3 and Table 3: the runtime trade-off of the batch size
#
# > **The paper (§4.5, Table 3), in our words:** a bigger minibatch makes each iteration slower but needs
# > fewer iterations to converge. Measured on mean-pooling-hard:
# >
# > | batch | ms per iteration | iterations | total hours |
# > |---|---|---|---|
# > | 512 | 590 | 390k | 63.9 |
# > | 1024 | 870 | 220k | 53.2 |
# > | **2048** | **1350** | **130k** | **48.8** |
# > | 4096 | 2240 | 100k | 68.4 |
# >
# > A batch of 2048 gave the shortest total training time.
#
# We measure the same three quantities here, in classroom size: for each batch size B we train the
# same initial model with the linear scaling rule (peak rate 10⁻³ · B / 512, warm-up over the first
# "epoch", here a fixed 4,096 pairs so every batch size warms up over the same pairs) for 2 such
# epochs, record the time per iteration (the median of t_done − t_request over the steps: building
# plus computing) and the number of iterations until the training loss, averaged over the last
# ~1,024 pairs, first falls to 0.06 or below. Time to target = iterations × time per iteration.
# (Full size: batches up to 4096, three "epochs" of 16,384 pairs, target 0.05.)

# %%
def iterations_to(losses: list[float], batch: int, target: float) -> int | None:
    """First step (1-based) whose loss, averaged over the steps covering the last ~1,024 pairs, is ≤ target."""
    w = max(1, math.ceil(1024 / batch))
    for i in range(len(losses)):
        window = losses[max(0, i - w + 1):i + 1]
        if sum(window) / len(window) <= target:
            return i + 1
    return None


sweep = {}
for B in PRESET["sweep_batches"]:
    config = TrainConfig(epochs=PRESET["sweep_epochs"], batch_size=B, lr=1e-3 * B / 512,
                         max_steps_per_epoch=max(1, PRESET["sweep_pairs"] // B), max_hard_negatives=0)
    h = train_pinsage(fresh_model(), x, split.train_pairs, table, config=config)
    step_s = [done - req for _, _, req, _, done in h.timeline]
    sweep[B] = dict(ms=1000 * statistics.median(step_s), fastest_ms=1000 * min(step_s), steps=len(h.step_loss),
                    iterations=iterations_to(h.step_loss, B, PRESET["target_loss"]), loss=h.step_loss)
    it = sweep[B]["iterations"]
    sweep[B]["seconds"] = it * sweep[B]["ms"] / 1000 if it is not None else float("nan")

# %%
PAPER_TABLE3 = {512: (590, 390_000, 63.9), 1024: (870, 220_000, 53.2), 2048: (1350, 130_000, 48.8), 4096: (2240, 100_000, 68.4)}
batches = list(sweep)
reached = [B for B in batches if sweep[B]["iterations"] is not None]
fig, axes = plt.subplots(2, 3, figsize=(16, 7.5))
ours = (("ms", "time per iteration (ms)"), ("iterations", f"iterations to loss ≤ {PRESET['target_loss']}"),
        ("seconds", "time to target (s)"))
for ax, (key, label) in zip(axes[0], ours):
    bs = batches if key == "ms" else reached
    ax.plot(bs, [sweep[B][key] for B in bs], "o-", color="C0")
    ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel=label, xticks=batches)
    ax.set_xticklabels([str(B) for B in batches])
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
b0 = batches[0]
axes[0][0].plot(batches, [sweep[b0]["ms"] * B / b0 for B in batches], "k:", lw=1, label="∝ batch size")
if sweep[b0]["iterations"] is not None:
    axes[0][1].plot(batches, [sweep[b0]["iterations"] * b0 / B for B in batches], "k:", lw=1, label="∝ 1 / batch size")
for ax in axes[0][:2]:
    ax.legend(fontsize=8)
axes[0][1].set_title(f"ours ({os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads, {SIZE} size)")
paper_b = list(PAPER_TABLE3)
for ax, col, label in zip(axes[1], range(3), ("ms per iteration", "iterations", "total hours")):
    ax.plot(paper_b, [PAPER_TABLE3[B][col] for B in paper_b], "s-", color="C3")
    ax.set(xscale="log", xlabel="batch size", ylabel=label, xticks=paper_b)
    ax.set_xticklabels([str(B) for B in paper_b])
axes[1][1].set_title("the paper's Table 3 (mean-pooling-hard, Pinterest's GPU machine)")
for ax in axes.flat:
    ax.grid(True, alpha=0.3)
    ax.minorticks_off()
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
# Times vary with the machine and its load: printed here, only robust facts asserted below.
print(" batch  ms/iteration (fastest)  iterations to target  pairs to target  time to target")
for B, s in sweep.items():
    it = s["iterations"]
    print(f"{B:>6}  {s['ms']:12.0f} ({s['fastest_ms']:5.0f})  {str(it) if it else 'not reached':>20}  "
          f"{it * B if it else float('nan'):>15,}  {s['seconds']:12.2f} s")
small, large = batches[0], max(B for B in batches if B <= 1024)
print(f"time per iteration, batch {large} vs {small}: {sweep[large]['ms'] / sweep[small]['ms']:.1f}× "
      f"for {large // small}× the pairs")

# %% tags=["nbval-ignore-output"]
# Seeded training: the iteration counts are the same on every run (float rounding could move one by a step).
upto = [B for B in batches if B <= 1024]
its = [sweep[B]["iterations"] for B in upto]
pairs = [it * B for it, B in zip(its, upto)]
print(f"iterations to target, batches {upto}: {its}; pairs to target {pairs}")
assert all(it is not None for it in its) and all(a > b for a, b in zip(its, its[1:]))  # fewer iterations as B grows
assert max(pairs) < 1.5 * min(pairs)  # …about in proportion: the linear scaling rule holds at these sizes
assert 4_000 < min(pairs) and max(pairs) < 6_000  # the prose below: "roughly 5,000" pairs to the target
assert sweep[large]["fastest_ms"] > sweep[small]["fastest_ms"]  # a bigger batch is a slower iteration…
assert sweep[large]["fastest_ms"] < (large / small) * sweep[small]["fastest_ms"]  # …but far less than in proportion

# %% [markdown]
# What we measured (top row) next to the paper (bottom row):
#
# * **Iterations to the target fall in proportion to the batch size.** From 64 to 1,024 pairs per
#   batch every run reaches the target loss after about the same number of *pairs* (roughly 5,000), so
#   16× larger batches need about 16× fewer iterations: with the learning rate scaled up with the
#   batch and warmed up over the same pairs, one big step does the work of many small ones. At
#   Pinterest's sizes the rule held only partly: from 512 to 4096 (8×) the iterations fell 3.9×,
#   and from 2048 to 4096 only from 130k to 100k.
# * **Time per iteration grows, but much less than the batch.** An iteration embeds B queries, B
#   positives **and 500 shared negatives** with their neighbourhoods. At B = 64 the negatives are most
#   of the work, and neighbourhoods overlap more as the batch grows (notebook 04), so 16× the pairs
#   cost only a small multiple of the time here (the ratio printed above). The paper's GPUs show the
#   same shape: 8× the batch, 3.8× the time per iteration.
# * **The product.** In the run shown, time to target falls all the way to batches of 1,024: the
#   iterations fall faster than the time per iteration grows. The timings vary between runs (the
#   table above); the iteration counts do not. The paper's total time turned back up at 4096
#   because there the iterations stopped falling in proportion while the time per iteration kept
#   growing: 2048 was the sweet spot. Where the sweet spot lies depends on the model, the data and
#   the hardware (on a GPU, small batches leave the device mostly idle; at the paper's sizes it was
#   busy). Run the full size to look for the turn here: when we did, batches of 2048 already needed
#   more pairs to reach the target than the smaller ones, and batches of 4096 more iterations than
#   batches of 2048 — on our data, too, the linear scaling rule stops holding at large batches.
#
# > Our remark: "converge" in the paper means reaching the final quality of a long run; a target
# > training loss on a few thousand pairs is a much cheaper stand-in. It measures the same trade-off
# > (how much each pair teaches at a given batch size), not the same end point.
#
# ## What Pinterest did at web scale
#
# * **One machine, 16 GPUs, 32 CPU cores.** The graph and the features of billions of pins lived in
#   the main memory of one machine (500 GB, with Linux HugePages); its 32 cores ran the producer —
#   neighbourhood sampling, re-indexing, feature gathering and negative sampling for the next
#   minibatch — while its 16 Tesla K80 GPUs computed the current one. The model was written in
#   TensorFlow.
# * **The overlap cut training time almost in half**, and the GPUs never talked to the CPUs inside
#   CONVOLVE: everything a minibatch needed was already in its re-indexed subgraph.
# * **Synchronous data parallelism**: each minibatch split evenly across the 16 GPUs, the gradients
#   aggregated, one SGD step — what DDP does on our two CPU processes.
# * **Large minibatches, 512 to 4096 pairs**, with a learning rate warmed up linearly over the first
#   epoch (linear scaling rule) and decayed exponentially after. Table 3: 2048 pairs per batch gave
#   the shortest total time, 48.8 hours (1,350 ms × 130k iterations), against 63.9 hours at 512 and
#   68.4 at 4096.
# * **The data**: 1.2 billion positive pairs, 7.5 billion training examples with their negatives. And
#   because the model is inductive, it was trained on a 300-million-item subgraph — 6× faster than on
#   the full graph, with no loss in hit-rate — and then applied to every pin (§3.4, notebook 08).
#
# ## Exercises
#
# 1. *(with check, above)* One training step — sample, forward, loss, backward, optimiser step — next
#    to the trainer's.
# 2. *(with check, above)* The warm-up-and-decay factor by hand.
# 3. *(with check, above)* A DDP rank's share of a global minibatch.
# 4. Make the producer slower — `NeighborhoodSampler(g, 10, generator=0, num_walks=1000)` — and
#    faster — the `NeighborhoodTable` — and redraw the two timelines. When does the worker help most?
#    What happens with `num_workers=2` on a 2-core machine, and why?
# 5. Train the live run with `warmup_epochs=0` and a peak rate of 10⁻² (what the linear scaling rule
#    would give a batch of about 5,000). Does the loss misbehave in the first steps? Then put the
#    warm-up back.
# 6. Launch the DDP run with `--nproc_per_node=3` and `--batch-size 64`: the shares are now 21, 21
#    and 22 pairs. Is the step still the single-process step (compare the step losses as above)? If
#    each rank simply took the mean loss of its own share and DDP averaged the ranks, the pairs of
#    the smaller shares would weigh more — how would you correct for that?
# 7. Extend the batch-size sweep to 2048 and 4096 (or run the full size). Do the iterations to the
#    target still fall in proportion? Where is the shortest time to target on your machine?
