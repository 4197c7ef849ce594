"""`fog deploy`: deploy.launch.py without `ros2 launch` — the same nodes in one process.

On machines where ROS 2's launch is not installed (pip-based installs), this composes the same
node classes that deploy.launch.py starts (bridge backend, locomotion controller, policy node)
with the same parameter file, in one process under a multi-threaded executor.

--robot dream runs the policy inside its world model (fog_policy.dream_node): the global model
imagines the camera images from a real start window and takes the policy's cmd_vel as the action;
no locomotion node. --world-model defaults to the artifact's world_model/ folder (the bundled goal
policy has one); the policy steps on each imagined image. Without --use-sim-time true it dreams at
the policy rate on the wall clock (to watch, or to drive with quadruped_bridge.teleop), with it as
fast as the model allows, in lockstep with the policy.

Examples::

    fog deploy --robot sim --artifact artifacts/pushcube --duration 60
    fog deploy --robot replay --bag data/bags/episode_0001 --artifact artifacts/pushcube
    fog deploy --robot go2 --network-interface eth0 --robot-domain 0 --real-robot --artifact artifacts/pushcube
    fog deploy --robot sim --network lan --domain-id 7     (open the graph to the subnet, deliberately)
    fog deploy --robot dream                                (the bundled goal policy in its world model)
    fog deploy --robot dream --world-model runs/goal/global --start 3 --use-sim-time true

Network: the ROS graph runs on the project's domain (42, or FOG_ROS_DOMAIN_ID, or ROS_DOMAIN_ID
when set; --domain-id overrides) with localhost discovery unless --network lan (see
quadruped_bridge.network_policy). --robot go2 talks to the robot on --network-interface and
--robot-domain (its CycloneDDS domain); domain 0, the real Go2's, needs --real-robot, and the ROS
domain must differ from the robot's. If the backend refuses to start or its loop fails, nothing
else runs: the exit code is 2 (refused) or 3 (failed while running).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import rclpy
from quadruped_bridge import clean_exit
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter


def default_params_file() -> str:
    try:
        from ament_index_python.packages import get_package_share_directory

        return str(Path(get_package_share_directory("fog_policy")) / "config" / "deploy.yaml")
    except Exception:  # not installed with colcon: the source tree's copy
        return str(Path(__file__).resolve().parents[1] / "config" / "deploy.yaml")


def default_artifact() -> str:
    try:
        from ament_index_python.packages import get_package_share_directory

        return str(Path(get_package_share_directory("fog_policy")) / "artifacts" / "goal")
    except Exception:
        return str(Path(__file__).resolve().parents[1] / "artifacts" / "goal")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="fog deploy", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--robot", choices=["sim", "go2", "replay", "dream"], default="sim")
    p.add_argument("--artifact", default=None, help="exported policy folder (default: the bundled goal policy)")
    p.add_argument(
        "--task",
        choices=["goal", "pushcube"],
        default=None,
        help="--robot sim: the scene (default: the task the artifact was trained for, else pushcube)",
    )
    p.add_argument("--params-file", default=None, help="ROS 2 parameters file (default: config/deploy.yaml)")
    p.add_argument("--dry-run", action="store_true", help="policy publishes on fog_policy/dry_run/* only")
    p.add_argument("--bag", default="", help="bag to replay (--robot replay)")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many wall seconds (0 = until Ctrl-C)")
    p.add_argument("--namespace", default="", help="namespace for every node")
    p.add_argument(
        "--network",
        choices=["localhost", "lan"],
        default=None,
        help="discovery range: localhost (default) or lan (the subnet; a deliberate choice)",
    )
    p.add_argument(
        "--domain-id",
        type=int,
        default=None,
        help="ROS domain (default: ROS_DOMAIN_ID if set, else FOG_ROS_DOMAIN_ID, else 42)",
    )
    p.add_argument("--network-interface", default=None, help="--robot go2: interface wired to the robot (e.g. eth0)")
    p.add_argument(
        "--robot-domain",
        type=int,
        default=None,
        help="--robot go2: the robot's CycloneDDS domain (the Go2 uses 0, which needs --real-robot)",
    )
    p.add_argument(
        "--real-robot", action="store_true", help="--robot go2: this is the real robot (allows its DDS domain 0)"
    )
    p.add_argument(
        "--world-model",
        default=None,
        help="--robot dream: a dream bundle (fog export-dream), a global model folder or a world-model run "
        "(default: the artifact's world_model/ folder)",
    )
    p.add_argument("--dataset", default=None, help="--robot dream: episode store for the start windows of a run")
    p.add_argument("--start", type=int, default=0, help="--robot dream: start window of the first episode")
    p.add_argument("--seed", type=int, default=0, help="--robot dream: sampler seed of the first episode")
    p.add_argument(
        "--use-sim-time",
        choices=["true", "false"],
        default=None,
        help="simulated time (default: true for sim and replay, false for go2 and dream; dream with true: "
        "lockstep, as fast as the model allows)",
    )
    return p.parse_args(argv)


DREAM_POLICY_OVERRIDES = [Parameter("joint_timeout", value=1.0)]
"""In a dream the joint states are a standing robot's constants: a busy machine delaying them must not
stop the policy (the image, the only imagined input, keeps its timeout)."""


def dream_world_model(args) -> str:
    """--world-model, else the artifact's world_model/ folder; SystemExit naming both if neither exists."""
    if args.world_model:
        return args.world_model
    folder = Path(args.artifact or default_artifact()) / "world_model"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"--robot dream needs a world model: give --world-model RUN (a dream bundle, a global model folder or "
            f"a world-model run); the artifact has no world_model/ folder ({folder})"
        )
    return str(folder)


