# %% [markdown]
# # 03 · CONVOLVE: Algorithm 1 (§3.2)
#
# Notebook 02 gave every item a neighbourhood N(u) of T items with importance weights α. This notebook
# builds the layer that turns an item's own vector and its neighbours' vectors into a new embedding:
# **CONVOLVE**, the paper's Algorithm 1. You will run its three lines by hand on a tiny example whose
# numbers you can follow, check them against the library's `Convolve` (both ways of calling it), fix
# a typo in the paper's pseudo-code, watch what each line does to lengths and angles on a real movie,
# compare importance, mean and max pooling on the same neighbourhood (and write all three yourself),
# and stack K = 2 layers into the PinSage model. Last, you write CONVOLVE itself — and the checker
# trains a PinSage whose layers run your code.
#
# *Symbols and terms: the [notation table and glossary](00_course_map.ipynb#Notation-and-glossary) in notebook 00.*

# %% tags=["nbval-ignore-output"]
import os

import matplotlib.pyplot as plt
import torch
from torch.nn import functional as F

import pinsage_edu
from pinsage_edu import exercises, item_features, load_dataset
from pinsage_edu.convolve import Convolve, pool
from pinsage_edu.minibatch import NeighborhoodTable, sample_blocks
from pinsage_edu.model import PinSage, PinSageConfig
from pinsage_edu.utils import seed_everything
from pinsage_edu.walks import importance_neighborhoods

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
# Sizes change T and how many walks we afford, never the algorithm. (The layers are untrained here in
# both sizes: training is notebook 05.)
PRESET = {
    "classroom": dict(T=10, walks_one_movie=1_000, walks_catalogue=200),
    "full": dict(T=50, walks_one_movie=10_000, walks_catalogue=1_000),
}[SIZE]
T = PRESET["T"]

# %% [markdown]
# ## §3.2 Algorithm 1 in three lines
#
# > CONVOLVE takes the current embedding $z_u$ of a node, the embeddings $\{z_v : v \in N(u)\}$ of its
# > neighbours, their weights α and a symmetric pooling function γ, and returns a new embedding of u.
# > Its parameters are Q, q (the neighbour transform) and W, w (the combination).
#
# $$\begin{aligned}
# &\text{line 1:}\quad n_u \leftarrow \gamma\big(\{\mathrm{ReLU}(Q z_v + q) : v \in N(u)\},\ \alpha\big) \\
# &\text{line 2:}\quad z_u^{\text{new}} \leftarrow \mathrm{ReLU}\big(W \cdot \mathrm{CONCAT}(z_u, n_u) + w\big) \\
# &\text{line 3:}\quad z_u^{\text{new}} \leftarrow z_u^{\text{new}} / \lVert z_u^{\text{new}} \rVert_2
# \end{aligned}$$
#
# Line 1 sends every neighbour through the same small dense layer (each output is a **message**
# $m_v$ of width m) and pools the messages into one vector $n_u$; with **importance pooling** γ is the
# α-weighted mean $n_u = \sum_v \alpha_v m_v / \sum_v \alpha_v$. Line 2 puts u's own vector next to
# its pooled neighbourhood and mixes the two with a second dense layer (output width d). Line 3 scales
# the result to length 1.
#
# ### A typo in line 1: $h_v$ is $z_v$
#
# The paper's pseudo-code writes line 1 as $\mathrm{ReLU}(Q \cdot h_v + q)$, but $h_v$ appears
# nowhere among the algorithm's inputs, which are the neighbour embeddings $z_v$. It must be $z_v$:
# Algorithm 2 calls CONVOLVE at layer k with the **outputs of layer k − 1** for u *and* its
# neighbours, $h^{(k-1)}$. If line 1 read the raw features $x_v$ at every layer instead, layer 2
# would see u's neighbours exactly as layer 1 did — what the neighbours learnt from *their*
# neighbourhoods would never reach u, and stacking layers would add depth but no reach. The shapes
# say the same: in the model below, layer 2's Q takes d = 64 inputs, while the features have 86
# columns. (The library's docstrings and code use $z_v$.)
#
# ## Algorithm 1 by hand
#
# A target node u with three neighbours, 2-d embeddings (unit vectors, as a previous CONVOLVE layer
# would hand them over), weights α = (0.5, 0.3, 0.2), messages of width m = 3 and an output of width
# d = 2. The parameters are picked by hand so that every number below can be checked on paper.

