"""The QoS of the contract's topics, defined once (fog_contract.topics has the names and rates).

- Commands (joint_commands, cmd_vel): RELIABLE, depth 1 on the publisher (only the newest matters);
  the subscribers of the bridges and the locomotion node read COMMAND_QUEUE_DEPTH deep, so that a
  foreign publisher's messages (rejected by the source lock) cannot evict the armed publisher's from
  the reader's queue (the topic is keyless: every writer shares one KEEP_LAST queue); the callback
  takes every message in order, the newest wins.
- Latched state (locomotion/ready, sim/goal_pose): RELIABLE + TRANSIENT_LOCAL, so a late joiner gets
  the current value.
- Sensors use rclpy's qos_profile_sensor_data (best effort).
"""

from __future__ import annotations

from fog_contract.topics import COMMAND_QUEUE_DEPTH
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

COMMAND_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
"""Publishers of joint_commands and cmd_vel."""
COMMAND_SUB_QOS = QoSProfile(depth=COMMAND_QUEUE_DEPTH, reliability=ReliabilityPolicy.RELIABLE)
"""Subscribers of joint_commands and cmd_vel that enforce a command source (see the module docstring)."""
LATCHED_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
"""Latched state: locomotion/ready, sim/goal_pose."""
