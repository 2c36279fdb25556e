# %% [markdown]
# # 09 · Experiments (§4)
#
# The paper's §4 judges PinSage **offline** on held-out related pairs: does the method put the item
# that really followed the query near the top of its list, among millions of candidates? This
# notebook rebuilds that evaluation on our data and asks the question a sceptical reader asks first:
# **does PinSage earn its place** against the classical baselines — item-kNN collaborative filtering
# and Pixie's random walks? You will compute the paper's two metrics — **hit-rate** and **scaled
# MRR** — by hand and check them against the library; see which settings make PinSage beat item-kNN
# on MovieLens (chosen on the validation pairs, every candidate listed), and what an **inductive**
# model can do that a transductive one cannot; look at how the embeddings use the space (**Figure
# 4**); measure the **runtime tables** (Tables 3 and 4); rebuild **Table 1**'s ablation ladder on
# synthetic pins and boards built to have what Pinterest has, each step with its paired standard
# error for three training seeds, and draw a **regime map** of where importance pooling and hard
# negatives pay off, with MovieLens and goodbooks placed on it. Last, what is and isn't reproduced,
# and why.
#
# *Symbols and terms: the [notation table and glossary](00_course_map.ipynb#Notation-and-glossary) in notebook 00.*

# %% tags=["nbval-ignore-output"]
import json
import math
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import pinsage_edu
from pinsage_edu import exercises, load_dataset
from pinsage_edu.evaluate import (PAPER, RECIPE, RECIPES, Experiment, ItemKNNRecommender, PopularityRecommender,
                                  Variant, EmbeddingRecommender, compare, content_baselines, evaluate_recommender,
                                  format_runtime_table, format_table, hold_out_items, kurtosis, mrr_scale,
                                  runtime_by_batch_size, runtime_by_neighbors, scaled_mrr, similarity_distribution,
                                  train_variant)
from pinsage_edu.inference import embed_all
from pinsage_edu.knn import exact_top_k
from pinsage_edu.regimes import (PAPER_ORDER, paired_stderr, plot_regime_map, regime_map, seed_table,
                                 two_hop_coverage)
from pinsage_edu.train import TrainConfig
from pinsage_edu.utils import seed_everything

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__} · {os.cpu_count()} CPU cores · "
      f"CUDA available: {torch.cuda.is_available()}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
# Sizes change the data, the epochs and how many steps each epoch takes, never the algorithm.
# Classroom size trains the real-data recipe for a few epochs, the inductive/transductive pair for one,
# times one epoch of 6 minibatches per runtime setting, runs the synthetic Table 1 at the preset's own
# size (3 seeds × 5 rungs of 75 steps) and a small regime map. Full size trains 10 complete epochs
# (4 per runtime setting) and the regime map at the preset's size.
PRESET = {
    "classroom": dict(threads=1, real_epochs=3, held_epochs=2, eval_pairs=1_000, sim_pairs=20_000,
                      pixie_steps=5_000, runtime_batches=[128, 256, 512, 1024], neighbors=[5, 10, 20],
                      runtime_epochs=1, runtime_steps=6, regime_size="classroom"),
    "full": dict(threads=None, real_epochs=RECIPE.epochs, held_epochs=RECIPE.epochs, eval_pairs=None,
                 sim_pairs=20_000, pixie_steps=20_000, runtime_batches=[128, 256, 512, 1024, 2048],
                 neighbors=[5, 10, 20, 50], runtime_epochs=4, runtime_steps=None, regime_size="full"),
}[SIZE]
# Classroom size computes with one thread (see notebook 07: on a shared two-core machine two threads
# per process fight over the cores). Full size keeps torch's default.
if PRESET["threads"] is not None:
    torch.set_num_threads(PRESET["threads"])
notebook_t0 = time.perf_counter()
# Figures measured at full size by `benchmarks/bench_quality.py` (and every validation run behind
# the recipe) are stored next to the benchmarks; this notebook renders them, it never retypes them.
RESULTS = Path(pinsage_edu.__file__).resolve().parent.parent / "benchmarks" / "results"

# %% [markdown]
# `Experiment.load` does what notebooks 01–06 did by hand: load MovieLens, split it (the **train**
# graph alone feeds neighbourhoods, walks, degrees and training; val and test pairs are held out),
# build the features and one importance-neighbourhood table (T = 10) that every rung shares.

# %% tags=["nbval-check-output"]
exp = Experiment.load("ml-latest-small")
N = exp.graph.num_items
test = exp.split.test_pairs
print(exp.graph)
print(exp.split.describe())
print(f"features {tuple(exp.x.shape)} · neighbourhood table T = {exp.table.num_neighbors}")

# %% [markdown]
# ## §4 The offline metrics: hit-rate and scaled MRR
#
# > **The paper (§4.2), in our words:** for every labelled pair (q, i) — i was saved right after q, on
# > the same board — the method ranks all ~5 million candidates for q. **Hit-rate@k** is the share of
# > pairs whose i lands in the top k (k = 500). **Scaled MRR** averages 1 / ⌈rank / 100⌉: ranks are
# > divided by 100 and rounded up first, because among millions of candidates rank 1 and rank 2 (or
# > rank 80) are not meaningfully different.
#
# For P pairs with ranks r₁ … r_P of their answers (1 = best):
#
# $$\text{hit-rate@}K = \frac{1}{P}\sum_{p} \mathbb{1}[r_p \le K] \qquad\qquad
#   \text{MRR}_s = \frac{1}{P}\sum_{p} \frac{1}{\lceil r_p / s \rceil}, \quad s = 100 \text{ among 5M}$$
#
# Our catalogue is about 800 times smaller, so `mrr_scale(N)` scales the divisor with it:
# s = max(1, round(100 · N / 5,000,000)). For 6,298 movies that is **s = 1: plain MRR**. We report
# hit-rate@**10** (the top 0.16% of our catalogue; the paper's top 500 is the top 0.01% of its).
#
# How the library ranks (`score_ranks`): every method gives a score to every item; items are ordered
# best first, **equal scores by increasing item id**, and the query itself is left out. So rank ≤ k
# exactly when the answer is in the method's top-k list. Let us do that by hand for the first 2,000
# test pairs with item-kNN CF (cheap, and it puts enough answers in its top 10 to show both cases).

# %%
scale = mrr_scale(N)
rec = ItemKNNRecommender(exp.graph)
pairs = test[:2_000]
q, answers = pairs[:, 0], pairs[:, 1]
s = rec.scores(q).clone()  # [P, N]: one row of scores over the whole catalogue per query
s[torch.arange(len(q)), q] = -math.inf  # the query is not its own recommendation
order = torch.sort(s, dim=1, descending=True, stable=True).indices  # best first; stable: ties by item id
hand_ranks = 1 + (order == answers.unsqueeze(1)).int().argmax(1)  # position of the answer, 1-based
hand_hits = int((hand_ranks <= 10).sum())
hand_hit = hand_hits / len(pairs)
hand_mrr = (1.0 / torch.ceil(hand_ranks.double() / scale)).mean().item()
hand_mrr100 = (1.0 / torch.ceil(hand_ranks.double() / 100)).mean().item()

titles = exp.titles
hits_idx = torch.nonzero(hand_ranks <= 10).flatten()[:4].tolist()
miss_idx = torch.nonzero(hand_ranks > 10).flatten()[:4].tolist()
print(f"catalogue N = {N:,} → mrr_scale(N) = {scale}   (the paper: 100 among ~5,000,000)")
print(f"the paper's ~5,000,000 candidates are {5_000_000 / N:,.0f}× our catalogue; "
      f"its ranks 1–100 are the top {100 / 5_000_000:.3%} of them")
