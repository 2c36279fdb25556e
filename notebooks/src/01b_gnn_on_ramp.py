# %% [markdown]
# # 01b · A GNN on-ramp: from graph convolution to PinSage (§1, §2, §3.2)
#
# You know deep learning but not graph neural networks (GNNs). This notebook builds, in plain torch and
# on a graph small enough to draw — Zachary's karate club, which ships with networkx — the ideas that
# PinSage combines: a **graph convolution** written from scratch; the full-batch **GCN** of Kipf &
# Welling, and the arithmetic of why it cannot run on Pinterest's graph; **GraphSAGE**'s sampled,
# fixed-size computation trees; **GAT**'s learned attention over neighbours; and finally PinSage's
# **importance pooling**, which is attention whose weights come from random walks instead of training.
# Two short sections then clear up what the paper's readers often mix up — the L2 normalisation of
# Algorithm 1 versus LayerNorm, and where an embedding model sits in a recommender — and the last one
# reads the paper's abstract as an argument.
#
# > Our remark: GCN, GraphSAGE and GAT are written out here, in the notebook, on purpose — as teaching
# > code, short enough to read in one go. PinSage's own pieces come from the library, and from notebook 02
# > on the course uses only the library.
#
# **Symbols** used throughout: N nodes, |E| edges, K the number of layers (the paper's K), ℓ = 1 … K the
# layer index, T the neighbourhood size, d the embedding width, B the minibatch size. "Top-k" is only
# ever the retrieval cut in section 7. "§" always means a section of the paper.
#
# *Symbols and terms: the [notation table and glossary](00_course_map.ipynb#Notation-and-glossary) in notebook 00.*

# %% tags=["nbval-ignore-output"]
import math
import os

import matplotlib.pyplot as plt
import networkx as nx
import torch
from matplotlib.colors import LogNorm
from torch import nn
from torch.nn import functional as F

import pinsage_edu
from pinsage_edu.convolve import Convolve, importance_pooling, l2_normalize
from pinsage_edu.graph import BipartiteGraph
from pinsage_edu.utils import seed_everything
from pinsage_edu.walks import importance_neighborhoods

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__} · networkx {nx.__version__}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
# The karate club is the same graph in both sizes; sizes change training steps, the number of walks and
# how large the random graphs of section 3 grow — never the algorithm.
PRESET = {
    "classroom": dict(train_steps=200, num_walks=10_000, growth_sizes=[100, 1_000, 10_000, 100_000]),
    "full": dict(train_steps=500, num_walks=100_000, growth_sizes=[100, 1_000, 10_000, 100_000, 1_000_000]),
}[SIZE]

# %% [markdown]
# The paper's own figures that this notebook computes with (its sections in the comments). Every one of
# them that the text below mentions is printed here first.

# %% tags=["nbval-check-output"]
PAPER = dict(
    nodes=3_000_000_000,            # abstract: pins and boards together
    pins=2_000_000_000,             # §3.1
    boards=1_000_000_000,           # §3.1
    edges=18_000_000_000,           # abstract, §3.1
    train_examples=7_500_000_000,   # abstract, §3.3
    K=2,                            # §3.2: layers
    T=50,                           # §4.5, Table 4: neighbourhood size
    d=1024,                         # §4: embedding width
    batch=512,                      # §3.3, Table 3: the smallest minibatch tried
    host_memory_gb=500,             # §3.3: graph and features sat in one machine's main memory
    eval_candidates=5_000_000,      # §4: offline evaluation, candidates per query (about)
    eval_top_k=500,                 # §4: hit-rate counts the true item in the top-k = 500
    ab_repin_gain=(0.10, 0.30),     # §4.4: homefeed A/B tests vs the Visual / Annotation recommenders
)
assert PAPER["pins"] + PAPER["boards"] == PAPER["nodes"]
for key, value in PAPER.items():
    print(f"{key:<16}", f"{value[0]:.0%}–{value[1]:.0%}" if isinstance(value, tuple) else f"{value:,}")

# %% [markdown]
# ## The toy graph: Zachary's karate club
#
# Members of a university karate club (nodes) and who met outside the club (edges), recorded by the
# anthropologist Wayne Zachary. The club later split in two — around the instructor, "Mr. Hi" (node 0), and the
# club's officer (node 33) — and networkx stores each member's side. That split is the classic toy task
# for GNNs: **predict each member's side from the graph alone**. (networkx also stores edge weights;
# we ignore them, every friendship counts as 1.)

# %% tags=["nbval-check-output"]
G = nx.karate_club_graph()
N = G.number_of_nodes()
edges = torch.tensor(sorted(G.edges()), dtype=torch.long)  # [|E|, 2], each undirected edge once
A = torch.zeros(N, N)
A[edges[:, 0], edges[:, 1]] = 1.0
A[edges[:, 1], edges[:, 0]] = 1.0  # undirected: A is symmetric
degree = A.sum(1)
CLUBS = ("Mr. Hi", "Officer")
club = torch.tensor([CLUBS.index(G.nodes[u]["club"]) for u in range(N)])
hops = {u: nx.single_source_shortest_path_length(G, u) for u in range(N)}  # hop distances, for later
print(f"N = {N} members, |E| = {len(edges)} friendships")
print("sides:", ", ".join(f"{name} {int((club == c).sum())}" for c, name in enumerate(CLUBS)))
print(f"degree: min {int(degree.min())}, median {int(degree.median())}, max {int(degree.max())} "
      f"(node 0: {int(degree[0])}, node 11: {int(degree[11])}, node 33: {int(degree[33])})")
assert torch.equal(A, A.T) and int(A.sum()) == 2 * len(edges) and N == 34

# %%
pos = nx.spring_layout(G, seed=0)  # fixed layout: every drawing below puts each member in the same place
COLORS = ("tab:blue", "tab:orange")


def draw_club(ax, node_color=None, title="", **scatter_kw):
    """The karate club on ``ax``: by default each member coloured by side."""
    color = [COLORS[int(c)] for c in club] if node_color is None else node_color
    nx.draw_networkx_edges(G, pos, ax=ax, alpha=0.3)
    ax.scatter([pos[u][0] for u in range(N)], [pos[u][1] for u in range(N)], c=color, s=220, zorder=2,
               plotnonfinite=True, **scatter_kw)
    nx.draw_networkx_labels(G, pos, ax=ax, font_size=7)
    ax.set_title(title)
    ax.axis("off")


fig, ax = plt.subplots(figsize=(6, 4.5))
draw_club(ax, title="Karate club: blue = Mr. Hi's side, orange = the officer's side")
plt.show()

# %% [markdown]
# ## 1 · A graph convolution from scratch
#
# An image convolution slides one small set of weights over a regular grid: every pixel has the same
# number of neighbours in the same places. A graph has neither — node 0 has many friends, node 11 one,
# and the friends come in no order. A **graph convolution** (one *message-passing* layer) copes with
# both: every node
#
# 1. **aggregates** its neighbours' vectors with a function that takes any number of them and does not
#    depend on their order (a mean, a sum, a max),
# 2. **transforms** the result and its own vector with weights shared by all nodes, and
# 3. applies a **nonlinearity**:
#
# $$h_u^{(\ell)} = \sigma\Big(W_{\text{self}}^{(\ell)}\, h_u^{(\ell-1)} + W_{\text{neigh}}^{(\ell)} \cdot
#   \frac{1}{|N(u)|}\sum_{v \in N(u)} h_v^{(\ell-1)}\Big), \qquad h_u^{(0)} = x_u .$$
#
# Written node by node it is a loop; written for all nodes at once the mean is one matrix product with
# $D^{-1}A$ (row u of $A$ marks u's neighbours, dividing by the degree turns the sum into a mean).
# The two must agree — and relabelling the nodes must only relabel the output (the layer is
# *permutation-equivariant*: there is no "first" node, unlike the first pixel of an image).

