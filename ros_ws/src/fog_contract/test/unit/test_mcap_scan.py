"""fog_contract.mcap_scan on MCAP files built byte by byte here (no writer library: the contract is pure).

The recorder's recovery and the dataset reader, which both use this scanner, are tested on real
rosbag2 bags in quadruped_bridge/test/integration/test_recorder_node.py and
training/tests/unit/data/test_bag_reader.py and test_bag_convert.py.
"""

from __future__ import annotations

import struct
from binascii import crc32

import pytest
from fog_contract.mcap_scan import MAGIC, McapScan, is_mcap


def _str(s: str) -> bytes:
    return struct.pack("<I", len(s)) + s.encode()


def _rec(op: int, body: bytes) -> bytes:
    return struct.pack("<BQ", op, len(body)) + body


def schema(sid: int, name: str, text: str = "int32 data") -> bytes:
    body = struct.pack("<H", sid) + _str(name) + _str("ros2msg") + struct.pack("<I", len(text)) + text.encode()
    return _rec(0x03, body)


def channel(cid: int, sid: int, topic: str) -> bytes:
    return _rec(0x04, struct.pack("<HH", cid, sid) + _str(topic) + _str("cdr") + struct.pack("<I", 0))


def message(cid: int, t: int, payload: bytes) -> bytes:
    return _rec(0x05, struct.pack("<HIQQ", cid, 0, t, t) + payload)


def chunk(records: bytes, crc: int | None = None, compression: str = "") -> bytes:
    crc = crc32(records) if crc is None else crc
    head = struct.pack("<QQQI", 0, 0, len(records), crc) + _str(compression)
    return _rec(0x06, head + struct.pack("<Q", len(records)) + records)


def footer() -> bytes:
    return _rec(0x02, struct.pack("<QQI", 0, 0, 0))


def write(path, *parts: bytes, closed: bool = True) -> None:
    path.write_bytes(MAGIC + _rec(0x01, _str("ros2") + _str("test")) + b"".join(parts) + (MAGIC if closed else b""))


def two_topics():
    return schema(1, "std_msgs/msg/Int32") + channel(1, 1, "/a") + channel(2, 1, "/b")


def test_complete_file_every_message_in_order_and_the_filter(tmp_path):
    f = tmp_path / "ok.mcap"
    write(f, two_topics(), chunk(message(1, 10, b"a1") + message(2, 20, b"b1")), chunk(message(1, 30, b"a2")), footer())
    assert is_mcap(f)
    scan = McapScan(f)
    assert list(scan.records()) == [("/a", 10, b"a1"), ("/b", 20, b"b1"), ("/a", 30, b"a2")]
    assert scan.error is None and scan.skipped == [] and scan.messages == 3
    types = {c.topic: c.msgtype for c in scan.channels.values()}
    assert types == {"/a": "std_msgs/msg/Int32", "/b": "std_msgs/msg/Int32"}
    assert scan.msgdefs["std_msgs/msg/Int32"] == ("int32 data", "msg")
    assert list(scan.records(want={"/b"})) == [("/b", 20, b"b1")]
    assert scan.messages == 3  # every message record is counted, wanted or not
    assert list(scan.records(want=set())) == []


def test_a_killed_recorder_file_reads_up_to_its_last_complete_record(tmp_path):
    f = tmp_path / "killed.mcap"
    complete = two_topics() + chunk(message(1, 10, b"a1"))
    cut = chunk(message(2, 20, b"b1" * 50))[:-30]  # the last chunk reached disk only in part
    write(f, complete, cut, closed=False)
    scan = McapScan(f)
    assert list(scan.records()) == [("/a", 10, b"a1")]
    assert "cut off" in scan.error
    assert scan.good_bytes == len(MAGIC) + len(_rec(0x01, _str("ros2") + _str("test"))) + len(complete)
    assert scan.size - scan.good_bytes == len(cut)


def test_a_corrupt_chunk_is_skipped_and_the_scan_goes_on(tmp_path):
    f = tmp_path / "corrupt.mcap"
    bad = chunk(message(1, 20, b"lost"), crc=12345)  # its CRC does not match its records
    write(f, two_topics(), chunk(message(1, 10, b"a1")), bad, chunk(message(2, 30, b"b1")), footer())
    scan = McapScan(f)
    assert list(scan.records()) == [("/a", 10, b"a1"), ("/b", 30, b"b1")]
    assert scan.error is None
    assert len(scan.skipped) == 1 and "checksum mismatch" in scan.skipped[0]


def test_a_record_overrunning_its_chunk_is_reported(tmp_path):
    f = tmp_path / "overrun.mcap"
    inner = message(1, 10, b"a1")
    inner = inner[:1] + struct.pack("<Q", 999) + inner[9:]  # claims more bytes than the chunk holds
    write(f, two_topics(), chunk(inner), chunk(message(2, 30, b"b1")), footer())
    scan = McapScan(f)
    assert list(scan.records()) == [("/b", 30, b"b1")]
    assert "past the chunk's end" in scan.skipped[0]


def test_unsupported_compression_is_named(tmp_path):
    f = tmp_path / "brotli.mcap"
    write(f, two_topics(), chunk(message(1, 10, b"a1"), compression="brotli"), footer())
    scan = McapScan(f)
    assert list(scan.records()) == []
    assert "unsupported chunk compression 'brotli'" in scan.skipped[0]


@pytest.mark.parametrize(("content", "error"), [
    (b"", "shorter than the MCAP magic"),
    (b"\x89MCA", "shorter than the MCAP magic"),
    (b"PK\x03\x04 not an mcap file", "file magic is invalid"),
])
def test_not_an_mcap_file(tmp_path, content, error):
    f = tmp_path / "x.mcap"
    f.write_bytes(content)
    scan = McapScan(f)
    assert list(scan.records()) == []
    assert error in scan.error and not scan.channels
    assert not is_mcap(f)


def _compressors():
    """The compressors rosbags installs (imported here only: the contract imports them lazily too)."""
    from lz4.frame import compress as lz4

    try:
        from compression import zstd
    except ImportError:
        from backports import zstd
    return {"lz4": lz4, "zstd": zstd.compress}


@pytest.mark.parametrize("compression", ["zstd", "lz4"])
def test_compressed_chunks_are_read(tmp_path, compression):
    f = tmp_path / f"{compression}.mcap"
    records = message(1, 10, b"a1") + message(2, 20, b"b1")
    packed = _compressors()[compression](records)
    body = struct.pack("<QQQI", 0, 0, len(records), crc32(records)) + _str(compression)
    write(f, two_topics(), _rec(0x06, body + struct.pack("<Q", len(packed)) + packed), footer())
    scan = McapScan(f)
    assert list(scan.records()) == [("/a", 10, b"a1"), ("/b", 20, b"b1")]
    assert scan.error is None and scan.skipped == []