# %% tags=["nbval-check-output"]
z_u = torch.tensor([1.0, 0.0])
z_nb = torch.tensor([[0.8, 0.6], [0.0, 1.0], [-0.6, 0.8]])  # z_v of the 3 neighbours, one per row
alpha = torch.tensor([0.5, 0.3, 0.2])
Q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])  # m × in = 3 × 2
q = torch.tensor([0.0, -0.2, 0.1])
W = torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0, -1.0]])  # d × (in + m) = 2 × 5
w = torch.tensor([0.0, 0.0])


def show(name, t):
    print(f"{name:<28}", [round(v, 4) for v in t.tolist()])


# line 1: transform every neighbour, then pool with the weights α
pre_msg = z_nb @ Q.T + q
messages = torch.relu(pre_msg)
n_u = (alpha[:, None] * messages).sum(0) / alpha.sum()
for v in range(3):
    show(f"Q·z_v{v + 1} + q", pre_msg[v])
    show(f"  m_v{v + 1} = ReLU(…)", messages[v])
show("n_u = Σ α_v m_v / Σ α_v", n_u)
# line 2: combine self and neighbourhood
concat = torch.cat([z_u, n_u])
combined = torch.relu(W @ concat + w)
show("CONCAT(z_u, n_u)", concat)
show("ReLU(W·CONCAT + w)", combined)
# line 3: L2-normalise
z_new = combined / combined.norm()
show("z_u new (‖·‖ = 1)", z_new)
assert torch.allclose(n_u, torch.tensor([0.4, 0.56, 0.15]))
assert torch.allclose(z_new, torch.tensor([1.4, 0.41]) / (1.4**2 + 0.41**2) ** 0.5)

# %% [markdown]
# Follow one number through: neighbour 2 has $Q z_{v_2} + q = (0, 0.8, -0.9)$, and the ReLU clips its
# third entry to 0. The pooled vector's second entry is $0.5 \cdot 0.4 + 0.3 \cdot 0.8 + 0.2 \cdot 0.6
# = 0.56$. The first row of W adds u's first coordinate to $n_u$'s first, $1 + 0.4 = 1.4$; the second
# row computes $0 + 0.56 - 0.15 = 0.41$; and the length $\sqrt{1.4^2 + 0.41^2} \approx 1.459$ scales
# both.
#
# ### The same with the library
#
# `Convolve(in_dim, hidden_dim, out_dim)` holds Q, q as `layer.Q` and W, w as `layer.W` (both
# `nn.Linear`: `weight` is the matrix, `bias` the vector). Copy our hand-picked parameters in and call
# it the two ways the library offers:
#
# * `layer(z_self [B, in], z_neighbors [B, T, in], weights [B, T], mask [B, T])` — Algorithm 1 literally;
# * `layer.forward_indexed(z_src [N_src, in], neighbors [B, T], weights, mask)` — the neighbours are given
#   as **row numbers** into `z_src`, whose first B rows are the nodes being updated. The neighbour
#   transform then runs once per row of `z_src` rather than once per (node, neighbour) pair — what the
#   minibatch (notebook 04) and the all-items inference (notebook 08) use.

# %% tags=["nbval-check-output"]
layer = Convolve(2, 3, 2)
with torch.no_grad():
    layer.Q.weight.copy_(Q)
    layer.Q.bias.copy_(q)
    layer.W.weight.copy_(W)
    layer.W.bias.copy_(w)
mask = torch.ones(1, 3, dtype=torch.bool)
literal = layer(z_u[None], z_nb[None], alpha[None], mask)
z_src = torch.cat([z_u[None], z_nb])  # row 0 is u, rows 1–3 its neighbours
indexed = layer.forward_indexed(z_src, torch.tensor([[1, 2, 3]]), alpha[None], mask)
show("Convolve(...)", literal[0])
show("Convolve.forward_indexed(...)", indexed[0])
assert torch.allclose(literal[0], z_new) and torch.allclose(indexed, literal)

# %% [markdown]
# ## The same layer on real movies
#
# Now the real thing: *The Matrix* and its T most important neighbours from random walks on the
# MovieLens train graph (notebook 02), with the item features $x$ of notebook 01 as the input
# embeddings ($h^{(0)} = x$, 86 columns). The layer has the classroom sizes of the model, m = 128 and
# d = 64, and **random, untrained** parameters (PyTorch's default initialisation): what the three
# lines do to lengths and angles is already visible before any training.

