"""Reading rosbag2 bags (MCAP or sqlite3) with `rosbags`, including bags a killed recorder left.

:class:`BagSource` gives ``(topic, receive_ns, raw CDR)`` in the storage's order, for the topics
asked for. It opens a bag with ``rosbags`` when it can; when that fails on an MCAP file (no
footer or summary, no metadata.yaml: what a killed recorder leaves) it falls back to a forward
scan of the MCAP records that stops at the first incomplete record, and says so in
``problems``. Anything else unreadable raises :class:`BagError` naming the bag. A bag that opens
but holds corrupt data raises :class:`CorruptDataError` while reading; ``BagSource(path,
force_scan=True)`` then reads its MCAP forward instead, skipping what is left of a chunk past the
damage (``problems`` says which).

``header_stamp_ns`` reads a message's ``header.stamp`` straight from the CDR bytes (the Header
is the first field of every stamped type), so that timing work never deserializes the 500 Hz
streams or the images.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

from rosbags.rosbag2 import Reader


class BagError(RuntimeError):
    """A bag (or one of its topics) cannot be converted. The message names the bag and the topic."""

    def __init__(self, bag: str | Path, message: str, topic: str | None = None) -> None:
        self.bag = str(bag)
        self.topic = topic
        where = f"bag {self.bag}" + (f", topic {topic}" if topic else "")
        super().__init__(f"{where}: {message}")


class CorruptDataError(BagError):
    """The bag opened, but reading its messages hit corrupt data (a forward scan may get around it)."""


_MCAP_MAGIC = b"\x89MCAP0\r\n"


def header_stamp_ns(raw: bytes | memoryview) -> int:
    """``header.stamp`` (ns) of a CDR-serialized stamped message (4-byte encapsulation, then sec, nanosec)."""
    little = raw[1] == 1  # encapsulation id 0x0001 = CDR_LE, 0x0000 = CDR_BE
    sec, nsec = struct.unpack_from("<iI" if little else ">iI", raw, 4)
    return sec * 1_000_000_000 + nsec


def stamp_ns(stamp) -> int:
    """builtin_interfaces/Time -> ns."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def file_sha256(paths: list[Path]) -> str:
    """sha256 over the files' bytes in the given order (a bag directory: its files sorted by name)."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


def bag_files(path: Path) -> list[Path]:
    """The files that make up a bag: the file itself, or every regular file of a bag directory."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    return [path]


@dataclass
class BagSource:
    """One bag, opened for reading. Use as a context manager.

    ``topics`` maps each topic to its message type; ``problems`` lists what was wrong but
    tolerated (a truncated MCAP: how far it could be read).
    """

    path: Path
    topics: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    salvaged: bool = False
    msgdefs: dict[str, tuple[str, str]] = field(default_factory=dict)
    """msgtype -> (definition text, format 'msg'|'idl'), for types not in the type store."""
    force_scan: str | None = None
    """Why to read the MCAP forward record by record even though rosbags opens it (corrupt data)."""

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self._reader: Reader | None = None
        self._mcap: Path | None = None

    # ---- opening ----
    def __enter__(self) -> BagSource:
        if not self.path.exists():
            raise BagError(self.path, "does not exist")
        mcap = self._mcap_file() if self.force_scan else None
        if mcap is not None:
            self._open_salvage(mcap, self.force_scan, corrupt=True)
            return self
        try:
            reader = Reader(self.path)
            reader.open()
        except Exception as e:  # rosbags raises ReaderError, FileNotFoundError, KeyError, ...
            mcap = self._mcap_file()
            if mcap is None:
                raise BagError(self.path, f"not a readable rosbag2 bag ({type(e).__name__}: {e})") from e
            self._open_salvage(mcap, f"{type(e).__name__}: {e}")
            return self
        self._reader = reader
        for conn in reader.connections:
            self.topics[conn.topic] = conn.msgtype
            if conn.msgdef.data:
                self.msgdefs[conn.msgtype] = (conn.msgdef.data, "msg" if conn.msgdef.format.name == "MSG" else "idl")
        return self

    def __exit__(self, *exc) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _mcap_file(self) -> Path | None:
        if self.path.is_file():
            with self.path.open("rb") as f:
                return self.path if f.read(8) == _MCAP_MAGIC else None
        candidates = sorted(self.path.glob("*.mcap"))
        return candidates[0] if len(candidates) == 1 else None

    def _open_salvage(self, mcap: Path, why: str, corrupt: bool = False) -> None:
        scan = McapScan(mcap)
        for _ in scan.records(want=set()):  # one pass to learn channels and how far it reads
            pass
        if scan.error and not scan.channels:
            raise BagError(self.path, f"not a readable rosbag2 bag ({why}; forward scan: {scan.error})")
        if not scan.channels:
            raise BagError(self.path, f"empty bag: {mcap.name} holds no channels and no messages ({scan.size} bytes)")
        self.salvaged = True
        self._mcap = mcap
        self.topics = {ch.topic: ch.msgtype for ch in scan.channels.values()}
        self.msgdefs = dict(scan.msgdefs)
        self.problems.append(
            f"{'corrupt' if corrupt else 'incomplete'} MCAP ({why}); read forward up to byte {scan.good_bytes} "
            f"of {scan.size}" + (f" ({scan.error})" if scan.error else "") + f": {scan.messages} messages recovered"
        )
        self.problems += [f"skipped the rest of a corrupt chunk: {why}" for why in scan.skipped]

    # ---- reading ----
    def messages(self, topics: Collection[str]) -> Iterator[tuple[str, int, bytes | memoryview]]:
        """``(topic, receive_ns, raw CDR)`` for the given topics, in storage order."""
        topics = set(topics)
        if self._reader is not None:
            conns = [c for c in self._reader.connections if c.topic in topics]
            if not conns:
                return
            try:
                for conn, t, raw in self._reader.messages(connections=conns):
                    yield conn.topic, t, raw
            except Exception as e:
                raise CorruptDataError(self.path, f"corrupt data while reading ({type(e).__name__}: {e})") from e
            return
        assert self._mcap is not None
        yield from McapScan(self._mcap).records(want=topics)


