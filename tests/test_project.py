"""The project's own promises: one environment described twice, notebooks built from their sources,
student copies that run, and the main job."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

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


@pytest.mark.parametrize("name, checker", [
    ("01_problem_setup", "check_indptr"),
    ("02_importance_neighborhoods", "check_top_t"),
    ("03_convolve", "check_importance_pooling"),
    ("04_minibatch", "check_reindex"),
    ("05_margin_loss", "check_shared_negative_loss"),
    ("07_training_at_scale", "check_warmup_decay"),
    ("08_inference_and_serving", "check_lsh_codes"),
    ("09_experiments", "check_scaled_mrr"),
    ("10_scale_up", "check_shard_range"),
])
def test_student_copy_of_an_exercise_notebook_still_runs(tmp_path, name, checker):
    from nbconvert.preprocessors import ExecutePreprocessor

    nbtools.student(tmp_path)
    nb = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    ExecutePreprocessor(timeout=600, kernel_name="python3").preprocess(nb, {"metadata": {"path": str(tmp_path)}})
    texts = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"{checker}: not attempted yet" in texts


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


def test_cli_train_prints_the_epochs_and_the_baselines(capsys):
    from pinsage_edu import cli

    assert cli.main(["train", "--epochs", "2", "--steps-per-epoch", "3", "--band", "20", "60", "--batch-size", "64",
                     "--eval-pairs", "200", "--title", "Matrix, The (1999)"]) == 0
    out = capsys.readouterr().out
    assert "val hit@K" in out and "PinSage" in out and "Pixie" in out and "popularity" in out
    assert "nearest items to Matrix, The (1999)" in out and "val pairs 200" in out


def test_cli_train_names_a_bad_band(capsys):
    from pinsage_edu import cli

    assert cli.main(["train", "--epochs", "2", "--band", "10", "99999"]) == 1
    assert "band" in capsys.readouterr().err


def test_the_course_map_links_every_notebook_and_only_existing_ones():
    import re

    source = (ROOT / "notebooks" / "src" / "00_course_map.py").read_text()
    linked = set(re.findall(r"\]\((\d\d_[a-z_]+)\.ipynb\)", source))
    built = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} - {"00_course_map"}
    assert linked == built, f"linked but missing: {linked - built}; built but not linked: {built - linked}"
