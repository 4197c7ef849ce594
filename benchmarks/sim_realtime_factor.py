"""How fast the simulator node runs, with and without the ego camera (x real time).

Runs `quadruped_bridge.sim_node` as its own process at `real_time_factor:=0` (as fast as the CPU
allows) for a fixed simulated duration, standing under the safety layer, publishing every topic
(joint_states and imu at 250 Hz, /clock, ground truth, diagnostics) and, when on, the ego camera
at 30 Hz; reads the node's own "real-time factor" log line. Ratios between rows come from one run.

    python benchmarks/sim_realtime_factor.py --seconds 20
"""

import argparse
import re
import subprocess
import sys

from quadruped_bridge.process_launch import node_command, ros_env
from quadruped_bridge.ros_probe import private_domain_id

CASES = [
    ("camera off", {"camera_enabled": False}),
    ("camera 64x64 @ 30 Hz", {"camera_width": 64, "camera_height": 64}),
    ("camera 128x128 @ 30 Hz", {"camera_width": 128, "camera_height": 128}),
]


def run_case(params: dict, seconds: float) -> float:
    cmd = node_command("quadruped_bridge.sim_node", {"real_time_factor": 0.0, "duration": seconds, **params})
    out = subprocess.run(cmd, env=ros_env(private_domain_id()), capture_output=True, text=True, timeout=600)
    m = re.search(r"real-time factor ([0-9.]+)", out.stdout + out.stderr)
    if not m:
        raise RuntimeError(f"no real-time factor in the node's output:\n{out.stdout}\n{out.stderr}")
    return float(m.group(1))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per case")
    args = p.parse_args()
    rows = [(name, run_case(params, args.seconds)) for name, params in CASES]
    base = rows[0][1]
    print(f"| sim node set-up ({args.seconds:.0f} s simulated) | x real time | vs camera off |")
    print("|---|---|---|")
    for name, rtf in rows:
        print(f"| {name} | {rtf:.2f} | {rtf / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
