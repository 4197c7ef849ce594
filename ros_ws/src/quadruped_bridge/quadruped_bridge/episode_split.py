"""The recorder's policies, pure: which bag a message goes into, and when the disk is too full.

One bag per episode: an ``episode/event`` "start" begins a new bag; "success", "fail" and "reset"
are written into the current bag and close it. A message while no bag is open opens one: an
*episode* bag if it is the "start" (or when splitting is off), else a *between* bag (stand-up,
resets), kept but named so that ``fog dataset <out>/episode_*`` leaves it out. Nothing is dropped.
"""

from __future__ import annotations

from typing import NamedTuple

START_EVENTS = frozenset({"start"})
END_EVENTS = frozenset({"success", "fail", "reset"})


class Route(NamedTuple):
    close_before: bool
    """Close the open bag before writing this message."""
    open_kind: str | None
    """Open a bag of this kind ("episode" or "between") before writing; None: write to the open one."""
    close_after: bool
    """Close the bag after writing this message."""


def route(event: str | None, bag_open: bool, split_episodes: bool = True) -> Route:
    """Where a message goes. ``event``: its text if it is an episode/event, else None."""
    close_before = split_episodes and bag_open and event in START_EVENTS
    if close_before or not bag_open:
        kind = "episode" if event in START_EVENTS or not split_episodes else "between"
    else:
        kind = None
    return Route(close_before, kind, split_episodes and event in END_EVENTS)


def disk_problem(free_mb: float, min_free_mb: float, where: str) -> str | None:
    """Why recording must stop (the disk is nearly full), or None to go on."""
    if free_mb >= min_free_mb:
        return None
    return (f"disk nearly full: {free_mb:.0f} MB free in {where} (< min_free_mb {min_free_mb:.0f}): "
            "bag closed, recording stopped")
