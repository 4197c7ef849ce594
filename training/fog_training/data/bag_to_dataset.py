"""`fog dataset`: convert rosbag2 bags (robot or simulator) into a Zarr episode store (the CLI).

Reads bags with `rosbags` (no ROS install needed), aligns the multi-rate topics onto the policy
clock inside each episode (split on ``episode/event``), takes as action the command in effect at
each tick, builds proprioceptive features, resizes images, computes rewards from the configured
source, and writes the store (docs/DATASET.md) plus a quality report in ``<out>.report/``.

The parts: fog_training.data.bag_convert (one bag -> episodes), bag_topics (which topic plays which
role), bag_messages (decoding), bag_quality (figures and warnings), dataset_output (inputs, --out
checks), quality_report (the report); the rewards' formulas live with their tasks.

A folder written by ``fog collect`` (it holds ``collect_summary.json``) stands for its episode
bags; any other folder that is not a bag itself stands for the bags directly inside it.

Exit status: 0 every bag converted (warnings, e.g. a salvaged bag, gaps or split episodes, go to
stderr and the report); 1 some bags failed (the store holds the others; the report and stderr
list the failures); 2 nothing converted, or a refused option or --out (nothing written or
deleted). Every failure a user can cause is one line on stderr, never a traceback.

Examples::

    fog dataset data/bags/*/ --out data/go2.zarr
    fog dataset run1 run2.mcap --out data/go2.zarr --rate 5 --image-size 64 --reward-source sim --goal 2.0 0.5
    fog dataset robot_bags/*/ --out data/real.zarr --reward-source events --namespace /go2
    fog dataset sim_bag --out data/joints.zarr --action joints --overwrite
    fog dataset data/bags --out data/go2.zarr          # a `fog collect` folder: its episode bags
    fog dataset robot.mcap --out data/r.zarr --topic camera=/front/image_raw/compressed --topic imu=/livox/imu
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tyro
from fog_contract.go2 import CMD_NAMES, JOINT_LOWER, JOINT_NAMES, JOINT_UPPER
from fog_contract.proprio import PROPRIO_NAMES, UPRIGHT_FORMULA
from quadruped_bridge.tasks import GoalTask, PushCubeTask

from fog_training.data.bag_convert import convert_bag
from fog_training.data.bag_messages import new_typestore
from fog_training.data.bag_quality import BagResult, bag_warnings
from fog_training.data.bag_reader import BagError, bag_files, file_sha256
from fog_training.data.bag_topics import BASE, CLOCK, CMD, CUBE, IMAGE, IMU, JCMD, JOINTS, parse_topic_map
from fog_training.data.dataset_output import STORE_MARKER, check_output, expand_inputs


@dataclass
class BagToDatasetConfig:
    """Convert rosbag2 bags into a Zarr episode dataset (see docs/DATASET.md)."""

    bags: tyro.conf.Positional[list[Path]]
    """Bags: rosbag2 directories (MCAP or sqlite3) or single .mcap / .db3 files."""
    out: Path
    """Output store (a directory ending in .zarr); the quality report goes to <out>.report/."""
    rate: float = 5.0
    """Policy clock (Hz): one dataset step per tick."""
    image_size: int = 64
    """Stored image side: the camera frame is resized (cv2 INTER_AREA, no crop) to size x size."""
    reward_source: Literal["sim", "sim-progress", "goal-progress", "events", "proprio"] = "sim"
    """sim: push-cube reward from ground-truth poses; sim-progress: the change of that potential per
    second (the episode's unobservable offset cancels); goal-progress: the goal task's reward (progress
    towards the marker at sim/goal_pose, quadruped_bridge.tasks.GoalTask); events: +1 success / -1 fail
    on the ending step;
    proprio: stay upright and smooth (formulas in meta.reward_source and docs/DATASET.md)."""
    action: Literal["cmd_vel", "joints"] = "cmd_vel"
    """cmd_vel: (vx, vy, yaw rate) in effect at each tick; joints: the 12 joint position targets of joint_commands."""
    namespace: str = "auto"
    """Namespace prefixing the contract topics ('' for none); 'auto' finds the one namespace holding
    camera/image_raw."""
    goal: tuple[float, float] | None = None
    """Cube goal (x, y) in metres for --reward-source sim when the bag has no sim/goal_pose."""
    max_sensor_age: float = 0.1
    """Seconds: a tick whose latest image, joint state, IMU sample (or ground-truth pose) is older is
    dropped and the episode split there."""
    command_timeout: float = 0.5
    """Seconds: a velocity command older than this is no longer in effect (the robot's watchdog stops it): action 0."""
    min_episode_steps: int = 2
    """Pieces of episodes shorter than this (after dropping stale ticks) are left out."""
    camera_rate: float | None = None
    """Nominal camera rate (Hz), for counting dropped frames and gaps in the report; default: each
    bag's own rate (its median camera period)."""
    topic: Annotated[tuple[str, ...], tyro.conf.UseAppendAction] = ()
    """ROLE=NAME (repeatable): read ROLE from topic NAME exactly as the bag spells it (the namespace
    does not apply). Roles: camera (sensor_msgs/Image or CompressedImage), camera_info, joint_states,
    imu, cmd_vel, joint_commands, events."""
    sim_robot_weight: float = 0.5
    """Weight of the robot-to-cube distance term of the sim reward."""
    sim_contact_radius: float = 0.35
    """Robot-to-cube distance (m, base origin to cube centre) below which the robot counts as touching the cube."""
    cmd_low: tuple[float, float, float] = (-1.0, -0.6, -1.5)
    """Lower bounds of (vx, vy, yaw rate) recorded in meta.action (for normalisation; values are not clipped)."""
    cmd_high: tuple[float, float, float] = (1.0, 0.6, 1.5)
    """Upper bounds of (vx, vy, yaw rate) recorded in meta.action."""
    overwrite: bool = False
    """Replace an existing store (and report) at --out: only a store `fog dataset` wrote, and never a
    path that holds an input bag."""
    report: bool = True
    """Write the quality report (markdown + PNG plots) to <out>.report/."""


# ---------------------------------------------------------------- many bags -> one store


@dataclass
class ConversionSummary:
    converted: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    episodes: int = 0
    steps: int = 0
    seconds: float = 0.0
    report: Path | None = None


def check_options(cfg: BagToDatasetConfig) -> None:
    """ValueError naming a refused option (before any work)."""
    if cfg.rate <= 0 or cfg.image_size < 8 or not cfg.bags:
        raise ValueError("need --rate > 0, --image-size >= 8 and at least one bag")
    if cfg.camera_rate is not None and cfg.camera_rate <= 0:
        raise ValueError(f"--camera-rate must be positive, got {cfg.camera_rate}")
    parse_topic_map(cfg.topic)


def convert(cfg: BagToDatasetConfig, argv: list[str] | None = None, progress: bool = True) -> ConversionSummary:
    """Convert ``cfg.bags`` into ``cfg.out``: good bags are written, bad ones listed.

    Raises (before any work) ValueError for a refused option, FileExistsError / OutputError for an
    --out it must not write; nothing is written or deleted then."""
    from tqdm import tqdm

    from fog_training.data.quality_report import write_report

    t0 = time.perf_counter()
    check_options(cfg)
    summary = ConversionSummary()
    bags, summary.notes = expand_inputs([Path(b) for b in cfg.bags])
    if not bags:
        raise ValueError(f"no bag to convert in {', '.join(str(b) for b in cfg.bags)}")
    report_dir = check_output(cfg.out, cfg.overwrite, bags)
    store = _StoreWriter(cfg, argv or [])
    bar = tqdm(total=len(bags), desc="fog dataset", unit="bag", disable=not progress)
    typestore = new_typestore()
    try:
        for bag in bags:
            bar.set_postfix_str(f"{Path(bag).name}: timing")
            try:
                res = convert_bag(Path(bag), cfg, bag_index=len(store.sources), typestore=typestore, progress=bar)
                if not res.episodes:
                    raise BagError(
                        bag, "no episode with at least --min-episode-steps valid ticks (stale or missing sensor data?)"
                    )
            except Exception as e:
                msg = str(e) if isinstance(e, BagError) else f"bag {bag}: {type(e).__name__}: {e}"
                summary.failed.append((str(bag), msg))
            else:
                store.add(Path(bag), res, summary)
            bar.update(1)
        store.close()
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - t0
    if cfg.report and summary.converted:  # nothing written: no report folder either (stderr says why)
        if report_dir.exists():  # check_output made sure it is a report this tool wrote
            shutil.rmtree(report_dir)
        summary.report = write_report(report_dir, cfg, store.results, summary)
    return summary


class _StoreWriter:
    """The store, created with the first bag that converts (an earlier store at --out is replaced
    then, never before: a run where every bag fails leaves it as it was)."""

    def __init__(self, cfg: BagToDatasetConfig, argv: list[str]) -> None:
        self.cfg, self.argv = cfg, argv
        self.writer = None
        self.results: list[BagResult] = []
        self.sources: list[dict[str, Any]] = []

    def add(self, bag: Path, res: BagResult, summary: ConversionSummary) -> None:
        from fog_training.data.episode_writer import EpisodeWriter

        cfg = self.cfg
        if self.writer is None:
            if cfg.out.exists():  # check_output made sure it is a store this tool wrote
                shutil.rmtree(cfg.out)
            self.writer = EpisodeWriter(
                cfg.out,
                {"created_by": f"{STORE_MARKER} " + shlex.join(self.argv)},
                image_shape=(cfg.image_size, cfg.image_size),
                action_dim=3 if cfg.action == "cmd_vel" else 12,
                proprio_dim=len(PROPRIO_NAMES),
            )
        for ep in res.episodes:
            self.writer.add_episode(
                image=ep["image"], action=ep["action"], proprio=ep["proprio"], reward=ep["reward"],
                is_terminal=ep["is_terminal"], extra=ep["extra"],
            )
            summary.steps += len(ep["reward"])
        summary.episodes += len(res.episodes)
        files = bag_files(bag)
        self.sources.append({"path": str(bag), "sha256": file_sha256(files), "files": [p.name for p in files],
                             "namespace": res.namespace, "problems": res.problems})
        summary.converted.append(str(bag))
        res.warnings = bag_warnings(res)
        summary.warnings += [(str(bag), w) for w in res.warnings]
        res.episodes = []  # written: free the images
        self.results.append(res)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.meta.update(build_meta(self.cfg, self.results, self.sources, self.argv))
            self.writer.close()


# ---------------------------------------------------------------- the store's meta


def reward_formula(cfg: BagToDatasetConfig) -> str:
    """meta.reward_source: the configured reward's formula, from its task's settings."""
    goal, cube = GoalTask(), PushCubeTask(robot_weight=cfg.sim_robot_weight, contact_radius=cfg.sim_contact_radius)
    phi = (f"phi = -|cube_xy - goal_xy| - {cube.robot_weight} * max(|base_xy - cube_xy| - {cube.contact_radius}, 0) "
           "(metres) on the ground-truth poses (sim/cube_pose, sim/base_pose)")
    goal_from = f"goal from sim/goal_pose (latest at or before the tick) or --goal {cfg.goal}"
    formulas = {
        "sim": f"sim: reward[t] = phi(t + 1/rate) with {phi}; {goal_from} (quadruped_bridge.tasks.PushCubeTask)",
        "sim-progress": f"sim-progress: reward[t] = rate * (phi(t + 1/rate) - phi(t)), rate {cfg.rate:g} Hz, with "
        f"{phi}; {goal_from}. An episode's return telescopes to rate * (phi(end) - phi(start)) "
        "(quadruped_bridge.tasks.PushCubeTask)",
        "goal-progress": "goal-progress: reward[t] = rate * (d(t) - d(t + 1/rate)) "
        f"+ {goal.success_bonus:g} if the step ends within {goal.success_radius:g} m of the marker (having started "
        f"outside), rate {cfg.rate:g} Hz, d = planar "
        "distance (m) from sim/base_pose to sim/goal_pose (the goal task, quadruped_bridge.tasks.GoalTask)",
        "events": "events: reward[t] = +1 on the last step of an episode ended by 'success', -1 by 'fail', else 0",
        "proprio": f"proprio: reward[t] = {UPRIGHT_FORMULA} on the proprio features of "
        "step t+1 (the last step: its own; fog_contract.proprio.upright_reward)",
    }
    return formulas[cfg.reward_source]


def action_meta(cfg: BagToDatasetConfig) -> dict[str, Any]:
    if cfg.action == "cmd_vel":
        return {
            "names": list(CMD_NAMES),
            "low": list(cfg.cmd_low),
            "high": list(cfg.cmd_high),
            "source": "cmd_vel (geometry_msgs/Twist linear.x, linear.y, angular.z): the latest command received at or "
            f"before the tick; 0 when none or older than {cfg.command_timeout} s",
        }
    return {
        "names": list(JOINT_NAMES),
        "low": [float(v) for v in JOINT_LOWER],
        "high": [float(v) for v in JOINT_UPPER],
        "source": "joint_commands position targets (by name, Unitree order): the latest at or before the tick",
    }


STORE_DOCS = {
    "image_preprocess": "camera frame (rgb8/bgr8/rgba8/bgra8/mono8 or jpeg/png -> RGB) -> cv2.resize to (size, size), "
    "INTER_AREA, no crop",
    "proprio": "joint_pos/joint_vel: latest joint_states at or before the tick, by name in Unitree order "
    "(velocity by finite difference when the message has none); gravity: unit gravity vector in the IMU "
    "frame from imu/data orientation (from the accelerometer when there is none); "
    "gyro: imu/data angular velocity (rad/s)",
    "extra": {
        "time": "tick time (s) on the bags' header-stamp clock",
        "image_age": "tick time minus the stamp of the frame used (s)",
        "success": "the transition ended the episode with a 'success' event (aligned with reward)",
        "bag": "index into meta.source_bags",
        "state": "sim only: [base_x, base_y, base_yaw, cube_x, cube_y, cube_yaw, goal_x, goal_y] at the tick "
        "(goal-progress: [base_x, base_y, base_yaw, goal_x, goal_y])",
    },
}


def build_meta(
    cfg: BagToDatasetConfig, results: list[BagResult], sources: list[dict], argv: list[str]
) -> dict[str, Any]:
    """The store's meta (docs/DATASET.md): where it came from, how each array was made."""
    sim = any(CLOCK in r.streams or CUBE in r.streams for r in results)
    rates = {}
    for rel in (IMAGE, JOINTS, IMU, CMD, JCMD, CUBE, BASE):
        per_bag = [r.quality["topics"][rel]["rate_hz"] for r in results
                   if "rate_hz" in r.quality.get("topics", {}).get(rel, {})]
        if per_bag:
            rates[rel] = float(np.median(per_bag))
    return {
        "source": "go2-sim" if sim else "go2",
        "policy_rate_hz": cfg.rate,
        "rates_hz": rates,
        "image": {"height": cfg.image_size, "width": cfg.image_size, "preprocess": STORE_DOCS["image_preprocess"]},
        "action": action_meta(cfg),
        "proprio": {"names": list(PROPRIO_NAMES), "description": STORE_DOCS["proprio"]},
        "joint_names": list(JOINT_NAMES),
        "camera_info": next((r.camera_info for r in results if r.camera_info), None),
        "reward_source": reward_formula(cfg),
        "source_bags": sources,
        "extra": dict(STORE_DOCS["extra"]),
        "created_by": "fog dataset " + shlex.join(argv),
        "config": {
            k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if k == "bags" else v)
            for k, v in dataclasses.asdict(cfg).items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    cfg = tyro.cli(BagToDatasetConfig, args=argv, prog="fog dataset", description=__doc__)
    try:
        summary = convert(cfg, argv)
    except (FileExistsError, ValueError) as e:  # refused options and --out (OutputError): nothing done
        print(f"fog dataset: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. the disk filled up while writing
        print(f"fog dataset: error: writing {cfg.out} failed: {e}", file=sys.stderr)
        return 2
    for note in summary.notes:
        print(f"fog dataset: {note}", file=sys.stderr)
    for bag, warning in summary.warnings:
        print(f"fog dataset: warning: bag {bag}: {warning}", file=sys.stderr)
    for _bag, err in summary.failed:
        print(f"fog dataset: FAILED {err}", file=sys.stderr)
    if not summary.converted:
        print(f"fog dataset: no bag converted; nothing written to {cfg.out}", file=sys.stderr)
        return 2
    print(
        f"wrote {cfg.out}: {summary.episodes} episodes, {summary.steps} steps from {len(summary.converted)} bag(s) "
        f"in {summary.seconds:.1f} s; {len(summary.failed)} failed, {len(summary.warnings)} warning(s)"
        + (f"; report {summary.report}/report.md" if summary.report else "")
    )
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
