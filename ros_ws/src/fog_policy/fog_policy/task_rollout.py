"""Closed-loop task episodes in one process (no ROS): Go2Sim + the trot at 50 Hz + a command source at 5 Hz.

The same loop as the deployed stack (physics and motor law at 500 Hz, the locomotion controller at
50 Hz, the policy at its rate on the latest ego frame), without DDS, so a policy can be judged in
seconds while it trains and the scripted ground-truth controller can be checked against the task
rules. The ROS version of the same episodes (separate processes, real topics) is
``benchmarks/task_success.py``; use that for the reported figures.

Command sources (``make_source``): ``still`` (zero command), ``random`` (uniform in the bounds, held
for one policy period), ``scripted`` (the task's ground-truth controller), or a policy artifact
folder (run with the robot's onnxruntime code, ``PolicyRuntime``).

    python -m fog_policy.task_rollout --task goal --source scripted --episodes 10
    python -m fog_policy.task_rollout --task goal --source ros_ws/src/fog_policy/artifacts/goal --episodes 20
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fog_contract.go2 import JOINT_NAMES
from quadruped_bridge.exploration import EpisodeConfig, command_bounds
from quadruped_bridge.sim import Go2Sim, SimConfig
from quadruped_bridge.tasks import GoalTask, task_by_name

from fog_policy.trot_gait import TrotGait, motor_command

CONTROL_DT = 0.02
"""Locomotion controller period (s): 50 Hz, as deployed."""

SETTLE_SECONDS = 1.0
"""Standing time before the first command (the deployed stack's soft start ends standing, too)."""


@dataclass
class Observation:
    rgb: np.ndarray
    """Ego frame, uint8 (H, W, 3)."""
    q: np.ndarray
    dq: np.ndarray
    quat: np.ndarray
    gyro: np.ndarray
    base_xy: np.ndarray
    """Ground truth: only the scripted source may read it."""
    yaw: float
    marker_xy: np.ndarray


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    fell: bool
    time_to_success: float | None
    start_distance: float
    final_distance: float
    min_distance: float
    times: list[float] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)
    commands: list[list[float]] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list, repr=False)


CommandSource = Callable[[Observation], np.ndarray]


def make_source(
    name: str, task: GoalTask, low: np.ndarray, high: np.ndarray, seed: int = 0
) -> tuple[CommandSource, Callable[[], None], int | None]:
    """(act(obs) -> (vx, vy, wz), reset(), image size the source wants or None)."""
    if name == "still":
        return (lambda _o: np.zeros(3)), (lambda: None), None
    if name == "random":
        rng = np.random.default_rng(seed)
        return (lambda _o: rng.uniform(low, high)), (lambda: None), None
    if name == "scripted":
        return (lambda o: task.scripted_command(o.base_xy, o.yaw, o.marker_xy)), (lambda: None), None
    from fog_contract.proprio import proprio_vector

    from fog_policy.policy_runtime import PolicyRuntime

    runtime = PolicyRuntime(name)
    names = runtime.meta["observation"]["proprio"]["names"]
    index = {j: i for i, j in enumerate(JOINT_NAMES)}

    def act(o: Observation) -> np.ndarray:
        proprio = proprio_vector(names, index, o.q, o.dq, o.quat, o.gyro)
        return runtime.step(o.rgb, proprio).action

    return act, runtime.reset, int(runtime.height)


