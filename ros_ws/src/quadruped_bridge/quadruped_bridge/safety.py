"""The bridge's safety layer: one pure state machine shared by every backend (sim, Go2).

The backend calls, at its motor-loop rate:

    safety.update_state(t, q, dq, roll, pitch)       # every new robot state
    safety.submit_command(t, names, q, dq, tau)      # every joint_commands message
    cmd = safety.motor_command(t)                    # what to send to the motors now

and publishes `safety.status()` / `safety.drain_events()` on /diagnostics. Nothing here knows
about ROS, so every rule below is unit-tested without DDS.

Modes:

    ZERO_TORQUE --first state--> SOFT_START --duration--> STAND --valid command--> ACTIVE
    ACTIVE --commands stale (watchdog)--> DAMPING --fresh valid command--> SOFT_START
    any --attitude beyond limit / state stale--> DAMPING (latched until reset())
    any --estop()--> ESTOP (latched until release_estop(), which soft-starts)

Commands are checked before they reach the motors: wrong names or lengths and NaN/inf are
rejected whole; targets are clamped to the joint limits and to a maximum change per command;
velocity and feed-forward torque are clamped to the motor limits. Each rejection or clamp is
reported as an event that names the problem.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from fog_contract.go2 import (
    JOINT_LOWER,
    JOINT_NAMES,
    JOINT_UPPER,
    JOINT_VELOCITY_LIMIT,
    NUM_JOINTS,
    STAND_POSE,
    TORQUE_LIMITS,
)

from quadruped_bridge.motor_command import MotorCommand, extrapolate


class Mode(enum.Enum):
    ZERO_TORQUE = "zero_torque"
    SOFT_START = "soft_start"
    STAND = "stand"
    ACTIVE = "active"
    DAMPING = "damping"
    ESTOP = "estop"


LEVELS = ("OK", "WARN", "ERROR")
"""/diagnostics levels, mildest first."""

MODE_LEVEL = {
    Mode.ZERO_TORQUE: "WARN",
    Mode.SOFT_START: "OK",
    Mode.STAND: "OK",
    Mode.ACTIVE: "OK",
    Mode.DAMPING: "ERROR",
    Mode.ESTOP: "ERROR",
}
"""The /diagnostics level a backend reports in each mode (before events raise it)."""


def worst_level(*levels: str) -> str:
    """The most severe of the given LEVELS ("OK" for none)."""
    return max(levels, key=LEVELS.index, default="OK")


@dataclass(frozen=True)
class SafetyConfig:
    kp: float = 50.0
    """Position gain (N m/rad) for soft start, stand and commands."""
    kd: float = 2.0
    """Velocity gain (N m s/rad) for soft start, stand and commands."""
    damping_kd: float = 3.0
    """Velocity gain in damping and e-stop (kp = 0): the robot sinks slowly instead of falling."""
    soft_start_duration: float = 2.0
    """Seconds to move from the pose at the first state to the stand pose."""
    command_timeout: float = 0.03
    """A command stream older than this (s) in ACTIVE mode switches to damping (watchdog)."""
    state_timeout: float = 0.1
    """No robot state for this long (s) after the first one switches to damping (latched)."""
    max_position_step: float = 0.5
    """Largest change (rad) of a joint target between two consecutive commands."""
    extrapolation_limit: float = 0.05
    """Targets move along the commanded velocity for at most this long (s) after a command."""
    attitude_limit: float = 0.9
    """|roll| or |pitch| beyond this (rad) switches to damping (latched until reset)."""
    feedforward_fraction: float = 1.0
    """Feed-forward torque is clamped to this fraction of each motor's torque limit."""
    stand_pose: tuple[float, ...] = tuple(float(x) for x in STAND_POSE)
    """Target pose of the soft start (Unitree joint order)."""
    loop_period: float = 0.0
    """Nominal period (s) of the motor loop that calls motor_command, on a wall clock (the Go2
    bridge: 1/motor_rate_hz); 0 = no stall credit (the simulator's lockstep on simulated time).
    When the loop itself was late (a gap over twice this), the lateness is not counted against the
    command stream or the robot state: a bridge process the OS did not run for 40 ms has commands
    waiting in its DDS queue, not a dead commander (that false trip fired 7 times a minute on a
    loaded 2-core machine). The credit is capped at `max_stall_credit`."""
    max_stall_credit: float = 0.25
    """Most seconds of the motor loop's lateness excused since the last command (or state)."""


@dataclass
class CommandCheck:
    """Outcome of one submitted command."""

    accepted: bool
    clamped: list[str] = field(default_factory=list)
    """Joints whose target was clamped (limits or max step)."""
    reason: str = ""


