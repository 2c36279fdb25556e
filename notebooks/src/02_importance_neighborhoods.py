# %% [markdown]
# # 02 · Importance-based neighbourhoods from random walks (§3.2)
#
# A graph convolution needs a neighbourhood for every node. Notebook 01 showed that two hops from a
# popular movie reach more than half the catalogue, every neighbour alike. PinSage instead runs short
# **random walks** from each item, counts how often each other item is visited, and keeps the **T most
# visited** as the neighbourhood — with the normalised counts as **importance weights** α. In this
# notebook you will draw a few walks on real data, turn visit counts into a neighbourhood (and write
# that step yourself), compare it with GraphSAGE's uniform sampling, watch the counts converge to
# personalized PageRank, and meet **Pixie**, the walk-based recommender that PinSage builds on.

# %%
# NBVAL_IGNORE_OUTPUT
import os

import matplotlib.pyplot as plt
import torch

import pinsage_edu
from pinsage_edu import exercises, load_dataset, viz, widgets
from pinsage_edu.utils import seed_everything
from pinsage_edu.walks import (importance_neighborhoods, personalized_pagerank, pixie_recommend,
                               pixie_recommend_batch, ppr_rank, random_walks, top_neighbors,
                               uniform_neighborhoods, visit_counts)

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
# Sizes change how many walks and queries we afford, never the algorithm.
PRESET = {
    "classroom": dict(walk_counts=[10, 100, 1_000, 10_000, 100_000], pixie_steps=2_000, eval_pairs=2_000),
    "full": dict(walk_counts=[10, 100, 1_000, 10_000, 100_000, 1_000_000], pixie_steps=20_000, eval_pairs=None),
}[SIZE]

# %% [markdown]
# We work on MovieLens as in notebook 01: movies are items, each user's set of liked movies is a
# collection, and only the **train** graph is used, so that held-out pairs can judge the neighbourhoods.

# %%
# NBVAL_CHECK_OUTPUT
movies = load_dataset("ml-latest-small")
split = movies.split(seed=0)
g = split.graph
titles = movies.items.titles
matrix = movies.items.find("Matrix, The (1999)")[0]
print(g)
print(f"{titles[matrix]}: item {matrix}, liked by {g.collections_of(matrix).numel()} users in train")

# %% [markdown]
# ## §3.2 Random walks: item → collection → item
#
# > "We define importance-based neighborhoods, where the neighborhood of a node u is defined as the T
# > nodes that exert the most influence on node u. Concretely, we simulate random walks starting from
# > node u and compute the L1-normalized visit count of nodes visited by the random walk."
#
# One **traversal** goes from an item to one of its collections (a user who liked the movie) and on to
# one of that collection's items (another movie they liked), each chosen uniformly. After each
# traversal the walk stops with probability `termination_prob` (0.5); at most `num_traversals` (3)
# traversals. The paper does not give these numbers; DGL's `PinSAGESampler` uses them and so do we.
# Here are four walks from *The Matrix*.

# %%
walks = random_walks(g, [matrix], num_walks=4, num_traversals=3, termination_prob=0.5, generator=0)
fig = viz.draw_walks(walks, titles, movies.collection_names)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
for w in range(4):
    path = [titles[i] for i in walks.items[w].tolist() if i >= 0]
    print(f"walk {w + 1} ({int(walks.lengths[w])} traversals):", "  →  ".join(p[:28] for p in path))
assert walks.num_steps == 2 * int(walks.lengths.sum())

# %% [markdown]
# Every walk of a batch advances **together**: the library keeps one tensor of current items, picks a
# random collection for all of them with one gather, then a random item for all of them, then drops the
# walks that stopped. There is no Python loop over walks or nodes — only over the (at most 3)
# traversals — which is why it runs at tens of millions of hops per second on two CPU cores
# (`benchmarks/bench_walks.py`).
#
# ## Counting visits by hand, then with the library
#
# The neighbourhood comes from **visit counts**. Let us count the visits of 1,000 walks from *The
# Matrix* straight from their traces — every item a walk reaches after a traversal, except *The
# Matrix* itself — and check that the library's `visit_counts` (the same walker, same generator seed,
# no traces kept) gets exactly the same numbers.

