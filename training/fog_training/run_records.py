"""The JSON-lines records a training run appends (metrics.jsonl, evals.jsonl), shared by the trainers.

A killed run may have logged records past its last checkpoint, and the line it was writing may be
cut off. On resume, `drop_records_after` removes both before the run appends again, so the records of
the steps it redoes are not duplicated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file ([] if it does not exist); a line a kill cut off is left out."""
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out


def append_record(path: str | Path, record: dict[str, Any]) -> None:
    """Append one record as a line."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def drop_records_after(path: str | Path, key: str, last: float) -> int:
    """Keep only the JSON-lines records of ``path`` whose ``key`` is at most ``last``; returns how
    many were dropped. A resumed run calls it with its checkpoint's step (or iteration) before it
    appends, so the records of the steps it redoes are not duplicated. Lines a kill cut off are
    dropped too; records without ``key`` are kept. The file is replaced atomically."""
    path = Path(path)
    if not path.exists():
        return 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    keep = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get(key), (int, float)) or rec[key] <= last:
            keep.append(line)
    if len(keep) < len(lines):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, path)
    return len(lines) - len(keep)


def last_record_has(path: str | Path, key: str, value: Any) -> bool:
    """Whether the file's last record has ``key`` equal to ``value`` (e.g. the final evaluation was
    already done at the current sample count, by the run a resume continues)."""
    records = read_records(path)
    return bool(records) and records[-1].get(key) == value