assert 700 < 5_000_000 / N < 900  # "about 800 times smaller"
print(f"{'query':<34} {'answer':<34} {'rank':>5} {'hit@10':>6} {'1/⌈r/' + str(scale) + '⌉':>8} {'1/⌈r/100⌉':>9}")
for j in hits_idx + miss_idx:
    r = int(hand_ranks[j])
    print(f"{titles[int(q[j])][:33]:<34} {titles[int(answers[j])][:33]:<34} {r:>5} {str(r <= 10):>6} "
          f"{1 / math.ceil(r / scale):8.4f} {1 / math.ceil(r / 100):9.2f}")

# %% tags=["nbval-check-output"]
m = evaluate_recommender(rec, pairs, k=10)  # the library: same ranking rule, chunked over the queries
m100 = evaluate_recommender(rec, pairs, k=10, scale=100)
assert torch.equal(m.ranks, hand_ranks)
assert m.scale == scale and round(m.hit_rate * len(pairs)) == hand_hits  # the same hits…
assert math.isclose(m.hit_rate, hand_hit, rel_tol=1e-6)  # …(the library averages them in float32)
assert math.isclose(m.mrr, hand_mrr, rel_tol=1e-12) and math.isclose(scaled_mrr(hand_ranks, scale), hand_mrr, rel_tol=1e-12)
assert math.isclose(m100.mrr, hand_mrr100, rel_tol=1e-12) and m100.hit_rate == m.hit_rate
print(f"by hand and evaluate_recommender agree on all {len(pairs):,} ranks: hit@10 {hand_hit:.2%}, "
      f"MRR (s = {scale}) {hand_mrr:.4f}, MRR with the paper's s = 100 {hand_mrr100:.4f}")

# %% [markdown]
# Two things to notice:
#
# * **MRR and hit-rate move together but weigh ranks differently.** A hit at rank 1 adds 1 to the sum
#   of the MRR, a hit at rank 10 adds 0.1, and a miss at rank 300 still adds 1/300 — hit-rate
#   counts the first two alike and the third not at all.
# * **The divisor matters.** With s = 100 on our catalogue every rank up to 100 counts as 1: the
#   "MRR" becomes almost the hit-rate@100 (compare the two MRR figures above). Scaling s with the
#   catalogue keeps the paper's meaning: among 5M items, ranks 1–100 are the top 0.002%; among our
#   6,298 only rank 1 is (s = 1).

# %% [markdown]
# ## §4 Does PinSage earn its place? Real data first
#
# > **The paper (Table 1), in our words:** on the same labelled pairs, content-only embeddings
# > (Visual 17%, Annot. 14%, Combined 27% hit-rate@500) lose to every graph model; within the
# > graph models, each of PinSage's ingredients adds: max-pooling 39% → mean-pooling 41% →
# > mean-pooling-hard 46% → **PinSage 67%** (importance pooling + hard negatives), while training with
# > a cross-entropy loss instead of the max-margin loss (mean-pooling-xent) drops to 29%. Pixie is
# > left out because the labelled pairs were themselves produced by Pixie.
#
# Our labelled pairs come from users' like histories (MovieLens) and readers' shelves (goodbooks),
# not from Pixie, so two classical baselines belong in our table, and they are strong on a small,
# dense catalogue:
#
# * **item-kNN CF** — cosine between two items' columns of the item–collection matrix (who liked
#   both movies);
# * **Pixie** — visit counts of random walks from the query (notebook 02).
#
# Next to them: **popularity** (the floor) and the **content-only** views (text, genres + year,
# both: the analogues of the paper's Annot. / Visual / Combined).
#
# The library's training defaults (notebooks 05–07) left PinSage *below* item-kNN on MovieLens. What
# changed is a **recipe**, `RECIPE`, chosen on the **validation** pairs only — the test pairs were
# looked at once per setting kept. Every validation run behind it is in
# `benchmarks/results/tuning.jsonl`, listed below. The levers:
#
# 1. **Learning rate 3·10⁻³** instead of 10⁻³: after 10 epochs at 10⁻³ the validation hit-rate is
#    still climbing.
# 2. **No hard negatives.** Notebook 06 showed that on a catalogue of a few thousand movies the PPR
#    band holds many of the query's *future* answers: pushing them away costs hit-rate. Adding hard
#    negatives to a good setting lowers it, even with the band moved further out.
# 3. **The item's collections as features** (`collection_dim`): the train-graph collections of an
#    item (who liked the movie; which shelves hold the book), tf-idf weighted and randomly projected
#    to 256 columns. That is graph information, like the degree the paper feeds in — and it keeps the
#    model **inductive**: a new item has it as soon as it has edges.
# 4. **The best validation epoch** is embedded, not the last.
# 5. **goodbooks has a recipe of its own** (`RECIPES`, printed below): a wider embedding and a wider
#    collections sketch, the input skip (the embedding keeps the item's own shelves), and the
#    cross-entropy loss over larger batches. The classroom model's narrow embedding cannot hold the
#    neighbour structure of ten thousand books, each on about a hundred shelves.
#
# Levers that changed what PinSage *is* are options, not the recipe: **learned id embeddings**
# (`id_embeddings`, DGL's PinSAGE example does this) make the model transductive; the section after
# next shows the trade-off.

# %% tags=["nbval-ignore-output"]
print(RECIPE)
print(RECIPES)
tuning = [json.loads(line) for line in (RESULTS / "tuning.jsonl").read_text().splitlines() if line.strip()]
ref = {(r["dataset"], r["reference"], r["pairs"]): r["hit_rate"] for r in tuning if "reference" in r}
runs = [r for r in tuning if "setting" in r]


def label(s: dict) -> str:
    keep = {k: v for k, v in s.items() if k not in ("eval_pairs",) and not (k == "T" and v == 10)
            and not (k == "collection_dim" and v == 0) and not (k == "id_embeddings" and not v)}
    return ", ".join(f"{k}={v}" for k, v in keep.items()) or "library defaults"


for ds in ("ml-latest-small", "goodbooks"):
    rs = sorted((r for r in runs if r["dataset"] == ds), key=lambda r: (r["pairs"], -r["hit_rate"]))
    name = ds if ds != "goodbooks" else "goodbooks-10k"
    print(f"\n{ds}: {len(rs)} validation runs, best first on each sample of the val pairs")
    for pairs in dict.fromkeys(r["pairs"] for r in rs):
        knn = ref[(name, "item-kNN CF", pairs)]
        print(f" {pairs}: item-kNN CF {knn:.2%}")
        for r in (r for r in rs if r["pairs"] == pairs):
            print(f"  {r['hit_rate']:6.2%} {'≥ kNN' if r['hit_rate'] >= knn else '     '}  epoch {r['embedded_epoch']:>2}  "
                  f"{label(r['setting'])}")

# %%
# The recipe's settings beat item-kNN on MovieLens' validation pairs in every seed tried; without the
# collections features too. Hard negatives lower a good setting.
ml_runs = [r for r in runs if r["dataset"] == "ml-latest-small"]
knn_val = ref[("ml-latest-small", "item-kNN CF", ml_runs[0]["pairs"])]
assert all(r["pairs"] == ml_runs[0]["pairs"] for r in ml_runs)


def val_hits(**want) -> list[float]:
    return [r["hit_rate"] for r in ml_runs
            if all(r["setting"].get(k, d) == v for k, (v, d) in want.items())]


base = dict(lr=(0.003, 0.001), collection_dim=(0, 0), id_embeddings=(False, False), T=(10, 10),
            max_hard_negatives=(0, 6), hard_band=(None, None), epochs=(10, 10), margin=(0.1, 0.1))
