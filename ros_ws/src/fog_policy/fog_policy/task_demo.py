"""A Go2 task closed loop over ROS 2: the simulator, the locomotion controller and a command source.

Starts, each as its own process on a private DDS domain, the simulated Go2 (``sim_node`` with the
task's scene), the locomotion controller and the policy node with an exported artifact (by default
the task's bundled one, ``fog_policy/artifacts/<task>``, made by ``fog pipeline <task>``). The
reference rows run without a policy node; this process publishes cmd_vel at the policy rate:
``random`` (uniform inside the artifact's action bounds), ``still`` (zero), ``scripted`` (the
task's ground-truth controller, quadruped_bridge.tasks: the ceiling). Each episode starts from
``sim/reset`` (robot lying, a new scene from the seed, so two runs with the same ``--seed`` see the
same scenes) and lasts at most ``--episode-seconds`` of simulated time, stand-up included.

Tasks (rules in quadruped_bridge.tasks): ``goal``: success when the base comes within 0.35 m of the
marker post (the episode then ends); the plotted distance is base-to-marker. ``pushcube``: success
when the cube's centre comes within 0.15 m of the goal; the distance is cube-to-goal.

Writes to the output folder: ``demo.mp4`` (ego camera beside the third-person view; with
``video``), ``<task>.png`` (distance over time per episode, the commands, the command intervals),
``summary.json`` (per episode and overall), ``trace.npz`` and ``logs/``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from fog_contract.artifact import load_meta
from geometry_msgs.msg import PoseStamped, Twist
from quadruped_bridge.exploration import command_bounds
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.qos import COMMAND_QOS, LATCHED_QOS
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, roll_pitch_yaw, stamp_seconds
from quadruped_bridge.tasks import task_by_name
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

REFERENCE_SOURCES = ("random", "still", "scripted")
"""Command sources that run in this process instead of a policy node."""

LISTEN_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def bundled_artifact(task: str = "goal") -> Path:
    """The task's policy shipped with fog_policy (installed share folder, else the source tree)."""
    candidates = []
    try:
        from ament_index_python.packages import get_package_share_directory

        candidates.append(Path(get_package_share_directory("fog_policy")) / "artifacts" / task)
    except (ImportError, LookupError, ValueError, OSError):  # OSError: the workspace is not sourced
        pass
    candidates.append(Path(__file__).resolve().parents[1] / "artifacts" / task)
    for c in candidates:
        if (c / "policy_meta.json").exists():
            return c
    raise FileNotFoundError(
        f"the bundled {task} policy is missing (looked in: "
        + ", ".join(str(c) for c in candidates)
        + f"); make one with `fog pipeline {task}` or pass --policy ARTIFACT_DIR"
    )


@dataclass
class Episode:
    index: int
    seed: int
    start_time: float
    end_time: float = 0.0
    goal_xy: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    distance: list[float] = field(default_factory=list)
    fell: bool = False

    def summary(self, goal_radius: float) -> dict:
        d = np.asarray(self.distance)
        reached = np.flatnonzero(d < goal_radius) if len(d) else np.array([], int)
        return {
            "episode": self.index,
            "scene_seed": self.seed,
            "start_distance_m": float(d[0]) if len(d) else None,
            "final_distance_m": float(d[-1]) if len(d) else None,
            "min_distance_m": float(d.min()) if len(d) else None,
            "success": bool(len(reached)),
            "time_to_success_s": float(self.times[reached[0]] - self.start_time) if len(reached) else None,
            "fell": self.fell,
        }


@dataclass
class TaskResult:
    task: str
    policy: str
    episodes: list[dict]
    success_rate: float
    mean_final_distance_m: float
    mean_distance_reduction_m: float
    falls: int
    command_rate_hz: float
    """Commands per second while commanding (intervals over 1 s, e.g. the stand-up, left out)."""
    command_interval_p99_s: float | None
    commands: int
    policy_stops: list[str]
    commanding_seconds: float = 0.0
    """Seconds covered by the intervals behind command_rate_hz."""


