"""Closed-loop success of a Go2 task's policy against its references, over ROS in separate processes.

For each row, `fog_policy.task_demo.run_task` starts the simulator (the task's scene), the
locomotion controller and, for a policy row, the policy node as separate ROS 2 processes on a
private DDS domain, and runs the same scenes (seeds `--seed + 1` ... `--seed + episodes`). Rows:

  policy      the artifact (default: the task's bundled one)
  ppo-wm      --ppo ARTIFACT: PPO trained in the same world models (when given)
  random      uniformly random cmd_vel inside the artifact's action bounds, at its rate
  still       zero commands (standing still)
  scripted    the task's ground-truth controller (quadruped_bridge.tasks): the ceiling
  dream       the policy row's artifact inside its world model (fog_policy.dream_task: the dream
              backend and the policy node, lockstep): success as the world model predicts it (its
              termination head; in the goal dataset every terminal step is an arrival), from the
              world model's start windows (recorded episode starts), not the simulator's scenes

Prints a markdown table: success rate with its 95 % Wilson interval, mean time to success, mean
final and minimum distance, falls, command rate; writes each row's outputs and a results.json.

    python benchmarks/task_success.py --task goal --episodes 20
    python benchmarks/task_success.py --task goal --episodes 20 --policy runs/goal/artifact --ppo runs/goal_ppo/artifact
    python benchmarks/task_success.py --task pushcube --episodes 10 --rows policy random
    python benchmarks/task_success.py --task goal --episodes 20 --rows policy dream    (how far the model flatters)
"""

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from fog_policy.dream_task import run_dream_task
from fog_policy.task_demo import bundled_artifact, run_task
from fog_policy.task_rollout import wilson_interval
from quadruped_bridge.ros_probe import private_domain_id

ROWS = ("policy", "ppo-wm", "random", "still", "scripted", "dream")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="goal", choices=("goal", "pushcube"))
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--episode-seconds", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=100, help="scenes --seed + 1 ... --seed + episodes (the demo: 1..)")
    p.add_argument("--policy", default="bundled", help="'bundled' or an artifact folder")
    p.add_argument("--ppo", default=None, help="artifact of PPO trained in the same world models (row ppo-wm)")
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=ROWS, help="rows to run (default: all)")
    p.add_argument("--real-time-factor", type=float, default=3.0, help="simulator speed (lockstep with the controller)")
    p.add_argument("--out", default=None, help="folder for the rows' outputs (default: a temporary one)")
    p.add_argument(
        "--world-model", default=None, help="row dream: the world model (default: the policy's world_model/ folder)"
    )
    return p.parse_args()


def run_dream_row(a: argparse.Namespace, out: Path):
    """Row dream: the policy inside its world model; None (skipped) when there is no world model."""
    policy = bundled_artifact(a.task) if a.policy == "bundled" else Path(a.policy)
    world_model = a.world_model or str(policy / "world_model")
    if not Path(world_model).is_dir():
        print(f"[bench] row dream: skipped (no world model: {world_model})", file=sys.stderr)
        return None
    return run_dream_task(
        out / "dream",
        policy=str(policy),
        world_model=world_model,
        episodes=a.episodes,
        episode_seconds=a.episode_seconds,
        seed=a.seed,
        domain_id=private_domain_id(),
        log=lambda s: print(s, file=sys.stderr),
    )


def print_row(row: str, r: dict) -> None:
    """One row of the markdown table (the dream row: the world model's verdict, without distances and falls)."""
    eps = r["episodes"]
    if row == "dream":
        k, n = sum(e["terminated"] for e in eps), len(eps)
        lo, hi = wilson_interval(k, n)
        print(
            f"| dream (world model's verdict) | {k}/{n} ({k / max(n, 1):.0%}) | {lo:.2f}-{hi:.2f} | "
            f"{r['mean_time_to_success_s']:.1f} | - | - | - | {r['command_rate_hz']:.2f} |"
        )
        return
    k, n = sum(e["success"] for e in eps), len(eps)
    lo, hi = wilson_interval(k, n)
    times = [e["time_to_success_s"] for e in eps if e["success"]]
    mins = [e["min_distance_m"] for e in eps if e["min_distance_m"] is not None]
    print(
        f"| {row} | {k}/{n} ({k / max(n, 1):.0%}) | {lo:.2f}-{hi:.2f} | "
        f"{(sum(times) / len(times)) if times else float('nan'):.1f} | {r['mean_final_distance_m']:.2f} | "
        f"{(sum(mins) / len(mins)) if mins else float('nan'):.2f} | {r['falls']} | {r['command_rate_hz']:.2f} |"
    )


def print_report(a: argparse.Namespace, results: dict, dream, out: Path) -> None:
    """The markdown table of all rows, then notes on the dream row, policy stops and where the outputs are."""
    seeds = f"{a.seed + 1}..{a.seed + a.episodes}"
    print(f"{a.task}, {a.episodes} episodes of at most {a.episode_seconds:g} s (scene seeds {seeds})")
    if "policy" in results:
        print(f"policy: {results['policy']['policy']}")
    print()
    print(
        "| commands from | success | 95 % interval | mean time to success (s) | mean final distance (m) "
        "| mean min distance (m) | falls | cmd rate (Hz) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row, r in results.items():
        print_row(row, r)
    if dream is not None:
        starts = sorted({e["dataset_episode"] for e in dream.episodes})
        print(
            f"\ndream: {dream.world_model}; episodes start from recorded episode starts (dataset episodes "
            f"{starts}), sampler seeds {a.seed}..{a.seed + a.episodes - 1}; mean imagined return "
            f"{dream.mean_return:.2f}; {dream.lockstep_timeouts} lockstep timeouts, {dream.clipped_commands} "
            "clipped commands; distances and falls are not imagined (-)"
        )
    for row, r in results.items():
        if r["policy_stops"]:
            print(f"\n{row}: policy node stops: {'; '.join(r['policy_stops'])}")
    print(f"\noutputs: {out}")


def main() -> int:
    a = parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix=f"{a.task}-bench-"))
    sources = {"policy": a.policy, "ppo-wm": a.ppo, "random": "random", "still": "still", "scripted": "scripted",
               "dream": a.policy}
    results = {}
    dream = None
    for row in a.rows:
        if sources[row] is None:
            print(f"[bench] row {row}: skipped (no --ppo artifact given)", file=sys.stderr)
            continue
        if row == "dream":
            row_dream = run_dream_row(a, out)
            if row_dream is None:
                continue
            dream = row_dream
            results[row] = asdict(dream)
            (out / "results.json").write_text(json.dumps(results, indent=2))
            continue
        r = run_task(
            out / row,
            task=a.task,
            policy=sources[row],
            episodes=a.episodes,
            episode_seconds=a.episode_seconds,
            seed=a.seed,
            real_time_factor=a.real_time_factor,
            video=False,
            domain_id=private_domain_id(),
            log=lambda s: print(s, file=sys.stderr),
        )
        results[row] = asdict(r)
        (out / "results.json").write_text(json.dumps(results, indent=2))
    print_report(a, results, dream, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