def run_episode(
    sim: Go2Sim,
    task: GoalTask,
    act: CommandSource,
    seed: int,
    policy_rate: float = 5.0,
    record_frames: bool = False,
) -> EpisodeResult:
    """One episode of ``task`` from scene ``seed``: stand, then commands at ``policy_rate`` until the task ends."""
    gait = TrotGait()
    kp, kd = gait.config.recommended_kp, gait.config.recommended_kd
    substeps = round(CONTROL_DT / sim.config.physics_dt)
    per_policy = max(1, round(1.0 / policy_rate / CONTROL_DT))
    state = sim.reset(seed=seed, pose="stand")
    marker = state.goal_pos[:2].copy()
    start_d = float(task.distance_to(state.base_pos, marker))
    command = np.zeros(3)
    res = EpisodeResult(seed, False, False, None, start_d, start_d, start_d)
    tick = 0
    t_start = None
    while True:
        if state.time >= SETTLE_SECONDS and tick % per_policy == 0:
            if t_start is None:
                t_start = state.time
            elapsed = state.time - t_start
            d = float(task.distance_to(state.base_pos, marker))
            res.times.append(elapsed)
            res.distances.append(d)
            res.min_distance = min(res.min_distance, d)
            outcome = task.outcome(elapsed, state.base_pos, marker)
            if outcome is not None:
                res.success = outcome == "success"
                res.time_to_success = elapsed if res.success else None
                res.final_distance = d
                return res
            rgb = sim.render_ego()
            if record_frames:
                res.frames.append(rgb)
            obs = Observation(
                rgb, state.q, state.dq, state.imu_quat, state.gyro, state.base_pos[:2], float(state.roll_pitch_yaw[2]),
                marker,
            )  # fmt: skip
            command = np.asarray(act(obs), dtype=np.float64)
            res.commands.append([float(x) for x in command])
        target = gait.update(state.time, state.q, state.dq, state.imu_quat, state.gyro, command)
        cmd = motor_command(target, kp, kd)
        issued = sim.time
        for _ in range(substeps):
            sim.step(cmd, issued_at=issued)
        state = sim.state()
        tick += 1
        if fallen(state):
            res.fell = True
            res.final_distance = float(task.distance_to(state.base_pos, marker))
            return res


def fallen(state) -> bool:
    """The fall rule of the exploration driver and the ROS demo: base below 0.15 m or tilted past 0.8 rad."""
    rules = EpisodeConfig()
    roll, pitch = state.roll_pitch_yaw[:2]
    return bool(state.base_pos[2] < rules.fall_height or max(abs(roll), abs(pitch)) > rules.fall_tilt)


def summarize(results: list[EpisodeResult]) -> dict:
    n = len(results)
    k = sum(r.success for r in results)
    lo, hi = wilson_interval(k, n)
    times = [r.time_to_success for r in results if r.success]
    return {
        "episodes": n,
        "successes": k,
        "success_rate": k / n if n else 0.0,
        "success_ci95": [lo, hi],
        "mean_time_to_success": float(np.mean(times)) if times else None,
        "falls": sum(r.fell for r in results),
        "mean_final_distance": float(np.mean([r.final_distance for r in results])) if n else None,
        "mean_min_distance": float(np.mean([r.min_distance for r in results])) if n else None,
    }


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a success rate k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def run_episodes(
    act: CommandSource, reset: Callable[[], None], task_name: str, episodes: int, seed: int, camera_size: int = 64
) -> tuple[dict, list[EpisodeResult]]:
    """(summary, results) of ``episodes`` episodes from scenes ``seed``, ``seed + 1``, ... with one simulator."""
    task = task_by_name(task_name)
    if not isinstance(task, GoalTask):
        raise SystemExit("in-process rollouts judge the goal task only (push-cube: benchmarks/task_success.py)")
    sim = Go2Sim(SimConfig(camera_width=camera_size, camera_height=camera_size, task=task_name))
    results = []
    try:
        for i in range(episodes):
            reset()
            results.append(run_episode(sim, task, act, seed + i))
    finally:
        sim.close()
    return summarize(results), results


def evaluate(
    source: str, task_name: str = "goal", episodes: int = 10, seed: int = 1000, camera_size: int = 64
) -> tuple[dict, list[EpisodeResult]]:
    """``run_episodes`` for a source of ``make_source`` (references within the exploration's command bounds)."""
    act, reset, _size = make_source(source, task_by_name(task_name), *command_bounds(), seed)
    return run_episodes(act, reset, task_name, episodes, seed, camera_size)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="goal")
    p.add_argument("--source", default="scripted", help="still | random | scripted | ARTIFACT_DIR")
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=1000, help="scene seed of the first episode (then +1 each)")
    p.add_argument("--camera-size", type=int, default=64)
    p.add_argument("--json", default="", help="write the summary and per-episode figures here")
    a = p.parse_args(argv)
    if a.source not in ("still", "random", "scripted") and not (Path(a.source) / "policy_meta.json").exists():
        p.error(f"--source {a.source!r}: expected still, random, scripted or a policy artifact folder")
    summary, results = evaluate(a.source, a.task, a.episodes, a.seed, a.camera_size)
    print(json.dumps(summary, indent=2))
    if a.json:
        per = [{k: v for k, v in r.__dict__.items() if k != "frames"} for r in results]
        Path(a.json).write_text(json.dumps({"summary": summary, "episodes": per}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
