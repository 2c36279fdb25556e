"""The package's shape: one paper idea per module, imports only downward.

Read from the source with ``ast`` (nothing is imported for (a)–(d)): every ``from .x import …``,
``from . import x``, ``import pinsage_edu.x`` and ``from pinsage_edu.x import …`` anywhere in a module —
at the top, inside functions, under ``if TYPE_CHECKING:`` — is an edge x ← module, with no exception
(a lower module keeps no shim for a name that moved up; (e) checks the names a higher module re-exports).

(a) the import graph has no cycle; (b) no module imports another module's underscore name; (c) a
module imports only modules of its own layer or below (:data:`LAYERS`); (d) the README's module map
lists exactly the modules in ``pinsage_edu/``.
"""

from __future__ import annotations

import ast
import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "pinsage_edu"
PACKAGE = "__init__"  # the package itself, as a node of the graph

# Lowest first. A module may import from its own layer and the layers before it, never after.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("utils", "threads"),                               # shared checks, CSR arithmetic, seeding; CPU threads
    ("graph",),                                         # §3.1 the bipartite graph
    ("data",),                                          # §4.1 containers, synthetic data, splits
    ("loaders", "features", "walks"),                   # file formats; item features; §3.2 walks, PPR
    ("minibatch", "negatives", "convolve", "loss"),     # §3.2 Alg. 2; §3.3 negatives; Alg. 1; loss
    ("model",),                                         # §3.2 PinSage
    ("metrics", "checkpoint", "distributed"),           # §4 measures; run files; process groups
    ("inference", "knn"),                               # §3.4 (training's validation embeds and ranks)
    ("producer", "runs"),                               # §3.3 minibatches and their producer; run folder
    ("train",),                                         # §3.3 training at scale
    ("baselines",),                                     # §4 popularity, content, item-kNN, Pixie
    ("evaluate",),                                      # §4 experiments, Table 1, runtime tables
    ("regimes", "viz", "widgets", "exercises"),         # where the choices pay off; notebook helpers
    ("cli",),                                           # python -m pinsage_edu …
    (PACKAGE, "__main__"),                              # the package's own names; the entry point
)
LEVEL = {m: i for i, layer in enumerate(LAYERS) for m in layer}

MODULES = sorted(p.stem for p in PKG.glob("*.py"))


def _target(module: str, dotted: str | None, level: int) -> str | None:
    """The package module an import refers to (``__init__`` for the package), or None if outside."""
    if level == 1:
        name = dotted or ""
    elif level == 0 and dotted is not None and (dotted == "pinsage_edu" or dotted.startswith("pinsage_edu.")):
        name = dotted[len("pinsage_edu."):] if dotted != "pinsage_edu" else ""
    elif level > 1:
        raise AssertionError(f"{module}: relative import beyond the package (level {level})")
    else:
        return None
    head = name.split(".")[0]
    return head if head else PACKAGE


