"""Closed-loop success of a Go2 task's policy against its references, over ROS in separate processes.

For each row, `fog_policy.task_demo.run_task` starts the simulator (the task's scene), the
locomotion controller and, for a policy row, the policy node as separate ROS 2 processes on a
private DDS domain, and runs the same scenes (seeds `--seed + 1` ... `--seed + episodes`). Rows:

  policy      the artifact (default: the task's bundled one)
  ppo-wm      --ppo ARTIFACT: PPO trained in the same world models (when given)
  random      uniformly random cmd_vel inside the artifact's action bounds, at its rate
  still       zero commands (standing still)
  scripted    the task's ground-truth controller (quadruped_bridge.tasks): the ceiling

Prints a markdown table: success rate with its 95 % Wilson interval, mean time to success, mean
final and minimum distance, falls, command rate; writes each row's outputs and a results.json.

    python benchmarks/task_success.py --task goal --episodes 20
    python benchmarks/task_success.py --task goal --episodes 20 --policy runs/goal/artifact --ppo runs/goal_ppo/artifact
    python benchmarks/task_success.py --task pushcube --episodes 10 --rows policy random
"""

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from fog_policy.task_demo import run_task
from fog_policy.task_rollout import wilson_interval
from quadruped_bridge.ros_probe import private_domain_id

ROWS = ("policy", "ppo-wm", "random", "still", "scripted")


def main() -> int:
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
    a = p.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix=f"{a.task}-bench-"))
    sources = {"policy": a.policy, "ppo-wm": a.ppo, "random": "random", "still": "still", "scripted": "scripted"}
    results = {}
    for row in a.rows:
        if sources[row] is None:
            print(f"[bench] row {row}: skipped (no --ppo artifact given)", file=sys.stderr)
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
        eps = r["episodes"]
        k, n = sum(e["success"] for e in eps), len(eps)
        lo, hi = wilson_interval(k, n)
        times = [e["time_to_success_s"] for e in eps if e["success"]]
        mins = [e["min_distance_m"] for e in eps if e["min_distance_m"] is not None]
        print(
            f"| {row} | {k}/{n} ({k / max(n, 1):.0%}) | {lo:.2f}-{hi:.2f} | "
            f"{(sum(times) / len(times)) if times else float('nan'):.1f} | {r['mean_final_distance_m']:.2f} | "
            f"{(sum(mins) / len(mins)) if mins else float('nan'):.2f} | {r['falls']} | {r['command_rate_hz']:.2f} |"
        )
    for row, r in results.items():
        if r["policy_stops"]:
            print(f"\n{row}: policy node stops: {'; '.join(r['policy_stops'])}")
    print(f"\noutputs: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
