"""A policy's task success as its world model predicts it: the policy node inside the dream, over ROS.

Starts, each as its own process on a private DDS domain, the dream backend (fog_policy.dream_node:
simulated time, lockstep with the policy) and the policy node (stepping on each imagined image),
and lets the policy play ``episodes`` imagined episodes. Episode k starts from the world model's
start window ``start + k`` (the first frames of a recorded episode) with sampler seed ``seed + k``
and ends when the termination head calls a frame terminal (counted as a success: in the goal
dataset every terminal step is an arrival at the marker, see the bundle's dream.json) or after
``episode_seconds`` of dream time (a failure). What it measures is how good the world model
believes the policy is; benchmarks/task_success.py puts it beside the simulator's verdict.

Once the policy commands, the dream rewinds to its first episode (dream/rewind: window `start`,
seed `seed`) and only the episodes after that count, numbered from 0: no counted episode holds
frames imagined before the policy was up, and the same parameters give the same episodes however
far the dream got while the policy started (it may already have ended an episode by then).
Writes ``episodes.jsonl`` (the dream node's log),
``summary.json`` and ``logs/``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, stamp_seconds
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_srvs.srv import Trigger

from fog_policy.task_demo import bundled_artifact, stop_reasons

LISTEN_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


@dataclass
class DreamResult:
    policy: str
    world_model: str
    episodes: list[dict]
    success_rate: float
    mean_time_to_success_s: float
    mean_return: float
    command_rate_hz: float
    commands: int
    lockstep_timeouts: int
    clipped_commands: int
    policy_stops: list[str]


def run_dream_task(
    out: Path,
    policy: str = "bundled",
    world_model: str | None = None,
    episodes: int = 20,
    episode_seconds: float = 30.0,
    seed: int = 0,
    start: int = 0,
    domain_id: int = 42,
    stall_timeout: float = 300.0,
    policy_params: dict | None = None,
    log=print,
) -> DreamResult:
    """``policy_params``: extra parameters of the policy node (e.g. tests switch the surprise stop off)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    artifact = bundled_artifact("goal") if policy == "bundled" else Path(policy)
    world_model = world_model or str(artifact / "world_model")
    if not Path(world_model).is_dir():
        raise FileNotFoundError(f"no world model for the dream row: {world_model} is not a folder (give --world-model)")
    episode_log = out / "episodes.jsonl"
    episode_log.unlink(missing_ok=True)
    group = ProcessGroup(out / "logs", ros_env(domain_id))
    group.start("dream", node_command("fog_policy.dream_node", {
        "world_model": str(world_model), "use_sim_time": True, "start": start, "seed": seed,
        "episode_seconds": episode_seconds, "reset_on_termination": True, "episode_log": str(episode_log),
        "policy_reset_service": "fog_policy/reset"}))
    group.start("policy", node_command("fog_policy.policy_node", {
        "use_sim_time": True, "artifact": str(artifact), "trigger": "image", "joint_timeout": 1.0,
        **(policy_params or {})}))
    probe = RosProbe(domain_id, name="dream_task")
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    commands: list[float] = []
    probe.node.create_subscription(Twist, "cmd_vel", lambda m: commands.append(probe.now()), LISTEN_QOS)
    try:
        log(f"[dream] {artifact} in {world_model}: {episodes} imagined episode(s) of at most {episode_seconds:g} s")
        _wait_until_commanding(probe, group, diags)
        res = probe.call(Trigger, "dream/rewind", timeout=30)
        if not res.success:
            raise RuntimeError(f"dream/rewind failed: {res.message}")
        t_first = probe.now()
        n_cmd0 = len(commands)
        rows = _wait_for_episodes(probe, group, diags, episode_log, episodes, stall_timeout, log)
        rows = rows[:episodes]
        span = probe.now() - t_first
        n_cmd = len(commands) - n_cmd0
    finally:
        probe.close()
        group.stop()
    result = _dream_result(artifact, world_model, rows, n_cmd, span, diags, t_first)
    (out / "summary.json").write_text(json.dumps(asdict(result), indent=2))
    return result


def _wait_until_commanding(probe: RosProbe, group: ProcessGroup, diags: list) -> None:
    """Wait (up to 600 s) until the policy node reports that it commands; raise if it does not or a node exits."""
    commanding = lambda: any("fog_policy: policy: commanding" in diagnostics_text([d]) for d in diags)  # noqa: E731
    # generous: on a machine busy with training, loading torch alone can take minutes at low priority
    if not probe.spin_until(lambda: commanding() or not all(p.alive() for p in group.processes), timeout=600):
        raise RuntimeError("the policy never commanded in the dream within 600 s:\n" + diagnostics_text(diags[-4:]))
    group.check_alive()


def _counted_episodes(episode_log: Path) -> list[dict]:
    """The episodes in the dream node's log after its last rewind, numbered from 0."""
    if not episode_log.exists():
        return []
    lines = [json.loads(x) for x in episode_log.read_text().splitlines() if x.strip()]
    # the episodes after the rewind (the warm-up before it ends with ended_by "dream/rewind")
    marks = [i for i, r in enumerate(lines) if r["ended_by"] == "dream/rewind"]
    rows = lines[marks[-1] + 1 :] if marks else []
    return [{**r, "episode": k} for k, r in enumerate(rows)]


def _wait_for_episodes(
    probe: RosProbe, group: ProcessGroup, diags: list, episode_log: Path, episodes: int, stall_timeout: float, log
) -> list[dict]:
    """Spin until `episodes` counted episodes have ended, logging each; raise if none ends for `stall_timeout` s."""
    rows: list[dict] = []
    last, last_change = 0, time.monotonic()
    while len(rows) < episodes:
        probe.spin(0.5)
        group.check_alive()
        rows = _counted_episodes(episode_log)
        if len(rows) != last:
            last, last_change = len(rows), time.monotonic()
            r = rows[-1]
            log(f"[dream] episode {len(rows) - 1}: dataset start {r['dataset_episode']}, "
                f"{'terminal' if r['terminated'] else 'time limit'} after {r['seconds']:.1f} s, "
                f"return {r['return']:.2f}")
        elif time.monotonic() - last_change > stall_timeout:
            raise RuntimeError(
                f"no imagined episode ended for {stall_timeout:.0f} s:\n" + diagnostics_text(diags[-4:])
            )
    return rows


def _dream_result(
    artifact: Path, world_model: str, rows: list[dict], n_cmd: int, span: float, diags: list, t_first: float
) -> DreamResult:
    """The DreamResult of the counted episodes `rows` and the `n_cmd` commands over `span` s since `t_first`."""
    wins = [r for r in rows if r["terminated"]]
    return DreamResult(
        policy=str(artifact),
        world_model=str(world_model),
        episodes=rows,
        success_rate=len(wins) / max(len(rows), 1),
        mean_time_to_success_s=float(sum(r["seconds"] for r in wins) / len(wins)) if wins else math.nan,
        mean_return=float(sum(r["return"] for r in rows) / max(len(rows), 1)),
        command_rate_hz=n_cmd / span if span > 0 else 0.0,
        commands=n_cmd,
        lockstep_timeouts=sum(r["lockstep_timeouts"] for r in rows),
        clipped_commands=sum(r["clipped_commands"] for r in rows),
        # only while the counted episodes ran (not the policy's start-up before the restart)
        policy_stops=sorted({v for d in diags if stamp_seconds(d) >= t_first for v in stop_reasons(d)}),
    )
