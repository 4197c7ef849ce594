"""LowCmd_ rate and jitter of the Go2 bridge against the fake Go2 (CycloneDDS on loopback).

Starts `quadruped_bridge.fake_go2` (500 Hz LowState_, MuJoCo or independent-joint model) and
`quadruped_bridge.go2_bridge_node` (motor loop at `--rate`) as separate processes on a private
DDS domain bound to `lo`, lets the soft start finish, then measures for `--seconds` from the fake's
record of every LowCmd_ received:
- send side: the DDS source timestamp of each LowCmd_ (when the bridge wrote it) -> the motor
  loop's achieved rate and the p50/p99/max of the interval between commands;
- receive side: when the fake took it (its own 500 Hz loop batches them, so this interval is
  quantised by that loop) -> the end-to-end rate;
- every CRC checked by the fake.

    python benchmarks/go2_lowcmd_rate.py --seconds 10
    python benchmarks/go2_lowcmd_rate.py --seconds 10 --model mujoco --json runs/go2_lowcmd_rate.json
    python benchmarks/go2_lowcmd_rate.py --micro-only        # per-tick cost of packing + CRC, no DDS
    python benchmarks/go2_lowcmd_rate.py --seconds 60 --command-hz 200 --load 2 --max-stall-credit 0

Watchdog margin (`--command-hz N`): a separate process publishes joint_commands (the stand pose) at
N Hz through the window, so the bridge is ACTIVE with its robot-default 30 ms watchdog; the figures
add how many times the watchdog tripped (each trip costs a soft start) and how often the motor
loop itself stalled. `--load K` keeps K busy-looping processes (nice 0) running during the run,
`--max-stall-credit 0` turns off the stall credit (SafetyConfig.loop_period) for a before/after.

Before the DDS run, a micro-benchmark times one motor tick's message work in this process, before
(fill_lowcmd + the SDK's CRC, as the bridge did) and after (LowCmdPacker: fields from lists, CRC
from precomputed tables), and the LowState_ CRC check (SDK vs tables).
"""

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from fog_contract.loop_timing import interval_stats
from quadruped_bridge.fake_go2 import RECORD_HEADER, read_record
from quadruped_bridge.go2_dds import cyclonedds_uri
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env, wait_for
from quadruped_bridge.ros_probe import private_domain_id


def micro(repeats: int = 2000) -> dict:
    """Median microseconds per call of the tick's message work, old path vs new."""
    from quadruped_bridge.go2_lowlevel import (
        LowCmdPacker,
        crc_valid,
        fill_lowcmd,
        fill_lowstate,
        lowstate_crc_valid,
        new_lowcmd,
        new_lowstate,
        stamp_crc,
    )
    from quadruped_bridge.motor_command import MotorCommand

    rng = np.random.default_rng(0)
    motors = [MotorCommand(q=rng.uniform(-1, 1, 12), dq=rng.uniform(-1, 1, 12), tau=rng.uniform(-1, 1, 12),
                           kp=np.full(12, 50.0), kd=np.full(12, 2.0)) for _ in range(16)]
    cmd, packer = new_lowcmd(), LowCmdPacker()
    st = stamp_crc(fill_lowstate(new_lowstate(), np.zeros(12), np.zeros(12), np.zeros(12), (1, 0, 0, 0), (0, 0, 0),
                                 (0, 0, 9.8), tick=1))

    def timed(fn):
        out = []
        for i in range(repeats):
            t = time.perf_counter()
            fn(i)
            out.append(time.perf_counter() - t)
        return float(np.median(out) * 1e6), float(np.percentile(out, 99) * 1e6)

    res = {}
    res["lowcmd_before_us"] = timed(lambda i: stamp_crc(fill_lowcmd(cmd, motors[i % 16])))
    res["lowcmd_after_us"] = timed(lambda i: packer.pack(motors[i % 16]))
    res["lowstate_crc_sdk_us"] = timed(lambda i: crc_valid(st))
    res["lowstate_crc_tables_us"] = timed(lambda i: lowstate_crc_valid(st))
    print("| per-call cost (this process, no DDS) | p50 us | p99 us |")
    print("|---|---|---|")
    for k, (p50, p99) in res.items():
        print(f"| {k} | {p50:.1f} | {p99:.1f} |")
    return {k: {"p50_us": v[0], "p99_us": v[1]} for k, v in res.items()}


