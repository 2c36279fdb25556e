# %% [markdown]
# # 00 · Course map: PinSage, step by step
#
# **PinSage** (Ying, He, Chen, Eksombatchai, Hamilton, Leskovec — *Graph Convolutional Neural Networks
# for Web-Scale Recommender Systems*, KDD 2018) is the graph convolutional network Pinterest deployed
# to recommend "related pins" over a graph of billions of pins and boards. This course rebuilds it
# piece by piece: each notebook takes one section of the paper, states what the paper claims, runs the
# library code that implements exactly that, and draws a picture of it.
#
# This notebook is the map, written for whoever plans a class and for a student finding their way:
#
# * **the notebooks** — what each covers, what it needs first, what you can do after it, how long it
#   takes to study;
# * **three paths** through them — a 90-minute demo, a two-week module with homework, self-study;
# * **the two sizes** — what `PINSAGE_EDU_SIZE=classroom|full` changes, and how long each notebook runs
#   and how much memory it takes;
# * **[notation and a glossary](#Notation-and-glossary)** — one meaning per symbol, the paper's overloaded
#   ones resolved;
# * **the data**, and the commands to run everything.

# %% tags=["nbval-ignore-output"]
import ast
import hashlib
import json
import os
import platform
import re
from pathlib import Path

import torch
from IPython.display import display

import pinsage_edu
from pinsage_edu.evaluate import PAPER, PAPER_MAX_HARD
from pinsage_edu.loaders import SHIPPED, dataset_path
from pinsage_edu.metrics import mrr_scale
from pinsage_edu.model import PinSageConfig
from pinsage_edu.negatives import PAPER_BAND, PAPER_CATALOGUE, curriculum_schedule
from pinsage_edu.train import TrainConfig
from pinsage_edu.utils import seed_everything

seed_everything(0)
print(f"pinsage_edu {pinsage_edu.__version__} · torch {torch.__version__} · Python {platform.python_version()}"
      f" · CUDA available: {torch.cuda.is_available()}")

# %% tags=["parameters"]
SIZE = os.environ.get("PINSAGE_EDU_SIZE", "classroom")
assert SIZE in ("classroom", "full")
# The repository this notebook belongs to: the other notebooks' sources and the measured run times live
# there (found through the library, whatever folder the kernel starts in).
ROOT = Path(pinsage_edu.__file__).resolve().parent.parent

# %% [markdown]
# ## The notebooks
#
# | notebook | paper | what you will see |
# |---|---|---|
# | [01 · Problem setup](01_problem_setup.ipynb) | §3.1 | the pins–boards graph; MovieLens and goodbooks as pins and boards; CSR storage; degree distributions; one movie's two-hop neighbourhood; labelled pairs and a leak-free split; a synthetic graph whose topics we know |
# | [01b · GNN on-ramp](01b_gnn_on_ramp.ipynb) | abstract, §1–§2, §3.2 line 3 | full-batch GCN and its memory; GraphSAGE's sampling; GAT's learned attention against PinSage's walk-derived weights α; L2 normalisation against LayerNorm; the retrieval → ranking → A/B funnel; a reading of the abstract |
# | [02 · Importance-based neighbourhoods](02_importance_neighborhoods.ipynb) | §3.2 | random walks, visit counts, the top-T neighbourhood and its weights α; importance against uniform neighbours; convergence to personalized PageRank; Pixie |
# | [03 · CONVOLVE](03_convolve.ipynb) | §3.2, Alg. 1 | the convolution by hand on a tiny graph; what each line does to the vectors; importance, mean and max pooling; the stacked model |
# | [04 · Minibatches](04_minibatch.ipynb) | §3.2, Alg. 2 | layered node sets for a minibatch, their overlap, re-indexing, how sizes grow with K and T |
# | [05 · Max-margin loss](05_margin_loss.ipynb) | §3.3 | the hinge and its margin Δ, shared negatives, the share of active hinges and the score distributions during a training run, the cross-entropy ablation |
# | [06 · Hard negatives and the curriculum](06_hard_negatives.ipynb) | §3.3 | PPR rank bands scaled to the catalogue, hard negatives, the curriculum schedule, training with and without them |
# | [07 · Training at scale](07_training_at_scale.ipynb) | §3.3, §4.5 (Table 3) | the producer–consumer timeline, warm-up and decay, a run with live curves, checkpoints and exact resume, DDP on two CPU processes, batch size against time per iteration against iterations |
# | [08 · Inference and serving](08_inference_and_serving.ipynb) | §3.4, §3.5 | why Algorithm 2 per item recomputes (counted), layer-wise map / join / reduce inference and its speed-up, sharded inference, exact search against LSH (recall against work and time), a recommendation browser |
# | [09 · Experiments](09_experiments.ipynb) | §4.1, §4.2 (Table 1, Fig. 4), §4.5 (Tables 3, 4) | hit-rate and scaled MRR, PinSage against every baseline on real data, inductive against transductive, similarity distributions and kurtosis, the runtime tables, Table 1 rebuilt on synthetic data, what is and isn't reproduced |
# | [10 · Scale up](10_scale_up.ipynb) | §3.3–§3.5 | the same code on growing synthetic graphs (a million pins at full size) and the full goodbooks graph, memory-mapped graphs, one GPU / several GPUs / several machines, sharded inference for real |
#
# 01b, the GNN on-ramp, is for students who have not met graph neural networks before; it sits between
# the problem setup and the first PinSage-specific notebook.

# %% [markdown]
# ## Prerequisites, learning objectives and study time
#
# One row per notebook. **Study time** is an estimate for a student working alone: reading, running
# every cell, and the exercise with a checker; the open exercises come on top (the two-week module
# below budgets them as homework). These are planning figures, kept in the dictionary below so that
# every table of this notebook adds them up the same way.

# %% tags=["nbval-check-output"]
class Md:
    """A Markdown table for the notebook view, the same text as plain text (a terminal, a diff)."""

    def __init__(self, text: str):
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text


def table(header: list[str], rows: list[list]) -> Md:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    cell = lambda c: str(c).replace("|", "\\|")  # noqa: E731  (a "|" inside a cell would end it)
    return Md("\n".join(lines + ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]))