no_hard = val_hits(**base)
recipe_runs = val_hits(**{**base, "collection_dim": (256, 0)})
assert len(no_hard) >= 3 and min(no_hard) > knn_val and recipe_runs and min(recipe_runs) > knn_val
with_hard = val_hits(**{**base, "collection_dim": (256, 0), "max_hard_negatives": (6, 6), "hard_band": ([600, 1500], None)})
assert with_hard and max(with_hard) < min(recipe_runs)
print(f"item-kNN CF {knn_val:.2%} · lr 3e-3 without hard negatives: {', '.join(f'{h:.2%}' for h in no_hard)} "
      f"(seeds) · + collections: {', '.join(f'{h:.2%}' for h in recipe_runs)} · the same with hard negatives "
      f"(band 600–1500): {', '.join(f'{h:.2%}' for h in with_hard)}")

# %% [markdown]
# Now the recipe trained here, live, on the same split (classroom size: a few epochs instead of 10),
# and evaluated once on the 4,579 test pairs against every baseline:

# %%
real = Experiment.load("ml-latest-small", collection_dim=RECIPE.collection_dim)
recipe = RECIPE.train_config(len(real.split.train_pairs), epochs=PRESET["real_epochs"], eval_pairs=PRESET["eval_pairs"])
PINSAGE = Variant("PinSage", {"pooling": "importance"})  # importance pooling; the recipe has no hard negatives
t0 = time.perf_counter()
pinsage = train_variant(real, PINSAGE, config=recipe)
real_base = real.baselines(pixie_steps=PRESET["pixie_steps"])
rows = compare([*real_base, pinsage.recommender()], test, k=10, seed=real.seed)
by_name = {m.name: m for m in rows}
real_seconds = time.perf_counter() - t0

# %% tags=["nbval-ignore-output"]
print(format_table(rows, title=f"{real.name}, {SIZE} size ({recipe.epochs} epochs; features "
                               f"{', '.join(real.features.names)}), test pairs"))
print(f"\ntrained and evaluated in {real_seconds:.0f} s; embedded: epoch {pinsage.epoch}")

# %%
# Robust facts at classroom size (full size, below, adds PinSage ≥ item-kNN):
pop = by_name["popularity"].hit_rate
content_names = [m.name for m in rows if m.name.startswith("content:")]
best_content = max(by_name[n].hit_rate for n in content_names)
assert all(math.isfinite(m.hit_rate) and math.isfinite(m.mrr) and m.num_pairs == len(test) for m in rows)
assert by_name["PinSage"].hit_rate > max(by_name["Pixie"].hit_rate, best_content, 2 * pop)
assert by_name["item-kNN CF"].hit_rate > 1.5 * pop and by_name["content: combined"].hit_rate > by_name["content: text"].hit_rate
print(f"PinSage {by_name['PinSage'].hit_rate:.2%} beats Pixie ({by_name['Pixie'].hit_rate:.2%}), the best content "
      f"view ({best_content:.2%}) and popularity ({pop:.2%}); item-kNN CF: {by_name['item-kNN CF'].hit_rate:.2%}")

# %% [markdown]
# ### Is a difference real? Paired standard errors
#
# Each hit-rate is a mean of 4,579 zeros and ones, so it carries a binomial standard error
# √(p(1 − p)/P) — about a quarter of a point at p ≈ 3%. Two methods are judged on the *same* pairs, so their
# difference has a **paired** standard error, usually smaller: per pair take d = hit_A − hit_B ∈
# {−1, 0, 1}, then s.e. = sd(d) / √P (`regimes.paired_stderr`). A difference inside ±2 paired s.e. is
# noise at this sample size.

# %% tags=["nbval-ignore-output"]
ps = by_name["PinSage"]
print(f"{'PinSage minus …':<22} {'difference':>10} {'± 2 paired s.e.':>16}  verdict")
for m in rows:
    if m.name == "PinSage":
        continue
    diff, se = paired_stderr(ps, m)
    verdict = "PinSage better" if diff > 2 * se else "PinSage worse" if diff < -2 * se else "within noise"
    print(f"{m.name:<22} {100 * diff:>+9.2f}pt {200 * se:>15.2f}pt  {verdict}")

# %% [markdown]
# The full-size figures — the main job exactly as a user runs it (`python3 tasks.py run`, and
# `--dataset goodbooks`), measured by `benchmarks/bench_quality.py` on the test pairs, once:

# %% tags=["nbval-ignore-output"]
quality = [json.loads(line) for line in (RESULTS / "quality.jsonl").read_text().splitlines() if line.strip()]
full_rows = {}
for r in quality:
    if "method" in r and r["pairs"] == "test" and "seed" not in r:
        full_rows.setdefault((r["dataset"], r.get("variant", "recipe")), {})[r["method"]] = r
for (ds, variant), ms in full_rows.items():
    print(f"{ds} ({variant}), {next(iter(ms.values()))['num_pairs']:,} test pairs")
    for name, r in ms.items():
        print(f"  {name:<24} hit@10 {r['hit_rate']:6.2%} ± {r['stderr']:.2%}   MRR {r['mrr']:.4f}")
    times = [r for r in quality if r.get("figure") == "main_job" and r["dataset"] == ds
             and r.get("variant", "recipe") == variant]
    if times:
        print(f"  (the main job took {times[-1]['seconds']:.0f} s, peak {times[-1]['max_rss_mib']} MiB)")

# %% [markdown]
# ## Inductive or transductive: can the model embed a pin it has never seen?
#
# > **The paper (§1, §3), in our words:** PinSage is *inductive*. An item's embedding is computed from
# > its features and its neighbourhood, never looked up, so a pin created after training gets an
# > embedding as soon as it is saved to a board — no retraining. At Pinterest, where millions of pins
# > arrive every day, that is not optional.
#
# Many GNN recommenders (DGL's PinSAGE example among them) add a **learned vector per item id** to
# the input, h⁽⁰⁾ = x + e_id. It can memorise what the features miss, but the model becomes
# *transductive*: there is no e_id for an item that was not there in training. The library has it as a
# named option, `id_embeddings=N`; `model.inductive` says which kind a model is.
#
# The experiment: `hold_out_items` renumbers 10% of the movies (those with train edges) to the end
# and trains **without a trace of them** — no edge, no pair, no feature row. Then every movie is
# embedded from the full train graph, where the held-out movies now have their edges (as pins saved
# after training). We score the test pairs whose answer is a held-out movie, and, for the trade-off,
# the test pairs among the movies both models saw.

# %%
full, seen = hold_out_items("ml-latest-small", 0.1, seed=0, collection_dim=RECIPE.collection_dim)
n_seen, n_all = seen.graph.num_items, full.graph.num_items
held_cfg = RECIPE.train_config(len(seen.split.train_pairs), epochs=PRESET["held_epochs"],
                               eval_pairs=PRESET["eval_pairs"])
inductive = train_variant(seen, PINSAGE, config=held_cfg)
transductive = train_variant(seen, Variant("PinSage + id embeddings", {"pooling": "importance"}), config=held_cfg,
                             id_embeddings=n_seen)
z_all = embed_all(inductive.model, full.table, full.x)  # every movie, the new ones from features + edges
try:
    embed_all(transductive.model, full.table, full.x)
    refused = None
except ValueError as exc:
    refused = str(exc)
tp = full.split.test_pairs
new_pairs, old_pairs = tp[tp[:, 1] >= n_seen], tp[(tp < n_seen).all(1)]
held_new = compare([EmbeddingRecommender("PinSage (inductive)", z_all), ItemKNNRecommender(full.graph),
                    PopularityRecommender(full.graph)], new_pairs, k=10)
