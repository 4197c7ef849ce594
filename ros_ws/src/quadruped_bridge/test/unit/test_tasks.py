"""The Go2 task rules (quadruped_bridge.tasks) and the goal task's scene in the simulator."""

import math

import mujoco
import numpy as np
import pytest
from quadruped_bridge.sim import PARKED_CUBE_XY, Go2Sim, SimConfig
from quadruped_bridge.tasks import GoalTask, PushCubeTask, task_by_name, to_body_frame


def test_goal_placement_stays_in_its_distance_and_bearing_ranges():
    task = GoalTask()
    rng = np.random.default_rng(0)
    xy = np.array([task.place(rng) for _ in range(2000)])
    d = np.hypot(xy[:, 0], xy[:, 1])
    b = np.arctan2(xy[:, 1], xy[:, 0])
    assert d.min() >= 1.5 and d.max() <= 3.0
    assert b.min() >= -math.radians(60) - 1e-9 and b.max() <= math.radians(60) + 1e-9
    # both sides and out-of-view bearings (beyond the camera's +-40 degrees) occur
    assert (b < -math.radians(40)).mean() > 0.1 and (b > math.radians(40)).mean() > 0.1


def test_goal_reward_is_progress_plus_bonus_on_arrival():
    task = GoalTask()
    marker = np.array([2.0, 0.0])
    # 0.1 m closer in one 5 Hz step: 0.5 m/s of progress
    r = task.reward(np.array([[0.0, 0.0, 0.0]]), np.array([[0.1, 0.0, 0.0]]), marker, rate=5.0)
    assert r == pytest.approx([0.5])
    # moving away is negative
    assert task.reward(np.array([[0.1, 0.0]]), np.array([[0.0, 0.0]]), marker, 5.0)[0] == pytest.approx(-0.5)
    # crossing into the success radius adds the bonus once
    r = task.reward(np.array([[1.6, 0.0], [1.7, 0.0]]), np.array([[1.7, 0.0], [1.8, 0.0]]), marker, 5.0)
    assert r == pytest.approx([0.5 + task.success_bonus, 0.5])


def test_pushcube_reward_is_the_potential_of_the_next_state_and_its_progress():
    task = PushCubeTask()
    goal = np.array([[2.0, 0.0]])
    # touching the cube (within the contact radius): only the cube-to-goal distance counts
    assert task.potential([[0.7, 0.0]], [[1.0, 0.0]], goal) == pytest.approx([-1.0])
    # 1.35 m from the cube: 1.0 m beyond the contact radius, weighted 0.5
    assert task.potential([[-0.35, 0.0]], [[1.0, 0.0]], goal) == pytest.approx([-1.0 - 0.5])
    w = PushCubeTask(robot_weight=2.0, contact_radius=0.0)
    assert w.potential([[0.0, 0.0]], [[1.0, 0.0]], goal) == pytest.approx([-1.0 - 2.0])
    # progress: the cube 0.1 m nearer the goal in one 5 Hz step, the robot keeping contact: +0.5 per s
    r = task.progress_reward([[0.7, 0.0]], [[1.0, 0.0]], [[0.8, 0.0]], [[1.1, 0.0]], goal, rate=5.0)
    assert r == pytest.approx([0.5])
    # an episode's progress rewards telescope to rate * (phi(end) - phi(start))
    rng = np.random.default_rng(0)
    base, cube = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    goals = np.tile(goal, (5, 1))
    total = task.progress_reward(base[:-1], cube[:-1], base[1:], cube[1:], goals, rate=5.0).sum()
    ends = task.potential(base[[0, -1]], cube[[0, -1]], goal)
    assert total == pytest.approx(5.0 * (ends[1] - ends[0]))


def test_goal_success_and_outcome():
    task = GoalTask()
    assert task.success((1.7, 0.0), (2.0, 0.0)) and not task.success((1.6, 0.0), (2.0, 0.0))
    assert task.outcome(3.0, (1.7, 0.0), (2.0, 0.0)) == "success"
    assert task.outcome(30.0, (0.0, 0.0), (2.0, 0.0)) == "timeout"
    assert task.outcome(10.0, (0.0, 0.0), (2.0, 0.0)) is None


def test_scripted_goal_command_turns_towards_the_marker_then_walks():
    task = GoalTask()
    ahead = task.scripted_command((0, 0), 0.0, (2.0, 0.0))
    assert ahead[0] == pytest.approx(0.5) and ahead[2] == pytest.approx(0.0)
    left = task.scripted_command((0, 0), 0.0, (0.0, 2.0))  # 90 degrees to the left: turn left, do not walk
    assert left[2] > 0.5 and left[0] == pytest.approx(0.0, abs=1e-9)
    right = task.scripted_command((0, 0), 0.0, (0.0, -2.0))
    assert right[2] < -0.5


def test_body_frame_and_lookup():
    assert to_body_frame((1.0, 1.0), (1.0, 0.0), math.pi / 2) == pytest.approx([1.0, 0.0])
    assert isinstance(task_by_name("goal"), GoalTask) and isinstance(task_by_name("pushcube"), PushCubeTask)
    with pytest.raises(ValueError, match="unknown task 'walk'"):
        task_by_name("walk")
    with pytest.raises(ValueError, match="task must be one of"):
        SimConfig(task="walk")


def test_goal_scene_shows_the_marker_and_parks_the_cube():
    """The marker is at sim/goal_pose, red in the ego image when ahead, absent when behind; the cube is gone."""
    with Go2Sim(SimConfig(task="goal", camera_width=64, camera_height=64)) as sim:
        st = sim.reset(seed=4, pose="stand")
        assert np.hypot(*st.goal_pos[:2]) == pytest.approx(np.hypot(*GoalTask().place(np.random.default_rng(4))))
        assert st.cube_pos[:2] == pytest.approx(PARKED_CUBE_XY, abs=0.01)

        def red_pixels():
            mujoco.mj_forward(sim.model, sim.data)
            img = sim.render_ego().astype(int)
            return int(((img[..., 0] > 150) & (img[..., 1] < 80) & (img[..., 2] < 80)).sum())

        sim.data.mocap_pos[sim.model.body("goal").mocapid[0]] = (2.5, 0.0, 0.0)
        ahead = red_pixels()
        sim.data.mocap_pos[sim.model.body("goal").mocapid[0]] = (-2.5, 0.0, 0.0)
        behind = red_pixels()
    assert ahead >= 20, f"marker 2.5 m ahead covers only {ahead} red pixels of 64x64"
    assert behind == 0
    # the push-cube scene has no marker
    with Go2Sim(SimConfig(task="pushcube")) as sim:
        with pytest.raises(KeyError):
            sim.model.geom("marker")
