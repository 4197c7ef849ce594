"""The one forward scanner of MCAP files: every complete record, even when the file has no summary.

A rosbag2 recorder killed with SIGKILL (or a power cut) leaves an MCAP file without its summary
and footer; a disk error can leave a chunk whose content is corrupt. :class:`McapScan` reads the
records in file order and

- stops cleanly at the first record that is cut off (``error`` says where; ``good_bytes`` is the
  end of the last complete record);
- skips the rest of a chunk whose content is corrupt and goes on after it (``skipped`` says which);
- handles schemas, channels and messages at top level or inside chunks (uncompressed, zstd or lz4:
  what rosbags' and rosbag2's MCAP writers produce).

Two users: the recorder's recovery (quadruped_bridge.bag_recovery: rewrite a killed recorder's bag)
and the dataset reader (fog_training.data.bag_reader: salvage a bag rosbags cannot open). Pure
Python: the standard library, plus lz4 or zstd imported only when a compressed chunk appears.

    scan = McapScan(path)
    for topic, log_time_ns, cdr in scan.records(want={"/joint_states"}):  # want=None: every topic
        ...
    scan.channels, scan.msgdefs, scan.messages, scan.good_bytes, scan.error, scan.skipped
"""

from __future__ import annotations

import mmap
import struct
from binascii import crc32
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"\x89MCAP0\r\n"
OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 0x02, 0x03, 0x04, 0x05, 0x06


@dataclass
class Channel:
    """An MCAP channel: its topic and the ROS type name of its schema ("" if the schema is unknown)."""

    topic: str
    msgtype: str


def is_mcap(path: str | Path) -> bool:
    """True if the file starts with the MCAP magic."""
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _decompress(data: bytes, compression: str, size: int, crc: int) -> bytes:
    """A chunk's records, with the size and CRC checks the MCAP format provides."""
    if compression == "":
        raw = data
    elif compression == "zstd":
        try:
            from compression import zstd  # Python >= 3.14
        except ImportError:
            try:
                from backports import zstd  # what rosbags installs on older Pythons
            except ImportError:
                import zstandard as zstd
        raw = zstd.decompress(data)
    elif compression == "lz4":
        from lz4.frame import decompress

        raw = decompress(data)
    else:
        raise ValueError(f"unsupported chunk compression {compression!r} (expected '', 'zstd' or 'lz4')")
    if len(raw) != size:
        raise ValueError(f"chunk size mismatch: expected {size} bytes, got {len(raw)}")
    if crc and crc32(raw) != crc:
        raise ValueError("chunk checksum mismatch")
    return raw


def _string(buf, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, pos)
    return bytes(buf[pos + 4 : pos + 4 + n]).decode(), pos + 4 + n


class McapScan:
    """Forward scan of one MCAP file (see the module docstring); ``records()`` may be called again."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.size = self.path.stat().st_size
        self.channels: dict[int, Channel] = {}
        self.schemas: dict[int, str] = {}
        """Schema id -> ROS type name."""
        self.msgdefs: dict[str, tuple[str, str]] = {}
        """ROS type name -> (message definition text, "msg" or "idl")."""
        self.good_bytes = 0
        self.messages = 0
        """Message records read (every topic), in the last pass."""
        self.error: str | None = None
        self.skipped: list[str] = []
        """Chunks whose content is corrupt past some record: where, and why (the scan goes on after them)."""

    def records(self, want: Collection[str] | None = None) -> Iterator[tuple[str, int, bytes]]:
        """``(topic, log_time_ns, raw CDR)`` of every complete message record on the topics in `want`
        (every topic if None), in file order."""
        self.messages, self.error, self.skipped = 0, None, []
        if self.size < len(MAGIC):
            self.error = "file is empty or shorter than the MCAP magic"
            return
        want = None if want is None else set(want)
        # mmap: a multi-GB bag is not read into memory; slices of an mmap are bytes copies.
        with self.path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield from self._scan(data, want)

    def _scan(self, data, want: set[str] | None) -> Iterator[tuple[str, int, bytes]]:
        if data[: len(MAGIC)] != MAGIC:
            self.error = "file magic is invalid"
            return
        pos = self.good_bytes = len(MAGIC)
        while pos + 9 <= len(data):
            op = data[pos]
            (length,) = struct.unpack_from("<Q", data, pos + 1)
            body_start = pos + 9
            if body_start + length > len(data):
                self.error = f"record at byte {pos} is cut off"
                return
            body = memoryview(data[body_start : body_start + length])
            if op == OP_FOOTER:  # the file is complete after all
                self.good_bytes = body_start + length
                return
            try:
                if op == OP_CHUNK:
                    try:
                        yield from self._chunk(body, want)
                    except Exception as e:  # the chunk's own length is intact: go on after it
                        self.skipped.append(f"chunk at byte {pos}: {type(e).__name__}: {e}")
                else:
                    yield from self._record(op, body, want)
            except Exception as e:
                self.error = f"corrupt record at byte {pos}: {type(e).__name__}: {e}"
                return
            pos = body_start + length
            self.good_bytes = pos
        if pos < len(data):
            self.error = f"record header at byte {pos} is cut off"

    def _chunk(self, body: memoryview, want: set[str] | None) -> Iterator[tuple[str, int, bytes]]:
        _start, _end, usize, crc = struct.unpack_from("<QQQI", body, 0)
        compression, p = _string(body, 28)
        (rlen,) = struct.unpack_from("<Q", body, p)
        inner = _decompress(bytes(body[p + 8 : p + 8 + rlen]), compression, usize, crc)
        pos = 0
        while pos < len(inner):
            op = inner[pos]
            (length,) = struct.unpack_from("<Q", inner, pos + 1)
            if pos + 9 + length > len(inner):
                raise ValueError(f"record at chunk offset {pos} claims {length} bytes, past the chunk's end")
            yield from self._record(op, memoryview(inner)[pos + 9 : pos + 9 + length], want)
            pos += 9 + length

    def _record(self, op: int, body: memoryview, want: set[str] | None) -> Iterator[tuple[str, int, bytes]]:
        if op == OP_MESSAGE:  # channel u16, sequence u32, log_time u64, publish_time u64, data
            cid, _seq, log_time = struct.unpack_from("<HIQ", body, 0)
            self.messages += 1
            ch = self.channels.get(cid)
            if ch is not None and (want is None or ch.topic in want):
                yield ch.topic, log_time, bytes(body[22:])
        elif op == OP_SCHEMA:  # id u16, name str, encoding str, data bytes
            (sid,) = struct.unpack_from("<H", body, 0)
            name, p = _string(body, 2)
            encoding, p = _string(body, p)
            (n,) = struct.unpack_from("<I", body, p)
            self.schemas[sid] = name
            self.msgdefs[name] = (bytes(body[p + 4 : p + 4 + n]).decode(), "msg" if encoding == "ros2msg" else "idl")
        elif op == OP_CHANNEL:  # id u16, schema id u16, topic str, encoding str, metadata map
            cid, sid = struct.unpack_from("<HH", body, 0)
            topic, _p = _string(body, 4)
            self.channels[cid] = Channel(topic, self.schemas.get(sid, ""))
