"""quadruped_bridge.bag_recovery on bags made here: a recorder "killed" after a flushed chunk (the file
copied while its writer was open: no summary, no footer, no metadata.yaml), complete bags, and the
refusals. The recorder itself, SIGKILLed over DDS, is in integration/test_recorder_node.py."""

import shutil

import pytest
from quadruped_bridge.bag_recovery import RecoveryError, RecoveryReport, main, needs_recovery, recover
from rosbags.rosbag2 import Reader, ReaderError, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_KILTED)
String = TS.types["std_msgs/msg/String"]


def write_messages(writer, n):
    """n messages on /a and n // 2 on /b, at known times; returns [(topic, time, data)]."""
    conns = {t: writer.add_connection(t, "std_msgs/msg/String", typestore=TS) for t in ("/a", "/b")}
    sent = []
    for i in range(n):
        for topic in ("/a", "/b") if i % 2 == 0 else ("/a",):
            data = f"{topic} {i}"
            writer.write(conns[topic], 1_000 + i, TS.serialize_cdr(String(data=data), "std_msgs/msg/String"))
            sent.append((topic, 1_000 + i, data))
    return sent


def killed_bag(tmp_path, n=10, tail=b"\x05partial record"):
    """The bag a SIGKILLed recorder leaves: its chunks flushed as the recorder flushes them, then the
    file as it was on disk (plus `tail`, a record that reached disk only in part)."""
    live, bag = tmp_path / "live", tmp_path / "episode_0001"
    writer = Writer(live, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    sent = write_messages(writer, n)
    writer.storage.close_chunk()  # what recorder_node's flush does
    writer.storage.bio.flush()
    bag.mkdir()
    (mcap,) = live.glob("*.mcap")
    (bag / "episode_0001_0.mcap").write_bytes(mcap.read_bytes() + tail)
    writer.close()
    return bag, sent


def read(bag):
    with Reader(bag) as reader:
        return [(c.topic, t, TS.deserialize_cdr(raw, c.msgtype).data) for c, t, raw in reader.messages()]


def test_a_killed_recorders_bag_is_recovered_in_place(tmp_path):
    tail = b"\x05partial record"
    bag, sent = killed_bag(tmp_path, tail=tail)
    assert needs_recovery(bag)
    with pytest.raises((ReaderError, FileNotFoundError)):
        Reader(bag).open()
    report = recover(bag)
    assert report.needed and report.messages == len(sent) == 15
    assert report.per_topic == {"/a": 10, "/b": 5}
    assert report.dropped_bytes == len(tail) and report.skipped == []
    assert (bag / "episode_0001_0.mcap.truncated").is_file()  # the damaged file is kept beside it
    assert sorted(read(bag), key=lambda m: (m[1], m[0])) == sorted(sent, key=lambda m: (m[1], m[0]))
    assert not needs_recovery(bag)
    assert f"recovered 15 messages (/a: 10, /b: 5); {len(tail)} bytes of unflushed tail dropped" in str(report)
    again = recover(bag)
    assert not again.needed and str(again) == f"{bag}: complete, nothing to recover"


def test_needs_recovery_only_for_an_unclosed_mcap_bag(tmp_path):
    complete = tmp_path / "complete"
    with Writer(complete, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        write_messages(writer, 3)
    assert not needs_recovery(complete)
    (tmp_path / "empty").mkdir()
    assert not needs_recovery(tmp_path / "empty")  # no MCAP file: nothing a recorder left
    cut = tmp_path / "cut"
    shutil.copytree(complete, cut)
    (mcap,) = cut.glob("*.mcap")
    mcap.write_bytes(mcap.read_bytes()[:-4])  # metadata.yaml there, the closing magic not
    assert needs_recovery(cut)


def test_refusals_name_the_problem(tmp_path):
    with pytest.raises(RecoveryError, match="not a bag directory"):
        recover(tmp_path / "missing")
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a.mcap", "b.mcap"):
        (two / name).write_bytes(b"x")
    with pytest.raises(RecoveryError, match="expected one .mcap file to recover, found 2"):
        recover(two)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "junk.mcap").write_bytes(b"not an mcap file at all")
    with pytest.raises(RecoveryError, match="junk.mcap is not a readable MCAP file"):
        recover(junk)


def test_command_line_recovers_each_bag_and_fails_on_any_refusal(tmp_path, capsys):
    bag, _ = killed_bag(tmp_path)
    assert main([str(bag)]) == 0
    assert "recovered 15 messages" in capsys.readouterr().out
    assert main([str(bag), str(tmp_path / "missing")]) == 1
    out = capsys.readouterr()
    assert "complete, nothing to recover" in out.out and "missing: cannot recover: " in out.err


def test_report_names_skipped_chunks():
    report = RecoveryReport(bag="b", needed=True, messages=1, per_topic={"/a": 1}, skipped=["chunk at 99: bad CRC"])
    assert str(report).endswith("0 bytes of unflushed tail dropped; skipped the rest of a corrupt chunk at 99: bad CRC")