# %% tags=["nbval-check-output"]
def conv_loop(H, W_self, W_neigh):
    """One message-passing layer, node by node. H: [N, d_in] → [N, d_out]."""
    out = []
    for u in range(N):
        neighbours = list(G.neighbors(u))
        aggregated = H[neighbours].mean(0)  # 1. aggregate
        out.append(torch.relu(W_self @ H[u] + W_neigh @ aggregated))  # 2. transform, 3. nonlinearity
    return torch.stack(out)


def conv_matrix(adj, H, W_self, W_neigh):
    """The same layer for all nodes at once: ReLU(H W_selfᵀ + D⁻¹A H W_neighᵀ)."""
    mean_adj = adj / adj.sum(1, keepdim=True)  # D⁻¹A: row u averages u's neighbours
    return torch.relu(H @ W_self.T + mean_adj @ H @ W_neigh.T)


gen = torch.Generator().manual_seed(0)
H0 = torch.randn(N, 4, generator=gen)  # 4 input features per member
W_self, W_neigh = torch.randn(3, 4, generator=gen), torch.randn(3, 4, generator=gen)
H1 = conv_matrix(A, H0, W_self, W_neigh)
assert torch.allclose(conv_loop(H0, W_self, W_neigh), H1, atol=1e-6)

perm = torch.randperm(N, generator=gen)  # relabel the members
P = torch.eye(N)[perm]
assert torch.allclose(conv_matrix(P @ A @ P.T, P @ H0, W_self, W_neigh), P @ H1, atol=1e-6)
print(f"H0 {tuple(H0.shape)} → H1 {tuple(H1.shape)}; loop == matrix form; relabelled input → relabelled output")

# %% [markdown]
# **Each layer reaches one hop further.** Take the simplest such layer — no weights to learn
# ($W_{\text{self}} = W_{\text{neigh}} = \tfrac12 I$) and no nonlinearity, $h \leftarrow \tfrac12(h +
# D^{-1}A\,h)$ — and start from a signal on node 0 alone. After ℓ layers the signal has reached exactly
# the nodes within ℓ hops of node 0: a K-layer GNN computes each node's output from its K-hop
# neighbourhood, its **receptive field**. (Keep this matrix in mind: it returns in section 5.)

# %%
spread = 0.5 * (torch.eye(N) + A / degree[:, None])  # ½(I + D⁻¹A)
signal = [torch.eye(N)[0]]
for _ in range(2):
    signal.append(signal[-1] @ spread.T)  # h ← ½(h + D⁻¹A h), for all nodes at once
viridis = plt.get_cmap("viridis").with_extremes(bad="lightgrey")  # a copy: the registered map stays as it is
fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
for layer, (ax, h) in enumerate(zip(axes, signal)):
    draw_club(ax, node_color=torch.where(h > 0, h, torch.nan), cmap=viridis, norm=LogNorm(1e-3, 1),
              title=f"after {layer} layer{'s' if layer != 1 else ''}")
fig.suptitle("a signal on node 0 spreads one hop per layer (grey: not reached yet)")
fig.colorbar(axes[-1].collections[-1], ax=axes, label="signal (log scale)", shrink=0.8)
plt.show()

# %% tags=["nbval-check-output"]
reached = [int((h > 0).sum()) for h in signal]
within = [sum(1 for dist in hops[0].values() if dist <= layer) for layer in range(3)]
print("nodes reached after 0, 1, 2 layers:", reached, f"(of N = {N})")
assert reached == within and reached[2] > N / 2  # exactly the nodes within ℓ hops: most of the club after 2

# %% [markdown]
# Two layers already cover most of the club from node 0, its most connected member. That is fine for
# 34 nodes; on Pinterest's graph, two hops from a popular pin are a large part of the catalogue —
# notebook 01 measured the same on MovieLens.

# %% [markdown]
# ## 2 · The full-batch GCN (Kipf & Welling, 2017)
#
# The *graph convolutional network* that gave GCNs their name uses one weight matrix per layer and a
# symmetrically normalised adjacency with self-loops:
#
# $$\hat A = \tilde D^{-1/2}(A + I)\,\tilde D^{-1/2}, \qquad \tilde D = \mathrm{diag}\big((A+I)\mathbf 1\big),
#   \qquad H^{(\ell)} = \sigma\big(\hat A\, H^{(\ell-1)} W^{(\ell)}\big).$$
#
# $\hat A_{uv} = 1/\sqrt{\tilde d_u \tilde d_v}$ on edges and self-loops: the self-loop keeps a node's own
# vector (in section 1 that was $W_{\text{self}}$), and the normalisation keeps repeated products from blowing
# up — the largest eigenvalue of $\hat A$ is 1, that of $A + I$ is not.

# %% tags=["nbval-check-output"]
A_tilde = A + torch.eye(N)
d_tilde = A_tilde.sum(1)
A_hat = d_tilde.rsqrt()[:, None] * A_tilde * d_tilde.rsqrt()[None, :]
eig_hat, eig_tilde = torch.linalg.eigvalsh(A_hat), torch.linalg.eigvalsh(A_tilde)
print(f"eigenvalues of Â in [{eig_hat.min():.2f}, {eig_hat.max():.2f}]; largest of A + I: {eig_tilde.max():.2f}")
assert torch.allclose(A_hat, A_hat.T) and abs(float(eig_hat.max()) - 1) < 1e-5 and float(eig_hat.min()) > -1

# %% [markdown]
# **A two-layer GCN, trained full-batch.** $Z = \hat A\,\mathrm{ReLU}(\hat A X W^{(1)})\,W^{(2)}$, a softmax
# over the two sides, and a cross-entropy on **two labelled members only**, node 0 and node 33. The
# features are $X = I$ (each member's one-hot id: the karate club has no other features), so the graph is
# all the model has to go on. As a control, the same network with $\hat A$ replaced by $I$ — a plain MLP
# that never looks at the graph. Every step multiplies by the whole $\hat A$: one gradient step per
# pass over the entire graph.

# %%
X = torch.eye(N)
labelled = torch.tensor([0, 33])
unlabelled = torch.tensor([u for u in range(N) if u not in (0, 33)])


def train_gcn(propagate, steps, hidden=16, lr=0.01, seed=0):
    """A 2-layer GCN with ``propagate`` as Â; returns (logits [N, 2], the loss at every step)."""
    torch.manual_seed(seed)
    W1, W2 = nn.Linear(N, hidden, bias=False), nn.Linear(hidden, 2, bias=False)
    opt = torch.optim.Adam([*W1.parameters(), *W2.parameters()], lr=lr)
    losses = []
    for _ in range(steps):
        Z = propagate @ W2(torch.relu(propagate @ W1(X)))  # Â ReLU(Â X W1) W2
        loss = F.cross_entropy(Z[labelled], club[labelled])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return Z.detach(), losses


Z_gcn, losses_gcn = train_gcn(A_hat, PRESET["train_steps"])
Z_mlp, losses_mlp = train_gcn(torch.eye(N), PRESET["train_steps"])
acc_gcn = float((Z_gcn.argmax(1) == club)[unlabelled].float().mean())
acc_mlp = float((Z_mlp.argmax(1) == club)[unlabelled].float().mean())

