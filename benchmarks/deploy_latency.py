"""Latency and missed deadlines of the deployed stack: simulator + locomotion + policy, closed loop.

Starts the simulator at real time (free-running: no lockstep, as on the robot), the locomotion
controller and the policy node (an artifact folder, by default the bundled push-cube policy, else
an untrained policy exported through the real export path), each its own process. `--layout split`
(default) puts the deployed nodes (policy + locomotion) on one core and the simulator, which
stands in for the robot's hardware, on the others; `--layout float` pins only the policy node.
After `--minutes` it reads the nodes' own timing reports from /diagnostics:
  - policy: image arrival -> cmd_vel published (p50, p99, max), compute per step, missed deadlines
    (a step more than half a period late, or computing for longer than a period);
  - locomotion: cmd_vel arrival -> first joint_commands carrying it, compute per tick, missed
    deadlines at 50 Hz.
Missed deadlines are judged on the nodes' clock (simulated time); "late in wall time" counts the
ticks that came more than half a period late by the wall clock (see fog_contract/loop_timing.py): when
only the first count is high, the simulator's clock advanced in bursts, not the node.

    python benchmarks/deploy_latency.py --minutes 10
    python benchmarks/deploy_latency.py --minutes 10 --realtime 80   # locomotion at SCHED_FIFO 80
    python benchmarks/deploy_latency.py --minutes 2 --artifact ros_ws/src/fog_policy/artifacts/pushcube
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_probe import RosProbe, private_domain_id

DIAGNOSTIC_NAMES = ("fog_policy: policy", "fog_policy: locomotion", "quadruped_bridge: go2_sim")
"""The /diagnostics statuses read: the policy node's, the locomotion node's and the simulator's."""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument(
        "--artifact",
        default=None,
        help="policy artifact (default: the bundled push-cube policy, else an untrained export)",
    )
    p.add_argument(
        "--layout",
        choices=("split", "float"),
        default="split",
        help="split: the deployed nodes (policy + locomotion) share core 0, the simulator (the robot's stand-in) "
        "and this probe get the other cores, as on a robot where the hardware is not on the controller's CPU; "
        "float: only the policy node is pinned to core 0, everything else floats",
    )
    p.add_argument(
        "--realtime",
        type=int,
        default=0,
        help="SCHED_FIFO priority for the locomotion node (its realtime_priority parameter; 0 = normal scheduling)",
    )
    return p.parse_args()


def resolve_artifact(artifact: str | None, tmp: Path) -> str:
    """`artifact`, or by default the bundled push-cube policy, else an untrained policy exported under `tmp`."""
    if artifact is None:
        from fog_policy.task_demo import bundled_artifact

        try:
            artifact = str(bundled_artifact())
        except FileNotFoundError:
            from fog_training.untrained_artifact import make_untrained_artifact

            artifact = str(tmp / "untrained")
            make_untrained_artifact(artifact, seed=0)
    return artifact


def node_commands(args: argparse.Namespace, artifact: str, cpus: list[int], split: bool) -> tuple[dict, str]:
    """The command lines of the sim, locomotion and policy nodes, pinned per the layout, and the layout's description.

    With `split`, this process moves off core 0 too (it shares the simulator's cores).
    """
    policy_cmd = node_command("fog_policy.policy_node", {"use_sim_time": True, "artifact": artifact})
    loco_cmd = node_command("fog_policy.locomotion_node", {"use_sim_time": True, "realtime_priority": args.realtime})
    sim_cmd = node_command("quadruped_bridge.sim_node", {"real_time_factor": 1.0, "lockstep_timeout": 0.0})
    if shutil.which("taskset"):
        policy_cmd = ["taskset", "-c", str(cpus[0]), *policy_cmd]
    if split:
        rest = ",".join(str(c) for c in cpus[1:])
        loco_cmd = ["taskset", "-c", str(cpus[0]), *loco_cmd]
        # the 50 Hz inner loop goes before the 5 Hz policy on their shared core (as a robot would
        # prioritise it): the policy runs at a lower scheduling priority (niceness +10)
        if shutil.which("nice"):
            policy_cmd = ["nice", "-n", "10", *policy_cmd]
        sim_cmd = ["taskset", "-c", rest, *sim_cmd]
        os.sched_setaffinity(0, set(cpus[1:]))
    layout = (
        f"policy (nice 10) + locomotion on core {cpus[0]}, simulator on {len(cpus) - 1} other core(s)"
        if split
        else f"policy on core {cpus[0]}, the rest floating over {len(cpus)} cores"
    )
    if args.realtime:
        layout += f", locomotion SCHED_FIFO {args.realtime}"
    return {"sim": sim_cmd, "locomotion": loco_cmd, "policy": policy_cmd}, layout


