"""The policy node's rules for when to step and when not to command (pure Python, unit-tested).

- `hold`: the order of the reasons not to command on a tick (disabled, surprise latched, waiting
  for the locomotion controller, missing or stale inputs), and whether each stops the robot.
- `ImageTicks`: with the image trigger, which camera frames start a policy step.
- `input_problem`: a missing or stale sensor stops the commands (camera older than `image_timeout`,
  joint state or IMU older than `joint_timeout`, on the node's clock).
- `SurpriseLatch`: the world model's surprise above `threshold` for `steps` consecutive steps means
  the robot no longer sees what the policy was trained on: latched until re-enabled or reset.
"""

from __future__ import annotations

from dataclasses import dataclass

from fog_contract import topics


def input_problem(
    now: float,
    image_stamp: float | None,
    joint_stamp: float | None,
    imu_stamp: float | None,
    image_timeout: float,
    joint_timeout: float,
) -> tuple[str, str] | None:
    """(level, reason) when the step must not run on these inputs; None when they are fresh."""
    missing = [
        name
        for name, stamp in ((topics.IMAGE, image_stamp), (topics.JOINT_STATES, joint_stamp), (topics.IMU, imu_stamp))
        if stamp is None
    ]
    if missing:
        return "WARN", f"waiting for {', '.join(missing)}"
    if now - image_stamp > image_timeout:
        return "ERROR", f"camera stale: last image {now - image_stamp:.2f} s old (> {image_timeout} s)"
    age = now - min(joint_stamp, imu_stamp)
    if age > joint_timeout:
        return "ERROR", f"joint state / IMU stale: {age:.2f} s old (> {joint_timeout} s)"
    return None


@dataclass
class SurpriseLatch:
    threshold: float
    """Surprise (nats) above which a step counts as unfamiliar."""
    steps: int
    """Consecutive unfamiliar steps that latch."""
    count: int = 0
    latched: bool = False
    reason: str | None = None

    def update(self, surprise: float) -> bool:
        """Count one step's surprise; True when this step latches."""
        if surprise <= self.threshold:
            self.count = 0
            return False
        self.count += 1
        if self.count >= self.steps and not self.latched:
            self.latched = True
            self.reason = (
                f"surprise {surprise:.2f} > {self.threshold:.2f} for {self.count} steps: "
                "the world model no longer recognises what it sees (re-enable to resume)"
            )
            return True
        return False

    def reset(self, unlatch: bool = False) -> None:
        """A new episode (count only) or a re-enable (`unlatch`)."""
        self.count = 0
        if unlatch:
            self.latched, self.reason = False, None


@dataclass(frozen=True)
class Hold:
    """Why a tick does not command: the diagnostics level and reason, and whether the node stops
    (one zero velocity, then nothing) or only reports (it is already not commanding)."""

    level: str
    reason: str
    stop: bool


LOCOMOTION_WAIT = "waiting for the locomotion controller to stand and trot (locomotion/ready)"


def hold(
    *,
    enabled: bool,
    latch: SurpriseLatch,
    waiting_for_locomotion: bool,
    now: float,
    image_stamp: float | None,
    joint_stamp: float | None,
    imu_stamp: float | None,
    image_timeout: float,
    joint_timeout: float,
) -> Hold | None:
    """The first reason, in this order, not to command on this tick; None when the step may run.

    `waiting_for_locomotion`: the node is gated on locomotion/ready and has not seen it; it only
    counts once every input has arrived (before that, the missing input is the reason given).
    """
    if not enabled:
        return Hold("WARN", "disabled (fog_policy/enable)", stop=False)
    if latch.latched:
        return Hold("ERROR", latch.reason or "surprise latched", stop=False)
    if waiting_for_locomotion and None not in (image_stamp, joint_stamp, imu_stamp):
        return Hold("WARN", LOCOMOTION_WAIT, stop=True)
    problem = input_problem(now, image_stamp, joint_stamp, imu_stamp, image_timeout, joint_timeout)
    if problem is not None:
        return Hold(*problem, stop=True)
    return None


@dataclass
class ImageTicks:
    """Image trigger: a frame starts a step when it is the first at or after the next tick of the
    policy clock (the dataset's convention: at each tick, the latest image at or before it). The
    clock starts at the first frame; frames that skip ticks move it past all the ticks they skipped."""

    period: float
    """1 / the policy rate (s)."""
    next_tick: float | None = None

    def due(self, stamp: float) -> bool:
        """Whether the frame stamped `stamp` starts a step (and, if so, advance the clock)."""
        if self.next_tick is None:
            self.next_tick = stamp
        if stamp + 1e-9 < self.next_tick:
            return False
        self.next_tick += self.period * max(1, int((stamp - self.next_tick) // self.period) + 1)
        return True
