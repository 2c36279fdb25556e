# %% [markdown]
# # 01 · Problem setup: pins, boards, and our datasets (§3.1)
#
# PinSage learns an embedding for every *pin* of Pinterest's graph. Before any model, this notebook
# sets up the problem exactly as the paper does — a bipartite graph of **items** and **collections**
# — and shows that our datasets have the same shape: movies saved into users' "liked" sets, books
# put on shelves, and a synthetic pins–boards graph whose hidden topics we know. You will see how the
# library stores such a graph (CSR, both directions), how skewed real degrees are, how far two hops
# reach, and how the labelled pairs (q, i) the paper trains on are cut from the data without leaking
# held-out edges.
#
# *Symbols and terms: the [notation table and glossary](00_course_map.ipynb#Notation-and-glossary) in notebook 00.*

# %% tags=["nbval-ignore-output"]
import os

import matplotlib.pyplot as plt
import torch

import pinsage_edu
from pinsage_edu import BipartiteGraph, item_features, load_dataset, synthetic_pins_boards
from pinsage_edu import exercises, viz
from pinsage_edu.utils import seed_everything

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
# The synthetic graph is the only thing that changes size here: the shipped datasets are small enough
# to use whole in both sizes.
SYNTHETIC = {
    "classroom": dict(num_pins=20_000, num_boards=4_000, num_edges=200_000),
    "full": dict(num_pins=1_000_000, num_boards=500_000, num_edges=20_000_000),
}[SIZE]

# %% [markdown]
# ## §3.1 Pins and boards
#
# > "Pinterest is a content discovery application where users interact with *pins*, which are visual
# > bookmarks to online content … Users organize pins into *boards*, which contain collections of pins
# > that the user deems to be thematically related." The graph is bipartite: a set of pins $I$, a set of
# > boards $C$, and an edge whenever a pin is saved in a board.
#
# The library calls pins **items** and boards **collections**, each with its own id space
# (`0..num_items-1`, `0..num_collections-1`). Here is a graph small enough to read: five pins in three
# boards.

# %%
toy = BipartiteGraph.from_edges(
    items=[0, 1, 2, 1, 2, 3, 3, 4],
    collections=[0, 0, 0, 1, 1, 1, 2, 2],
)
pins = ["beach", "sunset", "palm", "hike", "tent"]
boards = ["summer", "travel", "camping"]
fig = viz.draw_pins_boards(toy, pins, boards)
plt.show()

# %% [markdown]
# ### How the graph is stored: CSR in both directions
#
# A random walk (notebook 02) steps pin → board → pin, so it must list a pin's boards *and* a board's
# pins quickly. The library keeps the edges twice, in **compressed sparse row** form: for pins,
# `item_indices` holds every pin's boards one pin after the other, and `item_indptr[u]` says where pin
# `u`'s run starts. The board side is the same with the roles swapped. The two halves are transposes of
# each other.

# %% tags=["nbval-check-output"]
print("item_indptr ", toy.item_indptr.tolist())
print("item_indices", toy.item_indices.tolist(), "  (board ids, pin by pin)")
print("coll_indptr ", toy.coll_indptr.tolist())
print("coll_indices", toy.coll_indices.tolist(), "  (pin ids, board by board)")
print("boards of 'hike':", [boards[c] for c in toy.collections_of(3).tolist()])
print("pins of 'travel':", [pins[i] for i in toy.items_of(1).tolist()])
assert toy.item_degrees.sum() == toy.collection_degrees.sum() == toy.num_edges == 8

# %% [markdown]
# ### Exercise 1 — build a row pointer
#
# Given the row ids of the edges **sorted ascending** (say `[0, 0, 1, 3, 3, 3]`) and the number of
# rows (5), return `indptr` with `indptr[r]` = index of row `r`'s first edge and one last entry equal
# to the number of edges: `[0, 2, 3, 3, 6, 6]`. Rows with no edge (2 and 4 here) get an empty run.
# No Python loop over edges: think `torch.bincount` and `torch.cumsum`.

