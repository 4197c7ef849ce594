"""fog_training.data.bag_convert: one bag -> its episodes. Exact alignment on synthetic bags (which
sample each tick takes), rewards of every source, episode splitting on events and stale sensors, the
command in effect, the /clock mapping, storage formats and camera encodings, and what is kept of
killed or corrupt bags. Most tests go through `convert` (the store written); the CLI itself is
test_bag_to_dataset.py's."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from fog_contract.go2 import JOINT_NAMES
from fog_contract.proprio import PROPRIO_NAMES
from fog_training.data import synthetic_bags as sb
from fog_training.data.bag_convert import command_in_effect, convert_bag
from fog_training.data.bag_reader import BagError
from fog_training.data.bag_to_dataset import convert
from fog_training.data.bag_to_dataset import main as dataset_main
from fog_training.data.episode_store import EpisodeStore

HW = (24, 32)  # the frames of conftest.py's small_bag
T0 = 1000.0


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


def test_alignment_is_exact(tmp_path, small_bag, dataset_config):
    events = [(0.5, "start"), (2.3, "success")]
    bag = small_bag("bag", events=events, jitter_s=0.004)
    assert bag.joint_names_published != list(JOINT_NAMES)  # the mapping by name is exercised
    summary = convert(dataset_config([bag.path], tmp_path / "d.zarr", report=True), progress=False)
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


def test_sim_progress_reward_is_the_change_of_the_sim_potential(tmp_path, small_bag, dataset_config):
    """sim-progress = rate x (phi(t+1) - phi(t)) with phi the sim reward's formula: the per-episode
    offset cancels and the return telescopes."""
    bag = small_bag("bag", events=[(0.5, "start"), (2.3, "success")])
    assert not convert(dataset_config([bag.path], tmp_path / "a.zarr"), progress=False).failed
    sim_progress = dataset_config([bag.path], tmp_path / "b.zarr", reward_source="sim-progress")
    assert not convert(sim_progress, progress=False).failed
    phi_next = EpisodeStore(tmp_path / "a.zarr").episode(0)["reward"].astype(np.float64)
    store = EpisodeStore(tmp_path / "b.zarr")
    prog = store.episode(0)["reward"].astype(np.float64)
    assert len(prog) == len(phi_next) == 10 and np.abs(prog).max() > 1e-3  # the synthetic cube and robot move
    # ticks are one period apart, so phi at tick t is the sim reward of step t - 1
    np.testing.assert_allclose(prog[1:], 5.0 * np.diff(phi_next), atol=1e-4)
    assert "rate * (phi(t + 1/rate) - phi(t))" in store.meta["reward_source"]


def test_recorder_clock_offset_and_namespace(tmp_path, small_bag, dataset_config):
    """Receive times 500 s ahead of the sim clock: headerless cmd_vel/events go through /clock."""
    bag = small_bag("bag", events=[(0.5, "start"), (2.3, "reset")], clock_offset_s=500.0, namespace="/go2")
    summary = convert(dataset_config([bag.path], tmp_path / "d.zarr"), progress=False)
    assert not summary.failed
    ep = EpisodeStore(tmp_path / "d.zarr").episode(0)
    ticks = np.round((T0 + 0.5 + 0.2 * np.arange(10)) * 1e9).astype(np.int64)
    _check_episode(ep, bag, ticks)
    assert not ep["is_terminal"].any()  # reset is not terminal


def test_episode_split_and_stale_camera(tmp_path, small_bag, dataset_config):
    # Events without "start": episodes between end events; 0.4 s of camera frames lost in the middle.
    bag = small_bag("bag", events=[(1.0, "fail")], camera_drop=range(45, 57), duration_s=3.0)
    summary = convert(dataset_config([bag.path], tmp_path / "d.zarr", report=True), progress=False)
    # The gap and the split are warnings (main prints them on stderr), not silence.
    warnings = [w for _, w in summary.warnings]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("camera/image_raw: 1 gap(s)") and "starting at 1.5 s into the bag" in warnings[0]
    assert warnings[1].startswith("episode span 1 (1.0 s into the bag): 2 of 10 ticks dropped")
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
    assert "| 0 | 1 | 1.00 | 2.00 | end | 10 | 8 | 2 | " in report  # span 1, from the bag's start, split in 2
    assert "## Warnings" in report and "2 of 10 ticks dropped" in report


def test_joints_action_and_event_reward(tmp_path, small_bag, dataset_config):
    bag = small_bag("bag", events=[(0.4, "start"), (1.6, "fail")], sim=False)
    cfg = dataset_config([bag.path], tmp_path / "d.zarr", action="joints", reward_source="events")
    assert not convert(cfg, progress=False).failed
    store = EpisodeStore(tmp_path / "d.zarr")
    ep = store.episode(0)
    ticks = np.round(ep["extra/time"] * 1e9).astype(np.int64)
    jc = bag.stamps[sb.JCMD]
    want = np.stack([sb.jcmd_value(np.flatnonzero(jc <= t)[-1]) for t in ticks])
    np.testing.assert_allclose(ep["action"], want, rtol=1e-6)
    assert ep["reward"].tolist() == [0.0] * (len(ticks) - 1) + [-1.0] and ep["is_terminal"][-1]
    assert store.meta["source"] == "go2" and store.meta["action"]["names"] == list(JOINT_NAMES)


def test_sqlite3_bag_gives_the_same_dataset(tmp_path, small_bag, dataset_config):
    a = small_bag("a", storage="mcap", duration_s=2.0)
    b = small_bag("b", storage="sqlite3", duration_s=2.0)
    convert(dataset_config([a.path], tmp_path / "a.zarr"), progress=False)
    convert(dataset_config([b.path], tmp_path / "b.zarr"), progress=False)
    ea, eb = EpisodeStore(tmp_path / "a.zarr").episode(0), EpisodeStore(tmp_path / "b.zarr").episode(0)
    for key in ("image", "action", "proprio", "reward"):
        np.testing.assert_array_equal(ea[key], eb[key])


def test_killed_recorder_bag(tmp_path, small_bag, dataset_config):
    """What a SIGKILLed rosbags MCAP writer leaves after a periodic flush: read up to the flush."""
    bag = small_bag("rec", duration_s=3.0, events=[(0.2, "start")], kill_at_s=1.9)
    killed = tmp_path / "rec_killed"
    assert not (killed / "metadata.yaml").exists()
    s = convert(dataset_config([killed, bag.path], tmp_path / "d.zarr"), progress=False)
    assert not s.failed
    store = EpisodeStore(tmp_path / "d.zarr")
    short, full = store.episode(0), store.episode(1)
    # Everything stamped before the kill survives: ticks 0.2 .. 1.8 s (the last tick's data is all older).
    assert len(short["reward"]) == 9 and short["extra/time"][-1] == pytest.approx(T0 + 1.8, abs=1e-6)
    for key in ("image", "action", "proprio"):
        np.testing.assert_array_equal(short[key], full[key][:9])
    assert "incomplete MCAP" in store.meta["source_bags"][0]["problems"][0]


@pytest.mark.parametrize("fmt", ["bgr8", "png", "jpeg"])
def test_camera_encodings_give_rgb(tmp_path, fmt, small_bag, dataset_config):
    ref = small_bag("rgb", duration_s=1.0)
    other = small_bag(fmt, duration_s=1.0, image_format=fmt)
    assert not convert(dataset_config([ref.path], tmp_path / "a.zarr"), progress=False).failed
    s = convert(dataset_config([other.path], tmp_path / "b.zarr"), progress=False)
    assert not s.failed, s.failed
    a = EpisodeStore(tmp_path / "a.zarr").array("image").astype(int)
    b = EpisodeStore(tmp_path / "b.zarr").array("image").astype(int)
    assert a.shape == b.shape and np.abs(a[..., 0] - a[..., 2]).mean() > 30  # a swap would show
    if fmt == "jpeg":  # lossy: close, and the channels not swapped (a swap differs by ~100)
        assert np.abs(a - b).mean() < 6, np.abs(a - b).mean()
    else:
        np.testing.assert_array_equal(a, b)


def _break_a_chunk(mcap: Path) -> None:
    """Give the middle record of the MCAP's first chunk an impossible length (what a flipped bit in a
    record header does): rosbags then fails on the bag, the chunks after it are intact."""
    import struct

    data = bytearray(mcap.read_bytes())
    pos = 8
    while data[pos] != 0x06:  # the first chunk record
        pos += 9 + struct.unpack_from("<Q", data, pos + 1)[0]
    (clen,) = struct.unpack_from("<I", data, pos + 9 + 28)
    assert clen == 0  # uncompressed, as the synthetic writer makes them
    (rlen,) = struct.unpack_from("<Q", data, pos + 9 + 32)
    start = rec = pos + 9 + 40
    bounds = []
    while rec < start + rlen:
        bounds.append(rec)
        rec += 9 + struct.unpack_from("<Q", data, rec + 1)[0]
    mid = bounds[len(bounds) // 2]
    data[mid + 1 : mid + 9] = struct.pack("<Q", 1 << 40)
    mcap.write_bytes(bytes(data))


def test_corrupt_chunk_is_salvaged_around(tmp_path, capsys, small_bag):
    good = small_bag("good", duration_s=3.0)
    broken = tmp_path / "broken"
    shutil.copytree(good.path, broken)
    _break_a_chunk(next(broken.glob("*.mcap")))
    out = tmp_path / "d.zarr"
    assert dataset_main([str(broken), str(good.path), "--out", str(out), "--image-size", "16"]) == 0
    err = capsys.readouterr().err
    assert f"warning: bag {broken}: corrupt MCAP" in err and "skipped the rest of a corrupt chunk" in err
    store = EpisodeStore(out)
    bags = store.array("extra/bag")
    eps = [store.episode(i) for i in range(store.num_episodes)]
    salvaged = [e for e in eps if e["extra/bag"][0] == 0]
    (full,) = [e for e in eps if e["extra/bag"][0] == 1]
    assert len(salvaged) == 2  # split where the chunk's rest was lost, both sides kept
    assert sum(len(e["reward"]) for e in salvaged) < len(full["reward"]) and (bags == 0).sum() >= 8
    for e in salvaged:  # every kept step is the full bag's step at the same tick
        idx = np.searchsorted(full["extra/time"], e["extra/time"])
        np.testing.assert_array_equal(full["extra/time"][idx], e["extra/time"])
        for key in ("image", "proprio"):
            np.testing.assert_array_equal(e[key], full[key][idx])


# ---------------------------------------------------------------- convert_bag and command_in_effect directly


def test_command_in_effect_is_the_latest_fresh_one_else_zero():
    stamps = np.array([10, 20, 40], np.int64)
    values = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [3.0, 0.0, 0.5]])
    ticks = np.array([5, 10, 15, 25, 45, 50, 51, 100], np.int64)
    got = command_in_effect(stamps, values, ticks, timeout_ns=10)
    assert got.shape == (8, 3)
    # before the first command: 0; at or after one: it, until it is older than the timeout
    assert got[:, 0].tolist() == [0.0, 1.0, 1.0, 2.0, 3.0, 3.0, 0.0, 0.0]
    assert got[4].tolist() == [3.0, 0.0, 0.5]


def test_command_in_effect_without_commands_is_zero():
    got = command_in_effect(np.zeros(0, np.int64), np.zeros((0, 2)), np.array([1, 2], np.int64), 10)
    np.testing.assert_array_equal(got, np.zeros((2, 2)))


def test_convert_bag_returns_episodes_and_quality_figures(tmp_path, small_bag, dataset_config):
    bag = small_bag("bag", duration_s=2.0, events=[(0.5, "start"), (1.7, "success")], namespace="/go2")
    res = convert_bag(bag.path, dataset_config([bag.path], tmp_path / "unused.zarr"), bag_index=3)
    assert res.namespace == "/go2" and res.camera_info["width"] == HW[1] and not res.problems
    (ep,) = res.episodes
    n = len(ep["reward"])
    assert n == 7  # ticks 0.5 .. 1.7 s at 5 Hz
    assert ep["image"].shape == (n, 16, 16, 3) and ep["image"].dtype == np.uint8
    assert ep["action"].shape == (n, 3) and ep["proprio"].shape == (n, len(PROPRIO_NAMES))
    assert ep["is_terminal"].tolist() == [False] * (n - 1) + [True]
    assert ep["extra"]["bag"].tolist() == [3] * n and ep["extra"]["state"].shape == (n, 8)
    np.testing.assert_allclose(ep["extra"]["time"], T0 + 0.5 + 0.2 * np.arange(n), atol=1e-6)
    written = sum(len(s) for s in bag.stamps.values())
    assert res.quality["messages"] == written
    assert res.quality["t0_ns"] == min(int(s[0]) for s in bag.stamps.values() if len(s))
    assert res.quality["topics"][sb.IMAGE]["count"] == len(bag.stamps[sb.IMAGE])
    (span,) = res.quality["episodes"]
    assert span["outcome"] == "success" and span["steps"] == n and span["pieces"] == 1


def test_convert_bag_without_a_goal_names_the_topic_and_the_option(tmp_path, small_bag, dataset_config):
    bag = small_bag("nogoal", goal=None, duration_s=1.0)
    with pytest.raises(BagError, match="pass --goal X Y") as e:
        convert_bag(bag.path, dataset_config([bag.path], tmp_path / "unused.zarr"))
    assert e.value.topic == "/sim/goal_pose" and e.value.bag == str(bag.path)


def test_goal_progress_reward_is_the_progress_plus_the_arrival_bonus(tmp_path, small_bag, dataset_config):
    # The synthetic base walks along +x at 0.5 m/s (x = 0.01 k at 50 Hz): it reaches the marker at (1, 0).
    bag = small_bag("goal", duration_s=3.0, goal=(1.0, 0.0))
    res = convert_bag(bag.path, dataset_config([bag.path], tmp_path / "unused.zarr", reward_source="goal-progress"))
    (ep,) = res.episodes
    ticks = np.round(ep["extra"]["time"] * 1e9).astype(np.int64)
    base = bag.stamps[sb.BASE]

    def dist(t):
        x, y, _ = sb.base_value(np.flatnonzero(base <= t)[-1])
        return math.hypot(x - 1.0, y)

    d0 = np.array([dist(t) for t in ticks])
    d1 = np.array([dist(t + 200_000_000) for t in ticks])
    arrived = (d1 < 0.35) & (d0 >= 0.35)
    assert arrived.sum() == 1  # the bonus is exercised once
    np.testing.assert_allclose(ep["reward"], 5.0 * (d0 - d1) + arrived, atol=1e-9)
    assert ep["extra"]["state"].shape == (len(ticks), 5)
    np.testing.assert_allclose(ep["extra"]["state"][:, 3:], np.tile([1.0, 0.0], (len(ticks), 1)))


def test_proprio_reward_reads_the_next_steps_tilt_and_joint_speeds(tmp_path, small_bag, dataset_config):
    bag = small_bag("p", duration_s=2.0, sim=False)
    res = convert_bag(bag.path, dataset_config([bag.path], tmp_path / "unused.zarr", reward_source="proprio"))
    (ep,) = res.episodes
    p = ep["proprio"].astype(np.float64)
    nxt = np.concatenate([p[1:], p[-1:]])  # the last step uses its own
    want = -np.linalg.norm(nxt[:, 24:26], axis=1) - 0.01 * np.mean(nxt[:, 12:24] ** 2, axis=1)
    np.testing.assert_allclose(ep["reward"], want, rtol=1e-6)
    assert np.ptp(ep["reward"]) > 1e-4  # the synthetic IMU rolls: the tilt term changes
    assert "state" not in ep["extra"]