# Planning figures: prerequisites, what a student can do afterwards, and study minutes per notebook.
COURSE = {
    "00_course_map": dict(
        title="Course map", minutes=15,
        needs=["nothing"],
        can=["choose a path through the course and a size to run it at",
             "look up any symbol or term in the notation table and the glossary"]),
    "01_problem_setup": dict(
        title="Problem setup", minutes=45,
        needs=["Python and PyTorch tensors (indexing, `bincount`, `cumsum`)", "what a graph and a node's degree are"],
        can=["describe Pinterest's pins and boards as a bipartite item–collection graph, and map MovieLens and goodbooks onto it",
             "build and read a CSR row pointer, in both directions (the checked exercise)",
             "explain from degree plots and two-hop reach why a node's full neighbourhood is too big and too blurry",
             "cut labelled pairs (q, i) with a temporal split that leaks no held-out edge into the train graph"]),
    "01b_gnn_on_ramp": dict(
        title="GNN on-ramp", minutes=75,
        needs=["deep learning basics: an MLP, ReLU, softmax, a training loop", "matrix products; bytes per float"],
        can=["write a graph convolution from scratch, train the full-batch GCN, and count the bytes that rule it out at web scale",
             "sample GraphSAGE's fixed-size computation trees, and contrast GAT's learned attention with PinSage's walk-derived weights α",
             "say what L2 normalisation does that LayerNorm does not, and why nearest-neighbour search needs it",
             "place PinSage in the retrieval → ranking → A/B funnel, and read the paper's abstract as an argument"]),
    "02_importance_neighborhoods": dict(
        title="Importance-based neighbourhoods", minutes=60,
        needs=["01 (collections, CSR, the train graph)", "01b or GraphSAGE's neighbour sampling", "random walks, informally"],
        can=["run random walks item → collection → item and count visits, by hand and with the library",
             "turn visit counts into a top-T neighbourhood with importance weights α, ties broken at random (the checked exercise)",
             "show with two measurements why importance neighbours beat uniform ones, and how visit frequencies converge to personalized PageRank",
             "run Pixie and score it with hit-rate@10 against popularity"]),
    "03_convolve": dict(
        title="CONVOLVE (Algorithm 1)", minutes=60,
        needs=["02 (N(u), α)", "`nn.Linear`, ReLU, vector norms and cosines"],
        can=["compute the three lines of CONVOLVE by hand and match the library's `Convolve` both ways",
             "explain why line 1's h_v must be z_v",
             "write γ three ways — importance, mean, max — and CONVOLVE in full (two checked exercises), and compare the poolings",
             "stack K layers and the dense head into the PinSage model and count its parameters"]),
    "04_minibatch": dict(
        title="Minibatches (Algorithm 2)", minutes=60,
        needs=["03 (`forward_indexed`)", "02 (the neighbourhood table)", "`torch.sort` and `torch.searchsorted`"],
        can=["build Algorithm 2's node sets S⁽ᴷ⁾ ⊆ … ⊆ S⁽⁰⁾ for a minibatch, by hand and with `sample_blocks`",
             "re-index global ids into local rows, and write Algorithm 2's sampling half for the model (two checked exercises)",
             "predict and measure how |S⁽⁰⁾| grows with K and T, and what de-duplication saves",
             "explain why embedding every item minibatch by minibatch recomputes (the reason for §3.4)"]),
    "05_margin_loss": dict(
        title="Max-margin loss, shared negatives", minutes=60,
        needs=["03 and 04 (embeddings of a minibatch)", "hinge losses; Adam"],
        can=["state the max-margin loss with margin Δ and say which hinges carry a gradient",
             "write the loss with n_neg negatives shared by the whole minibatch, masks included (the checked exercise), and say what sharing saves",
             "train a classroom PinSage and read its loss, active hinges, score distributions and validation hit-rate@10",
             "explain why uniform negatives stop teaching, and how the cross-entropy ablation spreads its gradient"]),
    "06_hard_negatives": dict(
        title="Hard negatives, curriculum", minutes=60,
        needs=["05", "02 (personalized PageRank)", "standard error of a proportion"],
        can=["rank a catalogue by personalized PageRank and say what lies in the hard-negative band",
             "rescale the paper's band to a small catalogue, and say why neither keeping it nor scaling it in proportion works",
             "draw n_hard hard negatives for a minibatch of queries, band and known positives handled (the checked exercise)",
             "apply the curriculum, and judge a with/without comparison against its standard error"]),
    "07_training_at_scale": dict(
        title="Training at scale", minutes=75,
        needs=["05 and 06 (`train_pinsage`)", "processes and threads; a `DataLoader`", "learning-rate schedules"],
        can=["write one training step — sample, forward, loss, backward, step — and read a producer–consumer timeline",
             "write the warm-up-and-decay schedule and a DDP rank's share of a minibatch (with the step: three checked exercises)",
             "stop a run and resume it exactly from its checkpoint",
             "measure the batch-size trade-off of Table 3: time per iteration against iterations to a target"]),
    "08_inference_and_serving": dict(
        title="Inference and serving", minutes=75,
        needs=["03 and 04", "07 (a trained model, `torchrun`)", "hashing; cosine geometry"],
        can=["count what Algorithm 2 recomputes, and write the layer-wise map / join / reduce job in chunks (checked)",
             "shard inference over `torchrun` ranks and store embeddings with item ids and a model hash",
             "compute LSH codes by hand (checked) and trade recall against candidates and time",
             "say when exact search beats LSH, and why crowded embeddings make big buckets"]),
    "09_experiments": dict(
        title="Experiments", minutes=90,
        needs=["05–08", "paired comparisons and their standard errors"],
        can=["compute hit-rate@k and scaled MRR by hand (the checked exercise) and compare methods with paired standard errors",
             "judge whether PinSage beats item-kNN CF, Pixie and content-only baselines on MovieLens and goodbooks",
             "tell an inductive model from a transductive one by what it does with a held-out item",
             "rebuild Table 1's ablation ladder on synthetic data and read the regime map"]),
    "10_scale_up": dict(
        title="Scale up", minutes=60,
        needs=["07 and 08", "a shell; `torchrun`", "memory in GiB per item"],
        can=["time and size every pipeline stage as the graph grows, and show inference time linear in the catalogue",
             "open a graph larger than memory, memory-mapped",
             "compute a rank's shard of the items (the checked exercise) and run sharded inference on two processes",
             "give the commands that run the same code on one GPU, several GPUs and several machines"]),
}
ORDER = list(COURSE)
assert all(2 <= len(nb["can"]) <= 4 for nb in COURSE.values())

