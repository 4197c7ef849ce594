"""Whether the Go2 bridge may send LowCmd_: the sport-mode state machine (pure: no ROS, no SDK).

A Go2 starts with its sport mode (Unitree's own locomotion controller) owning the motors; LowCmd_
sent meanwhile fights it. The bridge therefore holds every LowCmd_ until low-level control is
granted, which happens when

- the check is off (``check_sport_mode:=false``, a robot without a sport mode): granted at once;
- the motion switcher answers that no sport mode is active;
- the bridge releases the sport mode: at start with ``release_sport_mode_on_start``, or later by
  the ``go2/release_sport_mode`` service (the robot goes limp: lie it down or hoist it first).

Otherwise ``status`` says why LowCmd_ is held and what to do. The switcher is anything with
``active_mode() -> str | None`` ("" = none active, None = no answer) and ``release() -> (ok,
message)``: the SDK's motion-switcher client in the bridge (quadruped_bridge.go2_dds.MotionSwitcher),
a stand-in in the unit tests. Safe to use from the bridge's start-up thread and its service callbacks
at once.
"""

from __future__ import annotations

import threading
from typing import Protocol


class Switcher(Protocol):
    def active_mode(self) -> str | None: ...

    def release(self) -> tuple[bool, str]: ...


class LowLevelAccess:
    """``granted``: LowCmd_ may be sent; ``status``: why, or why not (shown on /diagnostics)."""

    def __init__(self, check_sport_mode: bool) -> None:
        self._lock = threading.Lock()
        self.granted = not check_sport_mode
        self.status = "not checked (check_sport_mode:=false)" if self.granted else "checking"

    def snapshot(self) -> tuple[bool, str]:
        with self._lock:
            return self.granted, self.status

    def _set(self, granted: bool, status: str) -> None:
        with self._lock:
            self.granted = self.granted or granted  # once granted, it stays granted
            self.status = status if granted or not self.granted else self.status

    def check_at_start(self, switcher: Switcher, release_on_start: bool) -> None:
        """Ask which sport mode is active; grant, release it (if asked to), or say why LowCmd_ is held."""
        try:
            mode = switcher.active_mode()
        except Exception as exc:  # the SDK raises bare Exceptions
            mode, err = None, str(exc)
        else:
            err = "no answer"
        if mode == "":
            self._set(True, "no sport mode active")
        elif mode is None:
            self._set(False, f"motion switcher: {err}; LowCmd_ held (call go2/release_sport_mode to retry, "
                             "or check_sport_mode:=false for a robot without one)")
        elif release_on_start:
            ok, msg = self._release(switcher)
            self._set(ok, f"sport mode {mode!r} released at start" if ok
                      else f"could not release sport mode {mode!r}: {msg}; LowCmd_ held")
        else:
            self._set(False, f"sport mode {mode!r} active: LowCmd_ held; lie the robot down or hoist it, "
                             "then call go2/release_sport_mode")

    def release(self, switcher: Switcher) -> tuple[bool, str]:
        """The go2/release_sport_mode service: release the sport mode; grant on success."""
        ok, msg = self._release(switcher)
        if ok:
            self._set(True, msg)
        return ok, msg

    @staticmethod
    def _release(switcher: Switcher) -> tuple[bool, str]:
        try:
            return switcher.release()
        except Exception as exc:
            return False, f"motion switcher: {exc}"
