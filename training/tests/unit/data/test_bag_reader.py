"""fog_training.data.bag_reader: BagSource over bags the tests write with rosbags (MCAP and sqlite3),
the salvage of what a killed recorder leaves, the errors for what is not a bag (BagError), and the
helpers header_stamp_ns, stamp_ns, bag_files and file_sha256."""

from __future__ import annotations

import hashlib
import shutil
import struct
from pathlib import Path

import pytest
from fog_training.data.bag_reader import BagError, BagSource, bag_files, file_sha256, header_stamp_ns, stamp_ns
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_JAZZY)
T0 = 1_700_000_000_000_000_000
STRING, HEADER = "std_msgs/msg/String", "std_msgs/msg/Header"


def string_msg(text: str) -> bytes:
    return TS.serialize_cdr(TS.types[STRING](data=text), STRING)


def header_msg(ns: int) -> bytes:
    stamp = TS.types["builtin_interfaces/msg/Time"](sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)
    return TS.serialize_cdr(TS.types[HEADER](stamp=stamp, frame_id="base"), HEADER)


def write_bag(path: Path, n: int = 10, storage: str = "mcap", kill_at: int | None = None) -> list[tuple[str, int]]:
    """A bag of ``n`` rounds of /a (String 'a{i}') and /h (Header stamped i ms); with ``kill_at``, a
    copy at ``<path>_killed`` of the bag as a recorder SIGKILLed after round ``kill_at`` leaves it.
    Returns the (topic, receive ns) written, in order."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    written = []
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        a = writer.add_connection("/a", STRING, typestore=TS)
        h = writer.add_connection("/h", HEADER, typestore=TS)
        for i in range(n):
            if i == kill_at:
                writer.storage.close_chunk()  # the recorder's periodic flush
                writer.storage.bio.flush()
                shutil.copytree(path, path.with_name(path.name + "_killed"))
            t = T0 + i * 1_000_000
            writer.write(a, t, string_msg(f"a{i}"))
            writer.write(h, t + 500, header_msg(t - 1000))
            written += [("/a", t), ("/h", t + 500)]
    return written


def read_all(src: BagSource, topics=("/a", "/h")) -> list[tuple[str, int, bytes]]:
    return [(topic, t, bytes(raw)) for topic, t, raw in src.messages(topics)]


# ---- reading a good bag


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_messages_come_in_storage_order_with_topics_and_raw_cdr(tmp_path, storage):
    written = write_bag(tmp_path / "bag", storage=storage)
    with BagSource(tmp_path / "bag") as src:
        assert src.topics == {"/a": STRING, "/h": HEADER}
        assert not src.salvaged and src.problems == [], "a complete bag is not salvaged"
        got = read_all(src)
    assert [(topic, t) for topic, t, _ in got] == written
    assert got[0][2] == string_msg("a0") and got[-1][2] == header_msg(T0 + 9 * 1_000_000 - 1000)
    assert TS.deserialize_cdr(got[2][2], STRING).data == "a1"


def test_messages_are_filtered_by_topic(tmp_path):
    write_bag(tmp_path / "bag", n=4)
    with BagSource(tmp_path / "bag") as src:
        only_a = read_all(src, ["/a"])
        none = read_all(src, ["/not_there"])
    assert [t for t, _, _ in only_a] == ["/a"] * 4
    assert none == [], "a topic the bag lacks gives no messages, not an error"


def test_message_definitions_are_kept_per_type(tmp_path):
    write_bag(tmp_path / "bag", n=1)
    with BagSource(tmp_path / "bag") as src:
        text, fmt = src.msgdefs[STRING]
    assert "string data" in text and fmt in ("msg", "idl")


def test_header_stamp_is_read_from_the_cdr_of_a_bag_message(tmp_path):
    write_bag(tmp_path / "bag", n=3)
    with BagSource(tmp_path / "bag") as src:
        stamps = [header_stamp_ns(raw) for _, _, raw in src.messages(["/h"])]
    assert stamps == [T0 + i * 1_000_000 - 1000 for i in range(3)]


# ---- a killed recorder's bag


def test_killed_recorder_bag_is_salvaged_up_to_the_flush(tmp_path):
    written = write_bag(tmp_path / "rec", n=10, kill_at=6)
    killed = tmp_path / "rec_killed"
    assert not (killed / "metadata.yaml").exists(), "the copy is what a killed recorder leaves"
    with BagSource(killed) as src:
        assert src.salvaged
        assert src.topics == {"/a": STRING, "/h": HEADER}
        assert STRING in src.msgdefs
        got = read_all(src)
    assert [(topic, t) for topic, t, _ in got] == written[:12], "every message flushed before the kill"
    assert got[0][2] == string_msg("a0")
    assert len(src.problems) == 1 and src.problems[0].startswith("incomplete MCAP")
    assert "12 messages recovered" in src.problems[0]


def test_killed_recorder_mcap_file_alone_is_salvaged(tmp_path):
    write_bag(tmp_path / "rec", n=6, kill_at=3)
    (mcap,) = (tmp_path / "rec_killed").glob("*.mcap")
    with BagSource(mcap) as src:
        assert src.salvaged and len(read_all(src)) == 6


def test_force_scan_reads_a_good_mcap_forward_and_says_so(tmp_path):
    written = write_bag(tmp_path / "bag", n=5)
    with BagSource(tmp_path / "bag", force_scan="testing") as src:
        got = read_all(src)
        assert src.salvaged and "corrupt MCAP (testing)" in src.problems[0]
    assert [(topic, t) for topic, t, _ in got] == written


# ---- what is not a bag


def test_missing_path_is_named(tmp_path):
    with pytest.raises(BagError, match="does not exist") as e, BagSource(tmp_path / "nope"):
        pass
    assert e.value.bag == str(tmp_path / "nope") and str(tmp_path / "nope") in str(e.value)


def test_random_bytes_are_not_a_bag(tmp_path):
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(BagError, match="not a readable rosbag2 bag") as e, BagSource(junk):
        pass
    assert f"bag {junk}:" in str(e.value)


def test_directory_without_a_bag_is_named(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("hi")
    with pytest.raises(BagError, match="not a readable rosbag2 bag"), BagSource(tmp_path / "d"):
        pass


def test_empty_mcap_is_named_empty(tmp_path):
    empty = tmp_path / "empty.mcap"
    empty.write_bytes(b"\x89MCAP0\r\n")
    with pytest.raises(BagError, match="empty bag: empty.mcap holds no channels"), BagSource(empty):
        pass


def test_mcap_cut_before_any_channel_is_not_readable(tmp_path):
    write_bag(tmp_path / "bag", n=5)
    (mcap,) = (tmp_path / "bag").glob("*.mcap")
    cut = tmp_path / "cut.mcap"
    cut.write_bytes(mcap.read_bytes()[:12])
    with pytest.raises(BagError, match="not a readable rosbag2 bag") as e, BagSource(cut):
        pass
    assert str(cut) in str(e.value) and "forward scan: record header at byte 8 is cut off" in str(e.value)


def test_bag_error_names_bag_and_topic():
    e = BagError("/x/bag", "went wrong", "/cam")
    assert str(e) == "bag /x/bag, topic /cam: went wrong" and (e.bag, e.topic) == ("/x/bag", "/cam")
    assert str(BagError(Path("/x/bag"), "went wrong")) == "bag /x/bag: went wrong"


# ---- helpers


def test_header_stamp_reads_little_and_big_endian_cdr():
    le = b"\x00\x01\x00\x00" + struct.pack("<iI", 12, 345) + b"rest"
    be = b"\x00\x00\x00\x00" + struct.pack(">iI", 12, 345)
    assert header_stamp_ns(le) == 12_000_000_345
    assert header_stamp_ns(memoryview(be)) == 12_000_000_345, "big-endian (encapsulation 0x0000)"


def test_stamp_ns_of_a_time():
    t = TS.types["builtin_interfaces/msg/Time"](sec=3, nanosec=999_999_999)
    assert stamp_ns(t) == 3_999_999_999


def test_bag_files_of_a_directory_are_its_regular_files_sorted(tmp_path):
    (tmp_path / "b.mcap").write_bytes(b"2")
    (tmp_path / "a.yaml").write_bytes(b"1")
    (tmp_path / "sub").mkdir()
    assert bag_files(tmp_path) == [tmp_path / "a.yaml", tmp_path / "b.mcap"]
    assert bag_files(tmp_path / "b.mcap") == [tmp_path / "b.mcap"]


def test_file_sha256_hashes_the_files_concatenated_in_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"hello ")
    b.write_bytes(b"world" * 300_000)  # > one 1 MiB block
    assert file_sha256([a, b]) == hashlib.sha256(b"hello " + b"world" * 300_000).hexdigest()
    assert file_sha256([b, a]) != file_sha256([a, b]), "order matters"
    assert file_sha256([]) == hashlib.sha256().hexdigest()