def uses_sim_time(args) -> bool:
    if args.use_sim_time is not None:
        return args.use_sim_time == "true"
    return args.robot in ("sim", "replay")


def sim_task(args) -> str:
    """--task, else the task recorded in the artifact's policy_meta.json, else pushcube."""
    if args.task:
        return args.task
    from fog_contract.artifact import load_meta

    try:
        return str(load_meta(args.artifact or default_artifact()).get("task") or "pushcube")
    except Exception:  # an unreadable artifact is the policy node's to refuse, with its own message
        return "pushcube"


def go2_overrides(args) -> list[Parameter]:
    """The bridge parameters given on the command line (the params file supplies the rest)."""
    out = [Parameter("real_robot", value=bool(args.real_robot))]
    if args.network_interface:
        out.append(Parameter("network_interface", value=args.network_interface))
    if args.robot_domain is not None:
        out.append(Parameter("dds_domain_id", value=int(args.robot_domain)))
    return out


def build_nodes(args, stop: clean_exit.StopFlag | None = None):
    """The nodes deploy.launch.py would start, constructed in this process; `loops` run in threads
    until `stop` is set (each backend's stop() is hooked to it)."""
    stop = stop or clean_exit.StopFlag()
    from fog_policy.locomotion_node import LocomotionNode
    from fog_policy.policy_node import PolicyNode

    sim_time = uses_sim_time(args)
    common = {"namespace": args.namespace} if args.namespace else {}
    use_sim = [Parameter("use_sim_time", value=sim_time)]
    nodes, loops = [], []
    if args.robot == "sim":
        from quadruped_bridge.sim_node import SimNode

        backend = SimNode(parameter_overrides=[Parameter("task", value=sim_task(args))], **common)
        loops.append(lambda: backend.run(until=stop.is_set))
    elif args.robot == "dream":
        from fog_policy.dream_node import DreamNode

        dream = [
            Parameter("world_model", value=dream_world_model(args)),
            Parameter("start", value=int(args.start)),
            Parameter("seed", value=int(args.seed)),
            Parameter("use_sim_time", value=sim_time),
            Parameter("policy_reset_service", value="fog_policy/reset"),
        ] + ([Parameter("dataset", value=args.dataset)] if args.dataset else [])
        backend = DreamNode(parameter_overrides=dream, **common)
        loops.append(lambda: backend.run(until=stop.is_set))
    elif args.robot == "go2":
        from quadruped_bridge.go2_bridge_node import Go2BridgeNode

        backend = Go2BridgeNode(parameter_overrides=go2_overrides(args), **common)
        loops.append(lambda: backend.run(until=stop.is_set))
    else:
        from quadruped_bridge.replay_node import ReplayNode

        if not args.bag:
            raise SystemExit("fog deploy: --robot replay needs --bag BAG_DIR")
        backend = ReplayNode(parameter_overrides=[Parameter("bag", value=args.bag)], **common)

        def play():
            backend.wait_for_subscribers()
            backend.play_once(0)

        loops.append(play)
    stop.on_set(backend.stop)
    nodes.append(backend)
    if args.robot in ("sim", "go2"):  # replay commands nothing; in a dream cmd_vel is the action
        nodes.append(LocomotionNode(parameter_overrides=use_sim, **common))
    # a bag or a dream gives one image per policy step: the policy steps on the images
    trigger = "image" if args.robot in ("replay", "dream") else "timer"
    policy = PolicyNode(
        parameter_overrides=use_sim
        + [
            Parameter("artifact", value=args.artifact or default_artifact()),
            Parameter("dry_run", value=bool(args.dry_run or args.robot == "replay")),
            Parameter("trigger", value=trigger),
        ]
        + DREAM_POLICY_OVERRIDES * (args.robot == "dream"),
        **common,
    )
    nodes.append(policy)
    return nodes, loops, policy