def diagnostics_probe() -> tuple[int, RosProbe, dict[str, dict[str, str]]]:
    """A probe on a private domain that keeps (in the returned dict) the last report of each of DIAGNOSTIC_NAMES."""
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    last = {}

    def on_diag(msg):
        for st in msg.status:
            if st.name in DIAGNOSTIC_NAMES:
                last[st.name] = {kv.key: kv.value for kv in st.values}

    probe.node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
    return domain, probe, last


def run_closed_loop(domain: int, probe: RosProbe, commands: dict, minutes: float, tmp: Path) -> None:
    """Run the nodes for `minutes` (+15 s of start-up) while `probe` listens; closes the probe."""
    try:
        with ProcessGroup(tmp / "logs", ros_env(domain)) as group:
            group.start("sim", commands["sim"])
            group.start("locomotion", commands["locomotion"])
            group.start("policy", commands["policy"])
            t_end = time.monotonic() + 60 * minutes + 15
            while time.monotonic() < t_end:
                probe.spin(1.0)
                group.check_alive()
            probe.spin(1.5)
    finally:
        probe.close()


def print_table(minutes: float, layout: str, pol: dict, loco: dict, sim: dict) -> None:
    """The markdown table of latencies, compute times and missed deadlines."""
    print(
        f"| closed loop, {minutes:g} min at real time (sim achieved x{sim.get('achieved_real_time_factor', '?')}; "
        f"{layout}) "
        "| p50 (ms) | p99 (ms) | max (ms) | ticks | missed deadlines | late in wall time |"
    )
    print("|---|---|---|---|---|---|---|")
    rows = [
        ("image arrival -> cmd_vel (policy, 5 Hz)", pol, "latency"),
        ("policy step compute", pol, "compute"),
        ("cmd_vel arrival -> joint_commands (locomotion, 50 Hz)", loco, "latency"),
        ("locomotion tick compute", loco, "compute"),
    ]
    for label, rep, key in rows:
        print(
            f"| {label} | {rep.get(key + '_ms_p50', '?')} | {rep.get(key + '_ms_p99', '?')} | "
            f"{rep.get(key + '_ms_max', '?')} | {rep.get('ticks', '?')} | {rep.get('missed_deadlines', '?')} | "
            f"{rep.get('late_wall', '?')} |"
        )


def main() -> int:
    args = parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    split = args.layout == "split" and len(cpus) >= 2 and shutil.which("taskset") is not None
    tmp = Path(tempfile.mkdtemp(prefix="deploy-bench-"))
    artifact = resolve_artifact(args.artifact, tmp)
    print(f"artifact: {artifact}", file=sys.stderr)
    # the probe starts before this process moves off core 0 (split layout), as it always has
    domain, probe, last = diagnostics_probe()
    commands, layout = node_commands(args, artifact, cpus, split)
    print(f"layout: {layout}", file=sys.stderr)
    run_closed_loop(domain, probe, commands, args.minutes, tmp)
    pol, loco, sim = (last.get(k, {}) for k in DIAGNOSTIC_NAMES)
    print(f"locomotion scheduling: {loco.get('scheduling', '?')}", file=sys.stderr)
    if args.realtime and loco.get("scheduling") != f"SCHED_FIFO {args.realtime}":
        got = loco.get("scheduling")
        print(f"error: asked for SCHED_FIFO {args.realtime}, the node reported {got!r}", file=sys.stderr)
        return 1
    print_table(args.minutes, layout, pol, loco, sim)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
