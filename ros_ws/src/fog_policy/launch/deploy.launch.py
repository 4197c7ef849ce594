"""Run a FoG policy on the robot, the simulator or a bag: bridge backend + locomotion + policy.

    ros2 launch fog_policy deploy.launch.py robot:=sim artifact:=/path/to/artifact
    ros2 launch fog_policy deploy.launch.py robot:=go2 network_interface:=eth0 robot_domain:=0 real_robot:=true \
        artifact:=... dry_run:=true
    ros2 launch fog_policy deploy.launch.py robot:=replay bag:=bags/episode_0001 artifact:=...
    ros2 launch fog_policy deploy.launch.py robot:=dream world_model:=runs/goal/global

Arguments: robot (sim | go2 | replay | dream), artifact (exported policy folder; default: the bundled
goal policy), params_file (default: this package's config/deploy.yaml), use_sim_time (default:
true for sim and replay, false for go2 and dream), dry_run (policy publishes on fog_policy/dry_run/* only;
always on for replay), namespace, bag (replay only), task (robot:=sim scene: goal | pushcube;
default: the task recorded in the artifact).
Dream (robot:=dream, fog_policy.dream_node: the policy inside its world model, no locomotion node,
the policy stepping on each imagined image): world_model (a dream bundle, a global model folder or
a world-model run; default: the artifact's world_model/ folder), dataset (start windows for a run),
start, seed; use_sim_time:=true runs it in lockstep as fast as the model allows.
Network (quadruped_bridge.network_policy): network (localhost | lan; default localhost), domain_id
(the ROS domain; default ROS_DOMAIN_ID if set, else FOG_ROS_DOMAIN_ID, else 42).
Robot (robot:=go2): network_interface (wired to the robot), robot_domain (the robot's CycloneDDS
domain, 0 on a Go2), real_robot (default false: domain 0 is refused without it). The ROS domain
must differ from robot_domain. If the backend exits (refused, failed), the launch stops: the policy
never runs without its robot.
Security: security:=true keystore:=PATH (from `fog security init`) runs every node in its enclave
with ROS_SECURITY_STRATEGY=Enforce (see docs/BRINGUP.md, "Securing the robot").
Where `ros2 launch` is not installed (pip-based machines), `fog deploy` starts the same node
classes with the same parameter file in one process.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    GroupAction,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch_ros.actions import Node, PushRosNamespace
from quadruped_bridge import network_policy
from quadruped_bridge.sros2_keystore import ENCLAVES


def _artifact_task(artifact: str) -> str:
    """The task recorded in the artifact's policy_meta.json (fog export), else pushcube."""
    import json

    try:
        with open(os.path.join(artifact, "policy_meta.json")) as f:
            return str(json.load(f).get("task") or "pushcube")
    except (OSError, ValueError):
        return "pushcube"


BACKENDS = {"sim": ("quadruped_bridge", "sim_node", "go2_sim"),
            "go2": ("quadruped_bridge", "go2_bridge_node", "go2_bridge"),
            "replay": ("quadruped_bridge", "replay_node", "bag_replay"),
            "dream": ("fog_policy", "dream_node", "dream")}


def _backend_exited(event, _context):
    """The backend is gone: stop everything; a refusal or failure fails the launch (non-zero exit)."""
    if event.returncode not in (0, None):
        raise RuntimeError(f"{event.action.name} exited with code {event.returncode}: "
                           "stopping the launch (the policy must not run without its robot)")
    return [EmitEvent(event=Shutdown(reason=f"{event.action.name} exited"))]


