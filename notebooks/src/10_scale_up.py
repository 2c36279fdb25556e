# %% [markdown]
# # 10 · The same code at full size (§3.3–§3.4)
#
# Every notebook so far ran on a few thousand movies. Pinterest ran PinSage on about **3 billion
# nodes**. This notebook runs the *same* library calls on graphs of growing size and measures what
# grows with them: you will push a synthetic pins–boards graph through the whole pipeline — random
# walks, a short training run, layer-wise inference (`embed_all`) for every pin, an exact and an LSH
# index — and print the seconds and the memory of each stage (a 20,000-pin graph in classroom size,
# the **1,000,000-pin** graph and the full goodbooks graph with `PINSAGE_EDU_SIZE=full`); measure the
# **scaling curve** of inference (time grows linearly with the number of items); open a graph from
# disk **memory-mapped**; read the commands that run the same code on **one GPU, several GPUs and
# several machines**; and actually run the **sharded inference** on two CPU processes, checking that
# two ranks produce exactly the vectors of one. The section closes with what Pinterest did beyond one
# machine, and what it would take here.
#
# *Symbols and terms: the [notation table and glossary](00_course_map.ipynb#Notation-and-glossary) in notebook 00.*

# %% tags=["nbval-ignore-output"]
import os
import inspect
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import pinsage_edu
from pinsage_edu import exercises, load_dataset
from pinsage_edu.distributed import shard_range
from pinsage_edu.evaluate import ABLATIONS, Experiment, train_variant
from pinsage_edu.features import item_features
from pinsage_edu.graph import BipartiteGraph
from pinsage_edu.inference import embed_all, load_embeddings
from pinsage_edu.knn import ExactIndex, FaissIndex, LSHIndex, build_index, faiss_available, recall_at_k, recommend
from pinsage_edu.minibatch import NeighborhoodSampler, NeighborhoodTable
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.train import TrainConfig
from pinsage_edu.utils import seed_everything

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__} · {os.cpu_count()} CPU cores · "
      f"{torch.get_num_threads()} torch threads · CUDA available: {torch.cuda.is_available()}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
# Sizes change the graphs, the training steps and how many queries we time, never the algorithm.
# The synthetic graphs keep one shape at every size: half as many boards as pins, 20 saves per pin.
# LSH gets more bits per table on the larger graph, so that a bucket holds about as many pins.
PRESET = {
    "classroom": dict(threads=1, pins=20_000, train_steps=10, eval_pairs=500, queries=1_000, lsh_bits=12,
                      curve=[15_000, 30_000, 45_000, 60_000], goodbooks_pipeline=False, shard_dir_run=True),
    "full": dict(threads=None, pins=1_000_000, train_steps=100, eval_pairs=2_000, queries=1_000, lsh_bits=16,
                 curve=[125_000, 250_000, 500_000, 1_000_000], goodbooks_pipeline=True, shard_dir_run=True),
}[SIZE]
# Classroom size computes with one thread: on a shared two-core machine two threads per process fight
# over the cores. Full size keeps torch's default (one thread per core).
if PRESET["threads"] is not None:
    torch.set_num_threads(PRESET["threads"])

# %% [markdown]
# ## §3.4 One machine, the whole pipeline, timed
#
# > **The paper (§3.3–3.4), in our words:** Pinterest's graph has about 2 billion pins, 1 billion
# > boards and 18 billion edges. Training read the graph and the features from the main memory of
# > one machine; inference computed every pin's embedding layer by layer, each pin's vector at each
# > layer exactly once, and the recommendations came from an approximate nearest-neighbour index
# > (locality-sensitive hashing) over the stored embeddings.
#
# We run each stage on a synthetic pins–boards graph (`synthetic_pins_boards`: 20 topics, power-law
# pin popularity and board sizes, a "visual" and a "text" feature view per pin) and time it. A small
# helper records the wall-clock seconds of a stage and the process's **peak resident memory** after
# it (the high-water mark since the kernel started, so it only grows).