# %% tags=["nbval-check-output"]
movies = load_dataset("ml-latest-small")
split = movies.split(seed=0)
g = split.graph
titles = movies.items.titles
x = item_features(movies, g).x
matrix = movies.items.find("Matrix, The (1999)")[0]
nb = importance_neighborhoods(g, [matrix], T, num_walks=PRESET["walks_one_movie"], generator=0)
print(f"{titles[matrix]} · features {tuple(x.shape)} · its T = {T} neighbours:")
for i, a in zip(nb.ids[0].tolist(), nb.weights[0].tolist()):
    print(f"  α = {a:.3f}  {titles[i]}")
assert bool(nb.mask.all()) and abs(float(nb.weights.sum()) - 1) < 1e-5

# %% [markdown]
# The three lines in plain torch, with the layer's own parameters, then the library layer — once
# literally for *The Matrix*, and once with `forward_indexed` for **every movie of the catalogue at
# once**: `z_src` is then the whole feature matrix, and the neighbour ids are already its row numbers.
# (Movies with no train edges get an empty, all-padding neighbourhood; their $n_u$ is the zero vector
# and their embedding comes from their own features alone.)

# %% tags=["nbval-check-output"]
cfg = PinSageConfig.classroom(x.shape[1])
torch.manual_seed(0)
layer = Convolve(x.shape[1], cfg.hidden_dim, cfg.embed_dim)

with torch.no_grad():
    x_u, x_nb, a = x[matrix], x[nb.ids[0]], nb.weights[0]
    m_v = torch.relu(x_nb @ layer.Q.weight.T + layer.Q.bias)           # line 1: messages [T, m]
    n_u = (a[:, None] * m_v).sum(0) / a.sum()                           # line 1: importance pooling
    self_part = layer.W.weight[:, : x.shape[1]] @ x_u                   # W·CONCAT(z_u, n_u) splits into
    nb_part = layer.W.weight[:, x.shape[1]:] @ n_u                      # W_self·z_u + W_nb·n_u
    pre_act = self_part + nb_part + layer.W.bias
    combined = torch.relu(pre_act)                                      # line 2
    out_by_hand = combined / combined.norm()                            # line 3

    out_literal = layer(x_u[None], x_nb[None], nb.weights, nb.mask)[0]
    table = NeighborhoodTable.build(g, T, num_walks=PRESET["walks_catalogue"], generator=0).table
    out_all = layer.forward_indexed(x, table.ids, table.weights, table.mask)       # [num_items, d]
    out_all_literal = layer(x, x[table.ids.clamp_min(0)], table.weights, table.mask)

print(f"by hand vs Convolve: max |difference| < 1e-6: {bool((out_by_hand - out_literal).abs().max() < 1e-6)}")
print(f"forward_indexed vs literal forward on all {len(out_all):,} movies: "
      f"equal: {torch.allclose(out_all, out_all_literal, atol=1e-6)}")
print(f"movies with an empty neighbourhood: {int((table.mask.sum(1) == 0).sum())}")
assert torch.allclose(out_by_hand, out_literal, atol=1e-6)
assert torch.allclose(out_all, out_all_literal, atol=1e-6)

# %% [markdown]
# ## What each line does to the vectors
#
# For *The Matrix*, left to right:
#
# * **Line 1, transform.** Each neighbour's feature vector (length about 10: 86 standardised columns)
#   becomes a non-negative message of width m. The ReLU keeps every message in the non-negative
#   orthant, so the messages of different neighbours point in broadly similar directions and each
#   lies within a moderate angle of the pooled $n_u$. (With α this close to uniform, the angle shows
#   no clear trend with α.) Averaging similar-but-not-equal vectors makes $n_u$ shorter than any
#   single message.
# * **Line 2, combine.** $W \cdot \mathrm{CONCAT}(z_u, n_u)$ is the sum of two vectors in the output
#   space, $W_{\text{self}} z_u$ (from u's own features) and $W_{\text{nb}} n_u$ (from the
#   neighbourhood): W's first 86 columns act on $z_u$, the other m on $n_u$. The cosines on the bars
#   say how much of the output direction comes from each. The ReLU then zeroes the negative entries.
# * **Line 3, normalise.** Whatever its length, the output ends at length 1.

# %%
cos = lambda A, b: F.cosine_similarity(A, b.expand_as(A), dim=-1)  # noqa: E731
short = [t if len(t) <= 24 else t[:23] + "…" for t in (titles[i] for i in nb.ids[0].tolist())]
fig, axes = plt.subplots(1, 3, figsize=(17, 4.4))

