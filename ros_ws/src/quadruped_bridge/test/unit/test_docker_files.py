"""The container files agree with the repository and the pip environment (no Docker engine here).

- every file or folder a Dockerfile COPYs exists (build context: the repository root);
- every `name==version` a Dockerfile installs is requirements.txt's pin (public version: the
  training image takes PyTorch's CUDA build of the CPU lock's torch version);
- requirements.in's pins are in requirements.txt, and the lock holds the Go2 SDK pins;
- compose.yaml builds these Dockerfiles; the entrypoint script is executable;
- the Go2 launch file's config holds only parameters the nodes declare.
"""

import os
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[5]
DOCKER = ROOT / "docker"
DOCKERFILES = sorted(DOCKER.glob("Dockerfile*"))
PIN = re.compile(r"(?<![\w.-])([A-Za-z0-9][A-Za-z0-9_.-]*)==([0-9][^\s\"'\\;&|)]*)")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def public(version: str) -> str:
    return version.split("+", 1)[0]


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[norm(name)] = version.strip()
    return pins


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out, buf = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        buf += " " + line.rstrip("\\").strip()
        if not line.endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = ""
    return out


def test_there_are_dockerfiles():
    assert {p.name for p in DOCKERFILES} >= {"Dockerfile.deploy", "Dockerfile.train"}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_every_copied_file_exists(dockerfile):
    copies = [args for word, args in instructions(dockerfile) if word in ("COPY", "ADD")]
    assert copies, f"{dockerfile.name} copies nothing"
    for args in copies:
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        if any(a.startswith("--from") for a in shlex.split(args)):
            continue
        for src in parts[:-1]:
            assert (ROOT / src).exists(), f"{dockerfile.name}: COPY {src} (no such file in the repository)"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_installed_pins_equal_the_lock(dockerfile):
    pins = lock()
    runs = " ".join(args for word, args in instructions(dockerfile) if word == "RUN")
    found = PIN.findall(runs)
    assert found or "requirements.txt" in dockerfile.read_text(), f"{dockerfile.name} installs nothing pinned"
    for name, version in found:
        assert norm(name) in pins, f"{dockerfile.name} pins {name}=={version}, which requirements.txt does not hold"
        assert public(version) == public(pins[norm(name)]), (
            f"{dockerfile.name} pins {name}=={version}, requirements.txt has {pins[norm(name)]}")


def test_deploy_image_is_ros2_jazzy_with_cv_bridge_launch_and_entrypoint():
    text = (DOCKER / "Dockerfile.deploy").read_text()
    base = [args for word, args in instructions(DOCKER / "Dockerfile.deploy") if word == "FROM"]
    assert base and base[0].startswith("ros:jazzy")
    for pkg in ("ros-jazzy-cv-bridge", "ros-jazzy-launch-ros", "ros-jazzy-launch-pytest", "python3-colcon"):
        assert pkg in text
    assert 'ENTRYPOINT ["/fog_entrypoint.sh", "ros2", "launch", "fog_policy", "deploy.launch.py"]' in text
    assert "colcon build" in text and "colcon test" in text
    assert os.access(DOCKER / "ros_entrypoint.sh", os.X_OK)


def test_train_image_has_cuda_torch_accelerate_and_the_fog_command():
    text = (DOCKER / "Dockerfile.train").read_text()
    assert "download.pytorch.org/whl/cu" in text and "torch==" in text
    assert "accelerate" in lock() and "pip install --no-deps -e training" in text


def test_compose_builds_these_dockerfiles():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert {"demo", "sim", "test", "train"} <= set(services)
    for name, svc in services.items():
        build = svc["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).is_file(), name


def test_requirements_in_pins_are_locked():
    pins = lock()
    for line in (ROOT / "requirements.in").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            assert public(pins.get(norm(name), "")) == public(version), f"{line} not in requirements.txt"
    assert pins["cyclonedds"] == "0.10.2" and pins["unitree-sdk2py-dimos"] == "1.0.3"


def test_go2_config_holds_only_declared_parameters():
    from quadruped_bridge.camera_node import CameraNodeConfig
    from quadruped_bridge.go2_bridge_node import Go2BridgeConfig
    from quadruped_bridge.ros_params import params_file_problems

    pkg = ROOT / "ros_ws" / "src" / "quadruped_bridge"
    config = yaml.safe_load((pkg / "config" / "go2.yaml").read_text())
    for node, cls in (("go2_bridge", Go2BridgeConfig), ("camera", CameraNodeConfig)):
        problems = params_file_problems(cls, config[node]["ros__parameters"])
        assert not problems, f"go2.yaml, {node}: {problems}"
    assert config["go2_bridge"]["ros__parameters"]["safety"]["command_timeout"] == 0.03
    launch = (pkg / "launch" / "go2.launch.py").read_text()
    assert '"go2.yaml"' in launch and 'executable="go2_bridge_node"' in launch and 'executable="camera_node"' in launch
    setup = (pkg / "setup.py").read_text()
    for exe in ("go2_bridge_node = quadruped_bridge.go2_bridge_node:main",
                "camera_node = quadruped_bridge.camera_node:main", "fake_go2 = quadruped_bridge.fake_go2:main"):
        assert exe in setup
