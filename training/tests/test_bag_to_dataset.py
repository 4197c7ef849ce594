"""bag -> dataset: exact alignment on synthetic bags, episode splitting, errors, truncated bags."""

from __future__ import annotations

import importlib.util
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from fog_training.data import alignment as al
from fog_training.data import synthetic_bags as sb
from fog_training.data.bag_to_dataset import (
    JOINT_LOWER,
    JOINT_NAMES,
    JOINT_UPPER,
    PROPRIO_NAMES,
    BagToDatasetConfig,
    convert,
    quat_rotate_inverse,
)
from fog_training.data.bag_to_dataset import main as dataset_main
from fog_training.data.episode_store import EpisodeStore

REPO = Path(__file__).resolve().parents[2]
HW = (24, 32)  # camera frames (small: fast tests)
T0 = 1000.0


def _cfg(bags, out, **kw) -> BagToDatasetConfig:
    kw.setdefault("report", False)  # matplotlib costs ~1 s; the tests that read the report ask for it
    return BagToDatasetConfig(bags=[Path(b) for b in bags], out=Path(out), image_size=16, **kw)


def _bag(tmp_path, name, **kw):
    kw.setdefault("image_hw", HW)
    kw.setdefault("duration_s", 3.0)
    return sb.write_synthetic_bag(tmp_path / name, **kw)


# ---------------------------------------------------------------- pure alignment


def test_latest_at_or_before_and_ticks():
    stamps = np.array([10, 20, 30, 30, 45])
    np.testing.assert_array_equal(
        al.latest_at_or_before(stamps, np.array([5, 10, 29, 30, 44, 100])), [-1, 0, 1, 3, 3, 4]
    )
    np.testing.assert_array_equal(
        al.policy_ticks(1_000, 1_000 + 600_000_000, 5.0), [1_000, 200_001_000, 400_001_000, 600_001_000]
    )
    np.testing.assert_array_equal(al.policy_ticks(0, 599_999_999, 5.0), [0, 200_000_000, 400_000_000])
    # Computed from k, not accumulated: no drift over an hour at 3 Hz.
    ticks = al.policy_ticks(0, 3600 * al.NS, 3.0)
    assert len(ticks) == 10801 and ticks[-1] == 3600 * al.NS


def test_episode_spans():
    S = al.NS
    assert al.episode_spans([], 0, 10 * S) == [al.EpisodeSpan(0, 10 * S, "end")]
    spans = al.episode_spans(
        [(1 * S, "start"), (3 * S, "success"), (4 * S, "start"), (5 * S, "start"), (6 * S, "fail"), (7 * S, "start")],
        0,
        9 * S,
    )
    assert spans == [
        al.EpisodeSpan(1 * S, 3 * S, "success"),
        al.EpisodeSpan(4 * S, 5 * S, "start"),
        al.EpisodeSpan(5 * S, 6 * S, "fail"),
        al.EpisodeSpan(7 * S, 9 * S, "end"),
    ]
    assert [s.terminal for s in spans] == [True, False, True, False]
    # No "start": episodes run between end events.
    spans = al.episode_spans([(2 * S, "reset"), (5 * S, " Success ")], 0, 8 * S)
    assert spans == [
        al.EpisodeSpan(0, 2 * S, "reset"),
        al.EpisodeSpan(2 * S, 5 * S, "success"),
        al.EpisodeSpan(5 * S, 8 * S, "end"),
    ]


def test_map_to_clock_and_runs():
    clock_recv = np.array([100, 200, 300])  # recorder clock
    clock_val = np.array([10, 20, 20])  # sim paused after 20
    np.testing.assert_array_equal(
        al.map_to_clock(np.array([50, 100, 150, 250, 400]), clock_recv, clock_val), [-40, 10, 20, 20, 120]
    )
    np.testing.assert_array_equal(al.map_to_clock(np.array([5]), np.array([]), np.array([])), [5])
    assert al.contiguous_runs(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], bool), 2) == [(0, 2), (6, 9)]
    assert al.dropped_frames(np.array([0, 10, 20, 50, 60, 61]), 10.0) == 2
    np.testing.assert_array_equal(al.gaps(np.array([0, 10, 20, 50, 60]), 10.0), [2])


