"""fog_training.data.bag_to_dataset: `fog dataset` end to end on synthetic bags: good bags written and
bad ones named (missing topics, junk, empty and truncated bags), the exit status, stderr warnings,
the report's camera-rate figures and --topic mapping. What one bag converts to is test_bag_convert.py's."""

from __future__ import annotations

import shutil

import numpy as np
from fog_training.data import synthetic_bags as sb
from fog_training.data.bag_to_dataset import convert
from fog_training.data.bag_to_dataset import main as dataset_main
from fog_training.data.episode_store import EpisodeStore


def test_missing_camera_topic_is_named_and_others_converted(tmp_path, capsys, small_bag):
    good = small_bag("good", duration_s=2.0)
    bad = small_bag("nocam", omit=[sb.IMAGE, sb.INFO], duration_s=2.0)
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


def test_missing_goal_is_named(tmp_path, small_bag, dataset_config):
    bag = small_bag("nogoal", goal=None, duration_s=1.5)
    s = convert(dataset_config([bag.path], tmp_path / "d.zarr"), progress=False)
    assert "topic /sim/goal_pose" in s.failed[0][1] and "--goal" in s.failed[0][1]
    s = convert(dataset_config([bag.path], tmp_path / "e.zarr", goal=(2.0, 0.5)), progress=False)
    assert not s.failed


def test_corrupt_and_truncated_bags(tmp_path, capsys, small_bag):
    good = small_bag("good", duration_s=3.0)
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


def test_empty_mcap_is_named(tmp_path, dataset_config):
    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"\x89MCAP0\r\n")
    s = convert(dataset_config([empty], tmp_path / "d.zarr"), progress=False)
    assert s.failed and "empty bag" in s.failed[0][1] and "missing" not in s.failed[0][1]


def test_camera_rate_comes_from_the_data(tmp_path, capsys, small_bag):
    clean = small_bag("clean15", camera_hz=15.0, duration_s=3.0)
    assert dataset_main([str(clean.path), "--out", str(tmp_path / "a.zarr"), "--image-size", "16"]) == 0
    assert "warning" not in capsys.readouterr().err
    report = (tmp_path / "a.zarr.report" / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| camera/image_raw |"))
    assert row.split("|")[5].strip() == "0"  # gaps
    episodes = [line for line in report.splitlines() if line.startswith("| 0 | 0 |")]
    assert len(episodes) == 1 and episodes[0].split("|")[10].strip() == "0"  # dropped frames
    # A real 2 s hole in a 15 Hz camera: a gap of 30 frames, warned about on stderr.
    holed = small_bag("holed15", camera_hz=15.0, duration_s=4.0, camera_drop=range(15, 45))
    assert dataset_main([str(holed.path), "--out", str(tmp_path / "b.zarr"), "--image-size", "16"]) == 0
    err = capsys.readouterr().err
    assert f"warning: bag {holed.path}: camera/image_raw: 1 gap(s) longer than 2x its period of 66." in err
    assert "(longest 20" in err  # ms: the 2 s hole
    report = (tmp_path / "b.zarr.report" / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| 0 | 0 |"))
    assert row.split("|")[10].strip() == "30"  # dropped frames at the measured 15 Hz


def test_topic_option_maps_other_names(tmp_path, capsys, small_bag):
    names = {
        sb.IMAGE: "/front_cam/image/compressed",
        sb.JOINTS: "/lowstate/joints",
        sb.IMU: "/livox/imu",
        sb.CMD: "/teleop/cmd_vel",
        sb.EVENT: "/task/event",
    }
    ref = small_bag("ref", duration_s=2.0, events=[(0.3, "start"), (1.7, "success")], image_format="png")
    bag = small_bag(
        "foreign", duration_s=2.0, events=[(0.3, "start"), (1.7, "success")], image_format="png", rename=names
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
