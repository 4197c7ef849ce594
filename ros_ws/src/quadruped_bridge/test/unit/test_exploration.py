"""quadruped_bridge.exploration: smooth random commands, their bounds, episode outcomes, body frame."""

import numpy as np
from quadruped_bridge.exploration import (
    EpisodeConfig,
    ExplorationConfig,
    SmoothRandomCommands,
    command_bounds,
    episode_outcome,
    to_body_frame,
)


def test_random_commands_are_smooth_bounded_and_seek_the_cube():
    cfg = ExplorationConfig(seek_probability=0.0)
    gen = SmoothRandomCommands(cfg, seed=1)
    dt = 0.2
    cmds = np.array([gen.update(i * dt, dt) for i in range(500)])
    lo = [cfg.vx_range[0], cfg.vy_range[0], cfg.wz_range[0]]
    hi = [cfg.vx_range[1], cfg.vy_range[1], cfg.wz_range[1]]
    assert np.all(cmds >= lo) and np.all(cmds <= hi)
    # first-order filter: one step moves at most alpha of the range
    alpha = 1 - np.exp(-dt / cfg.smoothing_time)
    assert np.all(np.abs(np.diff(cmds, axis=0)) <= alpha * (np.array(hi) - lo) + 1e-9)
    assert cmds[:, 0].std() > 0.05 and cmds[:, 2].std() > 0.1  # it explores
    seek = SmoothRandomCommands(ExplorationConfig(seek_probability=1.0, seek_noise=0.0), seed=2)
    for i in range(40):
        cmd = seek.update(i * dt, dt, cube_in_body=np.array([1.0, 1.0]))
    assert cmd[2] > 0.5 and cmd[0] > 0.1  # turns left towards a cube ahead-left, moving forward


def test_episode_outcomes():
    cfg = EpisodeConfig(max_duration=10.0)
    upright = (0.0, 0.0, 0.28)
    assert episode_outcome(cfg, 1.0, upright, 0.0, 0.0, (1.0, 0.0), (2.0, 0.0)) is None
    assert episode_outcome(cfg, 1.0, (0, 0, 0.1), 0.0, 0.0) == "fail"
    assert episode_outcome(cfg, 1.0, upright, 1.2, 0.0) == "fail"
    assert episode_outcome(cfg, 1.0, upright, 0.0, 0.0, (2.0, 0.05), (2.0, 0.0)) == "success"
    assert episode_outcome(cfg, 1.0, upright, 0.0, 0.0, (5.0, 0.0), (2.0, 0.0)) == "reset"
    assert episode_outcome(cfg, 10.0, upright, 0.0, 0.0) == "reset"
    np.testing.assert_allclose(to_body_frame((1.0, 1.0), (0.0, 0.0, 0.3), np.pi / 2), [1.0, -1.0], atol=1e-12)


def test_command_bounds_and_the_other_episode_ends():
    lo, hi = command_bounds()
    np.testing.assert_allclose(lo, [-0.2, -0.25, -0.8])
    np.testing.assert_allclose(hi, [0.5, 0.25, 0.8])
    lo, hi = command_bounds(ExplorationConfig(vx_range=(0.0, 0.1)))
    assert (lo[0], hi[0]) == (0.0, 0.1)
    cfg = EpisodeConfig(max_duration=10.0)
    upright = (0.0, 0.0, 0.28)
    assert episode_outcome(cfg, 1.0, upright, 0.0, -0.9) == "fail"  # pitched beyond fall_tilt
    assert episode_outcome(cfg, 1.0, (4.5, 0.0, 0.28), 0.0, 0.0) == "reset"  # the robot left the arena
    # a fall outranks a success in the same tick
    assert episode_outcome(cfg, 1.0, (0, 0, 0.1), 0.0, 0.0, (2.0, 0.0), (2.0, 0.0)) == "fail"
    np.testing.assert_allclose(to_body_frame((3.0, 2.0), (1.0, 2.0, 0.3), 0.0), [2.0, 0.0])