def test_quat_rotate_inverse():
    r = 0.3
    q = np.array([math.sin(r / 2), 0, 0, math.cos(r / 2)])  # roll r
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    np.testing.assert_allclose(quat_rotate_inverse(q, np.array([0, 0, -1.0])), rx.T @ [0, 0, -1.0], atol=1e-12)


def test_joint_order_matches_go2_description():
    spec = importlib.util.spec_from_file_location(
        "go2_description", REPO / "ros_ws/src/quadruped_bridge/quadruped_bridge/go2_description.py"
    )
    go2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(go2)
    assert JOINT_NAMES == go2.JOINT_NAMES == sb.UNITREE_JOINTS
    np.testing.assert_allclose(JOINT_LOWER, go2.JOINT_LOWER)
    np.testing.assert_allclose(JOINT_UPPER, go2.JOINT_UPPER)


# ---------------------------------------------------------------- exact alignment


def _expected(bag: sb.SyntheticBag, ticks: np.ndarray, rate: float = 5.0):
    """What the converter must produce at these ticks, computed from the bag's ground truth."""
    cam = bag.stamps[sb.IMAGE]
    out = {}
    ci = np.array([np.flatnonzero(cam <= t)[-1] for t in ticks])
    out["frames"] = bag.image_indices[ci]
    out["image_age"] = (ticks - cam[ci]) / 1e9
    ji = np.array([np.flatnonzero(bag.stamps[sb.JOINTS] <= t)[-1] for t in ticks])
    out["joint_pos"] = np.stack([sb.joint_value(k) for k in ji])
    ii = np.array([np.flatnonzero(bag.stamps[sb.IMU] <= t)[-1] for t in ticks])
    out["gravity"] = np.stack(
        [[0.0, -math.sin(sb.imu_roll(k)), -math.cos(sb.imu_roll(k))] for k in ii]
    )  # R_x(roll)^T (0, 0, -1)
    out["gyro"] = np.stack([sb.imu_gyro(k) for k in ii])
    cmd = bag.stamps[sb.CMD]
    action = []
    for t in ticks:
        m = np.flatnonzero(cmd <= t)
        action.append(sb.cmd_value(m[-1]) if len(m) and t - cmd[m[-1]] <= 0.5e9 else np.zeros(3))
    out["action"] = np.stack(action)
    nxt = ticks + int(1e9 / rate)
    pi = np.array([np.flatnonzero(bag.stamps[sb.BASE] <= t)[-1] for t in nxt])
    base = np.array([sb.base_value(k) for k in pi])
    cube = np.array([sb.cube_value(k) for k in pi])
    goal = np.array([2.0, 0.5])
    out["reward"] = -np.linalg.norm(cube[:, :2] - goal, axis=1) - 0.5 * np.maximum(
        np.linalg.norm(base[:, :2] - cube[:, :2], axis=1) - 0.35, 0
    )
    return out