# %%
def peak_rss_gib() -> float:
    """The process's peak resident memory so far, in GiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**30 if sys.platform == "darwin" else peak / 2**20


def mib(*tensors) -> float:
    """Memory held by ``tensors`` (None skipped), in MiB."""
    return sum(t.numel() * t.element_size() for t in tensors if t is not None) / 2**20


STAGES: list[tuple[str, str, float, float]] = []  # (graph, stage, seconds, peak GiB)


@contextmanager
def stage(graph: str, name: str):
    """Time a stage of the pipeline and record the peak memory after it."""
    t0 = time.perf_counter()
    yield
    STAGES.append((graph, name, time.perf_counter() - t0, peak_rss_gib()))


pins = PRESET["pins"]
label = f"synthetic {pins:,}"
with stage(label, "generate the graph and features"):
    data = load_dataset("synthetic", num_pins=pins, num_boards=pins // 2, num_edges=20 * pins)
with stage(label, "split, featurise, walk (T = 10)"):
    exp = Experiment.load(data, num_neighbors=10)
g = exp.graph
assert inspect.signature(Experiment.load).parameters["num_walks"].default == 200  # walks per pin for the table

# %% tags=["nbval-check-output"]
print(g)
print(f"features {tuple(exp.x.shape)} · train pairs {len(exp.split.train_pairs):,} · "
      f"neighbourhood table {exp.table.num_items:,} × {exp.table.num_neighbors}")
assert exp.table.num_items == g.num_items == pins

# %% [markdown]
# `Experiment.load` splits the saves in time (train / val / test), builds the train graph, the
# features and one **neighbourhood table**: the top-T pins of 200 random walks from every pin (§3.2),
# computed once and looked up from then on. That table is the only piece of the graph the model ever
# reads.
#
# Now a short training run with `train_variant` (the PinSage rung of the ablation ladder: importance
# pooling, max-margin loss; no hard negatives, to keep it short). 10 steps of 512 pairs in
# classroom size, 100 in full size: enough to exercise the trainer at this size, not to train a good
# model — notebook 07 trained properly. `train_variant` validates before and after (embedding every pin
# each time) and ends by embedding every pin layer by layer.

# %%
config = TrainConfig(epochs=1, max_steps_per_epoch=PRESET["train_steps"], max_hard_negatives=0,
                     eval_pairs=PRESET["eval_pairs"])
with stage(label, f"train {PRESET['train_steps']} steps (+ 2 validations)"):
    trained = train_variant(exp, ABLATIONS[-1], config=config)
model = trained.model
with stage(label, "embed_all: every pin, layer by layer"):
    z = embed_all(model, exp.table, exp.x)

# %% tags=["nbval-ignore-output"]
h = trained.history
print(h.table())
loss = h.step_loss
print(f"loss: first 3 steps {statistics.mean(loss[:3]):.4f} → last 3 steps {statistics.mean(loss[-3:]):.4f} · "
      f"val hit-rate@10 {h.initial_hit_rate:.2%} → {h.val_hit_rates[-1]:.2%}")
assert len(loss) == PRESET["train_steps"] and statistics.mean(loss[-3:]) < statistics.mean(loss[:3])
assert z.shape == (pins, model.config.embed_dim) and torch.allclose(z, trained.embeddings, atol=1e-5)

# %% [markdown]
# The loss falls, as it should after a few steps; the validation hit-rate barely moves yet — ten steps
# are not training. The `embed_all` call recomputes what `train_variant` already returned (the same
# vectors), on its own, so that we can time it.
#
# ### Nearest neighbours at this size: an exact index and an LSH index
#
# Recommendations are a query pin's nearest pins by dot product (the embeddings are unit vectors, so
# this is the cosine). `ExactIndex` scores every pin; `LSHIndex` (notebook 08) hashes every pin into
# L = 16 tables of b random-hyperplane bits (b = 12 in classroom size, 16 at a million pins) and
# scores only the pins that share a bucket with the query in some table.
#
# One thing first. Random hyperplanes pass through the origin; an LSH table only separates vectors
# that point in different directions *around the origin*. Our briefly trained model puts every pin in
# a narrow cone — the mean embedding is nearly a unit vector itself — and then most hyperplanes leave
# the whole cone on one side and a few buckets hold most of the pins:

# %% tags=["nbval-ignore-output"]
mean_z = z.mean(0)
bits = PRESET["lsh_bits"]
plain = LSHIndex(z, num_tables=16, num_bits=bits, generator=0)
centred = LSHIndex(z, num_tables=16, num_bits=bits, center=True, generator=0)
share = {name: float(ix.bucket_sizes().max(1).values.float().mean()) / pins for name, ix in
         (("raw vectors", plain), ("centred vectors", centred))}
print(f"length of the mean embedding: {mean_z.norm():.2f} "
      "(1 = all pins point the same way, 0 = spread around the origin)")
for name, s in share.items():
    print(f"LSH on the {name:>15}: the largest bucket of a table holds {s:.1%} of all pins "
          f"(on average over the 16 tables; evenly spread would be {1 / 2**bits:.3%})")
assert share["centred vectors"] < share["raw vectors"] / 2
del plain

# %% [markdown]
# So we **hash the centred vectors** z − z̄ (the directions around the mean) but **score the candidates
# with the original vectors**, exactly as the exact index does — centring changes which pins are
# candidates, never how they are ranked. That is `LSHIndex(z, center=True)`.
#
# > Our remark: this is not in the paper, which does not say how its embeddings were spread. A model
# > trained to convergence spreads its pins more than ours after ten steps (notebook 09 measures the
# > spread), but nothing in the max-margin loss removes a common component (it compares z_q · z_i with
# > z_q · z_n, and a direction shared by all pins adds to both), and such a component silently turns
# > LSH into a slow exact search. Checking `bucket_sizes()` before serving is cheap.


# %%
queries = torch.randperm(pins, generator=torch.Generator().manual_seed(0))[:PRESET["queries"]]
with stage(label, "exact index: build + search"):
    exact = ExactIndex(z)
    exact_ids, _ = exact.search(queries, 10)
with stage(label, f"LSH index (16 × {bits} bits): build"):
    lsh = LSHIndex(z, num_tables=16, num_bits=bits, center=True, generator=0)
with stage(label, "LSH index: search"):
    lsh_ids, _ = lsh.search(queries, 10)
candidates = lsh.candidates(queries)[0].numel() / queries.numel() - 1  # less the query itself
if faiss_available():
    with stage(label, "faiss flat index: build + search"):
        faiss_ids, _ = FaissIndex(z).search(queries, 10)

# %% tags=["nbval-ignore-output"]
topic = data.items.topic
recall = recall_at_k(lsh_ids, exact_ids)
same_topic = float((topic[exact_ids] == topic[queries, None]).float().mean())
same_topic_lsh = float((topic[lsh_ids.clamp_min(0)] == topic[queries, None]).float().mean())
chance = float(torch.bincount(topic).pow(2).sum()) / topic.numel() ** 2
print(f"{len(queries):,} queries, k = 10: LSH scored {candidates:,.0f} candidates per query "
      f"({candidates / pins:.1%} of the pins) and found {recall:.1%} of the exact top 10")
print(f"share of the top 10 in the query's own topic: exact {same_topic:.1%} · LSH {same_topic_lsh:.1%} · "
      f"chance {chance:.1%}")
assert recall > 0.6 and candidates < 0.25 * pins
assert same_topic > 3 * chance and same_topic_lsh > 3 * chance
if faiss_available():
    print(f"faiss' exact top 10 agrees with ours on {recall_at_k(faiss_ids, exact_ids):.1%} of the entries")
    assert recall_at_k(faiss_ids, exact_ids) > 0.99

# %% [markdown]
# The synthetic graph knows each pin's topic, so we can see that the embeddings make sense at any size:
# most of a pin's ten nearest pins share its topic, several times more than chance. LSH scores only
# a small share of the catalogue and keeps most of the exact top 10 (notebook 08 trades recall for
# speed with more tables, bits and probes).
#
# Look at the seconds below, though: on our CPU, at this size, the exact search is *faster* than LSH.
# It is one dense matrix product, which a CPU (and faiss, a tuned library) does at full speed, while
# LSH gathers and sorts scattered candidates. The exact search's cost grows with N for every query;
# LSH's grows with the candidates, which stay a small share when the bits per table grow with
# log N. The crossing point lies far beyond our classroom graphs — at Pinterest's billions, exact
# search is out of the question.
#
# ### The stages side by side

# %% tags=["nbval-ignore-output"]
sizes = {"graph (CSR both ways)": mib(*(getattr(g, a) for a in ("item_indptr", "item_indices", "item_weights",
                                                                 "coll_indptr", "coll_indices", "coll_weights"))),
         "features x": mib(exp.x),
         "neighbourhood table": mib(exp.table.table.ids, exp.table.table.weights, exp.table.table.mask),
         "one layer's messages [N, m]": pins * model.config.hidden_dim * 4 / 2**20,
         "embeddings z": mib(z),
         "LSH index": mib(lsh.sorted_codes, lsh.order),
         "model parameters": mib(*model.parameters())}


def print_stages(graph: str) -> None:
    print(f"{'stage':<42} {'seconds':>8} {'peak memory':>12}")
    for gr, name, sec, peak in STAGES:
        if gr == graph:
            print(f"{name:<42} {sec:8.2f} {peak:9.2f} GiB")


print(f"== {label} pins, {g.num_collections:,} boards, {g.num_edges:,} train edges")
print_stages(label)
print(f"\n{'array':<42} {'MiB':>8} {'bytes per pin':>14}")
for name, size in sizes.items():
    print(f"{name:<42} {size:8.1f} {size * 2**20 / pins:14.0f}")
per_pin = sum(v for k, v in sizes.items() if k != "model parameters") * 2**20 / pins
print(f"\nall of it ≈ {per_pin:.0f} bytes per pin → 2 billion pins would need ≈ {per_pin * 2e9 / 2**40:.1f} TiB "
      f"at these widths (d = {model.config.embed_dim}, m = {model.config.hidden_dim}, {exp.x.shape[1]} features)")
print(f"a million pins at {per_pin:.0f} bytes per pin ≈ {per_pin * 1e6 / 2**30:.1f} GiB; the paper's features alone "
      f"((4096 + 256) × 32-bit floats) are {(4096 + 256) * 4 / 1000:.0f} KB per pin, "
      f"{(4096 + 256) * 4 * 2e9 / 1e12:.0f} TB for 2 billion pins")

# %% [markdown]
# In classroom size every stage takes a second or a few, and training takes most of it — largely
# one-off costs (setting up the optimiser, the two validations that embed every pin).
#
# At a million pins (full size; `PINSAGE_EDU_SIZE=full` prints its own table of stages) the split, the
# features, the walks and `embed_all` grow somewhat more than the 50 times the pins, but in our run the
# training stage grew far more, and most of its time was not the training steps themselves. It was the
# two **validations**: the trainer embeds every pin for them the *naive* way, Algorithm 2 per
# minibatch (notebook 08). On 20,000 pins the minibatches'
# neighbourhoods overlap a lot; on a million they hardly do, so nearly every neighbour's vector is
# recomputed in every minibatch that reaches it — the waste that layer-wise inference removes, seen at
# full size. It also set the run's peak memory (while scoring validation queries against every pin).
#
# The memory table explains why Pinterest needed more than one machine for inference: even at our
# small widths every pin costs one or two kilobytes, and the paper's features alone (a 4,096-d visual
# and a 256-d text embedding per pin) are 17 KB per pin in 32-bit floats — about 35 TB for 2 billion
# pins (both printed above).
#
# ## How inference time grows with the catalogue
#
# `embed_all` maps every item once per layer, joins each item's T neighbours' messages and reduces
# them: K · N · (one message + one pooling of T rows) — **linear in N**, the same arithmetic per item
# at every size. The naive way (Algorithm 2 per minibatch, notebook 08) recomputes shared neighbours:
# its cost per item is several times larger and grows with N, until the neighbourhoods inside a
# minibatch stop overlapping (at most 1 + T + T² vectors per item for K = 2). We measure `embed_all`
# on synthetic graphs of four sizes (same shape: N/2 boards, 20 N saves), with an untrained model —
# the arithmetic does not depend on the weights — and the neighbourhood table built from 50 walks per
# pin (the table's shape, N × T, is what inference reads; 50 walks instead of 200 only make this cell
# faster). Each `embed_all` is run three times and the fastest run kept, which filters out most of the
# noise of a shared machine.

# %%
curve = []
for n in PRESET["curve"]:
    ds = load_dataset("synthetic", num_pins=n, num_boards=n // 2, num_edges=20 * n)
    gn = ds.graph()
    xn = item_features(ds, gn).x
    t0 = time.perf_counter()
    tab = NeighborhoodTable.build(gn, 10, generator=0, num_walks=50)
    walk_s = time.perf_counter() - t0
    torch.manual_seed(0)
    m = PinSage(PinSageConfig.classroom(xn.shape[1]))
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        zn = embed_all(m, tab, xn)
        runs.append(time.perf_counter() - t0)
    curve.append(dict(n=n, edges=gn.num_edges, walk_s=walk_s, embed_s=min(runs)))
    del ds, gn, xn, tab, zn

# %%
ns = [c["n"] for c in curve]
fig, axes = plt.subplots(1, 2, figsize=(13, 4))
for ax, key, what in ((axes[0], "embed_s", "embed_all (2 layers + head)"),
                      (axes[1], "walk_s", "neighbourhood table (50 walks/pin)")):
    secs = [c[key] for c in curve]
    ax.plot(ns, secs, "o-", label="measured")
    ax.plot([0, ns[-1]], [0, secs[-1]], "k:", lw=1, label="proportional to N (through the largest)")
    ax.set(xlabel="pins N", ylabel="seconds", title=what, xlim=(0, None), ylim=(0, None))
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
fig.suptitle(f"Time against catalogue size ({SIZE} size, {torch.get_num_threads()} torch thread(s))")
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
print(f"{'pins':>10} {'edges':>11} {'embed_all s':>12} {'µs per pin':>11} {'walks s':>8} {'µs per pin':>11}")
for c in curve:
    print(f"{c['n']:>10,} {c['edges']:>11,} {c['embed_s']:12.3f} {1e6 * c['embed_s'] / c['n']:11.1f} "
          f"{c['walk_s']:8.2f} {1e6 * c['walk_s'] / c['n']:11.1f}")
per_item = [c["embed_s"] / c["n"] for c in curve]
growth = per_item[-1] / per_item[0]
print(f"time per pin, largest vs smallest graph: {growth:.2f}× for {ns[-1] // ns[0]}× the pins")
core_hours = 3e9 * per_item[-1] / 3600
print(f"3 billion pins at the largest graph's rate: {core_hours:,.0f} hours of {torch.get_num_threads()} core(s), "
      f"at our widths (m = 128, d = 64, T = 10)")
assert growth < 3  # linear: the time per pin does not grow with N (timings are noisy: a generous margin)
assert curve[-1]["embed_s"] > curve[0]["embed_s"]  # and 4× the pins do take longer
assert core_hours > 1  # the prose below says "hours"

# %% [markdown]
# Both curves are straight lines through (about) the origin: twice the pins, twice the time. The time
# per pin of `embed_all` stays within a small factor across the sizes; the timings of a shared machine
# are noisy. (Below about 10,000 pins it drops: the per-layer arrays then fit in the processor's
# caches, and the join, which reads message rows from all over them, gets faster. That is why the
# classroom curve starts at 15,000 pins; at full size the curve runs from 125,000 to a million.)
# The walks are linear too.
#
# So a billion pins cost a predictable multiple of a million: at our microseconds per pin, 3 billion
# pins would take the hours of computing printed above, on this machine's cores. The constant matters more
# than the shape: the paper's widths (m = 2048 instead of 128, d = 1024 instead of 64, T = 50 instead
# of 10) multiply the arithmetic per pin by hundreds. That is a job for many machines, which is where
# the layer-wise structure pays: each layer is one map and one join over all pins, easy to split.
#
# ## Graphs larger than memory: memory-mapped
#
# Pinterest's training machine held the graph and the features in 500 GB of RAM. A graph too large
# for the memory of *our* machine can stay on disk: `BipartiteGraph.save(folder)` writes its arrays
# as `.npy` files, and `BipartiteGraph.load(folder, mmap=True)` maps them into memory without reading
# them — the operating system pages in only the parts a walk touches, and evicts them again when
# memory is short. The same walks run on the mapped graph:

# %% tags=["nbval-check-output"]
with tempfile.TemporaryDirectory() as tmp:
    g.save(Path(tmp) / "graph")
    files = sorted(p.name for p in (Path(tmp) / "graph").iterdir())
    on_disk = sum(p.stat().st_size for p in (Path(tmp) / "graph").iterdir()) / 2**20
    t0 = time.perf_counter()
    mapped = BipartiteGraph.load(Path(tmp) / "graph", mmap=True)
    open_s = time.perf_counter() - t0
    seeds = torch.arange(0, pins, max(1, pins // 256))
    walk_ram = NeighborhoodSampler(g, 10, generator=0)(seeds)
    walk_map = NeighborhoodSampler(mapped, 10, generator=0)(seeds)
    same = torch.equal(walk_ram.ids, walk_map.ids) and torch.equal(walk_ram.weights, walk_map.weights)
    print("files:", ", ".join(files))
    print(f"walks from {seeds.numel()} pins on the mapped graph = walks on the graph in memory: {same}")
    del mapped, walk_map
assert same
print(f"({on_disk:.1f} MiB on disk, opened in {1000 * open_s:.1f} ms)")

# %% [markdown]
# Opening takes milliseconds whatever the size: nothing is read until a walk needs it. The other
# arrays can live on disk the same way — the features as a memory-mapped `.npy` (a *feature store*:
# `embed_all` already moves features to the model's device chunk by chunk), the neighbourhood table
# written once after the walks, and each layer's messages as shard files (below).
#
# ## The full goodbooks graph

# %% tags=["nbval-check-output"]
books = load_dataset("goodbooks")
print(books.summary())
assert books.num_items == 10_000

# %% [markdown]
# Goodbooks-10k: 10,000 books on 34,250 shelves that readers made (a shelf is a board, a book a pin),
# weighted by how many readers shelved a book so. Ten thousand items but a million weighted edges —
# three times as many as our 20,000-pin synthetic graph — and shelves as large as the whole
# catalogue (`to-read`). In full size the pipeline above runs on it too:

# %% tags=["nbval-ignore-output"]
if PRESET["goodbooks_pipeline"]:
    gb_label = "goodbooks-10k"
    with stage(gb_label, "split, featurise, walk (T = 10)"):
        gb = Experiment.load(books, num_neighbors=10)
    with stage(gb_label, f"train {PRESET['train_steps']} steps (+ 2 validations)"):
        gb_trained = train_variant(gb, ABLATIONS[-1], config=config)
    with stage(gb_label, "embed_all: every book, layer by layer"):
        gb_z = embed_all(gb_trained.model, gb.table, gb.x)
    gb_queries = torch.randperm(gb.graph.num_items, generator=torch.Generator().manual_seed(0))[:PRESET["queries"]]
    with stage(gb_label, "exact index: build + search"):
        gb_exact, _ = ExactIndex(gb_z).search(gb_queries, 10)
    with stage(gb_label, "LSH index (16 × 12 bits): build + search"):
        gb_lsh = LSHIndex(gb_z, num_tables=16, num_bits=12, center=True, generator=0)
        gb_lsh_ids, _ = gb_lsh.search(gb_queries, 10)
        gb_candidates = gb_lsh.candidates(gb_queries)[0].numel() / gb_queries.numel() - 1
    print(f"== {gb_label}: {gb.graph}")
    print_stages(gb_label)
    print(f"LSH: {gb_candidates:,.0f} candidates per query, recall@10 {recall_at_k(gb_lsh_ids, gb_exact):.1%}")
    example = books.items.find("The Hobbit")[0]
    print(f"nearest to {books.items.titles[example]!r} after {PRESET['train_steps']} steps (not trained yet):",
          "; ".join(books.items.titles[i] for i in ExactIndex(gb_z).search(torch.tensor([example]), 5)[0][0].tolist()))
    assert gb_z.shape[0] == books.num_items and gb_candidates < gb.graph.num_items
else:
    print("classroom size: goodbooks loaded and summarised only (PINSAGE_EDU_SIZE=full runs the whole pipeline on it)")

# %% [markdown]
# ## §3.3 One GPU, several GPUs, several machines: the commands
#
# Nothing in the library changes between a laptop and a cluster; the command line does. These cells
# only *print* the commands (the flags are those of `python -m pinsage_edu train --help` and
# `embed --help`; README.md, "Training runs", explains each).
#
# **One GPU.** `--device cuda` puts the model, the minibatches and the layer-wise inference on the GPU
# (bf16 autocast in training; `--no-amp` turns it off); `--workers n` starts n CPU processes that
# build the next minibatches while the GPU computes (§3.3's producer–consumer); `--sampling device`
# runs the walks on the GPU instead.

# %%
RUN = "runs/books-gpu"
print(f"python -m pinsage_edu train --dataset goodbooks --preset paper --device cuda --workers 4 --out {RUN}")
print(f"python -m pinsage_edu embed --run-dir {RUN} --device cuda")
print(f"python -m pinsage_edu recommend --embeddings {RUN}/embeddings-best.pt --item 'The Hobbit' -k 10 --method lsh")
print(f"python -m pinsage_edu evaluate --embeddings {RUN}/embeddings-best.pt --pairs test")

# %% [markdown]
# **Several GPUs on one machine.** The same command under `torchrun`, one process (*rank*) per GPU.
# Each rank takes 1/G of every global minibatch (`--batch-size` is the global size), DDP averages the
# gradients, every rank takes the same step (notebook 07 ran this with two CPU processes). `embed`
# under `torchrun` splits the **items**: each rank maps and reduces its contiguous shard of the pins,
# and after every layer the ranks exchange their messages — by an all-gather, or with `--shard-dir`
# through files in a folder every rank can read (the MapReduce picture: each layer is written once as
# shards and read back by every rank). Rank 0 writes the embeddings file.

# %%
print("torchrun --standalone --nproc-per-node 8 -m pinsage_edu train --dataset goodbooks --preset paper \\\n"
      "    --device cuda --workers 4 --batch-size 2048 --lr 4e-3 --out runs/books-8gpu")
print("torchrun --standalone --nproc-per-node 8 -m pinsage_edu embed --run-dir runs/books-8gpu --device cuda")
print("torchrun --standalone --nproc-per-node 8 -m pinsage_edu embed --run-dir runs/books-8gpu --device cuda \\\n"
      "    --storage-device cpu --chunk-size 65536 --shard-dir /shared/books-8gpu/shards")

# %% [markdown]
# The learning rate follows the linear scaling rule (4 × the batch of 512, 4 × the rate; the warm-up
# makes it safe, notebook 07). `--storage-device cpu` keeps the per-layer arrays in the CPU's memory
# and moves one chunk of `--chunk-size` items at a time to the GPU: GPU memory then bounds the chunk,
# not the catalogue.
#
# **Several machines.** Run the same command on every machine, pointing all of them at one rendezvous
# endpoint (a host:port on the first machine that the others can reach); `--node-rank` says which
# machine is which. The dataset must exist on every machine, `--out` and `--shard-dir` must be on a
# filesystem all of them share.

# %%
for r in range(2):
    print(f"# on machine {r} of 2 (8 GPUs each); HOST0 is machine 0's address")
    print(f"torchrun --nnodes 2 --nproc-per-node 8 --node-rank {r} --rdzv-id books-run1 --rdzv-backend c10d \\\n"
          f"    --rdzv-endpoint HOST0:29500 -m pinsage_edu train --dataset goodbooks --preset paper \\\n"
          f"    --device cuda --workers 4 --batch-size 4096 --lr 8e-3 --out /shared/runs/books-16gpu")
print("# then, the same way on both machines, 16 ranks embed 1/16 of the items each")
print("torchrun --nnodes 2 --nproc-per-node 8 --node-rank R --rdzv-id books-embed1 --rdzv-backend c10d \\\n"
      "    --rdzv-endpoint HOST0:29500 -m pinsage_edu embed --run-dir /shared/runs/books-16gpu --device cuda \\\n"
      "    --shard-dir /shared/runs/books-16gpu/shards")

# %% [markdown]
# ## Sharded inference on two CPU processes, for real
#
# The commands above need GPUs; the sharding does not. We run it here with two CPU processes (gloo):
#
# 1. `python -m pinsage_edu train` writes a tiny run folder (MovieLens, 2 steps — the weights do not
#    matter, only that both ways use the same ones);
# 2. `python -m pinsage_edu embed --run-dir DIR --out one.pt` embeds every movie in one process;
# 3. `torchrun --standalone --nproc-per-node 2 -m pinsage_edu embed --run-dir DIR --out two.pt` embeds
#    them on two ranks, each its half, exchanging each layer's messages by all-gather;
# 4. the same with `--shard-dir DIR/shards`: through files instead.
#
# Each process loads the data and rebuilds the same neighbourhood table from the run's recorded
# settings (seeded walks), so all three must give the same vectors up to float rounding. If a launch
# fails on your machine (no free port, a sandbox without process groups…), the cell says why and the
# notebook carries on.

# %% tags=["nbval-ignore-output"]
work = tempfile.TemporaryDirectory()
W = Path(work.name)
env = {**os.environ, "OMP_NUM_THREADS": "1"}


def launch(*args: str, torchrun: bool = False) -> subprocess.CompletedProcess:
    """Run ``python -m pinsage_edu ARGS`` (under torchrun with 2 processes if asked); print what it said."""
    prefix = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "pinsage_edu"] \
        if torchrun else ["-m", "pinsage_edu"]
    shown = ("torchrun --standalone --nproc-per-node 2 -m pinsage_edu " if torchrun else "python -m pinsage_edu ")
    print("$", (shown + shlex.join(args)).replace(str(W), "DIR"))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, *prefix, *args], capture_output=True, text=True, env=env, timeout=600)
    out = (proc.stdout + ("" if proc.returncode == 0 else proc.stderr)).strip().replace(str(W), "DIR")
    print("\n".join(out.splitlines()[-(3 if proc.returncode == 0 else 15):]))
    print(f"  (exit code {proc.returncode}, {time.perf_counter() - t0:.1f} s)\n")
    return proc


tiny = launch("train", "--dataset", "ml-latest-small", "--epochs", "1", "--steps-per-epoch", "2", "--max-hard", "0",
              "--eval-pairs", "100", "--no-progress", "--out", str(W / "run"))
one = launch("embed", "--run-dir", str(W / "run"), "--out", str(W / "one.pt"))
assert tiny.returncode == 0 and one.returncode == 0  # one process must work everywhere
two = launch("embed", "--run-dir", str(W / "run"), "--out", str(W / "two.pt"), torchrun=True)
files = None
if PRESET["shard_dir_run"]:
    files = launch("embed", "--run-dir", str(W / "run"), "--out", str(W / "files.pt"), "--shard-dir", str(W / "shards"),
                   torchrun=True)

# %% tags=["nbval-ignore-output"]
single = load_embeddings(W / "one.pt")
print(f"one process: {len(single):,} movies × {single.vectors.shape[1]} · model {single.model_hash} · "
      f"first: {single.titles[0]}")
for name, proc, path in (("2 ranks, all-gather", two, W / "two.pt"), ("2 ranks, shard files", files, W / "files.pt")):
    if proc is None:
        continue
    if proc.returncode != 0:
        print(f"{name}: the launch failed (exit code {proc.returncode}), nothing to compare")
        continue
    sharded = load_embeddings(path, expect_hash=single.model_hash)  # the same model, or an error
    gap = float((sharded.vectors - single.vectors).abs().max())
    print(f"{name}: {len(sharded):,} vectors, largest difference from one process {gap:.1e}")
    assert "on 2 processes" in proc.stdout and sharded.item_ids == single.item_ids
    assert torch.allclose(sharded.vectors, single.vectors, atol=1e-5)
if files is not None and files.returncode == 0:
    print("shard files left by the exchange:", ", ".join(sorted(p.name for p in (W / "shards").iterdir())))

# %% [markdown]
# Two ranks, each computing half of the movies at each layer, give the vectors of one process (the
# differences are float rounding, if any: each item's arithmetic is the same, only where it happens
# changes). The shard folder shows the MapReduce picture: each rank wrote its half of each layer's
# messages (`layer1-messages-rank0.pt` …) and of the final embeddings, and read the others'. At
# MovieLens' size the two processes spend most of their seconds starting Python and rebuilding the
# table; the split pays when the map and the join are the work — millions of pins, paper widths.
#
# Last, the serving side needs nothing but the embeddings file — no graph, no model. What
# `python -m pinsage_edu recommend --embeddings two.pt --item "Toy Story (1995)" -k 5 --method lsh` prints,
# in-process (starting one more Python costs more seconds than the search):

# %% tags=["nbval-ignore-output"]
served = load_embeddings(W / ("two.pt" if two.returncode == 0 else "one.pt"))
print(recommend(build_index(served.vectors, "lsh"), "Toy Story (1995)", 5, titles=served.titles))
work.cleanup()

# %% [markdown]
# (Two training steps: the neighbours are not good recommendations yet. `evaluate --embeddings F`
# would put them next to the baselines on the held-out pairs, as in notebook 09.)
#
# ### Exercise — a rank's shard of the items
#
# Write `my_shard_range(total, rank, size)`: the contiguous items `[lo, hi)` that rank `rank` of
# `size` embeds, covering 0 … total − 1 in rank order, the shares differing in size by at most one
# (the first `total % size` ranks take one more). `exercises.check_shard_range` compares it with
# `shard_range`, which `embed_all` uses, on five item/rank counts (including more ranks than items).

# %%
def my_shard_range(total: int, rank: int, size: int) -> tuple[int, int]:
    raise NotImplementedError  # your code here

# %% tags=["nbval-check-output"]
exercises.check_shard_range(my_shard_range)

# %% tags=["nbval-check-output"]
# The million-pin graph's items over 16 ranks (2 machines × 8 GPUs): what each rank maps and reduces.
print([shard_range(1_000_000, r, 16) for r in (0, 1, 15)])
print("sizes:", sorted({hi - lo for lo, hi in (shard_range(1_000_003, r, 16) for r in range(16))}), "for 1,000,003 items")

# %% [markdown]
# ## What Pinterest did at web scale
#
# * **Training on one machine.** The graph and the features of billions of pins lived in the main
#   memory (500 GB, Linux HugePages) of **one machine with 32 CPU cores and 16 Tesla K80 GPUs**. The
#   CPUs ran the producer — walks, re-indexing, feature gathering, negatives — for the next minibatch
#   while the GPUs computed the current one (the overlap cut training time almost in half); each
#   minibatch was split evenly over the 16 GPUs and their gradients aggregated for one synchronous
#   step (notebook 07).
# * **Training on a subgraph, inductively.** Because PinSage computes an embedding from a pin's
#   features and its neighbourhood, not from a per-pin parameter, the model was trained on a
#   **300-million-pin subgraph** — 6× faster than on the full graph, with no loss in hit-rate — and
#   then applied to every pin, new ones included.
# * **Inference with MapReduce.** The trained model embedded **3 billion pins in under 24 hours on a
#   Hadoop2 cluster of 378 AWS d2.8xlarge nodes**: layer by layer, one map of every pin through the
#   layer's neighbour transform, a join that pools each pin's neighbourhood, and so on for K layers —
#   each pin's vector at each layer computed once (our `embed_all`, and its shards under `torchrun`).
#   In the paper's MapReduce picture the layers alternate pins → boards → pins; our neighbourhoods
#   are item → item through collections (§3.2's "top-T nodes"), so each of our layers is one
#   pin-to-pin map and join.
# * **Serving.** The embeddings were stored in a database and searched with locality-sensitive
#   hashing and a two-level retrieval (WeakAND) for the nearest pins.
#
# **What it would take here.** The library runs unchanged on one machine up to what fits in its memory
# — the million-pin graph's arrays take about 1.5 GiB (printed under the table above; validation, which
# scores queries against every pin, sets the peak). Beyond that: a graph saved once and
# **memory-mapped** (`BipartiteGraph.load(..., mmap=True)`, above), so walks read from disk what
# does not fit; features in a **feature store** read chunk by chunk (a memory-mapped array would do;
# `embed_all` already reads features one chunk at a time); the neighbourhood table computed once and
# saved, like the graph; and inference **sharded** over ranks on several machines with **shard files**
# on a shared filesystem (`--shard-dir`), which is the MapReduce job without Hadoop. Training would
# stay on one machine, on a subgraph, as Pinterest did. What we have not built: the all-gather of a
# layer still gives every rank all N messages — at billions of pins each rank would read only the
# rows its shard's neighbourhoods need.
#
# ## Exercises
#
# 1. *(with check, above)* A rank's contiguous shard of the items.
# 2. Run this notebook with `PINSAGE_EDU_SIZE=full` (16 GiB of memory at the peak; about half an hour
#    on two cores). Which stage grows most from 20,000 to 1,000,000 pins, per pin? Then validate the
#    same model yourself with `embed_all` and `exact_top_k` instead of the trainer's naive embedding:
#    how much faster is it?
# 3. Time `embed_all(model, exp.table, exp.x, chunk_size=c)` for c = 256, 1024, 8192, 65536. Why does
#    a small chunk cost time, and what does a large one cost instead? Which would you pick on a GPU
#    with `storage_device="cpu"`?
# 4. Train the classroom model properly (notebook 07's two epochs) on the synthetic graph and measure
#    the length of the mean embedding and the largest LSH bucket again. Does LSH on the raw vectors
#    still degenerate?
# 5. Launch the sharded `embed` with `--nproc-per-node 3`. Which items does each rank embed, and what
#    do the shard files hold? Check the vectors against one process as above.
# 6. The memory table gives the bytes per pin. With the paper's widths (T = 50, m = 2048, d = 1024, and
#    4,353 features per pin), how much memory would inference need for 3 billion pins, and how many
#    d2.8xlarge nodes (244 GiB of memory each) would hold one layer's messages?
