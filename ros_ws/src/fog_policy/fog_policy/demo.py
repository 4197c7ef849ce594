"""`make demo`: the main job on the simulator: a policy learned in world models walks the Go2 to a marker.

`--task goal` (default) starts the simulated Go2 (a red marker post 1.5-3 m away), the locomotion
controller and the policy node with the bundled goal policy (`fog_policy/artifacts/goal`, made by
`fog pipeline goal`) as separate ROS 2 processes, runs `--episodes` episodes closed loop and
writes (fog_policy.task_demo):

  demo.mp4        ego camera (left, upscaled) beside the third-person view (right)
  goal.png        base-to-marker distance over time per episode, the commands, the command intervals
  summary.json    per-episode start/final/min distance and success, falls, the command rate
  logs/           each process's log

`--task pushcube` runs the push-cube task with its bundled policy (`artifacts/pushcube`: it does
not solve the task, docs/BENCHMARKS.md). `--policy random|still|scripted` replaces the policy by a
reference command source (scripted: the ground-truth controller), `--policy DIR` runs another
artifact.

`--task square` is the locomotion check: the robot walks a square through cmd_vel and you get the
video, `velocity.png` (commanded vs measured base velocity, the path) and `summary.json`.

Examples::

    python -m fog_policy.demo --out runs/demo
    python -m fog_policy.demo --policy random --episodes 5 --no-video --out runs/demo_random
    python -m fog_policy.demo --task pushcube --out runs/demo_pushcube
    python -m fog_policy.demo --task square --side 1.0 --speed 0.4
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.artifact import ArtifactError
from geometry_msgs.msg import PoseStamped, Twist, TwistStamped
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.qos import COMMAND_QOS
from quadruped_bridge.ros_messages import image_array
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, roll_pitch_yaw, stamp_seconds
from sensor_msgs.msg import Image


def square_plan(side: float, speed: float, yaw_rate: float) -> list[tuple[str, tuple[float, float, float], float]]:
    """(label, (vx, vy, wz), seconds) segments: four sides and four left turns, then a stop."""
    plan = []
    for i in range(4):
        plan.append((f"side {i + 1}", (speed, 0.0, 0.0), side / speed))
        plan.append((f"turn {i + 1}", (0.0, 0.0, yaw_rate), (math.pi / 2) / yaw_rate))
    plan.append(("stop", (0.0, 0.0, 0.0), 1.0))
    return plan


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="fog demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    p.add_argument("--task", choices=("goal", "pushcube", "square"), default="goal", help="what the demo runs")
    p.add_argument(
        "--policy",
        default="bundled",
        help="goal/pushcube: 'bundled', 'random', 'still', 'scripted' or an artifact folder",
    )
    p.add_argument("--episodes", type=int, default=3, help="goal/pushcube: episodes (a new scene each)")
    p.add_argument("--episode-seconds", type=float, default=30.0, help="goal/pushcube: simulated seconds per episode")
    p.add_argument("--seed", type=int, default=0, help="goal/pushcube: seed of the first scene")
    p.add_argument("--no-video", action="store_true", help="goal/pushcube: skip the cameras and the video")
    p.add_argument("--side", type=float, default=1.0, help="side of the square (m)")
    p.add_argument("--speed", type=float, default=0.3, help="forward speed along the sides (m/s)")
    p.add_argument("--yaw-rate", type=float, default=0.8, help="yaw rate in the turns (rad/s)")
    p.add_argument("--real-time-factor", type=float, default=1.0, help="simulated seconds per wall second")
    p.add_argument(
        "--domain-id",
        type=int,
        default=42,
        help="ROS_DOMAIN_ID of the demo (default 42: never the real robot's domain 0)",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.task in ("goal", "pushcube"):
        return main_task(args)
    return main_square(args)


def main_task(args) -> int:
    from fog_policy.task_demo import run_task

    out = Path(args.out)
    try:
        result = run_task(
            out,
            task=args.task,
            policy=args.policy,
            episodes=args.episodes,
            episode_seconds=args.episode_seconds,
            seed=args.seed,
            real_time_factor=args.real_time_factor,
            video=not args.no_video,
            domain_id=args.domain_id,
        )
    except (FileNotFoundError, ArtifactError) as e:
        print(f"[demo] {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in asdict(result).items() if k != "episodes"}, indent=2))
    what = "base-to-marker" if args.task == "goal" else "cube-to-goal"
    for e in result.episodes:
        took = f" in {e['time_to_success_s']:.1f} s" if e["success"] else ""
        print(
            f"[demo] episode {e['episode']} (scene {e['scene_seed']}): {what} {e['start_distance_m']:.2f} -> "
            f"{e['final_distance_m']:.2f} m, {'success' + took if e['success'] else 'no success'}"
            + (", FELL" if e["fell"] else "")
        )
    names = (("video", "demo.mp4"), ("plot", f"{args.task}.png"), ("summary", "summary.json"))
    for label, name in names:
        if (out / name).exists():
            print(f"[demo] {label}: {out / name}")
    return 1 if result.falls else 0


def main_square(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plan = square_plan(args.side, args.speed, args.yaw_rate)
    total = sum(seg[2] for seg in plan)

    group = ProcessGroup(out / "logs", ros_env(args.domain_id))
    sim_params = {"real_time_factor": args.real_time_factor, "third_person_rate_hz": 15.0}
    group.start("sim", node_command("quadruped_bridge.sim_node", sim_params))
    group.start("locomotion", node_command("fog_policy.locomotion_node", {"use_sim_time": True}))
    probe = RosProbe(args.domain_id, name="demo")
    ego = probe.watch(Image, "camera/image_raw", sensor=True)
    third = probe.watch(Image, "sim/third_person/image_raw", sensor=True)
    twists = probe.watch(TwistStamped, "sim/base_twist", sensor=True)
    poses = probe.watch(PoseStamped, "sim/base_pose", sensor=True)
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    commanded: list[tuple[float, float, float, float]] = []
    try:
        print(f"[demo] simulator and locomotion controller starting (domain {args.domain_id}, logs in {out / 'logs'})")
        ready = lambda: any("fog_policy: locomotion: standing" in diagnostics_text([d]) for d in diags)  # noqa: E731
        if not probe.spin_until(lambda: ready() or not all(p.alive() for p in group.processes), timeout=90):
            raise RuntimeError("the robot did not stand up within 90 s:\n" + diagnostics_text(diags[-5:]))
        group.check_alive()
        print(f"[demo] standing; walking a {args.side:.1f} m square ({total:.0f} s of simulated time)")
        from tqdm import tqdm

        bar = tqdm(total=round(total, 1), unit="sim s", bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} sim s")
        for label, (vx, vy, wz), seconds in plan:
            msg = Twist()
            msg.linear.x, msg.linear.y, msg.angular.z = vx, vy, wz
            last = [0.0]

            def publish(msg=msg, last=last, cmd=(vx, vy, wz)):
                if time.monotonic() - last[0] >= 0.05:
                    probe.publish(Twist, "cmd_vel", msg, COMMAND_QOS)
                    commanded.append((probe.now(), *cmd))
                    last[0] = time.monotonic()

            start = probe.now()
            if not probe.spin_sim(seconds, timeout=seconds / max(args.real_time_factor, 0.05) * 4 + 20, every=publish):
                group.check_alive()
                raise RuntimeError(f"simulated time stalled during {label}")
            bar.set_postfix_str(label)
            bar.update(max(0.0, min(round(probe.now() - start, 1), bar.total - bar.n)))
        bar.close()
        commanded.append((probe.now(), 0.0, 0.0, 0.0))
    finally:
        probe.close()
        group.stop()

    summary = write_outputs(out, ego, third, twists, poses, commanded, diags)
    print(json.dumps(summary, indent=2))
    for label, name in (("video", "demo.mp4"), ("plot", "velocity.png"), ("summary", "summary.json")):
        print(f"[demo] {label}: {out / name}")
    return 0 if not summary["fell"] else 1


def commanded_at(commanded, t: np.ndarray) -> np.ndarray:
    """The command in effect at each time t (zero before the first)."""
    times = np.array([c[0] for c in commanded])
    values = np.array([c[1:] for c in commanded])
    idx = np.searchsorted(times, t, side="right") - 1
    out = np.zeros((len(t), 3))
    ok = idx >= 0
    out[ok] = values[idx[ok]]
    return out


def write_outputs(out: Path, ego, third, twists, poses, commanded, diags) -> dict:
    import imageio.v2 as imageio
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([stamp_seconds(m) for m in twists])
    measured = np.array([[m.twist.linear.x, m.twist.linear.y, m.twist.angular.z] for m in twists])
    cmd = commanded_at(commanded, t)
    t0 = commanded[0][0] if commanded else 0.0
    walking = t >= t0
    err = np.abs(measured - cmd)[walking]
    # Judge tracking after each change of command has had 1 s to settle.
    change_times = np.array([c[0] for i, c in enumerate(commanded) if i == 0 or c[1:] != commanded[i - 1][1:]])
    settled = walking & np.array(
        [np.all((ti - change_times[change_times <= ti]) >= 1.0) if np.any(change_times <= ti) else False for ti in t]
    )
    # from the first command on: before it the robot lies and stands up (soft start)
    poses = [m for m in poses if stamp_seconds(m) >= t0]
    xy = np.array([[m.pose.position.x, m.pose.position.y, m.pose.position.z] for m in poses]).reshape(-1, 3)
    tilt = max((max(abs(a) for a in roll_pitch_yaw(m.pose.orientation)[:2]) for m in poses), default=0.0)
    fell = bool(len(xy) and (xy[:, 2].min() < 0.15 or tilt > 0.8))

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for ax, k, name, unit in zip(axes.flat[:3], range(3), ("vx", "vy", "yaw rate"), ("m/s", "m/s", "rad/s")):
        ax.plot(t - t0, cmd[:, k], label="commanded", lw=2)
        ax.plot(t - t0, measured[:, k], label="measured (ground truth)", lw=1)
        ax.set_xlabel("time since first command (s)")
        ax.set_ylabel(f"{name} ({unit})")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    ax = axes.flat[3]
    if len(xy):
        ax.plot(xy[:, 0], xy[:, 1])
        ax.plot(xy[0, 0], xy[0, 1], "go", label="start")
        ax.plot(xy[-1, 0], xy[-1, 1], "rs", label="end")
    ax.set_aspect("equal")
    ax.set_title("path (top view, m)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.suptitle("Simulated Go2: commanded vs measured base velocity (body frame)")
    fig.tight_layout()
    fig.savefig(out / "velocity.png", dpi=110)
    plt.close(fig)

    write_video(out / "demo.mp4", ego, third, imageio)
    path_len = float(np.sum(np.linalg.norm(np.diff(xy[:, :2], axis=0), axis=1))) if len(xy) > 1 else 0.0
    rtf = [float(kv.value) for d in diags for kv in d.status[0].values if kv.key == "achieved_real_time_factor"]
    summary = {
        "mean_abs_tracking_error_settled": {
            k: float(np.mean(np.abs(measured - cmd)[settled][:, i])) if settled.any() else None
            for i, k in enumerate(("vx", "vy", "wz"))
        },
        "mean_abs_tracking_error_all": {
            k: float(err[:, i].mean()) if len(err) else None for i, k in enumerate(("vx", "vy", "wz"))
        },
        "path_length_m": path_len,
        "end_to_start_distance_m": float(np.linalg.norm(xy[-1, :2] - xy[0, :2])) if len(xy) else None,
        "max_roll_pitch_rad": float(tilt),
        "fell": fell,
        "ego_frames": len(ego),
        "third_person_frames": len(third),
        "achieved_real_time_factor_median": float(np.median(rtf)) if rtf else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def write_video(path: Path, ego, third, imageio, fps: int = 15) -> None:
    """Ego frames (nearest-upscaled to the third-person height) beside the third-person view."""
    if not third:
        return
    ego_t = np.array([stamp_seconds(m) for m in ego])
    writer = imageio.get_writer(path, fps=fps, codec="libx264", quality=7, macro_block_size=8)
    try:
        for msg in third:
            view = image_array(msg)
            h = view.shape[0]
            if len(ego):
                i = int(np.clip(np.searchsorted(ego_t, stamp_seconds(msg)), 0, len(ego) - 1))
                e = image_array(ego[i])
                scale = max(1, h // e.shape[0])
                e = np.repeat(np.repeat(e, scale, axis=0), scale, axis=1)[:h]
                pad = np.zeros((h, e.shape[1], 3), np.uint8)
                pad[: e.shape[0]] = e
                view = np.concatenate([pad, view], axis=1)
            writer.append_data(view)
    finally:
        writer.close()


if __name__ == "__main__":
    sys.exit(main())
