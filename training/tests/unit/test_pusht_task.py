"""The Push-T task (fog_training.pusht_task): the action encodings (relative / absolute) map actions to
gym-pusht targets and back, and a collected store's actions replay its episodes exactly through them;
the T's geometry, the dense reward and the image preprocessing by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely.geometry as sg
from fog_training.data.episode_store import EpisodeStore
from fog_training.data.pusht_collect import main as collect_main
from fog_training.pusht_state_env import PushTStateEnv
from fog_training.pusht_task import (
    DEFAULT_ACTION_SCALE_PX,
    GOAL_KEYPOINTS,
    GOAL_POSE,
    T_LOCAL_KEYPOINTS,
    PushTAction,
    dense_reward,
    point_to_t_distance,
    preprocess_pixels,
    reward_terms,
    t_keypoints,
)


def test_encodings_map_actions_to_targets_and_back():
    rel, ab = PushTAction("relative", 40.0), PushTAction("absolute")
    agent = np.array([100.0, 300.0])
    np.testing.assert_allclose(rel.target([0.5, -1.0], agent), [120.0, 260.0])
    np.testing.assert_allclose(rel.target([0.0, 0.0], agent), agent)  # a = 0 holds still
    np.testing.assert_allclose(rel.action([120.0, 260.0], agent), [0.5, -1.0])
    np.testing.assert_allclose(rel.action([300.0, 300.0], agent), [1.0, 0.0])  # long moves clip
    np.testing.assert_allclose(rel.target([-1.0, 1.0], [10.0, 500.0]), [0.0, 512.0])  # stays in the arena
    np.testing.assert_allclose(ab.target([-1.0, 0.0], agent), [0.0, 256.0])
    np.testing.assert_allclose(ab.target(ab.hold(agent), agent), agent)
    np.testing.assert_allclose(rel.hold(agent), [0.0, 0.0])
    # meta round trip; stores written before the switch (a sentence, or nothing) read back as absolute
    assert PushTAction.from_meta(rel.to_meta()) == rel and PushTAction.from_meta(ab.to_meta()) == ab
    old = {"encoding": "normalised absolute agent target: env action (pixels, [0, 512]) = (action + 1) * 256"}
    assert PushTAction.from_meta(old) == ab and PushTAction.from_meta(None) == ab
    with pytest.raises(ValueError):
        PushTAction("polar")


def _episode_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


@pytest.mark.parametrize("encoding", ["relative", "absolute"])
def test_collect_round_trip_dataset_action_to_env_target(tmp_path, encoding):
    """collect -> stored action -> PushTAction(meta).target(action, agent) replays the episode exactly."""
    out = tmp_path / "p.zarr"
    # seed 0: episode 0 is scripted, episode 1 follows smooth random targets (both drivers covered)
    args = ["--episodes", "2", "--max-steps", "15", "--image-size", "16", "--workers", "1", "--seed", "0"]
    assert collect_main([*args, "--action-encoding", encoding, "--action-scale-px", "50", "--out", str(out)]) == 0
    store = EpisodeStore(out)
    enc = PushTAction.from_store_meta(store.meta)
    assert enc == (PushTAction("relative", 50.0) if encoding == "relative" else PushTAction("absolute"))
    assert store.array("extra/policy").min() == 0 and store.array("extra/policy").max() == 1
    env = PushTStateEnv(action=enc).env
    for i in range(store.num_episodes):
        ep = store.episode(i)
        state = ep["extra/state"]
        env.reset(seed=_episode_seed(0, i))
        np.testing.assert_allclose(env.agent.position, state[0, :2])
        for t in range(len(state) - 1):
            env.step(enc.target(ep["action"][t], np.asarray(env.agent.position)))
            np.testing.assert_allclose(
                [*env.agent.position, *env.block.position], state[t + 1, :4], atol=1e-6, err_msg=f"ep {i} t {t}"
            )
    a = store.array("action")
    assert np.abs(a).max() <= 1.0
    if encoding == "relative":  # moves fill [-1, 1] rather than hug 0 or the bounds
        assert 0.05 < np.abs(a).mean() < 0.8 and (np.abs(a) == 1.0).mean() < 0.5


def test_t_keypoints_at_the_goal_pose_and_the_distance_to_the_t():
    kp = t_keypoints(0.0, 0.0, 0.0)
    np.testing.assert_allclose(kp, T_LOCAL_KEYPOINTS)
    turned = t_keypoints(10.0, 20.0, math.pi / 2)  # (x, y) -> (-y, x), then shifted
    np.testing.assert_allclose(turned[1], [10.0, 20.0 + 60.0], atol=1e-9)
    np.testing.assert_allclose(GOAL_KEYPOINTS, t_keypoints(*GOAL_POSE))
    assert point_to_t_distance(np.array([0.0, 15.0]), kp) == 0.0  # inside the bar
    assert point_to_t_distance(np.array([0.0, 100.0]), kp) == 0.0  # inside the stem
    assert point_to_t_distance(np.array([0.0, -10.0]), kp) == pytest.approx(10.0)  # below the bar
    assert point_to_t_distance(np.array([25.0, 80.0]), kp) == pytest.approx(10.0)  # right of the stem
    assert point_to_t_distance(np.array([63.0, -4.0]), kp) == pytest.approx(5.0)  # off a corner: 3-4-5


def test_dense_reward_is_coverage_minus_the_agent_and_keypoint_distances():
    # the block at the goal and the agent touching it: only the coverage counts
    touching = GOAL_KEYPOINTS[0] + np.array([0.0, 0.0])
    assert reward_terms(touching, GOAL_POSE) == (0.0, 0.0)
    assert dense_reward(0.8, touching, GOAL_POSE, 1.0, 0.5, 1.0) == pytest.approx(0.8)
    # moved 512 px away along x: the keypoint term is 1; the agent 15 px past its radius: 15 / 512
    far = GOAL_POSE + np.array([512.0, 0.0, 0.0])
    d_agent, d_kp = reward_terms(np.array([0.0, 0.0]) + t_keypoints(*far)[0] - [0.0, 30.0], far)
    assert d_kp == pytest.approx(1.0) and d_agent == pytest.approx(15.0 / 512)
    r = dense_reward(0.0, t_keypoints(*far)[0] - [0.0, 30.0], far, 1.0, 0.5, 2.0)
    assert r == pytest.approx(-0.5 * 15.0 / 512 - 2.0)


def test_preprocess_pixels_keeps_its_size_and_area_averages_down():
    px = np.zeros((96, 96, 3), np.uint8)
    px[:48] = 200
    assert np.array_equal(preprocess_pixels(px, 96), px)  # already the size: the frame as it is
    small = preprocess_pixels(px, 32)
    assert small.shape == (32, 32, 3) and (small[:16] == 200).all() and (small[16:] == 0).all()
    checker = np.indices((96, 96)).sum(0) % 2 * 255
    mean = preprocess_pixels(np.repeat(checker[..., None], 3, -1).astype(np.uint8), 48).mean()
    assert abs(mean - 127.5) < 1, "INTER_AREA averages the pixels it merges"


def test_an_unknown_encoding_or_a_non_positive_scale_is_refused():
    with pytest.raises(ValueError, match=r"one of \('relative', 'absolute'\), got 'polar'"):
        PushTAction("polar")
    with pytest.raises(ValueError, match="scale must be positive, got 0"):
        PushTAction("relative", 0)
    assert "clip(agent position + 40" in PushTAction("relative", 40.0).describe()
    assert PushTAction("absolute").to_meta()["names"] == ["target_x", "target_y"]
    assert PushTAction().to_meta()["scale_px"] == DEFAULT_ACTION_SCALE_PX


def test_point_to_t_distance_matches_shapely():
    rng = np.random.default_rng(0)
    kp = t_keypoints(200.0, 250.0, 0.7)
    t_shape = sg.Polygon(kp[:4]).union(sg.Polygon(kp[4:]))
    for p in rng.uniform(0, 512, size=(300, 2)):
        assert point_to_t_distance(p, kp) == pytest.approx(t_shape.distance(sg.Point(p)), abs=1e-9)


def test_preprocess_pixels():
    img = np.zeros((96, 96, 3), np.uint8)
    img[:48] = 255
    small = preprocess_pixels(img, 64)
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8
    assert (small[:32] == 255).all() and (small[32:] == 0).all()  # INTER_AREA: exact 1.5x box filter
    assert preprocess_pixels(img, 96) is not None and np.array_equal(preprocess_pixels(img, 96), img)
