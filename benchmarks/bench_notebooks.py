"""Each notebook's classroom run time and peak memory, for the course map (notebooks/00_course_map.ipynb).

Runs every committed notebook (or the ones named) top to bottom once under nbval, one at a time, with
``/usr/bin/time -v`` around the run and pytest's junit report for the slowest cell, and rewrites the
``classroom`` entries of ``benchmarks/results/notebook_times.json`` (the ``full`` entries, which record
full-size runs, are kept). By hand, on a quiet machine:

    .venv/bin/python benchmarks/bench_notebooks.py [NAMES...]
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "notebook_times.json"
COMMAND = ("OMP_NUM_THREADS=1 PYTHONHASHSEED=0 PINSAGE_EDU_SIZE=classroom /usr/bin/time -v .venv/bin/python -m pytest "
           "-q -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg "
           "--junitxml=NAME.xml notebooks/NAME.ipynb   (from the repository root, one notebook at a time; "
           "benchmarks/bench_notebooks.py)")


def code_sha256(path: Path) -> str:
    """The fingerprint 00_course_map compares: the code cells joined by '\\n# %%\\n', SHA-256, 16 hex digits."""
    cells = json.loads(path.read_text())["cells"]
    source = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells
              if c["cell_type"] == "code"]
    return hashlib.sha256("\n# %%\n".join(source).encode()).hexdigest()[:16]


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def measure(name: str) -> dict:
    path = ROOT / "notebooks" / f"{name}.ipynb"
    sha, started, load0 = code_sha256(path), datetime.datetime.now(datetime.timezone.utc), load()
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0", PINSAGE_EDU_SIZE="classroom")
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / f"{name}.xml"
        run = subprocess.run(["/usr/bin/time", "-v", str(ROOT / ".venv" / "bin" / "python"), "-m", "pytest", "-q",
                              "-p", "no:cacheprovider", "--nbval-lax", "--nbval-current-env", "--nbval-sanitize-with",
                              "notebooks/nbval_sanitize.cfg", f"--junitxml={junit}", str(path.relative_to(ROOT))],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        cases = ET.parse(junit).getroot().iter("testcase")
        times = [float(c.get("time", 0)) for c in cases]
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", run.stderr)
    h, m, s = (float(x) if x else 0.0 for x in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", run.stderr).group(1))
    return {"wall_s": round(3600 * h + 60 * m + s, 1), "peak_rss_mib": round(rss / 1024), "slowest_cell_s":
            round(max(times), 1), "cells": len(times), "passed": run.returncode == 0, "code_sha256": sha,
            "started": started.isoformat(timespec="seconds"), "load_1min_at_start": load0,
            "load_1min_at_end": load()}


def main(names: list[str]) -> int:
    names = names or sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    record = json.loads(RESULTS.read_text())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "notebooks"], cwd=ROOT, capture_output=True, text=True)
    for name in names:
        r = measure(name)
        record["classroom"][name] = r
        print(f"{name:<28} {r['wall_s']:7.1f} s  {r['peak_rss_mib']:6} MiB  slowest cell {r['slowest_cell_s']:5.1f} s  "
              f"{'passed' if r['passed'] else 'FAILED'}", flush=True)
    record["date"] = datetime.date.today().isoformat()
    record["git_commit"] = commit.stdout.strip() + (" plus uncommitted notebooks" if dirty.stdout.strip() else "")
    record["command"] = COMMAND
    record["machine"]["python"] = platform.python_version()
    RESULTS.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return 0 if all(record["classroom"][n]["passed"] for n in names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
