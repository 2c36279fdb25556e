#!/usr/bin/env python3
"""Notebook sources, built notebooks and student copies.

The notebooks' source of truth is ``notebooks/src/NN_name.py`` in jupytext's "percent" format (``# %%``
starts a code cell, ``# %% [markdown]`` a markdown cell whose lines start with ``# ``; a cell may carry
``tags=["parameters"]``). Plain text diffs and reviews well; the ``.ipynb`` beside it is built from it
and executed, so students see the classroom figures on GitHub.

The two are a jupytext pair (``notebooks/jupytext.toml``: ``formats = "ipynb,src//py:percent"``): in
JupyterLab (jupytext is installed with the notebook extras) opening either side shows the notebook,
and saving writes both, so an edit made in the notebook lands in its source. Outside JupyterLab,
``jupytext --sync notebooks/NN_name.ipynb`` copies the newer side's cells into the other.

    python tools/notebooks.py build [--force] [NAMES...]  # source -> .ipynb, executed in place (classroom size)
    python tools/notebooks.py check                       # every .ipynb's cells equal its source (tests call this)
    python tools/notebooks.py student [OUTDIR]            # the student edition (default build/student_notebooks)
    python tools/notebooks.py instructor [OUTDIR]         # with the solutions (default build/instructor_notebooks)
    python tools/notebooks.py slides [OUTDIR [NAMES...]]  # a reveal.js deck per notebook (default build/slides)

``build`` refuses to overwrite a notebook that is newer than its source and whose cells differ from it
(an edit made in the notebook that never reached the source): sync it first, or pass ``--force`` to
throw the edit away.

The committed notebooks are the **student edition**: an exercise is a function whose body is the stub
``raise NotImplementedError  # your code here``, and its checker cell (``exercises.check_NAME(function)``,
tagged ``nbval-check-output``) stores "not attempted yet" — nbval asserts exactly that when CI runs them.
The solutions live in ``notebooks/solutions/NAME.py`` (one cell per exercise cell); ``instructor`` writes
the notebooks with the solutions in place and the checkers' output for them (``python3 tasks.py
instructor``), ``student`` writes unpaired copies of the committed notebooks, every figure kept.

nbval's markers are cell tags (``# %% tags=["nbval-check-output"]`` in a source), not comments a student
reads. Every cell carries reveal.js slide metadata (:func:`slide_type`); ``slides`` builds the decks.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
SRC_DIR = NB_DIR / "src"
FORMAT = "py:percent"


def parse(source: str) -> list[nbformat.NotebookNode]:
    """Cells of a percent-format script, read by jupytext.

    jupytext keeps, as cell metadata, how many blank lines separate a cell from the next when that is
    not its default (``lines_to_next_cell``); it stays in the built notebook so that a save from
    JupyterLab writes the source back byte for byte."""
    cells = jupytext.reads(source, fmt=FORMAT).cells
    for i, c in enumerate(cells):
        c.metadata["slideshow"] = {"slide_type": slide_type(c)}
        c["id"] = f"cell-{i:02d}"
    return cells


def slide_type(cell: nbformat.NotebookNode) -> str:
    """The cell's place in the notebook's reveal.js deck (``tools/notebooks.py slides``): a markdown cell that
    opens with a title or a section heading (``#``, ``##``) starts a slide, one with a sub-heading (``###``)
    a sub-slide below it; the parameters cell is left out; every other cell continues the slide above."""
    if "parameters" in cell.metadata.get("tags", []):
        return "skip"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().split("\n", 1)[0]
        if first.startswith(("# ", "## ")):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    return "-"


def _cells_of(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    """What a notebook and its source must agree on: each cell's kind, source and tags (not outputs,
    ids, or metadata that only jupytext or JupyterLab use)."""
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def new_notebook(src: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(src.read_text())
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def unsynced_edit(src: Path) -> str | None:
    """Why building ``src`` would lose an edit, or None: its notebook is newer than the source and holds
    other cells (edited in the notebook, e.g. JupyterLab without jupytext, and never synced back)."""
    ipynb = NB_DIR / f"{src.stem}.ipynb"
    if not ipynb.exists() or ipynb.stat().st_mtime <= src.stat().st_mtime:
        return None
    if _cells_of(nbformat.read(ipynb, as_version=4)) == _cells_of(new_notebook(src)):
        return None
    return (f"{_rel(ipynb)} is newer than {_rel(src)} and its cells differ: building would overwrite an edit "
            f"made in the notebook.\n  Keep the edit: `jupytext --sync {_rel(ipynb)}` (writes it into the source), "
            f"then build again.\n  Drop it: tools/notebooks.py build --force {src.stem}")


def build(names: list[str], force: bool = False) -> None:
    from nbconvert.preprocessors import ExecutePreprocessor

    srcs = [src for src in sorted(SRC_DIR.glob("*.py")) if not names or src.stem in names]
    unknown = sorted(set(names) - {src.stem for src in srcs})
    if unknown:
        raise SystemExit(f"no notebook source for {', '.join(unknown)} in {_rel(SRC_DIR)}")
    refused = [] if force else [why for why in map(unsynced_edit, srcs) if why]
    if refused:  # before executing anything: nothing is built, nothing lost
        raise SystemExit("refusing to build:\n" + "\n".join(refused))
    os.environ.setdefault("PINSAGE_EDU_SIZE", "classroom")
    for src in srcs:
        nb = new_notebook(src)
        print(f"executing {src.stem} ...", flush=True)
        ExecutePreprocessor(timeout=900, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(NB_DIR)}})
        for c in nb.cells:
            for o in c.get("outputs", []):
                placehold_widget(o)
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, NB_DIR / f"{src.stem}.ipynb")


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_PLACEHOLDER = ("[interactive explorer: run this cell in JupyterLab to use it (a stored notebook keeps no "
                      "live widget); the next cell draws its first view]")


def placehold_widget(output: nbformat.NotebookNode) -> None:
    """A widget's stored output, made readable: the widget view (which, without its kernel, JupyterLab shows
    as "Error displaying widget: model not found") is dropped, and its text form — the raw
    ``VBox(children=(HBox(…`` repr a notebook viewer would print — becomes a one-line placeholder."""
    data = output.get("data", {})
    if data.pop(WIDGET_VIEW, None) is not None:
        data["text/plain"] = WIDGET_PLACEHOLDER


def check() -> list[str]:
    """Names of notebooks whose cells differ from their source (or that have no source / notebook)."""
    problems = []
    srcs = {p.stem for p in SRC_DIR.glob("*.py")}
    nbs = {p.stem for p in NB_DIR.glob("*.ipynb")}
    for name in sorted(srcs ^ nbs):
        problems.append(f"{name}: {'no built notebook' if name in srcs else 'no source in notebooks/src'}")
    for name in sorted(srcs & nbs):
        built = nbformat.read(NB_DIR / f"{name}.ipynb", as_version=4)
        if _cells_of(built) != _cells_of(new_notebook(SRC_DIR / f"{name}.py")):
            problems.append(f"{name}: cells differ from notebooks/src/{name}.py (run tools/notebooks.py build {name}; "
                            f"if the edit was made in the notebook, first `jupytext --sync notebooks/{name}.ipynb`)")
        unexecuted = [i for i, c in enumerate(built.cells) if c.cell_type == "code" and c.source.strip()
                      and c.get("execution_count") is None]
        if unexecuted:
            problems.append(f"{name}: code cells {unexecuted} were never executed (run the build)")
    return problems


STUB = "raise NotImplementedError  # your code here"
SOLUTIONS_DIR = NB_DIR / "solutions"
_SOLUTION = re.compile(r"(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?### END SOLUTION[^\n]*", re.S)


def strip_solutions(code: str) -> str:
    """``code`` with each ``### BEGIN SOLUTION`` … ``### END SOLUTION`` block replaced by :data:`STUB`."""
    return _SOLUTION.sub(lambda m: f"{m.group('indent')}{STUB}", code)


def _functions(code: str) -> dict[str, ast.FunctionDef]:
    """The top-level functions a code cell defines (IPython syntax turned into Python first)."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(code))
    return {s.name: s for s in tree.body if isinstance(s, ast.FunctionDef)}


def exercise_functions(code: str) -> list[str]:
    """The names of the top-level functions of a code cell whose body is the exercise stub."""
    stubs = [n for n, line in enumerate(code.splitlines(), 1) if STUB in line]
    return [name for name, f in _functions(code).items() if any(f.lineno < n <= f.end_lineno for n in stubs)]


def solutions(name: str) -> dict[str, str]:
    """Exercise function → the code cell that solves it, from ``notebooks/solutions/NAME.py`` (percent format:
    one cell per exercise cell of the notebook, defining the same functions)."""
    path = SOLUTIONS_DIR / f"{name}.py"
    if not path.exists():
        return {}
    out = {}
    for cell in jupytext.reads(path.read_text(), fmt=FORMAT).cells:
        if cell.cell_type == "code" and cell.source.strip():
            for fn in _functions(cell.source):
                out[fn] = cell.source
    return out


def checker_call(code: str) -> tuple[str, str] | None:
    """``(checker, function)`` when a code cell is exactly ``exercises.check_NAME(function)``."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if len(tree.body) != 1:
        return None
    stmt = tree.body[0]
    if (isinstance(stmt, ast.Expr) and isinstance(call := stmt.value, ast.Call)
            and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "exercises" and call.func.attr.startswith("check_")
            and len(call.args) == 1 and isinstance(call.args[0], ast.Name) and not call.keywords):
        return call.func.attr, call.args[0].id
    return None


def run_checker(function_cell: str, call: str) -> str:
    """What ``call`` (``exercises.check_NAME(fn)``) prints after ``function_cell`` defines ``fn``, run in
    this process (the exercise functions use only ``torch``, ``exercises`` and what they import); raises
    AssertionError if the checker moved a global RNG (the cells after it would then diverge from what they
    computed in the build)."""
    import contextlib
    import io
    import random

    import numpy as np
    import torch

    from pinsage_edu import exercises

    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = compile(function_cell + "\n" + call, "<exercise cell>", "exec",
                       flags=__import__("__future__").annotations.compiler_flag, dont_inherit=True)
        exec(code, {"exercises": exercises, "torch": torch, "__name__": "__exercise__"})
    if not (torch.equal(torch.get_rng_state(), before[0]) and (np.random.get_state()[1] == before[1]).all()
            and random.getstate() == before[2]):
        raise AssertionError(f"{call.strip()} moved a global RNG: the cells after it would diverge")
    return out.getvalue()


def _unpaired(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    # a copy stands alone: never paired with a source (notebooks/jupytext.toml would pair a copy written
    # under notebooks/ with a src/ file of its own on the first save)
    nb.metadata["jupytext"] = {"formats": "ipynb"}
    return nb


def student(out: Path) -> list[Path]:
    """The student edition in ``out``: the notebooks as committed — every figure and output kept, each
    exercise a stub whose checker says "not attempted yet" — unpaired from their sources."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p in sorted(NB_DIR.glob("*.ipynb")):
        nbformat.write(_unpaired(nbformat.read(p, as_version=4)), out / p.name)
        written.append(out / p.name)
    return written


def instructor(out: Path) -> list[Path]:
    """The instructor edition in ``out``: the committed notebooks with each exercise stub replaced by its
    solution (``notebooks/solutions/NAME.py``) and each checker's output the one the solution gets, run in
    this process; every other cell and output as committed (nothing else is executed again)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p in sorted(NB_DIR.glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        sols, defined = solutions(p.stem), {}
        for i, c in enumerate(nb.cells):
            if c.cell_type != "code":
                continue
            names = exercise_functions(c.source)
            if names:
                missing = [n for n in names if n not in sols]
                if missing:
                    raise SystemExit(f"{p.name} cell {i}: no solution for {missing} in {_rel(SOLUTIONS_DIR)}/{p.stem}.py")
                c.source = sols[names[0]]
                defined.update({n: sols[n] for n in names})
            elif (call := checker_call(c.source)) and call[1] in defined:
                text = run_checker(defined[call[1]], c.source)
                c.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
        nbformat.write(_unpaired(nb), out / p.name)
        written.append(out / p.name)
    return written


REVEAL = ROOT / "tools" / "reveal.js"


def slides(out: Path, names: list[str] | None = None) -> list[Path]:
    """A reveal.js deck per notebook (``NAME.slides.html``, from its stored outputs: nothing is executed) in
    ``out``, with the reveal.js it loads copied beside it (``tools/reveal.js``), so a deck opens offline.
    Slides follow the cells' ``slideshow`` metadata (:func:`slide_type`); long slides scroll."""
    import shutil

    from nbconvert import SlidesExporter

    out.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REVEAL, out / "reveal.js", dirs_exist_ok=True, ignore=shutil.ignore_patterns("README.md"))
    exporter = SlidesExporter(reveal_url_prefix="reveal.js", reveal_scroll=True, reveal_theme="simple",
                              require_js_url="reveal.js/vendor/require.js",
                              jquery_url="reveal.js/vendor/jquery.min.js")
    written = []
    for p in sorted(NB_DIR.glob("*.ipynb")):
        if names and p.stem not in names:
            continue
        body, _ = exporter.from_filename(str(p))
        (out / f"{p.stem}.slides.html").write_text(body, encoding="utf-8")
        written.append(out / f"{p.stem}.slides.html")
    return written


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "build":
        args = argv[1:]
        build([a for a in args if a != "--force"], force="--force" in args)
        return 0
    if cmd == "check":
        problems = check()
        print("\n".join(problems) or "notebooks match their sources")
        return 1 if problems else 0
    if cmd in ("student", "instructor"):
        write = student if cmd == "student" else instructor
        for p in write(Path(argv[1]) if len(argv) > 1 else ROOT / "build" / f"{cmd}_notebooks"):
            print(p)
        return 0
    if cmd == "slides":
        for p in slides(Path(argv[1]) if len(argv) > 1 else ROOT / "build" / "slides", argv[2:]):
            print(p)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
