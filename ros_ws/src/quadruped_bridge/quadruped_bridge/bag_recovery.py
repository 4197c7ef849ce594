"""Recover a rosbag2 MCAP bag whose recorder was killed: keep every message that reached disk.

A recorder killed with SIGKILL (or a power cut) leaves an MCAP file without its summary and
footer, and no metadata.yaml: `ros2 bag` and rosbags refuse to open it. The file itself is a
sequence of records; every chunk that the recorder flushed is complete. `recover` scans the
records in order with the contract's scanner (fog_contract.mcap_scan: stops at the first incomplete
record, goes on past a chunk whose content is corrupt), and rewrites the schemas, channels and
messages it read into a proper bag in place (the damaged file is kept beside it as
`<name>.mcap.truncated`).

Pure Python (rosbags), no ROS install needed:

    python -m quadruped_bridge.bag_recovery BAG_DIR [BAG_DIR ...]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fog_contract.mcap_scan import MAGIC, McapScan
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore


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
    skipped: list[str] = field(default_factory=list)
    """Chunks whose content was corrupt: the scan went on after them (their messages are lost)."""

    def __str__(self) -> str:
        if not self.needed:
            return f"{self.bag}: complete, nothing to recover"
        return (
            f"{self.bag}: recovered {self.messages} messages "
            f"({', '.join(f'{t}: {n}' for t, n in sorted(self.per_topic.items()))}); "
            f"{self.dropped_bytes} bytes of unflushed tail dropped"
            + "".join(f"; skipped the rest of a corrupt {why}" for why in self.skipped)
        )


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
    scan = McapScan(src)
    messages = list(scan.records())  # every complete message, on every topic
    if scan.error and not scan.channels:
        raise RecoveryError(f"{bag}: {src.name} is not a readable MCAP file ({scan.error})")
    typestore = get_typestore(Stores.ROS2_KILTED)
    tmp = bag.parent / f".{bag.name}.recovering"
    if tmp.exists():
        shutil.rmtree(tmp)
    report = RecoveryReport(bag, needed=True, dropped_bytes=scan.size - scan.good_bytes, skipped=list(scan.skipped))
    unknown = {ch.topic: ch.msgtype for ch in scan.channels.values() if ch.msgtype not in typestore.fielddefs}
    if unknown:
        topic, name = next(iter(unknown.items()))
        raise RecoveryError(f"{bag}: topic {topic} has type {name!r}, unknown to the ROS 2 Kilted type store")
    writer = Writer(tmp, version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    conns = {}
    for ch in sorted(scan.channels.values(), key=lambda c: c.topic):
        if ch.topic not in conns:
            conns[ch.topic] = writer.add_connection(ch.topic, ch.msgtype, typestore=typestore)
            report.per_topic[ch.topic] = 0
    for topic, log_time, payload in sorted(messages, key=lambda m: m[1]):
        writer.write(conns[topic], log_time, payload)
        report.per_topic[topic] += 1
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