fig, axes = plt.subplots(1, 2, figsize=(14, 4.5))
axes[0].semilogy(losses_gcn, label="GCN (Â)")
axes[0].semilogy(losses_mlp, label="MLP (Â = I, no graph)")
axes[0].set(xlabel="full-batch step", ylabel="cross-entropy on the 2 labelled members",
            title="both fit the two labels")
axes[0].legend()
axes[0].grid(True, alpha=0.3)
wrong = [u for u in range(N) if Z_gcn[u].argmax() != club[u]]
draw_club(axes[1], node_color=[COLORS[int(c)] for c in Z_gcn.argmax(1)], edgecolors="black",
          linewidths=[2.5 if u in wrong else 0 for u in range(N)],
          title="GCN's predicted side (black ring: wrong)")
plt.show()

# %%
print(f"accuracy on the {len(unlabelled)} unlabelled members: GCN {acc_gcn:.0%}, MLP without the graph {acc_mlp:.0%}")
print("members the GCN gets wrong:", wrong)
assert acc_gcn >= 0.85 and acc_gcn > acc_mlp + 0.25

# %% [markdown]
# From two labels the GCN gets most of the club right; the MLP, which never sees the graph, cannot —
# with one-hot features an unlabelled member's row of $W^{(1)}$ never receives a gradient. The same fact
# has a second reading that matters for PinSage: $W^{(1)}$ has **one row per node**. A member who joins
# tomorrow has no row: this GCN is *transductive*. GraphSAGE and PinSage compute from node *features*
# $x_u$ instead, so they embed nodes never seen in training (*inductive*; §3.4 used that to train on a
# subgraph and embed all pins).

# %% [markdown]
# ### Why full-batch GCN cannot run at web scale
#
# Every layer multiplies the whole $\hat A$ with the whole $N \times d$ activation matrix, and
# backpropagation keeps each layer's activations. Count the bytes (float32 values, int64 indices):
#
# * dense $\hat A$: $4N^2$;
# * sparse $\hat A$ (CSR): $12\,(N + 2|E|) + 8(N+1)$ — one value and one column index per entry of $A + I$
#   (every undirected edge twice), plus a row pointer;
# * activations: $4\,N d$ per layer, K layers.
#
# We grow a graph with Pinterest's ratio of edges to nodes up to its size, with the paper's d and K.

# %% tags=["nbval-check-output"]
def gcn_bytes(n: int, e: int, d: int, K: int) -> dict[str, int]:
    """Bytes of a full-batch GCN's operands (float32 values, int64 indices): exact integers."""
    nnz = n + 2 * e  # A + I: self-loops, and each undirected edge in both directions
    return {"dense Â": 4 * n * n, "sparse Â": 12 * nnz + 8 * (n + 1), "activations": K * 4 * n * d}