rows = []
for name in ORDER:
    nb = COURSE[name]
    number = name.split("_")[0]
    rows.append([f"[{number} · {nb['title']}]({name}.ipynb)", "; ".join(nb["needs"]),
                 "<br>".join(f"• {c}" for c in nb["can"]), f"{nb['minutes']} min"])
total = sum(nb["minutes"] for nb in COURSE.values())
rows.append(["**all notebooks**", "", "", f"**{total} min ≈ {total / 60:.1f} h**"])
display(table(["notebook", "needs first", "after it you can …", "study time"], rows))

# %% [markdown]
# ## Three paths through the course
#
# The cells below plan each path from the study times above and the measured run times further down,
# and check the plan against the notebooks: every exercise named as homework exists in its notebook,
# and every exercise with a checker is assigned.
#
# ### A 90-minute demo
#
# For a lecture or a seminar that meets PinSage once. **Live** means running the named cells in front of
# the class; the other segments are shown from the stored outputs (the notebooks on GitHub hold the
# executed classroom run) or from the notebook's slide deck (`python3 tasks.py slides`), which also
# suits a projector without a Python environment.

# %% tags=["nbval-check-output"]
# (minutes, notebook, sections to show, what to say, run live?)
DEMO = [
    (5, "00_course_map", "The notebooks; Notation and glossary", "the problem in one breath; the symbols K, T, α, Δ", False),
    (10, "01b_gnn_on_ramp", "8 · Reading the abstract; 2 · Why full-batch GCN cannot run at web scale; 7 · the funnel",
     "the paper's argument, and why a web-scale recommender cannot run a full-batch GCN", False),
    (5, "01_problem_setup", "Two hops reach most of the catalogue", "two hops from one popular movie: slow and blurry", True),
    (15, "02_importance_neighborhoods", "Random walks; The top-T cut and α; Importance vs uniform; Pixie",
     "walks choose and weight the neighbours; Pixie is the walks alone", True),
    (15, "03_convolve", "Algorithm 1 by hand; Importance vs mean vs max pooling", "the three lines, one number followed through", True),
    (5, "04_minibatch", "the node-set drawing; How the sets grow with K and T", "what a minibatch computes, and why it stays small", False),
    (15, "05_margin_loss", "The max-margin loss; Shared negatives; Training with uniform, shared negatives",
     "the hinge, what 500 shared negatives save, and how random negatives stop teaching", True),
    (5, "06_hard_negatives", "One query's PPR ranking; The curriculum", "hard negatives from a PPR band, added one per epoch", False),
    (10, "08_inference_and_serving", "The layer-wise job; Nearest neighbours: exact search and LSH; Recommendations",
     "each vector computed once; LSH trades recall for work", False),
    (5, "09_experiments", "Does PinSage earn its place? Real data first", "the honest scoreboard against item-kNN CF and Pixie", False),
]
DEMO_MINUTES = 90
assert sum(d[0] for d in DEMO) == DEMO_MINUTES
assert all(d[1] in COURSE for d in DEMO)

start, rows = 0, []
for minutes, name, sections, say, live in DEMO:
    rows.append([f"{start}–{start + minutes}", name.split("_")[0], sections, say, "live" if live else "stored outputs"])
    start += minutes
display(table(["minutes", "notebook", "sections", "the point to make", "how"], rows))
print(f"{len(DEMO)} segments, {start} minutes; run live: "
      f"{', '.join(d[1].split('_')[0] for d in DEMO if d[4])}")

# %% [markdown]
# ### A two-week module
#
# Six sessions of 90 minutes, three a week, each followed by homework. "Ex n" is exercise n of that
# notebook's **Exercises** section; ✓ marks an exercise with a checker, which tells the student what is
# wrong and prints "not attempted" until they try; the solutions are in the instructor edition
# (`python3 tasks.py instructor`). The last session also offers a choice of a final project. A notebook that runs for more than a minute in classroom size (the run-time table below) is
# best started at the beginning of its session, or before it.

# %% tags=["nbval-check-output"]
SESSION_MINUTES = 90
# session: (week, [(notebook, minutes in class, what)], homework [(notebook, exercise number or None, checker?)])
MODULE = {
    1: (1, [("00_course_map", 10, "the map, notation"), ("01_problem_setup", 35, "graph, CSR, split"),
            ("01b_gnn_on_ramp", 45, "GCN, GraphSAGE, GAT, α; the funnel")],
        [("01_problem_setup", 1, True), ("01_problem_setup", 2, False), ("01b_gnn_on_ramp", 1, False),
         ("01b_gnn_on_ramp", 5, False)]),
    2: (1, [("02_importance_neighborhoods", 45, "walks, top-T, α, PPR, Pixie"), ("03_convolve", 45, "CONVOLVE, pooling, stacking")],
        [("02_importance_neighborhoods", 1, True), ("02_importance_neighborhoods", 4, False),
         ("03_convolve", 1, True), ("03_convolve", 2, True), ("03_convolve", 3, False)]),
    3: (1, [("04_minibatch", 40, "Algorithm 2, re-indexing, growth"), ("05_margin_loss", 50, "hinge, shared negatives, a first training run")],
        [("04_minibatch", 1, True), ("04_minibatch", 2, True), ("04_minibatch", 4, False), ("05_margin_loss", 1, True),
         ("05_margin_loss", 2, False)]),
    4: (2, [("06_hard_negatives", 45, "PPR band, curriculum"), ("07_training_at_scale", 45, "producer–consumer, one training step, warm-up and decay")],
        [("06_hard_negatives", 1, True), ("06_hard_negatives", 2, False), ("07_training_at_scale", 1, True),
         ("07_training_at_scale", 2, True)]),
    5: (2, [("07_training_at_scale", 40, "live curves, resume, DDP, Table 3"), ("08_inference_and_serving", 50, "MapReduce inference, LSH")],
        [("07_training_at_scale", 3, True), ("07_training_at_scale", 4, False), ("08_inference_and_serving", 1, True),
         ("08_inference_and_serving", 2, True), ("08_inference_and_serving", 4, False)]),
    6: (2, [("09_experiments", 55, "metrics, baselines, Table 1, regime map"), ("10_scale_up", 35, "full size, several GPUs and machines")],
        [("09_experiments", 1, True), ("09_experiments", 2, False), ("10_scale_up", 1, True)]),
}
FINAL_PROJECT = [("09_experiments", 3), ("09_experiments", 4), ("10_scale_up", 2)]  # one of these, to hand in


