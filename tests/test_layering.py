"""One direction: no package imports, starts or names by process a package above it.

The layers, bottom to top (ARCHITECTURE's data flow):

    fog_contract       the robot contract: joints, topics, proprio features, image resize (pure Python)
    quadruped_bridge   robot I/O: simulator, Go2 bridge, safety layer, recorder, replay, camera
    fog_worldmodel     the world models (torch), no ROS
    fog_policy         on the robot: locomotion controller, policy and dream nodes, deploy, collect, demos
    fog_training       offline: datasets, training, export, pipelines, the `fog` CLI

quadruped_bridge and fog_worldmodel are peers: neither uses the other. Every Python file of a
package counts, its tests and launch files included: a test that needs a package above it belongs
to that package's tests (or uses committed data, like fog_policy's untrained artifact).
benchmarks/, scripts/ and this folder sit above everything.

What counts as a use: an import, and a string that names a module or a ROS package to start, e.g.
`node_command("fog_policy.locomotion_node")`, `[sys.executable, "-m", "fog_training.cli"]`,
`Node(package="fog_policy", executable=...)`. Prose in docstrings and comments does not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYER = {"fog_contract": 0, "quadruped_bridge": 1, "fog_worldmodel": 1, "fog_policy": 2, "fog_training": 3}
TREES = {
    "fog_contract": ROOT / "ros_ws/src/fog_contract",
    "quadruped_bridge": ROOT / "ros_ws/src/quadruped_bridge",
    "fog_worldmodel": ROOT / "ros_ws/src/fog_worldmodel",
    "fog_policy": ROOT / "ros_ws/src/fog_policy",
    "fog_training": ROOT / "training",
}
MODULE_STRING = re.compile(r"^(" + "|".join(LAYER) + r")(\.[A-Za-z_]\w*)+(:\w+)?$")


def uses(source: str, filename: str = "<source>") -> list[tuple[int, str, str]]:
    """(line, package, how) for every use of a stack package in a Python source."""
    tree = ast.parse(source, filename=filename)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[0], f"import {a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module.split(".")[0], f"from {node.module} import ..."))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if MODULE_STRING.match(node.value):
                out.append((node.lineno, node.value.split(".")[0], f"names {node.value!r}"))
        elif isinstance(node, ast.keyword) and node.arg == "package" and isinstance(node.value, ast.Constant):
            out.append((node.lineno, str(node.value.value), f"package={node.value.value!r}"))
    return [u for u in out if u[1] in LAYER]


def violations(package: str, source: str, filename: str = "<source>") -> list[str]:
    return [
        f"{filename}:{line}: {package} (layer {LAYER[package]}) {how}: {used} is "
        + ("a peer" if LAYER[used] == LAYER[package] else "above it")
        for line, used, how in uses(source, filename)
        if used != package and LAYER[used] >= LAYER[package]
    ]


def python_files(tree: Path):
    skip = {"build", "install", "log", "__pycache__"}
    return sorted(p for p in tree.rglob("*.py") if not skip & set(p.relative_to(tree).parts))


@pytest.mark.parametrize("package", sorted(LAYER))
def test_no_package_uses_one_above_it(package):
    files = python_files(TREES[package])
    assert files, f"no Python files under {TREES[package]}"
    found = [v for f in files for v in violations(package, f.read_text(), str(f.relative_to(ROOT)))]
    assert not found, "wrong-way dependencies:\n" + "\n".join(found)


def test_the_check_sees_imports_process_names_and_launch_packages():
    """The checker itself: each kind of wrong-way use is reported, docstrings and downward uses are not."""
    source = '''"""Mentions fog_training.cli in prose only."""
import fog_policy.locomotion_node
from fog_training.export import validate_artifact
from quadruped_bridge.safety import SafetyLayer
cmd = node_command("fog_policy.locomotion_node", {})
argv = [sys.executable, "-m", "fog_training.cli"]
node = Node(package="fog_policy", executable="locomotion_node")
'''
    found = violations("quadruped_bridge", source)
    assert len(found) == 5, found
    assert not violations("fog_training", source)
    assert [v.split(": ", 1)[1] for v in violations("fog_worldmodel", "import quadruped_bridge")] == [
        "fog_worldmodel (layer 1) import quadruped_bridge: quadruped_bridge is a peer"
    ]


CONTRACT_MAY_IMPORT = {"numpy", "cv2", "fog_contract", "pytest", "setuptools"}
# imported inside a function only, when a compressed MCAP chunk appears (fog_contract.mcap_scan)
CONTRACT_MAY_IMPORT_LAZILY = {"lz4", "zstandard", "backports", "compression"}


def test_the_contract_is_pure_python():
    """fog_contract imports the standard library, numpy and cv2 only: no ROS, no torch, so every
    layer (and a tool without ROS) can use it. The MCAP scanner's decompressors are imported lazily."""
    import sys

    found = []
    for f in python_files(TREES["fog_contract"]):
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            lazy = node not in tree.body
            for name in names:
                top = name.split(".")[0]
                allowed = CONTRACT_MAY_IMPORT | (CONTRACT_MAY_IMPORT_LAZILY if lazy else set())
                if top not in allowed and top not in sys.stdlib_module_names:
                    found.append(f"{f.relative_to(ROOT)}:{node.lineno}: import {name}")
    assert not found, "fog_contract must stay pure Python (stdlib, numpy, cv2):\n" + "\n".join(found)
