"""quadruped_bridge.sim: the MuJoCo Go2 simulator's physics sanity, motor law, sensors, cameras."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from fog_contract.go2 import (
    JOINT_NAMES,
    LIE_POSE,
    STAND_POSE,
    TORQUE_LIMITS,
)
from quadruped_bridge.motor_command import MotorCommand
from quadruped_bridge.sim import Go2Sim, SimConfig, quat_to_matrix, quat_to_rpy

KP, KD = 50.0, 2.0


def _hold(pose: np.ndarray) -> MotorCommand:
    return MotorCommand(q=pose.copy(), kp=np.full(12, KP), kd=np.full(12, KD))


@pytest.fixture(scope="module")
def sim():
    s = Go2Sim(SimConfig(camera_width=64, camera_height=48, third_person_width=160, third_person_height=120))
    yield s
    s.close()


def test_reset_poses_rest_on_the_floor(sim):
    for pose, joints in (("lie", LIE_POSE), ("stand", STAND_POSE)):
        state = sim.reset(seed=3, pose=pose)
        np.testing.assert_allclose(state.q, joints, atol=1e-9)
        assert not state.fallen
        for _ in range(250):
            sim.step(_hold(joints))
        state = sim.state()
        assert not state.fallen
        assert np.all(np.abs(state.roll_pitch_yaw[:2]) < 0.05)
    stand_height = sim.state().base_pos[2]
    assert 0.24 < stand_height < 0.30


def test_cube_and_goal_placed_ahead_by_seed(sim):
    a = sim.reset(seed=7)
    b = sim.reset(seed=7)
    c = sim.reset(seed=8)
    np.testing.assert_allclose(a.cube_pos, b.cube_pos)
    np.testing.assert_allclose(a.goal_pos, b.goal_pos)
    assert not np.allclose(a.cube_pos, c.cube_pos)
    assert a.cube_pos[0] > 0.4 and a.goal_pos[0] > a.cube_pos[0]


def test_zero_torque_sags_and_pd_holds_stand(sim):
    sim.reset(pose="stand")
    start = sim.state().base_pos[2]
    for _ in range(500):
        sim.step(None)
    sagged = sim.state()
    assert sagged.base_pos[2] < start - 0.08
    assert np.all(sagged.tau == 0.0)

    sim.reset(pose="stand")
    for _ in range(500):
        sim.step(_hold(STAND_POSE))
    held = sim.state()
    assert held.base_pos[2] > start - 0.04
    assert np.max(np.abs(held.q - STAND_POSE)) < 0.2  # plain PD: the calves give ~0.15 rad under the weight
    assert np.all(np.abs(held.tau) <= TORQUE_LIMITS + 1e-9)


def test_step_extrapolates_command_along_dq(sim):
    sim.reset(pose="stand")
    q, _ = sim.joint_state()
    cmd = MotorCommand(q=q.copy(), dq=np.full(12, 1.0), kp=np.full(12, KP))
    sim.step(cmd, cmd_age=0.01)
    # kp * (q + dq * age - q) = 50 * 0.01, clipped by nothing here.
    np.testing.assert_allclose(sim.state().tau, KP * 0.01, atol=1e-9)
    issued = sim.time
    q_before, _ = sim.joint_state()
    sim.step(cmd, issued_at=issued - 0.02)
    np.testing.assert_allclose(sim.state().tau, np.clip(KP * (q + 0.02 - q_before), -TORQUE_LIMITS, TORQUE_LIMITS))


def test_imu_at_rest_reads_gravity_and_quaternion(sim):
    sim.reset(pose="stand")
    for _ in range(400):
        sim.step(_hold(STAND_POSE))
    state = sim.state()
    assert state.accel[2] == pytest.approx(9.81, abs=0.3)
    assert np.linalg.norm(state.accel[:2]) < 0.5
    assert np.linalg.norm(state.gyro) < 0.05
    # Sensors are evaluated before the step integrates qpos: equal to one step of motion.
    np.testing.assert_allclose(np.abs(state.imu_quat), np.abs(state.base_quat), atol=1e-3)
    np.testing.assert_allclose(quat_to_rpy(state.imu_quat), state.roll_pitch_yaw, atol=1e-3)
    np.testing.assert_allclose(state.base_lin_vel_body, state.base_lin_vel_world, atol=0.02)


def test_cube_moves_under_force_and_contact(sim):
    sim.reset(seed=0, pose="stand")
    start = sim.state().cube_pos.copy()
    sim.apply_force("cube", np.array([3.0, 0.0, 0.0]))
    for _ in range(250):
        sim.step(_hold(STAND_POSE))
    sim.apply_force("cube", np.zeros(3))
    moved = sim.state().cube_pos
    assert moved[0] - start[0] > 0.05
    assert moved[2] == pytest.approx(start[2], abs=0.01)  # slid on the floor, did not fall through

    # Contact: drop the cube onto the robot's back; it must come to rest on it, not pass through.
    cube = sim.model.joint("cube_free").qposadr[0]
    base_z = sim.state().base_pos[2]
    sim.data.qpos[cube : cube + 3] = (0.0, 0.0, base_z + 0.3)
    sim.data.qvel[sim.model.joint("cube_free").dofadr[0] : sim.model.joint("cube_free").dofadr[0] + 6] = 0.0
    for _ in range(400):
        sim.step(_hold(STAND_POSE))
    assert sim.state().cube_pos[2] > base_z


def test_render_sizes_dtype_and_camera_info(sim):
    sim.reset(seed=0, pose="stand")
    ego = sim.render_ego()
    assert ego.shape == (48, 64, 3) and ego.dtype == np.uint8
    assert ego.std() > 5.0  # not a blank frame: floor checker and cube are visible
    third = sim.render_third_person()
    assert third.shape == (120, 160, 3) and third.dtype == np.uint8
    width, height, fx, fy, cx, cy = sim.camera_info()
    assert (width, height) == (64, 48)
    assert fx == pytest.approx(fy)
    assert fy == pytest.approx(0.5 * height / math.tan(math.radians(sim.config.camera_fovy_deg) / 2))
    assert (cx, cy) == pytest.approx(((width - 1) / 2, (height - 1) / 2))
    assert sim.model.cam_fovy[sim.model.camera("ego").id] == pytest.approx(sim.config.camera_fovy_deg)


def test_config_rejects_oversized_camera():
    with pytest.raises(ValueError):
        SimConfig(camera_width=256)
    with pytest.raises(ValueError):
        SimConfig(physics_dt=0.01)
    with pytest.raises(ValueError, match="task must be one of"):
        SimConfig(task="fetch")
    with pytest.raises(ValueError, match="camera_fovy_deg"):
        SimConfig(camera_fovy_deg=180.0)


def test_quaternion_helpers_on_known_rotations():
    half = math.pi / 4  # 90 degrees about z
    yaw90 = np.array([math.cos(half), 0.0, 0.0, math.sin(half)])
    np.testing.assert_allclose(quat_to_matrix(yaw90) @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(quat_to_rpy(yaw90), [0.0, 0.0, math.pi / 2], atol=1e-12)
    pitch = np.array([math.cos(0.15), 0.0, math.sin(0.15), 0.0])  # 0.3 rad about y, not normalised below
    np.testing.assert_allclose(quat_to_rpy(3.0 * pitch), [0.0, 0.3, 0.0], atol=1e-12)
    np.testing.assert_allclose(quat_to_matrix(2.0 * pitch), quat_to_matrix(pitch), atol=1e-12)


def test_joint_state_by_name_and_advance_holds_one_command(sim):
    with pytest.raises(ValueError, match="pose must be 'lie' or 'stand'"):
        sim.reset(pose="sit")
    sim.reset(pose="stand")
    q, dq = sim.joint_state()
    for i, name in enumerate(JOINT_NAMES):  # Unitree order, by MuJoCo joint name
        assert q[i] == pytest.approx(sim.data.qpos[sim.model.joint(name).qposadr[0]])
    assert np.all(dq == 0.0)
    t0 = sim.time
    sim.advance(_hold(STAND_POSE), 0.05)
    assert sim.time == pytest.approx(t0 + 0.05)  # 25 steps of 2 ms
    assert np.all(sim.state().tau != 0.0)  # the PD law acted on every joint


def test_renderers_made_in_one_thread_close_in_another():
    """fog deploy renders in the physics thread and closes from the main thread (issue 16: EGL_BAD_ACCESS)."""
    s = Go2Sim(SimConfig(camera_width=32, camera_height=32))
    frames = []
    worker = threading.Thread(target=lambda: frames.append(s.render_ego()))
    worker.start()
    worker.join(timeout=30)
    assert frames and frames[0].shape == (32, 32, 3), "the worker thread did not render"
    s.close()  # raised EGLError(EGL_BAD_ACCESS) when the worker's context was left current
    assert s.render_ego().shape == (32, 32, 3)  # renders again after close, on this thread
    s.close()