def _nodes(context):
    get = lambda name: context.launch_configurations[name]  # noqa: E731
    robot = get("robot")
    if robot not in BACKENDS:
        raise RuntimeError(f"robot:={robot!r}: expected one of {sorted(BACKENDS)}")
    net = network_policy.resolve(get("network") or None, get("domain_id") or None, dict(os.environ))
    env = [SetEnvironmentVariable("ROS_DOMAIN_ID", str(net.domain_id)),
           SetEnvironmentVariable("ROS_AUTOMATIC_DISCOVERY_RANGE", net.discovery_range),
           LogInfo(msg=f"deploy: network {net.describe()}")]
    secure = get("security").lower() == "true"
    if secure and robot == "dream":
        raise RuntimeError("security:=true protects the robot's graph; robot:=dream has no SROS2 enclave "
                           "(run it without)")
    if secure:
        if not get("keystore"):
            raise RuntimeError("security:=true needs keystore:=PATH (create one with `fog security init --out PATH`)")
        env += [SetEnvironmentVariable("ROS_SECURITY_ENABLE", "true"),
                SetEnvironmentVariable("ROS_SECURITY_STRATEGY", "Enforce"),
                SetEnvironmentVariable("ROS_SECURITY_KEYSTORE", os.path.abspath(get("keystore")))]
    enclave = lambda name: ["--enclave", ENCLAVES[name]] if secure else []  # noqa: E731
    share = get_package_share_directory("fog_policy")
    params = get("params_file") or os.path.join(share, "config", "deploy.yaml")
    artifact = get("artifact") or os.path.join(share, "artifacts", "goal")
    sim_time = get("use_sim_time") or ("false" if robot in ("go2", "dream") else "true")
    sim_time = sim_time.lower() == "true"
    dry_run = robot == "replay" or get("dry_run").lower() == "true"
    package, executable, name = BACKENDS[robot]
    if robot == "replay":
        backend_params = [params, {"bag": get("bag")}]
    elif robot == "go2":
        if net.domain_id == int(get("robot_domain")):
            raise RuntimeError(f"the ROS domain ({net.domain_id}) must differ from robot_domain:={get('robot_domain')}")
        backend_params = [params, {"use_sim_time": sim_time, "network_interface": get("network_interface"),
                                   "dds_domain_id": int(get("robot_domain")),
                                   "real_robot": get("real_robot").lower() == "true"}]
    elif robot == "dream":
        world_model = get("world_model") or os.path.join(artifact, "world_model")
        if not os.path.isdir(world_model):
            raise RuntimeError(f"robot:=dream needs world_model:=RUN (the artifact has no world_model/ folder: "
                               f"{world_model})")
        backend_params = [params, {"use_sim_time": sim_time, "world_model": world_model, "dataset": get("dataset"),
                                   "start": int(get("start")), "seed": int(get("seed")),
                                   "policy_reset_service": "fog_policy/reset"}]
    else:  # the simulator's scene: task:=, else the task the artifact was trained for
        task = get("task") or _artifact_task(artifact)
        backend_params = [params, {"use_sim_time": sim_time, "task": task}]
    backend = Node(package=package, executable=executable, name=name, output="screen", parameters=backend_params,
                   ros_arguments=enclave(name))
    nodes = [backend]
    if robot in ("sim", "go2"):  # replay commands nothing; in a dream cmd_vel is the action
        nodes.append(Node(package="fog_policy", executable="locomotion_node", name="locomotion", output="screen",
                          parameters=[params, {"use_sim_time": sim_time}], ros_arguments=enclave("locomotion")))
    nodes.append(Node(package="fog_policy", executable="policy_node", name="fog_policy", output="screen",
                      parameters=[params, {"use_sim_time": sim_time, "artifact": artifact, "dry_run": dry_run,
                                           "trigger": "image" if robot in ("replay", "dream") else "timer",
                                           # a dream's joint states are constants: a busy machine must not stop it
                                           **({"joint_timeout": 1.0} if robot == "dream" else {})}],
                      ros_arguments=enclave("fog_policy")))
    stop_with_backend = [] if robot == "replay" else [
        RegisterEventHandler(OnProcessExit(target_action=backend, on_exit=_backend_exited))]
    return [*env, GroupAction([PushRosNamespace(get("namespace")), *nodes]), *stop_with_backend]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="sim", description="sim | go2 | replay | dream"),
        DeclareLaunchArgument("artifact", default_value="", description="exported policy folder"),
        DeclareLaunchArgument("params_file", default_value="", description="ROS 2 parameters file"),
        DeclareLaunchArgument("use_sim_time", default_value="",
                              description="default: true unless robot:=go2 or dream"),
        DeclareLaunchArgument("dry_run", default_value="false", description="publish on fog_policy/dry_run/* only"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace for every node"),
        DeclareLaunchArgument("bag", default_value="", description="bag to replay (robot:=replay)"),
        DeclareLaunchArgument("task", default_value="",
                              description="robot:=sim scene: goal | pushcube (default: the artifact's task)"),
        DeclareLaunchArgument("world_model", default_value="",
                              description="robot:=dream: bundle, model folder or run (default: artifact/world_model)"),
        DeclareLaunchArgument("dataset", default_value="", description="robot:=dream: start windows of a run"),
        DeclareLaunchArgument("start", default_value="0", description="robot:=dream: first start window"),
        DeclareLaunchArgument("seed", default_value="0", description="robot:=dream: sampler seed"),
        DeclareLaunchArgument("network", default_value="localhost",
                              description="discovery range: localhost, or lan (the subnet, deliberately)"),
        DeclareLaunchArgument("domain_id", default_value="",
                              description="ROS domain (default: ROS_DOMAIN_ID, else FOG_ROS_DOMAIN_ID, else 42)"),
        DeclareLaunchArgument("network_interface", default_value="eth0",
                              description="robot:=go2: interface wired to the robot"),
        DeclareLaunchArgument("robot_domain", default_value="0",
                              description="robot:=go2: the robot's CycloneDDS domain (0 needs real_robot:=true)"),
        DeclareLaunchArgument("real_robot", default_value="false",
                              description="robot:=go2: this is the real robot (allows its DDS domain 0)"),
        DeclareLaunchArgument("security", default_value="false", description="SROS2: run every node in its enclave"),
        DeclareLaunchArgument("keystore", default_value="", description="SROS2 keystore (fog security init)"),
        OpaqueFunction(function=_nodes),
    ])
