"""What `fog dataset` reads and where it may write: the bags its arguments stand for, and the
checks on ``--out`` made before any work (never replace what this tool did not write, never a path
that holds or lies inside an input bag, a folder that can be written)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

COLLECT_SUMMARY = "collect_summary.json"  # what `fog collect` writes beside its bags


class OutputError(ValueError):
    """--out cannot be used: it would replace something this tool did not write, or is unwritable."""


STORE_MARKER = "fog dataset"
"""A store this tool wrote has ``meta.created_by`` starting with this (written when the store is
created, so an interrupted conversion's store carries it too)."""

_REPORT_FILES = ("report.md",)
_REPORT_PLOT_PREFIXES = ("rates_bag", "gaps", "skew_and_drops")


def is_bag(path: Path) -> bool:
    """A bag file (.mcap/.db3) or a rosbag2 directory (metadata.yaml or storage files inside)."""
    if path.is_file():
        return path.suffix in (".mcap", ".db3")
    if path.is_dir():
        return (path / "metadata.yaml").exists() or any(
            p.suffix in (".mcap", ".db3") for p in path.iterdir() if p.is_file()
        )
    return False


def expand_inputs(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The bags the arguments stand for, and notes on what was expanded or skipped.

    A `fog collect` folder (it holds collect_summary.json) stands for its episode bags; another
    folder that is no bag stands for the bags directly inside it; the summary and ``logs/`` of a
    collect folder (e.g. from ``DIR/*``) are skipped. Anything else is taken as given (a path that
    is no bag fails with a named error later)."""
    bags: list[Path] = []
    notes: list[str] = []
    for p in paths:
        parent_is_collect = (p.parent / COLLECT_SUMMARY).is_file()
        if p.name == COLLECT_SUMMARY and p.is_file() or (p.name == "logs" and p.is_dir() and parent_is_collect):
            notes.append(f"skipped {p}: written by `fog collect` beside its bags, not a bag")
            continue
        if p.is_dir() and not is_bag(p):
            summary = p / COLLECT_SUMMARY
            if summary.is_file():
                try:
                    info = json.loads(summary.read_text())
                    names = list(info["episode_bags"])
                    between = len(info.get("between_episode_bags", []))
                except (OSError, ValueError, KeyError, TypeError) as e:
                    raise ValueError(f"{summary}: not a readable fog collect summary ({type(e).__name__}: {e})") from e
                found = [p / n for n in names if (p / n).exists()]
                notes.append(
                    f"{p}: a `fog collect` folder: its {len(found)} episode bag(s)"
                    + (f" ({len(names) - len(found)} listed but absent)" if len(found) < len(names) else "")
                    + (f"; {between} between-episode bag(s) left out" if between else "")
                )
                bags += found
                continue
            inner = sorted(c for c in p.iterdir() if is_bag(c))
            if inner:
                notes.append(f"{p}: not a bag itself: its {len(inner)} bag(s)")
                bags += inner
                continue
        bags.append(p)
    unique: list[Path] = []
    seen: set[Path] = set()
    for b in bags:
        key = b.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(b)
    return unique, notes


def _written_by_us(store: Path) -> bool:
    try:
        attrs = json.loads((store / "zarr.json").read_text()).get("attributes", {})
        return str(attrs.get("meta", {}).get("created_by", "")).startswith(STORE_MARKER)
    except (OSError, ValueError, AttributeError):
        return False


def _is_our_report(report_dir: Path) -> bool:
    try:
        entries = list(report_dir.iterdir())
        head = (report_dir / "report.md").read_text()[:40]
    except OSError:
        return False
    return head.startswith("# Dataset quality report") and all(
        e.is_file() and (e.name in _REPORT_FILES or (e.suffix == ".png" and e.name.startswith(_REPORT_PLOT_PREFIXES)))
        for e in entries
    )


def check_output(out: Path, overwrite: bool, bags: list[Path]) -> Path:
    """Refuse an --out this run must not write or replace, before any work; returns the report folder.

    Never a path that is, holds or lies inside an input bag; with --overwrite only a store this
    tool wrote (and a report folder holding only its report); the folder it goes in must be
    writable (probed by making and removing a temporary folder there)."""
    report_dir = Path(str(out) + ".report")
    o, r = out.resolve(), report_dir.resolve()
    for bag in bags:
        b = bag.resolve()
        for target, what in ((o, "--out"), (r, "the report folder")):
            if b == target or target in b.parents:
                raise OutputError(f"{what} {target} holds the input bag {bag}: refusing to write or replace it")
            if b in target.parents:
                raise OutputError(f"{what} {target} lies inside the input bag {bag}: choose a path outside it")
    for target, ours in ((out, _written_by_us), (report_dir, _is_our_report)):
        if not (target.exists() or target.is_symlink()):
            continue
        if not overwrite:
            raise FileExistsError(f"{target} already exists (pass --overwrite to replace it)")
        if target.is_symlink() or not ours(target):
            kind = "dataset store" if target == out else "quality report"
            raise OutputError(
                f"--overwrite refused: {target} is not a {kind} that fog dataset wrote; remove it yourself "
                "or choose another --out"
            )
    anc = o.parent
    while not anc.exists():
        anc = anc.parent
    if not anc.is_dir():
        raise OutputError(f"cannot write --out {out}: {anc} is a file, not a folder")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".fog-dataset-probe-", dir=anc))
    except OSError as e:
        raise OutputError(f"cannot write --out {out}: {anc} is not writable ({e.strerror or e})") from e
    return report_dir