def exercise_numbers(name: str) -> set[int]:
    """The exercise numbers a notebook's source defines: its "### Exercise n" headings and the numbered
    items of its "## Exercises" list."""
    text = (ROOT / "notebooks" / "src" / f"{name}.py").read_text()
    numbers = {int(n) for n in re.findall(r"^# ### Exercise (\d+)", text, flags=re.M)}
    tail = text.split("\n# ## Exercises\n", 1)[-1]
    return numbers | {int(n) for n in re.findall(r"^# (\d+)\. ", tail, flags=re.M)}


def checkers(name: str) -> int:
    """How many exercises of a notebook have a checker (calls of ``exercises.check_...`` and the like)."""
    return len(re.findall(r"^\w*exercises\w*\.check_\w+\(", (ROOT / "notebooks" / "src" / f"{name}.py").read_text(), flags=re.M))


assert len(MODULE) == 6 and {w for w, _, _ in MODULE.values()} == {1, 2}  # six sessions in two weeks…
assert all(sum(1 for w, _, _ in MODULE.values() if w == week) == 3 for week in (1, 2))  # …three a week
assert all(sum(m for _, m, _ in plan) == SESSION_MINUTES for _, plan, _ in MODULE.values())
assert {n for _, plan, _ in MODULE.values() for n, _, _ in plan} == set(ORDER)  # every notebook is taught
written = {name for name in ORDER if (ROOT / "notebooks" / "src" / f"{name}.py").exists()}
homework = [h for _, _, hw in MODULE.values() for h in hw]
for name, n, _ in homework + [(nb, n, False) for nb, n in FINAL_PROJECT]:
    if name in written and n is not None:
        assert n in exercise_numbers(name), f"{name} has no exercise {n}"
open_ended = {nb for nb, n, _ in homework if n is None}  # "its exercises": not numbered yet
for name in written - open_ended:  # every exercise with a checker is homework
    assert checkers(name) == sum(1 for nb, n, checked in homework if nb == name and checked), name

rows = []
for session, (week, plan, hw) in MODULE.items():
    taught = "<br>".join(f"{n.split('_')[0]} ({m} min): {what}" for n, m, what in plan)
    tasks = ", ".join(f"{n.split('_')[0]} " + ("its exercises" if e is None else f"Ex {e}" + (" ✓" if c else ""))
                      for n, e, c in hw)
    rows.append([f"week {week}, session {session}", taught, tasks])
display(table(["when", "in class", "homework"], rows))
print("final project, one of: " + ", ".join(f"{n.split('_')[0]} Ex {e}" for n, e in FINAL_PROJECT))

# %% [markdown]
# ### Self-study
#
# In order, one notebook at a time; each checked exercise is the gate to the next notebook. Skip 01b if
# you already know GCN, GraphSAGE and GAT. Two shorter tracks for readers with one question in mind:
# the **modelling** track (how the embedding is built and judged) and the **systems** track (how it
# is trained and served at scale).

# %% tags=["nbval-check-output"]
TRACKS = {
    "modelling": ["00_course_map", "01_problem_setup", "02_importance_neighborhoods", "03_convolve",
                  "05_margin_loss", "06_hard_negatives", "09_experiments"],
    "systems": ["00_course_map", "01_problem_setup", "02_importance_neighborhoods", "04_minibatch",
                "07_training_at_scale", "08_inference_and_serving", "10_scale_up"],
}
rows, elapsed = [], 0
for name in ORDER:
    elapsed += COURSE[name]["minutes"]
    gate = {0: "—", 1: "its checked exercise"}.get(checkers(name), f"its {checkers(name)} checked exercises") \
        if name in written else "its exercises"
    rows.append([name.split("_")[0], COURSE[name]["title"], f"{COURSE[name]['minutes']} min", f"{elapsed / 60:.1f} h", gate])
display(table(["step", "notebook", "study time", "done after", "before moving on, pass"], rows))
for track, names in TRACKS.items():
    assert set(names) <= set(ORDER) and names == sorted(names, key=ORDER.index)
    print(f"{track} track ({sum(COURSE[n]['minutes'] for n in names) / 60:.1f} h): "
          + " → ".join(n.split("_")[0] for n in names))

# %% [markdown]
# ## One paragraph per section of the paper
#
# **§3.1 Problem setup.** Pinterest's graph is bipartite: pins (items) are saved into boards
# (collections). Each pin also has content features — an image and text. The goal is one embedding per
# pin that uses both the features and the graph, so that its nearest neighbours are good
# recommendations, or good candidates for a downstream ranker. → *01*, *01b*
#
# **§3.2 Importance-based neighbourhoods.** Instead of all neighbours within a few hops (too many, all
# equal), a pin's neighbourhood N(u) is the T pins most often visited by short random walks from it,
# each weighted by its normalised visit count α. → *02*
#
# **§3.2 CONVOLVE (Algorithm 1).** Transform each neighbour, pool them with the importance weights,
# concatenate with the node's own vector, transform, and L2-normalise. Stack K such layers and a small
# dense head. → *03*
#
# **§3.2 Minibatches (Algorithm 2).** For a minibatch of target pins, collect the pins each layer
# needs, top-down, re-index them, and compute only those, bottom-up. → *04*
#
# **§3.3 Max-margin loss.** Pull a pin towards a pin engaged with right after it; push it away from
# negatives by at least a margin Δ. → *05*
#
# **§3.3 Shared and hard negatives, curriculum.** n_neg random negatives shared by a whole minibatch,
# plus n_hard "hard" negatives per query from a band of personalized-PageRank ranks, one more per epoch.
# → *06*
#
# **§3.3 Producer–consumer and multi-GPU training.** CPUs build the next minibatch while GPUs compute the
# current one; each minibatch is split across GPUs and their gradients averaged for one synchronous step.
# → *07*
#
# **§3.4 MapReduce inference.** Embed every pin layer by layer so that each vector is computed once.
# **§3.5 Nearest-neighbour lookups.** Serve recommendations as the top-k nearest neighbours, found
# approximately with locality-sensitive hashing. → *08*, *10*
#
# **§4 Experiments.** §4.1 the setup (features, baselines, the ablation variants); §4.2 the offline
# evaluation — hit-rate and scaled MRR (Table 1) and the embedding similarity distribution (Figure 4);
# §4.3 the user study (Table 2); §4.4 the production A/B test; §4.5 the runtime analysis (Tables 3
# and 4). → *09* (and *07* for Table 3)
#
# The paper's constants quoted on this page, checked against the library's copies of them:

