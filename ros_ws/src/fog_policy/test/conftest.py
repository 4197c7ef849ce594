"""Shared test data and helpers of fog_policy's tests.

`untrained_artifact`: a copy of the committed untrained policy artifact (test_data/, written by
`python -m fog_training.untrained_artifact --seed 1`; training/tests/unit/test_untrained_artifact.py
checks that it still matches what the export code writes). fog_policy sits below fog_training, so
its tests use the committed files instead of importing the exporter.

`fog`, `exit_problems` and `bad_output`: how integration/test_deploy.py and integration/test_collect.py
start the `fog` verbs and judge that a process ended cleanly (issue 16: exit code 0, no traceback).

`robot_bag`: writes a short rosbag2 (MCAP) bag like the robot's, for the replay tests of
integration/test_deploy.py and integration/test_policy_node.py.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

UNTRAINED_ARTIFACT = Path(__file__).resolve().parents[1] / "test_data" / "untrained_artifact"
# what a normal stop must never print (rclpy's RCLError, EGLError, "Exception in thread", ...)
BAD_OUTPUT = ("Traceback", "Error", "Exception", "never retrieved", "Segmentation fault", "core dumped")
EXIT_TIMEOUT = 30.0  # wall s from the signal to the exit (the recorder drains, the simulator closes its renderers)


@pytest.fixture
def untrained_artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("artifacts") / "untrained"
    shutil.copytree(UNTRAINED_ARTIFACT, out)
    return out


def fog_command(verb: str, *args: str) -> list[str]:
    """`fog <verb> ...` as the fog CLI (fog_training.cli, a layer above) runs it: the verb's module main
    (training/tests/unit/test_cli.py checks the CLI's table names these modules)."""
    module = {"deploy": "fog_policy.deploy", "collect": "fog_policy.collect"}[verb]
    return [sys.executable, "-m", module, *args]


def process_exit_problems(procs, timeout: float = EXIT_TIMEOUT) -> list[str]:
    """Wait for each process (quadruped_bridge.process_launch.ManagedProcess) to end; one line (with the
    log's tail) per unclean exit."""
    problems = []
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            code = p.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except Exception:
            problems.append(f"{p.name}: still running {timeout:.0f} s after the stop:\n{p.log()[-2000:]}")
            continue
        log = p.log()
        bad = [b for b in BAD_OUTPUT if b in log]
        if code != 0 or bad:
            problems.append(f"{p.name}: exit code {code}, output has {bad}:\n{log[-3000:]}")
    return problems


@pytest.fixture
def fog():
    """`fog(verb, *args)`: the command line of a `fog` verb (see fog_command)."""
    return fog_command


@pytest.fixture
def exit_problems():
    """`exit_problems(procs, timeout=30.0)`: a line per process that did not end cleanly."""
    return process_exit_problems


@pytest.fixture
def bad_output():
    """What a process that ends normally must never print."""
    return BAD_OUTPUT


def write_robot_bag(path, seconds: float, *, joint_rate_hz: float = 100.0, camera_info: bool = True,
                    joint_wiggle: float = 0.0, seed: int = 0) -> None:
    """A bag like the robot's: 64x64 rgb8 images of a pattern that scrolls by one column per frame at
    30 Hz (with camera_info unless told), joint states at the stand pose (plus `joint_wiggle * sin(t)`)
    and a level IMU at `joint_rate_hz`, stamps from t = 1 s."""  # fmt: skip
    from fog_contract.go2 import JOINT_NAMES
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    T = ts.types
    Header, Time = T["std_msgs/msg/Header"], T["builtin_interfaces/msg/Time"]
    vec, quat = T["geometry_msgs/msg/Vector3"], T["geometry_msgs/msg/Quaternion"]
    base = np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)

    def header(t):
        ns = int(round(t * 1e9))
        return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id="")

    info = dict(height=64, width=64, distortion_model="plumb_bob", d=np.zeros(5),
                k=np.array([55.0, 0, 31.5, 0, 55.0, 31.5, 0, 0, 1]), r=np.eye(3).reshape(-1),
                p=np.array([55.0, 0, 31.5, 0, 0, 55.0, 31.5, 0, 0, 0, 1, 0]), binning_x=0, binning_y=0,
                roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0,
                                                          do_rectify=False))  # fmt: skip
    events = []
    for i in range(int(seconds * 30)):
        t = 1.0 + i / 30
        image = T["sensor_msgs/msg/Image"](header=header(t), height=64, width=64, encoding="rgb8", is_bigendian=0,
                                           step=192, data=np.roll(base, i, axis=1).reshape(-1))  # fmt: skip
        events.append((t, "/camera/image_raw", "sensor_msgs/msg/Image", image))
        if camera_info:
            msg = T["sensor_msgs/msg/CameraInfo"](header=header(t), **info)
            events.append((t, "/camera/camera_info", "sensor_msgs/msg/CameraInfo", msg))
    for i in range(int(seconds * joint_rate_hz)):
        t = 1.0 + i / joint_rate_hz
        q = np.tile([0.0, 0.9, -1.8], 4) + joint_wiggle * np.sin(t)
        joints = T["sensor_msgs/msg/JointState"](header=header(t), name=list(JOINT_NAMES), position=q,
                                                 velocity=np.zeros(12), effort=np.zeros(12))  # fmt: skip
        events.append((t, "/joint_states", "sensor_msgs/msg/JointState", joints))
        imu = T["sensor_msgs/msg/Imu"](header=header(t), orientation=quat(x=0.0, y=0.0, z=0.0, w=1.0),
                                       orientation_covariance=np.zeros(9), angular_velocity=vec(x=0.0, y=0.0, z=0.0),
                                       angular_velocity_covariance=np.zeros(9),
                                       linear_acceleration=vec(x=0.0, y=0.0, z=9.81),
                                       linear_acceleration_covariance=np.zeros(9))  # fmt: skip
        events.append((t, "/imu/data", "sensor_msgs/msg/Imu", imu))
    events.sort(key=lambda e: e[0])
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conns = {}
        for t, topic, kind, msg in events:
            if topic not in conns:
                conns[topic] = w.add_connection(topic, kind, typestore=ts)
            w.write(conns[topic], int(round(t * 1e9)), ts.serialize_cdr(msg, kind))


@pytest.fixture(scope="session")
def robot_bag():
    """:func:`write_robot_bag`, for tests (test modules cannot import conftest under importlib mode)."""
    return write_robot_bag