def human(b: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB"):
        if b < 1000:
            return f"{b:,.0f} {unit}"
        b /= 1000
    return f"{b:,.0f} YB"


karate_mem = gcn_bytes(N, len(edges), PAPER["d"], PAPER["K"])
web_mem = gcn_bytes(PAPER["nodes"], PAPER["edges"], PAPER["d"], PAPER["K"])
host = PAPER["host_memory_gb"] * 10**9
for name, mem in (("karate club", karate_mem), ("Pinterest", web_mem)):
    print(f"{name:<12}", " · ".join(f"{k} {human(v)}" for k, v in mem.items()))
print(f"Pinterest, one layer's activations: {web_mem['activations'] // PAPER['K'] / host:.0f}× the "
      f"machine's {PAPER['host_memory_gb']} GB; the sparse Â alone: {web_mem['sparse Â'] / host:.0%} of it")
assert web_mem["dense Â"] > 10**19 and web_mem["activations"] // PAPER["K"] > 20 * host
assert 0.9 * host < web_mem["sparse Â"] < host

# %%
sizes = torch.logspace(2, math.log10(PAPER["nodes"]), 60, dtype=torch.float64).tolist()
ratio = PAPER["edges"] / PAPER["nodes"]
curves = {k: [gcn_bytes(int(n), int(n * ratio), PAPER["d"], PAPER["K"])[k] for n in sizes] for k in web_mem}


def plot_memory(ax, extra=None):
    """Bytes against graph size, the machine's memory as a line; ``extra`` = (label, bytes) drawn flat."""
    styles = {"dense Â": "-", "sparse Â": "--", "activations": "-."}
    for k, ys in curves.items():
        label = f"activations, K = {PAPER['K']} layers of N × d" if k == "activations" else k
        ax.loglog(sizes, ys, styles[k], label=label)
    ax.axhline(host, color="black", lw=1)
    ax.text(sizes[0], host * 1.6, f"one machine's main memory ({PAPER['host_memory_gb']} GB, §3.3)", fontsize=8)
    if extra:
        ax.axhline(extra[1], color="tab:red", lw=2, label=extra[0])
    ax.axvline(PAPER["nodes"], color="gray", ls=":")
    ax.text(PAPER["nodes"] * 0.9, 1e4, "Pinterest", rotation=90, ha="right", fontsize=8)
    ax.set(xlabel=f"nodes N (edges = {ratio:.0f} N, Pinterest's ratio)", ylabel="bytes (float32 values)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(True, alpha=0.3)


fig, ax = plt.subplots(figsize=(8, 4.8))
plot_memory(ax)
ax.set_title(f"full-batch GCN memory, d = {PAPER['d']}")
plt.show()

# %% [markdown]
# The dense $\hat A$ is out of the question long before web scale; the sparse one alone takes almost all
# of the paper's training machine (the printout above), and the activations of a single layer are
# many times more. Worse, one gradient step needs the whole graph, so training would take one step
# per pass over billions of nodes. The paper's introduction names exactly this obstacle for earlier GCN
# approaches — they work on the full graph (its Laplacian) during training — and PinSage is built to
# avoid it.

# %% [markdown]
# ## 3 · GraphSAGE: sample a fixed number of neighbours
#
# GraphSAGE (Hamilton, Ying & Leskovec, 2017 — all three are PinSage authors) never touches the whole graph.
# To embed a minibatch of B nodes with K layers, it samples **T neighbours uniformly** for each of them
# (we draw with replacement, so a member with few friends repeats them), then T for each of those, K
# levels down, and computes bottom-up over that **computation tree**. Each layer aggregates the sampled neighbours by their mean, **concatenates** the
# result with the node's own vector (PinSage's line 2 does the same), transforms, and L2-normalises:
#
# $$n_u^{(\ell)} = \frac1T \sum_{v \in S_T(u)} h_v^{(\ell-1)}, \qquad
#   h_u^{(\ell)} = \frac{g}{\lVert g \rVert_2},\quad g = \sigma\big(W^{(\ell)} \cdot \mathrm{CONCAT}(h_u^{(\ell-1)}, n_u^{(\ell)})\big).$$
#
# The tree has $B(1 + T + T^2 + \dots + T^K)$ positions — $B(1 + T + T^2)$ for K = 2 — **whatever N is**.
# Here is node 0's tree with T = 3, small enough to draw.

# %% tags=["nbval-check-output"]
nbr_ptr = torch.cat([torch.zeros(1, dtype=torch.long), degree.long().cumsum(0)])  # CSR of the karate graph
nbr_idx = torch.cat([torch.tensor(sorted(G.neighbors(u))) for u in range(N)])


def sample_neighbors(nodes, T, gen, ptr=nbr_ptr, idx=nbr_idx):
    """T neighbours per node, uniformly with replacement: [...] → [..., T]."""
    deg = ptr[1:] - ptr[:-1]
    r = torch.randint(0, 2**62, (*nodes.shape, T), generator=gen)
    return idx[ptr[nodes].unsqueeze(-1) + r % deg[nodes].unsqueeze(-1)]


def sample_tree(batch, T, K, gen, **csr):
    """The computation tree of a minibatch: level 0 is the batch [B], level ℓ is [B, T, …, T] (ℓ times T)."""
    levels = [batch]
    for _ in range(K):
        levels.append(sample_neighbors(levels[-1], T, gen, **csr))
    return levels


T_draw, K = 3, 2
tree = sample_tree(torch.tensor([0]), T_draw, K, torch.Generator().manual_seed(0))
print("level 0:", tree[0].tolist())
print("level 1:", tree[1][0].tolist())
for i, child in enumerate(tree[1][0].tolist()):
    print(f"level 2 under {child:>2}:", tree[2][0, i].tolist())
positions = sum(level.numel() for level in tree)
assert positions == 1 * (1 + T_draw + T_draw**2) == 13
assert all(int(v) in G[int(u)] for u, vs in zip(tree[1][0], tree[2][0]) for v in vs)  # children are neighbours

# %%
fig, ax = plt.subplots(figsize=(10, 3.8))
xy = {(0,): (0.0, 2)}
for i in range(T_draw):
    xy[(0, i)] = ((i - 1) * 3.0, 1)
    for j in range(T_draw):
        xy[(0, i, j)] = ((i - 1) * 3.0 + (j - 1) * 0.9, 0)
ids = {(0,): int(tree[0][0])}
ids.update({(0, i): int(tree[1][0, i]) for i in range(T_draw)})
ids.update({(0, i, j): int(tree[2][0, i, j]) for i in range(T_draw) for j in range(T_draw)})
for key, (x, y) in xy.items():
    if len(key) > 1:
        px, py = xy[key[:-1]]
        ax.plot([px, x], [py, y], color="gray", lw=1, zorder=1)
    ax.scatter([x], [y], s=500, color=COLORS[int(club[ids[key]])], zorder=2)
    ax.text(x, y, str(ids[key]), ha="center", va="center", fontsize=9, zorder=3)
ax.set(yticks=[0, 1, 2],
       yticklabels=["ℓ = 0 inputs\n(sampled 2 hops)", "ℓ = 1\n(sampled 1 hop)", "ℓ = 2 output\n(target)"],
       xticks=[], title=f"GraphSAGE computation tree of node 0: T = {T_draw}, K = {K}, {positions} positions "
                        "(a node may appear twice)")
ax.set_ylim(-0.5, 2.5)
plt.show()

# %% [markdown]
# The computation runs bottom-up: the inputs at the leaves, one layer to get each level-1 node's vector
# from its own sampled neighbours, one more to get the target's. Below, a two-layer GraphSAGE trained
# on the same two labels, one minibatch (the two labelled members) per step, a fresh tree each step.

# %%
class SageLayer(nn.Module):
    """h_u ← normalise(σ(W · CONCAT(h_u, mean of the sampled neighbours))); the last layer stays linear."""

    def __init__(self, d_in, d_out, last=False):
        super().__init__()
        self.W = nn.Linear(2 * d_in, d_out)
        self.last = last

    def forward(self, h_self, h_neighbors):  # [..., d_in], [..., T, d_in] → [..., d_out]
        g = self.W(torch.cat([h_self, h_neighbors.mean(-2)], dim=-1))
        return g if self.last else F.normalize(torch.relu(g), dim=-1)


def sage_forward(layers, batch, T, gen):
    """K = 2 layers over a freshly sampled tree: bottom-up, as in the drawing."""
    level0, level1, level2 = sample_tree(batch, T, 2, gen)
    h1_batch = layers[0](X[level0], X[level1])  # layer 1 at the targets     [B, d]
    h1_level1 = layers[0](X[level1], X[level2])  # layer 1 at their neighbours [B, T, d]
    return layers[1](h1_batch, h1_level1)  # layer 2 at the targets     [B, 2]


T_sage = 5
torch.manual_seed(0)
sage = nn.ModuleList([SageLayer(N, 16), SageLayer(16, 2, last=True)])
opt = torch.optim.Adam(sage.parameters(), lr=0.01)
sage_gen = torch.Generator().manual_seed(1)
for _ in range(PRESET["train_steps"]):
    loss = F.cross_entropy(sage_forward(sage, labelled, T_sage, sage_gen), club[labelled])
    opt.zero_grad()
    loss.backward()
    opt.step()
with torch.no_grad():
    Z_sage = sage_forward(sage, torch.arange(N), T_sage, sage_gen)
acc_sage = float((Z_sage.argmax(1) == club)[unlabelled].float().mean())
print(f"GraphSAGE (T = {T_sage}, minibatch of the 2 labelled members): accuracy on the unlabelled {acc_sage:.0%}")
assert acc_sage >= 0.8

# %% [markdown]
# **The size of the tree does not depend on N.** We grow preferential-attachment graphs (networkx's
# Barabási–Albert generator: a few hubs, many small nodes — like the skewed degrees of notebook 01) and
# count, for a batch of B targets, the nodes each approach computes at the input layer: the
# full-batch GCN, all N of them; a minibatch without sampling, the batch's whole two-hop receptive field;
# GraphSAGE, the sampled tree. On the right, the memory plot of section 2 again, now with the activations of one
# sampled minibatch at the paper's sizes. The targets are drawn the way training queries arrive — from
# engagements, so a node in proportion to its degree (the endpoint of a random edge).

# %%
B_growth, T_growth = 64, 10
rows = []
for n in PRESET["growth_sizes"]:
    H_graph = nx.barabasi_albert_graph(n, 3, seed=0)
    src, dst = torch.tensor(list(H_graph.edges())).T
    src, dst = torch.cat([src, dst]), torch.cat([dst, src])
    order = torch.argsort(src * n + dst)
    ptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.bincount(src, minlength=n).cumsum(0)])
    idx = dst[order]
    g_gen = torch.Generator().manual_seed(0)
    batch = src[torch.randint(0, len(src), (B_growth,), generator=g_gen)]  # ∝ degree: endpoints of random edges
    levels = sample_tree(batch, T_growth, 2, g_gen, ptr=ptr, idx=idx)
    one_hop = set(batch.tolist()) | {v for u in batch.tolist() for v in H_graph[u]}
    two_hop = one_hop | {w for v in one_hop for w in H_graph[v]}
    rows.append((n, sum(lv.numel() for lv in levels), len(set(torch.cat([lv.flatten() for lv in levels]).tolist())),
                 len(two_hop)))

minibatch_bytes = PAPER["batch"] * (1 + PAPER["T"] + PAPER["T"] ** 2) * PAPER["d"] * 4
fig, axes = plt.subplots(1, 2, figsize=(16, 4.8))
ns = [r[0] for r in rows]
axes[0].loglog(ns, ns, "k:", label="full-batch GCN: every node")
axes[0].loglog(ns, [r[3] for r in rows], "o-", label="minibatch without sampling: 2-hop receptive field")
axes[0].loglog(ns, [r[1] for r in rows], "s-", label="sampled tree: B(1 + T + T²) positions")
axes[0].loglog(ns, [r[2] for r in rows], "^--", label="sampled tree: distinct nodes")
axes[0].set(xlabel="nodes N (Barabási–Albert graph, 3 edges per new node)", ylabel="nodes to compute",
            title=f"B = {B_growth} targets, T = {T_growth}, K = 2")