# %%
# NBVAL_CHECK_OUTPUT
from collections import Counter

traces = random_walks(g, [matrix], num_walks=1_000, generator=1)
by_hand = Counter(i for i in traces.items[:, 1:].flatten().tolist() if i >= 0 and i != matrix)

visits = visit_counts(g, [matrix], num_walks=1_000, generator=1)
items, counts = visits.of(0)  # most visited first
assert dict(zip(items.tolist(), counts.tolist())) == dict(by_hand)
print(f"{len(by_hand)} distinct movies visited, {sum(by_hand.values())} visits; most visited:")
for i, c in zip(items[:5].tolist(), counts[:5].tolist()):
    print(f"  {c:3d}  {titles[i]}")

# %% [markdown]
# ## The top-T cut and the importance weights α
#
# Keep the T most visited items and normalise their counts over the kept ones:
#
# $$\alpha_v = \frac{c_v}{\sum_{v' \in N(u)} c_{v'}}, \qquad N(u) = \text{the } T \text{ most visited items}, \qquad \sum_{v \in N(u)} \alpha_v = 1 .$$
#
# The bars left of the dashed line become the neighbourhood; the numbers above them are α. An item
# visited fewer than T distinct times gets a shorter neighbourhood, padded with id −1 and weight 0
# (never with made-up neighbours), and an item in no collection gets an empty one.

# %%
T = 10
fig = viz.plot_visit_counts(items, counts, titles, T, title=f"{titles[matrix]}: visits of 1,000 walks, T = {T}")
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
nb = top_neighbors(visits, T)
print("ids    ", nb.ids[0].tolist())
print("weights", [round(x, 3) for x in nb.weights[0].tolist()])
assert abs(float(nb.weights[0].sum()) - 1.0) < 1e-6 and bool(nb.mask.all())

# %% [markdown]
# ### Exercise 1 — from visit counts to a neighbourhood
#
# Write `my_top_t(items, counts, T)`: given one seed's visited items and their counts, return
# `(ids, weights)` of length `T` — the T most visited items (most visited first; equal counts: smaller
# id first), weights L1-normalised over the kept items, padded with −1 / 0. Hints: `torch.argsort`,
# `torch.sort(..., stable=True)`, and normalise by the sum of the *kept* counts.

