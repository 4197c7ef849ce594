"""Which joint state and IMU reading a policy step uses (pure Python: no ROS).

On the robot (timer trigger) a step uses the newest reading of each sensor. On a bag replay or a
dream (image trigger) a step at image stamp t uses the newest reading stamped at or before t, the
dataset's convention, and only once a reading stamped at or after t has arrived on each sensor:
the topics arrive on separate subscriptions, and on a busy machine the image can be taken before
the joint states that were published ahead of it. Waiting for them makes the outputs depend on
the recorded data only, not on the order the executor happened to take the messages in.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")

STAMP_EPS = 1e-6
"""Stamps closer than this (s) count as equal (stamps rounded to ns on two topics)."""


class StampedBuffer(Generic[T]):
    """The recent readings of one sensor, by stamp (the last `horizon` seconds of stamps)."""

    def __init__(self, horizon: float = 2.0):
        if horizon <= 0:
            raise ValueError(f"horizon must be > 0 s, got {horizon}")
        self.horizon = horizon
        self._items: deque[tuple[float, T]] = deque()

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()

    def add(self, stamp: float, value: T) -> None:
        """Keep a reading; one stamped before the newest (a bag's clock restarting, a reset) starts over."""
        if self._items and stamp < self._items[-1][0] - STAMP_EPS:
            self._items.clear()
        self._items.append((stamp, value))
        while self._items and self._items[0][0] < stamp - self.horizon:
            self._items.popleft()

    @property
    def newest(self) -> tuple[float, T] | None:
        return self._items[-1] if self._items else None

    def reached(self, stamp: float) -> bool:
        """Whether a reading stamped at or after `stamp` has arrived (so none before it is still to come)."""
        return bool(self._items) and self._items[-1][0] >= stamp - STAMP_EPS

    def at(self, stamp: float) -> tuple[float, T] | None:
        """The newest reading stamped at or before `stamp`; the oldest kept one when all are newer
        (so a step is never starved by a sensor that runs ahead); None when there is none."""
        if not self._items:
            return None
        for item in reversed(self._items):
            if item[0] <= stamp + STAMP_EPS:
                return item
        return self._items[0]