def run_task(
    out: Path,
    task: str = "goal",
    policy: str = "bundled",
    episodes: int = 1,
    episode_seconds: float = 30.0,
    seed: int = 0,
    real_time_factor: float = 1.0,
    video: bool = True,
    domain_id: int = 42,
    log=print,
) -> TaskResult:
    """Run ``episodes`` episodes of ``task`` closed loop and write the demo's outputs into ``out``.

    ``policy``: 'bundled' (the task's bundled artifact), an artifact folder, or one of
    REFERENCE_SOURCES (published from this process at the policy rate)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rules = task_by_name(task)
    goal_radius = rules.success_radius
    reference = policy if policy in REFERENCE_SOURCES else None
    artifact = bundled_artifact(task) if policy == "bundled" else None if reference else Path(policy)
    low, high, rate = _command_space(task, artifact)

    group = ProcessGroup(out / "logs", ros_env(domain_id))
    _start_nodes(group, task, seed, real_time_factor, video, artifact)
    probe = RosProbe(domain_id, name="task_demo")
    topics = _watch_topics(probe, video)
    rng = np.random.default_rng(seed + 1000)
    loop = _EpisodeLoop(
        probe, group, topics, task, rules, reference, rng, low, high, rate, seed, episode_seconds, real_time_factor
    )
    eps: list[Episode] = []
    try:
        who = f"{reference} commands" if reference else artifact
        log(f"[{task}] {who}; {episodes} episode(s) of at most {episode_seconds:g} s")
        _wait_until_up(probe, group, topics)
        group.check_alive()
        from tqdm import tqdm

        bar = tqdm(total=episodes * episode_seconds, unit="sim s", bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} sim s")
        for i in range(episodes):
            ep = loop.run_episode(i)
            eps.append(ep)
            s = ep.summary(goal_radius)
            bar.update(ep.end_time - ep.start_time)
            bar.set_postfix_str(f"ep {i}: {s['start_distance_m']:.2f} -> {s['final_distance_m']:.2f} m")
        bar.close()
        if reference:
            probe.publish(Twist, "cmd_vel", Twist(), COMMAND_QOS)
            probe.spin(0.2)
    finally:
        probe.close()
        group.stop()

    stops = sorted({v for d in topics.diags for v in stop_reasons(d)})
    result = summarize(task, reference or str(artifact), eps, topics.commands, goal_radius, rate, stops)
    write_task_outputs(out, result, eps, topics.commands, goal_radius, low, high)
    if video:
        import imageio.v2 as imageio

        from fog_policy.demo import write_video

        write_video(out / "demo.mp4", topics.ego, topics.third, imageio)
    return result


def _command_space(task: str, artifact: Path | None) -> tuple[np.ndarray, np.ndarray, float]:
    """(action low, action high, policy rate in Hz) of `artifact`; without one (a reference row), the bundled
    policy's, else the locomotion controller's command bounds at 5 Hz."""
    if artifact is None:  # the references use the bundled policy's action space and rate
        try:
            meta = load_meta(bundled_artifact(task))
        except FileNotFoundError:
            bounds = command_bounds()
            meta = {"action": {"low": bounds[0].tolist(), "high": bounds[1].tolist()}, "policy_rate_hz": 5.0}
    else:
        meta = load_meta(artifact)
    return np.array(meta["action"]["low"]), np.array(meta["action"]["high"]), float(meta["policy_rate_hz"])


def _start_nodes(
    group: ProcessGroup, task: str, seed: int, real_time_factor: float, video: bool, artifact: Path | None
) -> None:
    """Start the simulator, the locomotion controller and, with an artifact, the policy node."""
    sim_params = {
        "real_time_factor": real_time_factor,
        "seed": seed,  # each sim/reset draws the next scene: episode i plays scene seed + i + 1
        "third_person_rate_hz": 15.0 if video else 0.0,
        "task": task,
    }
    group.start("sim", node_command("quadruped_bridge.sim_node", sim_params))
    group.start("locomotion", node_command("fog_policy.locomotion_node", {"use_sim_time": True}))
    if artifact is not None:
        group.start("policy", node_command("fog_policy.policy_node", {"use_sim_time": True, "artifact": str(artifact)}))


@dataclass
class _Topics:
    """The messages the task demo's probe has received so far, per topic (each list grows as they arrive)."""

    ego: list
    third: list
    cubes: list
    goals: list
    poses: list
    diags: list
    commands: list[tuple[float, float, float, float]]
    """(receive time, vx, vy, wz) of every cmd_vel."""


def _watch_topics(probe: RosProbe, video: bool) -> _Topics:
    """Subscribe `probe` to the cameras (with `video`), the poses, /diagnostics and cmd_vel."""
    ego = probe.watch(Image, "camera/image_raw", sensor=True) if video else []
    third = probe.watch(Image, "sim/third_person/image_raw", sensor=True) if video else []
    cubes = probe.watch(PoseStamped, "sim/cube_pose", sensor=True)
    goals = probe.watch(PoseStamped, "sim/goal_pose", qos=LATCHED_QOS)
    poses = probe.watch(PoseStamped, "sim/base_pose", sensor=True)
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    commands: list[tuple[float, float, float, float]] = []
    probe.node.create_subscription(
        Twist, "cmd_vel", lambda m: commands.append((probe.now(), m.linear.x, m.linear.y, m.angular.z)), LISTEN_QOS
    )
    return _Topics(ego, third, cubes, goals, poses, diags, commands)


