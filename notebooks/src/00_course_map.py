# %% [markdown]
# # 00 · Course map: PinSage, step by step
#
# **PinSage** (Ying, He, Chen, Eksombatchai, Hamilton, Leskovec — *Graph Convolutional Neural Networks
# for Web-Scale Recommender Systems*, KDD 2018) is the graph convolutional network Pinterest deployed
# to recommend "related pins" over a graph of 3 billion nodes and 18 billion edges. This course rebuilds
# it piece by piece: each notebook takes one section of the paper, states what the paper claims, runs
# the library code that implements exactly that, and draws a picture of it.
#
# This first notebook is the map: what each notebook covers, how to run it small (in class) or at full
# size, and where the data comes from.

# %%
# NBVAL_IGNORE_OUTPUT
import os
import platform

import torch

import pinsage_edu
from pinsage_edu.loaders import SHIPPED, dataset_path
from pinsage_edu.utils import seed_everything

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__} · Python {platform.python_version()}"
      f" · CUDA available: {torch.cuda.is_available()}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
assert SIZE in ("classroom", "full")

# %% [markdown]
# ## Two sizes, one algorithm
#
# Every notebook reads `SIZE` in its second cell (tagged `parameters`, the papermill convention):
#
# * **classroom** (the default): small data and few epochs, so each notebook runs top to bottom in
#   about a minute on a laptop CPU. This is what the automated tests execute.
# * **full**: the same code on the full datasets (and, from notebook 07 on, real training runs). Start
#   JupyterLab with `PINSAGE_EDU_SIZE=full jupyter lab`, or (after `pip install papermill`) run
#   `papermill -p SIZE full in.ipynb out.ipynb`.
#
# The size shrinks data and epochs; it never swaps the algorithm.
#
# ## The notebooks, one per section of the paper
#
# | notebook | paper | what you will see |
# |---|---|---|
# | [01 · Problem setup](01_problem_setup.ipynb) | §3.1 | the pins–boards graph; MovieLens and goodbooks as pins and boards; degree distributions; one movie's two-hop neighbourhood; a synthetic graph whose topics we know |
# | [02 · Importance-based neighbourhoods](02_importance_neighborhoods.ipynb) | §3.2 | random walks, visit counts, the top-T neighbourhood and its weights; importance vs uniform neighbours; convergence to personalized PageRank; Pixie |
# | [03 · CONVOLVE](03_convolve.ipynb) | §3.2, Alg. 1 | the convolution by hand on a tiny graph; what each line does to the vectors; importance, mean and max pooling; the stacked model |
# | [04 · Minibatches](04_minibatch.ipynb) | §3.2, Alg. 2 | layered node sets for a batch, their overlap, re-indexing, how sizes grow with K and T |
# | [05 · Max-margin loss](05_margin_loss.ipynb) | §3.3 | the hinge and its margin, shared negatives, the share of active hinges and the score distributions during a training run |
# | [06 · Hard negatives and the curriculum](06_hard_negatives.ipynb) | §3.3 | PPR rank bands scaled to the catalogue, hard negatives, the curriculum schedule, training with and without them |
# | [07 · Training at scale](07_training_at_scale.ipynb) | §3.3, Table 3 | the producer–consumer timeline, warm-up and decay, a run with live curves, checkpoints and exact resume, DDP on two CPU processes, batch size vs time per iteration vs iterations |
# | [08 · Inference and serving](08_inference_and_serving.ipynb) | §3.4 | why Algorithm 2 per item recomputes (counted), layer-wise map / join / reduce embedding and its speed-up, sharded inference, exact vs LSH search (recall against time), a recommendation browser |
# | [09 · Experiments](09_experiments.ipynb) | §4, Tables 1, 3, 4, Fig. 4 | hit-rate and scaled MRR, Table 1 rebuilt on our data with every baseline and ablation, similarity distributions and kurtosis, the runtime tables, what is and isn't reproduced |
# | [10 · Scale up](10_scale_up.ipynb) | §3.3–3.4 | the same code on a 1M-item synthetic graph and the full goodbooks graph, one GPU, several GPUs, several machines, and what the paper did beyond one machine |

# %% [markdown]
# ## One paragraph per section
#
# **§3.1 Problem setup.** Pinterest's graph is bipartite: pins (items) are saved into boards
# (collections). Each pin also has content features — an image and text. The goal is one embedding per
# pin that uses both the features and the graph, so that its nearest neighbours are good
# recommendations. → *01*
#
# **§3.2 Importance-based neighbourhoods.** Instead of all k-hop neighbours (too many, all equal), a
# pin's neighbourhood is the T pins most often visited by short random walks from it, each weighted by
# its normalised visit count. → *02*
#
# **§3.2 CONVOLVE (Algorithm 1).** Transform each neighbour, pool them with the importance weights,
# concatenate with the node's own vector, transform, and L2-normalise. Stack K = 2 such layers and a
# small dense head. → *03*
#
# **§3.2 Minibatches (Algorithm 2).** For a batch of target pins, collect the pins each layer needs,
# bottom-up, re-index them, and compute only those. → *04*
#
# **§3.3 Max-margin loss.** Pull a pin towards a pin engaged with right after it; push it away from
# negatives by at least a margin. → *05*
#
# **§3.3 Shared and hard negatives, curriculum.** 500 random negatives shared by a whole batch, plus
# "hard" negatives from ranks 2000–5000 of personalized PageRank, added one more per epoch. → *06*
#
# **§3.3 Producer–consumer and multi-GPU training.** CPUs sample the next batch while GPUs compute the
# current one; batches are split across GPUs with synchronous updates. → *07*
#
# **§3.4 MapReduce inference and nearest neighbours.** Embed every pin layer by layer so that each
# vector is computed once; serve recommendations by (approximate) nearest-neighbour search. → *08*
#
# **§4 Experiments.** Hit-rate and scaled MRR against content-only and graph baselines, the ablations,
# the embedding similarity distribution, and the runtime trade-offs. → *09*, *10*

# %% [markdown]
# ## The data
#
# Two real datasets ship with the course (see `datasets/README.md` for their licences), and a
# generator makes synthetic pins–boards graphs of any size. Nothing is downloaded when a notebook
# runs. The cell below checks that the shipped data is where the library looks for it.

# %%
# NBVAL_CHECK_OUTPUT
for name in SHIPPED:
    folder = dataset_path(name)
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    licence = [f for f in files if f in ("LICENSE", "README.txt")]
    print(f"{name:16s} {len(files)} files, licence kept in {licence}")
    assert licence and (folder / "SOURCE.md").exists(), f"{name}: licence or SOURCE.md missing"

# %% [markdown]
# ## How to run
#
# From the repository root:
#
# ```
# python3 tasks.py run    # set up .venv from nothing, run the main job
# python3 tasks.py test   # set up the same way, run every test and every notebook (classroom size)
# python3 tasks.py lab    # JupyterLab on notebooks/
# ```
#
# Each notebook ends with **What Pinterest did at web scale** (how the paper's system differs from
# what fits on a laptop) and **Exercises** (some with checkers that tell you what is wrong).
