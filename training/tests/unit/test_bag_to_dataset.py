"""bag -> dataset: exact alignment on synthetic bags, episode splitting, errors, truncated bags."""

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
from fog_training.data.bag_to_dataset import BagToDatasetConfig, convert
from fog_training.data.bag_to_dataset import main as dataset_main
from fog_training.data.episode_store import EpisodeStore

REPO = Path(__file__).resolve().parents[3]
HW = (24, 32)  # camera frames (small: fast tests)
T0 = 1000.0


def _cfg(bags, out, **kw) -> BagToDatasetConfig:
    kw.setdefault("report", False)  # matplotlib costs ~1 s; the tests that read the report ask for it
    return BagToDatasetConfig(bags=[Path(b) for b in bags], out=Path(out), image_size=16, **kw)


def _bag(tmp_path, name, **kw):
    kw.setdefault("image_hw", HW)
    kw.setdefault("duration_s", 3.0)
    return sb.write_synthetic_bag(tmp_path / name, **kw)


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
    summary = convert(_cfg([bag.path], tmp_path / "d.zarr", report=True), progress=False)
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
    # Only bad bags: nothing written (no store, no report folder), exit 2.
    assert dataset_main([str(bad.path), "--out", str(tmp_path / "e.zarr")]) == 2
    assert not (tmp_path / "e.zarr").exists() and not (tmp_path / "e.zarr.report").exists()


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
    assert f"warning: bag {killed}: incomplete MCAP" in err  # salvaged: said on stderr, not only in the report
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


# ---------------------------------------------------------------- --out safety


# As root (CI) the permission bits do not stop a write; the same refusal is covered there by the test
# above, which makes the probe directory unwritable through tempfile.mkdtemp.


def test_empty_mcap_is_named(tmp_path):
    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"\x89MCAP0\r\n")
    s = convert(_cfg([empty], tmp_path / "d.zarr"), progress=False)
    assert s.failed and "empty bag" in s.failed[0][1] and "missing" not in s.failed[0][1]


# ---------------------------------------------------------------- inputs


# ---------------------------------------------------------------- camera rate, formats, topic names


def test_camera_rate_comes_from_the_data(tmp_path, capsys):
    clean = _bag(tmp_path, "clean15", camera_hz=15.0, duration_s=3.0)
    assert dataset_main([str(clean.path), "--out", str(tmp_path / "a.zarr"), "--image-size", "16"]) == 0
    assert "warning" not in capsys.readouterr().err
    report = (tmp_path / "a.zarr.report" / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| camera/image_raw |"))
    assert row.split("|")[5].strip() == "0"  # gaps
    episodes = [line for line in report.splitlines() if line.startswith("| 0 | 0 |")]
    assert len(episodes) == 1 and episodes[0].split("|")[10].strip() == "0"  # dropped frames
    # A real 2 s hole in a 15 Hz camera: a gap of 30 frames, warned about on stderr.
    holed = _bag(tmp_path, "holed15", camera_hz=15.0, duration_s=4.0, camera_drop=range(15, 45))
    assert dataset_main([str(holed.path), "--out", str(tmp_path / "b.zarr"), "--image-size", "16"]) == 0
    err = capsys.readouterr().err
    assert f"warning: bag {holed.path}: camera/image_raw: 1 gap(s) longer than 2x its period of 66." in err
    assert "(longest 20" in err  # ms: the 2 s hole
    report = (tmp_path / "b.zarr.report" / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| 0 | 0 |"))
    assert row.split("|")[10].strip() == "30"  # dropped frames at the measured 15 Hz


@pytest.mark.parametrize("fmt", ["bgr8", "png", "jpeg"])
def test_camera_encodings_give_rgb(tmp_path, fmt):
    ref = _bag(tmp_path, "rgb", duration_s=1.0)
    other = _bag(tmp_path, fmt, duration_s=1.0, image_format=fmt)
    assert not convert(_cfg([ref.path], tmp_path / "a.zarr"), progress=False).failed
    s = convert(_cfg([other.path], tmp_path / "b.zarr"), progress=False)
    assert not s.failed, s.failed
    a = EpisodeStore(tmp_path / "a.zarr").array("image").astype(int)
    b = EpisodeStore(tmp_path / "b.zarr").array("image").astype(int)
    assert a.shape == b.shape and np.abs(a[..., 0] - a[..., 2]).mean() > 30  # a swap would show
    if fmt == "jpeg":  # lossy: close, and the channels not swapped (a swap differs by ~100)
        assert np.abs(a - b).mean() < 6, np.abs(a - b).mean()
    else:
        np.testing.assert_array_equal(a, b)


def test_topic_option_maps_other_names(tmp_path, capsys):
    names = {
        sb.IMAGE: "/front_cam/image/compressed",
        sb.JOINTS: "/lowstate/joints",
        sb.IMU: "/livox/imu",
        sb.CMD: "/teleop/cmd_vel",
        sb.EVENT: "/task/event",
    }
    ref = _bag(tmp_path, "ref", duration_s=2.0, events=[(0.3, "start"), (1.7, "success")], image_format="png")
    bag = _bag(
        tmp_path, "foreign", duration_s=2.0, events=[(0.3, "start"), (1.7, "success")], image_format="png", rename=names
    )
    args = ["--image-size", "16", "--reward-source", "events", "--no-report"]
    assert dataset_main([str(bag.path), "--out", str(tmp_path / "x.zarr"), *args]) == 2
    err = capsys.readouterr().err
    assert "topic /camera/image_raw: required topic is missing" in err and "--topic ROLE=NAME" in err
    topics = ["camera=/front_cam/image/compressed", "joint_states=/lowstate/joints", "imu=livox/imu"]
    topics += ["cmd_vel=/teleop/cmd_vel", "events=/task/event"]
    mapped = [x for t in topics for x in ("--topic", t)]
    assert dataset_main([str(bag.path), "--out", str(tmp_path / "b.zarr"), *args, *mapped]) == 0
    assert dataset_main([str(ref.path), "--out", str(tmp_path / "a.zarr"), *args]) == 0
    ea, eb = EpisodeStore(tmp_path / "a.zarr").episode(0), EpisodeStore(tmp_path / "b.zarr").episode(0)
    assert eb["reward"][-1] == 1.0 and len(eb["reward"]) == 8
    for key in ("image", "action", "proprio", "reward", "extra/time"):
        np.testing.assert_array_equal(ea[key], eb[key])


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


def test_corrupt_chunk_is_salvaged_around(tmp_path, capsys):
    good = _bag(tmp_path, "good", duration_s=3.0)
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
