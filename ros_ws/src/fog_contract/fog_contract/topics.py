"""The topic contract (docs/ARCHITECTURE.md's table): names, message types and nominal rates.

Names are relative (a namespace may prefix them) except /clock and /diagnostics. Message types
are the rosbags / ROS interface names (strings: this package imports no ROS).
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE = "camera/image_raw"
CAMERA_INFO = "camera/camera_info"
JOINT_STATES = "joint_states"
IMU = "imu/data"
CMD_VEL = "cmd_vel"
JOINT_COMMANDS = "joint_commands"
EPISODE_EVENT = "episode/event"
LOCOMOTION_READY = "locomotion/ready"
DIAGNOSTICS = "/diagnostics"
CLOCK = "/clock"
# simulator ground truth (never on a real robot)
SIM_BASE_POSE = "sim/base_pose"
SIM_BASE_TWIST = "sim/base_twist"
SIM_CUBE_POSE = "sim/cube_pose"
SIM_GOAL_POSE = "sim/goal_pose"

COMMAND_TOPICS = (CMD_VEL, JOINT_COMMANDS)
"""Topics that move the robot: a replay never publishes them on the live graph."""


@dataclass(frozen=True)
class Topic:
    name: str
    type: str
    """ROS interface name, e.g. sensor_msgs/msg/Image."""
    rate_hz: float | None
    """Nominal rate (None: on events)."""
    sensor: bool
    """Sensor-data QoS (best effort, shallow) rather than reliable."""


CONTRACT: dict[str, Topic] = {
    t.name: t
    for t in (
        Topic(IMAGE, "sensor_msgs/msg/Image", 30.0, True),
        Topic(CAMERA_INFO, "sensor_msgs/msg/CameraInfo", 30.0, True),
        Topic(JOINT_STATES, "sensor_msgs/msg/JointState", 200.0, True),
        Topic(IMU, "sensor_msgs/msg/Imu", 200.0, True),
        Topic(JOINT_COMMANDS, "sensor_msgs/msg/JointState", 50.0, False),
        Topic(CMD_VEL, "geometry_msgs/msg/Twist", 5.0, False),
        Topic(EPISODE_EVENT, "std_msgs/msg/String", None, False),
        Topic(DIAGNOSTICS, "diagnostic_msgs/msg/DiagnosticArray", 1.0, False),
    )
}
"""The robot's topics, what the recorder records and the dataset converter reads."""

SIM_TOPICS: dict[str, Topic] = {
    t.name: t
    for t in (
        Topic(SIM_BASE_POSE, "geometry_msgs/msg/PoseStamped", 200.0, True),
        Topic(SIM_BASE_TWIST, "geometry_msgs/msg/TwistStamped", 200.0, True),
        Topic(SIM_CUBE_POSE, "geometry_msgs/msg/PoseStamped", 200.0, True),
        Topic(SIM_GOAL_POSE, "geometry_msgs/msg/PoseStamped", None, False),
    )
}

LOCOMOTION_RATE_HZ = 50.0
"""The locomotion controller's joint_commands rate."""
POLICY_RATE_HZ = 5.0
"""The FoG policy's cmd_vel rate (an artifact may say otherwise)."""

COMMAND_QUEUE_DEPTH = 200
"""Reader-side queue depth of a command topic (joint_commands, cmd_vel) at the bridges and the
locomotion node. The topic is keyless, so every publisher's messages share the reader's one
KEEP_LAST queue: a foreign publisher's flood (rejected by the source lock) can evict the armed
publisher's newest command if the queue fills before the executor takes it (at depth 10: 0.1 s of
a stalled executor under a 100 Hz flood); the simulator in lockstep would then wait for a command
that never comes and trip its watchdog. A defence, not a measured fix: a 500 Hz flood at depth 10
tripped nothing in 2 x 3 s of simulated time. 200 covers 2 s of a 100 Hz flood; the callback takes
every message in order and the newest wins. (The dream node keeps 10: see its COMMAND_SUB_QOS.)"""
