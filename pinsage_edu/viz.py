"""Figures for the notebooks: degrees, neighbourhood drawings, synthetic topics, random walks and PPR.

Every function returns a matplotlib ``Figure`` (and draws nothing global), so a notebook cell can
show it and a test can check it without a screen.
"""

from __future__ import annotations

import textwrap
from typing import Sequence

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import torch
from matplotlib.figure import Figure

from .data import Dataset
from .graph import BipartiteGraph
from .walks import Walks

__all__ = [
    "degree_histogram",
    "plot_degree_distributions",
    "two_hop_graph",
    "draw_two_hop",
    "draw_pins_boards",
    "plot_topic_structure",
    "draw_walks",
    "plot_visit_counts",
    "plot_ppr_convergence",
]

ITEM_COLOR = "#d62728"  # pins: Pinterest red
COLLECTION_COLOR = "#1f77b4"


def degree_histogram(degrees: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(degree values, share of nodes with that degree) for degrees >= 1, for log–log plots."""
    d = degrees.detach().cpu().numpy()
    d = d[d > 0]
    values, counts = np.unique(d, return_counts=True)
    return values, counts / max(len(d), 1)


def plot_degree_distributions(graphs: dict[str, BipartiteGraph], *, figsize: tuple[float, float] = (11, 4)) -> Figure:
    """Item and collection degree distributions of each graph on log–log axes (one panel each side).

    A straight-ish falling line on these axes is the power law the paper's graph has: most pins sit on
    a handful of boards, a few on hundreds of thousands.
    """
    fig, axes = plt.subplots(1, 2, figsize=figsize, sharey=True)
    for name, g in graphs.items():
        for ax, degrees in zip(axes, (g.item_degrees, g.collection_degrees)):
            x, y = degree_histogram(degrees)
            ax.loglog(x, y, "o", ms=3, alpha=0.6, label=name)
    axes[0].set(title="items: collections per item", xlabel="degree", ylabel="share of nodes")
    axes[1].set(title="collections: items per collection", xlabel="degree")
    for ax in axes:
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def two_hop_graph(
    graph: BipartiteGraph,
    item: int,
    *,
    max_collections: int = 6,
    max_items_per_collection: int = 5,
    seed: int = 0,
) -> nx.Graph:
    """A readable sample of ``item``'s two-hop neighbourhood as a networkx graph.

    Nodes are ``("i", id)`` for items and ``("c", id)`` for collections, with a ``kind`` attribute.
    At most ``max_collections`` of the item's collections are kept (a seeded sample), and from each at
    most ``max_items_per_collection`` other items — the full neighbourhood of a popular movie has
    thousands of nodes and draws as a hairball.
    """
    g = torch.Generator().manual_seed(seed)
    colls = graph.collections_of(item).cpu()
    if colls.numel() > max_collections:
        colls = colls[torch.randperm(colls.numel(), generator=g)[:max_collections]]
    G = nx.Graph()
    G.add_node(("i", int(item)), kind="item", center=True)
    for c in colls.tolist():
        G.add_node(("c", c), kind="collection")
        G.add_edge(("i", int(item)), ("c", c))
        others = graph.items_of(c).cpu()
        others = others[others != item]
        if others.numel() > max_items_per_collection:
            others = others[torch.randperm(others.numel(), generator=g)[:max_items_per_collection]]
        for j in others.tolist():
            if ("i", j) not in G:
                G.add_node(("i", j), kind="item", center=False)
            G.add_edge(("c", c), ("i", j))
    return G


def _short(title: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(title, width)[:2])


def draw_two_hop(
    graph: BipartiteGraph,
    item: int,
    titles: Sequence[str],
    collection_names: Sequence[str] | None = None,
    *,
    max_collections: int = 6,
    max_items_per_collection: int = 5,
    seed: int = 0,
    figsize: tuple[float, float] = (12, 8),
) -> Figure:
    """Draw one item's two-hop neighbourhood (a sample, see :func:`two_hop_graph`) with titles.

    Items are red circles, collections blue squares; the query item is the large one in the middle.
    Items shared by several of its collections sit between them — the ones a random walk from the
    query visits most often (notebook 02).
    """
    G = two_hop_graph(graph, item, max_collections=max_collections,
                      max_items_per_collection=max_items_per_collection, seed=seed)
    pos = nx.spring_layout(G, seed=seed, k=1.2 / max(np.sqrt(G.number_of_nodes()), 1))
    fig, ax = plt.subplots(figsize=figsize)
    items = [n for n, d in G.nodes(data=True) if d["kind"] == "item"]
    colls = [n for n, d in G.nodes(data=True) if d["kind"] == "collection"]
    nx.draw_networkx_edges(G, pos, ax=ax, alpha=0.3)
    nx.draw_networkx_nodes(G, pos, nodelist=colls, node_shape="s", node_color=COLLECTION_COLOR, node_size=120, ax=ax)
    sizes = [600 if G.nodes[n]["center"] else 80 for n in items]
    nx.draw_networkx_nodes(G, pos, nodelist=items, node_color=ITEM_COLOR, node_size=sizes, ax=ax)
    labels = {n: _short(titles[n[1]]) for n in items}
    nx.draw_networkx_labels(G, pos, labels, font_size=7, ax=ax, verticalalignment="bottom")
    if collection_names is not None:
        below = {n: (x, y - 0.03) for n, (x, y) in pos.items()}
        nx.draw_networkx_labels(G, below, {n: _short(collection_names[n[1]], 14) for n in colls},
                                font_size=7, font_color=COLLECTION_COLOR, ax=ax, verticalalignment="top")
    ax.set_title(f"two-hop neighbourhood of {titles[item]!r}: "
                 f"{len(colls)} collections, {len(items) - 1} other items (a sample)")
    ax.axis("off")
    fig.tight_layout()
    return fig


def draw_pins_boards(graph: BipartiteGraph, item_labels: Sequence[str], collection_labels: Sequence[str],
                     *, figsize: tuple[float, float] = (8, 4)) -> Figure:
    """A small bipartite graph drawn in two rows: boards on top, pins below (§3.1's picture)."""
    G = nx.Graph()
    items, colls, _ = graph.edges()
    top = [("c", c) for c in range(graph.num_collections)]
    bottom = [("i", i) for i in range(graph.num_items)]
    G.add_nodes_from(top + bottom)
    G.add_edges_from(zip([("i", int(i)) for i in items], [("c", int(c)) for c in colls]))
    pos = {("c", c): (c * (graph.num_items - 1) / max(graph.num_collections - 1, 1), 1.0) for c in range(graph.num_collections)}
    pos.update({("i", i): (float(i), 0.0) for i in range(graph.num_items)})
    fig, ax = plt.subplots(figsize=figsize)
    nx.draw_networkx_edges(G, pos, ax=ax, alpha=0.5)
    nx.draw_networkx_nodes(G, pos, nodelist=top, node_shape="s", node_color=COLLECTION_COLOR, node_size=500, ax=ax)
    nx.draw_networkx_nodes(G, pos, nodelist=bottom, node_color=ITEM_COLOR, node_size=300, ax=ax)
    nx.draw_networkx_labels(G, {n: (x, y + 0.13) for n, (x, y) in pos.items() if n[0] == "c"},
                            {n: collection_labels[n[1]] for n in top}, font_size=8, ax=ax)
    nx.draw_networkx_labels(G, {n: (x, y - 0.13) for n, (x, y) in pos.items() if n[0] == "i"},
                            {n: item_labels[n[1]] for n in bottom}, font_size=8, ax=ax)
    ax.set_ylim(-0.4, 1.4)
    ax.axis("off")
    ax.set_title("boards (collections, squares) hold pins (items, circles)")
    fig.tight_layout()
    return fig


def plot_topic_structure(dataset: Dataset, *, figsize: tuple[float, float] = (14, 4)) -> Figure:
    """The synthetic generator's ground truth: which topics boards draw from, and the two feature views.

    Left: share of each board topic's edges that land on pins of each topic (a bright diagonal = boards
    are mostly on-topic). Middle and right: the visual and text vectors projected to 2-D (PCA),
    coloured by topic — each view alone merges some pairs of topics.
    """
    topic = dataset.items.topic
    ctopic = dataset.collection_topic
    if topic is None or ctopic is None:
        raise ValueError(f"{dataset.name} has no ground-truth topics (only synthetic data has)")
    x = dataset.interactions
    k = int(max(int(topic.max()), int(ctopic.max())) + 1)
    mix = torch.zeros(k, k)
    mix.index_put_((ctopic[x.collection], topic[x.item]), torch.ones(len(x)), accumulate=True)
    mix = mix / mix.sum(1, keepdim=True).clamp_min(1)
    fig, axes = plt.subplots(1, 3, figsize=figsize)
    im = axes[0].imshow(mix.numpy(), cmap="viridis")
    axes[0].set(title="board topic → pin topic (share of edges)", xlabel="pin topic", ylabel="board topic")
    fig.colorbar(im, ax=axes[0], fraction=0.046)
    rng = torch.Generator().manual_seed(0)
    sample = torch.randperm(len(topic), generator=rng)[:3000]
    for ax, name in zip(axes[1:], ("visual", "text")):
        v = dataset.items.vectors[name][sample]
        v = v - v.mean(0)
        _, _, vt = torch.linalg.svd(v, full_matrices=False)
        xy = (v @ vt[:2].T).numpy()
        ax.scatter(xy[:, 0], xy[:, 1], c=topic[sample].numpy(), cmap="tab20", s=4)
        ax.set(title=f'"{name}" view, PCA, coloured by topic', xticks=[], yticks=[])
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- §3.2 random walks
WALK_COLORS = ("#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f")


def draw_walks(walks: Walks, titles: Sequence[str], collection_names: Sequence[str] | None = None, *,
               max_walks: int = 5, seed: int = 0, figsize: tuple[float, float] = (12, 7)) -> Figure:
    """Draw the first ``max_walks`` walks of a :class:`~pinsage_edu.walks.Walks` as paths on one picture.

    Items are red circles (the seed large), collections blue squares; each walk's hops are drawn in
    its own colour with the traversal number on the edge, so a student can follow item → collection →
    item and see where walks meet. Meant for walks without restarts (a restart's jump back to the
    seed is not in the trace).
    """
    items, colls = walks.items[:max_walks].cpu().tolist(), walks.collections[:max_walks].cpu().tolist()
    G = nx.MultiGraph()
    seeds = {its[0] for its in items}
    hops: list[tuple[tuple, tuple, int, int]] = []  # (from, to, walk, traversal)
    for w, (its, cs) in enumerate(zip(items, colls)):
        cur = ("i", its[0])
        G.add_node(cur, kind="item")
        for t, c in enumerate(cs):
            if c < 0:
                break
            nxt_c, nxt_i = ("c", c), ("i", its[t + 1])
            G.add_node(nxt_c, kind="collection")
            G.add_node(nxt_i, kind="item")
            hops += [(cur, nxt_c, w, t + 1), (nxt_c, nxt_i, w, t + 1)]
            G.add_edge(cur, nxt_c)
            G.add_edge(nxt_c, nxt_i)
            cur = nxt_i
    pos = nx.spring_layout(nx.Graph(G), seed=seed, k=1.5 / max(np.sqrt(G.number_of_nodes()), 1))
    fig, ax = plt.subplots(figsize=figsize)
    for a, b, w, t in hops:
        (x0, y0), (x1, y1) = pos[a], pos[b]
        off = 0.012 * (w - (len(items) - 1) / 2)  # parallel walks side by side
        ax.annotate("", xy=(x1 + off, y1 + off), xytext=(x0 + off, y0 + off),
                    arrowprops=dict(arrowstyle="-|>", color=WALK_COLORS[w % len(WALK_COLORS)], lw=1.6, alpha=0.8))
    item_nodes = [n for n, d in G.nodes(data=True) if d["kind"] == "item"]
    coll_nodes = [n for n, d in G.nodes(data=True) if d["kind"] == "collection"]
    nx.draw_networkx_nodes(G, pos, nodelist=coll_nodes, node_shape="s", node_color=COLLECTION_COLOR, node_size=140,
                           ax=ax)
    nx.draw_networkx_nodes(G, pos, nodelist=item_nodes, node_color=ITEM_COLOR, ax=ax,
                           node_size=[650 if n[1] in seeds else 110 for n in item_nodes])
    nx.draw_networkx_labels(G, pos, {n: _short(titles[n[1]]) for n in item_nodes}, font_size=7, ax=ax,
                            verticalalignment="bottom")
    if collection_names is not None:
        nx.draw_networkx_labels(G, {n: (x, y - 0.03) for n, (x, y) in pos.items()},
                                {n: collection_names[n[1]] for n in coll_nodes}, font_size=7,
                                font_color=COLLECTION_COLOR, ax=ax, verticalalignment="top")
    handles = [plt.Line2D([], [], color=WALK_COLORS[w % len(WALK_COLORS)], lw=2,
                          label=f"walk {w + 1}: {sum(c >= 0 for c in colls[w])} traversals")
               for w in range(len(items))]
    ax.legend(handles=handles, fontsize=8, loc="lower left")
    if not items:
        ax.set_title("no walks")
    elif len(seeds) == 1:
        ax.set_title(f"{len(items)} random walks from {titles[next(iter(seeds))]!r}")
    else:
        ax.set_title(f"{len(items)} random walks from {len(seeds)} seeds (the large nodes)")
    ax.axis("off")
    fig.tight_layout()
    return fig


def plot_visit_counts(items: torch.Tensor, counts: torch.Tensor, titles: Sequence[str], num_neighbors: int, *,
                      show: int | None = None, ax=None, title: str | None = None) -> Figure:
    """Bar chart of visit counts, most visited first, with the top-T cut and the weights α it keeps.

    ``items``/``counts`` as returned by :meth:`VisitCounts.of`. Bars left of the dashed line are the
    neighbourhood; each is labelled with its importance weight α = count / (sum of kept counts).
    """
    show = min(items.numel(), show if show is not None else max(2 * num_neighbors, 20))
    it, c = items[:show].cpu(), counts[:show].cpu().float()
    kept = c[:num_neighbors]
    alpha = kept / kept.sum().clamp_min(1e-12)
    if ax is None:
        fig, ax = plt.subplots(figsize=(12, 4.5))
    else:
        fig = ax.figure
    colors = [ITEM_COLOR if r < num_neighbors else "#bbbbbb" for r in range(show)]
    ax.bar(range(show), c.numpy(), color=colors)
    if show > num_neighbors:
        ax.axvline(num_neighbors - 0.5, color="k", ls="--", lw=1)
        ax.text(num_neighbors - 0.4, float(c.max()) * 0.95, f"top-T cut (T = {num_neighbors})", fontsize=8)
    for r in range(min(num_neighbors, show)):
        ax.text(r, float(c[r]), f"{alpha[r]:.3f}", ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(range(show))
    ax.set_xticklabels([_short(titles[i], 22).replace("\n", " ")[:26] for i in it.tolist()], rotation=90, fontsize=6)
    ax.set_ylabel("visits")
    ax.set_title(title or "visit counts (bars kept in the neighbourhood are red, labelled with α)")
    fig.tight_layout()
    return fig


def plot_ppr_convergence(num_walks: Sequence[int], distances: Sequence[float], overlaps: Sequence[float], *,
                         figsize: tuple[float, float] = (11, 4)) -> Figure:
    """Left: L1 distance between walk frequencies and exact PPR against the number of walks (log–log,
    with the 1/√walks slope for reference). Right: share of the exact top-T found by the walks."""
    if not len(num_walks) == len(distances) == len(overlaps) or not len(num_walks):
        raise ValueError("num_walks, distances and overlaps must be non-empty and of the same length")
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    n = np.asarray(num_walks, dtype=float)
    axes[0].loglog(n, distances, "o-", label="walk frequencies vs exact PPR")
    # the reference slope through the last point: the 1/√walks regime starts once most items are visited
    axes[0].loglog(n, distances[-1] * np.sqrt(n[-1] / n), "k:", label=r"$\propto 1/\sqrt{\mathrm{walks}}$")
    axes[0].set(xlabel="walks per seed", ylabel="L1 distance", title="Monte-Carlo error: towards 1/√walks")
    axes[0].legend(fontsize=8)
    axes[1].semilogx(n, overlaps, "o-")
    axes[1].set(xlabel="walks per seed", ylabel="share of exact top-T found", ylim=(0, 1.05),
                title="the top-T neighbourhood settles early")
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def diagram_box(ax, x0: float, y0: float, w: float, h: float, text: str, color: str, fontsize: int = 9) -> None:
    """A rounded box with centred text at (x0, y0) of size w × h: a step in the notebooks' diagrams."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(FancyBboxPatch((x0, y0), w, h, boxstyle="round,pad=0.02,rounding_size=0.08", fc=color, ec="k", lw=1))
    ax.text(x0 + w / 2, y0 + h / 2, text, ha="center", va="center", fontsize=fontsize)


def diagram_arrow(ax, a: tuple[float, float], b: tuple[float, float], text: str = "", color: str = "k",
                  text_offset: float = 0.12) -> None:
    """An arrow from a to b, labelled with ``text`` just above its middle."""
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=14, lw=1.3, color=color))
    if text:
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + text_offset, text, ha="center", fontsize=8, color=color)
