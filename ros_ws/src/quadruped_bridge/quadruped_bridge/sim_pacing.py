"""The simulator's clock policies, pure: real-time pacing and the lockstep with the controller.

**Pacing.** Simulated time runs at ``real_time_factor`` x wall time (0: as fast as the CPU allows).
The node steps physics and, every few steps, sleeps for as long as simulated time is ahead of wall
time. When the CPU cannot keep up and simulated time falls more than ``max_lag`` wall seconds behind,
the pacer re-anchors instead of racing to catch up (a burst of unpaced steps would starve the
controllers). The achieved factor is measured over about a second of wall time.

**Lockstep.** With a controller in the loop (mode ACTIVE), simulated time waits (up to
``lockstep_timeout`` wall seconds) once the last joint command is older than the controller's
period plus one physics step (never beyond the watchdog's timeout), so a busy CPU slows the
simulation instead of tripping the watchdog. A controller that is gone still trips it: the
simulator waits once per command and then lets time run on.
"""

from __future__ import annotations


class Pacer:
    """Sleep times that keep simulated time at ``real_time_factor`` x wall time."""

    def __init__(self, real_time_factor: float, wall: float, t_sim: float, max_lag: float = 0.25) -> None:
        self.rtf, self.max_lag = real_time_factor, max_lag
        self._wall0, self._sim0 = wall, t_sim
        self._meas_wall, self._meas_sim = wall, t_sim
        self.achieved_rtf = 0.0
        """Simulated seconds per wall second over the last ~1 s of wall time (0 until measured)."""

    def delay(self, t_sim: float, wall: float) -> float:
        """Seconds to sleep now (0 if behind); re-anchors when more than ``max_lag`` behind."""
        if wall - self._meas_wall >= 1.0:
            self.achieved_rtf = (t_sim - self._meas_sim) / (wall - self._meas_wall)
            self._meas_wall, self._meas_sim = wall, t_sim
        if self.rtf <= 0:
            return 0.0
        ahead = (t_sim - self._sim0) / self.rtf - (wall - self._wall0)
        if ahead < -self.max_lag:
            self._wall0, self._sim0 = wall, t_sim
        return max(ahead, 0.0)


def command_due(t: float, last_command: float, physics_dt: float, period: float, command_timeout: float) -> bool:
    """Lockstep: is a joint command due before the physics step at simulated time ``t``? (The last
    one, at ``last_command``, is older than the controller's period plus one step, capped at the
    watchdog's timeout.)"""
    return t + physics_dt - last_command > min(period + physics_dt, command_timeout)