def imports(module: str) -> list[tuple[str, str | None, int]]:
    """``(target module, imported name or None, line)`` for every import of the package in ``module``."""
    tree = ast.parse((PKG / f"{module}.py").read_text(encoding="utf-8"))
    out: list[tuple[str, str | None, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _target(module, node.module, node.level)
            if target is None:
                continue
            for alias in node.names:
                if target == PACKAGE and alias.name in MODULES:  # from . import walks
                    out.append((alias.name, None, node.lineno))
                else:
                    out.append((target, alias.name, node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                target = _target(module, alias.name, 0)
                if target is not None:
                    out.append((target, None, node.lineno))
        elif (isinstance(node, ast.Call) and node.args
              and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            name = node.args[0].value  # importlib.import_module("pinsage_edu.x") or (".x", package)
            target = _target(module, name.lstrip("."), 1 if name.startswith(".") else 0)
            if target is not None:
                out.append((target, None, node.lineno))
    return out


def module_aliases(module: str) -> dict[str, str]:
    """Local names bound to package modules (``from . import walks as W``): name → module."""
    tree = ast.parse((PKG / f"{module}.py").read_text(encoding="utf-8"))
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and _target(module, node.module, node.level) == PACKAGE:
            out.update({a.asname or a.name: a.name for a in node.names if a.name in MODULES})
        elif isinstance(node, ast.Import):
            out.update({a.asname: a.name.split(".")[1] for a in node.names
                        if a.asname and _target(module, a.name, 0) not in (None, PACKAGE)})
    return out


def graph() -> dict[str, set[str]]:
    return {m: {t for t, _, _ in imports(m) if t != m} for m in MODULES}


def test_the_module_list_is_what_the_package_holds():
    assert {"data", "loaders", "walks", "metrics", "baselines", "evaluate", "train", "utils", "cli"} <= set(MODULES)
    for m in MODULES:  # every import names a module that exists
        for target, _, line in imports(m):
            assert target in MODULES, f"pinsage_edu/{m}.py:{line} imports {target!r}, not a module of the package"


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(g[m]):
            if state.get(t) == 1:
                cycle = path[path.index(t):] + [t]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in MODULES:
        if m not in state:
            visit(m)


def test_the_cycle_test_sees_function_level_and_type_checking_imports(tmp_path, monkeypatch):
    """The detector itself: a cycle through an import inside a function or under TYPE_CHECKING counts."""
    pkg = tmp_path / "pinsage_edu"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n")
    (pkg / "b.py").write_text("def f():\n    from .a import A\n")
    (pkg / "c.py").write_text("def __getattr__(name):\n    from . import a\n    return a\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", pkg)
    monkeypatch.setattr(sys.modules[__name__], "MODULES", ["__init__", "a", "b", "c"])
    assert graph() == {"__init__": set(), "a": {"b"}, "b": {"a"}, "c": {"a"}}  # a lazy import is an import
    with pytest.raises(pytest.fail.Exception, match="import cycle: a → b → a"):
        test_no_import_cycles()


def test_no_module_imports_another_modules_private_names():
    bad = []
    for m in MODULES:
        for target, name, line in imports(m):
            if target != m and name is not None and name.startswith("_") and not name.startswith("__"):
                bad.append(f"pinsage_edu/{m}.py:{line} imports {name} from {target}")
        aliases = module_aliases(m)
        tree = ast.parse((PKG / f"{m}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"pinsage_edu/{m}.py:{node.lineno} uses {node.value.id}.{node.attr}")
    assert not bad, "private names used across modules (make them public in utils or their module):\n" + "\n".join(bad)


def test_every_module_has_a_layer_and_imports_only_downward():
    missing = [m for m in MODULES if m not in LEVEL]
    assert not missing, f"give these modules a layer in LAYERS (tests/test_architecture.py): {missing}"
    upward = []
    for m in MODULES:
        for target, name, line in imports(m):
            if LEVEL[target] > LEVEL[m]:
                what = f"{name} from {target}" if name else target
                upward.append(f"pinsage_edu/{m}.py:{line} (layer {LEVEL[m]}) imports {what} (layer {LEVEL[target]})")
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def readme_modules() -> list[str]:
    """The modules the README's map ("What is here") names: ``pinsage_edu/x.py``, ``y.py`` in a row's first cell."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## What is here"):]
    section = section[:section.index("\n## ", 1)]
    out = []
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 2 and "`pinsage_edu/" in cells[1]:
            out += [Path(p).stem for p in re.findall(r"`([\w/]+\.py)`", cells[1])]
    return out


def test_the_readme_module_map_lists_exactly_the_modules():
    listed = readme_modules()
    assert len(listed) == len(set(listed)), f"listed twice in the README's module map: {listed}"
    modules = {m for m in MODULES if not m.startswith("__")}
    assert set(listed) == modules, (f"README module map: missing {sorted(modules - set(listed))}, "
                                    f"stale {sorted(set(listed) - modules)}")


@pytest.mark.parametrize("module, name, home", [
    ("evaluate", "hit_rate", "metrics"),
    ("evaluate", "target_ranks", "metrics"),
    ("evaluate", "Metrics", "metrics"),
    ("evaluate", "EmbeddingRecommender", "metrics"),
    ("evaluate", "similarity_kurtosis", "metrics"),
    ("evaluate", "ItemKNNRecommender", "baselines"),
    ("evaluate", "PixieRecommender", "baselines"),
    ("evaluate", "content_baselines", "baselines"),
    ("evaluate", "popularity_recommendations", "baselines"),
    ("pinsage_edu", "pixie_recommend", "baselines"),
    ("pinsage_edu", "load_dataset", "loaders"),
])
def test_names_that_moved_still_import_from_their_old_module(module, name, home):
    old = importlib.import_module(module if module == "pinsage_edu" else f"pinsage_edu.{module}")
    assert getattr(old, name) is getattr(importlib.import_module(f"pinsage_edu.{home}"), name)


def test_one_data_error():
    from pinsage_edu import data

    assert data.DataError is importlib.import_module("pinsage_edu.loaders").DataError