def _wait_until_up(probe: RosProbe, group: ProcessGroup, topics: _Topics) -> None:
    """Wait (up to 120 s) for the locomotion controller's diagnostics and the first goal, or a node's exit."""
    diags, goals = topics.diags, topics.goals
    up = lambda: any("fog_policy: locomotion:" in diagnostics_text([d]) for d in diags) and goals  # noqa: E731
    if not probe.spin_until(lambda: up() or not all(p.alive() for p in group.processes), timeout=120):
        raise RuntimeError(
            "the simulator and controller did not come up within 120 s:\n" + diagnostics_text(diags[-5:])
        )


@dataclass
class _EpisodeLoop:
    """What `run_task` needs to run one episode: the probe, the nodes, the task and, for a reference row,
    the command source (published from this process at `rate`)."""

    probe: RosProbe
    group: ProcessGroup
    topics: _Topics
    task: str
    rules: object
    reference: str | None
    rng: np.random.Generator
    low: np.ndarray
    high: np.ndarray
    rate: float
    seed: int
    episode_seconds: float
    real_time_factor: float

    def run_episode(self, i: int) -> Episode:
        """Reset the scene and run episode `i` until its time limit (or, for the goal task, success)."""
        probe, goals, poses, cubes = self.probe, self.topics.goals, self.topics.poses, self.topics.cubes
        reference, rules, task = self.reference, self.rules, self.task
        # Every episode, the first included, starts from sim/reset (robot lying, scene seed + i + 1,
        # the policy's state reset by the "reset" event), so no command before the start counts.
        n_goals = len(goals)
        if not probe.call(Trigger, "sim/reset", Trigger.Request()).success:
            raise RuntimeError("sim/reset failed")
        if not probe.spin_until(lambda n=n_goals: len(goals) > n, timeout=10):
            raise RuntimeError("no new goal after sim/reset")
        # The episode starts at the reset's own stamp: poses stamped before it belong to the last scene.
        start = stamp_seconds(goals[-1])
        ep = Episode(i, self.seed + i + 1, start, goal_xy=[goals[-1].pose.position.x, goals[-1].pose.position.y])
        next_tick = [ep.start_time]

        def act(next_tick=next_tick, ep=ep):
            if reference and probe.now() >= next_tick[0]:
                cmd = reference_command(reference, rules, self.rng, self.low, self.high, poses, cubes, ep.goal_xy)
                msg = Twist()
                msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in cmd)
                probe.publish(Twist, "cmd_vel", msg, COMMAND_QOS)
                next_tick[0] += 1.0 / self.rate

        def reached(ep=ep) -> bool:  # the goal task ends at success
            if task != "goal" or not poses:
                return False
            p = poses[-1]
            return stamp_seconds(p) >= ep.start_time and bool(
                rules.success((p.pose.position.x, p.pose.position.y), ep.goal_xy)
            )

        timeout = self.episode_seconds / max(self.real_time_factor, 0.05) * 4 + 30
        left = max(0.0, self.episode_seconds - (probe.now() - start))
        if not probe.spin_sim(left, timeout=timeout, every=act, until=reached):
            self.group.check_alive()
            raise RuntimeError(f"simulated time stalled in episode {i}")
        ep.end_time = probe.now()
        record_episode(ep, cubes if task == "pushcube" else poses, poses)
        return ep


def reference_command(source: str, rules, rng, low, high, poses, cubes, goal_xy) -> np.ndarray:
    """The next command of a reference source (see REFERENCE_SOURCES)."""
    if source == "random":
        return rng.uniform(low, high)
    if source == "still" or not poses:
        return np.zeros(3)
    p = poses[-1].pose
    _, _, yaw = roll_pitch_yaw(p.orientation)
    base = (p.position.x, p.position.y)
    if rules.name == "goal":
        cmd = rules.scripted_command(base, yaw, goal_xy, max_speed=float(high[0]), max_yaw_rate=float(high[2]))
    elif cubes:
        cmd = rules.scripted_command(base, yaw, (cubes[-1].pose.position.x, cubes[-1].pose.position.y), goal_xy)
    else:
        cmd = np.zeros(3)
    return np.clip(cmd, low, high)


def stop_reasons(diag: DiagnosticArray) -> list[str]:
    """Why the policy node was not commanding, from its WARN/ERROR diagnostics."""
    return [
        s.message
        for s in diag.status
        if s.name == "fog_policy: policy" and s.level in (DiagnosticStatus.WARN, DiagnosticStatus.ERROR)
    ]


