"""The project's own promises: one environment described twice, notebooks built from their sources,
student copies that run, and the main job."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

# The notebook packages are test extras: where only the library and pytest are installed (a GPU host
# running `pytest -k cuda`), this module is skipped instead of stopping the collection.
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("jupytext")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import notebooks as nbtools  # noqa: E402  (tools/notebooks.py)


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_requirements() -> set[str]:
    """Every requirement string in pyproject.toml's dependency lists (tomllib is 3.11+; we support 3.10)."""
    sections = re.split(r"^\[([^\]]+)\]\s*$", (ROOT / "pyproject.toml").read_text(), flags=re.M)
    body = dict(zip(sections[1::2], sections[2::2]))
    lists = re.findall(r"^dependencies = \[(.*?)\]", body["project"], flags=re.M | re.S)
    lists += re.findall(r"^[\w-]+ = \[(.*?)\]", body["project.optional-dependencies"], flags=re.M | re.S)
    return {r for block in lists for r in re.findall(r'"([^"]+)"', block)}


def test_environment_yml_describes_the_same_packages_as_pyproject():
    pip_side = {_name(r) for r in _pyproject_requirements() if not r.startswith("pinsage_edu")}
    conda_side = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        m = re.match(r"^\s*-\s+([A-Za-z0-9_.\-]+)", line)
        if m and m.group(1) not in ("conda-forge", "pip:") and not line.strip().startswith("- pip:"):
            conda_side.add(_name(m.group(1)))
    conda_side -= {"python", "pip"}
    assert conda_side == pip_side


def test_torch_is_pinned_to_the_same_release_everywhere():
    tasks = (ROOT / "tasks.py").read_text()
    env = (ROOT / "environment.yml").read_text()
    pinned = re.search(r'TORCH = "torch==([\d.]+)"', tasks).group(1)
    assert f"torch=={pinned}" in env


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 tasks.py test" in readme
    assert "python3 tasks.py test" in ci.splitlines()[-1]


def test_every_notebook_matches_its_source_and_was_executed():
    assert nbtools.check() == []


def test_percent_format_parser_reads_cells_tags_and_markdown():
    cells = nbtools.parse('# %% [markdown]\n# # Title\n# text\n\n# %% tags=["parameters"]\nSIZE = 1\n\n# %%\nx = 2\n')
    assert [(c.cell_type, c.source) for c in cells] == [("markdown", "# Title\ntext"), ("code", "SIZE = 1"), ("code", "x = 2")]
    assert cells[1].metadata["tags"] == ["parameters"]


def test_notebooks_are_paired_with_their_sources_by_jupytext():
    """notebooks/jupytext.toml pairs NAME.ipynb with src/NAME.py both ways, and jupytext writes a source back
    byte for byte from the cells the build makes of it (so a save from JupyterLab changes nothing unedited)."""
    import jupytext
    from jupytext.config import load_jupytext_config
    from jupytext.formats import long_form_multiple_formats
    from jupytext.paired_paths import paired_paths

    for path, side in ((ROOT / "notebooks" / "03_convolve.ipynb", 0), (ROOT / "notebooks" / "src" / "03_convolve.py", 1)):
        config = load_jupytext_config(str(path))
        formats = long_form_multiple_formats(config.default_formats(str(path)))
        assert {Path(p) for p, _ in paired_paths(str(path), formats[side], formats)} == {
            ROOT / "notebooks" / "03_convolve.ipynb", ROOT / "notebooks" / "src" / "03_convolve.py"}
    fmt = {"extension": ".py", "format_name": "percent"}
    config.set_default_format_options(fmt)
    for src in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        nb = nbtools.new_notebook(src)
        assert jupytext.writes(nb, fmt=dict(fmt)) == src.read_text(), src.name