# %%
def my_top_t(items: torch.Tensor, counts: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    ### BEGIN SOLUTION
    by_id = torch.argsort(items)  # so a stable sort by count leaves ties in id order
    items, counts = items[by_id], counts[by_id]
    keep = torch.sort(-counts, stable=True).indices[:T]
    ids = torch.full((T,), -1, dtype=torch.long)
    weights = torch.zeros(T)
    ids[: keep.numel()] = items[keep]
    weights[: keep.numel()] = counts[keep].float() / counts[keep].sum().clamp_min(1)
    return ids, weights
    ### END SOLUTION


exercises.check_top_t(my_top_t)

# %% [markdown]
# ## Importance vs uniform neighbours (GraphSAGE)
#
# GraphSAGE samples a node's neighbours **uniformly**. In our item–item view that means T movies drawn
# at random from everything two hops away: any movie liked by anyone who liked *The Matrix*. Put the
# two lists side by side.

# %%
# NBVAL_CHECK_OUTPUT
imp = importance_neighborhoods(g, [matrix], T, num_walks=1_000, generator=2)
uni = uniform_neighborhoods(g, [matrix], T, generator=2)
print(f"{'importance (α)':<46}| uniform")
for r in range(T):
    print(f"{titles[int(imp.ids[0, r])][:36]:<38}{float(imp.weights[0, r]):.3f}   | {titles[int(uni.ids[0, r])][:36]}")

# %% [markdown]
# The walk's favourites are movies that **many** of *The Matrix*'s fans also liked; the uniform picks
# are movies that **some one** fan liked — a long tail of unrelated titles, because most two-hop
# movies share a single user with the seed. Two measurements make this precise, over every movie with
# at least 5 train users:
#
# * how many users a neighbour shares with its seed (the evidence that they are related), and
# * how often a held-out **validation** pair (q, i) — a user liked i right after q — has i inside
#   q's neighbourhood.

# %%
# NBVAL_CHECK_OUTPUT
seeds = torch.nonzero(g.item_degrees >= 5).squeeze(1)
imp_all = importance_neighborhoods(g, seeds, T, generator=0)
uni_all = uniform_neighborhoods(g, seeds, T, generator=0)

incidence = torch.zeros(g.num_items, g.num_collections)
item_of_edge, coll_of_edge, _ = g.edges()
incidence[item_of_edge, coll_of_edge] = 1.0


def mean_shared_users(n) -> float:
    shared = (incidence[n.seeds].unsqueeze(1) * incidence[n.ids.clamp_min(0)]).sum(-1)
    return float((shared * n.mask).sum() / n.mask.sum())


q, answer = split.val_pairs[:, 0], split.val_pairs[:, 1]
hit_imp = (importance_neighborhoods(g, q, T, generator=0).ids == answer[:, None]).any(1).float().mean()
hit_uni = (uniform_neighborhoods(g, q, T, generator=0).ids == answer[:, None]).any(1).float().mean()
s_imp, s_uni = mean_shared_users(imp_all), mean_shared_users(uni_all)
print(f"{len(seeds):,} seeds · users shared with the seed: importance {s_imp:.1f}, uniform {s_uni:.1f}")
print(f"{len(q):,} val pairs · answer inside the T = {T} neighbourhood: importance {hit_imp:.1%}, "
      f"uniform {hit_uni:.1%}")
assert s_imp > 3 * s_uni and hit_imp > 3 * hit_uni

# %% [markdown]
# > Our remark: importance neighbours also lean towards popular movies (a walk reaches a movie in
# > proportion to how many users liked it). That is exactly the kind of bias the *learned* part of
# > PinSage can correct, using the item's features.
#
# ## Visit frequencies converge to personalized PageRank
#
# Let $P$ be one traversal's transition matrix on items ($P = P_{I \to C} P_{C \to I}$) and α the
# termination probability (0.5). Personalized PageRank from $q$ is the fixed point of
#
# $$\pi_q = \alpha\, e_q + (1 - \alpha)\, \pi_q P .$$
#
# A walk that stops with probability α after each traversal visits item $v$ at traversal $t$ with
# probability $(1-\alpha)^{t-1} (e_q P^t)_v$, so with many walks the normalised visit counts converge
# to $\pi_q$ with the seed removed — truncated at `num_traversals` = 3 terms, which is exactly what
# 3 power iterations compute (`personalized_pagerank(..., num_iterations=3)`). The error of a
# Monte-Carlo estimate shrinks like $1/\sqrt{\text{walks}}$; the *top-T set* settles much earlier.

# %%
exact = personalized_pagerank(g, [matrix], restart_prob=0.5, num_iterations=3)[0]
exact[matrix] = 0.0
exact = exact / exact.sum()
exact_top = set(torch.topk(exact, T).indices.tolist())
distances, overlaps = [], []
for n_walks in PRESET["walk_counts"]:
    v = visit_counts(g, [matrix], num_walks=n_walks, generator=3)
    freq = v.dense()[0].float()
    distances.append(float((freq / freq.sum() - exact).abs().sum()))
    overlaps.append(len(exact_top & set(top_neighbors(v, T).ids[0].tolist())) / T)
fig = viz.plot_ppr_convergence(PRESET["walk_counts"], distances, overlaps)
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
for n_walks, d, o in zip(PRESET["walk_counts"], distances, overlaps):
    print(f"{n_walks:>9,} walks: L1 distance to exact PPR {d:.2f}, exact top-{T} found {o:.0%}")
assert all(a > b for a, b in zip(distances, distances[1:])) and distances[-1] < 0.15
assert overlaps[-1] >= 0.8

# %% [markdown]
# With the paper-like setting of 200 walks per item the top-T set is only partly settled on this
# graph, where *The Matrix* reaches thousands of movies; PinSage does not mind — the neighbourhood is a
# *sample* of the important nodes, drawn fresh at every epoch, and the weights α tell the model how
# much to trust each one. The same PPR ranking, computed exactly, is what §3.3 will draw hard negatives
# from (`ppr_rank`):

# %%
# NBVAL_CHECK_OUTPUT
ranking = ppr_rank(g, [matrix], k=2_000, restart_prob=0.5)
for r in (0, 1, 99, 999, 1_999):
    print(f"rank {r + 1:>5}: {titles[int(ranking.ids[0, r])][:40]:<42} π = {float(ranking.scores[0, r]):.2e}")
assert bool((ranking.scores[0, :-1] >= ranking.scores[0, 1:]).all())

# %% [markdown]
# ## How T and the walk length shape the neighbourhood
#
# * **Longer walks** (more traversals) reach further: more distinct movies, and a top-T that drifts
#   away from the one-traversal neighbourhood ("liked by the same users"). On MovieLens even one
#   traversal already favours popular movies — a popular movie sits in many of the seed's users'
#   lists — and longer walks make that only slightly stronger.
# * **Larger T** keeps more of the walk's mass, but each extra neighbour adds less: the paper found
#   T = 50 a good trade-off (hit-rate 60% → 63% → 67% for T = 10, 20, 50, at growing cost).

# %%
trav_range = [1, 2, 3, 5, 8]
base = importance_neighborhoods(g, [matrix], T, num_walks=20_000, num_traversals=1, generator=4)
reached, same_as_one, popularity = [], [], []
for L in trav_range:
    v = visit_counts(g, [matrix], num_walks=20_000, num_traversals=L, termination_prob=0.0, generator=4)
    n = top_neighbors(v, T)
    reached.append(v.items.numel())
    same_as_one.append(len(set(n.ids[0].tolist()) & set(base.ids[0].tolist())) / T)
    popularity.append(float(g.item_degrees[n.ids[0]].float().mean()))

v3 = visit_counts(g, [matrix], num_walks=20_000, generator=4)
_, c3 = v3.of(0)
Ts = [1, 5, 10, 20, 50, 100, 200, 500]
mass = [float(c3[:t].sum() / c3.sum()) for t in Ts]

fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
axes[0].plot(trav_range, reached, "o-")
axes[0].set(xlabel="traversals per walk (no early stop)", ylabel="distinct movies visited", title="walks reach further")
axes[1].plot(trav_range, same_as_one, "o-", label="top-T shared with 1 traversal")
axes[1].set(xlabel="traversals per walk", ylim=(0, 1.05), title="the neighbourhood drifts")
ax2 = axes[1].twinx()
ax2.plot(trav_range, popularity, "s--", color="gray")
ax2.set_ylabel("mean users per neighbour (gray)")
axes[2].semilogx(Ts, mass, "o-")
axes[2].set(xlabel="T", ylabel="share of visits kept", title="larger T keeps more, with diminishing returns")
for ax in axes:
    ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# NBVAL_CHECK_OUTPUT
for L, r, s, p in zip(trav_range, reached, same_as_one, popularity):
    print(f"{L} traversals: {r:,} movies reached, top-{T} overlap with 1 traversal {s:.0%}, "
          f"mean users per neighbour {p:.0f}")
print("share of visits kept:", ", ".join(f"T={t}: {m:.0%}" for t, m in zip(Ts, mass)))
assert reached == sorted(reached) and mass == sorted(mass)

# %% [markdown]
# ## Explore
#
# Pick a movie, T, the number of walks and the walk length; the chart and the two lists update.

# %%
# NBVAL_IGNORE_OUTPUT
widgets.neighborhood_explorer(movies, g)

# %%
# NBVAL_CHECK_OUTPUT
# The same callback the widget runs, once with fixed values (so the tests exercise it).
fig, caption = widgets.render_neighborhood(movies, g, "Toy Story (1995)", num_neighbors=5, num_walks=1_000)
plt.show()
print(caption)

# %% [markdown]
# ## Pixie: walks are already a recommender
#
# Pinterest's production recommender before PinSage, **Pixie** (Eksombatchai et al., 2018), *is* this
# walk: from the query pin, many short walks pin → board → pin; recommend the most visited pins. Its
# refinements: a step budget shared among several query pins (weighted), early stopping once
# $n_p$ = 2000 pins have at least $n_v$ = 4 visits, and **multi-hit boosting** — a pin reached from
# several query pins scores $\left(\sum_q \sqrt{V_q}\right)^2$, favouring pins related to all of them.

# %%
# NBVAL_CHECK_OUTPUT
rec = pixie_recommend(g, matrix, k=5, num_steps=PRESET["pixie_steps"] * 10, generator=5)
print(f"Pixie for {titles[matrix]}:")
for i, score in rec.top(0):
    print(f"  {score:6.0f}  {titles[i]}")

toy = movies.items.find("Toy Story (1995)")[0]
both = pixie_recommend(g, [matrix, toy], k=5, num_steps=PRESET["pixie_steps"] * 10, generator=5)
print(f"Pixie for {{{titles[matrix]}, {titles[toy]}}} (boosted):")
for i, score in both.top(0):
    print(f"  {score:6.0f}  {titles[i]}")

# %% [markdown]
# How good is it? On held-out **test** pairs (q, i) we ask whether i is among Pixie's 10
# recommendations for q (hit-rate@10), next to the simplest baseline: the 10 most popular movies.

# %%
# NBVAL_CHECK_OUTPUT
pairs = split.test_pairs if PRESET["eval_pairs"] is None else split.test_pairs[: PRESET["eval_pairs"]]
q, answer = pairs[:, 0], pairs[:, 1]
pix = pixie_recommend_batch(g, q, k=10, num_steps=PRESET["pixie_steps"], generator=6)
hit_pixie = (pix.ids == answer[:, None]).any(1).float().mean()
popular = torch.topk(g.item_degrees, 11).indices
pop_lists = torch.stack([popular[popular != x][:10] for x in q.tolist()])
hit_pop = (pop_lists == answer[:, None]).any(1).float().mean()
cold_answer = (g.item_degrees[answer] == 0).float().mean()
cold_query = (g.item_degrees[q] == 0).float().mean()
print(f"{len(q):,} test pairs · hit-rate@10: Pixie {hit_pixie:.1%}, popularity {hit_pop:.1%}")
print(f"answers never seen in train: {cold_answer:.0%} · queries never seen in train: {cold_query:.0%}")
assert hit_pixie > hit_pop

# %% [markdown]
# Pixie beats popularity, but two things cap it, and they are what PinSage adds:
#
# * **It only knows the graph.** A movie with no train edges — about one in eight test answers and
#   queries here — can never be reached or queried. PinSage starts from each item's **features**
#   (text, genres, year; images at Pinterest), so a new item still gets an embedding (it is
#   *inductive*).
# * **It does not learn.** Visit counts treat every co-like alike. PinSage uses the same walks only
#   to choose and weight the neighbourhood, then **learns** (§3.3) how to aggregate the neighbours'
#   features so that related items land close together — on pairs labelled as related.
#
# PinSage = Pixie's neighbourhoods + features + learned aggregation. Notebook 03 builds the learned
# aggregation, CONVOLVE.
#
# ## What Pinterest did at web scale
#
# * **Neighbourhoods for billions of pins.** The walks ran inside the producer of the training
#   pipeline (CPU threads) for each minibatch, and inside the MapReduce inference job (§3.4); our
#   vectorised walker is the same computation for a batch of 512 seeds at a time.
# * **T = 50**, chosen in Table 4: hit-rate 60% / 63% / 67% and training 20 / 33 / 78 hours for
#   T = 10 / 20 / 50.
# * **PPR for hard negatives**: items ranked 2000–5000 by personalized PageRank from the query, in a
#   catalogue of billions (§3.3, notebook 06).
# * **Pixie in production**: 3 billion nodes, 17 billion edges, about 60 ms per request, on one
#   large-memory machine per replica; it also produced the related pairs PinSage was trained on.
#
# ## Exercises
#
# 1. *(with checker, above)* Turn visit counts into an L1-normalised top-T neighbourhood.
# 2. Set `restart_prob=0.3` in `visit_counts` with `num_traversals=10`. Does the neighbourhood stay
#    closer to the seed than without restarts? Compare with exact PPR at `restart_prob=0.3`.
# 3. The goodbooks graph is **weighted** (how many readers shelved a book under a name). Compute the
#    neighbourhood of a book with `weighted=True` and `weighted=False`. Which looks more sensible, and
#    why might the giant "to-read" shelf dominate one of them?
# 4. Measure the validation hit-rate of the importance neighbourhoods for T = 5, 10, 20, 50. Does it
#    show the diminishing returns of the paper's Table 4?
