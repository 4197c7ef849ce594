"""Tests mirror the sources: each package's tests sit in `unit/` and `integration/` folders that
repeat the package's own folders, and a test module is named after the one source module it tests.

    ros_ws/src/quadruped_bridge/quadruped_bridge/safety.py  ->  .../test/unit/test_safety.py
    training/fog_training/data/bag_reader.py                ->  training/tests/unit/data/test_bag_reader.py
    training/fog_training/baselines/bptt.py                 ->  training/tests/integration/baselines/test_bptt.py
    ros_ws/src/fog_policy/launch/deploy.launch.py           ->  .../test_launch/test_deploy_launch.py

- `unit/`: one process, no DDS traffic between processes, each test a couple of seconds at most.
  `integration/`: real nodes in separate processes, child processes, or whole pipelines.
- Every source module with logic (a function or a class) has a unit test module named after it,
  except the modules in INTEGRATION_ONLY (ROS nodes and process orchestration, whose logic lives in
  pure modules with their own unit tests), which have an integration test module named after them.
- A test that needs a package above its module's (a dream-node test that builds its world model with
  fog_training) lives in that package's `integration/<module's package>/` folder, e.g.
  training/tests/integration/fog_policy/test_dream_node.py, and counts for fog_policy.dream_node.
- A test module that is about the package as a whole, not one module, is listed in CROSS_CUTTING
  with what it checks. No other names.

Run alone: `python -m pytest tests/test_test_layout.py`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package import name -> (package folder, test folder)
PACKAGES = {
    "fog_contract": (ROOT / "ros_ws/src/fog_contract", ROOT / "ros_ws/src/fog_contract/test"),
    "quadruped_bridge": (ROOT / "ros_ws/src/quadruped_bridge", ROOT / "ros_ws/src/quadruped_bridge/test"),
    "fog_worldmodel": (ROOT / "ros_ws/src/fog_worldmodel", ROOT / "ros_ws/src/fog_worldmodel/test"),
    "fog_policy": (ROOT / "ros_ws/src/fog_policy", ROOT / "ros_ws/src/fog_policy/test"),
    "fog_training": (ROOT / "training", ROOT / "training/tests"),
}
KINDS = ("unit", "integration")
SKIP = {"build", "install", "log", "__pycache__"}

# (package, module path inside the package) -> why an integration test is the right home
INTEGRATION_ONLY = {
    ("quadruped_bridge", "camera_node"): "ROS node: wiring of camera_capture to topics",
    ("quadruped_bridge", "exploration_node"): "ROS node: wiring of exploration to cmd_vel",
    ("quadruped_bridge", "go2_bridge_node"): "ROS node: wiring of sport_mode, safety and go2_lowlevel to DDS",
    ("quadruped_bridge", "recorder_node"): "ROS node: wiring of episode_split and bag writing",
    ("quadruped_bridge", "replay_node"): "ROS node: plays a bag onto the topics",
    ("quadruped_bridge", "sim_node"): "ROS node: wiring of sim and sim_pacing to topics",
    ("quadruped_bridge", "fake_go2_stack"): "starts the fake robot and the bridge as processes",
    ("quadruped_bridge", "process_launch"): "starts and stops child processes",
    ("quadruped_bridge", "ros_probe"): "a live rclpy node that waits on topics",
    ("quadruped_bridge", "sros2_keystore"): "runs the ros2 security CLI as a child process",
    ("fog_policy", "collect"): "starts the simulator, locomotion, exploration and recorder processes",
    ("fog_policy", "deploy"): "starts the deploy processes and maps their exits",
    ("fog_policy", "demo"): "starts the simulator and policy processes",
    ("fog_policy", "dream_node"): "ROS node: serves a world model on the robot's topics",
    ("fog_policy", "dream_task"): "starts the dream node and a policy as processes",
    ("fog_policy", "locomotion_node"): "ROS node: wiring of trot_gait and state_estimator to topics",
    ("fog_policy", "policy_node"): "ROS node: wiring of policy_guard, sensor_inputs and policy_runtime",
    ("fog_policy", "realtime"): "sets the scheduling of a live process",
    ("fog_policy", "task_demo"): "starts the simulator and policy processes for a task",
    ("fog_training", "baselines.bptt"): "a trainer: learns from world models end to end",
    ("fog_training", "baselines.ppo_world_model"): "a trainer: learns from world models end to end",
    ("fog_training", "baselines.sb3_ppo"): "a trainer: learns in the simulator end to end",
    ("fog_training", "fog_trainer"): "a trainer: learns from world models end to end",
    ("fog_training", "task_pipeline"): "collect -> dataset -> models -> policy, end to end",
    ("fog_training", "eval_world_model"): "trains and scores world models end to end",
}

# (package, test file relative to the test folder) -> what it checks
CROSS_CUTTING = {
    ("quadruped_bridge", "unit/test_docker_files.py"): "docker/ images name real entry points and parameters",
    ("quadruped_bridge", "unit/test_launch_files.py"): "every launch file parses and names real executables",
    ("fog_training", "unit/test_bundled_artifacts.py"): "the committed policies and models load and validate",
}


def source_modules(package: str) -> dict[str, Path]:
    """{'data.bag_reader': path, ...}: the package's modules; a package's __init__ counts as the package."""
    root, _ = PACKAGES[package]
    base = root / package
    found = {}
    for p in sorted(base.rglob("*.py")):
        if SKIP & set(p.relative_to(root).parts):
            continue
        rel = p.relative_to(base).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if parts:
            found[".".join(parts)] = p
    return found


def has_logic(path: Path) -> bool:
    """A module has logic when it defines a function or a class (constants and re-exports do not)."""
    tree = ast.parse(path.read_text())
    return any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tree.body)


def launch_files(package: str) -> set[str]:
    root, _ = PACKAGES[package]
    return {p.name.removesuffix(".launch.py") for p in (root / "launch").glob("*.launch.py")}


def files_under_test(package: str) -> list[Path]:
    _, tests = PACKAGES[package]
    return sorted(p for p in tests.rglob("test_*.py") if not SKIP & set(p.relative_to(tests).parts))


def module_of(package: str, test: Path) -> tuple[str, str | None, str]:
    """(kind, module, module's package) a test file mirrors; module None when it mirrors nothing."""
    _, tests = PACKAGES[package]
    rel = test.relative_to(tests)
    kind = rel.parts[0] if len(rel.parts) > 1 else ""
    folders = rel.parts[1:-1]
    owner = package
    if kind == "integration" and folders and folders[0] in PACKAGES and folders[0] != package:
        owner, folders = folders[0], folders[1:]
    name = ".".join((*folders, test.stem.removeprefix("test_")))
    return kind, (name if name in source_modules(owner) else None), owner


def show(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def modules_with_tests() -> dict[tuple[str, str], set[str]]:
    """{(package, module): {kinds}} over every package's tests (a test may live above its module)."""
    tested: dict[tuple[str, str], set[str]] = {}
    for package in PACKAGES:
        for test in files_under_test(package):
            kind, module, owner = module_of(package, test)
            if module is not None and kind in KINDS:
                tested.setdefault((owner, module), set()).add(kind)
    return tested


def problems(package: str) -> list[str]:
    _, tests = PACKAGES[package]
    out = []
    for test in files_under_test(package):
        rel = test.relative_to(tests).as_posix()
        kind, module, _ = module_of(package, test)
        if (package, rel) in CROSS_CUTTING:
            continue
        if kind not in KINDS:
            out.append(f"{show(test)}: not under {show(tests)}/unit or /integration")
        elif module is None:
            out.append(
                f"{show(test)}: mirrors no module of {package} "
                "(name it test_<module>.py in the folder that repeats the module's, or list it in CROSS_CUTTING)"
            )
    tested = modules_with_tests()
    for module, path in source_modules(package).items():
        if not has_logic(path):
            continue
        need = "integration" if (package, module) in INTEGRATION_ONLY else "unit"
        if need not in tested.get((package, module), set()):
            folder = "/".join((need, *module.split(".")[:-1]))
            out.append(f"{show(path)}: no {need} test module ({show(tests)}/{folder}/test_{module.split('.')[-1]}.py)")
    return out


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_tests_mirror_the_sources(package):
    found = problems(package)
    assert not found, f"{package}: tests do not mirror the sources:\n" + "\n".join(found)


def test_the_lists_name_real_modules_and_files():
    stale = [f"INTEGRATION_ONLY {p}.{m}" for p, m in INTEGRATION_ONLY if m not in source_modules(p)]
    stale += [f"CROSS_CUTTING {p}: {f}" for p, f in CROSS_CUTTING if not (PACKAGES[p][1] / f).is_file()]
    assert not stale, "entries that name nothing (remove them):\n" + "\n".join(stale)


def test_launch_files_have_a_test_named_after_them():
    """fog_policy's deploy launch has its launch_pytest test (test_launch/test_deploy_launch.py)."""
    launch_tests = ROOT / "ros_ws/src/fog_policy/test_launch"
    named = {p.stem.removeprefix("test_").removesuffix("_launch") for p in launch_tests.glob("test_*_launch.py")}
    assert "deploy" in launch_files("fog_policy") and "deploy" in named, "test_launch/test_deploy_launch.py"


def test_the_rule_sees_a_misplaced_or_misnamed_test(tmp_path, monkeypatch):
    """The checker itself: a flat test, a test named after nothing and an untested module are reported."""
    pkg = tmp_path / "demo_pkg"
    (pkg / "demo_pkg" / "sub").mkdir(parents=True)
    (pkg / "demo_pkg" / "sub" / "__init__.py").write_text("")
    (pkg / "demo_pkg" / "alpha.py").write_text("def f():\n    return 1\n")
    (pkg / "demo_pkg" / "sub" / "beta.py").write_text("def g():\n    return 2\n")
    (pkg / "demo_pkg" / "consts.py").write_text("X = 1\n")
    (pkg / "test" / "unit" / "sub").mkdir(parents=True)
    (pkg / "test" / "unit" / "sub" / "test_beta.py").write_text("")
    (pkg / "test" / "test_alpha.py").write_text("")
    (pkg / "test" / "unit" / "test_gamma.py").write_text("")
    monkeypatch.setitem(PACKAGES, "demo_pkg", (pkg, pkg / "test"))
    found = problems("demo_pkg")
    assert len(found) == 3, found
    assert any("test/test_alpha.py: not under" in f for f in found), found
    assert any("unit/test_gamma.py: mirrors no module" in f for f in found), found
    assert any("alpha.py: no unit test module" in f for f in found), found
    assert not any("consts" in f or "beta" in f for f in found), found