def test_build_refuses_to_overwrite_an_edit_made_in_the_notebook(tmp_path, monkeypatch):
    import os
    import shutil

    (tmp_path / "notebooks" / "src").mkdir(parents=True)
    src = tmp_path / "notebooks" / "src" / "00_course_map.py"
    shutil.copy(ROOT / "notebooks" / "src" / "00_course_map.py", src)
    ipynb = tmp_path / "notebooks" / "00_course_map.ipynb"
    nb = nbformat.read(ROOT / "notebooks" / "00_course_map.ipynb", as_version=4)
    nbformat.write(nb, ipynb)
    monkeypatch.setattr(nbtools, "ROOT", tmp_path)
    monkeypatch.setattr(nbtools, "NB_DIR", tmp_path / "notebooks")
    monkeypatch.setattr(nbtools, "SRC_DIR", tmp_path / "notebooks" / "src")
    os.utime(src, (1_000_000, 1_000_000))  # the notebook is newer, but its cells are the source's: no edit
    assert nbtools.unsynced_edit(src) is None
    nb.cells[1].source += "\nprint('an edit made in JupyterLab')"
    nbformat.write(nb, ipynb)
    edited = ipynb.read_bytes()
    with pytest.raises(SystemExit, match=r"(?s)newer than notebooks/src/00_course_map.py.*jupytext --sync.*--force"):
        nbtools.build(["00_course_map"])  # refused before anything runs
    assert ipynb.read_bytes() == edited
    os.utime(src)  # the source is newer: it is the edit, the build may overwrite the notebook
    assert nbtools.unsynced_edit(src) is None