def main(argv: list[str] | None = None) -> int:
    """0 at the end of --duration, on SIGINT and on SIGTERM (no traceback); 2 if the policy refused to start."""
    from quadruped_bridge import network_policy

    from fog_policy.policy_node import start

    args = parse_args(sys.argv[1:] if argv is None else argv)
    params = args.params_file or default_params_file()
    try:
        net = network_policy.apply(network_policy.resolve(args.network, args.domain_id))
    except ValueError as exc:
        print(f"[deploy] {exc}", file=sys.stderr)
        return 2
    print(f"[deploy] network: {net.describe()}", flush=True)
    stop = clean_exit.init(["--ros-args", "--params-file", params])
    try:
        nodes, loops, policy = build_nodes(args, stop)
    except (ValueError, FileNotFoundError) as exc:  # a backend (or the policy) refused its configuration
        print(f"[deploy] {args.robot} backend refused to start, nothing else runs: {exc}", file=sys.stderr, flush=True)
        rclpy.try_shutdown()
        return 2
    except BaseException:
        rclpy.try_shutdown()
        raise
    for node in nodes:
        if getattr(getattr(node, "cfg", None), "realtime_priority", 0):
            print(
                f"[deploy] warning: {node.get_name()} realtime_priority is applied by the standalone node only "
                "(ros2 launch fog_policy deploy.launch.py), not in this single process",
                file=sys.stderr,
            )
    executor = MultiThreadedExecutor(num_threads=3)
    for node in nodes:
        executor.add_node(node)
    threads = [clean_exit.spin_in_thread(executor, stop)]
    failed: list[str] = []

    def guarded(loop):
        """A backend loop that fails stops everything: the policy must not run without its robot."""
        try:
            loop()
        except BaseException as exc:  # noqa: BLE001 - reported, then the whole deploy stops
            failed.append(f"{type(exc).__name__}: {exc}")
            print(f"[deploy] {args.robot} backend failed, stopping everything: {exc}", file=sys.stderr, flush=True)
            stop.set()

    for i, loop in enumerate(loops):
        threads.append(
            threading.Thread(target=guarded, args=(loop,), name=f"{nodes[0].get_name()}-loop{i}", daemon=True)
        )
        threads[-1].start()
    status = 0
    try:
        # camera_info first, for the artifact's aspect-ratio check (at most a second)
        deadline = time.monotonic() + 1.0
        while policy.camera_size is None and not stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        if stop.is_set():
            pass  # stopped before the policy started: a normal stop all the same
        elif not start(policy):
            status = 2
        else:
            print(f"[deploy] robot={args.robot} artifact={policy.cfg.artifact} params={params}; Ctrl-C to stop")
            t0 = time.monotonic()
            while not stop.is_set() and rclpy.ok() and (args.duration <= 0 or time.monotonic() - t0 < args.duration):
                time.sleep(0.05)
    finally:
        # loops and executor, then nodes (publishers; the simulator's renderers), then the context
        stop.set()
        clean_exit.teardown(nodes, executor, threads)
    return 3 if failed else status


if __name__ == "__main__":
    sys.exit(main())