# %% tags=["nbval-check-output"]
paper_model = PinSageConfig.paper(4096 + 256 + 1)  # §4.1: visual + text features + log degree
train_defaults = TrainConfig()
constants = {
    "K (convolution layers)": paper_model.num_layers,
    "T (neighbourhood size)": paper_model.num_neighbors,
    "m (hidden width)": paper_model.hidden_dim,
    "d (embedding width)": paper_model.embed_dim,
    "n_neg (shared negatives per minibatch)": train_defaults.num_shared_negatives,
    "hard-negative band (PPR ranks)": f"{PAPER_BAND[0]}–{PAPER_BAND[1]} of ~{PAPER_CATALOGUE / 1e9:.0f}·10⁹ pins",
    "n_hard at the end of the curriculum": PAPER_MAX_HARD,
    "curriculum, epochs 1–8": curriculum_schedule(8, max_hard=PAPER_MAX_HARD),
    "k of the hit-rate (§4.2)": 500,
    "candidates per query (§4.2), MRR rank divisor": f"~5·10⁶, {mrr_scale(5_000_000)}",
    "batch sizes of Table 3": list(PAPER["table3"]),
}
for what, value in constants.items():
    print(f"{what:<46} {value}")
assert (paper_model.num_layers, paper_model.num_neighbors, paper_model.hidden_dim, paper_model.embed_dim) == (2, 50, 2048, 1024)
assert train_defaults.num_shared_negatives == 500 and PAPER_BAND == (2000, 5000) and PAPER_MAX_HARD == 6
assert mrr_scale(5_000_000) == 100 and curriculum_schedule(8, max_hard=6) == [0, 1, 2, 3, 4, 5, 6, 6]

# %% [markdown]
# ## Two sizes, one algorithm
#
# Every notebook reads `SIZE` in its second cell (tagged `parameters`, the papermill convention) and
# picks its settings from a `PRESET` dictionary there:
#
# * **classroom** (the default) — each notebook runs top to bottom on a laptop CPU (the run times are
#   below);
# * **full** — the same code with more epochs, steps, walks and evaluation pairs, and bigger synthetic
#   graphs.
#
# The shipped datasets (MovieLens `ml-latest-small` and goodbooks-10k) are loaded **whole in both
# sizes**: classroom size does not cut the catalogue, the graph or the split. What it shrinks is how
# long models train (epochs, steps, the pairs a sweep reads), how many walks and queries are drawn, how
# many held-out pairs an evaluation reads (a seeded sample where `eval_pairs` is set), the size of the
# *synthetic* graphs, and which stages run on the full goodbooks graph (10: `goodbooks_pipeline`); it
# also computes with one torch thread where a notebook says so (`threads=1`; full size keeps torch's
# default, one per core).
# The size never swaps the algorithm; where a notebook's classroom run leaves something out (07 and 08
# train without hard negatives), it says so where it happens. The table is read from the notebooks' own
# parameter cells, so it shows exactly what they do now.

# %%
def size_presets(name: str) -> dict[str, dict[str, str]] | None:
    """``{"classroom": {setting: source text}, "full": {...}}`` from a notebook's ``NAME = {...}[SIZE]``."""
    path = ROOT / "notebooks" / "src" / f"{name}.py"
    if not path.exists():
        return None
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Dict)
                and isinstance(node.slice, ast.Name) and node.slice.id == "SIZE"):
            return {key.value: {kw.arg: ast.get_source_segment(source, kw.value) for kw in call.keywords}
                    for key, call in zip(node.value.keys, node.value.values)}
    return {}


rows, presets = [], {}
for name in ORDER:
    presets[name] = p = size_presets(name)
    if p is None:
        rows.append([name.split("_")[0], "(not written yet)", "", ""])
    elif not p:
        rows.append([name.split("_")[0], "no size preset: both sizes run the same", "", ""])
    else:
        assert set(p) == {"classroom", "full"} and set(p["classroom"]) == set(p["full"]), name
        changed = [k for k in p["classroom"] if p["classroom"][k] != p["full"][k]]
        for i, k in enumerate(changed):
            rows.append([name.split("_")[0] if i == 0 else "", f"`{k}`", f"`{p['classroom'][k]}`", f"`{p['full'][k]}`"])
display(table(["notebook", "setting", "classroom", "full"], rows))
no_hard = {n.split("_")[0] for n, p in presets.items() if p and p["classroom"].get("max_hard_negatives") == "0"}
assert no_hard == {"07", "08"}, no_hard  # the classroom runs without hard negatives, as the text above says