ax = axes[0]
r = torch.arange(T)
ax.bar(r - 0.2, x_nb.norm(dim=1), 0.4, label="‖x_v‖ (input)")
ax.bar(r + 0.2, m_v.norm(dim=1), 0.4, label="‖m_v‖ = ‖ReLU(Q·x_v + q)‖")
ax.axhline(float(n_u.norm()), color="k", ls="--", label="‖n_u‖ (pooled)")
ax.set_xticks(r, short, rotation=60, ha="right", fontsize=8)
ax.set(ylabel="length", title="line 1: each neighbour, then the pool")
ax.set_ylim(0, 1.3 * float(x_nb.norm(dim=1).max()))
ax.legend(fontsize=8, ncol=2, loc="upper center")

ax = axes[1]
ax.scatter(a, cos(m_v, n_u), c="C1")
for i in range(T):
    ax.annotate(short[i][:14], (float(a[i]), float(cos(m_v, n_u)[i])), fontsize=7, xytext=(3, 2),
                textcoords="offset points")
ax.set(xlabel="importance weight α_v", ylabel="cos(m_v, n_u)", title="line 1: how close each message is to the pool")

ax = axes[2]
stages = {"W_self·z_u": self_part, "W_nb·n_u": nb_part, "pre-ReLU": pre_act, "after ReLU": combined,
          "after L2 norm": out_by_hand}
