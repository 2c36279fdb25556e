"""The project's own promises: one environment described twice, notebooks built from their sources,
student copies that run, and the main job."""

from __future__ import annotations

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
    assert "val hit@k" in out and "PinSage" in out and "Pixie" in out and "popularity" in out
    assert "nearest items to Matrix, The (1999)" in out and "val pairs 200" in out


def test_cli_train_names_a_bad_band(capsys, tmp_path):
    from pinsage_edu import cli

    assert cli.main(["train", "--out", str(tmp_path / "run"), "--epochs", "2", "--band", "10", "99999"]) == 1
    assert "band" in capsys.readouterr().err


def test_the_course_map_links_every_notebook_and_only_existing_ones():
    import re

    source = (ROOT / "notebooks" / "src" / "00_course_map.py").read_text()
    linked = set(re.findall(r"\]\((\d\d[a-z]?_[a-z_]+)\.ipynb\)", source))
    built = {p.stem for p in (ROOT / "notebooks").glob("*.ipynb")} - {"00_course_map"}
    assert linked == built, f"linked but missing: {linked - built}; built but not linked: {built - linked}"


def test_every_notebook_links_the_notation_table_in_its_first_cell():
    course_map = (ROOT / "notebooks" / "src" / "00_course_map.py").read_text()
    assert "\n# ## Notation and glossary\n" in course_map  # the anchor #Notation-and-glossary
    for p in sorted((ROOT / "notebooks" / "src").glob("*.py")):
        if p.stem != "00_course_map":
            first = nbtools.parse(p.read_text())[0]
            assert first.cell_type == "markdown" and "](00_course_map.ipynb#Notation-and-glossary)" in first.source, p
