"""`fog collect-pusht`: geometry agrees with gym-pusht, the store is valid, the dense reward is right."""

from __future__ import annotations

import math

import gym_pusht  # noqa: F401  (registers the environment)
import gymnasium as gym
import numpy as np
import pytest
from fog_training.data.episode_store import EpisodeStore
from fog_training.data.pusht_collect import main as collect_main
from fog_training.data.pusht_collect import render_native
from fog_training.pusht_task import GOAL_KEYPOINTS, reward_terms, t_keypoints


@pytest.fixture(scope="module")
def env():
    e = gym.make("gym_pusht/PushT-v0", obs_type="pixels_agent_pos").unwrapped
    yield e
    e.close()


def test_geometry_and_pixels_match_gym_pusht(env):
    env.reset(seed=11)
    for target in ([100.0, 200.0], [300.0, 350.0], [256.0, 256.0]):
        obs, *_ = env.step(np.array(target))
        # Our pure keypoints equal gym-pusht's own.
        np.testing.assert_allclose(
            t_keypoints(*env.block.position, env.block.angle),
            env.get_keypoints(env._block_shapes),  # noqa: SLF001  (gym-pusht's own, in its order)
            atol=1e-9,
        )
        # The fast renderer is bit-identical to the environment's pixel observation.
        np.testing.assert_array_equal(render_native(env), obs["pixels"])
    goal_body = env.get_goal_pose_body(env.goal_pose)
    shapes = env._block_shapes  # noqa: SLF001  (gym-pusht's own shapes, in its order)
    goal = np.array([goal_body.local_to_world(v) for s in shapes for v in s.get_vertices()])
    np.testing.assert_allclose(GOAL_KEYPOINTS, goal, atol=1e-9)
    # A T exactly on the goal has zero keypoint distance.
    assert reward_terms(np.array([0.0, 0.0]), np.array([256.0, 256.0, math.pi / 4]))[1] == pytest.approx(0.0, abs=1e-12)


def test_collect_three_short_episodes(tmp_path):
    out = tmp_path / "pusht.zarr"
    rc = collect_main(["--episodes", "3", "--max-steps", "30", "--workers", "1", "--seed", "1", "--out", str(out)])
    assert rc == 0
    store = EpisodeStore(out)
    assert store.num_episodes == 3 and store.image_shape == (64, 64)
    assert store.action_dim == 2 and store.proprio_dim == 2
    meta = store.meta
    assert meta["source"] == "pusht" and meta["schema_version"] == 1
    assert "coverage" in meta["reward_source"] and meta["action"]["names"] == ["target_dx", "target_dy"]
    assert meta["action"]["encoding"] == "relative" and meta["action"]["scale_px"] == 60.0
    assert meta["created_by"].startswith("fog collect-pusht --episodes 3")
    cfg = meta["config"]
    for i in range(3):
        ep = store.episode(i)
        n = len(ep["reward"])
        assert 1 <= n <= 30
        assert ep["image"].dtype == np.uint8 and ep["image"].std() > 0
        assert np.all(np.abs(ep["action"]) <= 1.0) and np.all(np.abs(ep["proprio"]) <= 1.0)
        state = ep["extra/state"]
        # proprio is the agent position of o_t, normalised as documented.
        np.testing.assert_allclose(ep["proprio"], state[:, :2] / 256.0 - 1.0, atol=1e-5)
        # reward[t] is the documented formula on the state s[t+1] that the action led to.
        for t in range(n - 1):
            d_agent, d_kp = reward_terms(state[t + 1, :2], state[t + 1, 2:])
            expected = (
                cfg["reward_coverage_weight"] * ep["extra/coverage"][t]
                - cfg["reward_agent_weight"] * d_agent
                - cfg["reward_keypoint_weight"] * d_kp
            )
            assert ep["reward"][t] == pytest.approx(expected, abs=1e-5)
        assert ep["is_terminal"].sum() == int(ep["extra/success"].any())
    reward, coverage = store.array("reward"), store.array("extra/coverage")
    assert coverage.std() > 0.05  # the episodes do vary in coverage, so the check below means something
    assert np.corrcoef(reward, coverage)[0, 1] > 0.5
    # The scripted pusher does touch the T.
    assert store.array("extra/contact")[store.array("extra/policy") == 1].mean() > 0.1


def test_refuses_existing_output(tmp_path, capsys):
    out = tmp_path / "x.zarr"
    out.mkdir()
    assert collect_main(["--episodes", "1", "--max-steps", "2", "--workers", "1", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
