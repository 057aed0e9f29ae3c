"""Every module of mfp_plugin and model_zoo imports on its own, and the command line layers stay acyclic.

* Fresh-import check: one subprocess imports each module with ``importlib``
  after removing every ``mfp_plugin``/``model_zoo`` module from ``sys.modules``
  (torch and other third-party packages stay loaded: that is what makes one
  process much faster than one per module). A module that only imports when
  another one happened to be imported first fails here.
* Import-graph check (AST, every ``import`` anywhere in a file, lazy ones
  included): ``mfp_plugin.engine`` never imports ``mfp_plugin.cli``; the
  modules of ``cli`` and ``engine`` have no import cycle; ``bench/`` and
  ``scripts/`` use the engine, never ``mfp_plugin.cli``.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("mfp_plugin", "model_zoo")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def package_modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            if path.name != "__main__.py" and "__pycache__" not in path.parts:
                out[module_name(path)] = path
    return out


_IMPORT_EACH = r"""
import importlib, json, sys, traceback
failed = {}
for name in json.loads(sys.argv[1]):
    for key in [k for k in sys.modules if k.split(".")[0] in ("mfp_plugin", "model_zoo")]:
        del sys.modules[key]
    try:
        importlib.import_module(name)
    except BaseException:
        failed[name] = traceback.format_exc(limit=-3)
print(json.dumps(failed))
"""


def test_every_module_imports_alone():
    names = sorted(package_modules())
    assert "mfp_plugin.engine.trainer" in names and "mfp_plugin.cli.train" in names
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")
    r = subprocess.run([sys.executable, "-c", _IMPORT_EACH, json.dumps(names)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    failed = json.loads(r.stdout.strip().splitlines()[-1])
    assert not failed, "\n".join(f"{k}:\n{v}" for k, v in failed.items())


def _resolve(node: ast.ImportFrom, importer: str, is_pkg: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".") if is_pkg else importer.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path, importer: str, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``path`` imports anywhere (``from pkg import sub`` counts as ``pkg.sub``)."""
    is_pkg = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, importer, is_pkg)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:  # the longest known prefix: "mfp_plugin.engine.x.y" -> "mfp_plugin.engine.x"
            parts = t.split(".")
            hit = next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in known), None)
            if hit is not None and hit != importer:
                out.add(hit)
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str]:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return []

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return []


def layer_graph() -> dict[str, set[str]]:
    mods = package_modules()
    layer = {n: p for n, p in mods.items() if n.startswith(("mfp_plugin.cli", "mfp_plugin.engine"))}
    return {n: imports_of(p, n, set(layer)) for n, p in layer.items()}


def test_engine_never_imports_cli_and_cli_engine_graph_is_acyclic():
    graph = layer_graph()
    assert "mfp_plugin.engine.trainer" in graph["mfp_plugin.engine"]  # the graph does see imports
    bad = {n: sorted(d for d in deps if d.startswith("mfp_plugin.cli"))
           for n, deps in graph.items() if n.startswith("mfp_plugin.engine")}
    assert not any(bad.values()), bad
    assert find_cycle(graph) == []


def test_cycle_finder_finds_a_planted_cycle():
    # the check above must be able to fail: the old cli/train <-> cli/evaluate pair was such a cycle
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_bench_and_scripts_use_the_engine_not_the_cli():
    known = {"mfp_plugin.cli", "mfp_plugin.engine"}
    users = {}
    for folder in ("bench", "scripts"):
        for path in sorted((REPO / folder).glob("*.py")):
            users[f"{folder}/{path.name}"] = imports_of(path, module_name(path), known)
    assert not [f for f, deps in users.items() if "mfp_plugin.cli" in deps], users
    assert users["bench/train_step.py"] == {"mfp_plugin.engine"}
    assert "mfp_plugin.engine" in users["scripts/publish_checkpoint.py"]
