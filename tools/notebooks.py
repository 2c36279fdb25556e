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
    python tools/notebooks.py student [OUTDIR]            # copies with solutions removed and outputs cleared

``build`` refuses to overwrite a notebook that is newer than its source and whose cells differ from it
(an edit made in the notebook that never reached the source): sync it first, or pass ``--force`` to
throw the edit away.

Solutions sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines inside a code cell; such a
cell is built collapsed (``jupyter.source_hidden``) so the solution stays out of sight until opened, and
the student copy replaces the solution with ``raise NotImplementedError  # your code here``.
"""

from __future__ import annotations

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
        if c.cell_type == "code" and "### BEGIN SOLUTION" in c.source:
            c.metadata["jupyter"] = {"source_hidden": True}  # JupyterLab shows the solution collapsed
        c["id"] = f"cell-{i:02d}"
    return cells


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
        for c in nb.cells:  # widget state is not saved (NOTEBOOKS.md)
            for o in c.get("outputs", []):
                o.get("data", {}).pop("application/vnd.jupyter.widget-view+json", None)
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, NB_DIR / f"{src.stem}.ipynb")


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


_SOLUTION = re.compile(r"(?P<indent>[ \t]*)### BEGIN SOLUTION\n.*?### END SOLUTION[^\n]*", re.S)


def strip_solutions(code: str) -> str:
    return _SOLUTION.sub(lambda m: f"{m.group('indent')}raise NotImplementedError  # your code here", code)


def student(out: Path) -> list[Path]:
    """Write student copies (solutions removed, outputs cleared) of every notebook to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p in sorted(NB_DIR.glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        for c in nb.cells:
            if c.cell_type == "code":
                c.source = strip_solutions(c.source)
                c.metadata.pop("jupyter", None)  # the stub is the student's to see
                c.outputs = []
                c.execution_count = None
        # a copy stands alone: never paired with a source (notebooks/jupytext.toml would pair a copy written
        # under notebooks/ with a src/ file of its own on the first save)
        nb.metadata["jupytext"] = {"formats": "ipynb"}
        nbformat.write(nb, out / p.name)
        written.append(out / p.name)
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
    if cmd == "student":
        for p in student(Path(argv[1]) if len(argv) > 1 else ROOT / "build" / "student_notebooks"):
            print(p)
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