axes[0].legend(fontsize=8)
axes[0].grid(True, alpha=0.3)
plot_memory(axes[1], extra=(f"one sampled minibatch: B = {PAPER['batch']}, T = {PAPER['T']}, K = 2", minibatch_bytes))
axes[1].set_title("full-batch GCN vs one sampled minibatch")
plt.show()

# %%
for n, pos_count, distinct, full in rows:
    print(f"N = {n:>7,}: sampled tree {pos_count:,} positions ({distinct:,} distinct nodes), "
          f"full 2-hop field {full:,} nodes")
print(f"paper's sizes: B(1 + T + T²) = {PAPER['batch']}·{1 + PAPER['T'] + PAPER['T'] ** 2:,} = "
      f"{PAPER['batch'] * (1 + PAPER['T'] + PAPER['T'] ** 2):,} positions, "
      f"{human(minibatch_bytes)} of d-wide activations, for any N")
assert all(r[1] == B_growth * (1 + T_growth + T_growth**2) for r in rows)
assert [r[3] for r in rows] == sorted(r[3] for r in rows) and rows[-1][3] > rows[-1][1]  # grows past the tree
assert rows[0][3] < rows[0][1]  # on the smallest graph the tree has more positions than the 2-hop field has nodes
assert minibatch_bytes < host

# %% [markdown]
# The sampled tree is a constant. Without sampling, the batch's two-hop field keeps growing with the
# graph (hubs pull ever more nodes within two hops), and the full-batch GCN computes every node, every
# step. On the smallest graph the tree holds *more* positions than there are nodes within two hops — it
# samples with replacement and repeats nodes — so sampling pays only once the graph is large. One sampled
# minibatch at the paper's sizes needs a few GB of activations however large the graph is, and less in
# practice: computing each distinct node once (the green line, not the orange one) is what Algorithm 2's
# node sets do — notebook 04 counts it for PinSage.

# %% [markdown]
# ## 4 · GAT: attention learned over the 1-hop neighbours
#
# A mean treats every neighbour alike. The *graph attention network* (Veličković et al., 2018) learns how
# much each neighbour should count, separately for every layer: with $z_i = W h_i$,
#
# $$e_{ij} = \mathrm{LeakyReLU}\big(a^\top [\,z_i \,\Vert\, z_j\,]\big), \qquad
#   \alpha^{\mathrm{GAT}}_{ij} = \frac{\exp e_{ij}}{\sum_{j' \in N(i) \cup \{i\}} \exp e_{ij'}}, \qquad
#   h_i' = \sigma\Big(\sum_{j \in N(i) \cup \{i\}} \alpha^{\mathrm{GAT}}_{ij}\, z_j\Big)$$
#
# — a softmax over the node's own neighbours (itself included), with parameters W and a. (GAT runs
# several such heads side by side; one head keeps the code short.) We train a two-layer GAT on the same two labels.

# %%
class GATLayer(nn.Module):
    """One single-head GAT layer over a dense adjacency (fine for 34 nodes; real code uses edge lists)."""

    def __init__(self, d_in, d_out):
        super().__init__()
        self.W = nn.Linear(d_in, d_out, bias=False)
        self.a = nn.Parameter(0.1 * torch.randn(2 * d_out))

    def attention(self, H, adj):
        """α^GAT [N, N]: row i is a softmax over N(i) ∪ {i}, zero elsewhere; and z = W h [N, d_out]."""
        z = self.W(H)
        d_out = z.shape[1]
        # aᵀ[z_i ‖ z_j] = a₁ᵀz_i + a₂ᵀz_j, for every pair (i, j) at once
        e = F.leaky_relu((z @ self.a[:d_out])[:, None] + (z @ self.a[d_out:])[None, :], negative_slope=0.2)
        e = e.masked_fill(adj + torch.eye(len(adj)) == 0, float("-inf"))  # only neighbours and self
        return torch.softmax(e, dim=1), z

    def forward(self, H, adj):
        att, z = self.attention(H, adj)
        return att @ z


torch.manual_seed(0)
gat = nn.ModuleList([GATLayer(N, 8), GATLayer(8, 2)])
with torch.no_grad():
    att_init = gat[0].attention(X, A)[0]
opt = torch.optim.Adam(gat.parameters(), lr=0.01)
for _ in range(PRESET["train_steps"]):
    Z_gat = gat[1](F.elu(gat[0](X, A)), A)
    loss = F.cross_entropy(Z_gat[labelled], club[labelled])
    opt.zero_grad()
    loss.backward()
    opt.step()
with torch.no_grad():
    att_gat, z_gat = gat[0].attention(X, A)  # layer 1's attention, after training
acc_gat = float((Z_gat.argmax(1) == club)[unlabelled].float().mean())

support0 = att_gat[0].nonzero().squeeze(1)
top = support0[torch.argsort(att_gat[0, support0], descending=True)[:4]]
print(f"GAT accuracy on the unlabelled: {acc_gat:.0%}; parameters of layer 1: "
      f"{sum(p.numel() for p in gat[0].parameters())} (W and a)")
print(f"node 0 attends to {len(support0)} nodes (its {int(degree[0])} friends and itself); at initialisation "
      f"{float(att_init[0, support0].min()):.3f}–{float(att_init[0, support0].max()):.3f}, after training:")
for j in top.tolist():
    print(f"  node {j:>2} ({CLUBS[int(club[j])]:<7}): {float(att_gat[0, j]):.3f}")
assert torch.allclose(att_gat.sum(1), torch.ones(N)) and bool((att_gat[(A + torch.eye(N)) == 0] == 0).all())
assert float(att_init[0, support0].max()) < 1.2 * float(att_init[0, support0].min())  # almost uniform at first
assert acc_gat >= 0.75 and float(att_gat[0, support0].max()) > 2 * float(att_gat[0, support0].min())

# %% [markdown]
# The attention started almost uniform and training made it uneven — which neighbours gain weight is
# whatever helped the two labels. Each weight is recomputed from the current vectors at every forward
# pass, layer by layer, and only over direct neighbours: to see two hops, GAT needs two layers.

# %% [markdown]
# ## 5 · PinSage's importance pooling: attention fixed by random walks (§3.2)
#
# PinSage pools its neighbours with weights too — but it does not learn them. §3.2 (notebook 02):
# run short random walks from u, count visits, keep the T most visited nodes as N(u), and use the
# L1-normalised counts as **importance weights** α:
#
# $$n_u = \gamma\big(\{\mathrm{ReLU}(Q z_v + q) : v \in N(u)\},\ \alpha\big) = \sum_{v \in N(u)} \alpha_v\, \mathrm{ReLU}(Q z_v + q),
#   \qquad \sum_{v \in N(u)} \alpha_v = 1 .$$
#
# The library walks bipartite graphs, item → collection → item. We turn the karate club into one: every
# member is an item, and every friendship {u, v} a collection holding the two items u and v. One traversal
# then goes from u to one of its friendships (uniformly: a random friend v) and on to one of that
# friendship's two members — v, or back to u. So a traversal is a step of the **lazy random walk**
# $\tfrac12(I + D^{-1}A)$ on the karate graph: the very matrix of section 1's weight-free layer.

