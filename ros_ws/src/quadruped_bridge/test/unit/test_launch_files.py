"""Every launch file in the workspace compiles, and every executable and file it names is installed.

ROS 2's `launch` is not installable from PyPI, so the launch files cannot run here; these checks
catch what breaks them most often (a renamed executable, a missing config file). They run for
real wherever `ros2 launch` is installed (the Docker image, the robot).
"""

import ast
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_prefix, get_package_share_directory

SRC = Path(__file__).resolve().parents[3]
LAUNCH_FILES = sorted(SRC.glob("*/launch/*.launch.py"))


PACKAGES = {p.name for p in SRC.iterdir() if (p / "package.xml").exists()}


def node_calls(tree):
    # executables given as constant (package, executable, ...) tuples, e.g. a table of backends
    for tup in ast.walk(tree):
        if isinstance(tup, ast.Tuple) and len(tup.elts) >= 2 and all(isinstance(e, ast.Constant) for e in tup.elts[:2]):
            if tup.elts[0].value in PACKAGES and isinstance(tup.elts[1].value, str):
                yield tup.elts[0].value, tup.elts[1].value
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and getattr(call.func, "id", getattr(call.func, "attr", None)) == "Node":
            kw = {k.arg: k.value for k in call.keywords}
            if isinstance(kw.get("package"), ast.Constant) and isinstance(kw.get("executable"), ast.Constant):
                yield kw["package"].value, kw["executable"].value


def test_there_are_launch_files():
    names = {p.name for p in LAUNCH_FILES}
    assert {"sim.launch.py", "record.launch.py", "deploy.launch.py"} <= names


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_launch_file_compiles_and_names_installed_executables(path):
    source = path.read_text()
    tree = ast.parse(source, filename=str(path))
    compile(tree, str(path), "exec")
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    package = path.parent.parent.name
    installed = Path(get_package_share_directory(package)) / "launch" / path.name
    assert installed.exists(), f"{path.name} is not installed into share/{package}/launch (run make setup)"
    calls = list(node_calls(tree))
    assert calls, f"{path.name} starts no node"
    for pkg, exe in calls:
        exe_path = Path(get_package_prefix(pkg)) / "lib" / pkg / exe
        assert exe_path.exists(), f"{path.name}: executable {pkg}/{exe} is not installed"
    for const in ast.walk(tree):
        if isinstance(const, ast.Constant) and isinstance(const.value, str) and const.value.endswith(".yaml"):
            assert (Path(get_package_share_directory(package)) / "config" / Path(const.value).name).exists(), (
                f"{path.name} references {const.value}, not installed in share/{package}/config"
            )


LAUNCH_TESTS = sorted(SRC.glob("*/test_launch/test_*.py"))


def test_launch_tests_for_ros_installs_compile_and_have_their_artifact():
    """The launch_pytest tests run only where ROS 2's launch is installed (Docker image): here,
    at least they must compile and find the artifact they deploy."""
    assert LAUNCH_TESTS, "no launch_pytest tests found"
    for path in LAUNCH_TESTS:
        compile(path.read_text(), str(path), "exec")
        artifact = path.parent.parent / "test_data" / "untrained_artifact"
        assert (artifact / "policy.onnx").exists() and (artifact / "policy_meta.json").exists()


@pytest.mark.parametrize("path", LAUNCH_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_launch_file_applies_the_network_policy(path):
    """Every launch file sets the ROS domain and discovery range of what it starts (localhost unless
    network:=lan) through quadruped_bridge.network_policy, and offers both as arguments."""
    source = path.read_text()
    tree = ast.parse(source)
    if "launch_arguments()" in source:
        assert "network_policy.launch_environment" in source, path.name
    else:
        declared = {c.args[0].value: c for c in ast.walk(tree) if isinstance(c, ast.Call)
                    and getattr(c.func, "id", "") == "DeclareLaunchArgument" and isinstance(c.args[0], ast.Constant)}
        assert {"network", "domain_id"} <= set(declared), path.name
        defaults = {k.arg: k.value.value for k in declared["network"].keywords if isinstance(k.value, ast.Constant)}
        assert defaults.get("default_value") == "localhost"
        assert "network_policy.resolve" in source and '"ROS_AUTOMATIC_DISCOVERY_RANGE"' in source, path.name


def test_robot_launch_files_default_to_no_real_robot_and_stop_with_the_bridge():
    robot_launch = (SRC / "quadruped_bridge" / "launch" / "go2.launch.py",
                    SRC / "fog_policy" / "launch" / "deploy.launch.py")
    for path in robot_launch:
        tree = ast.parse(path.read_text())
        args = {c.args[0].value: {k.arg: k.value for k in c.keywords} for c in ast.walk(tree)
                if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "DeclareLaunchArgument"}
        assert args["real_robot"]["default_value"].value == "false", path.name
        assert {"network_interface", "robot_domain", "security", "keystore"} <= set(args), path.name
        assert "OnProcessExit" in path.read_text() and "Shutdown" in path.read_text(), path.name
    import yaml

    go2 = yaml.safe_load((SRC / "quadruped_bridge" / "config" / "go2.yaml").read_text())
    assert go2["go2_bridge"]["ros__parameters"]["real_robot"] is False
    assert go2["camera"]["ros__parameters"]["real_robot"] is False
    deploy = yaml.safe_load((SRC / "fog_policy" / "config" / "deploy.yaml").read_text())
    assert "real_robot" not in deploy["go2_bridge"]["ros__parameters"]
    assert deploy["go2_bridge"]["ros__parameters"]["command_source"] == "locomotion"
    assert deploy["locomotion"]["ros__parameters"]["cmd_vel_source"] == "fog_policy"


def test_docker_entrypoint_applies_the_network_policy(tmp_path):
    """The entrypoint, with the ROS setup files stubbed: no variable -> 42 + LOCALHOST; FOG_NETWORK=lan -> SUBNET."""
    import os
    import subprocess

    script = (SRC.parents[1] / "docker" / "ros_entrypoint.sh").read_text()
    script = script.replace("source /opt/ros/jazzy/setup.bash", ":").replace("source /ws/install/setup.bash", ":")
    (tmp_path / "entry.sh").write_text(script)
    base = {k: v for k, v in os.environ.items() if not k.startswith("ROS_") and not k.startswith("FOG_")}
    show = ["bash", str(tmp_path / "entry.sh"), "bash", "-c", "echo $ROS_DOMAIN_ID $ROS_AUTOMATIC_DISCOVERY_RANGE"]
    out = lambda **env: subprocess.run(show, env={**base, **env}, capture_output=True, text=True).stdout.strip()  # noqa: E731
    assert out() == "42 LOCALHOST"
    assert out(FOG_NETWORK="lan", FOG_ROS_DOMAIN_ID="7") == "7 SUBNET"
    assert out(ROS_DOMAIN_ID="9") == "9 LOCALHOST"