held_old = compare([EmbeddingRecommender("PinSage (inductive)", z_all[:n_seen]), transductive.recommender(),
                    ItemKNNRecommender(seen.graph)], old_pairs, k=10)

# %% tags=["nbval-ignore-output"]
print(f"{n_all - n_seen:,} of {n_all:,} movies held out of training; the model trained on {n_seen:,} "
      f"({len(seen.split.train_pairs):,} train pairs)")
print(f"\ntransductive model asked to embed every movie:\n  ValueError: {refused}\n")
print(f"test pairs whose answer is a held-out movie ({len(new_pairs):,}):")
for m in held_new:
    print(f"  {m.name:<26} hit@10 {m.hit_rate:6.2%} ± {m.stderr():.2%}")
print(f"test pairs among the movies both models saw ({len(old_pairs):,}):")
for m in held_old:
    print(f"  {m.name:<26} hit@10 {m.hit_rate:6.2%} ± {m.stderr():.2%}")

# %%
hn = {m.name: m for m in held_new}
assert inductive.model.inductive and not transductive.model.inductive
assert refused is not None and f"cannot embed item {n_seen}" in refused
assert torch.isfinite(z_all).all() and len(new_pairs) > 200
assert hn["PinSage (inductive)"].hit_rate > hn["popularity"].hit_rate + 2 * hn["PinSage (inductive)"].stderr()
print(f"the inductive model finds {hn['PinSage (inductive)'].hit_rate:.2%} of the held-out movies' test pairs "
      f"in its top 10 without ever having trained on them; the transductive one cannot embed them at all")

# %% [markdown]
# What the trade-off looks like:
#
# * **Only the inductive model can serve a new item.** The transductive one refuses (the error names
#   the first unknown id); in production it would need retraining — or a fallback that is, in effect,
#   an inductive model.
# * **On new items the inductive model is useful at once**: far above popularity (asserted above).
#   Item-kNN is printed beside it because it can score new items too — it reads their edges directly
#   — so it is the fair yardstick for "no retraining".
# * **On items both models saw**, compare the two printed rows: the id vectors start as noise and are
#   learned pair by pair, so short runs favour the inductive model; the full-size figures above hold
#   the main job with `--id-embeddings` over 10 epochs. The collections features give the inductive
#   model much of what id vectors memorise — from the graph, so a new item has them too.

# %% [markdown]
# ## §4 Figure 4: how the embeddings use the space
#
# > **The paper (Figure 4), in our words:** the distribution of cosine similarities between random
# > pairs of items is widest for PinSage — its **kurtosis** is 0.43 against 1.20 for Visual and 2.49 for
# > Annot. embeddings — so PinSage "uses the space best"; a wider spread also means fewer collisions
# > in the locality-sensitive hashing that serves the recommendations (§3.4, notebook 08).
#
# Kurtosis here is **excess** kurtosis, E[(x − μ)⁴] / σ⁴ − 3: 0 for a normal distribution, positive
# for a peak with heavy tails (most pairs near the mean, a few far out), negative for a flat,
# box-like spread. `similarity_distribution(emb, n)` draws n random pairs of distinct items and returns
# their cosines; `compare` already put the kurtosis of 20,000 such pairs into the table above. We also
# look at what kurtosis does *not* see: the **mean** cosine (where the cloud sits) and each item's
# **nearest-neighbour** cosine (how crowded the neighbourhood of a query is).

# %%
views = {"PinSage": pinsage.embeddings}  # unit vectors, as the model outputs them
views.update({r.name: r.embeddings for r in content_baselines(real.features)})  # the same views as the table's
sims = {name: similarity_distribution(e, PRESET["sim_pairs"], generator=real.seed) for name, e in views.items()}
everyone = torch.arange(N)
stats = {}
for name, e in views.items():
    unit = torch.nn.functional.normalize(e, dim=1)
    nearest = exact_top_k(unit, everyone, 1)[1][:, 0]  # cosine of each item's nearest other item
    stats[name] = dict(mean=sims[name].mean().item(), sd=sims[name].std().item(), kurt=kurtosis(sims[name]),
                       nearest=nearest.median().item(), negative=(sims[name] < 0).float().mean().item())

fig, axes = plt.subplots(1, 2, figsize=(14, 4.2), sharey=True)
bins = torch.linspace(-1, 1, 81).tolist()
panels = (("PinSage (ours)", ["PinSage"]), ("content-only views (ours)", content_names))
for ax, (title, group) in zip(axes, panels):
    for name in group:
        ax.hist(sims[name].tolist(), bins=bins, density=True, histtype="step", lw=1.6,
                label=f"{name}  (kurtosis {stats[name]['kurt']:+.2f})")
    ax.set(xlabel="cosine similarity of a random pair of movies", title=title, xlim=(-1, 1))
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, alpha=0.3)
axes[0].set_ylabel("density")
fig.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
paper_k = PAPER["kurtosis"]
paper_k_of = {"PinSage": paper_k["PinSage"], "content: text": paper_k["Annot."]}
print(f"{'method':<22} {'mean cos':>8} {'s.d.':>6} {'< 0':>6} {'kurtosis':>9} {'nearest cos':>11}   paper's kurtosis")
for name, st in stats.items():
    pk = paper_k_of.get(name)
    print(f"{name:<22} {st['mean']:>8.3f} {st['sd']:>6.3f} {st['negative']:>6.1%} {st['kurt']:>+9.2f} "
          f"{st['nearest']:>11.3f}   {pk if pk is not None else ''}")
print(f"(paper: PinSage {paper_k['PinSage']}, Visual {paper_k['Visual']}, Annot. {paper_k['Annot.']}; "
      f"'nearest cos' is the median over all {N:,} movies)")

# %%
# The kurtosis in the table came from the same 20,000 seeded pairs: the two computations agree.
for name, st in stats.items():
    assert math.isfinite(st["kurt"]) and math.isclose(st["kurt"], by_name[name].kurtosis, rel_tol=1e-9, abs_tol=1e-12)
# Robust facts: PinSage's kurtosis is below the text and combined views' (the paper's finding), and
# its embeddings sit in a cone (random pairs of movies have a clearly positive cosine on average,
# nearest neighbours a very high one), while the content views spread around 0.
assert stats["PinSage"]["kurt"] < min(stats["content: text"]["kurt"], stats["content: combined"]["kurt"])
assert stats["PinSage"]["mean"] > 0.2 and stats["PinSage"]["nearest"] > 0.8
assert all(abs(stats[n]["mean"]) < 0.1 for n in content_names)
print(f"PinSage: kurtosis {stats['PinSage']['kurt']:+.2f}, mean cosine of a random pair {stats['PinSage']['mean']:.2f}, "
      f"median nearest-neighbour cosine {stats['PinSage']['nearest']:.3f}; content views: mean cosines "
      + ", ".join(f"{stats[n]['mean']:+.2f}" for n in content_names))

# %% [markdown]
# What to read from the figure — honestly:
#
# * **Our PinSage kurtosis is low, like the paper's**, and below that of the text and combined
#   content views (asserted above). By the paper's yardstick PinSage "uses the space well".
# * **But the yardstick is blind to where the distribution sits.** Kurtosis does not change when the
#   whole distribution shifts. Our trained embeddings sit in a **cone**: a random pair of movies has a
#   clearly positive cosine on average and a movie's nearest neighbour a very high one (printed
#   above), while the content views spread around 0, as independent random directions would. The
#   cone comes partly from the architecture — every CONVOLVE layer ends with a **ReLU before the L2
#   normalisation**, so h⁽ᴷ⁾ lies in the positive orthant (all its cosines ≥ 0) and the head
#   G₂·ReLU(G₁·h + g) only partly undoes that — and partly from the loss: the margin loss only asks
#   the positive to beat each negative by Δ = 0.1, never that unrelated items be far apart.
# * **Why it matters for serving.** Ranking by cosine ignores a shared offset, so hit-rate does not
#   care. Random-hyperplane LSH (notebook 08) does: in a narrow cone most hyperplanes put all items on
#   the same side, buckets are big and unbalanced, and every query scans more candidates — which is
#   why `LSHIndex(center=True)` hashes around the mean. The paper's low kurtosis *and* a distribution
#   centred near 0 is what makes LSH cheap.