def record_episode(ep: Episode, tracked, poses) -> None:
    """Distance over time of the ``tracked`` poses (the cube, or the base for the goal task) to the goal."""
    goal = np.array(ep.goal_xy)
    for m in tracked:
        t = stamp_seconds(m)
        if ep.start_time <= t <= ep.end_time:
            ep.times.append(t)
            ep.distance.append(float(np.hypot(m.pose.position.x - goal[0], m.pose.position.y - goal[1])))
    for m in poses:
        t = stamp_seconds(m)
        # a fall: the base low or tilted after the stand-up (the first 3 s are lying and rising)
        if ep.start_time + 3.0 <= t <= ep.end_time:
            roll, pitch, _ = roll_pitch_yaw(m.pose.orientation)
            if m.pose.position.z < 0.15 or max(abs(roll), abs(pitch)) > 0.8:
                ep.fell = True
                break


def summarize(task, name, eps, commands, goal_radius, rate, stops) -> TaskResult:
    per = [e.summary(goal_radius) for e in eps]
    finals = [p["final_distance_m"] for p in per if p["final_distance_m"] is not None]
    reductions = [p["start_distance_m"] - p["final_distance_m"] for p in per if p["final_distance_m"] is not None]
    # commands inside the episodes only (not the start-up before the first, not across a reset)
    inside = [np.array([c[0] for c in commands if e.start_time <= c[0] <= e.end_time]) for e in eps]
    t = np.concatenate(inside) if inside else np.array([])
    intervals = np.concatenate([np.diff(x) for x in inside if len(x) > 1] or [np.array([])])
    # the rate while commanding: a policy node is silent on purpose while the robot stands up and
    # settles (locomotion/ready), so gaps over 1 s are pauses, not slow commands
    flowing = intervals[intervals <= 1.0]
    span = float(flowing.sum())
    return TaskResult(
        task=task,
        policy=name,
        episodes=per,
        success_rate=float(np.mean([p["success"] for p in per])) if per else 0.0,
        mean_final_distance_m=float(np.mean(finals)) if finals else math.nan,
        mean_distance_reduction_m=float(np.mean(reductions)) if reductions else math.nan,
        falls=sum(p["fell"] for p in per),
        command_rate_hz=float(len(flowing) / span) if span > 0 else 0.0,
        commanding_seconds=span,
        command_interval_p99_s=float(np.percentile(intervals, 99)) if len(intervals) else None,
        commands=len(t),
        policy_stops=stops,
    )


def write_task_outputs(out: Path, result, eps, commands, goal_radius, low, high) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    ax = axes[0]
    for e in eps:
        ax.plot(np.array(e.times) - e.start_time, e.distance, label=f"episode {e.index} (scene {e.seed})")
    ax.axhline(goal_radius, color="k", ls="--", lw=1, label="success radius")
    ax.set_xlabel("time since episode start (s, simulated)")
    ax.set_ylabel("base-to-marker distance (m)" if result.task == "goal" else "cube-to-goal distance (m)")
    ax.set_title(f"success {result.success_rate:.0%}, mean final distance {result.mean_final_distance_m:.2f} m")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[1]
    if commands:
        c = np.array(commands)
        t0 = eps[0].start_time if eps else c[0, 0]
        for k, name in enumerate(("vx (m/s)", "vy (m/s)", "yaw rate (rad/s)")):
            ax.step(c[:, 0] - t0, c[:, k + 1], where="post", lw=1, label=name)
    ax.set_xlabel("time (s, simulated)")
    ax.set_title(f"cmd_vel ({result.commands} commands, {result.command_rate_hz:.2f} Hz)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax = axes[2]
    if len(commands) > 1:
        ax.hist(np.diff([c[0] for c in commands]), bins=40)
    ax.set_xlabel("interval between cmd_vel messages (s, simulated)")
    ax.set_ylabel("count")
    ax.set_yscale("log")
    ax.set_title("command intervals")
    ax.grid(alpha=0.3)
    fig.suptitle(f"{result.task}, closed loop: {Path(result.policy).name}")
    fig.tight_layout()
    fig.savefig(out / f"{result.task}.png", dpi=110)
    plt.close(fig)
    (out / "summary.json").write_text(json.dumps(asdict(result), indent=2))
    np.savez_compressed(
        out / "trace.npz",
        commands=np.array(commands).reshape(-1, 4),
        **{f"distance_{e.index}": np.stack([e.times, e.distance]) for e in eps if e.times},
    )
