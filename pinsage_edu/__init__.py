"""pinsage_edu: PinSage (Ying et al., KDD 2018), step by step.

Modules are named after the paper's ideas (see ARCHITECTURE in the README):
``graph`` (§3.1 the pins–boards graph), ``data`` (§4.1 datasets, splits, related pairs),
``features`` (§4.1 item features), ``walks`` (§3.2 importance neighbourhoods, PPR, Pixie),
``viz`` (figures for the notebooks), ``widgets`` (explorers), ``exercises`` (checkers).
"""

from .data import (
    DataError,
    Dataset,
    Interactions,
    ItemTable,
    Split,
    dataset_path,
    load_dataset,
    load_goodbooks,
    load_interactions_csv,
    load_movielens,
    split_interactions,
    synthetic_pins_boards,
)
from .features import ItemFeatures, item_features
from .graph import BipartiteGraph, GraphError
from .utils import seed_everything
from .walks import (
    Neighborhoods,
    importance_neighborhoods,
    pixie_recommend,
    ppr_rank,
    random_walks,
    uniform_neighborhoods,
)

__version__ = "0.1.0"

__all__ = [
    "BipartiteGraph",
    "GraphError",
    "DataError",
    "Dataset",
    "Interactions",
    "ItemTable",
    "Split",
    "ItemFeatures",
    "dataset_path",
    "item_features",
    "load_dataset",
    "load_goodbooks",
    "load_interactions_csv",
    "load_movielens",
    "seed_everything",
    "Neighborhoods",
    "importance_neighborhoods",
    "uniform_neighborhoods",
    "random_walks",
    "ppr_rank",
    "pixie_recommend",
    "split_interactions",
    "synthetic_pins_boards",
]
