"""Task success of the bundled push-cube policy against random commands, closed loop in the simulator.

Runs `fog_policy.pushcube_demo.run_pushcube` twice on the same scene seeds (cube and goal layouts):
once with the policy (simulator, locomotion controller and policy node as separate processes),
once with uniformly random cmd_vel inside the policy's action bounds at its rate. Prints a markdown
table: success rate (cube centre within 0.15 m of the goal at any time), mean final cube-to-goal
distance, mean reduction of that distance, falls, command rate.

    python benchmarks/pushcube_success.py --episodes 10
    python benchmarks/pushcube_success.py --episodes 4 --policy ros_ws/src/fog_policy/artifacts/pushcube
"""

import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from fog_policy.pushcube_demo import run_pushcube
from quadruped_bridge.ros_probe import private_domain_id


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--episode-seconds", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=100, help="first scene seed (the demo uses 0..)")
    p.add_argument("--policy", default="bundled", help="'bundled' or an artifact folder")
    p.add_argument("--real-time-factor", type=float, default=2.0, help="simulator speed (lockstep with the controller)")
    p.add_argument("--out", default=None, help="folder for both runs' outputs (default: a temporary one)")
    a = p.parse_args()
    out = Path(a.out or tempfile.mkdtemp(prefix="pushcube-bench-"))
    rows = []
    for name, policy in (("policy", a.policy), ("random commands", "random")):
        r = run_pushcube(
            out / name.split()[0],
            policy=policy,
            episodes=a.episodes,
            episode_seconds=a.episode_seconds,
            seed=a.seed,
            real_time_factor=a.real_time_factor,
            video=False,
            domain_id=private_domain_id(),
            log=lambda s: print(s, file=sys.stderr),
        )
        rows.append((name, r))
        (out / f"{name.split()[0]}.json").write_text(json.dumps(asdict(r), indent=2))
    seeds = f"{a.seed}..{a.seed + a.episodes - 1}"
    print(f"Push-cube, {a.episodes} episodes of {a.episode_seconds:g} s (scene seeds {seeds}),")
    print(f"policy: {rows[0][1].policy}\n")
    print("| commands from | success rate | mean final distance (m) | mean reduction (m) | falls | cmd rate (Hz) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        print(
            f"| {name} | {r.success_rate:.2f} ({sum(e['success'] for e in r.episodes)}/{len(r.episodes)}) | "
            f"{r.mean_final_distance_m:.3f} | {r.mean_distance_reduction_m:+.3f} | {r.falls} | "
            f"{r.command_rate_hz:.2f} |"
        )
    if rows[0][1].policy_stops:
        print(f"\npolicy node stops: {'; '.join(rows[0][1].policy_stops)}")
    print(f"\noutputs: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