# %% [markdown]
# ## §4 Tables 3 and 4: what batch size and neighbourhood size cost
#
# > **The paper (Tables 3 and 4), in our words:** for mean-pooling-hard, a bigger minibatch costs more
# > per iteration (590 ms at 512 pairs, 2,240 ms at 4,096) but needs fewer iterations; 2,048 gave the
# > shortest total time (48.8 h). For PinSage, more neighbours help with diminishing returns
# > (T = 10: 60%, T = 20: 63%, T = 50: 67%) while training time grows (20 h, 33 h, 78 h); T = 50 was kept.
#
# `runtime_by_batch_size` trains mean-pooling-hard at each batch size (the learning rate scaled with
# the batch, as the linear scaling rule says) and `runtime_by_neighbors` trains PinSage with
# neighbourhood tables of each T. Each row reports the median milliseconds per iteration (building the
# minibatch included), the iterations and seconds up to the best validation epoch, and the test
# hit-rate@10 and MRR of the final model. In classroom size each setting trains **one epoch of six
# minibatches**: enough to time an iteration, far too little to judge quality or iterations to
# converge (and in a first epoch the curriculum adds no hard negatives yet). Notebook 07 measures
# the iterations-to-target half of Table 3 properly.

# %%
rt_config = TrainConfig(epochs=PRESET["runtime_epochs"], max_steps_per_epoch=PRESET["runtime_steps"],
                        eval_pairs=PRESET["eval_pairs"])
by_batch = runtime_by_batch_size(exp, batch_sizes=PRESET["runtime_batches"], config=rt_config)
by_T = runtime_by_neighbors(exp, neighbors=PRESET["neighbors"], config=rt_config)

# %% tags=["nbval-ignore-output"]
# Timings depend on the machine and its load: printed, and only robust facts asserted below.
t3, t4 = PAPER["table3"], PAPER["table4"]
print(format_runtime_table(by_batch))
print()
print(format_runtime_table(by_T))
b_lo, b_hi = by_batch[0], by_batch[-1]
print(f"\nms per iteration, batch {b_hi.value} vs {b_lo.value}: {b_hi.ms_per_iteration / b_lo.ms_per_iteration:.1f}× "
      f"for {b_hi.value // b_lo.value}× the pairs (the paper, 4096 vs 512: {t3[4096][0] / t3[512][0]:.1f}× for 8×)")

# %%
fig, axes = plt.subplots(1, 3, figsize=(16, 4.4))
ax = axes[0]
ax.plot([r.value for r in by_batch], [r.ms_per_iteration for r in by_batch], "o-", label=f"ours ({SIZE} size, CPU)")
ax.plot(list(t3), [v[0] for v in t3.values()], "s-", color="C3", label="paper (16 GPUs)")
ticks = sorted(set(PRESET["runtime_batches"]) | set(t3))
ax.set(xscale="log", yscale="log", xlabel="batch size (pairs)", ylabel="ms per iteration",
       title="Table 3: time per iteration vs batch size")
ax.set_xticks(ticks, [str(b) for b in ticks])
T_ref = 10  # both tables have a T = 10 row: show the others relative to it
ours_ref = next(r for r in by_T if r.value == T_ref)
ax = axes[1]
ax.plot([r.value for r in by_T], [r.ms_per_iteration / ours_ref.ms_per_iteration for r in by_T], "o-",
        label="ours: ms per iteration")
ax.plot(list(t4), [v[2] / t4[T_ref][2] for v in t4.values()], "s-", color="C3", label="paper: training hours")
ax.set(xlabel="neighbourhood size T", ylabel=f"relative to T = {T_ref}", title="Table 4: cost vs T")
ax = axes[2]
ax.plot([r.value for r in by_T], [r.hit_rate / ours_ref.hit_rate for r in by_T], "o-", label="ours: hit@10")
ax.plot(list(t4), [v[0] / t4[T_ref][0] for v in t4.values()], "s-", color="C3", label="paper: hit@500")
ax.set(xlabel="neighbourhood size T", ylabel=f"relative to T = {T_ref}",
       title="Table 4: hit-rate vs T" + (" (one short epoch: noise)" if SIZE == "classroom" else ""))
for ax in axes:
    ax.grid(True, alpha=0.3)
    ax.minorticks_off()
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
for r in by_batch + by_T:
    assert math.isfinite(r.ms_per_iteration) and r.ms_per_iteration > 0 and r.iterations > 0
    assert math.isfinite(r.hit_rate) and math.isfinite(r.mrr) and math.isfinite(r.seconds)
assert by_batch[-1].ms_per_iteration > by_batch[0].ms_per_iteration  # 8× the pairs or more: a slower iteration
# (Not asserted: the time per iteration against T. It grew with T in our quiet classroom runs, ×2–2.5
# from T = 5 to 20, but one busy moment on a shared machine can reverse two settings, as it did in one
# of our full-size runs. The next cell measures the growth exactly, in nodes instead of milliseconds.)
print(f"{len(by_batch) + len(by_T)} settings trained; the largest batch gives the slower iteration")

# %% [markdown]
# Why does a larger T cost more per iteration, and by how much? This part is exact, no timing
# involved: for T = 5, 10, 20 and 50 (tables built the same way) the number of distinct
# movies within K = 2 hops of a movie (itself, its T neighbours and theirs; averaged over 1,000
# movies), the size of one minibatch's computation graph S⁽⁰⁾ (512 queries, 512 positives, 500 shared
# negatives and their 2-hop neighbourhoods: what Algorithm 2 embeds at the bottom layer), and how
# unequal the importance weights are (the top neighbour's weight, against 1/T for mean pooling).