@dataclass
class SafetyEvent:
    t: float
    level: str  # "OK", "WARN", "ERROR"
    message: str


def format_events(events: Sequence[SafetyEvent], limit: int = 10) -> str:
    """One /diagnostics value for a batch of events, repeats folded so no kind of event is lost.

    A command stream that is refused at 50 Hz repeats one message many times between two
    diagnostics messages; keeping only the last `limit` raw events would hide a different
    rejection that came a moment earlier. Identical (level, message) pairs become one entry
    `[t_first..t_last LEVEL] message (xN)`, ordered by their last occurrence; if more than
    `limit` distinct entries remain, the newest are kept and the number left out is said.
    """
    folded: dict[tuple[str, str], list[float]] = {}
    for e in events:
        key = (e.level, e.message)
        times = folded.pop(key, None)  # re-insert: order by last occurrence
        folded[key] = [e.t, e.t, 1] if times is None else [times[0], e.t, times[2] + 1]
    entries = []
    for (level, message), (t0, t1, n) in folded.items():
        when = f"{t0:.3f}" if n == 1 else f"{t0:.3f}..{t1:.3f}"
        entries.append(f"[{when} {level}] {message}" + (f" (x{n})" if n > 1 else ""))
    dropped = len(entries) - limit
    entries = entries[-limit:]
    if dropped > 0:
        entries.insert(0, f"({dropped} earlier kinds of event not shown)")
    return " | ".join(entries)


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(v) for v in values)


def smoothstep(s: float) -> float:
    """C1-continuous 0 -> 1 ramp, so the soft start begins and ends at zero velocity."""
    s = min(max(s, 0.0), 1.0)
    return s * s * (3.0 - 2.0 * s)


