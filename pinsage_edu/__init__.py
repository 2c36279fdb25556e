"""pinsage_edu: PinSage (Ying et al., KDD 2018), step by step.

Modules are named after the paper's ideas (the module map in the README), and import only
downward: ``utils`` (shared checks), ``graph`` (§3.1 the pins–boards graph), ``data`` (§4.1
containers, synthetic data, splits, related pairs), ``loaders`` (§4.1 file formats),
``features`` (§4.1 item features), ``walks`` (§3.2 importance neighbourhoods, PPR),
``convolve`` (§3.2 Algorithm 1), ``minibatch`` (§3.2 Algorithm 2), ``model`` (§3.2 PinSage),
``loss`` and ``negatives`` (§3.3), ``metrics`` (§4 hit-rate, MRR), ``train`` (§3.3 training at
scale, with ``checkpoint`` and ``distributed``), ``inference`` and ``knn`` (§3.4), ``baselines``
(§4 popularity, content, item-kNN, Pixie), ``evaluate`` (§4 experiments, Table 1), ``regimes``,
``viz`` (figures for the notebooks), ``widgets`` (explorers), ``exercises`` (checkers), ``cli``.
"""

from .baselines import pixie_recommend
from .convolve import Convolve
from .data import DataError, Dataset, Interactions, ItemTable, Split, split_interactions, synthetic_pins_boards
from .features import ItemFeatures, item_features
from .graph import BipartiteGraph, GraphError
from .loaders import dataset_path, load_dataset, load_goodbooks, load_interactions_csv, load_movielens
from .loss import max_margin_loss
from .minibatch import Blocks, NeighborhoodSampler, NeighborhoodTable, sample_blocks
from .model import PinSage, PinSageConfig
from .negatives import curriculum, hard_negatives, shared_negatives
from .train import TrainConfig, Trainer, train_pinsage
from .utils import seed_everything
from .walks import Neighborhoods, importance_neighborhoods, ppr_rank, random_walks, uniform_neighborhoods

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
    "Convolve",
    "Blocks",
    "NeighborhoodSampler",
    "NeighborhoodTable",
    "sample_blocks",
    "PinSage",
    "PinSageConfig",
    "max_margin_loss",
    "shared_negatives",
    "hard_negatives",
    "curriculum",
    "TrainConfig",
    "Trainer",
    "train_pinsage",
    "synthetic_pins_boards",
]