bars = ax.bar(list(stages), [float(v.norm()) for v in stages.values()], color=["C0", "C1", "C2", "C2", "C3"])
for b, v in zip(bars, stages.values()):
    ax.annotate(f"cos to output\n{float(F.cosine_similarity(v, out_by_hand, dim=0)):.2f}",
                (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=8)
ax.set(ylabel="length", title="lines 2 and 3: combine, clip, normalise",
       ylim=(0, 1.3 * max(float(v.norm()) for v in stages.values())))
ax.tick_params(axis="x", labelsize=8)
for ax in axes:
    ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()

# %% tags=["nbval-check-output"]
print(f"‖x_u‖ {float(x_u.norm()):.2f} · ‖x_v‖ {float(x_nb.norm(dim=1).min()):.2f}–{float(x_nb.norm(dim=1).max()):.2f} · "
      f"‖m_v‖ {float(m_v.norm(dim=1).min()):.2f}–{float(m_v.norm(dim=1).max()):.2f} · ‖n_u‖ {float(n_u.norm()):.2f}")
print(f"cos(m_v, n_u) {float(cos(m_v, n_u).min()):.2f}–{float(cos(m_v, n_u).max()):.2f}")
print(f"‖W_self·z_u‖ {float(self_part.norm()):.2f}, cos to output {float(F.cosine_similarity(self_part, out_by_hand, dim=0)):.2f} · "
      f"‖W_nb·n_u‖ {float(nb_part.norm()):.2f}, cos to output {float(F.cosine_similarity(nb_part, out_by_hand, dim=0)):.2f}")
print(f"entries zeroed by line 2's ReLU: {int((pre_act <= 0).sum())} of {pre_act.numel()} · "
      f"length before line 3 {float(combined.norm()):.2f}, after {float(out_by_hand.norm()):.2f}")
assert bool((m_v >= 0).all()) and bool((cos(m_v, n_u) > 0).all()) and float(n_u.norm()) < float(m_v.norm(dim=1).min())
assert float(self_part.norm()) > 2 * float(nb_part.norm())
assert abs(float(out_by_hand.norm()) - 1) < 1e-5

# %% [markdown]
# > Our remark: in this *untrained* layer the output direction comes mostly from the movie's own
# > features — the self part is several times longer than the neighbourhood part and much closer to
# > the output's direction (the cosines above), while the neighbourhood part is nearly orthogonal to
# > the output. That is an accident of the random initialisation (the 86-d features are longer than the
# > pooled message), not a property of CONVOLVE: training (notebook 05) sets how much W listens to
# > each half, and because line 2 *concatenates*, it can weigh them differently.
#
# Two things line 2's ReLU and line 3 do to the **whole catalogue**:
#
# * **Lengths.** Before line 3 the outputs' lengths spread over an order of magnitude (left). A dot
#   product between such vectors would reward length as much as direction; after line 3 every vector
#   has length 1, so $z_u \cdot z_v$ *is* the cosine — what nearest-neighbour search (§3.4) and the
#   margin of the loss (§3.3) rely on.
# * **Angles.** The input features of two random movies are about orthogonal on average (cosines
#   centred on 0, right). After the ReLU every output is non-negative, so no two outputs are more than
#   90° apart: the cosines of random pairs are all ≥ 0. (The model's head $G_2 \cdot \mathrm{ReLU}(\dots)$
#   has no ReLU at its end, so the *final* embeddings are free of this.)

# %%
raw = Convolve(x.shape[1], cfg.hidden_dim, cfg.embed_dim, normalize=False)  # lines 1–2 only
raw.load_state_dict(layer.state_dict())
with torch.no_grad():
    lengths = raw.forward_indexed(x, table.ids, table.weights, table.mask).norm(dim=1)
gen = torch.Generator().manual_seed(0)
pa, pb = torch.randint(0, len(x), (2, 20_000), generator=gen)
pa, pb = pa[pa != pb], pb[pa != pb]
cos_in = F.cosine_similarity(x[pa], x[pb], dim=1)
cos_out = (out_all[pa] * out_all[pb]).sum(1)

fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
axes[0].hist(lengths, bins=60, color="C2")
axes[0].axvline(1.0, color="C3", ls="--", label="after line 3: all exactly 1")
axes[0].set(xlabel="‖ReLU(W·CONCAT(z_u, n_u) + w)‖", ylabel="movies", title="lengths before line 3")
axes[0].legend()
axes[1].hist(cos_in, bins=80, alpha=0.6, label="inputs x_u, x_v", density=True)
axes[1].hist(cos_out, bins=80, alpha=0.6, label="outputs of the layer", density=True)
axes[1].set(xlabel="cosine of two random movies", ylabel="density", title="angles before and after the layer")
axes[1].legend()
for ax in axes:
    ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()

# %% tags=["nbval-check-output"]
print(f"lengths before line 3: min {float(lengths.min()):.2f}, median {float(lengths.median()):.2f}, "
      f"max {float(lengths.max()):.2f} · after: all 1 ({bool(torch.allclose(out_all.norm(dim=1), torch.ones(len(x))))})")
print(f"{len(pa):,} random pairs · cosine of inputs: mean {float(cos_in.mean()):+.2f}, min {float(cos_in.min()):+.2f} · "
      f"of outputs: mean {float(cos_out.mean()):+.2f}, min {float(cos_out.min()):+.2f}")
assert float(lengths.max() / lengths.min()) > 5 and torch.allclose(out_all.norm(dim=1), torch.ones(len(x)))
assert float(cos_in.min()) < -0.3 and float(cos_out.min()) >= 0.0  # after the ReLU no two outputs are more than 90° apart

# %% [markdown]
# ## Importance vs mean vs max pooling
#
# γ in line 1 must be **symmetric** — the result may not depend on the order of the neighbours. The
# paper's choice weighs each message by its importance; its ablations use the plain mean and the
# element-wise max:
#
# $$\gamma_{\text{importance}} = \frac{\sum_v \alpha_v m_v}{\sum_v \alpha_v}, \qquad
#   \gamma_{\text{mean}} = \frac{1}{|N(u)|}\sum_v m_v, \qquad
#   \left(\gamma_{\max}\right)_j = \max_v\, (m_v)_j .$$
#
# > Table 1 of the paper (hit-rate among ~5M candidates, K = 2, m = 2048, d = 1024): **max-pooling
# > 39%**, **mean-pooling 41%**, mean-pooling with hard negatives 46%, **PinSage 67%** (importance
# > pooling with hard negatives). The introduction credits importance pooling with the step from 46%
# > to 67%.
#
# The same messages $m_v$ of *The Matrix*'s neighbours, pooled the three ways with the library's
# `pool`. How much does each neighbour count? For importance pooling its weight is $\alpha_v$, for the
# mean $1/T$; a max-pooled vector takes each of its m coordinates from a single neighbour, so we count
# the share of coordinates each neighbour wins.

# %%
pooled = {kind: pool(kind, m_v[None], nb.weights, nb.mask)[0] for kind in ("importance", "mean", "max")}
wins = torch.bincount(m_v.argmax(0)[m_v.amax(0) > 0], minlength=T).float()
share = {"importance": a, "mean": torch.full((T,), 1 / T), "max": wins / wins.sum()}

fig, axes = plt.subplots(1, 2, figsize=(15, 4.4))
for k, kind in enumerate(share):
    axes[0].bar(r + (k - 1) * 0.27, share[kind], 0.27, label=kind)
    axes[1].plot(r, cos(m_v, pooled[kind]), "o-", label=kind)
axes[0].set(ylabel="weight of the neighbour", title="how much each neighbour counts")
axes[1].set(ylabel="cos(m_v, pooled n_u)", title="how close each message is to each pooled vector")
for ax in axes:
    ax.set_xticks(r, short, rotation=60, ha="right", fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# Now the whole layer three times with **the same parameters**, only γ swapped (a `Convolve` with
# `pooling="mean"` or `"max"` and the state of our layer loaded), on every movie of the catalogue:
# how similar are the three outputs of the same movie?

# %% tags=["nbval-check-output"]
outs = {}
for kind in ("importance", "mean", "max"):
    lay = Convolve(x.shape[1], cfg.hidden_dim, cfg.embed_dim, pooling=kind)
    lay.load_state_dict(layer.state_dict())
    with torch.no_grad():
        outs[kind] = lay.forward_indexed(x, table.ids, table.weights, table.mask)
has_nb = table.mask.any(1)
full = table.mask.all(1)
spread = table.weights[full, 0] / table.weights[full, T - 1]
c_mean = (outs["importance"] * outs["mean"]).sum(1)[has_nb]
c_max = (outs["importance"] * outs["max"]).sum(1)[has_nb]
print(f"The Matrix · ‖n_u‖: importance {float(pooled['importance'].norm()):.2f}, mean "
      f"{float(pooled['mean'].norm()):.2f}, max {float(pooled['max'].norm()):.2f} · α from "
      f"{float(a.min()):.3f} to {float(a.max()):.3f} (uniform: {1 / T:.3f})")
print(f"catalogue · largest α / smallest α in a full neighbourhood: median {float(spread.median()):.2f}")
print(f"catalogue · cosine of the layer's outputs, importance vs mean: mean {float(c_mean.mean()):.4f}, "
      f"min {float(c_mean.min()):.3f}")
print(f"catalogue · cosine of the layer's outputs, importance vs max:  mean {float(c_max.mean()):.4f}, "
      f"min {float(c_max.min()):.3f}")
assert torch.allclose(pooled["importance"], (a[:, None] * m_v).sum(0), atol=1e-5)
assert bool((pooled["max"] >= pooled["importance"] - 1e-6).all())  # a max is never below a weighted mean
assert float(c_mean.mean()) > 0.99 and float(c_max.mean()) < float(c_mean.mean())
assert SIZE != "classroom" or float(spread.median()) < 2  # "less than twice", below
top, bottom = int(a.argmax()), int(a.argmin())  # importance pooling leans towards the high-α neighbours
assert cos(m_v, pooled["importance"])[top] > cos(m_v, pooled["mean"])[top]
assert cos(m_v, pooled["importance"])[bottom] < cos(m_v, pooled["mean"])[bottom]

# %% [markdown]
# What the numbers say, for this untrained layer on MovieLens:
#
# * **Importance ≈ mean here.** In the classroom size (T = 10 from 200 walks) the most visited
#   neighbour of a typical movie has less than twice the weight of the least visited one (the median
#   ratio above), so the α-weighted mean stays close to the plain mean and the layer's outputs are
#   nearly identical. The
#   difference is still there in the right panel: importance pooling sits a little closer to the
#   high-α neighbours (*Star Wars*, *The Godfather*) and a little further from the low-α ones than
#   the mean does.
# * **Max is different.** It takes each coordinate from whichever neighbour is largest there, so a
#   single neighbour can dominate a coordinate however unimportant it is, and the pooled vector is
#   longer than either mean. Its outputs differ visibly from the other two.
#
# > Our remark: the paper's gain from importance pooling comes from a neighbourhood that is a T = 50
# > sample of a graph of billions of pins, where the walks separate strongly related pins from
# > incidental ones. A public re-implementation on a ~10k-item catalogue (see PAPER.md) found that
# > importance pooling added nothing there: when two hops already cover much of the catalogue, the
# > weights have little to tell apart. Our movie catalogue (6,298 items) is of that size, so do not
# > expect the ablation ladder of notebook 09 (Table 1 rebuilt: max-, mean- and importance pooling
# > trained side by side) to reproduce the 46% → 67% step; training, not this untrained layer, will
# > show how much it matters here.
#
# ### Exercise 1 — write γ, all three ways
#
# Write `my_pool(kind, messages, weights, mask)` — what the library's `pool` does. It gets `kind`, one
# of `"importance"`, `"mean"` and `"max"`; the messages `[B, T, m]` (≥ 0: they come out of a ReLU);
# the weights `[B, T]` (non-negative, not necessarily summing to 1, possibly non-zero on padded slots);
# and `mask [B, T]` (True on real neighbours). Return `[B, m]`, pooled over the **kept** neighbours
# only, with the three formulas above. Padded slots hold garbage and must not count, and a node with no
# neighbour at all pools to zeros, not NaN. Hints:
#
# * importance: zero the weights with `torch.where(mask, weights, 0)`, then divide by their sum
#   clamped away from 0 (`.clamp_min(1e-12)`); sum over the T axis (`dim=1`) with broadcasting,
#   `w.unsqueeze(-1) * messages`;
# * mean: the same with every kept neighbour weighing 1 — divide by `mask.sum(1)`, not by T;
# * max: put a value that can never win (0 is enough for messages ≥ 0) in the padded slots with
#   `torch.where(mask.unsqueeze(-1), …)` before `.amax(1)`.
#
# `exercises.check_pooling` compares your three poolings with the library's on a batch holding a full
# row, padded rows with garbage in their padded slots, and an isolated item.

# %%
def my_pool(kind: str, messages: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # your code here

# %% tags=["nbval-check-output"]
exercises.check_pooling(my_pool)

# %% [markdown]
# ## Stacking: the PinSage model
#
# PinSage stacks K CONVOLVE layers with **separate parameters**, $h^{(0)} = x$ and
# $h^{(k)} = \mathrm{CONVOLVE}^{(k)}(h^{(k-1)}, N, \alpha)$, and sends the last layer's output through a
# small dense head, then scales it to length 1:
#
# $$\tilde z_u = G_2 \cdot \mathrm{ReLU}\big(G_1 h_u^{(K)} + g\big), \qquad z_u = \tilde z_u / \lVert \tilde z_u \rVert_2 .$$
#
# > Our remark: the paper writes the head without the final normalisation; the library adds it
# > (`PinSageConfig.normalize_output`, on by default). Every CONVOLVE output is already a unit vector,
# > and with unit-length final embeddings the margin Δ of the loss (notebook 05) has a fixed meaning
# > and a dot product is a cosine, what nearest-neighbour search (§3.4) works with.
#
# The paper uses K = 2, m = 2048, d = 1024; `PinSageConfig.classroom` keeps K = 2 and shrinks the
# widths to m = 128, d = 64.

# %% tags=["nbval-check-output"]
torch.manual_seed(0)
model = PinSage(cfg)
print(model)


def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


configs = {"classroom, our 86 features": cfg, "paper sizes, our 86 features": PinSageConfig.paper(x.shape[1]),
           "paper sizes, the paper's 4096 + 256 + 1 features": PinSageConfig.paper(4096 + 256 + 1)}
for name, c in configs.items():
    mdl = model if c is cfg else PinSage(c)
    per_layer = " · ".join(f"layer {k + 1} {count(l):,}" for k, l in enumerate(mdl.layers))
    print(f"{name}: K = {c.num_layers}, m = {c.hidden_dim}, d = {c.embed_dim} → {per_layer} · "
          f"head {count(mdl.G1) + count(mdl.G2):,} · total {count(mdl):,}")
assert model.layers[1].Q.in_features == cfg.embed_dim != x.shape[1]  # layer 2 reads layer 1's z_v (the typo)
assert count(model) == sum(count(l) for l in model.layers) + count(model.G1) + count(model.G2)

# %% [markdown]
# Two layers need **two hops of neighbourhoods**: $h^{(2)}_u$ reads $h^{(1)}$ of u and of its
# neighbours, and each of those $h^{(1)}$ reads the features of *its* neighbours. So the embedding of
# one movie needs the features of its neighbourhood's neighbourhoods, $S^{(0)}$. `sample_blocks`
# builds those node sets (Algorithm 2; notebook 04 takes it apart). The model's embedding of *The
# Matrix* from its two-hop minibatch equals the one we get by running both layers over the **whole**
# catalogue and then the head — the minibatch computes only the part that matters.

# %% tags=["nbval-check-output"]
table_fn = NeighborhoodTable(table)
blocks = sample_blocks([matrix], cfg.num_layers, table_fn)
with torch.no_grad():
    z_minibatch = model(blocks, x)
    h = x
    for lay in model.layers:  # layer by layer over every movie (the §3.4 inference)
        h = lay.forward_indexed(h, table.ids, table.weights, table.mask)
    z_everything = model.head(h)[matrix]
print(f"|S⁽⁰⁾|, |S⁽¹⁾|, |S⁽²⁾| = {blocks.sizes} movies for one embedding of {tuple(z_minibatch.shape)}, "
      f"length {float(z_minibatch.norm()):.3f}")
print(f"minibatch embedding equals the whole-catalogue one: {torch.allclose(z_minibatch[0], z_everything, atol=1e-5)}")
assert blocks.sizes[2] == 1 and blocks.sizes[1] == 1 + int(table.mask[matrix].sum()) and blocks.sizes[0] > blocks.sizes[1]
assert torch.allclose(z_minibatch[0], z_everything, atol=1e-5)
assert abs(float(z_minibatch.norm()) - 1) < 1e-5  # the head's output is L2-normalised

# %% [markdown]
# ### Exercise 2 — CONVOLVE, written out in full
#
# Now the whole of Algorithm 1. Write `my_convolve(z_self, z_neighbors, weights, mask, Q, q, W, w)`:
#
# * `z_self [B, in_dim]` — the current embeddings $z_u$ of the nodes being updated;
# * `z_neighbors [B, T, in_dim]` — their neighbours' embeddings $z_v$ (padded slots hold garbage);
# * `weights [B, T]`, `mask [B, T]` — the importance weights α (any sum, possibly non-zero on padding)
#   and True on real neighbours;
# * `Q [m, in_dim]`, `q [m]`, `W [d, in_dim + m]`, `w [d]` — the layer's parameters, stored the way
#   `nn.Linear` stores them: `layer.Q.weight`, `layer.Q.bias`, `layer.W.weight`, `layer.W.bias`.
#
# Return the new embeddings `[B, d]`: line 1 with importance pooling over the kept neighbours (a node
# with no neighbour gets $n_u = 0$), line 2, line 3. Use torch operations only — the checker trains
# through your function. Hints: `nn.Linear` computes `x @ weight.T + bias`, and that works on
# `[B, T, in_dim]` as well as on `[B, in_dim]`; `torch.cat([z_self, n_u], dim=1)` is the CONCAT
# (own vector first: W's first `in_dim` columns act on it); clamp both denominators (Σα and the
# norm) away from 0.
#
# `exercises.check_convolve` compares your function with the library's `Convolve` — its outputs
# *and* the gradients reaching Q, q, W and w — on the hand-checked example above and on random
# batches with padding, an isolated node, importance weights and uniform ones (which must reproduce
# mean pooling). Then comes the real test: it builds a small PinSage whose two layers call **your**
# function (with each layer's own Q, q, W, w), trains it for a few seconds with the library's
# training loop (notebook 05) on a seeded synthetic pins–boards catalogue, embeds every item through
# your layers and requires a validation hit-rate@10 above the popularity baseline's.

# %%
def my_convolve(z_self: torch.Tensor, z_neighbors: torch.Tensor, weights: torch.Tensor, mask: torch.Tensor,
                Q: torch.Tensor, q: torch.Tensor, W: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # your code here

# %% tags=["nbval-check-output"]
exercises.check_convolve(my_convolve)

# %% [markdown]
# ## What Pinterest did at web scale
#
# * **Widths m = 2048 and d = 1024, K = 2** for every variant in Table 1; with the paper's
#   4096 + 256 + 1 input features that is about 23 million parameters (above), tiny next to the
#   3 billion nodes they embed — all pins share them.
# * **Concatenation, not averaging.** Line 2 puts $z_u$ and $n_u$ side by side before W; the paper
#   reports that this worked much better than averaging the two, which forces self and neighbourhood
#   into the same space with equal say.
# * **Normalisation** (line 3) made training more stable and nearest-neighbour search more efficient:
#   unit vectors turn dot products into cosines, which approximate search (LSH) works on directly.
# * **Importance pooling** over T = 50 walk neighbours gave the largest single gain in Table 1
#   (46% → 67% hit-rate); mean and max pooling scored 41% and 39% without hard negatives.
# * **One transform per node.** The neighbour transform ReLU(Q·z_v + q) depends only on v, so at
#   inference Pinterest computed it once per pin and layer (a MapReduce job) instead of once per
#   (pin, neighbour) pair — what `forward_indexed` does on a smaller scale (notebook 08).
#
# ## Exercises
#
# 1. *(with checker, above)* Write γ: importance, mean and max pooling.
# 2. *(with checker, above)* Write CONVOLVE in full, and train a PinSage that runs it.
# 3. Replace line 2's concatenation by an average, $\mathrm{ReLU}(W (z_u + n_u)/2 + w)$ (it needs
#    in_dim = m). Why can an average not tell "u itself" from "u's neighbourhood", and what does
#    concatenation let W do that the average cannot?
# 4. Rebuild the pooling comparison with `T = 50` and `num_walks=10_000` for *The Matrix*. How much
#    wider is the spread of α, and how far do the importance- and mean-pooled outputs move apart?
# 5. Set `normalize=False` in `Convolve` and stack three layers on the catalogue: how do the lengths of
#    $h^{(3)}$ behave compared with line 3 switched on?
