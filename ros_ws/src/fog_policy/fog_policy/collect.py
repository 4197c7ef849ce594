"""`fog collect`: record exploration episodes from the simulated Go2 into rosbag2 bags.

Starts, as separate ROS 2 processes on a private DDS domain: the recorder, the simulator (faster
than real time, holding its clock until the recorder is subscribed), the locomotion controller,
and the exploration driver (smooth random cmd_vel at 5 Hz, episodes, resets); shows a progress
bar in simulated minutes; then stops the driver, lets the recorder drain and close its bag, and
stops the rest. The bags (one per episode) and a summary land in --out.

SIGINT or SIGTERM ends the collection early the same way (the bags so far are complete, the
summary says it was interrupted) and exits 0; so does the end of --minutes. A node that exits
with an error on the way out fails the collection.

Examples::

    fog collect --robot sim --minutes 2 --out data/bags
    fog collect --robot sim --task goal --minutes 10 --out data/goal_bags     (walk-to-the-marker scenes)
    fog collect --robot sim --minutes 30 --real-time-factor 3 --camera-size 128 --seed 7 --out data/bags
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from quadruped_bridge.clean_exit import StopFlag
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_probe import RosProbe


@dataclass(frozen=True)
class CollectConfig:
    robot: str = "sim"
    """Robot backend: only 'sim' collects autonomously (a real robot records with record.launch.py + teleop)."""
    minutes: float = 2.0
    """Simulated minutes to record."""
    out: str = "data/bags"
    """Folder for the bags (one per episode) and collect_summary.json."""
    real_time_factor: float = 2.0
    """Simulator speed; the lockstep with the controller keeps results independent of it."""
    camera_size: int = 64
    """Ego camera width = height (pixels), up to 128."""
    seed: int = 0
    """Seed of the scenes and of the exploration commands."""
    episode_seconds: float = 30.0
    """Episode time limit (simulated seconds)."""
    domain_id: int = 43
    """ROS_DOMAIN_ID for the collection (never the real robot's)."""
    task: str = "pushcube"
    """Scene and exploration of quadruped_bridge.tasks: 'pushcube' or 'goal'."""
    network: str = "localhost"
    """Discovery range of the collection's graph: 'localhost' (default) or 'lan' (quadruped_bridge.network_policy)."""


def parse_args(argv) -> CollectConfig:
    p = argparse.ArgumentParser(
        prog="fog collect", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--robot", default="sim", choices=["sim"], help="robot backend (sim)")
    p.add_argument("--minutes", type=float, default=2.0, help="simulated minutes to record")
    p.add_argument("--out", default="data/bags", help="output folder for the bags")
    p.add_argument("--real-time-factor", type=float, default=2.0, help="simulator speed")
    p.add_argument("--camera-size", type=int, default=64, help="ego image side (pixels, <= 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episode-seconds", type=float, default=30.0, help="episode time limit (s)")
    p.add_argument("--domain-id", type=int, default=43, help="ROS_DOMAIN_ID (default 43)")
    p.add_argument(
        "--task", default="pushcube", choices=["pushcube", "goal"], help="scene and exploration (default pushcube)"
    )
    p.add_argument("--network", default="localhost", choices=["localhost", "lan"],
                   help="discovery range: localhost (default) or lan (the subnet, deliberately)")
    a = p.parse_args(argv)
    if a.minutes <= 0:
        p.error(f"--minutes must be positive, got {a.minutes}")
    if not 8 <= a.camera_size <= 128:
        p.error(f"--camera-size must be in [8, 128], got {a.camera_size}")
    return CollectConfig(
        a.robot, a.minutes, a.out, a.real_time_factor, a.camera_size, a.seed, a.episode_seconds, a.domain_id, a.task,
        a.network,
    )


def collect(cfg: CollectConfig, progress: bool = True, stop: StopFlag | None = None) -> dict:
    """Record `cfg.minutes` simulated minutes (fewer if `stop` is set first); the summary dict."""
    stop = stop or StopFlag()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    existing = {p.name for p in out.iterdir()}
    seconds = cfg.minutes * 60.0
    group = ProcessGroup(out / "logs", ros_env(cfg.domain_id, network=cfg.network))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = group.env["ROS_AUTOMATIC_DISCOVERY_RANGE"]  # the progress probe
    probe = None
    try:
        explorer = _start_nodes(group, cfg, out)
        probe = RosProbe(cfg.domain_id, name="collect_progress")
        bar = _progress_bar(seconds) if progress else None
        recorded = _record_for(probe, group, cfg, seconds, stop, bar)
        if bar is not None:
            bar.close()
        explorer.stop()
        recorder = group.processes[0]
        code = recorder.stop(timeout=20)
        if code != 0:
            raise RuntimeError(f"recorder exited with {code}:\n{recorder.log()[-2000:]}")
    finally:
        if probe is not None:
            probe.close()
        group.stop()
    _raise_on_failed_nodes(group)
    summary = _summary(cfg, out, existing, recorded, stop)
    (out / "collect_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _start_nodes(group: ProcessGroup, cfg: CollectConfig, out: Path):
    """Start the recorder (first: `collect` stops it by index), simulator, locomotion and exploration nodes.

    Returns the exploration node's process."""
    group.start(
        "recorder",
        node_command("quadruped_bridge.recorder_node", {"out_dir": str(out), "use_sim_time": True, "robot": "go2-sim"}),
    )
    group.start(
        "sim",
        node_command(
            "quadruped_bridge.sim_node",
            {
                "real_time_factor": cfg.real_time_factor,
                "camera_width": cfg.camera_size,
                "camera_height": cfg.camera_size,
                "seed": cfg.seed,
                "wait_for_subscribers": 1,
                "task": cfg.task,
            },
        ),
    )
    group.start("locomotion", node_command("fog_policy.locomotion_node", {"use_sim_time": True}))
    return group.start(
        "exploration",
        node_command(
            "quadruped_bridge.exploration_node",
            {"use_sim_time": True, "seed": cfg.seed, "max_duration": cfg.episode_seconds, "task": cfg.task},
        ),
    )


def _progress_bar(seconds: float):
    """A tqdm bar counting simulated seconds."""
    from tqdm import tqdm

    return tqdm(
        total=round(seconds),
        unit="sim s",
        desc="collect",
        mininterval=1.0,
        bar_format="{l_bar}{bar}| {n:.0f}/{total} sim s [{elapsed}<{remaining}]",
    )


def _record_for(probe: RosProbe, group: ProcessGroup, cfg: CollectConfig, seconds: float, stop: StopFlag, bar) -> float:
    """Wait until `seconds` of simulated time have passed (or `stop` is set); the simulated seconds recorded."""
    recorded = 0.0
    start = None
    deadline = time.monotonic() + 120 + seconds / max(cfg.real_time_factor, 0.1) * 5
    while time.monotonic() < deadline and not stop.is_set():
        probe.spin(0.2)
        group.check_alive()
        now = probe.now()
        if now <= 0:
            continue
        start = now if start is None else start
        recorded = now - start
        done = min(round(now - start), round(seconds))
        if bar is not None and done > bar.n:
            bar.update(done - bar.n)
        if now - start >= seconds:
            break
    else:
        if not stop.is_set():
            raise RuntimeError(f"collection did not reach {seconds:.0f} simulated seconds in time")
    return recorded


def _raise_on_failed_nodes(group: ProcessGroup) -> None:
    """Raise, with the tails of their logs, if any node exited with an error."""
    failed = {p.name: p.popen.returncode for p in group.processes if p.popen.returncode != 0}
    if failed:
        tails = "\n".join(
            f"--- {p.name} ({p.log_path}):\n{p.log()[-1500:]}" for p in group.processes if p.name in failed
        )
        raise RuntimeError(f"nodes exited with errors {failed}:\n{tails}")


def _summary(cfg: CollectConfig, out: Path, existing: set[str], recorded: float, stop: StopFlag) -> dict:
    """The collection's summary: the new bags, the exploration's episode outcomes, the simulated time recorded."""
    bags = sorted(p for p in out.iterdir() if p.is_dir() and p.name not in existing and p.name != "logs")
    explorer_log = (out / "logs" / "exploration.log").read_text(errors="replace")
    return {
        "config": asdict(cfg),
        "episode_bags": [b.name for b in bags if b.name.startswith("episode_")],
        "between_episode_bags": [b.name for b in bags if b.name.startswith("between_")],
        "episodes_started": explorer_log.count("started"),
        "outcomes": {k: explorer_log.count(f"ended: {k}") for k in ("success", "fail", "reset")},
        "simulated_seconds": round(recorded, 1),
        "interrupted": stop.signum is not None,
    }


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(sys.argv[1:] if argv is None else argv)
    stop = StopFlag().install()  # SIGINT/SIGTERM: stop early, keep the bags so far, exit 0
    summary = collect(cfg, stop=stop)
    print(json.dumps(summary, indent=2))
    if summary["interrupted"]:
        print(f"[collect] stopped early by a signal after {summary['simulated_seconds']:.0f} simulated s")
    print(
        f"[collect] {len(summary['episode_bags'])} episode bag(s) in {cfg.out}; "
        f"next: fog dataset {cfg.out}/episode_* --out data/go2.zarr"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
