"""The robot builds the policy's proprio features exactly as `fog dataset` built them for training."""

import numpy as np
from fog_contract.go2 import JOINT_NAMES
from fog_contract.proprio import PROPRIO_NAMES, check_names, gravity_in_imu_frame, proprio_vector
from fog_training.data.bag_messages import projected_gravity
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_KILTED)


def imu_msg(quat_wxyz, gyro):
    T = TS.types
    w, x, y, z = quat_wxyz
    vec = T["geometry_msgs/msg/Vector3"]
    return T["sensor_msgs/msg/Imu"](
        header=T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=0, nanosec=0), frame_id=""),
        orientation=T["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w),
        orientation_covariance=np.zeros(9),
        angular_velocity=vec(x=gyro[0], y=gyro[1], z=gyro[2]),
        angular_velocity_covariance=np.zeros(9),
        linear_acceleration=vec(x=0.0, y=0.0, z=9.81),
        linear_acceleration_covariance=np.zeros(9),
    )


def test_same_features_as_the_dataset_converter():
    check_names(PROPRIO_NAMES)
    rng = np.random.default_rng(0)
    index = {n: i for i, n in enumerate(JOINT_NAMES)}
    for _ in range(20):
        quat = rng.normal(size=4)
        quat /= np.linalg.norm(quat)
        gyro = rng.normal(size=3)
        q, dq = rng.normal(size=12), rng.normal(size=12)
        # the converter's row: joint positions, joint velocities, projected gravity, gyro
        expected = np.concatenate([q, dq, projected_gravity(imu_msg(quat, gyro)), gyro])
        got = proprio_vector(PROPRIO_NAMES, index, q, dq, quat, gyro)
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_gravity_is_down_when_level_and_follows_pitch():
    np.testing.assert_allclose(gravity_in_imu_frame((1.0, 0.0, 0.0, 0.0)), [0.0, 0.0, -1.0])
    a = 0.3  # nose down by a (pitch about +y): gravity gains a +x component in the body frame
    np.testing.assert_allclose(
        gravity_in_imu_frame((np.cos(a / 2), 0.0, np.sin(a / 2), 0.0)), [np.sin(a), 0.0, -np.cos(a)], atol=1e-12
    )