def test_student_copies_hide_solutions_and_clear_outputs(tmp_path):
    code = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n\ncheck(f)"
    assert nbtools.strip_solutions(code) == "def f(x):\n    raise NotImplementedError  # your code here\n\ncheck(f)"
    hidden = nbtools.parse("# %%\n" + code)[0]
    assert hidden.metadata["jupyter"] == {"source_hidden": True}  # solutions are built collapsed
    committed = [nbformat.read(p, as_version=4) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    solution_cells = [c for nb in committed for c in nb.cells if "BEGIN SOLUTION" in c.source]
    assert solution_cells and all(c.metadata.get("jupyter", {}).get("source_hidden") for c in solution_cells)
    written = nbtools.student(tmp_path)
    assert {p.name for p in written} == {p.name for p in (ROOT / "notebooks").glob("*.ipynb")}
    for p in written:
        nb = nbformat.read(p, as_version=4)
        for c in nb.cells:
            assert "BEGIN SOLUTION" not in c.source and "jupyter" not in c.metadata
            if c.cell_type == "code":
                assert c.outputs == [] and c.execution_count is None


# Every exercise and its checker. A student copy differs from its notebook only in these cells, so it is not
# executed a second time (nbval runs every notebook, solutions in): the tests below prove, without a kernel, that
# the rest of the copy is the notebook nbval runs and that the stubs break nothing, then run each stub's checker.
EXERCISES = {
    "01_problem_setup": ["check_indptr"],
    "02_importance_neighborhoods": ["check_top_t"],
    "03_convolve": ["check_importance_pooling"],
    "04_minibatch": ["check_reindex"],
    "05_margin_loss": ["check_shared_negative_loss"],
    "06_hard_negatives": ["check_hard_negatives"],
    "07_training_at_scale": ["check_warmup_decay", "check_rank_share"],
    "08_inference_and_serving": ["check_lsh_codes"],
    "09_experiments": ["check_scaled_mrr"],
    "10_scale_up": ["check_shard_range"],
}
STUB = "raise NotImplementedError  # your code here"


@pytest.fixture(scope="module")
def student_copies(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student")
    nbtools.student(out)
    return out


def _python(source: str) -> ast.Module:
    """A code cell as the kernel runs it: IPython syntax (magics, ``!cmd``) turned into Python first."""
    from IPython.core.inputtransformer2 import TransformerManager

    return ast.parse(TransformerManager().transform_cell(source))


def _checker_call(stmt: ast.stmt) -> tuple[str, str] | None:
    """(checker, function) when ``stmt`` is exactly ``exercises.check_*(function)``."""
    if (isinstance(stmt, ast.Expr) and isinstance(call := stmt.value, ast.Call)
            and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "exercises" and call.func.attr.startswith("check_")
            and len(call.args) == 1 and isinstance(call.args[0], ast.Name) and not call.keywords):
        return call.func.attr, call.args[0].id
    return None


def _run_checker(fdef: ast.FunctionDef, calls: list[ast.stmt]) -> str:
    """Define ``fdef`` (annotations unevaluated: only its body and defaults matter) and run the checker calls
    on it in this process; what they print. The checkers' global RNG states must come back untouched, so the
    cells after them see, in the student copy, what they see in the notebook nbval runs."""
    import contextlib
    import io
    import random

    import numpy as np
    import torch

    from pinsage_edu import exercises

    code = compile(ast.Module([fdef, *calls], type_ignores=[]), "<exercise cell>", "exec",
                   flags=__import__("__future__").annotations.compiler_flag, dont_inherit=True)
    before = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(code, {"exercises": exercises, "torch": torch, "__name__": "__exercise__"})
    assert (torch.equal(torch.get_rng_state(), before[0]) and (np.random.get_state()[1] == before[1]).all()
            and random.getstate() == before[2]), "the global RNG moved: the cells after it would diverge in the copy"
    return out.getvalue()


def test_every_exercise_is_listed():
    found = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb") if "### BEGIN SOLUTION" in p.read_text())
    assert found == sorted(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_student_copy_of_an_exercise_notebook_still_runs(student_copies, name):
    """What executing the student copy top to bottom checked, without a second execution: (1) it holds the
    notebook's cells unchanged but for the solutions, each replaced by the stub inside its function (nbval
    runs those other cells); (2) every cell parses; (3) nothing but the checker calls uses an exercise
    function; (4) each stub, given to its checker, prints "not attempted yet" and raises nothing — and the
    solution passes the same checker (nbval runs that too: here it shows the checkers touch no global state)."""
    original = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    copy = nbformat.read(student_copies / f"{name}.ipynb", as_version=4)
    assert [c.cell_type for c in copy.cells] == [c.cell_type for c in original.cells]
    exercise_cells = []
    for i, (c, o) in enumerate(zip(copy.cells, original.cells)):
        if c.cell_type != "code":
            continue
        tree = _python(c.source)  # (2)
        if "### BEGIN SOLUTION" in o.source:
            assert c.source == nbtools.strip_solutions(o.source) and STUB in c.source
            exercise_cells.append(i)
        else:
            assert c.source == o.source, f"cell {i} of the student copy differs from the notebook's"  # (1)
    # the exercise functions: the top-level defs a stub replaced the body of; a stub anywhere else (at top
    # level, say) would leave names the later cells need undefined
    defs, solutions = {}, {}
    for i in exercise_cells:
        stubs = [n for n, line in enumerate(copy.cells[i].source.splitlines(), 1) if STUB in line]
        fdefs = [s for s in _python(copy.cells[i].source).body if isinstance(s, ast.FunctionDef)
                 and any(s.lineno < n <= s.end_lineno for n in stubs)]
        assert all(any(s.lineno < n <= s.end_lineno for s in fdefs) for n in stubs), \
            f"cell {i}: a solution outside a top-level function"
        defs.update({s.name: s for s in fdefs})
        solutions.update({s.name: s for s in _python(original.cells[i].source).body
                          if isinstance(s, ast.FunctionDef) and s.name in {f.name for f in fdefs}})
    calls: dict[str, list[ast.stmt]] = {f: [] for f in defs}
    for i, c in enumerate(copy.cells):  # (3)
        if c.cell_type != "code":
            continue
        for stmt in _python(c.source).body:
            if isinstance(stmt, ast.FunctionDef) and stmt.name in defs:
                continue
            used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)} & set(defs)
            if used:
                call = _checker_call(stmt)
                assert call and call[1] in defs, f"cell {i} uses {sorted(used)} other than in a checker call"
                calls[call[1]].append(stmt)
    checkers = sorted(_checker_call(s)[0] for stmts in calls.values() for s in stmts)
    assert checkers == sorted(EXERCISES[name]) and all(calls.values())
    for f, fdef in defs.items():  # (4)
        printed = _run_checker(fdef, calls[f])
        for stmt in calls[f]:
            assert f"{_checker_call(stmt)[0]}: not attempted yet" in printed, printed
        assert "not attempted" not in _run_checker(solutions[f], calls[f])


def test_summary_prints_a_summary_of_a_dataset():
    out = subprocess.run(
        [sys.executable, "-m", "pinsage_edu", "summary", "--dataset", "ml-latest-small"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout
    assert "full data: 6,298 items · 609 collections · 48,580 edges" in out
    assert "pairs train 38,813 / val 4,579 / test 4,579" in out
    assert "features: 6,298 items × 86 features" in out


def test_main_job_names_an_unknown_dataset_and_fails():
    r = subprocess.run([sys.executable, "-m", "pinsage_edu", "--dataset", "no-such-data", "--out", "/nonexistent/x"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1
    assert "unknown dataset 'no-such-data'" in r.stderr


def test_cli_options_before_the_subcommand_are_kept(monkeypatch):
    from pinsage_edu import cli

    seen = {}
    monkeypatch.setattr(cli, "summary", lambda datasets, **kw: seen.update(kw, datasets=datasets) or 0)
    assert cli.main(["--seed", "5", "--min-rating", "3", "summary", "--dataset", "x"]) == 0
    assert seen == {"datasets": ["x"], "min_rating": 3.0, "val_fraction": 0.1, "test_fraction": 0.1, "seed": 5}
    assert cli.main(["summary", "--seed", "7"]) == 0 and seen["seed"] == 7


def test_cli_reports_bad_fractions_without_a_traceback(capsys):
    from pinsage_edu import cli

    assert cli.main(["--dataset", "ml-latest-small", "--val-fraction", "0.6", "--test-fraction", "0.5", "summary"]) == 1
    assert "error: need 0 <= val_fraction" in capsys.readouterr().err


def test_cli_neighbors_prints_the_neighbourhood_and_pixie(capsys):
    from pinsage_edu import cli

    assert cli.main(["neighbors", "--title", "Toy Story (1995)", "-T", "4", "--pixie-steps", "2000"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("== ml-latest-small: Toy Story (1995) (item 0,")
    assert out[1].startswith("importance neighbourhood (T = 4, 200 walks")
    alphas = [float(line.split()[2]) for line in out[2:6]]
    assert abs(sum(alphas) - 1.0) < 0.01 and out[6].startswith("Pixie (2,000 steps)") and len(out) == 11


def test_cli_neighbors_names_a_missing_title(capsys):
    from pinsage_edu import cli

    assert cli.main(["neighbors", "--title", "zzzz no such film"]) == 1
    assert "no item title contains 'zzzz no such film'" in capsys.readouterr().err


def test_cli_train_prints_the_epochs_and_the_baselines(capsys, tmp_path):
    from pinsage_edu import cli

    assert cli.main(["train", "--out", str(tmp_path / "run"), "--epochs", "2", "--steps-per-epoch", "3", "--band", "20", "60", "--batch-size", "64",
                     "--eval-pairs", "200", "--title", "Matrix, The (1999)"]) == 0
    out = capsys.readouterr().out
    assert "val hit@K" in out and "PinSage" in out and "Pixie" in out and "popularity" in out
    assert "nearest items to Matrix, The (1999)" in out and "val pairs 200" in out


def test_cli_train_names_a_bad_band(capsys, tmp_path):
    from pinsage_edu import cli

    assert cli.main(["train", "--out", str(tmp_path / "run"), "--epochs", "2", "--band", "10", "99999"]) == 1
    assert "band" in capsys.readouterr().err


def test_the_course_map_links_every_notebook_and_only_existing_ones():
    import re

    source = (ROOT / "notebooks" / "src" / "00_course_map.py").read_text()
    linked = set(re.findall(r"\]\((\d\d_[a-z_]+)\.ipynb\)", source))
    built = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} - {"00_course_map"}
    assert linked == built, f"linked but missing: {linked - built}; built but not linked: {built - linked}"