@dataclass
class _Channel:
    topic: str
    msgtype: str


class McapScan:
    """Forward scan of an MCAP file's records, stopping cleanly at the first incomplete one.

    Handles schemas, channels and messages at top level or inside chunks (uncompressed, zstd or
    lz4), which covers what rosbags' and rosbag2's MCAP writers produce.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.schemas: dict[int, str] = {}
        self.msgdefs: dict[str, tuple[str, str]] = {}
        self.channels: dict[int, _Channel] = {}
        self.good_bytes = 0
        self.messages = 0
        self.error: str | None = None
        self.skipped: list[str] = []
        """Chunks whose content is corrupt past some record: where, and why (the scan goes on after them)."""

    def records(self, want: set[str]) -> Iterator[tuple[str, int, bytes]]:
        if self.size < 8:
            self.error = "file is empty or shorter than the MCAP magic"
            return
        # mmap: a multi-GB bag is not read into memory; slices of an mmap are bytes copies.
        with self.path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            yield from self._scan(data, want)

    def _scan(self, data, want: set[str]) -> Iterator[tuple[str, int, bytes]]:
        if data[:8] != _MCAP_MAGIC:
            self.error = "file magic is invalid"
            return
        pos = 8
        self.good_bytes = pos
        while pos + 9 <= len(data):
            op = data[pos]
            (length,) = struct.unpack_from("<Q", data, pos + 1)
            body_start = pos + 9
            if body_start + length > len(data):
                self.error = f"record at byte {pos} is cut off"
                return
            body = memoryview(data[body_start : body_start + length])
            if op == 0x02:  # footer: the file is complete after all
                self.good_bytes = body_start + length
                return
            try:
                if op == 0x06:
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

    def _chunk(self, body: memoryview, want: set[str]) -> Iterator[tuple[str, int, bytes]]:
        # rosbags' own decompressor (zstd / lz4 / none) with its size and CRC checks.
        from rosbags.rosbag2.storage_mcap import decompress

        _start, _end, usize, crc = struct.unpack_from("<QQQI", body, 0)
        (clen,) = struct.unpack_from("<I", body, 28)
        compression = bytes(body[32 : 32 + clen]).decode()
        (rlen,) = struct.unpack_from("<Q", body, 32 + clen)
        records = bytes(body[40 + clen : 40 + clen + rlen])
        inner = decompress(records, compression, usize, crc) if compression else records
        pos = 0
        while pos < len(inner):
            op = inner[pos]
            (length,) = struct.unpack_from("<Q", inner, pos + 1)
            if pos + 9 + length > len(inner):
                raise ValueError(f"record at chunk offset {pos} claims {length} bytes, past the chunk's end")
            yield from self._record(op, memoryview(inner)[pos + 9 : pos + 9 + length], want)
            pos += 9 + length

    def _record(self, op: int, body: memoryview, want: set[str]) -> Iterator[tuple[str, int, bytes]]:
        if op == 0x05:  # message: channel u16, sequence u32, log_time u64, publish_time u64, data
            cid, _seq, log_time = struct.unpack_from("<HIQ", body, 0)
            self.messages += 1
            ch = self.channels.get(cid)
            if ch is not None and ch.topic in want:
                yield ch.topic, log_time, bytes(body[22:])
        elif op == 0x03:  # schema: id u16, name str, encoding str, data bytes
            rec = BytesIO(body)
            (sid,) = struct.unpack("<H", rec.read(2))
            name, encoding = _read_str(rec), _read_str(rec)
            (dlen,) = struct.unpack("<I", rec.read(4))
            self.schemas[sid] = name
            self.msgdefs[name] = (rec.read(dlen).decode(), "msg" if encoding == "ros2msg" else "idl")
        elif op == 0x04:  # channel: id u16, schema id u16, topic str, encoding str, metadata map
            rec = BytesIO(body)
            cid, sid = struct.unpack("<HH", rec.read(4))
            topic = _read_str(rec)
            self.channels[cid] = _Channel(topic, self.schemas.get(sid, ""))


def _read_str(rec: BytesIO) -> str:
    (n,) = struct.unpack("<I", rec.read(4))
    return rec.read(n).decode()
