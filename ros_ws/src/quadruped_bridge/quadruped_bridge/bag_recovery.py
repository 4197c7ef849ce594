"""Recover a rosbag2 MCAP bag whose recorder was killed: keep every message that reached disk.

A recorder killed with SIGKILL (or a power cut) leaves an MCAP file without its summary and
footer, and no metadata.yaml: `ros2 bag` and rosbags refuse to open it. The file itself is a
sequence of records; every chunk that the recorder flushed is complete. `recover` scans the
records in order, stops at the first incomplete one, and rewrites the complete chunks' schemas,
channels and messages into a proper bag in place (the damaged file is kept beside it as
`<name>.mcap.truncated`).

Pure Python (rosbags), no ROS install needed:

    python -m quadruped_bridge.bag_recovery BAG_DIR [BAG_DIR ...]
"""

from __future__ import annotations

import argparse
import shutil
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

MAGIC = b"\x89MCAP0\r\n"
OP_HEADER, OP_FOOTER, OP_SCHEMA, OP_CHANNEL, OP_MESSAGE, OP_CHUNK = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06


class RecoveryError(RuntimeError):
    pass


@dataclass
class RecoveryReport:
    bag: Path
    needed: bool
    messages: int = 0
    per_topic: dict[str, int] = field(default_factory=dict)
    dropped_bytes: int = 0
    """Bytes after the last complete record (the unflushed tail that was lost)."""

    def __str__(self) -> str:
        if not self.needed:
            return f"{self.bag}: complete, nothing to recover"
        return (
            f"{self.bag}: recovered {self.messages} messages "
            f"({', '.join(f'{t}: {n}' for t, n in sorted(self.per_topic.items()))}); "
            f"{self.dropped_bytes} bytes of unflushed tail dropped"
        )


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<I", buf, pos)
    return buf[pos + 4 : pos + 4 + n].decode(), pos + 4 + n


def _records(buf: bytes, pos: int, end: int):
    """(op, start, content_start, content_end) for each complete record in buf[pos:end]."""
    while pos + 9 <= end:
        op = buf[pos]
        (length,) = struct.unpack_from("<Q", buf, pos + 1)
        if pos + 9 + length > end:
            return
        yield op, pos, pos + 9, pos + 9 + length
        pos += 9 + length


def scan_mcap(data: bytes):
    """Schemas, channels and messages of the complete records of an MCAP file, and the end offset."""
    if not data.startswith(MAGIC):
        raise RecoveryError("not an MCAP file (bad magic)")
    schemas: dict[int, tuple[str, str, bytes]] = {}
    channels: dict[int, tuple[str, int, bytes]] = {}
    messages: list[tuple[int, int, bytes]] = []
    good_end = len(MAGIC)

    def handle(op, buf, a, b):
        if op == OP_SCHEMA:
            (sid,) = struct.unpack_from("<H", buf, a)
            name, p = _string(buf, a + 2)
            encoding, p = _string(buf, p)
            (n,) = struct.unpack_from("<I", buf, p)
            schemas[sid] = (name, encoding, bytes(buf[p + 4 : p + 4 + n]))
        elif op == OP_CHANNEL:
            cid, sid = struct.unpack_from("<HH", buf, a)
            topic, p = _string(buf, a + 4)
            _encoding, p = _string(buf, p)
            (n,) = struct.unpack_from("<I", buf, p)
            channels[cid] = (topic, sid, bytes(buf[p + 4 : p + 4 + n]))
        elif op == OP_MESSAGE:
            cid, _seq, log_time, _pub = struct.unpack_from("<HIQQ", buf, a)
            messages.append((cid, log_time, bytes(buf[a + 22 : b])))

    for op, _start, a, b in _records(data, len(MAGIC), len(data)):
        if op == OP_FOOTER:
            good_end = b
            break
        if op == OP_CHUNK:
            _t0, _t1, usize, _crc = struct.unpack_from("<QQQI", data, a)
            compression, p = _string(data, a + 28)
            (csize,) = struct.unpack_from("<Q", data, p)
            if compression:
                raise RecoveryError(f"compressed chunks ({compression!r}) are not supported by recovery")
            inner = data[p + 8 : p + 8 + csize]
            for iop, _s, ia, ib in _records(inner, 0, len(inner)):
                handle(iop, inner, ia, ib)
        else:
            handle(op, data, a, b)
        good_end = b
    return schemas, channels, messages, good_end


def needs_recovery(bag: Path) -> bool:
    """True for an MCAP bag without metadata.yaml or whose file lacks the closing magic."""
    bag = Path(bag)
    files = sorted(bag.glob("*.mcap"))
    if not files:
        return False
    if not (bag / "metadata.yaml").exists():
        return True
    with open(files[0], "rb") as f:
        f.seek(0, 2)
        if f.tell() < 2 * len(MAGIC):
            return True
        f.seek(-len(MAGIC), 2)
        return f.read() != MAGIC


def recover(bag: str | Path) -> RecoveryReport:
    """Rewrite a killed recorder's bag in place; a complete bag is left untouched."""
    bag = Path(bag)
    if not bag.is_dir():
        raise RecoveryError(f"{bag}: not a bag directory")
    if not needs_recovery(bag):
        return RecoveryReport(bag, needed=False)
    files = sorted(bag.glob("*.mcap"))
    if len(files) != 1:
        raise RecoveryError(f"{bag}: expected one .mcap file to recover, found {len(files)}")
    src = files[0]
    data = src.read_bytes()
    schemas, channels, messages, good_end = scan_mcap(data)
    typestore = get_typestore(Stores.ROS2_KILTED)
    tmp = bag.parent / f".{bag.name}.recovering"
    if tmp.exists():
        shutil.rmtree(tmp)
    report = RecoveryReport(bag, needed=True, dropped_bytes=len(data) - good_end)
    writer = Writer(tmp, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    conns = {}
    for cid, (topic, sid, _meta) in sorted(channels.items()):
        name, _enc, msgdef = schemas[sid]
        if name in typestore.fielddefs:
            conns[cid] = writer.add_connection(topic, name, typestore=typestore)
        else:
            raise RecoveryError(f"{bag}: topic {topic} has type {name}, unknown to the ROS 2 Kilted type store")
        report.per_topic[topic] = 0
    for cid, log_time, payload in sorted(messages, key=lambda m: m[1]):
        writer.write(conns[cid], log_time, payload)
        report.per_topic[channels[cid][0]] += 1
    report.messages = len(messages)
    writer.close()
    src.rename(src.with_name(src.name + ".truncated"))
    for f in tmp.iterdir():
        # the rewritten file takes the bag's own name so metadata.yaml points at it
        target = bag / (f"{bag.name}.mcap" if f.suffix == ".mcap" else f.name)
        shutil.move(str(f), target)
    tmp.rmdir()
    meta = bag / "metadata.yaml"
    meta.write_text(meta.read_text().replace(f"{tmp.name}.mcap", f"{bag.name}.mcap"))
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bags", nargs="+", help="bag directories")
    args = p.parse_args(argv)
    failed = 0
    for bag in args.bags:
        try:
            print(recover(bag))
        except (RecoveryError, OSError) as e:
            print(f"{bag}: cannot recover: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
