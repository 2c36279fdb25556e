#!/usr/bin/env python3
"""Notebook sources, built notebooks and student copies.

The notebooks' source of truth is ``notebooks/src/NN_name.py`` in the "percent" format (``# %%``
starts a code cell, ``# %% [markdown]`` a markdown cell whose lines start with ``# ``; a cell may carry
``tags=["parameters"]``). Plain text diffs and reviews well; the ``.ipynb`` beside it is built from it
and executed, so students see the classroom figures on GitHub.

    python tools/notebooks.py build [NAMES...]    # .py -> .ipynb, then execute in place (classroom size)
    python tools/notebooks.py check               # every .ipynb's cells equal its source (tests call this)
    python tools/notebooks.py student [OUTDIR]    # copies with solutions removed and outputs cleared

Solutions sit between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines inside a code cell; such a
cell is built collapsed (``jupyter.source_hidden``) so the solution stays out of sight until opened, and
the student copy replaces the solution with ``raise NotImplementedError  # your code here``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
SRC_DIR = NB_DIR / "src"
_HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse(source: str) -> list[nbformat.NotebookNode]:
    """Cells of a percent-format script."""
    cells: list[nbformat.NotebookNode] = []
    kind, tags, lines = None, [], []

    def flush() -> None:
        if kind is None:
            return
        while lines and not lines[-1].strip():
            lines.pop()
        text = "\n".join(lines)
        if kind == "markdown":
            text = "\n".join(l[2:] if l.startswith("# ") else l.lstrip("#") for l in lines)
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(text)
        if tags:
            cell.metadata["tags"] = tags
        if kind == "code" and "### BEGIN SOLUTION" in text:
            cell.metadata["jupyter"] = {"source_hidden": True}  # JupyterLab shows the solution collapsed
        cells.append(cell)

    for line in source.splitlines():
        m = _HEADER.match(line)
        if m:
            flush()
            kind = "markdown" if m.group("md") else "code"
            tags = json.loads(m.group("tags")) if m.group("tags") else []
            lines = []
        elif kind is not None:
            lines.append(line)
    flush()
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i:02d}"
    return cells


def _cells_of(nb: nbformat.NotebookNode) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def new_notebook(src: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = parse(src.read_text())
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def build(names: list[str]) -> None:
    from nbconvert.preprocessors import ExecutePreprocessor

    os.environ.setdefault("PINSAGE_EDU_SIZE", "classroom")
    for src in sorted(SRC_DIR.glob("*.py")):
        if names and src.stem not in names:
            continue
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
            problems.append(f"{name}: cells differ from notebooks/src/{name}.py (run tools/notebooks.py build {name})")
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
        nbformat.write(nb, out / p.name)
        written.append(out / p.name)
    return written


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "check"
    if cmd == "build":
        build(argv[1:])
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
