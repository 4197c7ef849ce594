"""quadruped_bridge.ros_messages: numpy <-> the contract's ROS messages (stamps, frames, encodings, joint
order), built and read in process (message classes only, no node)."""

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from quadruped_bridge import ros_messages as rm
from sensor_msgs.msg import Image


def test_stamps_round_trip_and_carry_a_rounded_second():
    for t in (0.0, 1.5, 1234.000000001, 7.999999999):
        assert rm.from_stamp(rm.to_stamp(t)) == pytest.approx(t, abs=1e-9)
    carried = rm.to_stamp(2.9999999999)  # rounds to a whole second: never nanosec == 1e9
    assert (carried.sec, carried.nanosec) == (3, 0)
    assert rm.clock_msg(4.25).clock.nanosec == 250_000_000


def test_joint_state_keeps_names_and_optional_fields():
    msg = rm.joint_state_msg(1.0, ("a", "b"), np.array([0.1, 0.2], dtype=np.float32))
    assert list(msg.name) == ["a", "b"] and list(msg.velocity) == [] and list(msg.effort) == []
    assert msg.position[0] == pytest.approx(0.1) and isinstance(msg.position[0], float)
    full = rm.joint_state_msg(1.0, ("a",), [1.0], dq=[2.0], tau=[3.0])
    assert (list(full.velocity), list(full.effort)) == ([2.0], [3.0])


def test_imu_round_trip():
    quat, gyro, accel = (0.9, 0.1, 0.2, 0.3), (0.01, 0.02, 0.03), (0.1, 0.2, 9.8)
    msg = rm.imu_msg(2.0, quat, gyro, accel)
    assert msg.header.frame_id == "imu_link"
    for got, want in zip(rm.imu_arrays(msg), (quat, gyro, accel), strict=True):
        np.testing.assert_allclose(got, want)


def test_image_round_trip_bgr_padding_and_refusals():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    msg = rm.image_msg(3.0, rgb)
    assert (msg.width, msg.height, msg.encoding, msg.step) == (5, 4, "rgb8", 15)
    assert msg.header.frame_id == rm.CAMERA_FRAME
    np.testing.assert_array_equal(rm.image_array(msg), rgb)
    bgr = Image(height=4, width=5, encoding="bgr8", step=16)  # one padding byte per row
    rows = np.zeros((4, 16), np.uint8)
    rows[:, :15] = rgb[..., ::-1].reshape(4, 15)
    bgr.data = rows.tobytes()
    np.testing.assert_array_equal(rm.image_array(bgr), rgb)
    with pytest.raises(ValueError, match="must be uint8"):
        rm.image_msg(0.0, rgb.astype(np.float32))
    with pytest.raises(ValueError, match="must be uint8"):
        rm.image_msg(0.0, rgb[..., 0])
    mono = Image(height=1, width=1, encoding="mono8", step=1, data=b"\x00")
    with pytest.raises(ValueError, match="'mono8' not supported"):
        rm.image_array(mono)
    short = Image(height=4, width=5, encoding="rgb8", step=15, data=b"\x00" * 10)
    with pytest.raises(ValueError, match="image data has 10 bytes"):
        rm.image_array(short)


def test_camera_info_pose_twist_and_diagnostics():
    info = rm.camera_info_msg(0.0, 64, 48, 50.0, 51.0, 31.5, 23.5)
    assert (info.width, info.height, info.distortion_model) == (64, 48, "plumb_bob")
    assert list(info.k) == [50.0, 0.0, 31.5, 0.0, 51.0, 23.5, 0.0, 0.0, 1.0]
    assert list(info.p)[:3] == [50.0, 0.0, 31.5] and list(info.d) == [0.0] * 5
    pose = rm.pose_msg(1.0, (1, 2, 3), (1, 0, 0, 0))
    assert pose.header.frame_id == rm.WORLD_FRAME and pose.pose.position.z == 3.0 and pose.pose.orientation.w == 1.0
    twist = rm.twist_msg(1.0, (0.5, 0, 0), (0, 0, -0.2))
    assert twist.header.frame_id == rm.BASE_FRAME
    assert (twist.twist.linear.x, twist.twist.angular.z) == (0.5, -0.2)
    diag = rm.diagnostics_msg(5.0, "quadruped_bridge: x", "WARN", "late", {"rate_hz": 49.5, "mode": "active"}, "hw")
    (status,) = diag.status
    assert status.level == DiagnosticStatus.WARN and (status.name, status.message, status.hardware_id) == (
        "quadruped_bridge: x", "late", "hw")
    assert [(kv.key, kv.value) for kv in status.values] == [("rate_hz", "49.5"), ("mode", "active")]
    with pytest.raises(KeyError):
        rm.diagnostics_msg(5.0, "x", "FATAL", "", {})
