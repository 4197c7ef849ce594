"""fog_training.data.bag_messages: decoding one message each: Image encodings and row padding
(image_to_rgb), CompressedImage colour order (compressed_to_rgb, any_image_to_rgb), JointState
reordering by name (joint_permutation, JointOrder), IMU features, low-rate values (commands, events,
joint targets, poses), yaw_of and camera_info; projected_gravity: the robot (fog_contract.proprio) builds the policy's
proprio features exactly as `fog dataset` built them for training."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from fog_contract.go2 import JOINT_NAMES
from fog_contract.proprio import PROPRIO_NAMES, check_names, proprio_vector
from fog_training.data.bag_messages import (
    JointOrder,
    any_image_to_rgb,
    camera_info,
    compressed_to_rgb,
    image_to_rgb,
    imu_features,
    joint_permutation,
    low_rate_value,
    new_typestore,
    projected_gravity,
    yaw_of,
)
from fog_training.data.bag_reader import BagError
from fog_training.data.bag_topics import BASE, CMD, EVENT, JCMD

TS = new_typestore()
T = TS.types
BAG, TOPIC = Path("/bags/run1"), "/camera/image_raw"
RGB = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 13  # distinct values per pixel and channel


def hdr(frame_id: str = ""):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=frame_id)


def image(enc: str, pixels: np.ndarray, pad: int = 0, h: int | None = None, w: int | None = None):
    h, w = h or pixels.shape[0], w or pixels.shape[1]
    rows = pixels.reshape(pixels.shape[0], -1)
    data = np.concatenate([rows, np.full((rows.shape[0], pad), 255, np.uint8)], axis=1).ravel()
    kw = dict(height=h, width=w, encoding=enc, is_bigendian=0, step=rows.shape[1] + pad, data=data)
    return T["sensor_msgs/msg/Image"](header=hdr("cam"), **kw)


def compressed(fmt: str, data: np.ndarray):
    return T["sensor_msgs/msg/CompressedImage"](header=hdr("cam"), format=fmt, data=np.asarray(data, np.uint8))


def png(pixels: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".png", pixels)
    assert ok
    return buf.ravel()


# ---- Image


@pytest.mark.parametrize(
    ("enc", "pixels"),
    [
        ("rgb8", RGB),
        ("RGB8", RGB),
        ("bgr8", RGB[..., ::-1]),
        ("8UC3", RGB),
        ("rgba8", np.concatenate([RGB, np.full((2, 3, 1), 7, np.uint8)], axis=2)),
        ("bgra8", np.concatenate([RGB[..., ::-1], np.full((2, 3, 1), 7, np.uint8)], axis=2)),
    ],
)
def test_colour_encodings_give_rgb(enc, pixels):
    out = image_to_rgb(image(enc, pixels), BAG, TOPIC)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, RGB, err_msg=f"{enc} should decode to the same RGB")


@pytest.mark.parametrize("enc", ["mono8", "8UC1"])
def test_mono_is_repeated_to_three_channels(enc):
    grey = RGB[..., :1]
    out = image_to_rgb(image(enc, grey), BAG, TOPIC)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out, np.repeat(grey, 3, axis=2))


def test_row_padding_is_dropped():
    out = image_to_rgb(image("rgb8", RGB, pad=5), BAG, TOPIC)
    np.testing.assert_array_equal(out, RGB)
    assert RGB.max() < 255 and (out != 255).all(), "the padding bytes (255) must not leak in"


def test_unsupported_encoding_is_named():
    with pytest.raises(BagError, match="unsupported image encoding '16UC1'") as e:
        image_to_rgb(image("16UC1", RGB), BAG, TOPIC)
    assert e.value.topic == TOPIC and str(BAG) in str(e.value)


def test_too_little_data_is_named_with_the_sizes():
    with pytest.raises(BagError, match="image data of 18 bytes does not fit 4x3 rgb8 with step 9") as e:
        image_to_rgb(image("rgb8", RGB, h=4), BAG, TOPIC)
    assert e.value.topic == TOPIC


def test_step_shorter_than_a_row_is_refused():
    msg = image("rgb8", RGB, w=4)  # step 9 < 4 * 3
    with pytest.raises(BagError, match="does not fit 2x4 rgb8 with step 9"):
        image_to_rgb(msg, BAG, TOPIC)


# ---- CompressedImage


@pytest.mark.parametrize("fmt", ["png", "rgb8; png compressed bgr8", "bgr8; png compressed bgr8"])
def test_compressed_colour_is_decoded_as_bgr_to_rgb(fmt):
    out = compressed_to_rgb(compressed(fmt, png(RGB[..., ::-1])), BAG, TOPIC)
    np.testing.assert_array_equal(out, RGB, err_msg=f"format {fmt!r}: the decoder's BGR becomes RGB")


def test_compressed_rgb8_holds_rgb_already():
    out = compressed_to_rgb(compressed("rgb8; png compressed rgb8", png(RGB)), BAG, TOPIC)
    np.testing.assert_array_equal(out, RGB, err_msg="'compressed rgb8' must not be swapped")


def test_compressed_jpeg_is_close_and_not_swapped():
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 220  # red
    ok, buf = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    out = compressed_to_rgb(compressed("jpeg", buf.ravel()), BAG, TOPIC)
    assert out.shape == (16, 16, 3)
    assert np.abs(out.astype(int) - rgb).max() < 8, "red stays red"


def test_compressed_mono_png_gives_three_equal_channels():
    grey = RGB[..., 0]
    out = compressed_to_rgb(compressed("mono8; png compressed mono8", png(grey)), BAG, TOPIC)
    np.testing.assert_array_equal(out, np.repeat(grey[..., None], 3, axis=2))


def test_compressed_depth_is_refused():
    with pytest.raises(BagError, match="compressedDepth images are not camera frames") as e:
        compressed_to_rgb(compressed("16UC1; compressedDepth png", png(RGB)), BAG, TOPIC)
    assert e.value.topic == TOPIC


def test_undecodable_compressed_data_is_named():
    with pytest.raises(BagError, match="cannot decode CompressedImage \\(format 'jpeg'"):
        compressed_to_rgb(compressed("jpeg", np.arange(64) % 7), BAG, TOPIC)


def test_any_image_dispatches_on_the_message_type():
    np.testing.assert_array_equal(any_image_to_rgb(image("bgr8", RGB[..., ::-1]), BAG, TOPIC), RGB)
    np.testing.assert_array_equal(any_image_to_rgb(compressed("png", png(RGB[..., ::-1])), BAG, TOPIC), RGB)


# ---- JointState


def joint_state(names, pos, vel=()):
    return T["sensor_msgs/msg/JointState"](
        header=hdr(),
        name=list(names),
        position=np.asarray(pos, np.float64),
        velocity=np.asarray(vel, np.float64),
        effort=np.zeros(0),
    )


def test_joint_permutation_matches_by_name_and_ignores_extra_joints():
    names = ["gripper", *reversed(JOINT_NAMES)]
    perm = joint_permutation(names, len(names), BAG, "/joint_states")
    assert [names[i] for i in perm] == list(JOINT_NAMES)


def test_nameless_joint_state_of_twelve_is_in_unitree_order():
    assert joint_permutation([], 12, BAG, "/js").tolist() == list(range(12))


def test_nameless_joint_state_of_other_length_is_refused():
    with pytest.raises(BagError, match="without names has 11 values, expected 12") as e:
        joint_permutation([], 11, BAG, "/js")
    assert e.value.topic == "/js"


def test_missing_joints_are_listed():
    names = list(JOINT_NAMES[:-2])
    with pytest.raises(BagError, match="lacks joints \\['RL_thigh_joint', 'RL_calf_joint'\\]"):
        joint_permutation(names, 10, BAG, "/js")


def test_joint_order_reorders_positions_and_velocities():
    names = list(reversed(JOINT_NAMES))
    pos = np.arange(12, dtype=float)  # position of JOINT_NAMES[k] is 11 - k
    msg = joint_state(names, pos, vel=pos * 10)
    order = JointOrder(BAG)
    p, v = order.state(msg, "/js")
    np.testing.assert_array_equal(p, 11 - np.arange(12))
    np.testing.assert_array_equal(v, (11 - np.arange(12)) * 10)
    np.testing.assert_array_equal(order.positions(msg, "/js"), p)


def test_joint_order_without_velocities_gives_none():
    p, v = JointOrder(BAG).state(joint_state(JOINT_NAMES, np.ones(12)), "/js")
    assert v is None and p.tolist() == [1.0] * 12


def test_joint_order_recomputes_for_a_new_name_order():
    order = JointOrder(BAG)
    a = order.positions(joint_state(JOINT_NAMES, np.arange(12.0)), "/js")
    b = order.positions(joint_state(list(reversed(JOINT_NAMES)), np.arange(12.0)), "/js")
    assert a.tolist() == list(range(12)) and b.tolist() == list(range(11, -1, -1))


# ---- IMU, low-rate values, poses, camera_info


def vec(x, y, z):
    return T["geometry_msgs/msg/Vector3"](x=x, y=y, z=z)


def quat(w, x, y, z):
    return T["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w)


def imu(q, accel, gyro, cov0=0.0):
    cov = np.zeros(9)
    cov[0] = cov0
    return T["sensor_msgs/msg/Imu"](
        header=hdr("imu"),
        orientation=q,
        orientation_covariance=cov,
        angular_velocity=vec(*gyro),
        angular_velocity_covariance=np.zeros(9),
        linear_acceleration=vec(*accel),
        linear_acceleration_covariance=np.zeros(9),
    )


def test_imu_features_are_gravity_then_gyro():
    out = imu_features(imu(quat(1, 0, 0, 0), (0, 0, 9.8), (0.1, -0.2, 0.3)))
    np.testing.assert_allclose(out, [0, 0, -1, 0.1, -0.2, 0.3], atol=1e-12)


def test_imu_without_orientation_uses_the_accelerometer():
    out = imu_features(imu(quat(1, 0, 0, 0), (9.8, 0, 0), (0, 0, 0), cov0=-1))
    np.testing.assert_allclose(out[:3], [-1, 0, 0], atol=1e-12, err_msg="covariance[0] = -1: orientation ignored")


@pytest.mark.parametrize("yaw", [0.0, 0.5, -2.0, math.pi / 2])
def test_yaw_of_a_pure_yaw_quaternion(yaw):
    assert yaw_of(quat(math.cos(yaw / 2), 0, 0, math.sin(yaw / 2))) == pytest.approx(yaw)


def test_low_rate_values_of_commands_events_targets_and_poses():
    twist = T["geometry_msgs/msg/Twist"](linear=vec(0.5, -0.1, 9), angular=vec(7, 8, 0.3))
    assert low_rate_value(CMD, twist, JointOrder(BAG), "/cmd_vel") == (0.5, -0.1, 0.3)
    stamped = T["geometry_msgs/msg/TwistStamped"](header=hdr(), twist=twist)
    assert low_rate_value(CMD, stamped, JointOrder(BAG), "/cmd_vel") == (0.5, -0.1, 0.3)
    event = T["std_msgs/msg/String"](data="  Success \n")
    assert low_rate_value(EVENT, event, JointOrder(BAG), "/ev") == "success"
    targets = low_rate_value(JCMD, joint_state(list(reversed(JOINT_NAMES)), np.arange(12.0)), JointOrder(BAG), "/jc")
    assert targets.tolist() == list(range(11, -1, -1))
    pose = T["geometry_msgs/msg/Pose"](
        position=T["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=3.0), orientation=quat(math.cos(0.4), 0, 0, math.sin(0.4))
    )
    pose_msg = T["geometry_msgs/msg/PoseStamped"](header=hdr(), pose=pose)
    x, y, yaw = low_rate_value(BASE, pose_msg, JointOrder(BAG), "/p")
    assert (x, y) == (1.0, 2.0) and yaw == pytest.approx(0.8)


def test_camera_info_to_plain_values():
    roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    msg = T["sensor_msgs/msg/CameraInfo"](
        header=hdr("cam"),
        height=480,
        width=640,
        distortion_model="plumb_bob",
        d=np.array([0.1, 0, 0, 0, 0]),
        k=np.arange(9.0),
        r=np.eye(3).ravel(),
        p=np.arange(12.0),
        binning_x=0,
        binning_y=0,
        roi=roi,
    )
    info = camera_info(msg)
    assert info == {
        "height": 480,
        "width": 640,
        "frame_id": "cam",
        "distortion_model": "plumb_bob",
        "k": list(np.arange(9.0)),
        "d": [0.1, 0.0, 0.0, 0.0, 0.0],
        "p": list(np.arange(12.0)),
    }
    assert all(type(v) is float for v in info["k"] + info["d"] + info["p"]), "plain floats (JSON-able)"


# ---- projected_gravity: parity with the robot's proprio (fog_contract.proprio)


def test_same_features_as_the_dataset_converter():
    check_names(PROPRIO_NAMES)
    rng = np.random.default_rng(0)
    index = {n: i for i, n in enumerate(JOINT_NAMES)}
    for _ in range(20):
        q_wxyz = rng.normal(size=4)
        q_wxyz /= np.linalg.norm(q_wxyz)
        gyro = rng.normal(size=3)
        q, dq = rng.normal(size=12), rng.normal(size=12)
        # the converter's row: joint positions, joint velocities, projected gravity, gyro
        expected = np.concatenate([q, dq, projected_gravity(imu(quat(*q_wxyz), (0.0, 0.0, 9.81), gyro)), gyro])
        got = proprio_vector(PROPRIO_NAMES, index, q, dq, q_wxyz, gyro)
        np.testing.assert_allclose(got, expected, atol=1e-6)
