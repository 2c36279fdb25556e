"""ipywidgets explorers for the notebooks.

Each explorer is a pure ``render_*(…) -> (Figure, text)`` function, unit-tested, plus thin wiring
that calls it whenever a control changes. Notebooks show the widget in a cell whose output nbval
ignores, then call the same ``render_*`` once with fixed values so the tests exercise it.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from matplotlib.figure import Figure

from .data import Dataset
from .graph import BipartiteGraph
from .viz import draw_two_hop, plot_visit_counts
from .walks import top_neighbors, uniform_neighborhoods, visit_counts

__all__ = ["render_two_hop", "two_hop_explorer", "render_neighborhood", "neighborhood_explorer",
           "render_margin", "margin_explorer", "render_recommendations", "recommendation_browser"]


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
    imp = top_neighbors(visits, num_neighbors, generator=seed)
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


def render_margin(margin: float, differences: Any = None, *, bins: int = 80) -> tuple[Figure, str]:
    """The hinge max(0, x + Δ) against x = z_q·z_n − z_q·z_i, and a one-line caption (§3.3).

    Without ``differences`` the figure shows the curve alone. With ``differences`` (any shape, e.g. the
    [B, N] matrix of z_q·z_n − z_q·z_i over a batch and its shared negatives) their histogram is drawn
    beneath the curve, the active ones (x > −Δ: they still give a gradient) in red, and the caption
    reports the share of active hinges and their mean value. Raises ``ValueError`` for a margin < 0.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not margin >= 0:
        raise ValueError(f"margin must be a number >= 0, got {margin!r}")
    d = None
    if differences is not None:
        d = torch.as_tensor(differences, dtype=torch.float32).detach().cpu().reshape(-1)
        d = d[torch.isfinite(d)]
        if d.numel() == 0:
            raise ValueError("differences holds no finite value")
    lo, hi = -1.0, 0.5
    if d is not None:
        lo = min(lo, float(torch.quantile(d, 0.001)) if d.numel() <= 16_000_000 else float(d.min()))
        hi = max(hi, float(d.max()))
    lo, hi = max(lo, -2.0) - 0.05, min(hi, 2.0) + 0.05
    fig, ax = plt.subplots(figsize=(8, 4))
    x = np.linspace(lo, hi, 400)
    ax.plot(x, np.maximum(0.0, x + margin), color="k", lw=2, label=f"max(0, x + Δ), Δ = {margin:.2f}")
    ax.axvline(-margin, color="k", ls="--", lw=1)
    ax.axvspan(-margin, hi, color="#d62728", alpha=0.08)
    box = dict(facecolor="white", alpha=0.8, edgecolor="none", pad=1)
    ax.text(-margin, ax.get_ylim()[1] * 0.9, "  active: gradient", color="#d62728", fontsize=9, bbox=box)
    ax.text(-margin, ax.get_ylim()[1] * 0.9, "no gradient  ", ha="right", color="gray", fontsize=9, bbox=box)
    ax.set(xlabel="x = z_q·z_n − z_q·z_i  (negative minus positive score)", ylabel="hinge", xlim=(lo, hi))
    if d is None:
        caption = (f"Δ = {margin:.2f}: a negative n still teaches while z_q·z_n > z_q·z_i − {margin:.2f}; "
                   f"below that its hinge is 0 and so is its gradient")
    else:
        active = d > -margin
        share, mean = float(active.float().mean()), float((d + margin).clamp_min(0).mean())
        ax2 = ax.twinx()
        edges = np.unique(np.append(np.linspace(lo, hi, bins + 1), -margin))  # colours split at −Δ
        vals = d.numpy()
        ax2.hist(vals[vals <= -margin], bins=edges, color="#1f77b4", alpha=0.45, label="inactive negatives")
        ax2.hist(vals[vals > -margin], bins=edges, color="#d62728", alpha=0.6, label="active negatives")
        ax2.set_ylabel("(query, negative) pairs")
        ax.set_zorder(ax2.get_zorder() + 1)  # the curve in front of the histogram
        ax.patch.set_visible(False)
        caption = (f"Δ = {margin:.2f}: {share:.1%} of {d.numel():,} (query, negative) hinges active, "
                   f"mean hinge {mean:.4f}")
    handles, labels = ax.get_legend_handles_labels()
    if d is not None:
        more = ax2.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, loc="center left", fontsize=8)
    ax.set_title("the max-margin hinge of §3.3")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig, caption


def margin_explorer(differences: Any = None) -> Any:
    """A margin slider (Δ from 0 to 0.5) driving :func:`render_margin` on the given ``differences``."""
    import ipywidgets as w

    margin = w.FloatSlider(value=0.1, min=0.0, max=0.5, step=0.01, description="margin Δ", readout_format=".2f")
    out = _wire([margin], lambda: render_margin(margin.value, differences), caption_first=False)
    return w.VBox([margin, out])


def render_recommendations(indexes: dict[str, Any], titles: Sequence[str], item: str | int, *,
                           k: int = 10) -> tuple[Figure, str]:
    """The k nearest items to ``item`` (a title fragment or an id) from each of ``indexes`` (name →
    any :mod:`~pinsage_edu.knn` index, e.g. PinSage, Pixie-free content-only, …), side by side.

    Returns a bar chart of each method's scores and the lists as text columns; items that several
    methods recommend are marked with ``*``. ``KeyError`` names a title that matches nothing.
    """
    import matplotlib.pyplot as plt

    from .knn import recommend

    if not indexes:
        raise ValueError("give at least one index to compare")
    try:
        recs = {name: recommend(ix, item, k, titles=titles) for name, ix in indexes.items()}
    except ValueError as exc:
        raise KeyError(str(exc)) from None
    seen: dict[int, int] = {}
    for r in recs.values():
        for i in r.ids:
            seen[i] = seen.get(i, 0) + 1
    first = next(iter(recs.values()))
    width = 34
    lines = [f"nearest to {first.query_title} (item {first.query}); * = in more than one list",
             "  ".join(f"{name[:width]:<{width}}" for name in recs)]
    for row in range(k):
        cells = []
        for r in recs.values():
            if row < len(r.ids):
                mark = "*" if seen[r.ids[row]] > 1 else " "
                cells.append(f"{mark}{r.titles[row][:width - 8]:<{width - 8}} {r.scores[row]:6.3f}")
            else:
                cells.append(" " * width)
        lines.append("  ".join(cells))
    fig, axes = plt.subplots(1, len(recs), figsize=(4.2 * len(recs), 3.2), squeeze=False)
    for ax, (name, r) in zip(axes[0], recs.items()):
        ax.barh(range(len(r.scores))[::-1], r.scores, color=["C1" if seen[i] > 1 else "C0" for i in r.ids])
        ax.set_yticks(range(len(r.scores))[::-1], [t[:22] for t in r.titles], fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("score (cosine)")
    fig.tight_layout()
    plt.close(fig)
    return fig, "\n".join(lines)


def recommendation_browser(indexes: dict[str, Any], titles: Sequence[str], *, default: str | int = 0,
                           k: int = 10) -> Any:
    """A title box and a k slider over :func:`render_recommendations`."""
    import ipywidgets as w

    box = w.Text(value=str(default) if isinstance(default, str) else titles[int(default)], description="title")
    kk = w.IntSlider(value=k, min=1, max=20, description="k")
    out = _wire([box, kk], lambda: render_recommendations(indexes, titles, box.value, k=kk.value), caption_first=True)
    return w.VBox([w.HBox([box, kk]), out])