def _check_episode(ep, bag, ticks):
    exp = _expected(bag, ticks)
    assert len(ep["reward"]) == len(ticks)
    np.testing.assert_allclose(ep["extra/time"], ticks / 1e9, rtol=0, atol=1e-6)
    for j, k in enumerate(exp["frames"]):
        want = cv2.resize(sb.synthetic_frame(int(k), HW), (16, 16), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(ep["image"][j], want)
    np.testing.assert_allclose(ep["extra/image_age"], exp["image_age"], atol=1e-6)
    p = ep["proprio"]
    np.testing.assert_allclose(p[:, :12], exp["joint_pos"], rtol=1e-6)  # by name, although published shuffled
    np.testing.assert_allclose(p[:, 12:24], -exp["joint_pos"], rtol=1e-6)
    np.testing.assert_allclose(p[:, 24:27], exp["gravity"], atol=1e-6)
    np.testing.assert_allclose(p[:, 27:30], exp["gyro"], atol=1e-6)
    np.testing.assert_allclose(ep["action"], exp["action"], atol=1e-6)
    np.testing.assert_allclose(ep["reward"], exp["reward"], atol=1e-5)


def test_alignment_is_exact(tmp_path):
    events = [(0.5, "start"), (2.3, "success")]
    bag = _bag(tmp_path, "bag", events=events, jitter_s=0.004)
    assert bag.joint_names_published != list(JOINT_NAMES)  # the mapping by name is exercised
    summary = convert(_cfg([bag.path], tmp_path / "d.zarr", report=True), progress=False)
    assert summary.converted == [str(bag.path)] and not summary.failed
    store = EpisodeStore(tmp_path / "d.zarr")
    assert store.num_episodes == 1
    ticks = np.round((T0 + 0.5 + 0.2 * np.arange(10)) * 1e9).astype(np.int64)  # 0.5 .. 2.3 s inclusive
    ep = store.episode(0)
    _check_episode(ep, bag, ticks)
    assert ep["is_terminal"].tolist() == [False] * 9 + [True]
    assert ep["extra/success"][-1] and ep["extra/success"].sum() == 1
    meta = store.meta
    assert meta["proprio"]["names"] == list(PROPRIO_NAMES) and meta["joint_names"] == list(JOINT_NAMES)
    assert meta["action"]["names"] == ["vx", "vy", "yaw_rate"] and meta["policy_rate_hz"] == 5.0
    assert meta["camera_info"]["width"] == HW[1] and meta["source"] == "go2-sim"
    assert len(meta["source_bags"][0]["sha256"]) == 64
    assert "cube_xy - goal_xy" in meta["reward_source"]
    report = (tmp_path / "d.zarr.report" / "report.md").read_text()
    assert "| camera/image_raw |" in report and (tmp_path / "d.zarr.report" / "skew_and_drops.png").exists()


def test_sim_progress_reward_is_the_change_of_the_sim_potential(tmp_path):
    """sim-progress = rate x (phi(t+1) - phi(t)) with phi the sim reward's formula: the per-episode
    offset cancels and the return telescopes."""
    bag = _bag(tmp_path, "bag", events=[(0.5, "start"), (2.3, "success")])
    assert not convert(_cfg([bag.path], tmp_path / "a.zarr"), progress=False).failed
    assert not convert(_cfg([bag.path], tmp_path / "b.zarr", reward_source="sim-progress"), progress=False).failed
    phi_next = EpisodeStore(tmp_path / "a.zarr").episode(0)["reward"].astype(np.float64)
    store = EpisodeStore(tmp_path / "b.zarr")
    prog = store.episode(0)["reward"].astype(np.float64)
    assert len(prog) == len(phi_next) == 10 and np.abs(prog).max() > 1e-3  # the synthetic cube and robot move
    # ticks are one period apart, so phi at tick t is the sim reward of step t - 1
    np.testing.assert_allclose(prog[1:], 5.0 * np.diff(phi_next), atol=1e-4)
    assert "rate * (phi(t + 1/rate) - phi(t))" in store.meta["reward_source"]


def test_recorder_clock_offset_and_namespace(tmp_path):
    """Receive times 500 s ahead of the sim clock: headerless cmd_vel/events go through /clock."""
    bag = _bag(tmp_path, "bag", events=[(0.5, "start"), (2.3, "reset")], clock_offset_s=500.0, namespace="/go2")
    summary = convert(_cfg([bag.path], tmp_path / "d.zarr"), progress=False)
    assert not summary.failed
    ep = EpisodeStore(tmp_path / "d.zarr").episode(0)
    ticks = np.round((T0 + 0.5 + 0.2 * np.arange(10)) * 1e9).astype(np.int64)
    _check_episode(ep, bag, ticks)
    assert not ep["is_terminal"].any()  # reset is not terminal


def test_episode_split_and_stale_camera(tmp_path):
    # Events without "start": episodes between end events; 0.4 s of camera frames lost in the middle.
    bag = _bag(tmp_path, "bag", events=[(1.0, "fail")], camera_drop=range(45, 57), duration_s=3.0)
    convert(_cfg([bag.path], tmp_path / "d.zarr", report=True), progress=False)
    store = EpisodeStore(tmp_path / "d.zarr")
    # Span 0: bag start .. 1.0 s (fail); span 1: 1.0 s .. end, split where the camera is stale.
    starts = [store.episode(i)["extra/time"][0] - T0 for i in range(store.num_episodes)]
    ends = [store.episode(i)["extra/time"][-1] - T0 for i in range(store.num_episodes)]
    first_tick = max(bag.stamps[t][0] for t in (sb.IMAGE, sb.JOINTS, sb.IMU, sb.BASE, sb.CUBE)) / 1e9 - T0
    assert starts[0] == pytest.approx(first_tick, abs=1e-6)
    assert store.episode(0)["is_terminal"][-1]
    assert starts[1] == pytest.approx(1.0, abs=1e-6) and ends[1] == pytest.approx(1.4, abs=1e-6)
    assert starts[2] == pytest.approx(2.0, abs=1e-6) and store.num_episodes == 3
    assert (store.array("extra/image_age") <= 0.1).all()
    for i in range(store.num_episodes):
        t = store.episode(i)["extra/time"]
        _check_episode(store.episode(i), bag, np.round(t * 1e9).astype(np.int64))
    report = (tmp_path / "d.zarr.report" / "report.md").read_text()
    assert "| 0 | 1 | 1001.00 | " in report  # span 1 is listed with its pieces


def test_joints_action_and_event_reward(tmp_path):
    bag = _bag(tmp_path, "bag", events=[(0.4, "start"), (1.6, "fail")], sim=False)
    cfg = _cfg([bag.path], tmp_path / "d.zarr", action="joints", reward_source="events")
    assert not convert(cfg, progress=False).failed
    store = EpisodeStore(tmp_path / "d.zarr")
    ep = store.episode(0)
    ticks = np.round(ep["extra/time"] * 1e9).astype(np.int64)
    jc = bag.stamps[sb.JCMD]
    want = np.stack([sb.jcmd_value(np.flatnonzero(jc <= t)[-1]) for t in ticks])
    np.testing.assert_allclose(ep["action"], want, rtol=1e-6)
    assert ep["reward"].tolist() == [0.0] * (len(ticks) - 1) + [-1.0] and ep["is_terminal"][-1]
    assert store.meta["source"] == "go2" and store.meta["action"]["names"] == list(JOINT_NAMES)


def test_sqlite3_bag_gives_the_same_dataset(tmp_path):
    a = _bag(tmp_path, "a", storage="mcap", duration_s=2.0)
    b = _bag(tmp_path, "b", storage="sqlite3", duration_s=2.0)
    convert(_cfg([a.path], tmp_path / "a.zarr"), progress=False)
    convert(_cfg([b.path], tmp_path / "b.zarr"), progress=False)
    ea, eb = EpisodeStore(tmp_path / "a.zarr").episode(0), EpisodeStore(tmp_path / "b.zarr").episode(0)
    for key in ("image", "action", "proprio", "reward"):
        np.testing.assert_array_equal(ea[key], eb[key])


# ---------------------------------------------------------------- errors


def test_missing_camera_topic_is_named_and_others_converted(tmp_path, capsys):
    good = _bag(tmp_path, "good", duration_s=2.0)
    bad = _bag(tmp_path, "nocam", omit=[sb.IMAGE, sb.INFO], duration_s=2.0)
    rc = dataset_main([str(bad.path), str(good.path), "--out", str(tmp_path / "d.zarr"), "--image-size", "16"])
    assert rc == 1  # some bags failed, the rest converted
    err = capsys.readouterr().err
    assert f"bag {bad.path}, topic /camera/image_raw: required topic is missing" in err
    store = EpisodeStore(tmp_path / "d.zarr")
    assert [s["path"] for s in store.meta["source_bags"]] == [str(good.path)]
    assert "nocam" in (tmp_path / "d.zarr.report" / "report.md").read_text()
    # Only bad bags: nothing written, exit 2.
    assert dataset_main([str(bad.path), "--out", str(tmp_path / "e.zarr")]) == 2
    assert not (tmp_path / "e.zarr").exists()


def test_missing_goal_is_named(tmp_path):
    bag = _bag(tmp_path, "nogoal", goal=None, duration_s=1.5)
    s = convert(_cfg([bag.path], tmp_path / "d.zarr"), progress=False)
    assert "topic /sim/goal_pose" in s.failed[0][1] and "--goal" in s.failed[0][1]
    s = convert(_cfg([bag.path], tmp_path / "e.zarr", goal=(2.0, 0.5)), progress=False)
    assert not s.failed


def test_corrupt_and_truncated_bags(tmp_path, capsys):
    good = _bag(tmp_path, "good", duration_s=3.0)
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    # A killed recorder: no metadata.yaml, MCAP cut in the middle (no summary, no footer).
    killed = tmp_path / "killed"
    shutil.copytree(good.path, killed)
    (killed / "metadata.yaml").unlink()
    mcap = killed / "good.mcap"
    data = mcap.read_bytes()
    mcap.write_bytes(data[: int(len(data) * 0.7)])
    # Cut so early that no message survives.
    early = tmp_path / "early.mcap"
    early.write_bytes(data[:2000])

    rc = dataset_main(
        [str(p) for p in (junk, killed, early, good.path)] + ["--out", str(tmp_path / "d.zarr"), "--image-size", "16"]
    )
    assert rc == 1
    err = capsys.readouterr().err
    assert f"bag {junk}: not a readable rosbag2 bag" in err
    assert f"bag {early}: not a readable rosbag2 bag" in err and "cut off" in err
    store = EpisodeStore(tmp_path / "d.zarr")
    assert [s["path"] for s in store.meta["source_bags"]] == [str(killed), str(good.path)]
    assert "incomplete MCAP" in store.meta["source_bags"][0]["problems"][0]
    # What survived of the killed bag is exactly the start of the full bag's episode.
    salvaged, full = store.episode(0), store.episode(1)
    n = len(salvaged["reward"])
    assert 3 <= n < len(full["reward"])
    for key in ("image", "action", "proprio"):
        np.testing.assert_array_equal(salvaged[key], full[key][:n])
    report = (tmp_path / "d.zarr.report" / "report.md").read_text()
    assert "## Failed bags" in report and "junk.mcap" in report and "incomplete MCAP" in report


def test_killed_recorder_bag(tmp_path):
    """What a SIGKILLed rosbags MCAP writer leaves after a periodic flush: read up to the flush."""
    bag = _bag(tmp_path, "rec", duration_s=3.0, events=[(0.2, "start")], kill_at_s=1.9)
    killed = tmp_path / "rec_killed"
    assert not (killed / "metadata.yaml").exists()
    s = convert(_cfg([killed, bag.path], tmp_path / "d.zarr"), progress=False)
    assert not s.failed
    store = EpisodeStore(tmp_path / "d.zarr")
    short, full = store.episode(0), store.episode(1)
    # Everything stamped before the kill survives: ticks 0.2 .. 1.8 s (the last tick's data is all older).
    assert len(short["reward"]) == 9 and short["extra/time"][-1] == pytest.approx(T0 + 1.8, abs=1e-6)
    for key in ("image", "action", "proprio"):
        np.testing.assert_array_equal(short[key], full[key][:9])
    assert "incomplete MCAP" in store.meta["source_bags"][0]["problems"][0]


def test_refuses_existing_output_and_help(tmp_path, capsys):
    (tmp_path / "d.zarr").mkdir()
    assert dataset_main(["whatever", "--out", str(tmp_path / "d.zarr")]) == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        dataset_main(["--help"])
    assert e.value.code == 0
    assert "fog dataset data/bags/*/ --out data/go2.zarr" in capsys.readouterr().out