# %% tags=["nbval-check-output"]
def two_hop(ids: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """Distinct items in each item's 2-hop neighbourhood (ids: [N, T] neighbour table, -1 = padding)."""
    one = ids[items]
    two = torch.where(one.unsqueeze(2) >= 0, ids[one.clamp_min(0)], -1).flatten(1)
    srt = torch.cat([items.unsqueeze(1), one, two], 1).sort(1).values
    distinct = torch.cat([torch.ones_like(srt[:, :1], dtype=torch.bool), srt[:, 1:] != srt[:, :-1]], 1) & (srt >= 0)
    return distinct.sum(1)


def hop(ids: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """The items and their neighbours (padding left out)."""
    nb = ids[items]
    return torch.cat([items, nb[nb >= 0]]).unique()


g0 = torch.Generator().manual_seed(0)
batch = exp.split.train_pairs[torch.randperm(len(exp.split.train_pairs), generator=g0)[:512]]
seeds = torch.cat([batch.flatten(), torch.randint(0, N, (500,), generator=g0)]).unique()
some = torch.randperm(N, generator=g0)[:1_000]
s0_size = {}
print(f"{'T':>3} {'2-hop reach':>11} {'(at most)':>9} {'S⁽⁰⁾ of one minibatch':>22} {'top weight':>10} {'1/T':>6}")
for T in (5, 10, 20, 50):
    nb = exp.with_neighbors(T).table.table
    s0_size[T] = hop(nb.ids, hop(nb.ids, seeds)).numel()  # Algorithm 2's S⁽⁰⁾ for K = 2
    print(f"{T:>3} {two_hop(nb.ids, some).double().mean():>11.0f} {1 + T + T * T:>9,} "
          f"{s0_size[T]:>10,} = {s0_size[T] / N:>4.0%} of {N:,} {nb.weights[:, 0].mean():>10.3f} {1 / T:>6.3f}")
sizes = list(s0_size.values())
assert all(a < b for a, b in zip(sizes, sizes[1:])) and s0_size[10] / N > 0.4
top10 = float(exp.with_neighbors(10).table.table.weights[:, 0].mean())
assert 0.1 < top10 < 0.15  # the top neighbour's weight at T = 10: barely above 1/T

# %% [markdown]
# What the runtime tables show, and what they cannot:
#
# * **Time per iteration grows with the batch, far less than in proportion**, as in the paper: an
#   iteration also embeds 500 shared negatives, and the neighbourhoods of a batch overlap more as it
#   grows. The paper's GPUs: 8× the pairs for 3.8× the time (Table 3).
# * **Iterations and total time** — the other half of Table 3 — need runs that converge. Classroom
#   size trains one short epoch per setting, so "iterations to the best epoch" is just the steps it
#   ran; notebook 07 measures iterations to a target loss across batch sizes instead. Full size trains
#   4 epochs per setting; its hit-rates are in the table above when `PINSAGE_EDU_SIZE=full`. Note also
#   that the median iteration hides the hard negatives' cost: their PPR rankings are computed the
#   first time a query needs them (epoch 2) and cached for the rest of the run.
# * **T costs more per iteration because S⁽⁰⁾ grows**, but far less than the T² of a 2-hop tree: at
#   T = 10 one minibatch already reads over 40% of all movies (asserted above) and more at T = 50, so a
#   larger T mostly re-reads the same movies. The paper's training hours grew ×1.65 from T = 10 to 20.
# * **Importance pooling has little to weigh.** At T = 10 the top neighbour's importance weight is
#   barely above mean pooling's 1/T (the table's last two columns; asserted below 1.5/T): the visit
#   counts of the top 10 neighbours are nearly equal, so importance pooling is nearly mean pooling.
#   The regime map below measures what that costs it on MovieLens-like coverage, and where it pays.
# * **Hit-rate against T** in classroom size says nothing (one short epoch); at full size compare the
#   settings' hit-rates against their standard errors before reading diminishing returns into them.

# %% [markdown]
# ## §4 Table 1 where the paper's choices pay off: synthetic pins and boards
#
# On MovieLens and goodbooks two of the paper's ingredients do nothing or harm: importance pooling
# has little to weigh (the top-10 neighbours' visit counts are nearly equal, above) and hard
# negatives are full of false negatives (notebook 06). That is not a verdict on the paper: it says our
# catalogues lack what Pinterest has. The synthetic generator can add it, one named knob at a time
# (`synthetic_pins_boards`; the `"pinterest-like"` preset in `SYNTHETIC_PRESETS`):
#
# * **hierarchical topics** (`num_subtopics`, `subtopic_purity`, `subtopic_signal`): boards are about
#   a sub-topic; the features say the topic clearly and the sub-topic only faintly. A uniform
#   negative is almost always from another topic — easy — while the pins that matter to tell apart
#   are same-topic, other-sub-topic: the PPR band holds many of them, so hard negatives teach something.
# * **noisy catch-all boards** (`catchall_boards`, `catchall_size`): boards that draw from every topic.
#   They put unrelated pins one hop apart; random-walk visit counts see through them (a pin reached
#   through many boards is visited often, one reached through a catch-all rarely), uniform or max
#   pooling do not.
# * **hub pins** (`popularity_exponent`): a steep popularity law makes a few pins appear on many
#   boards, so a pin's neighbourhood is crowded with hubs unless they are down-weighted.
# * **a catalogue much larger than a two-hop neighbourhood**, and **informative but noisy views**
#   (`feature_noise`).
#
# The knobs were tuned on the **validation** pairs only; the test pairs were read once, for the preset
# kept. Every rung trains with one explicit configuration (`regimes.PINTEREST_LIKE_TRAIN`: it does not
# move when library defaults do), for training seeds 0, 1 and 2 on the same data.

# %% tags=["nbval-check-output"]
from pinsage_edu.data import SYNTHETIC_PRESETS
from pinsage_edu.regimes import PINTEREST_LIKE_T, PINTEREST_LIKE_TRAIN
print("pinterest-like:", SYNTHETIC_PRESETS["pinterest-like"])
print("T =", PINTEREST_LIKE_T, "·", PINTEREST_LIKE_TRAIN["epochs"] * PINTEREST_LIKE_TRAIN["max_steps_per_epoch"],
      "steps per rung ·", {k: v for k, v in PINTEREST_LIKE_TRAIN.items()
                                     if k in ("epochs", "batch_size", "lr", "max_steps_per_epoch", "max_hard_negatives", "num_shared_negatives",
                                              "loss", "temperature", "margin")})

# %%
syn = Experiment.load("synthetic", preset="pinterest-like", num_neighbors=PINTEREST_LIKE_T)
syn_table = seed_table(syn, seeds=(0, 1, 2), pairs="test")

# %% tags=["nbval-ignore-output"]
print(syn.graph)
print(f"two hops reach {two_hop_coverage(syn.graph):.1%} of the pins from an average pin "
      f"(MovieLens: {two_hop_coverage(exp.graph):.1%})\n")
print(syn_table.format())

# %%
fig, ax = plt.subplots(figsize=(9, 3.8))
steps = syn_table.steps()
for j, run in enumerate(syn_table.runs):
    ds = [100 * per[j][0] for _, _, per in steps]
    es = [200 * per[j][1] for _, _, per in steps]
    ax.errorbar([i + 0.15 * (j - 1) for i in range(len(steps))], ds, yerr=es, fmt="o", capsize=3,
                label=f"training seed {run.seed}")
ax.axhline(0, color="k", lw=0.8)
ax.set_xticks(range(len(steps)), [f"{w}\n< {b}" for w, b, _ in steps], fontsize=8)
ax.set(ylabel="hit@10 gain (points, ± 2 paired s.e.)", title="each step of the paper's order, per training seed")
ax.legend(fontsize=8)
ax.grid(True, axis="y", alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# Each step pooled over the three seeds, with the seeds' combined standard error.
pooled = {(w, b): (sum(d for d, _ in per) / len(per), math.sqrt(sum(se * se for _, se in per)) / len(per))
          for w, b, per in syn_table.steps()}
assert all(d > 0 for d, _ in pooled.values())  # every step the paper's way, pooled over the seeds
print(f"the paper's whole order holds in {syn_table.seeds_holding()} of 3 training seeds "
      f"({syn_table.runs[0].metrics['PinSage'].num_pairs:,} test pairs); pooled over the seeds:")
for (w, b), (d, se) in pooled.items():
    print(f"  {w + ' < ' + b:<40} {100 * d:+.2f} ± {100 * se:.2f} points "
          + ("(clear)" if d > 2 * se else "(positive, within 2 s.e.)" if d > 0 else "(not reproduced)"))

# %% [markdown]
# What the table says, honestly: **with enough training steps, the paper's whole order holds in every
# training seed** (the count is printed above and asserted below). Hard negatives over mean-pooling
# are the largest step, clear of noise (more than two paired standard errors) in every seed: the hard
# ones are same-topic pins of another sub-topic, exactly the confusion the uniform negatives never
# show the model. Importance pooling over mean-pooling-hard is smaller — the top-T neighbours are
# already the most visited ones, so the weights only re-weigh a good list — but positive in every
# seed. The cross-entropy rung is clearly below mean-pooling in every seed, as in the paper.
#
# Two lessons from getting here (both measured on the validation pairs, the test pairs read once):
#
# * **Hard negatives need steps.** With a third of this budget (printed above with the settings)
#   mean-pooling-hard was *below* mean-pooling in most seeds: the hard negatives make the task
#   harder before they make the model better — the paper's own reason for the curriculum (§3.3) and
#   for training longer with them. The catalogue is small, so each step embeds nearly all of it
#   anyway: steps, not pairs per step, are what training costs here.
# * **A single seed proves little.** The smallest step (the per-seed figures above) is about one or two
#   paired standard errors; a different training seed or a different draw of the data can shrink it
#   further. The assertion is on the direction of every step in each seed, and on the two clear
#   steps being clear; the size of the thinnest step is printed, not promised.

# %%
per_seed = {(w, b): per for w, b, per in syn_table.steps()}
assert syn_table.seeds_holding() == 3  # the whole order, in every training seed
for step in [("mean-pooling", "mean-pooling-hard"), ("mean-pooling-xent", "mean-pooling")]:
    assert all(d > 2 * se for d, se in per_seed[step]), step  # clear of noise in every seed
thinnest = min((d / se, w, b) for w, b, per in syn_table.steps() for d, se in per)
print(f"thinnest step: {thinnest[1]} < {thinnest[2]} at {thinnest[0]:.1f} paired standard errors")

# %% [markdown]
# ### The regime map
#
# Which knob makes which choice pay? `regime_map` sweeps one knob of the preset, trains
# mean-pooling, mean-pooling-hard and PinSage for two seeds per value (each seed draws its own data),
# and plots two gains with their paired standard errors: **hard negatives** (mean-pooling-hard −
# mean-pooling) and **importance pooling** (PinSage − mean-pooling-hard). The x axis can also be the
# measured **two-hop coverage** — the share of the catalogue within two hops of an average item —
# which puts MovieLens and goodbooks on the same picture. (Classroom size is a quick look at half the
# catalogue with a tiny step budget — far below what hard negatives need to pay, as the table above
# showed — so its gains are noisy and its hard-negative gain leans negative; `PINSAGE_EDU_SIZE=full`
# runs the preset's own size and budget.)

# %%
sweep_knob, sweep_values = "num_subtopics", [1, 4]
rmap = regime_map(sweep_knob, sweep_values, seeds=(0, 1), size=PRESET["regime_size"])
gb_graph = Experiment.load("goodbooks").graph if SIZE == "full" else load_dataset("goodbooks").split(seed=0).graph
marks = {"ml-latest-small": two_hop_coverage(exp.graph), "goodbooks": two_hop_coverage(gb_graph)}

# %% tags=["nbval-ignore-output"]
print(rmap.format())
print("two-hop coverage: " + ", ".join(f"{k} {v:.1%}" for k, v in marks.items()))
fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
plot_regime_map(rmap, axes[0])
plot_regime_map(rmap, axes[1], x="coverage", marks=marks)
fig.tight_layout()
plt.show()

# %%
assert all(math.isfinite(p.gains[g][0]) and math.isfinite(p.gains[g][1]) for p in rmap.points for g in p.gains)
assert marks["ml-latest-small"] > 2 * max(p.coverage for p in rmap.points)  # MovieLens: far more of it in reach
print(f"two hops reach {marks['ml-latest-small']:.0%} of MovieLens and {marks['goodbooks']:.0%} of goodbooks, "
      f"against at most {max(p.coverage for p in rmap.points):.1%} of the synthetic catalogue")

# %% [markdown]
# **At the preset's own size and budget** the map becomes readable. `benchmarks/bench_regime.py`
# trains the three rungs for two seeds per knob value (each seed its own data) on the validation
# pairs — a few minutes per knob, too slow for a classroom run — and the figures are read here from
# `benchmarks/results/regime_map.jsonl`. Two knobs:
#
# * `subtopic_purity`: at 1 every board stays inside its sub-topic, so the PPR band holds hardly any
#   same-topic pins of another sub-topic — the truly hard ones; below 1 boards now and then cross
#   sub-topics and the band fills with them.
# * `catchall_boards`: the share of noisy catch-all boards. They are the noise importance pooling is
#   meant to see through — and they also fill the PPR band with unrelated hub pins, easy negatives.

# %% tags=["nbval-ignore-output"]
regime_rows = [json.loads(line) for line in (RESULTS / "regime_map.jsonl").read_text().splitlines() if line.strip()]
regime_knobs = {r["knob"]: [q for q in regime_rows if q["knob"] == r["knob"]] for r in regime_rows}
for knob, rows in regime_knobs.items():
    print(f"{knob} (full size, {rows[0]['pairs']} pairs, seeds {rows[0]['seeds']}, {rows[0]['seconds']:.0f} s):")
    for r in rows:
        g = r["gains"]
        print(f"  {r['value']!s:>5}  two-hop {r['coverage']:5.1%}  mean-pooling {r['hit_rates']['mean-pooling']:6.2%}   "
              + "   ".join(f"{n} {100 * g[n]['difference']:+.2f} ± {100 * g[n]['stderr']:.2f}" for n in g))
fig, axes = plt.subplots(1, len(regime_knobs), figsize=(12, 3.8), squeeze=False)
for ax, (knob, rows) in zip(axes[0], regime_knobs.items()):
    for j, name in enumerate(rows[0]["gains"]):
        xs = [i + 0.08 * (2 * j - 1) for i in range(len(rows))]
        ax.errorbar(xs, [100 * r["gains"][name]["difference"] for r in rows],
                    yerr=[200 * r["gains"][name]["stderr"] for r in rows], fmt="o-", capsize=3, label=name)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(rows)), [str(r["value"]) for r in rows])
    ax.set(xlabel=knob, ylabel="gain in val hit@10 (points, ± 2 s.e.)", title=f"full size: gains against {knob}")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
def gain(knob: str, value: float, name: str) -> tuple[float, float]:
    r = next(q for q in regime_knobs[knob] if q["value"] == value)
    return r["gains"][name]["difference"], r["gains"][name]["stderr"]


hard_clean, hard_noisy = gain("catchall_boards", 0.0, "hard negatives"), gain("catchall_boards", 0.2, "hard negatives")
assert all(d > 2 * se for rows in regime_knobs.values() for r in rows
           for d, se in [(r["gains"]["importance pooling"]["difference"], r["gains"]["importance pooling"]["stderr"])])
assert hard_clean[0] - hard_noisy[0] > 2 * math.hypot(hard_clean[1], hard_noisy[1])  # catch-alls spoil the band
assert all(gain("subtopic_purity", v, "hard negatives")[0] > 2 * gain("subtopic_purity", v, "hard negatives")[1]
           for v in (1.0, 0.9))
print(f"hard negatives: {100 * hard_clean[0]:+.2f} points without catch-all boards, {100 * hard_noisy[0]:+.2f} "
      f"with a fifth of the boards catch-alls; importance pooling clear of noise at every point")

# %% [markdown]
# Read together: **importance pooling pays everywhere on this data, most where catch-all boards add
# noise** (the paper's argument for visit counts); **hard negatives pay when the PPR band holds
# truly hard items**, and lose their gain once catch-all boards fill the band with unrelated hub pins
# — a band is only as good as the walks that rank it. Crossing sub-topics adds truly hard items to
# the band and raises the gain. MovieLens and goodbooks sit far to the right of every point here on
# two-hop coverage (printed above): two hops reach most of their catalogues, which is why their bands
# are full of true positives instead (notebook 06).

# %% [markdown]
# ## What is and isn't reproduced, and why
#
# The cell below collects the claims of this notebook from the figures it computed (and from the
# full-size files it read); the prose after it explains them.

# %% tags=["nbval-ignore-output"]
ml_full = full_rows.get(("ml-latest-small", "recipe"), {})
gb_full = full_rows.get(("goodbooks-10k", "recipe"), {})


def verdict(ok: bool) -> str:
    return "reproduced" if ok else "NOT reproduced"


claims = [
    ("graph + features beat the content-only views (ml, classroom)", by_name["PinSage"].hit_rate > best_content),
    ("PinSage ≥ item-kNN CF on ml-latest-small (full size, test)",
     bool(ml_full) and ml_full["PinSage"]["hit_rate"] >= ml_full["item-kNN CF"]["hit_rate"]),
    ("PinSage ≥ item-kNN CF on goodbooks (full size, test)",
     bool(gb_full) and gb_full["PinSage"]["hit_rate"] >= gb_full["item-kNN CF"]["hit_rate"]),
    ("an inductive model embeds items unseen in training", refused is not None and hn["PinSage (inductive)"].hit_rate > 0),
    ("Table 1's order on the pinterest-like synthetic data, 3 of 3 seeds", syn_table.seeds_holding() == 3),
    ("PinSage's kurtosis below the content views' (Figure 4)",
     stats["PinSage"]["kurt"] < min(stats[n]["kurt"] for n in ("content: text", "content: combined"))),
    ("Table 3: time per iteration grows with the batch, far less than in proportion",
     by_batch[-1].ms_per_iteration < (by_batch[-1].value / by_batch[0].value) * by_batch[0].ms_per_iteration),
]
for text, ok in claims:
    print(f"{verdict(ok):<15} {text}")

# %% [markdown]
# **Reproduced, in direction:**
#
# * **Graph + features beat the features alone** on every dataset, and PinSage beats Pixie's walks.
# * **With the recipe, PinSage matches or beats item-kNN CF on MovieLens and goodbooks** — the
#   classical method that the library's first defaults lost to. The levers were ordinary engineering
#   (learning rate, model selection on validation, the item's collections as features, on goodbooks a
#   wider model) plus one of the paper's own warnings taken seriously: hard negatives must not be true
#   positives. On goodbooks the lead is within noise: on the validation pairs the same setting was a
#   little below item-kNN.
# * **Inductive embeddings**: a movie held out of training entirely is embedded from its features and
#   edges and found by its related movies far more often than chance; a transductive model refuses.
# * **Table 1's ladder**, on synthetic pins and boards that have what Pinterest has — hierarchical
#   topics, noisy catch-all boards, hub pins, a catalogue far larger than two hops — with each step
#   and its paired standard error printed, per training seed (the verdict above says in how many
#   seeds the whole order holds).
# * **Figure 4's low kurtosis**, with the caveat that kurtosis ignores where the distribution sits.
# * **Table 3's shape**: time per iteration grows with the batch, much less than in proportion.
#
# **Not reproduced, or only in part:**
#
# * **The size of the gains.** The paper's PinSage is 2.5× its best content baseline and 21 points
#   above mean-pooling-hard; on the synthetic pins ours is well under twice the content baseline and
#   about a point above mean-pooling-hard. Every step goes the paper's way in every seed, but only the
#   hard-negative and cross-entropy steps clear two paired standard errors in each seed on a few
#   thousand pairs; the others are solid only pooled over the seeds.
# * **Importance pooling and hard negatives on real data.** On MovieLens and goodbooks two hops reach
#   much of the catalogue (the regime map's marks): the top-T visit counts are nearly equal, and the
#   PPR band holds future positives. There the recipe drops hard negatives, and importance pooling
#   is kept because it costs nothing, not because it gains.
# * **goodbooks beyond parity.** Its labelled pairs are neighbours in a random order of a shelf, and
#   both books of a held-out pair have their edge to that shelf held out. No scorer we tried gets far
#   above counting shared shelves (item-kNN; the README's "Quality" lists them). And the train pairs,
#   whose shelf both books still show, reward another scorer (sharing *small* shelves) than the
#   held-out pairs do, so training pulls the embedding away from its input.
# * **The absolute numbers.** Hit@10 among thousands of items and hit@500 among ~5M pins are different
#   questions; only comparisons within one table carry over.
# * **Table 4's gains from larger T and Table 3's total hours** need long, converged runs on a graph
#   big enough that T matters. **The user study and the A/B tests** (Table 2, §4.3; A/B, §4.4) need people.
#
# ## What Pinterest did at web scale
#
# * **Offline evaluation on 3 billion nodes**: labelled pairs (q, i) where a user saved i right after
#   q, and each query ranked against ~5 million candidates; hit-rate@500 and MRR with ranks divided
#   by 100. Table 1: PinSage 67% / 0.59 against 27% / 0.37 for the best content baseline (visual +
#   text combined) — +40 points of hit-rate, 150% relative.
# * **Features** were a 4,096-d VGG-16 visual embedding, a 256-d Word2Vec-style text embedding and the
#   log degree; all variants used K = 2, m = 2,048 and d = 1,024.
# * **Embedding similarity** (Figure 4): kurtosis 0.43 for PinSage vs 1.20 visual and 2.49 annotation;
#   a t-SNE of 1,000 pins showed same-category pins together.
# * **Human evaluation** (Table 2): raters preferred PinSage in about 60% of decided comparisons
#   against each baseline, Pixie included. **A/B tests** on the homefeed: 10–30% higher repin rates
#   than the Visual and Annotation recommenders.
# * **Runtime** (Tables 3 and 4): batch 2,048 trained fastest (48.8 h on 16 GPUs); T = 50 was chosen
#   despite taking 78 h against 20 h for T = 10, for 7 points of hit-rate.
#
# ## Exercises
#
# ### Exercise 1 — scaled MRR
#
# Write `my_scaled_mrr(ranks, scale)`: the mean of 1 / ⌈rank / scale⌉ over a tensor of ranks
# (1 = best), returned as a Python float. `exercises.check_scaled_mrr` compares it with the library
# on a few cases, including the paper's scale of 100.

# %%
def my_scaled_mrr(ranks: torch.Tensor, scale: int) -> float:
    raise NotImplementedError  # your code here

# %% tags=["nbval-check-output"]
exercises.check_scaled_mrr(my_scaled_mrr)

# %% [markdown]
# 2. **Hit-rate at the paper's depth.** Recompute the real-data table with k = 50
#    (`compare(recs, test, k=50)`; the top 0.8% of our catalogue) and with the paper's divisor s = 100.
#    Does PinSage's lead over item-kNN grow or shrink? Which metric separates them better, relative
#    to its paired standard error?
# 3. **Where do hard negatives start to hurt?** Train the recipe with `max_hard_negatives=6` and the
#    bands `(84, 210)` (the library's), `(600, 1500)` and `(2000, 5000)`, and score the validation
#    pairs. Then count, for each band, the share of validation answers inside it (notebook 06).
# 4. **Another axis of the map.** `regime_map("catchall_boards", [0.0, 0.1, 0.3])`: does importance
#    pooling gain more as catch-all boards add noise to the neighbourhoods?
# 5. **Uncrowd the embeddings.** Measure the mean cosine of random pairs and the nearest-neighbour
#    cosine during training (every epoch). Does it fall as training goes on? Try a larger margin Δ
#    (`TrainConfig(margin=0.3)`) and compare the kurtosis and the hit-rate.

# %% tags=["nbval-ignore-output"]
print(f"the whole notebook ran in {time.perf_counter() - notebook_t0:.0f} s ({SIZE} size)")