# %% [markdown]
# To open the notebooks at full size, start JupyterLab with the variable set (from the repository root;
# `tasks.py` sets up `.venv` first if needed):
#
# ```bash
# PINSAGE_EDU_SIZE=full python3 tasks.py lab
# ```
#
# To run one notebook at full size without opening it, execute a copy (the stored classroom outputs of
# the notebook itself stay as they are):
#
# ```bash
# PINSAGE_EDU_SIZE=full .venv/bin/jupyter nbconvert --to notebook --execute --output-dir /tmp/full notebooks/10_scale_up.ipynb
# ```
#
# With papermill (`.venv/bin/pip install papermill`), set the size the same way —
# `PINSAGE_EDU_SIZE=full .venv/bin/papermill notebooks/NN_name.ipynb out.ipynb` — rather than with
# `-p SIZE full`: papermill's injected cell comes *after* the parameters cell, whose `PRESET` has then
# already been chosen for classroom size.
#
# ## Run time and memory
#
# How long each notebook takes to execute top to bottom in classroom size, as committed (the exercises
# not yet filled in: a solved exercise adds its own run), and the largest memory any one of its
# processes held (in practice the notebook's kernel), measured one notebook at a time. The
# figures are read from `benchmarks/results/notebook_times.json`, which records when, where and with
# which command they were measured. Full-size figures appear only where a run was recorded; the others
# were never measured.

# %%
times = json.loads((ROOT / "benchmarks" / "results" / "notebook_times.json").read_text())
room, full = times["classroom"], times["full"]


def mib(value: float | None) -> str:
    return "not measured" if value is None else (f"{value / 1024:.1f} GiB" if value >= 1024 else f"{value:.0f} MiB")


