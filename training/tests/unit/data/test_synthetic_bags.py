"""fog_training.data.synthetic_bags: the bags the converter's tests read. Each message encodes its
index as documented (frames, joint states by name, IMU, commands, poses, events), the stamps and
receive times it reports are the ones in the bag, and its options (namespace, omit, camera drops,
image formats, renames, storage, no simulator, the recorder's clock offset, a killed recorder) do
what they say. Read back with BagSource and the converter's decoders."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from fog_contract.go2 import JOINT_NAMES
from fog_training.data import synthetic_bags as sb
from fog_training.data.bag_messages import any_image_to_rgb, imu_features, new_typestore, yaw_of
from fog_training.data.bag_reader import BagSource, header_stamp_ns

TS = new_typestore()
HW = (6, 8)
HEADERLESS = (sb.CMD, sb.EVENT, sb.CLOCK)


def _bag(tmp_path, name="bag", **kw):
    kw.setdefault("image_hw", HW)
    kw.setdefault("duration_s", 0.5)
    return sb.write_synthetic_bag(tmp_path / name, **kw)


def _full(topic: str) -> str:
    return topic if topic.startswith("/") else "/" + topic


def _read(path, topics=None) -> dict[str, list[tuple[int, object, bytes]]]:
    """{topic: [(receive ns, message, raw)]} in storage order."""
    out: dict[str, list] = {}
    with BagSource(path) as src:
        types = dict(src.topics)
        for topic, t, raw in src.messages(topics or types):
            out.setdefault(topic, []).append((t, TS.deserialize_cdr(raw, types[topic]), bytes(raw)))
    return out


# ---- the value helpers


def test_synthetic_frame_encodes_its_index():
    f = sb.synthetic_frame(7, (4, 5))
    assert f.shape == (4, 5, 3) and f.dtype == np.uint8
    assert f[0, :, 0].tolist() == [(4 * x + 21) % 256 for x in range(5)]
    assert f[:, 0, 1].tolist() == [(4 * y + 2) % 256 for y in range(4)]
    assert (f[..., 2] == 7).all() and (sb.synthetic_frame(300, (4, 5))[..., 2] == 44).all()
    assert not np.array_equal(sb.synthetic_frame(1, (4, 5)), sb.synthetic_frame(2, (4, 5)))


def test_value_helpers():
    np.testing.assert_allclose(sb.joint_value(10), np.arange(12) + 1e-3)
    assert sb.imu_roll(20) == pytest.approx(0.02) and sb.imu_gyro(3).tolist() == pytest.approx([3e-4, 0.5, -0.5])
    np.testing.assert_allclose(sb.cmd_value(12), [0.2, -0.25, 0.12])
    np.testing.assert_allclose(sb.jcmd_value(5), 0.1 * np.arange(12) + 5e-3)
    assert sb.base_value(10) == pytest.approx((0.1, 0.0, 0.02)) and sb.cube_value(10) == pytest.approx((1.05, 0.2, 0.0))


# ---- what a bag holds


def test_topics_counts_and_stamps_are_what_the_bag_reports(tmp_path):
    bag = _bag(tmp_path, events=[(0.1, "start"), (0.4, "success")])
    msgs = _read(bag.path)
    assert set(msgs) == {_full(t) for t in bag.stamps}
    n = {sb.IMAGE: 16, sb.INFO: 16, sb.JOINTS: 251, sb.IMU: 251, sb.CMD: 3, sb.JCMD: 26, sb.EVENT: 2,
         sb.BASE: 26, sb.CUBE: 26, sb.GOAL: 1, sb.CLOCK: 51}  # floor(0.5 s * rate) + 1
    assert {t: len(s) for t, s in bag.stamps.items()} == n
    for topic, stamps in bag.stamps.items():
        got = msgs[_full(topic)]
        recv = [t for t, _, _ in got]
        assert recv == sorted(bag.recv[topic].tolist()), topic  # written in receive-time order
        if topic not in HEADERLESS:
            assert sorted(header_stamp_ns(raw) for _, _, raw in got) == sorted(stamps.tolist()), topic
            lat = bag.recv[topic] - stamps
            assert lat.min() >= 1_000_000 and lat.max() < 1_500_000, topic  # 1 ms + up to 0.5 ms
        else:
            np.testing.assert_array_equal(bag.recv[topic], stamps)
    cam = bag.stamps[sb.IMAGE]
    assert np.abs(cam - (1000e9 + np.arange(16) * 1e9 / 30)).max() <= 0.003e9 + 1  # jitter within 3 ms
    clock = [m.clock.sec * 10**9 + m.clock.nanosec for _, m, _ in msgs["/clock"]]
    assert clock == bag.stamps[sb.CLOCK].tolist()
    assert [m.data for _, m, _ in msgs["/episode/event"]] == ["start", "success"]
    np.testing.assert_array_equal(bag.stamps[sb.EVENT], [1000_100_000_000, 1000_400_000_000])


def test_messages_encode_their_index(tmp_path):
    bag = _bag(tmp_path)
    msgs = _read(bag.path)

    def by_stamp(topic):
        return sorted(msgs[_full(topic)], key=lambda m: header_stamp_ns(m[2]))

    for k, (_, img, _) in enumerate(by_stamp(sb.IMAGE)):
        np.testing.assert_array_equal(any_image_to_rgb(img, bag.path, "/camera/image_raw"), sb.synthetic_frame(k, HW))
    assert bag.joint_names_published != list(JOINT_NAMES) and sorted(bag.joint_names_published) == sorted(JOINT_NAMES)
    for k, (_, js, _) in enumerate(by_stamp(sb.JOINTS)[:20]):
        assert list(js.name) == bag.joint_names_published
        pos = dict(zip(js.name, js.position, strict=True))
        np.testing.assert_allclose([pos[n] for n in JOINT_NAMES], sb.joint_value(k))
        np.testing.assert_allclose(js.velocity, -js.position)
    for k, (_, imu, _) in enumerate(by_stamp(sb.IMU)[:20]):
        r = sb.imu_roll(k)
        want = [0.0, -math.sin(r), -math.cos(r), *sb.imu_gyro(k)]
        np.testing.assert_allclose(imu_features(imu), want, atol=1e-9)
    for m, (_, tw, _) in enumerate(msgs["/cmd_vel"]):
        np.testing.assert_allclose([tw.linear.x, tw.linear.y, tw.angular.z], sb.cmd_value(m))
    for k, (_, pose, _) in enumerate(by_stamp(sb.BASE)):
        p = pose.pose
        assert (p.position.x, p.position.y, yaw_of(p.orientation)) == pytest.approx(sb.base_value(k))
    (_, goal, _), = msgs["/sim/goal_pose"]
    assert (goal.pose.position.x, goal.pose.position.y) == (2.0, 0.5)


def test_the_seed_fixes_the_timing(tmp_path):
    a, b = _bag(tmp_path, "a", seed=3), _bag(tmp_path, "b", seed=3)
    c = _bag(tmp_path, "c", seed=4)
    np.testing.assert_array_equal(a.stamps[sb.IMAGE], b.stamps[sb.IMAGE])
    assert a.joint_names_published == b.joint_names_published
    assert not np.array_equal(a.stamps[sb.IMAGE], c.stamps[sb.IMAGE])
    flat = _bag(tmp_path, "d", jitter_s=0.0, shuffle_joint_names=False)
    np.testing.assert_array_equal(flat.stamps[sb.IMAGE], np.round(1000e9 + np.arange(16) * 1e9 / 30).astype(np.int64))
    assert flat.joint_names_published == list(JOINT_NAMES)


# ---- options


def test_namespace_omit_and_camera_drop(tmp_path):
    bag = _bag(tmp_path, namespace="go2/", omit=[sb.IMU], camera_drop=[2, 3, 9])
    msgs = _read(bag.path)
    assert "/go2/camera/image_raw" in msgs and "/go2/imu/data" not in msgs and "/camera/image_raw" not in msgs
    assert len(bag.stamps[sb.IMU]) == 251  # the omitted topic's timing is still reported
    assert bag.image_indices.tolist() == [k for k in range(16) if k not in (2, 3, 9)]
    assert len(msgs["/go2/camera/image_raw"]) == len(bag.stamps[sb.IMAGE]) == 13
    frames = sorted(msgs["/go2/camera/image_raw"], key=lambda m: header_stamp_ns(m[2]))
    blue = [int(img.data[2]) for _, img, _ in frames]  # pixel (0, 0)'s blue is the frame index
    assert blue == bag.image_indices.tolist()


@pytest.mark.parametrize("fmt", ["bgr8", "png", "jpeg"])
def test_image_formats(tmp_path, fmt):
    bag = _bag(tmp_path, image_format=fmt, duration_s=0.2, image_hw=(16, 16))
    msgs = _read(bag.path)
    compressed = fmt in ("png", "jpeg")
    topic = "/camera/image_raw/compressed" if compressed else "/camera/image_raw"
    (_, msg, _), *_ = sorted(msgs[topic], key=lambda m: header_stamp_ns(m[2]))
    assert (type(msg).__name__ == "sensor_msgs__msg__CompressedImage") == compressed
    if compressed:
        assert msg.format == f"bgr8; {fmt} compressed bgr8"
        bgr = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
        err = np.abs(bgr[..., ::-1].astype(int) - sb.synthetic_frame(0, (16, 16))).mean()
        assert err == 0 if fmt == "png" else err < 10, err
    else:
        assert msg.encoding == "bgr8"
        rgb = np.asarray(msg.data).reshape(16, 16, 3)[..., ::-1]
        np.testing.assert_array_equal(rgb, sb.synthetic_frame(0, (16, 16)))


def test_rename_sqlite3_and_no_simulator(tmp_path):
    bag = _bag(tmp_path, storage="sqlite3", sim=False, rename={sb.IMU: "/livox/imu"}, namespace="/ns")
    assert [p.suffix for p in bag.path.iterdir() if p.name != "metadata.yaml"] == [".db3"]
    msgs = _read(bag.path)
    assert "/livox/imu" in msgs and "/ns/imu/data" not in msgs and "/ns/joint_states" in msgs
    assert not {"/ns/sim/base_pose", "/ns/sim/cube_pose", "/ns/sim/goal_pose", "/clock"} & set(msgs)
    assert sb.BASE not in bag.stamps and sb.CLOCK not in bag.stamps


def test_goal_none_writes_no_goal(tmp_path):
    msgs = _read(_bag(tmp_path, goal=None).path)
    assert "/sim/goal_pose" not in msgs and "/sim/base_pose" in msgs


def test_clock_offset_moves_only_the_receive_times(tmp_path):
    a = _bag(tmp_path, "a")
    b = _bag(tmp_path, "b", clock_offset_s=500.0)
    for topic in (sb.IMAGE, sb.CMD, sb.CLOCK):
        np.testing.assert_array_equal(a.stamps[topic], b.stamps[topic])
        np.testing.assert_array_equal(b.recv[topic] - a.recv[topic], 500 * 10**9)
    clock = [m.clock.sec * 10**9 + m.clock.nanosec for _, m, _ in _read(b.path, ["/clock"])["/clock"]]
    assert clock == b.stamps[sb.CLOCK].tolist()  # /clock keeps the simulator's time


def test_kill_leaves_the_messages_received_before_the_kill(tmp_path):
    bag = _bag(tmp_path, duration_s=1.0, kill_at_s=0.6, clock_offset_s=2.0)
    killed = tmp_path / "bag_killed"
    assert (bag.path / "metadata.yaml").exists() and not (killed / "metadata.yaml").exists()
    with BagSource(killed) as src:
        assert src.salvaged and "incomplete MCAP" in src.problems[0]
        got = sorted((topic, t) for topic, t, _ in src.messages(src.topics))
    cut = 1000.6e9 + 2e9  # the kill time on the recorder's clock
    want = sorted((_full(topic), int(t)) for topic, recv in bag.recv.items() for t in recv if t < cut)
    assert got == want and 0 < len(got) < sum(len(r) for r in bag.recv.values())
