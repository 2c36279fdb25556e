"""ipywidgets explorers for the notebooks.

Each explorer is a pure ``render_*(…) -> (Figure, text)`` function, unit-tested, plus thin wiring
that calls it whenever a control changes. Notebooks show the widget in a cell whose output nbval
ignores, then call the same ``render_*`` once with fixed values so the tests exercise it.
"""

from __future__ import annotations

from typing import Any, Callable

from matplotlib.figure import Figure

from .data import Dataset
from .graph import BipartiteGraph
from .viz import draw_two_hop, plot_visit_counts
from .walks import top_neighbors, uniform_neighborhoods, visit_counts

__all__ = ["render_two_hop", "two_hop_explorer", "render_neighborhood", "neighborhood_explorer"]


def render_two_hop(dataset: Dataset, graph: BipartiteGraph, title: str, *, max_collections: int = 6,
                   max_items_per_collection: int = 5, seed: int = 0) -> tuple[Figure, str]:
    """The two-hop drawing of the first item whose title contains ``title``, and a one-line caption.

    Raises ``KeyError`` naming the text when no title matches.
    """
    hits = dataset.items.find(title)
    if not hits:
        raise KeyError(f"no item title contains {title!r}")
    item = hits[0]
    fig = draw_two_hop(graph, item, dataset.items.titles, dataset.collection_names, max_collections=max_collections,
                       max_items_per_collection=max_items_per_collection, seed=seed, figsize=(10, 7))
    reach = graph.two_hop_items(item).numel()
    caption = (f"{dataset.items.titles[item]}: {graph.collections_of(item).numel()} collections, "
               f"{reach:,} items within two hops ({reach / max(graph.num_items, 1):.0%} of the catalogue)")
    return fig, caption


def _wire(controls: list[Any], render: Callable[[], tuple[Figure, str]], *, caption_first: bool) -> Any:
    """An output area redrawn by ``render()`` now and whenever one of ``controls`` changes.

    A ``KeyError`` from ``render`` (no such title) is shown as its message instead of a figure.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    out = w.Output()

    def update(_: Any = None) -> None:
        with out:
            out.clear_output(wait=True)
            try:
                fig, caption = render()
            except KeyError as exc:
                print(exc.args[0])
                return
            if caption_first:
                print(caption)
            display(fig)
            plt.close(fig)
            if not caption_first:
                print(caption)

    for control in controls:
        control.observe(update, names="value")
    update()
    return out


def two_hop_explorer(dataset: Dataset, graph: BipartiteGraph) -> Any:
    """A text box (title search) and two sliders driving :func:`render_two_hop`."""
    import ipywidgets as w

    title = w.Text(value=dataset.items.titles[0], description="title")
    colls = w.IntSlider(value=6, min=1, max=12, description="collections")
    per = w.IntSlider(value=5, min=1, max=10, description="items each")
    out = _wire([title, colls, per], lambda: render_two_hop(dataset, graph, title.value, max_collections=colls.value,
                                                            max_items_per_collection=per.value), caption_first=True)
    return w.VBox([w.HBox([title, colls, per]), out])


def render_neighborhood(dataset: Dataset, graph: BipartiteGraph, title: str, *, num_neighbors: int = 10,
                        num_walks: int = 200, num_traversals: int = 3, seed: int = 0) -> tuple[Figure, str]:
    """The visit-count chart of the first item whose title contains ``title``, and a caption listing
    its importance neighbours (with α) beside as many uniformly sampled two-hop neighbours.

    Raises ``KeyError`` naming the text when no title matches.
    """
    hits = dataset.items.find(title)
    if not hits:
        raise KeyError(f"no item title contains {title!r}")
    item = hits[0]
    visits = visit_counts(graph, [item], num_walks=num_walks, num_traversals=num_traversals, generator=seed)
    items, counts = visits.of(0)
    titles = dataset.items.titles
    fig = plot_visit_counts(items, counts, titles, num_neighbors,
                            title=f"{titles[item]}: {num_walks} walks of ≤ {num_traversals} traversals, "
                                  f"{items.numel()} items visited")
    imp = top_neighbors(visits, num_neighbors)
    uni = uniform_neighborhoods(graph, [item], num_neighbors, generator=seed)
    lines = [f"{titles[item]} — importance neighbours (α, title) | uniform two-hop neighbours"]
    for r in range(num_neighbors):
        left = (f"{float(imp.weights[0, r]):.2f}  {titles[int(imp.ids[0, r])][:40]}"
                if imp.mask[0, r] else "—")
        right = titles[int(uni.ids[0, r])][:38] if uni.mask[0, r] else "—"
        lines.append(f"{r + 1:>3}. {left:<48} | {right}")
    return fig, "\n".join(lines)


def neighborhood_explorer(dataset: Dataset, graph: BipartiteGraph) -> Any:
    """A title box and sliders (T, walks, traversals) driving :func:`render_neighborhood`."""
    import ipywidgets as w

    title = w.Text(value=dataset.items.titles[0], description="title")
    T = w.IntSlider(value=10, min=1, max=50, description="T")
    walks = w.SelectionSlider(options=[10, 30, 100, 300, 1000, 3000, 10000], value=300, description="walks")
    trav = w.IntSlider(value=3, min=1, max=8, description="traversals")
    out = _wire([title, T, walks, trav],
                lambda: render_neighborhood(dataset, graph, title.value, num_neighbors=T.value, num_walks=walks.value,
                                            num_traversals=trav.value), caption_first=False)
    return w.VBox([w.HBox([title, T]), w.HBox([walks, trav]), out])