# %% tags=["nbval-check-output"]
g = BipartiteGraph.from_edges(items=edges.flatten(), collections=torch.arange(len(edges)).repeat_interleave(2))
item_of, coll_of, _ = g.edges()
M = torch.zeros(g.num_items, g.num_collections)  # incidence: M[u, c] = 1 if member u is in friendship c
M[item_of, coll_of] = 1.0
traversal = (M / M.sum(1, keepdim=True)) @ (M.T / M.T.sum(1, keepdim=True))  # item → collection → item
print(g)
assert torch.allclose(traversal, spread, atol=1e-6)
print("one traversal = ½(I + D⁻¹A), the lazy random walk on the karate graph")

# %% [markdown]
# Now the importance neighbourhoods, with the library's default walk settings (printed below), for node 0
# — the instructor, more friends than T — and node 16, a member with only two.

# %% tags=["nbval-check-output"]
T = 10
targets = [0, 16]
walk = dict(num_walks=PRESET["num_walks"], num_traversals=3, termination_prob=0.5)  # library defaults, more walks
nbhd = importance_neighborhoods(g, targets, T, generator=0, **walk)
again = importance_neighborhoods(g, targets, T, generator=0, **walk)
print(f"T = {T}; walks per node: {walk['num_walks']:,}, at most {walk['num_traversals']} traversals, "
      f"stopping with probability {walk['termination_prob']} after each")
assert torch.equal(nbhd.ids, again.ids) and torch.equal(nbhd.weights, again.weights)  # no training, no drift
for row, u in enumerate(targets):
    ids = nbhd.ids[row][nbhd.mask[row]].tolist()
    print(f"node {u} (degree {int(degree[u])}): N(u) = {ids}")
    print("  α    =", [round(float(a), 3) for a in nbhd.weights[row][nbhd.mask[row]]])
    print("  hops =", [hops[u][v] for v in ids])
max_hops = max(hops[u][int(v)] for row, u in enumerate(targets) for v in nbhd.ids[row][nbhd.mask[row]])
assert all(int(s) == T for s in nbhd.sizes) and 2 <= max_hops <= 3
assert all(hops[0][int(v)] == 1 for v in nbhd.ids[0])  # the hub: T of its friends
# the small node: its friends first, then nodes further out, each weighted less than any friend
friends16 = int(degree[16])
assert all(hops[16][int(v)] == 1 for v in nbhd.ids[1, :friends16])
assert all(hops[16][int(v)] >= 2 for v in nbhd.ids[1, friends16:])
assert float(nbhd.weights[1, friends16:].max()) < float(nbhd.weights[1, :friends16].min())

# %% [markdown]
# **Same operator, different weights.** Pooling with weights is exactly what GAT's layer does after its
# softmax. The library's `importance_pooling` (γ of Algorithm 1) applied to GAT's vectors $z_j$ with
# GAT's trained weights reproduces GAT's aggregation; applied with the walk weights α it is PinSage's.

# %% tags=["nbval-check-output"]
for row, u in enumerate(targets):
    support = att_gat[u].nonzero().squeeze(1)
    ones = torch.ones(1, len(support), dtype=torch.bool)
    as_gat = importance_pooling(z_gat[support][None], att_gat[u, support][None], ones)[0]
    assert torch.allclose(as_gat, att_gat[u] @ z_gat, atol=1e-6)  # GAT's Σ_j α^GAT_ij z_j
    z_nb = z_gat[nbhd.ids[row].clamp_min(0)]  # [T, d]; padding (id −1) would be masked out
    as_pinsage = importance_pooling(z_nb[None], nbhd.weights[row][None], nbhd.mask[row][None])[0]
    by_hand = (nbhd.weights[row][:, None] * z_nb).sum(0)
    assert torch.allclose(as_pinsage, by_hand, atol=1e-6)
print("importance_pooling(z, GAT's weights) == GAT's aggregation; importance_pooling(z, α) == Σ α_v z_v")
print(f"parameters that produce the weights: GAT layer 1 {sum(p.numel() for p in gat[0].parameters())}, "
      f"importance α 0")

# %%
fig, axes = plt.subplots(1, 2, figsize=(16, 4.6))
for row, (ax, u) in enumerate(zip(axes, targets)):
    alpha_of = {int(v): float(a) for v, a, m in zip(nbhd.ids[row], nbhd.weights[row], nbhd.mask[row]) if m}
    gat_of = {int(j): float(att_gat[u, j]) for j in att_gat[u].nonzero().squeeze(1)}
    nodes = sorted(set(alpha_of) | set(gat_of), key=lambda v: (hops[u][v], v))
    x = torch.arange(len(nodes), dtype=torch.float32)
    ax.bar(x - 0.2, [gat_of.get(v, 0.0) for v in nodes], 0.4, label=r"GAT $\alpha^{\mathrm{GAT}}$ (learned, layer 1)")
    ax.bar(x + 0.2, [alpha_of.get(v, 0.0) for v in nodes], 0.4, label=f"PinSage α (walks, top T = {T})")
    ax.set_xticks(x.tolist(), [f"{v}\n{'self' if v == u else str(hops[u][v]) + ' hop'}" for v in nodes], fontsize=7)
    ax.set(xlabel="node (and its hop distance)", ylabel="weight in the pooled neighbourhood",
           title=f"node {u}: {len(gat_of)} attended by GAT, {len(alpha_of)} in PinSage's N(u)")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
plt.show()

# %% [markdown]
# What differs, read off the bars and the printouts above:
#
# | | GAT's attention $\alpha^{\mathrm{GAT}}$ | PinSage's importance α |
# |---|---|---|
# | computed | by the network, at every forward pass | by random walks, **before training** (and fixed) |
# | reach | the 1-hop neighbours and the node itself, per layer | as far as a walk goes: two and three hops here (`max_hops`, asserted above) |
# | which neighbours | all of them | the top T only: bounded work for a hub |
# | parameters | W and a, per layer | none |
# | per layer | a new set at each layer | one neighbourhood and one α per node, shared by the layers |
#
# For the hub, α chooses T of its friends — those the walks keep returning to through shared friends —
# and drops the rest; for the small node, α's first two bars are its two friends and the rest of N(u)
# lies two and three hops out, weighted far less: the lazy walk spends half its traversals standing
# still. PinSage keeps what attention adds (uneven weights, different for every node) without paying
# for it per edge and per layer at training time, and it gets the weights for free from the same kind of walks
# that Pinterest already ran for Pixie (notebook 02).

# %% [markdown]
# ## 6 · Algorithm 1, line 3: L2 normalisation, not LayerNorm (§3.2)
#
# Both rescale a vector, and both appear "at the end of a layer" in papers — which is why they are often
# confused. On the same vectors $x \in \mathbb R^d$:
#
# * **L2 normalisation** $x / \lVert x\rVert_2$: one factor for the whole vector. Unit length, the
#   **direction is kept**, no parameters. For unit vectors $a \cdot b = \cos(a, b)$ and
#   $\lVert a - b\rVert^2 = 2 - 2\,a\cdot b$: ranking by dot product, by cosine and by distance are the
#   same ranking — what nearest-neighbour lookup over embeddings needs.
# * **LayerNorm** $\gamma \odot (x - \mu)/\sigma + \beta$, with μ and σ the mean and standard deviation
#   **across the features of this one vector**: zero mean, unit variance per vector, then a learned
#   per-feature gain γ and bias β. It subtracts the mean, so it **changes the direction**; it is a
#   training-stability device (Ba et al., 2016, motivated it by the "covariate shift" between layers).
#
# **Algorithm 1's line 3, $z_u \leftarrow z_u / \lVert z_u \rVert_2$, is an L2 normalisation of the
# embedding, not layer normalisation.** The library's `Convolve` contains no LayerNorm, and its outputs
# have unit length.

