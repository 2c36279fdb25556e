#!/usr/bin/env python3
"""Set up and run pinsage_edu with nothing but Python: ``python3 tasks.py run | test | lab | setup``.

Every command first makes sure ``.venv`` exists and holds torch 2.13.0 and this package with its
dependencies (it reinstalls only when ``pyproject.toml`` or this file changed), then:

* ``run``   — the main job (``python -m pinsage_edu``),
* ``test``  — the library tests, then every notebook under nbval (classroom size); with extra
  arguments (``tasks.py test -k graph``) only the library tests run, with those arguments,
* ``lab``   — JupyterLab on ``notebooks/`` (with ``--allow-root`` when run as root, as in containers
  and Colab-like hosts, where Jupyter refuses to start without it),
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
    sh(*pip, "-e", ".[dev]")
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


NBVAL = [
    "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with", "notebooks/nbval_sanitize.cfg",
    "--nbval-cell-timeout", "600", "--durations", "0",
]


def main(argv: list[str]) -> int:
    cmd, extra = (argv[0], argv[1:]) if argv else ("run", [])
    if cmd not in {"setup", "run", "test", "lab"}:
        print(__doc__)
        return 2
    setup()
    if cmd == "setup":
        return 0
    env = dict(os.environ, PYTHONHASHSEED="0")
    if cmd == "run":
        return subprocess.run([str(PY), "-m", "pinsage_edu", *extra], cwd=ROOT, env=env).returncode
    if cmd == "lab":
        return subprocess.run(lab_command(extra), cwd=ROOT, env=env).returncode
    # test: the library first (fast, precise failures), then the notebooks as a student runs them.
    # Extra arguments (-k, a test path) select library tests; they would deselect every notebook cell.
    rc = subprocess.run([str(PY), "-m", "pytest", *(extra or ["tests"])], cwd=ROOT, env=env).returncode
    if rc != 0 or extra:
        return rc
    return subprocess.run([str(PY), "-m", "pytest", *NBVAL, "notebooks"], cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