def bridge_counters(diags) -> dict[str, int]:
    """The safety counters of the bridge's newest /diagnostics that carries them."""
    for msg in reversed(diags):
        for st in msg.status:
            values = {kv.key: kv.value for kv in st.values}
            if "watchdog_trips" in values:
                return {k: int(values[k]) for k in ("watchdog_trips", "loop_stalls", "accepted") if k in values}
    return {}


def publish_commands(rate_hz: float) -> int:
    """The commander process: the stand pose on joint_commands at `rate_hz` until killed."""
    import rclpy
    from fog_contract.go2 import JOINT_NAMES, STAND_POSE
    from quadruped_bridge.ros_messages import joint_state_msg
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    rclpy.init()
    node = rclpy.create_node("commander")
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(JointState, "joint_commands", qos)
    period, next_t = 1.0 / rate_hz, time.monotonic()
    while rclpy.ok():
        pub.publish(joint_state_msg(time.time(), JOINT_NAMES, STAND_POSE))
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))
    return 0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="measured window (wall s)")
    p.add_argument("--rate", type=float, default=500.0, help="bridge motor_rate_hz")
    p.add_argument("--model", choices=("joints", "mujoco"), default="joints", help="the fake Go2's model")
    p.add_argument("--json", default="", help="also write the figures here")
    p.add_argument("--micro-only", action="store_true", help="only the in-process per-tick cost")
    p.add_argument("--command-hz", type=float, default=0.0, help="publish joint_commands at this rate (0 = none)")
    p.add_argument("--command-timeout", type=float, default=0.03, help="the bridge's watchdog (s)")
    p.add_argument("--max-stall-credit", type=float, default=0.25, help="the bridge's stall credit (s, 0 = off)")
    p.add_argument("--load", type=int, default=0, help="busy-looping processes during the run")
    return p.parse_args()


def start_processes(group: ProcessGroup, args: argparse.Namespace, dds_domain: int, record: Path, stats: Path):
    """Start the fake Go2, the bridge, the `--load` busy loops and (with `--command-hz`) the commander.

    Returns the commander's process (None without one)."""
    group.start("fake_go2", [sys.executable, "-m", "quadruped_bridge.fake_go2", "--domain", str(dds_domain),
                             "--model", args.model, "--record", str(record), "--stats", str(stats)])
    group.start("bridge", node_command("quadruped_bridge.go2_bridge_node", {
        "network_interface": "lo", "dds_domain_id": dds_domain, "motor_rate_hz": args.rate,
        "safety.soft_start_duration": 1.0, "check_sport_mode": False,
        "safety.command_timeout": args.command_timeout, "safety.max_stall_credit": args.max_stall_credit}))
    for i in range(args.load):
        group.start(f"load{i}", [sys.executable, "-c", "while True: pass"])
    commander = None
    if args.command_hz > 0:
        commander = group.start("commander", [sys.executable, __file__, "--publish-commands", str(args.command_hz)])
    return commander


@dataclass
class Window:
    """The measured window: its wall-clock bounds, the bridge's safety counters at each end, the fake's stats."""

    t0: float
    t1: float
    base: dict[str, int]
    end: dict[str, int]
    fake_stats: dict


def watch_diagnostics(ros_domain: int, tmp: Path):
    """A probe on /diagnostics, once the bridge accepts the commander's joint_commands: (probe, the messages)."""
    from diagnostic_msgs.msg import DiagnosticArray
    from quadruped_bridge.ros_probe import RosProbe, diagnostics_text

    probe = RosProbe(ros_domain, use_sim_time=False, name="lowcmd_bench")
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    taken = lambda: any("accepting joint commands" in diagnostics_text([d]) for d in diags)  # noqa: E731
    if not probe.spin_until(taken, 60):
        raise RuntimeError(f"the bridge never took the commander's joint_commands; logs in {tmp}")
    return probe, diags


