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
import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from fog_contract.mcap_scan import MAGIC as MCAP_MAGIC
from fog_contract.mcap_scan import McapScan
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
                return self.path if f.read(len(MCAP_MAGIC)) == MCAP_MAGIC else None
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
