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
#
# *Symbols and terms: the [notation table and glossary](00_course_map.ipynb#Notation-and-glossary) in notebook 00.*

# %% tags=["nbval-ignore-output"]
import os

import matplotlib.pyplot as plt
import torch

import pinsage_edu
from pinsage_edu import exercises, load_dataset, viz, widgets
from pinsage_edu.utils import seed_everything
from pinsage_edu.baselines import pixie_recommend, pixie_recommend_batch
from pinsage_edu.walks import (importance_neighborhoods, personalized_pagerank, ppr_rank, random_walks, top_neighbors,
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

# %% tags=["nbval-check-output"]
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
# traversals. The paper does not give these numbers; DGL's documentation example for its
# `PinSAGESampler` uses them (with 200 walks per item) and so do we. Here are four walks from *The Matrix*.

# %%
walks = random_walks(g, [matrix], num_walks=4, num_traversals=3, termination_prob=0.5, generator=0)
fig = viz.draw_walks(walks, titles, movies.collection_names)
plt.show()

# %% tags=["nbval-check-output"]
for w in range(4):
    path = [titles[i] for i in walks.items[w].tolist() if i >= 0]
    n = int(walks.lengths[w])
    print(f"walk {w + 1} ({n} traversal{'s' if n != 1 else ''}):",
          "  →  ".join(p if len(p) <= 28 else p[:27] + "…" for p in path))
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

# %% tags=["nbval-check-output"]
from collections import Counter

traces = random_walks(g, [matrix], num_walks=1_000, generator=1)
by_hand = Counter(i for i in traces.items[:, 1:].flatten().tolist() if i >= 0 and i != matrix)

visits = visit_counts(g, [matrix], num_walks=1_000, generator=1)
items, counts = visits.of(0)  # most visited first
assert dict(zip(items.tolist(), counts.tolist())) == dict(by_hand)
print(f"{len(by_hand):,} distinct movies visited, {sum(by_hand.values()):,} visits; most visited:")
for i, c in zip(items[:5].tolist(), counts[:5].tolist()):
    print(f"  {c:3d}  {titles[i]}")

# %% [markdown]
# ## The top-T cut and the importance weights α
#
# Keep the T most visited items and normalise their counts over the kept ones:
#
# $$\alpha_v = \frac{c_v}{\sum_{v' \in N(u)} c_{v'}}, \qquad N(u) = \text{the } T \text{ most visited items}, \qquad \sum_{v \in N(u)} \alpha_v = 1 .$$
#
# The bars left of the dashed line become the neighbourhood; the numbers above them are α. A seed
# whose walks visit fewer than T distinct items gets a shorter neighbourhood, padded with id −1 and
# weight 0 (never with made-up neighbours); an item in no collection gets an empty one.
#
# **Ties.** At a few hundred walks most counts are small — a popular movie's runners-up are visited
# three times each — so several items often share the count at the cut. Keeping the smaller id would
# tilt every neighbourhood towards low ids (in MovieLens, the oldest films), so `top_neighbors` orders
# tied items **at random**, reproducibly from its `generator` — the same function, with the walks' own
# generator, that `importance_neighborhoods` and training use.
#
# > Our remark: the paper L1-normalises the counts of all visited items and then cuts to the top T;
# > we renormalise over the kept T so that α sums to 1 (at T = 10 the kept items hold only a few
# > percent of all visits here). For a weighted *mean* — importance pooling, notebook 03 — the two
# > give the same result.

# %%
T = 10
fig = viz.plot_visit_counts(items, counts, titles, T, title=f"{titles[matrix]}: visits of 1,000 walks, T = {T}")
plt.show()

# %% tags=["nbval-check-output"]
nb = top_neighbors(visits, T, generator=0)
print("ids    ", nb.ids[0].tolist())
print("weights", [round(x, 3) for x in nb.weights[0].tolist()])
assert abs(float(nb.weights[0].sum()) - 1.0) < 1e-6 and bool(nb.mask.all())

# %% [markdown]
# ### Exercise 1 — from visit counts to a neighbourhood
#
# Write `my_top_t(items, counts, T)`: given one seed's visited items (in any order) and their counts,
# return `(ids, weights)` of length `T` — the T most visited items (most visited first; equal counts
# in random order, as the library does), weights L1-normalised over the kept items, padded with −1 / 0.
# Hints: shuffle with `torch.randperm`, then `torch.sort(..., stable=True)` by count keeps the shuffled
# order among ties; normalise by the sum of the *kept* counts. The checker accepts any order of tied items.
# Replace the `raise NotImplementedError` below with your code; the checker runs in the cell after it.

# %%
def my_top_t(items: torch.Tensor, counts: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    raise NotImplementedError  # your code here

# %% tags=["nbval-check-output"]
exercises.check_top_t(my_top_t)

# %% [markdown]
# ## Importance vs uniform neighbours (GraphSAGE)
#
# GraphSAGE (Hamilton et al., 2017), the graph convolution PinSage extends, samples a fixed number of
# neighbours **uniformly** at each hop. Here "uniform" means the picture behind the paper's argument:
# T movies drawn uniformly from the *distinct* movies two hops away — any movie liked by anyone who
# liked *The Matrix*, all alike. (Sampling uniformly *per hop* — a user, then one of their movies — is
# just a one-traversal walk, which already favours shared movies.) Put the two lists side by side; the
# importance list is a fresh draw of 1,000 walks, so it differs noticeably from the chart above — at
# this many walks the top 10 is still noisy (see the convergence section).

# %% tags=["nbval-check-output"]
imp = importance_neighborhoods(g, [matrix], T, num_walks=1_000, generator=2)
uni = uniform_neighborhoods(g, [matrix], T, generator=2)
print(f"{'importance (α)':<46}| uniform")
for r in range(T):
    print(f"{titles[int(imp.ids[0, r])][:36]:<38}{float(imp.weights[0, r]):.3f}   | {titles[int(uni.ids[0, r])][:36]}")

# %% [markdown]
# The walk's favourites are movies that **many** of *The Matrix*'s fans also liked; the uniform picks
# are movies that **a single** fan liked — a long tail of unrelated titles, because many two-hop
# movies (43% for *The Matrix*, 63% for the median movie: the first line printed below) share just
# one user with the seed. Two measurements make this precise:
#
# * over the movies with at least 5 train users: how many users a neighbour shares with its seed (the
#   evidence that they are related), and
# * over all validation pairs (q, i) — a user liked i right after q, held out of the graph — how
#   often i is inside q's neighbourhood (by chance: 10 / 6,298 ≈ 0.16%).

# %% tags=["nbval-check-output"]
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


def single_user_share(seed_ids: torch.Tensor) -> torch.Tensor:
    """Per seed: the share of its two-hop movies that have exactly one user in common with it."""
    shared = incidence[seed_ids] @ incidence.T  # [S, items]: users in common
    shared[torch.arange(len(seed_ids)), seed_ids] = 0  # not the seed itself
    return (shared == 1).sum(1) / (shared > 0).sum(1)


sample = seeds[torch.randperm(len(seeds), generator=torch.Generator().manual_seed(0))[:200]]
one_matrix, one_typical = float(single_user_share(torch.tensor([matrix]))[0]), float(single_user_share(sample).median())
print(f"two-hop movies sharing a single user with the seed: {one_matrix:.0%} for {titles[matrix]}, "
      f"median {one_typical:.0%} over {len(sample)} random seeds")
assert one_matrix < one_typical and 0.5 < one_typical < 0.8  # "43% for The Matrix, 63% for the median movie"
print(f"{len(seeds):,} seeds · users shared with the seed: importance {s_imp:.1f}, uniform {s_uni:.1f}")
print(f"{len(q):,} val pairs · answer inside the T = {T} neighbourhood: importance {hit_imp:.1%}, "
      f"uniform {hit_uni:.1%}")
assert s_imp > 3 * s_uni and hit_imp > 3 * hit_uni

# %% [markdown]
# > Our remark: importance neighbours also lean towards popular movies (a walk reaches a movie in
# > proportion to how many of the seed's fans liked it, and popular movies are in most fans' lists).
# > The *learned* part of PinSage, which also sees each item's features, may partly correct that.
#
# ## Visit frequencies converge to personalized PageRank
#
# Let $P$ be one traversal's transition matrix on items ($P = P_{I \to C} P_{C \to I}$), $e_q$ the
# one-hot row vector of the query $q$, and ε the termination probability (0.5; we write ε because α
# already names the importance weights). Personalized PageRank from $q$ is the fixed point of
#
# $$\pi_q = \varepsilon\, e_q + (1 - \varepsilon)\, \pi_q P, \qquad\text{i.e.}\qquad
#   \pi_q = \varepsilon \sum_{t \ge 0} (1-\varepsilon)^t\, e_q P^t .$$
#
# A walk that stops with probability ε after each traversal is still going at traversal $t$ with
# probability $(1-\varepsilon)^{t-1}$ and is then at $v$ with probability $(e_q P^t)_v$. So for
# $v \neq q$, $\pi_q(v) = \varepsilon(1-\varepsilon)\,\mathbb{E}[\text{visits of } v \text{ per walk}]$: with many
# walks the normalised visit counts converge to $\pi_q$ with the seed removed — truncated at
# `num_traversals` = 3 terms, which is exactly what 3 power iterations compute
# (`personalized_pagerank(..., num_iterations=3)`). (A restart to $q$ is the same as ending the walk
# and starting a new one.) Once most reachable movies have been visited (here beyond ~10,000 walks) the
# L1 error shrinks like $1/\sqrt{\text{walks}}$; before that it is dominated by movies not yet visited
# at all. The *top-T set* settles much earlier.

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
    overlaps.append(len(exact_top & set(top_neighbors(v, T, generator=3).ids[0].tolist())) / T)
fig = viz.plot_ppr_convergence(PRESET["walk_counts"], distances, overlaps)
plt.show()

# %% tags=["nbval-check-output"]
for n_walks, d, o in zip(PRESET["walk_counts"], distances, overlaps):
    print(f"{n_walks:>9,} walks: L1 distance to exact PPR {d:.2f}, exact top-{T} found {o:.0%}")
assert all(a > b for a, b in zip(distances, distances[1:])) and distances[-1] < 0.15
assert overlaps[-1] >= 0.8

# %% [markdown]
# With the library's default of 200 walks per item (DGL's example setting; the paper gives no number)
# the top-T set is only partly settled on this graph, where *The Matrix* reaches thousands of movies.
# The neighbourhood is a *sample* of the important nodes, and the weights α tell the model how much to
# trust each one. Full personalized PageRank, computed exactly (no 3-traversal cut, not renormalised),
# is what §3.3 will draw hard negatives from (`ppr_rank`):

# %% tags=["nbval-check-output"]
ranking = ppr_rank(g, [matrix], k=2_000, restart_prob=0.5)
for r in (0, 1, 99, 999, 1_999):
    print(f"rank {r + 1:>5}: {titles[int(ranking.ids[0, r])][:40]:<42} π = {float(ranking.scores[0, r]):.1e}")
assert bool((ranking.scores[0, :-1] >= ranking.scores[0, 1:]).all())

# %% [markdown]
# ## How T and the walk length shape the neighbourhood
#
# * **Longer walks** (more traversals) reach further: more distinct movies, and a top-T that drifts
#   away from the one-traversal neighbourhood ("liked by the same users"). On MovieLens even one
#   traversal already favours popular movies — a popular movie sits in many of the seed's users'
#   lists — and longer walks make that only slightly stronger.
# * **Larger T** keeps more of the walk's mass, and more held-out answers fall inside the
#   neighbourhood; each extra neighbour adds less mass, and beyond T = 20 also fewer answers per
#   neighbour. The paper (Table 4, with the trained model) found T = 50 a good trade-off: hit-rate
#   60% → 63% → 67% for T = 10, 20, 50, at growing training cost.

# %%
trav_range = [1, 2, 3, 5, 8]
base = importance_neighborhoods(g, [matrix], T, num_walks=20_000, num_traversals=1, generator=4)
reached, same_as_one, popularity = [], [], []
for L in trav_range:
    v = visit_counts(g, [matrix], num_walks=20_000, num_traversals=L, termination_prob=0.0, generator=4)
    n = top_neighbors(v, T, generator=4)
    reached.append(v.items.numel())
    same_as_one.append(len(set(n.ids[0].tolist()) & set(base.ids[0].tolist())) / T)
    popularity.append(float(g.item_degrees[n.ids[0]].float().mean()))

v3 = visit_counts(g, [matrix], num_walks=20_000, generator=4)
_, c3 = v3.of(0)
Ts = [1, 5, 10, 20, 50, 100, 200, 500]
mass = [float(c3[:t].sum() / c3.sum()) for t in Ts]

# Quality against T: how often a validation answer is inside its query's neighbourhood (one set of
# walks per query, cut at each T — the same comparison as the paper's Table 4, without any learning).
val_q, val_answer = split.val_pairs[:, 0], split.val_pairs[:, 1]
val_visits = visit_counts(g, val_q, num_walks=200, generator=5)
T_quality = [5, 10, 20, 50]
hit_at_T = [float((top_neighbors(val_visits, t, generator=5).ids == val_answer[:, None]).any(1).float().mean()) for t in T_quality]

fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
axes[0].plot(trav_range, reached, "o-")
axes[0].set(xlabel="traversals per walk (no early stop)", ylabel="distinct movies visited", title="walks reach further")
axes[1].plot(trav_range, same_as_one, "o-")
axes[1].set(xlabel="traversals per walk", ylabel="share of the 1-traversal top-T kept", ylim=(0, 1.05),
            title="the neighbourhood drifts")
ax2 = axes[1].twinx()
ax2.plot(trav_range, popularity, "s--", color="gray")
ax2.set(ylabel="mean users per neighbour (gray)", ylim=(0, 1.1 * max(popularity)))
axes[2].plot(Ts, mass, "o-")
axes[2].set(xlabel="T", ylabel="share of visits kept", title="larger T keeps more of the walks…")
axes[3].plot(T_quality, hit_at_T, "o-")
axes[3].set(xlabel="T", ylabel="val answers inside the neighbourhood", title="…and holds more answers")
for ax in axes:
    ax.grid(True, alpha=0.3)
fig.tight_layout()
plt.show()

# %% tags=["nbval-check-output"]
for L, r, s, p in zip(trav_range, reached, same_as_one, popularity):
    print(f"{L} traversal{'s' if L > 1 else ' '}: {r:,} movies reached, top-{T} overlap with 1 traversal {s:.0%}, "
          f"mean users per neighbour {p:.1f}")
print("share of visits kept:", ", ".join(f"T={t}: {m:.0%}" for t, m in zip(Ts, mass)))
print("val answers inside the neighbourhood:", ", ".join(f"T={t}: {h:.1%}" for t, h in zip(T_quality, hit_at_T)))
assert reached == sorted(reached) and mass == sorted(mass) and hit_at_T == sorted(hit_at_T)
gains = [b - a for a, b in zip(hit_at_T, hit_at_T[1:])]
assert gains[-1] / (T_quality[-1] - T_quality[-2]) < gains[0] / (T_quality[1] - T_quality[0])  # per neighbour

# %% [markdown]
# ## Explore
#
# Type part of a movie's title (the first title containing it is used), then pick T, the number of
# walks and the walk length; the chart and the two lists update.

# %% tags=["nbval-ignore-output"]
widgets.neighborhood_explorer(movies, g)

# %% tags=["nbval-check-output"]
# The explorer's first view, drawn by the same function the widget calls (so it shows on a stored notebook too).
fig, caption = widgets.render_neighborhood(movies, g, "Toy Story (1995)", num_neighbors=5, num_walks=1_000)
plt.show()
print(caption)

# %% [markdown]
# ## Pixie: walks are already a recommender
#
# Pinterest's production graph recommender, **Pixie** (Eksombatchai et al., 2018), runs the same kind
# of walk: from the query pin, many short walks pin → board → pin; recommend the most visited pins.
# Its walks are budgeted in total steps (here 20,000 traversals, each walk of geometric length capped
# at 20) rather than a fixed number of 3-traversal walks, with three refinements: a step budget
# shared among several query pins (weighted), early stopping once $n_p$ = 2000 pins have at least
# $n_v$ = 4 visits, and **multi-hit boosting** — a pin reached from several query pins scores
# $\left(\sum_q \sqrt{V_q}\right)^2$, favouring pins related to all of them.

# %% tags=["nbval-check-output"]
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
# (To keep the classroom run short, each query gets 2,000 steps here instead of 20,000.)

# %% tags=["nbval-check-output"]
pairs = split.test_pairs if PRESET["eval_pairs"] is None else split.test_pairs[: PRESET["eval_pairs"]]
q, answer = pairs[:, 0], pairs[:, 1]
pix = pixie_recommend_batch(g, q, k=10, num_steps=PRESET["pixie_steps"], generator=6)
hits_pixie = int((pix.ids == answer[:, None]).any(1).sum())
hit_pixie = hits_pixie / len(q)
popular = torch.topk(g.item_degrees, 11).indices
pop_lists = torch.stack([popular[popular != x][:10] for x in q.tolist()])
hits_pop = int((pop_lists == answer[:, None]).any(1).sum())
hit_pop = hits_pop / len(q)
cold_answer = (g.item_degrees[answer] == 0).float().mean()
cold_query = (g.item_degrees[q] == 0).float().mean()
print(f"{len(q):,} test pairs · hit-rate@10: Pixie {hit_pixie:.1%} ({hits_pixie} hits), "
      f"popularity {hit_pop:.1%} ({hits_pop} hits)")
print(f"answers never seen in train: {cold_answer:.1%} · queries never seen in train: {cold_query:.1%}")
assert hit_pixie > hit_pop

# %% [markdown]
# Pixie edges out popularity — a thin margin on this small, sparse data — and two things cap it,
# which are what PinSage adds:
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
# * **Neighbourhoods for billions of pins.** During training, CPU threads of the producer sampled the
#   neighbourhoods of each next minibatch while the GPUs computed the current one (§3.3, notebook 07);
#   our vectorised walker does the same computation for a whole batch of seeds at once (the benchmark
#   uses batches of 512, the paper's smallest minibatch).
# * **T = 50**, chosen in Table 4: hit-rate 60% / 63% / 67% and training 20 / 33 / 78 hours for
#   T = 10 / 20 / 50.
# * **PPR for hard negatives**: items ranked 2000–5000 by personalized PageRank from the query, in a
#   catalogue of billions (§3.3, notebook 06).
# * **Pixie in production**: 3 billion nodes, 17 billion edges, about 60 ms per request; it also
#   produced the related pairs PinSage was trained on (which is why Pixie is absent from Table 1).
#
# ## Exercises
#
# 1. *(with checker, above)* Turn visit counts into an L1-normalised top-T neighbourhood.
# 2. Run `visit_counts(g, [matrix], termination_prob=0.3, num_traversals=30, num_walks=20_000)` and
#    compare its normalised counts with `personalized_pagerank(g, [matrix], restart_prob=0.3)` (seed
#    removed). Then add a Pixie-style `restart_prob=0.3` (jump back to the seed before a traversal):
#    does the neighbourhood stay closer to the seed?
# 3. The goodbooks graph is **weighted** (how many readers shelved a book under a name). Compute the
#    neighbourhood of a book with `weighted=True` and `weighted=False`. Which looks more sensible, and
#    why might the giant "to-read" shelf dominate one of them?
# 4. Repeat the "val answers inside the neighbourhood" measurement with 1,000 walks instead of 200.
#    Which T gains most from more walks, and why?
