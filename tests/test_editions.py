"""Student and instructor editions of the notebooks.

The committed notebooks are the student edition: each exercise is a stub inside its function, and its checker
cell (tagged ``nbval-check-output``) stored "not attempted yet" — so nbval, which runs every committed notebook
in CI, runs every student copy and asserts that each checker still says so rather than crashing. The solutions
live in ``notebooks/solutions/NAME.py``; ``tasks.py instructor`` puts them in place and fills in what each
checker prints for them, without executing the notebooks a second time. The tests below prove, without a
kernel, that the stubs break nothing later and that every solution passes its checker."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as nbtools  # noqa: E402

# Every exercise and its checker.
EXERCISES = {
    "01_problem_setup": ["check_indptr"],
    "02_importance_neighborhoods": ["check_top_t"],
    "03_convolve": ["check_pooling", "check_convolve"],
    "04_minibatch": ["check_reindex", "check_sample_blocks"],
    "05_margin_loss": ["check_margin_loss"],
    "06_hard_negatives": ["check_hard_negative_batch"],
    "07_training_at_scale": ["check_training_step", "check_warmup_decay", "check_rank_share"],
    "08_inference_and_serving": ["check_embed_all", "check_lsh_codes"],
    "09_experiments": ["check_scaled_mrr"],
    "10_scale_up": ["check_shard_range"],
}
# the exercises that make a student write a core piece of PinSage, each at least this many lines of code
CORE = {"check_top_t", "check_convolve", "check_sample_blocks", "check_margin_loss", "check_hard_negative_batch",
        "check_training_step", "check_embed_all"}
CORE_LINES = 5
POINTERS_TO_REMOVED_SOLUTIONS = ("collapsed cell", "solution is in", "solution below", "solution above",
                                 "BEGIN SOLUTION", "END SOLUTION")


def _nb(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)


def _code(cell: nbformat.NotebookNode) -> ast.Module:
    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(cell.source))


def _exercises(nb: nbformat.NotebookNode) -> dict[str, tuple[int, list[tuple[int, str]]]]:
    """Exercise function → (its cell, [(checker cell, checker)])."""
    found = {}
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code":
            for f in nbtools.exercise_functions(c.source):
                found[f] = (i, [])
    for i, c in enumerate(nb.cells):
        if c.cell_type == "code" and (call := nbtools.checker_call(c.source)) and call[1] in found:
            found[call[1]][1].append((i, call[0]))
    return found


def test_every_exercise_is_listed_and_has_its_solution():
    with_stubs = sorted(p.stem for p in (ROOT / "notebooks" / "src").glob("*.py") if nbtools.STUB in p.read_text())
    assert with_stubs == sorted(EXERCISES)
    assert sorted(p.stem for p in nbtools.SOLUTIONS_DIR.glob("*.py")) == sorted(EXERCISES)
    for name in EXERCISES:
        found = _exercises(_nb(name))
        assert sorted(chk for _, calls in found.values() for _, chk in calls) == sorted(EXERCISES[name]), name
        assert set(nbtools.solutions(name)) == set(found), f"{name}: solutions for other functions than the stubs"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebooks_show_no_solutions_and_point_to_none(path):
    nb = nbformat.read(path, as_version=4)
    for i, c in enumerate(nb.cells):
        assert "jupyter" not in c.metadata, f"cell {i}: a collapsed cell (nothing is hidden any more)"
        for pointer in POINTERS_TO_REMOVED_SOLUTIONS:
            assert pointer.lower() not in c.source.lower(), f"cell {i} says {pointer!r}"
        # nbval's markers are cell tags, not comments a student reads
        assert "NBVAL_" not in c.source, f"cell {i}: an nbval marker in the text"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_the_student_edition_runs_with_every_checker_saying_not_attempted(name):
    """What running the committed notebook (nbval does, in CI) relies on: (1) each stub sits inside a top-level
    function; (2) nothing but its checker calls uses an exercise function, so the stubs break no later cell;
    (3) each checker cell is tagged nbval-check-output and stored "not attempted yet", which nbval then asserts;
    (4) here, the stub given to its checker prints exactly that and moves no global RNG."""
    nb = _nb(name)
    found = _exercises(nb)
    for f, (cell, calls) in found.items():
        stubs = [n for n, line in enumerate(nb.cells[cell].source.splitlines(), 1) if nbtools.STUB in line]
        assert stubs and len(stubs) == len(nbtools.exercise_functions(nb.cells[cell].source))  # (1)
        for i, checker in calls:
            c = nb.cells[i]
            assert "nbval-check-output" in c.metadata.get("tags", []), f"cell {i}: {checker} untagged"  # (3)
            stored = "".join(o.get("text", "") for o in c.outputs)
            assert stored.startswith(f"{checker}: not attempted yet"), stored
            assert nbtools.run_checker(nb.cells[cell].source, c.source) == stored  # (4)
    checker_cells = {i for _, calls in found.values() for i, _ in calls}
    for i, c in enumerate(nb.cells):  # (2)
        if c.cell_type != "code" or i in checker_cells:
            continue
        for stmt in _code(c).body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name in found:
                continue
            used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)} & set(found)
            assert not used, f"cell {i} uses {sorted(used)}: in the student edition it raises"


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_every_solution_passes_its_checker(name):
    nb, sols = _nb(name), nbtools.solutions(name)
    for f, (_, calls) in _exercises(nb).items():
        for i, checker in calls:
            printed = nbtools.run_checker(sols[f], nb.cells[i].source)
            assert printed.startswith(f"{checker}: ") and "correct" in printed and "✓" in printed, printed
            assert "not attempted" not in printed, printed


def test_core_exercises_make_the_student_write_the_algorithm():
    for name in EXERCISES:
        nb, sols = _nb(name), nbtools.solutions(name)
        for f, (_, calls) in _exercises(nb).items():
            if not {checker for _, checker in calls} & CORE:
                continue
            fdef = nbtools._functions(sols[f])[f]
            body = [s for s in fdef.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            lines = {n for s in body for n in range(s.lineno, s.end_lineno + 1)}
            code_lines = [n for n in lines if not sols[f].splitlines()[n - 1].strip().startswith("#")]
            assert len(code_lines) >= CORE_LINES, f"{name}.{f}: {len(code_lines)} lines of solution"


def test_the_instructor_edition_has_the_solutions_and_their_checks(tmp_path):
    written = nbtools.instructor(tmp_path)
    assert {p.name for p in written} == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    for name in EXERCISES:
        nb, committed = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4), _nb(name)
        assert nb.metadata["jupytext"] == {"formats": "ipynb"}  # never paired with a source
        assert not any(nbtools.STUB in c.source for c in nb.cells)
        for i, (c, o) in enumerate(zip(nb.cells, committed.cells)):
            if nbtools.STUB in o.source:
                assert set(nbtools.exercise_functions(o.source)) <= set(nbtools._functions(c.source))
            elif (call := nbtools.checker_call(o.source)) and call[0] in EXERCISES[name]:
                printed = "".join(x.get("text", "") for x in c.outputs)
                assert printed.startswith(f"{call[0]}: ") and "correct" in printed and "✓" in printed, printed
            else:
                assert c.source == o.source and c.get("outputs") == o.get("outputs"), f"{name} cell {i}"


def test_the_student_edition_keeps_every_figure(tmp_path):
    written = nbtools.student(tmp_path)
    assert {p.name for p in written} == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    for p in written:
        nb, committed = nbformat.read(p, as_version=4), nbformat.read(ROOT / "notebooks" / p.name, as_version=4)
        assert nb.metadata["jupytext"] == {"formats": "ipynb"}
        assert [c.get("outputs") for c in nb.cells] == [c.get("outputs") for c in committed.cells]
        figures = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
        assert figures or p.stem in ("00_course_map",), f"{p.name}: no figure"


def test_stored_widgets_read_as_a_placeholder_followed_by_their_first_view():
    for p in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(p, as_version=4)
        for i, c in enumerate(nb.cells):
            for o in c.get("outputs", []):
                data = o.get("data", {})
                assert nbtools.WIDGET_VIEW not in data, f"{p.name} cell {i}: a widget view with no state"
                text = data.get("text/plain", "")
                assert "children=(" not in text, f"{p.name} cell {i}: the raw widget repr"
                if text == nbtools.WIDGET_PLACEHOLDER:
                    nxt = next(x for x in nb.cells[i + 1:] if x.cell_type == "code")
                    assert "widgets.render_" in nxt.source, f"{p.name} cell {i}: no first view after it"


def test_a_widget_output_becomes_the_placeholder():
    out = nbformat.v4.new_output("execute_result", data={
        nbtools.WIDGET_VIEW: {"model_id": "abc", "version_major": 2}, "text/plain": "VBox(children=(HBox(...),))"})
    nbtools.placehold_widget(out)
    assert out["data"] == {"text/plain": nbtools.WIDGET_PLACEHOLDER}
    plain = nbformat.v4.new_output("execute_result", data={"text/plain": "42"})
    nbtools.placehold_widget(plain)
    assert plain["data"] == {"text/plain": "42"}


def test_lab_saves_widget_state_with_the_notebook(tmp_path):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("pinsage_edu_tasks", ROOT / "tasks.py")
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    path = tmp_path / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"}}))
    assert tasks.save_widget_state(tmp_path) == path
    settings = json.loads(path.read_text())
    assert settings["@jupyter-widgets/jupyterlab-manager:plugin"] == {"saveState": True}
    assert settings["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}  # kept
    plugin = ROOT / ".venv" / "share" / "jupyter" / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager"
    schema = plugin / "schemas" / "@jupyter-widgets" / "jupyterlab-manager" / "plugin.json"
    if schema.exists():  # the setting is the one the installed widget manager reads
        assert "saveState" in json.loads(schema.read_text())["properties"]