class SafetyLayer:
    def __init__(self, config: SafetyConfig = SafetyConfig(), joint_names: Sequence[str] = JOINT_NAMES):
        self.config = config
        self.joint_names = tuple(joint_names)
        if len(self.joint_names) != NUM_JOINTS:
            raise ValueError(f"safety layer needs {NUM_JOINTS} joint names, got {len(self.joint_names)}")
        self._index = {name: i for i, name in enumerate(self.joint_names)}
        self._kp = np.full(NUM_JOINTS, config.kp)
        self._kd = np.full(NUM_JOINTS, config.kd)
        self._stand = np.asarray(config.stand_pose, dtype=np.float64)
        self._ff_limit = TORQUE_LIMITS * config.feedforward_fraction
        self.mode = Mode.ZERO_TORQUE
        self.mode_reason = "waiting for the first robot state"
        self._events: list[SafetyEvent] = []
        self._q: np.ndarray | None = None
        self._t_state = -math.inf
        self._soft_from = self._stand.copy()
        self._t_soft = 0.0
        self._cmd: MotorCommand | None = None
        self._t_cmd = -math.inf
        self._last_target: np.ndarray | None = None
        self.counters = {
            "accepted": 0, "rejected": 0, "clamped": 0, "foreign": 0, "loop_stalls": 0, "watchdog_trips": 0,
        }  # fmt: skip
        self._t_tick: float | None = None
        self._stall_cmd = 0.0
        """Seconds of the motor loop's own lateness since the last command (not the commander's fault)."""
        self._stall_state = 0.0
        self._latched = False
        """True while the current damping needs reset() (attitude, stale or bad state)."""

    # ----------------------------------------------------------------- state
    def update_state(self, t: float, q: np.ndarray, dq: np.ndarray, roll: float, pitch: float) -> None:
        q = np.asarray(q, dtype=np.float64)
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(dq)) and math.isfinite(roll) and math.isfinite(pitch)):
            self._enter(t, Mode.DAMPING, "robot state contains NaN/inf (latched until reset)", "ERROR", latched=True)
            return
        self._q = q.copy()
        self._t_state = t
        self._stall_state = 0.0
        if self.mode is Mode.ZERO_TORQUE:
            self._start_soft(t, "first robot state received")
        if self.mode not in (Mode.DAMPING, Mode.ESTOP, Mode.ZERO_TORQUE):
            if abs(roll) > self.config.attitude_limit or abs(pitch) > self.config.attitude_limit:
                self._enter(
                    t,
                    Mode.DAMPING,
                    f"attitude guard: roll {roll:+.2f} rad, pitch {pitch:+.2f} rad beyond "
                    f"+-{self.config.attitude_limit:.2f} rad (latched until reset)",
                    "ERROR",
                    latched=True,
                )

    # -------------------------------------------------------------- commands
    def submit_command(
        self,
        t: float,
        names: Sequence[str],
        position: Sequence[float],
        velocity: Sequence[float] = (),
        effort: Sequence[float] = (),
    ) -> CommandCheck:
        check = self._validate(names, position, velocity, effort)
        if not check.accepted:
            self.counters["rejected"] += 1
            self._event(t, "WARN", f"command rejected: {check.reason}")
            return check
        order = [self._index[n] for n in names]
        q = np.empty(NUM_JOINTS)
        q[order] = np.asarray(position, dtype=np.float64)
        dq = np.zeros(NUM_JOINTS)
        tau = np.zeros(NUM_JOINTS)
        if len(velocity):
            dq[order] = np.asarray(velocity, dtype=np.float64)
        if len(effort):
            tau[order] = np.asarray(effort, dtype=np.float64)

        if self.mode in (Mode.ZERO_TORQUE, Mode.SOFT_START, Mode.ESTOP) or (
            self.mode is Mode.DAMPING and self._latched
        ):
            check.accepted = False
            check.reason = f"not accepting commands in mode {self.mode.value} ({self.mode_reason})"
            self.counters["rejected"] += 1
            return check
        if self.mode is Mode.DAMPING:
            # Watchdog damping ends with fresh commands, through a soft start to the stand pose.
            self._start_soft(t, "commands resumed after watchdog")
            check.accepted = False
            check.reason = "commands resumed: soft start first"
            return check

        clamped = []
        q_lim = np.clip(q, JOINT_LOWER, JOINT_UPPER)
        clamped += [self.joint_names[i] + " (joint limit)" for i in np.flatnonzero(q_lim != q)]
        ref = self._last_target if self._last_target is not None else (self._q if self._q is not None else self._stand)
        step = self.config.max_position_step
        q_step = np.clip(q_lim, ref - step, ref + step)
        clamped += [self.joint_names[i] + " (max step)" for i in np.flatnonzero(q_step != q_lim)]
        dq = np.clip(dq, -JOINT_VELOCITY_LIMIT, JOINT_VELOCITY_LIMIT)
        tau_c = np.clip(tau, -self._ff_limit, self._ff_limit)
        clamped += [self.joint_names[i] + " (feed-forward)" for i in np.flatnonzero(tau_c != tau)]
        if clamped:
            self.counters["clamped"] += 1
            self._event(t, "WARN", "command clamped: " + ", ".join(clamped))
        check.clamped = clamped
        self._cmd = MotorCommand(q=q_step, dq=dq, tau=tau_c, kp=self._kp.copy(), kd=self._kd.copy())
        self._t_cmd = t
        self._stall_cmd = 0.0
        self._last_target = q_step
        self.counters["accepted"] += 1
        if self.mode is Mode.STAND:
            self._enter(t, Mode.ACTIVE, "accepting joint commands", "OK")
        return check

    def _validate(self, names, position, velocity, effort) -> CommandCheck:
        names = list(names)
        if len(names) != NUM_JOINTS:
            return CommandCheck(False, reason=f"expected {NUM_JOINTS} joint names, got {len(names)}")
        unknown = [n for n in names if n not in self._index]
        if unknown:
            return CommandCheck(False, reason=f"unknown joint names {unknown} (expected {list(self.joint_names)})")
        if len(set(names)) != NUM_JOINTS:
            return CommandCheck(False, reason="duplicate joint names")
        if len(position) != NUM_JOINTS:
            return CommandCheck(False, reason=f"expected {NUM_JOINTS} positions, got {len(position)}")
        for label, arr in (("velocity", velocity), ("effort", effort)):
            if len(arr) not in (0, NUM_JOINTS):
                return CommandCheck(False, reason=f"expected 0 or {NUM_JOINTS} {label} values, got {len(arr)}")
        for label, arr in (("position", position), ("velocity", velocity), ("effort", effort)):
            if not _finite(arr):
                bad = [names[i] for i, v in enumerate(arr) if not math.isfinite(v)]
                return CommandCheck(False, reason=f"non-finite {label} for {bad}")
        return CommandCheck(True)

    # ------------------------------------------------------------ operations
    def estop(self, t: float, reason: str = "e-stop service") -> None:
        self._enter(t, Mode.ESTOP, f"{reason} (latched until released)", "ERROR")

    def release_estop(self, t: float) -> bool:
        if self.mode is not Mode.ESTOP:
            return False
        self._start_soft(t, "e-stop released")
        return True

    def reset(self, t: float, q: np.ndarray | None = None) -> None:
        """Clear latched damping (attitude, stale state) and soft-start again; e-stop stays latched.

        ``q``: the joints' positions now, when the robot was just moved (a simulator reset puts it
        down): the soft start must begin where the joints are, not at the last state seen before."""
        if self.mode is Mode.ESTOP:
            return
        if q is not None:
            self._q = np.asarray(q, dtype=np.float64).copy()
            self._t_state = t
        if self._q is None:
            self._enter(t, Mode.ZERO_TORQUE, "reset: waiting for the first robot state", "OK")
        else:
            self._start_soft(t, "reset")

    def report(self, t: float, level: str, message: str) -> None:
        """An event from outside the layer (e.g. a rejected command source) for /diagnostics."""
        self._event(t, level, message)

    def fault(self, t: float, reason: str) -> None:
        """A safety event outside the layer's own checks: damping, latched until reset()."""
        if self.mode is Mode.ESTOP or (self.mode is Mode.DAMPING and self._latched):
            self._event(t, "ERROR", reason)
            return
        self._enter(t, Mode.DAMPING, f"{reason} (latched until reset)", "ERROR", latched=True)

    # ---------------------------------------------------------------- output
    def motor_command(self, t: float) -> MotorCommand:
        self._check_timeouts(t)
        mode = self.mode
        if mode is Mode.ZERO_TORQUE:
            return MotorCommand.zero_torque()
        if mode in (Mode.DAMPING, Mode.ESTOP):
            return MotorCommand.damping(self.config.damping_kd)
        if mode is Mode.SOFT_START:
            s = smoothstep((t - self._t_soft) / max(self.config.soft_start_duration, 1e-6))
            if s >= 1.0:
                self._enter(t, Mode.STAND, "soft start done: holding the stand pose, accepting commands", "OK")
                self._last_target = self._stand.copy()
            q = self._soft_from + s * (self._stand - self._soft_from)
            return MotorCommand(q=q, kp=self._kp.copy(), kd=self._kd.copy())
        if mode is Mode.STAND:
            return MotorCommand(q=self._stand.copy(), kp=self._kp.copy(), kd=self._kd.copy())
        assert self._cmd is not None
        out = extrapolate(self._cmd, t - self._t_cmd, self.config.extrapolation_limit)
        out.q = np.clip(out.q, JOINT_LOWER, JOINT_UPPER)
        return out

    def _check_timeouts(self, t: float) -> None:
        period = self.config.loop_period
        if period > 0 and self._t_tick is not None and t - self._t_tick > 2 * period:
            credit = t - self._t_tick - period
            cap = self.config.max_stall_credit
            self._stall_cmd = min(self._stall_cmd + credit, cap)
            self._stall_state = min(self._stall_state + credit, cap)
            self.counters["loop_stalls"] += 1
        self._t_tick = t
        if self.mode is Mode.ACTIVE and t - self._t_cmd - self._stall_cmd > self.config.command_timeout:
            self.counters["watchdog_trips"] += 1
            self._enter(
                t,
                Mode.DAMPING,
                f"watchdog: no joint command for {t - self._t_cmd:.3f} s (timeout {self.config.command_timeout:.3f} s)",
                "ERROR",
            )
        stale = t - self._t_state - self._stall_state > self.config.state_timeout
        if self._q is not None and self.mode not in (Mode.ESTOP,) and stale:
            if not (self.mode is Mode.DAMPING and self._latched):
                self._enter(
                    t,
                    Mode.DAMPING,
                    f"robot state stale for {t - self._t_state:.3f} s (latched until reset)",
                    "ERROR",
                    latched=True,
                )

    # --------------------------------------------------------------- helpers
    def _start_soft(self, t: float, why: str) -> None:
        self._soft_from = self._q.copy() if self._q is not None else self._stand.copy()
        self._t_soft = t
        self._cmd = None
        self._last_target = None
        self._enter(t, Mode.SOFT_START, f"{why}: soft start to the stand pose", "OK")

    def _enter(self, t: float, mode: Mode, reason: str, level: str, latched: bool = False) -> None:
        self._latched = latched
        self.mode = mode
        self.mode_reason = reason
        self._event(t, level, f"{mode.value}: {reason}")

    def _event(self, t: float, level: str, message: str) -> None:
        self._events.append(SafetyEvent(t, level, message))
        if len(self._events) > 1000:  # never grow without bound if nobody drains
            del self._events[:500]

    @property
    def last_command_time(self) -> float:
        """Time of the last accepted command (-inf before the first)."""
        return self._t_cmd

    def drain_events(self) -> list[SafetyEvent]:
        events, self._events = self._events, []
        return events

    def status(self) -> dict[str, str]:
        return {
            "mode": self.mode.value,
            "reason": self.mode_reason,
            "last_command_time": f"{self._t_cmd:.4f}",
            **{k: str(v) for k, v in self.counters.items()},
        }