# %% tags=["nbval-check-output"]
d_demo = 16
gen = torch.Generator().manual_seed(0)
scale, shift = torch.tensor([[0.5], [1.0], [2.0], [4.0]]), torch.tensor([[2.0], [0.0], [-1.0], [0.5]])
x = torch.randn(4, d_demo, generator=gen) * scale + shift  # four vectors of different lengths and means
layer_norm = nn.LayerNorm(d_demo)  # γ = 1, β = 0: as at initialisation
x_l2, x_ln = l2_normalize(x), layer_norm(x).detach()
assert torch.allclose(x_l2, x / x.norm(dim=1, keepdim=True))  # the library's line 3 is x / ‖x‖₂


def cos(a, b):
    return F.cosine_similarity(a, b, dim=-1)


print(f"{'':4}{'‖x‖':>7}{'mean':>7}{'std':>6} |{'‖L2 x‖':>8}{'cos(x, L2 x)':>14} |"
      f"{'mean':>7}{'std':>6}{'‖LN x‖':>8}{'cos(x, LN x)':>14}")
for i in range(len(x)):
    print(f"x{i:<3}{x[i].norm():7.2f}{x[i].mean():7.2f}{x[i].std(correction=0):6.2f} |"
          f"{x_l2[i].norm():8.2f}{cos(x[i], x_l2[i]):14.3f} |"
          f"{round(float(x_ln[i].mean()), 2) + 0.0:7.2f}{x_ln[i].std(correction=0):6.2f}"  # + 0.0: never "-0.00"
          f"{x_ln[i].norm():8.2f}{cos(x[i], x_ln[i]):14.3f}")
# L2: unit length, same direction, blind to the scale
assert torch.allclose(x_l2.norm(dim=1), torch.ones(4)) and torch.allclose(cos(x, x_l2), torch.ones(4))
assert torch.allclose(l2_normalize(3.0 * x), x_l2, atol=1e-6)
# LayerNorm: per vector zero mean / unit variance across the features; blind to adding a constant; turns the vector
assert torch.allclose(x_ln.mean(1), torch.zeros(4), atol=1e-5)
assert torch.allclose(x_ln.var(1, unbiased=False), torch.ones(4), atol=1e-3)
assert torch.allclose(layer_norm(x + 5.0).detach(), x_ln, atol=1e-4) and float(cos(x, x_ln).min()) < 0.9
# Algorithm 1 in the library: no LayerNorm anywhere, unit-length outputs
torch.manual_seed(0)
conv = Convolve(4, 8, 16)
z_out = conv(torch.randn(3, 4, generator=gen), torch.randn(3, 5, 4, generator=gen), torch.full((3, 5), 0.2),
             torch.ones(3, 5, dtype=torch.bool)).detach()
assert not any(isinstance(m, nn.LayerNorm) for m in conv.modules())
assert torch.allclose(z_out.norm(dim=1), torch.ones(3))
print("Convolve: no LayerNorm module; output norms", [round(float(v), 3) for v in z_out.norm(dim=1)])

# %% [markdown]
# At initialisation (γ = 1, β = 0) LayerNorm's outputs all have length $\sqrt d$ too, so it can look like
# a normalisation for search. It is not: a trained LayerNorm's gain and bias differ per feature, lengths
# then differ, and ranking by dot product stops agreeing with ranking by cosine. We check it on a small
# catalogue: the top-5 by dot product against the top-5 by cosine.

# %% tags=["nbval-check-output"]
catalogue, queries = torch.randn(300, d_demo, generator=gen), torch.randn(20, d_demo, generator=gen)
trained_ln = nn.LayerNorm(d_demo)
with torch.no_grad():  # stand-ins for a trained gain and bias: different per feature
    trained_ln.weight.copy_(torch.rand(d_demo, generator=gen) * 2)
    trained_ln.bias.copy_(torch.randn(d_demo, generator=gen) * 0.5)


def agreement(embed) -> float:
    """Share of queries whose top-5 by dot product equals their top-5 by cosine."""
    c, q = embed(catalogue), embed(queries)
    by_dot = torch.topk(q @ c.T, 5).indices
    by_cos = torch.topk(F.normalize(q, dim=1) @ F.normalize(c, dim=1).T, 5).indices
    return float((by_dot.sort(1).values == by_cos.sort(1).values).all(1).float().mean())


with torch.no_grad():
    agree_l2, agree_ln = agreement(l2_normalize), agreement(trained_ln)
print(f"top-5 by dot product == top-5 by cosine: L2-normalised {agree_l2:.0%} of queries, "
      f"LayerNorm with a trained-like gain and bias {agree_ln:.0%}")
assert agree_l2 == 1.0 and agree_ln < 1.0

# %%
fig, axes = plt.subplots(1, 3, figsize=(17, 4.2))
v2 = torch.tensor([[2.0, 1.0], [-0.6, 1.5], [0.4, -0.5], [-2.5, -1.8]])
theta = torch.linspace(0, 2 * torch.pi, 200)
axes[0].plot(torch.cos(theta), torch.sin(theta), color="lightgray")
for i, (vec, unit) in enumerate(zip(v2, l2_normalize(v2))):
    axes[0].annotate("", xy=vec.tolist(), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=f"C{i}", alpha=0.4))
    axes[0].annotate("", xy=unit.tolist(), xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=f"C{i}", lw=2.5))
axes[0].set(xlabel="feature 1", ylabel="feature 2", title="L2: every vector to the unit circle, direction kept",
            aspect="equal", xlim=(-2.8, 2.4), ylim=(-2.1, 1.8))
feat = torch.arange(d_demo)
axes[1].plot(feat, x[0], "o-", label="x₀")
axes[1].plot(feat, x_l2[0], "s-", label="L2(x₀): the same shape, scaled down")
axes[1].plot(feat, x_ln[0], "^-", label="LN(x₀): mean removed, then scaled")
axes[1].axhline(0, color="black", lw=0.8)
axes[1].set(xlabel="feature index", ylabel="value", title="one vector, feature by feature")
axes[1].legend(fontsize=8)
with torch.no_grad():
    norms = {"x": x.norm(dim=1), "L2 x": x_l2.norm(dim=1), "LN x (γ = 1, β = 0)": x_ln.norm(dim=1),
             "LN x (trained-like γ, β)": trained_ln(x).norm(dim=1)}
for i, (label, n) in enumerate(norms.items()):
    axes[2].bar(torch.arange(4) + 0.2 * i - 0.3, n, 0.2, label=label)
axes[2].set(xlabel="vector", ylabel="length ‖·‖₂", xticks=range(4), xticklabels=[f"x{i}" for i in range(4)],
            title="lengths: L2 → 1; LayerNorm → √d only until γ, β are learned")
axes[2].legend(fontsize=8)
plt.show()