# %%
def my_indptr(sorted_rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    raise NotImplementedError  # your code here

# %% tags=["nbval-check-output"]
exercises.check_indptr(my_indptr)

# %% [markdown]
# ## MovieLens as pins and boards
#
# The paper's training pairs are "a user engaged with pin *i* right after pin *q*". MovieLens has what
# we need for that: users, the movies they rated, and when. We make each user's set of movies rated
# **4 or more** a collection — the user's board of liked movies — and the movies the items. Ratings
# below 4, movies nobody liked and users who liked nothing are dropped, and counted.

# %% tags=["nbval-check-output"]
movies = load_dataset("ml-latest-small")
print(movies.summary())
assert (movies.num_items, movies.num_collections, len(movies.interactions)) == (6_298, 609, 48_580)

# %% [markdown]
# ## goodbooks-10k as pins and boards
#
# Goodreads users put books on shelves ("fantasy", "to-read", "favorites"); a shelf name shared by many
# users is one collection, and an edge's weight counts how many users shelved the book that way. This
# is the closest open analogue to boards: collections people made, of very different sizes.

# %% tags=["nbval-check-output"]
books = load_dataset("goodbooks")
print(books.summary())
g_books = books.graph()
largest = torch.topk(g_books.collection_degrees, 8).indices
print("largest shelves:", ", ".join(books.collection_names[c] for c in largest.tolist()))
assert (books.num_items, len(books.interactions)) == (10_000, 999_898)

# %% [markdown]
# ## Degrees are heavy-tailed
#
# On Pinterest a few pins sit on millions of boards and most on a handful. Plotted on log–log axes, the
# share of nodes with each degree falls roughly along a line — a power law. Our graphs show the same
# skew (the synthetic generator is built to): a model that looked at *all* neighbours would spend most
# of its time on a few hubs. That is the first motivation for §3.2's importance-based neighbourhoods.
#
# > One artefact to know about: goodbooks lists at most the 100 most popular shelves of each book, so
# > most books have item degree exactly 100 — the spike at the right of the left panel is the source's
# > cap, not a property of reading.

# %%
synthetic = synthetic_pins_boards(**SYNTHETIC, seed=0)
graphs = {"MovieLens": movies.graph(), "goodbooks": g_books, "synthetic": synthetic.graph()}
fig = viz.plot_degree_distributions(graphs)
plt.show()

# %% tags=["nbval-check-output"]
for name, g in graphs.items():
    d = g.item_degrees.float()
    print(f"{name:10s} item degree: median {d.median():.0f}, max {d.max():.0f}")
assert graphs["MovieLens"].item_degrees.max() > 50 * graphs["MovieLens"].item_degrees.float().median()

# %% [markdown]
# ## Two hops reach most of the catalogue
#
# Take *Toy Story (1995)*. Its collections are the users who liked it; the items two hops away are
# every movie any of those users liked. The drawing shows a sample (six users, five of their other
# movies each) — the full two-hop set is far too big to draw.

# %%
g_movies = graphs["MovieLens"]
toy_story = movies.items.find("Toy Story (1995)")[0]
fig = viz.draw_two_hop(g_movies, toy_story, movies.items.titles, movies.collection_names, seed=0)
plt.show()

# %% tags=["nbval-check-output"]
reach = g_movies.two_hop_items(toy_story).numel()
print(f"{movies.items.titles[toy_story]}: {g_movies.collections_of(toy_story).numel()} users liked it; "
      f"two hops reach {reach:,} of {g_movies.num_items:,} movies ({reach / g_movies.num_items:.0%})")
assert reach / g_movies.num_items > 0.5

# %% [markdown]
# Explore other movies: type part of a title and move the sliders (the drawing is a seeded sample).

# %% tags=["nbval-ignore-output"]
from pinsage_edu import widgets

widgets.two_hop_explorer(movies, g_movies)

# %% tags=["nbval-check-output"]
# The explorer's first view, drawn by the same function the widget calls (so it shows on a stored notebook too).
fig, caption = widgets.render_two_hop(movies, g_movies, "Matrix, The", max_collections=4)
print(caption)
plt.show()

# %% [markdown]
# > Two hops from one popular movie cover more than half of all movies, all "neighbours" alike. A
# > graph convolution over that set would be both slow and blurry — the reason PinSage keeps only the
# > T most *important* neighbours, found by random walks (notebook 02).

# %% [markdown]
# ## Labelled pairs (q, i), and a split that does not leak
#
# §3.3 trains on pairs $(q, i)$ where $i$ is a good recommendation for $q$: at Pinterest, a user saved
# $i$ right after $q$. We read the same thing off each user's timeline: consecutive liked movies form a
# pair. The split is **temporal per user**: the last 10% of each user's likes go to *test*, the 10%
# before them to *val*, the rest to *train*. A pair belongs to the part holding its second movie's
# edge, and the graph the model will see is built from *train edges only*.

# %%
split = movies.split(val_fraction=0.1, test_fraction=0.1, seed=0)
print(split.describe())

user = 0
x = movies.interactions
mine = (x.collection == user).nonzero().squeeze(1)
mine = mine[torch.argsort(x.time[mine], stable=True)]
print(f"\nfirst liked movies of {movies.collection_names[user]} (in time order):")
for e in mine[:5].tolist():
    print(f"  {movies.items.titles[x.item[e]]}")

# %% tags=["nbval-check-output"]
# No held-out edge may appear in the train graph: check every one.
train_keys = set((split.graph.edges()[0] * movies.num_collections + split.graph.edges()[1]).tolist())
for part in (split.val, split.test):
    held = (part.item * movies.num_collections + part.collection).tolist()
    assert not train_keys.intersection(held)
print("train / val / test pairs:", len(split.train_pairs), len(split.val_pairs), len(split.test_pairs))
print("held-out edges in the train graph: 0")

# %% [markdown]
# ## A synthetic pins–boards graph whose answer we know
#
# Real data never tells us what the "right" embedding is. The generator does: every pin has a hidden
# **topic**; each board picks a topic and fills 80% of its slots with pins of that topic (popular ones
# more often); and every pin carries a *visual* and a *text* vector — noisy views of its topic. The
# views are built to be complementary: the visual view confuses topics 2j and 2j+1, the text view
# confuses j and j+10, so only the two together (or the graph) can tell every topic apart. Later
# notebooks check how much of the topic structure PinSage recovers.

# %%
fig = viz.plot_topic_structure(synthetic)
plt.show()

# %% tags=["nbval-check-output"]
xs = synthetic.interactions
on_topic = (synthetic.items.topic[xs.item] == synthetic.collection_topic[xs.collection]).float().mean()
print(f"{synthetic.name}: {len(xs):,} edges, share of edges on the board's topic ≈ {on_topic:.1f}")
assert 0.75 < on_topic < 0.9

# %% [markdown]
# ## Item features $x_u$
#
# PinSage's input for each pin is a feature vector: a visual embedding, a text embedding and the log
# degree. We build the analogues without downloading anything: a hashed bag of words of titles and tags
# (projected to 64 dimensions), genres, the year, and the log degree **in the train graph** (so the
# held-out edges do not leak in). Each column is standardised, and each group is named so that the
# "content-only" baselines of §4 can use text only, genres only, or both.

# %% tags=["nbval-check-output"]
features = item_features(movies, split.graph)
print(features.describe())
assert torch.isfinite(features.x).all() and features.x.shape == (movies.num_items, features.dim)
print("synthetic:", item_features(synthetic, synthetic.graph()).describe())

# %% [markdown]
# ## What Pinterest did at web scale
#
# * **3 billion nodes, 18 billion edges.** The CSR layout here is the same idea; at that size the
#   arrays live in a machine's main memory (the paper used 500 GB with Linux HugePages) or are sharded
#   across machines. `BipartiteGraph.save` writes `.npy` files that `load` memory-maps, so a graph
#   larger than free RAM still opens instantly here.
# * **Pins come with images.** Pinterest's visual features were a 4096-d VGG-16 layer and text a
#   256-d Word2Vec-style embedding; ours are hashed words and metadata.
# * **Pairs from engagement logs.** The 1.2 billion labelled pairs came from users' consecutive
#   engagements — produced by Pixie, the random-walk recommender of notebook 02.
#
# ## Exercises
#
# 1. *(with checker, above)* Build a CSR row pointer from sorted row ids.
# 2. Load MovieLens with `min_rating=3.5` (`load_dataset("ml-latest-small", min_rating=3.5)`). How do
#    the number of collections, the median item degree and Toy Story's two-hop reach change?
# 3. Draw the two-hop neighbourhood of a little-known movie (`movies.items.find("...")`). Which of its
#    neighbours appear under several of its collections?
# 4. Generate a synthetic graph with `topic_purity=0.5`. What happens to the board-topic heat map, and
#    what would you expect it to do to a graph-based recommender?
