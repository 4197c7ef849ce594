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


def main() -> int:
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
    args = p.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    split = args.layout == "split" and len(cpus) >= 2 and shutil.which("taskset") is not None
    tmp = Path(tempfile.mkdtemp(prefix="deploy-bench-"))
    artifact = args.artifact
    if artifact is None:
        from fog_policy.task_demo import bundled_artifact

        try:
            artifact = str(bundled_artifact())
        except FileNotFoundError:
            from fog_training.untrained_artifact import make_untrained_artifact

            artifact = str(tmp / "untrained")
            make_untrained_artifact(artifact, seed=0)
    print(f"artifact: {artifact}", file=sys.stderr)
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    last = {}

    def on_diag(msg):
        for st in msg.status:
            if st.name in ("fog_policy: policy", "fog_policy: locomotion", "quadruped_bridge: go2_sim"):
                last[st.name] = {kv.key: kv.value for kv in st.values}

    probe.node.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 50)
    policy_cmd = node_command("fog_policy.policy_node", {"use_sim_time": True, "artifact": artifact})
    loco_cmd = node_command(
        "fog_policy.locomotion_node", {"use_sim_time": True, "realtime_priority": args.realtime}
    )
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
    print(f"layout: {layout}", file=sys.stderr)
    try:
        with ProcessGroup(tmp / "logs", ros_env(domain)) as group:
            group.start("sim", sim_cmd)
            group.start("locomotion", loco_cmd)
            group.start("policy", policy_cmd)
            t_end = time.monotonic() + 60 * args.minutes + 15
            while time.monotonic() < t_end:
                probe.spin(1.0)
                group.check_alive()
            probe.spin(1.5)
    finally:
        probe.close()
    pol, loco, sim = (
        last.get(k, {}) for k in ("fog_policy: policy", "fog_policy: locomotion", "quadruped_bridge: go2_sim")
    )
    print(f"locomotion scheduling: {loco.get('scheduling', '?')}", file=sys.stderr)
    if args.realtime and loco.get("scheduling") != f"SCHED_FIFO {args.realtime}":
        got = loco.get("scheduling")
        print(f"error: asked for SCHED_FIFO {args.realtime}, the node reported {got!r}", file=sys.stderr)
        return 1
    print(
        f"| closed loop, {args.minutes:g} min at real time (sim achieved x{sim.get('achieved_real_time_factor', '?')}; "
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
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
