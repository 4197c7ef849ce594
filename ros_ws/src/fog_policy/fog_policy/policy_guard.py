"""The policy node's rules for when not to command (pure Python, unit-tested).

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
