#!/usr/bin/env python3
"""Set up and run pinsage_edu with nothing but Python: ``python3 tasks.py run | test | lab | student |
instructor | slides | setup``.

Every command first makes sure ``.venv`` exists and holds torch 2.13.0 and this package with its
dependencies (it reinstalls only when ``pyproject.toml`` or this file changed), then:

* ``run``   — the main job (``python -m pinsage_edu``),
* ``test``  — the library tests and every notebook under nbval (classroom size), in one pytest run
  spread over pytest-xdist workers (one per CPU, at most 4); with extra arguments
  (``tasks.py test -k graph``, ``tasks.py test -m "not slow"``) only the library tests run, in one
  process, with those arguments,
* ``lab``   — JupyterLab on ``notebooks/`` (with ``--allow-root`` when run as root, as in containers
  and Colab-like hosts, where Jupyter refuses to start without it),
* ``student`` / ``instructor`` — the notebooks' student edition (as committed: exercises as stubs,
  every figure kept) or instructor edition (the solutions in place, with their checkers' output) in
  ``build/student_notebooks`` / ``build/instructor_notebooks`` (or the folder given),
* ``slides`` — a reveal.js deck per notebook in ``build/slides`` (open ``NN_name.slides.html``),
* ``setup`` — nothing more.

Extra arguments after the command go to the program it runs (``tasks.py test -k graph``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
# The same pin everywhere: pip takes the CPU build where one is on local disk (this project's dev and
# CI machines); from PyPI alone it is the default (CUDA on Linux x86-64) build.
TORCH = "torch==2.13.0"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def sh(*args: str | os.PathLike) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=ROOT, check=True)


def install_message(reinstall: bool) -> str:
    """What ``setup`` is about to install, said before pip's long quiet steps (``reinstall``: .venv was
    installed before, but pyproject.toml or this file changed since)."""
    why = "pyproject.toml or tasks.py changed since .venv was set up: reinstalling.\n" if reinstall else ""
    return (f"{why}installing into {VENV.name}: {TORCH} (a CPU build where pip finds one on local disk; from PyPI\n"
            "the default build, CUDA on Linux x86-64, several GB), then pinsage_edu[dev]: its dependencies,\n"
            "JupyterLab and the test tools. A few minutes, more when torch comes from PyPI; pip is quiet\n"
            "until each step ends.")


def setup() -> None:
    """Create .venv and install what the project needs, unless it is already there and current."""
    stamp = VENV / ".pinsage_edu-installed"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + Path(__file__).read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and PY.exists():
        return
    reinstall = stamp.exists()  # installed before, from another pyproject.toml or tasks.py
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except subprocess.CalledProcessError:
            sys.exit("could not create .venv with pip: on Debian/Ubuntu install the python3-venv package "
                     "(apt install python3-venv), then run this command again")
    print(install_message(reinstall), flush=True)
    pip = [PY, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
    sh(*pip, "--upgrade", "pip")
    sh(*pip, TORCH)  # first, so the package's "torch>=2.2" is already met and nothing bigger is fetched
    constraints = VENV / "constraints.txt"  # and no dependency may move it to another release
    constraints.write_text(TORCH + "\n")
    sh(*pip, "-c", constraints, "-e", ".[dev]")
    sh(PY, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3", "--display-name", "Python 3 (pinsage_edu)")
    stamp.write_text(want)


def is_root() -> bool:
    """Whether this process runs as root (never on Windows, which has no user ids)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(extra: list[str]) -> list[str]:
    """The JupyterLab command line for ``tasks.py lab``: ``--allow-root`` added (and said) when running as
    root, since Jupyter refuses to start as root without it."""
    cmd = [str(BIN / "jupyter"), "lab", "notebooks/", *extra]
    if is_root() and "--allow-root" not in extra:
        print("running as root (a container or Colab-like host): starting JupyterLab with --allow-root", flush=True)
        cmd.append("--allow-root")
    return cmd


def save_widget_state(prefix: Path = VENV) -> Path:
    """Turn on JupyterLab's "Save Jupyter widget state in notebooks" for this environment (a settings
    override under ``prefix``, other overrides kept): a notebook saved with a live explorer then keeps its
    widget's state, and shows it again after a kernel restart instead of "Error displaying widget: model
    not found"."""
    import json

    path = prefix / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    settings = json.loads(path.read_text()) if path.exists() else {}
    settings.setdefault("@jupyter-widgets/jupyterlab-manager:plugin", {})["saveState"] = True
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2) + "\n")
    return path


# nbval: a cell fails after 600 s, a limit no classroom cell should come near: notebooks/conftest.py warns
# (in the summary) about any cell past half of it, before a loaded machine could reach it.
NBVAL = [
    "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "notebooks/nbval_sanitize.cfg",
    "--nbval-cell-timeout", "600",
]


def cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's share, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def suite_command() -> tuple[list[str], dict[str, str]]:
    """The whole suite as one pytest run, and the environment it needs.

    One pytest-xdist worker per CPU, at most 4 (the longest notebook, 09, takes about three minutes
    of the total: more workers only add memory). Every cell of a notebook goes to one worker, in
    order, with its one kernel (``--dist loadscope``; notebooks/conftest.py's scheduler refines it:
    each library test goes wherever a worker is free, the notebooks first). Each worker computes with
    its share of the cores (``OMP_NUM_THREADS``: torch, and the notebook kernels it starts), so two
    workers on two cores don't fight over them."""
    workers = max(1, min(cpus(), 4))
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.setdefault("OMP_NUM_THREADS", str(max(1, cpus() // workers)))
    xdist = ["-n", str(workers), "--dist", "loadscope"] if workers > 1 else []
    return [str(PY), "-m", "pytest", *xdist, *NBVAL, "--durations", "30", "notebooks", "tests"], env


def main(argv: list[str]) -> int:
    cmd, extra = (argv[0], argv[1:]) if argv else ("run", [])
    if cmd not in {"setup", "run", "test", "lab", "student", "instructor", "slides"}:
        print(__doc__)
        return 2
    setup()
    if cmd == "setup":
        return 0
    env = dict(os.environ, PYTHONHASHSEED="0")
    if cmd == "run":
        return subprocess.run([str(PY), "-m", "pinsage_edu", *extra], cwd=ROOT, env=env).returncode
    if cmd == "lab":
        save_widget_state()
        return subprocess.run(lab_command(extra), cwd=ROOT, env=env).returncode
    if cmd in ("student", "instructor", "slides"):  # the course's editions and decks: tools/notebooks.py
        return subprocess.run([str(PY), str(ROOT / "tools" / "notebooks.py"), cmd, *extra], cwd=ROOT,
                              env=env).returncode
    # test: extra arguments (-k, -m "not slow", a test path) select library tests, run as given; they
    # would deselect every notebook cell. Without them: everything, the notebooks as a student runs them.
    if extra:
        return subprocess.run([str(PY), "-m", "pytest", *extra], cwd=ROOT, env=env).returncode
    cmd, env = suite_command()
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