def measure(group: ProcessGroup, args: argparse.Namespace, ros_domain: int, record: Path, stats: Path,
            tmp: Path) -> Window:
    """Wait for the warm-up, then measure for `--seconds` (with the bridge's counters when commanded)."""
    # warm-up: commands flowing and the soft start over (stand pose held with kp > 0)
    started = wait_for(lambda: len(read_record(record)) > 0, 60)
    group.check_alive()
    if not started:
        raise RuntimeError(f"no LowCmd_ reached the fake Go2; logs in {tmp}")
    diags = []
    probe = None
    if args.command_hz > 0:
        probe, diags = watch_diagnostics(ros_domain, tmp)
    time.sleep(2.0)
    base = bridge_counters(diags) if probe else {}
    t0 = time.monotonic()
    if probe:
        probe.spin_until(lambda: False, args.seconds)
    else:
        time.sleep(args.seconds)
    t1 = time.monotonic()
    if probe:  # the next heartbeat carries the counters at the window's end
        n = len(diags)
        probe.spin_until(lambda: len(diags) > n + 1, 5)
    end = bridge_counters(diags) if probe else {}
    group.check_alive()
    fake_stats = json.loads(stats.read_text())
    if probe:
        probe.close()
    return Window(t0, t1, base, end, fake_stats)


def summarise(args: argparse.Namespace, rows: np.ndarray, w: Window, micro_result: dict) -> dict:
    """The figures of the window from the fake's record `rows` (what --json writes)."""
    window = rows[(rows[:, 0] >= w.t0) & (rows[:, 0] <= w.t1)]
    sent = interval_stats(np.sort(window[:, 1]), 1.0 / args.rate)
    received = interval_stats(window[:, 0], 1.0 / args.rate)
    result = {
        "configured_hz": args.rate, "seconds": args.seconds, "model": args.model, "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "lowcmd_in_window": int(len(window)),
        "send_rate_hz": sent["rate_hz"], "send_interval_p50_ms": sent["p50_ms"],
        "send_interval_p99_ms": sent["p99_ms"], "send_interval_max_ms": sent["max_ms"],
        "send_late_fraction": sent["late_fraction"],
        "receive_rate_hz": received["rate_hz"], "receive_interval_p99_ms": received["p99_ms"],
        "bad_crc_total": w.fake_stats["bad_crc"], "lowcmd_total": w.fake_stats["lowcmd_received"],
        "all_crc_valid_in_record": bool(np.all(rows[:, RECORD_HEADER.index("crc_ok")] == 1.0)),
        "micro": micro_result,
        "load_processes": args.load,
        "command_hz": args.command_hz,
        "command_timeout_s": args.command_timeout,
        "max_stall_credit_s": args.max_stall_credit,
    }
    for key in ("watchdog_trips", "loop_stalls", "accepted"):
        if key in w.end:
            result[key] = w.end[key] - w.base.get(key, 0)
    return result


def print_report(args: argparse.Namespace, result: dict) -> None:
    """The markdown table of the figures."""
    print(f"| LowCmd_ vs fake Go2 ({args.seconds:.0f} s, {args.model}, load {result['load_average_1min']:.1f} "
          f"on {result['cpu_count']} cores) | value |")
    print("|---|---|")
    for key in ("send_rate_hz", "send_interval_p50_ms", "send_interval_p99_ms", "send_interval_max_ms",
                "send_late_fraction", "receive_rate_hz", "bad_crc_total", "lowcmd_total",
                "watchdog_trips", "loop_stalls", "accepted"):
        if key not in result:
            continue
        v = result[key]
        print(f"| {key} | {v:.3f} |" if isinstance(v, float) else f"| {key} | {v} |")


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--publish-commands":
        return publish_commands(float(sys.argv[2]))
    args = parse_args()
    micro_result = micro()
    if args.micro_only:
        return 0

    ros_domain = private_domain_id()
    dds_domain = 1 + ros_domain % 100
    tmp = Path(tempfile.mkdtemp(prefix="go2_lowcmd_rate_"))
    record, stats = tmp / "lowcmd.bin", tmp / "stats.json"
    group = ProcessGroup(tmp, ros_env(ros_domain, {"CYCLONEDDS_URI": cyclonedds_uri("lo")}))
    with group:
        commander = start_processes(group, args, dds_domain, record, stats)
        window = measure(group, args, ros_domain, record, stats, tmp)
        del commander
    result = summarise(args, read_record(record), window, micro_result)
    print_report(args, result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
