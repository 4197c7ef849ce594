"""Velocity tracking of the built-in trot in the MuJoCo Go2, and the simulator's speed.

Runs `Go2Sim` + `TrotGait` exactly as the deployed stack does: the controller at 50 Hz, physics and
the PD motor law at 500 Hz, each command zero-order held with its position target extrapolated
along its velocity target. Starts from standing; the command begins at t = 0. For each command of
a grid it reports, after a settle time, the per-axis mean tracking error (body frame, ground
truth), the within-step ripple (std of the measured velocity), max |roll| and |pitch|, distance
and heading change, and falls. Then it times the simulator: physics only, and with the 64x64 ego
camera rendered at 30 Hz.

Examples:
    python benchmarks/locomotion_tracking.py                       # 6 s per command, table on stdout
    python benchmarks/locomotion_tracking.py --seconds 10 --out results.md --json results.json
    python benchmarks/locomotion_tracking.py --commands "0.3,0,0" "0,0,1" " -0.3,0,0" --no-speed
        (a command starting with '-' needs a leading space, or argparse takes it for an option)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

_ROOT = Path(__file__).resolve().parents[1]
for _pkg in ("ros_ws/src/quadruped_bridge", "ros_ws/src/fog_policy"):
    if str(_ROOT / _pkg) not in sys.path:
        sys.path.insert(0, str(_ROOT / _pkg))

from fog_policy.trot_gait import GaitConfig, TrotGait, motor_command  # noqa: E402
from quadruped_bridge.sim import Go2Sim, SimConfig  # noqa: E402

CONTROL_DT = 0.02
"""Controller period (s): 50 Hz, as deployed."""

DEFAULT_COMMANDS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 0.0),
    (0.2, 0.0, 0.0),
    (0.3, 0.0, 0.0),
    (0.5, 0.0, 0.0),
    (-0.3, 0.0, 0.0),
    (0.0, 0.3, 0.0),
    (0.0, -0.3, 0.0),
    (0.0, 0.0, 1.0),
    (0.0, 0.0, -1.0),
    (0.3, 0.2, 0.0),
    (0.3, 0.0, 0.5),
    (0.2, -0.2, -0.5),
)


@dataclass(frozen=True)
class TrackingResult:
    """Tracking figures for one command."""

    command: tuple[float, float, float]
    """Commanded (vx, vy, wz)."""
    mean_velocity: tuple[float, float, float]
    """Mean measured body-frame (vx, vy) and yaw rate after the settle time."""
    mean_error: tuple[float, float, float]
    """Mean measured minus commanded, per axis."""
    ripple: tuple[float, float, float]
    """Standard deviation of the measured velocity per axis (within-step ripple)."""
    estimator_error: tuple[float, float]
    """Mean |legged odometry - ground truth| body-frame (vx, vy) (m/s)."""
    max_roll: float
    """Max |roll| over the run (rad)."""
    max_pitch: float
    """Max |pitch| over the run (rad)."""
    forward_distance: float
    """Base displacement along the start heading (m)."""
    yaw_change: float
    """Unwrapped heading change (rad)."""
    fell: bool
    """Whether the robot fell (SimState.fallen) at any time."""


def run_command(
    command: tuple[float, float, float],
    seconds: float,
    settle: float = 1.0,
    gait_config: GaitConfig | None = None,
    sim: Go2Sim | None = None,
) -> TrackingResult:
    """Walk with one constant command from standing; ground truth is read only for the report."""
    gait = TrotGait(gait_config or GaitConfig())
    kp, kd = gait.config.recommended_kp, gait.config.recommended_kd
    own_sim = sim is None
    sim = sim or Go2Sim(SimConfig())
    state = sim.reset(seed=0, pose="stand")
    start = state.base_pos.copy()
    substeps = round(CONTROL_DT / sim.config.physics_dt)
    velocities, estimates, truths = [], [], []
    max_roll = max_pitch = 0.0
    yaw_prev, yaw_total = state.roll_pitch_yaw[2], 0.0
    fell = False
    for _ in range(round(seconds / CONTROL_DT)):
        target = gait.update(state.time, state.q, state.dq, state.imu_quat, state.gyro, command)
        cmd = motor_command(target, kp, kd)
        issued = sim.time
        for _ in range(substeps):
            sim.step(cmd, issued_at=issued)
        state = sim.state()
        roll, pitch, yaw = state.roll_pitch_yaw
        yaw_total += (yaw - yaw_prev + np.pi) % (2 * np.pi) - np.pi
        yaw_prev = yaw
        max_roll, max_pitch = max(max_roll, abs(roll)), max(max_pitch, abs(pitch))
        fell = fell or state.fallen
        if fell:
            break
        if state.time >= settle:
            velocities.append([*state.base_lin_vel_body[:2], state.base_ang_vel_body[2]])
            estimates.append(gait.velocity_estimate[:2])
            truths.append(state.base_lin_vel_body[:2])
    if own_sim:
        sim.close()
    vel = np.array(velocities) if velocities else np.full((1, 3), np.nan)
    est_err = np.abs(np.array(estimates) - np.array(truths)).mean(axis=0) if estimates else np.full(2, np.nan)
    mean = vel.mean(axis=0)
    heading = np.array([1.0, 0.0])
    return TrackingResult(
        command=tuple(float(c) for c in command),
        mean_velocity=tuple(float(v) for v in mean),
        mean_error=tuple(float(v) for v in mean - np.asarray(command)),
        ripple=tuple(float(v) for v in vel.std(axis=0)),
        estimator_error=tuple(float(v) for v in est_err),
        max_roll=float(max_roll),
        max_pitch=float(max_pitch),
        forward_distance=float((state.base_pos - start)[:2] @ heading),
        yaw_change=float(yaw_total),
        fell=bool(fell),
    )


def simulator_speed(seconds: float, render_hz: float | None) -> float:
    """Real-time factor of the full loop (gait at 50 Hz, physics 500 Hz), optionally rendering the ego camera."""
    sim = Go2Sim(SimConfig(camera_width=64, camera_height=64))
    gait = TrotGait()
    state = sim.reset(seed=0, pose="stand")
    if render_hz:
        sim.render_ego()  # create the GL context outside the timing
    kp, kd = gait.config.recommended_kp, gait.config.recommended_kd
    substeps = round(CONTROL_DT / sim.config.physics_dt)
    next_frame = 0.0
    wall = time.perf_counter()
    for _ in range(round(seconds / CONTROL_DT)):
        target = gait.update(state.time, state.q, state.dq, state.imu_quat, state.gyro, (0.3, 0.0, 0.0))
        cmd = motor_command(target, kp, kd)
        issued = sim.time
        for _ in range(substeps):
            sim.step(cmd, issued_at=issued)
            if render_hz and sim.time >= next_frame:
                sim.render_ego()
                next_frame += 1.0 / render_hz
        state = sim.state()
    wall = time.perf_counter() - wall
    sim.close()
    return seconds / wall


def physics_only_speed(seconds: float) -> float:
    """Real-time factor of bare physics under a constant PD command (no controller, no rendering)."""
    sim = Go2Sim(SimConfig())
    sim.reset(seed=0, pose="stand")
    gait = TrotGait()
    state = sim.state()
    cmd = motor_command(gait.update(0.0, state.q, state.dq, state.imu_quat, state.gyro), 50.0, 2.0)
    n = round(seconds / sim.config.physics_dt)
    wall = time.perf_counter()
    for _ in range(n):
        sim.step(cmd)
    wall = time.perf_counter() - wall
    sim.close()
    return seconds / wall


def _fmt3(values: tuple[float, ...]) -> str:
    return " / ".join(f"{v:+.3f}" for v in values)


def markdown_table(results: list[TrackingResult]) -> str:
    lines = [
        (
            "| command vx / vy / wz | measured vx / vy / wz | error vx / vy / wz | ripple (std) vx / vy / wz "
            "| odometry err vx / vy | max roll / pitch (rad) | fwd dist (m) | yaw change (rad) | fell |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {_fmt3(r.command)} | {_fmt3(r.mean_velocity)} | {_fmt3(r.mean_error)} | "
            f"{' / '.join(f'{v:.3f}' for v in r.ripple)} | {' / '.join(f'{v:.3f}' for v in r.estimator_error)} | "
            f"{r.max_roll:.3f} / {r.max_pitch:.3f} | {r.forward_distance:+.2f} | {r.yaw_change:+.2f} | "
            f"{'YES' if r.fell else 'no'} |"
        )
    return "\n".join(lines)


def _parse_command(text: str) -> tuple[float, float, float]:
    parts = [float(p) for p in text.split(",")]
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"a command is 'vx,vy,wz', got {text!r}")
    return parts[0], parts[1], parts[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="sim seconds per command (default 6)")
    parser.add_argument("--settle", type=float, default=1.0, help="seconds ignored at the start (default 1)")
    parser.add_argument("--commands", type=_parse_command, nargs="*", default=None, help="commands 'vx,vy,wz'")
    parser.add_argument("--speed-seconds", type=float, default=4.0, help="sim seconds per speed measurement")
    parser.add_argument("--no-speed", action="store_true", help="skip the simulator speed measurement")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown report here")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    os.environ.setdefault("MUJOCO_GL", "egl")

    commands = args.commands or list(DEFAULT_COMMANDS)
    sim = Go2Sim(SimConfig())
    results = [run_command(c, args.seconds, args.settle, sim=sim) for c in commands]
    sim.close()
    report = [
        (
            f"## Trot tracking: controller 50 Hz, physics 500 Hz, {args.seconds:g} s per command, "
            f"metrics after {args.settle:g} s (body frame, ground truth)"
        ),
        "",
        markdown_table(results),
    ]
    speed = {}
    if not args.no_speed:
        speed = {
            "physics_only_x_realtime": physics_only_speed(args.speed_seconds),
            "gait_no_render_x_realtime": simulator_speed(args.speed_seconds, None),
            "gait_ego64_30hz_x_realtime": simulator_speed(args.speed_seconds, 30.0),
        }
        report += [
            "",
            "## Simulator speed (x real time, this machine)",
            "",
            "| set-up | x real time |",
            "|---|---|",
            f"| physics + fixed PD command | {speed['physics_only_x_realtime']:.1f} |",
            f"| + trot controller at 50 Hz | {speed['gait_no_render_x_realtime']:.1f} |",
            f"| + 64x64 ego camera at 30 Hz | {speed['gait_ego64_30hz_x_realtime']:.1f} |",
        ]
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps({"tracking": [asdict(r) for r in results], "speed": speed}, indent=2))
    return 1 if any(r.fell for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
