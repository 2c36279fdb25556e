"""Figures for the notebooks: degree distributions, neighbourhood drawings, the synthetic topics.

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

__all__ = [
    "degree_histogram",
    "plot_degree_distributions",
    "two_hop_graph",
    "draw_two_hop",
    "draw_pins_boards",
    "plot_topic_structure",
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