def code_sha256(name: str) -> str | None:
    """A fingerprint of a notebook's code cells, as the measurement recorded it: a figure measured on other
    code is marked instead of passed off as current."""
    path = ROOT / "notebooks" / f"{name}.ipynb"
    if not path.exists():
        return None
    source = lambda c: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]  # noqa: E731
    code = "\n# %%\n".join(source(c) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
    return hashlib.sha256(code.encode()).hexdigest()[:16]


rows, changed = [], []
for name in ORDER:
    r, f = room.get(name), full.get(name, {})
    measured = r is not None and r.get("wall_s") is not None
    if measured and r["code_sha256"] != code_sha256(name):
        changed.append(name.split("_")[0])
    rows.append([name.split("_")[0],
                 (f"{r['wall_s']:.0f} s" + (" *" if name.split("_")[0] in changed else "")) if measured else "not measured",
                 mib(r["peak_rss_mib"]) if measured else "not measured",
                 f"{r['slowest_cell_s']:.0f} s" if measured else "",
                 f.get("wall", "not measured"), f.get("peak", "not measured")])
display(table(["notebook", "classroom: run time", "classroom: peak memory", "slowest cell",
               "full: run time", "full: peak memory"], rows))
done = [n for n in ORDER if room.get(n, {}).get("wall_s") is not None]
slowest = max(done, key=lambda n: room[n]["wall_s"])
print(f"measured {times['date']} on {times['machine']['description']}")
print(f"classroom, all {len(done)} measured notebooks one after the other: {sum(room[n]['wall_s'] for n in done) / 60:.1f} min; "
      f"slowest {slowest.split('_')[0]} ({room[slowest]['wall_s']:.0f} s); largest memory "
      f"{mib(max(room[n]['peak_rss_mib'] for n in done))}")
print("over a minute in classroom size (start these early in a session): "
      + ", ".join(n.split("_")[0] for n in done if room[n]["wall_s"] > 60))
print("not measured in classroom size: " + (", ".join(n.split("_")[0] for n in ORDER if n not in done) or "none"))
if changed:
    print(f"* the code of {', '.join(changed)} changed after it was measured: its figures are out of date")
for name, f in full.items():
    print(f"full size, {name.split('_')[0]}: {f['wall']}, {f['peak']} — {f['source']}")
live = [d[1] for d in DEMO if d[4]]
print("the demo's live notebooks, in classroom size: "
      + ", ".join(f"{n.split('_')[0]} {room[n]['wall_s']:.0f} s" if n in done else f"{n.split('_')[0]} not measured" for n in live))
assert all(room[n]["wall_s"] <= 60 for n in live if n in done)  # each runs top to bottom in a minute or less

# %% [markdown]
# ## Notation and glossary
#
# The paper reuses some letters for different things: K is the number of layers (§3.2) and also the
# number of nearest neighbours retrieved and the cut-off of the hit-rate (§3.5, §4.1, §4.2); d is the
# feature width (§3.1) and the embedding width (§3.2); h is the hidden representation in Algorithm 2
# but a typo for z in line 1 of Algorithm 1; n is a negative (equation 1), the number of labelled pairs
# (equation 2) and an epoch (§3.3); q is the query item and a bias vector of CONVOLVE. The course gives
# every symbol **one** meaning:

# %% tags=["nbval-check-output"]
room_model = PinSageConfig.classroom(paper_model.in_dim)  # the classroom widths (they do not depend on the features)
NOTATION = [  # symbol, meaning, the paper's value, the classroom model's, where it is taught, not to be confused with
    ("I, C", "the items (pins) and the collections (boards) of the bipartite graph", "", "", "01", ""),
    ("N", "catalogue size: the number of items, |I|", f"~{PAPER_CATALOGUE / 1e9:.0f}·10⁹ pins", "", "01, 08, 10",
     "N(u); the negatives (n_neg, 𝒩)"),
    ("(q, i)", "a labelled pair: a query item and its positive, an item engaged with right after q", "", "", "01, 05", "the bias vector q of CONVOLVE"),
    ("ℒ", "the set of labelled pairs", "", "", "05", "L, the number of LSH tables"),
    ("N(u)", "u's neighbourhood: the T items most visited by random walks from u", "", "", "02", "N, the catalogue size"),
    ("T", "neighbourhood size", paper_model.num_neighbors, room_model.num_neighbors, "02–04", ""),
    ("α_v", "importance weight of neighbour v: its visit count over the kept T, summing to 1", "", "", "02, 03", "ε, the walk's stop probability"),
    ("ε", "probability that a walk stops (restarts) after a traversal", "not given", "", "02", "α"),
    ("x_u", "input features of u; h⁽⁰⁾ = x; width d_x", f"d_x = {paper_model.in_dim:,}", "the dataset's columns", "01, 03",
     "the paper writes x_u ∈ ℝᵈ; here d is the embedding width only"),
    ("K", "number of convolution layers", paper_model.num_layers, room_model.num_layers, "03, 04, 08", "top-k"),
    ("k (layer)", "a layer, 0 … K, only ever as a superscript: h⁽ᵏ⁾, S⁽ᵏ⁾ (01b writes ℓ)", "", "", "03, 04, 08",
     "the k of top-k, never a superscript, usually a number: hit-rate@10"),
    ("h_u⁽ᵏ⁾", "hidden representation of u after layer k (Algorithm 2)", "", "", "03, 04, 08", "n_hard; Algorithm 1's h_v is a typo for z_v"),
    ("z_u", "embedding of u: CONVOLVE's input and output in Algorithm 1, the head's output in the end", "", "", "03, 05", ""),
    ("m_v, n_u", "a neighbour's message ReLU(Q·z_v + q), and their pool γ(…)", "", "", "03", "m, the hidden width; n_neg, n_hard"),
    ("Q, q, W, w", "CONVOLVE's parameters (neighbour transform; combination)", "", "", "03", "q, the query; W, the world size"),
    ("G₁, g, G₂", "the dense head: z = G₂·ReLU(G₁·h⁽ᴷ⁾ + g)", "", "", "03", ""),
    ("γ", "the pooling function: importance (α-weighted mean), mean or max", "importance", room_model.pooling, "03", ""),
    ("m", "hidden width (the output of Q)", paper_model.hidden_dim, room_model.hidden_dim, "03", "m_v, a message"),
    ("d", "embedding width (every layer's output and the final one)", paper_model.embed_dim, room_model.embed_dim, "03", "d_x, the feature width"),
    ("M, S⁽ᵏ⁾", "a minibatch's target nodes, and Algorithm 2's node sets M = S⁽ᴷ⁾ ⊆ … ⊆ S⁽⁰⁾", "", "", "04", ""),
    ("B", "minibatch size: labelled pairs per optimiser step", f"{min(PAPER['table3'])}–{max(PAPER['table3'])}",
     train_defaults.batch_size, "04, 05, 07", ""),
    ("Δ", "margin of the max-margin loss", "not given", train_defaults.margin, "05", ""),
    ("𝒩, n_neg", "the negatives shared by every pair of a minibatch, and how many", train_defaults.num_shared_negatives,
     train_defaults.num_shared_negatives, "05", "N, the catalogue size"),
    ("n_hard", "hard negatives per query in an epoch (the curriculum: e − 1 in epoch e, capped)", f"≤ {PAPER_MAX_HARD}",
     "per notebook", "06", "h⁽ᵏ⁾"),
    ("π_q, [lo, hi)", "personalized PageRank from q; the band of PPR ranks hard negatives come from", f"{PAPER_BAND[0]}–{PAPER_BAND[1]}",
     "scaled to the catalogue", "02, 06", ""),
    ("τ", "temperature of the cross-entropy ablation", "not given", train_defaults.temperature, "05", ""),
    ("W (ranks)", "world size: the number of DDP processes", "one per GPU", "CPU processes", "07, 08, 10", "the matrix W"),
    ("r, P, s", "rank of the answer (1 = best); evaluation pairs; the MRR rank divisor", f"s = {mrr_scale(5_000_000)}",
     "s = mrr_scale(N)", "09", ""),
    ("L, b, p", "LSH: tables, bits per table, extra buckets probed", "", "", "08, 10", "ℒ, the labelled pairs"),
]
display(table(["symbol", "meaning", "paper", "classroom", "notebooks", "not to be confused with"],
              [[f"**{s}**", m, p, c, w, x] for s, m, p, c, w, x in NOTATION]))
assert len({s for s, *_ in NOTATION}) == len(NOTATION)

# %% [markdown]
# Three words with one meaning each:
#
# * **hit-rate@k** — the share of held-out labelled pairs (q, i) whose i is among q's top k (§4.2:
#   k = 500 among 5 million candidates; here usually @10). It measures the *recommender*.
# * **recall@k** — the share of the *exact* top-k nearest neighbours that an *approximate* index (LSH)
#   returns. It measures the *index* against exact kNN, never the recommender (notebooks 08 and 10).
# * **K** — the number of convolution layers, and nothing else.
#
# ### Glossary
#
# * **Graph convolution / message passing.** A layer that updates each node from its own vector and an
#   aggregate of its neighbours' (transformed) vectors — the neighbours "send messages". Stacking K layers
#   lets information travel K hops. The paper's "convolution" is this localised kind, not a spectral
#   filter. → [01b](01b_gnn_on_ramp.ipynb), [03](03_convolve.ipynb)
# * **GCN** (Kipf & Welling). Graph convolution over the whole graph at once, with the normalised
#   adjacency matrix: full-batch, so memory grows with the graph. → [01b](01b_gnn_on_ramp.ipynb)
# * **GraphSAGE** (Hamilton et al.). Inductive graph convolution on a fixed-size *sample* of each node's
#   neighbours, drawn uniformly per hop, with mean, max or LSTM aggregators. PinSage extends it.
#   → [01b](01b_gnn_on_ramp.ipynb), [02](02_importance_neighborhoods.ipynb)
# * **GAT** (Veličković et al.). Graph attention: the weight of each neighbour is *learned* from the two
#   nodes' vectors. PinSage's weights α are not learned: they come from random-walk visit counts.
#   → [01b](01b_gnn_on_ramp.ipynb)
# * **Importance-based neighbourhood, importance pooling.** N(u) is the top T of u's random-walk visit
#   counts; importance pooling is the α-weighted mean of the neighbours' messages (§3.2).
#   → [02](02_importance_neighborhoods.ipynb), [03](03_convolve.ipynb)
# * **Personalized PageRank (PPR).** The stationary distribution of a walk that restarts at q; what
#   visit frequencies converge to, and what hard negatives are ranked by. → [02](02_importance_neighborhoods.ipynb), [06](06_hard_negatives.ipynb)
# * **Pin / item, board / collection.** Pinterest's saved image and the named set of pins it is saved
#   in; here a movie or book, and a user's set of liked movies or a shelf name. → [01](01_problem_setup.ipynb)
# * **Pixie.** Pinterest's walk-only recommender: the most visited pins of many short walks from the query.
#   It produced the labelled pairs, which is why it is absent from Table 1. → [02](02_importance_neighborhoods.ipynb)
# * **Labelled pair (q, i).** i is a good recommendation for q: a user engaged with i right after q.
#   → [01](01_problem_setup.ipynb), [05](05_margin_loss.ipynb)
# * **Receptive field, re-indexing.** S⁽⁰⁾, every node whose features a minibatch reads; renumbering
#   global ids as local rows so the device sees a small dense problem (Algorithm 2). → [04](04_minibatch.ipynb)
# * **Max-margin (hinge) loss, active hinge.** max(0, z_q·z_n − z_q·z_i + Δ); a hinge is active (has a
#   gradient) while the negative is within Δ of the positive or above it. → [05](05_margin_loss.ipynb)
# * **Shared negatives.** One set 𝒩 of n_neg random items per minibatch, scored against every query in
#   one matrix product. → [05](05_margin_loss.ipynb)
# * **Hard negative, false negative.** An item related to q but less than i, drawn from a band of q's
#   PPR ranking; one that is in fact a positive nobody has labelled is a false negative. → [06](06_hard_negatives.ipynb)
# * **Curriculum.** Hard negatives added gradually: none in the first epoch, one more each epoch after,
#   up to a cap. → [06](06_hard_negatives.ipynb)
# * **Producer–consumer.** CPU workers build the next minibatch (walks, re-indexing, features,
#   negatives) while the device computes the current one. → [07](07_training_at_scale.ipynb)
# * **Warm-up, linear scaling rule.** A learning rate raised linearly through the first epoch to a peak
#   that grows with the batch size, then decayed exponentially. → [07](07_training_at_scale.ipynb)
# * **DDP, rank, all-reduce.** Data parallelism: each process (rank) computes on its share of a
#   minibatch; the gradients are averaged across ranks before one identical step. → [07](07_training_at_scale.ipynb)
# * **MapReduce (layer-wise) inference.** Every item's message computed once per layer (map), gathered
#   by each item's neighbourhood (join), pooled and combined (reduce) — no recomputation across
#   minibatches (§3.4). → [08](08_inference_and_serving.ipynb), [10](10_scale_up.ipynb)
# * **Inductive / transductive.** An inductive model embeds an item from its features and neighbourhood,
#   so it can embed an item it never saw in training; a transductive one learns a vector per item and
#   cannot. → [08](08_inference_and_serving.ipynb), [09](09_experiments.ipynb)
# * **Exact kNN, LSH, multi-probe, WeakAND.** Exact search scores every item; locality-sensitive hashing
#   (random hyperplanes) scores only the items sharing a bucket with the query, multi-probe also looks in
#   nearby buckets; the paper follows LSH with a two-level retrieval using the WeakAND operator (§3.5).
#   → [08](08_inference_and_serving.ipynb)
# * **Hit-rate, MRR (scaled).** The offline metrics of §4.2: hit-rate@k as above; MRR is the mean of
#   1 / rank, and the paper's *scaled* MRR divides ranks by s before rounding up, 1 / ⌈r / s⌉, so that
#   neighbouring ranks among millions are not told apart. → [09](09_experiments.ipynb)
# * **Kurtosis of the similarities.** How heavy-tailed the cosines of random pairs are (§4.2, Figure 4);
#   the paper reads a low value as embeddings that use the space well. → [08](08_inference_and_serving.ipynb), [09](09_experiments.ipynb)
# * **Item-kNN CF, content-only baselines, ablation ladder.** Items scored by shared collections; by
#   features alone; Table 1's variants (max-, mean-pooling, -xent, -hard, PinSage). → [09](09_experiments.ipynb)
# * **Retrieval → ranking → A/B funnel.** Candidate generation (PinSage's nearest neighbours) feeds a
#   ranker; offline metrics and user studies come before a live A/B test (§3.1, §4.3, §4.4).
#   → [01b](01b_gnn_on_ramp.ipynb)
# * **L2 normalisation vs LayerNorm.** Line 3 of CONVOLVE scales each vector to length 1, so dot
#   products are cosines; LayerNorm centres and scales the *coordinates* of a vector instead.
#   → [01b](01b_gnn_on_ramp.ipynb), [03](03_convolve.ipynb)
# * **Classroom / full size.** The two settings of every notebook's parameters cell (above).

# %% [markdown]
# ## The data
#
# Two real datasets ship with the course (see `datasets/README.md` for their licences), and a
# generator makes synthetic pins–boards graphs of any size. Nothing is downloaded when a notebook
# runs. The cell below checks that the shipped data is where the library looks for it.

# %% tags=["nbval-check-output"]
for name in SHIPPED:
    folder = dataset_path(name)
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    licence = [f for f in files if f in ("LICENSE", "README.txt")]
    print(f"{name:16s} {len(files)} files, licence kept in {licence}")
    assert licence and (folder / "SOURCE.md").exists(), f"{name}: licence or SOURCE.md missing"

# %% [markdown]
# ## How to run
#
# From the repository root, with nothing but Python 3 installed:
#
# ```bash
# python3 tasks.py run                           # set up .venv from nothing, run the main job
# python3 tasks.py lab                           # JupyterLab on notebooks/, classroom size
# PINSAGE_EDU_SIZE=full python3 tasks.py lab     # the same notebooks at full size
# python3 tasks.py test                          # every test and every notebook, classroom size
# python3 tasks.py instructor                    # the notebooks with the exercises' solutions in place
# python3 tasks.py slides                        # a reveal.js slide deck per notebook
# ```
#
# `tasks.py` installs everything into `.venv`, so the tools are `.venv/bin/python` and
# `.venv/bin/jupyter` (a plain `jupyter` is on your PATH only if you activate the environment:
# `source .venv/bin/activate`).
#
# Each notebook ends with **What Pinterest did at web scale** (how the paper's system differs from
# what fits on a laptop) and **Exercises** (some with checkers that tell you what is wrong).

# %%
commands = re.search(r"if cmd not in \{([^}]*)\}", (ROOT / "tasks.py").read_text()).group(1)
commands = set(re.findall(r'"(\w+)"', commands))
print("python3 tasks.py " + " | ".join(sorted(commands)))
assert {"run", "lab", "test", "instructor", "slides"} <= commands  # the commands above