# %% [markdown]
# ## 7 · Where PinSage sits in a recommender (§3.1, §3.4, §4)
#
# An embedding model like PinSage is the first stage of a recommender, not all of it:
#
# 1. **Candidate retrieval** (candidate generation): embed every item offline (§3.4, notebook 08), embed the query, and
#    find the query's nearest neighbours in embedding space — the top-k — among billions of items, with
#    approximate search (locality-sensitive hashing in the paper). Cheap per item: one dot product.
# 2. **Ranking**: a heavier model, with many more features (the user, the context), re-orders the few
#    candidates that retrieval returns. The paper places PinSage at candidate generation for such a
#    downstream ranker; it gives neither the ranker's size nor how many candidates it scores, so the
#    figure leaves that stage without a number.
# 3. **Online A/B test**: the whole pipeline, with and without the new embeddings, on live traffic.
#
# The numbers the paper gives: the catalogue (§3.1), the offline evaluation — is the true item in the
# top-k = 500 among about 5 million candidates? (§4.2) — and the homefeed A/B tests (§4.4). Brute force
# retrieval at that size would cost one d-wide dot product per pin per query:

# %% tags=["nbval-check-output"]
brute_force = PAPER["pins"] * PAPER["d"]
print(f"brute-force retrieval over {PAPER['pins']:,} pins at d = {PAPER['d']}: "
      f"{brute_force / 1e12:.1f} × 10¹² multiply-adds per query")
print(f"offline evaluation (§4.2): true item in the top-k = {PAPER['eval_top_k']} "
      f"of ~{PAPER['eval_candidates']:,} candidates")
print(f"online (§4.4): {PAPER['ab_repin_gain'][0]:.0%}–{PAPER['ab_repin_gain'][1]:.0%} more repins than the Visual and "
      "Annotation recommenders in homefeed A/B tests")
assert brute_force > 10**12

# %%
stages = [  # (stage, what it does, how many items or None, where the number comes from)
    ("catalogue", "every pin, embedded offline (MapReduce)", PAPER["pins"], "§3.1, §3.4"),
    ("candidate retrieval (PinSage)", "the top-k nearest neighbours of the query's embedding (LSH)",
     PAPER["eval_top_k"], "k = the offline evaluation's cut, §4"),
    ("ranking", "a heavier model re-orders the candidates", None, "no size in the paper"),
    ("online A/B test", "users see the result: "
     f"{PAPER['ab_repin_gain'][0]:.0%}–{PAPER['ab_repin_gain'][1]:.0%} more repins", None, "§4.4, homefeed"),
]
fig, ax = plt.subplots(figsize=(13, 4.6))
top_width = 2 * 9.5  # log10 scale: the widest bar spans 10^9.5
for row, (name, what, count, source) in enumerate(stages):
    y = len(stages) - 1 - row
    if count is not None:
        width = 2 * float(torch.log10(torch.tensor(float(count))))
        ax.barh(y, width, left=-width / 2, height=0.7, color="tab:blue", alpha=0.75)
        label = f"{name}: {count:,} items"
    elif row < len(stages) - 1:  # a stage whose size the paper does not give
        width = 2.0 * 2
        ax.barh(y, width, left=-width / 2, height=0.7, color="white", edgecolor="tab:blue", hatch="//")
        label = name
    else:  # the users: no bar, an arrow into them
        ax.annotate("", xy=(0, y - 0.2), xytext=(0, y + 0.55),
                    arrowprops=dict(arrowstyle="-|>", lw=2, color="tab:blue"))
        label = name
    ax.text(top_width / 2 + 0.5, y + 0.12, label, va="center", fontsize=9, weight="bold")
    ax.text(top_width / 2 + 0.5, y - 0.2, f"{what} ({source})", va="center", fontsize=8)
ax.set(xlim=(-top_width / 2 - 0.5, top_width / 2 + 21), ylim=(-0.6, len(stages) - 0.4), yticks=[],
       xlabel="bar width ∝ log₁₀(items per query); hatched: the paper gives no size",
       title="PinSage in the recommender funnel (numbers from the paper only)")
ax.set_xticks([])
for side in ("top", "right", "left"):
    ax.spines[side].set_visible(False)
plt.show()

# %% [markdown]
# PinSage is judged on retrieval: offline by whether the right item is among the top-k candidates
# (hit-rate and MRR, notebook 09), online by what the whole funnel does for users.

# %% [markdown]
# ## 8 · Reading the abstract: the argument in six moves
#
# Many applied-ML abstracts follow the same arc. The paper's, paraphrased (the printout after
# the table holds the figures it reports):
#
# | move | what the abstract says, in our words | in this course |
# |---|---|---|
# | 1 · the problem | deep learning on graphs has recently led on recommender benchmarks | this notebook |
# | 2 · "however" — the gap | nobody has made it practical at web scale: billions of items, hundreds of millions of users | section 2 above: the memory wall |
# | 3 · what we did | PinSage, built and deployed at Pinterest: a data-efficient GCN that combines random walks with graph convolutions to embed items from graph structure *and* features | notebooks 02–04 |
# | 4 · how it differs | walks structure the convolutions (importance neighbourhoods instead of the whole graph), and training uses "harder-and-harder" examples | notebooks 02, 06 |
# | 5 · results | trained on billions of examples on a graph of billions of pins and boards (below); better than deep-learning and graph-based alternatives in offline metrics, a user study and A/B tests | notebooks 07, 09 |
# | 6 · "largest to date" | in the authors' words, "the largest application of deep graph embeddings to date", opening the way to web-scale GCN recommenders | notebook 10 |
#
# > Our remark: moves 2 and 6 frame each other — the gap is scale, and the claim is scale. When you read
# > the experiments, ask which numbers support move 5 (Table 1, the user study, the A/B tests) and which
# > support move 6 (the sizes below).

# %% tags=["nbval-check-output"]
print(f"abstract, move 5: {PAPER['train_examples'] / 1e9:.1f} billion training examples; "
      f"{PAPER['nodes'] / 1e9:.0f} billion nodes (pins and boards); {PAPER['edges'] / 1e9:.0f} billion edges")
assert PAPER["edges"] / PAPER["nodes"] == 6  # edges per node, the ratio used in section 2

# %% [markdown]
# ## What Pinterest did at web scale
#
# * **No full-graph operator.** Instead of multiplying $\hat A$ with all activations, PinSage convolves
#   over sampled, fixed-size neighbourhoods per minibatch (Algorithm 2, notebook 04) — GraphSAGE's idea —
#   with neighbourhoods and weights from random walks (notebook 02).
# * **Importance pooling instead of learned attention.** The walk weights α cost nothing at training
#   time and reach past the 1-hop neighbours; the paper's ablation (Table 1) credits importance pooling
#   with a large share of PinSage's gain (notebook 09 rebuilds the table).
# * **L2-normalised embeddings, nearest-neighbour retrieval.** Every pin's embedding is computed once,
#   layer by layer, by MapReduce (§3.4, notebook 08), and served by approximate nearest-neighbour search
#   as the candidate stage of the recommender.

# %% [markdown]
# ## Exercises
#
# 1. Change section 1's layer to aggregate with a **sum** instead of a mean. Is it still permutation-equivariant?
#    What happens to node 0's output compared with node 11's, and why did GCN normalise $\hat A$?
# 2. Train the GCN of section 2 with labels for only one member. What does it predict, and why?
# 3. In section 3, replace the Barabási–Albert graphs with `nx.random_regular_graph(4, n, seed=0)`. Does the full
#    two-hop receptive field still grow with N? What made it grow before?
# 4. In section 5, make each collection a member's whole circle of friends, {u} ∪ N(u), instead of one
#    friendship. Is one traversal still a lazy random walk? How far does node 16's N(u) reach now?
# 5. Replace `l2_normalize` by `nn.LayerNorm` in the catalogue check of section 6 with γ = 1 and β = 0. Do the
#    dot-product and cosine top-5 agree? Why does that stop once γ and β are trained?
