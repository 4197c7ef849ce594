"""Keyboard teleoperation: keys -> cmd_vel and episode events (pure key handling + a terminal node).

Keys: w/s forward/back, a/d left/right, q/e turn left/right (each press adds a step), space stops,
1 start, 2 success, 3 fail, 4 reset (episode/event), x quits. Commands are clipped to the gait's
envelope. Run on the robot's operator laptop beside `record.launch.py`:

    python -m quadruped_bridge.teleop
"""

from __future__ import annotations

import os
import select
import sys
import termios
import tty
from dataclasses import dataclass

import numpy as np

STEP = np.array([0.1, 0.1, 0.2])
LIMITS = np.array([[-0.3, 0.5], [-0.3, 0.3], [-1.0, 1.0]])
MOVES = {"w": (0, +1), "s": (0, -1), "a": (1, +1), "d": (1, -1), "q": (2, +1), "e": (2, -1)}
EVENTS = {"1": "start", "2": "success", "3": "fail", "4": "reset"}
HELP = "w/s vx  a/d vy  q/e yaw  space stop  1 start 2 success 3 fail 4 reset  x quit"


@dataclass
class KeyResult:
    command: np.ndarray
    event: str | None = None
    quit: bool = False


def apply_key(command: np.ndarray, key: str) -> KeyResult:
    """The command (vx, vy, wz) after one key, and the episode event it sends, if any."""
    cmd = np.array(command, dtype=float)
    key = key.lower()
    if key in MOVES:
        axis, sign = MOVES[key]
        cmd[axis] = np.clip(round(cmd[axis] + sign * STEP[axis], 3), *LIMITS[axis])
    elif key == " ":
        cmd[:] = 0.0
    elif key in EVENTS:
        return KeyResult(cmd, EVENTS[key])
    elif key == "x":
        return KeyResult(np.zeros(3), quit=True)
    return KeyResult(cmd)


def main(args=None) -> int:
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    from quadruped_bridge import network_policy

    network_policy.apply_defaults()  # the project's domain, localhost discovery (unless chosen otherwise)
    rclpy.init(args=args)
    node = rclpy.create_node("teleop")
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub_cmd = node.create_publisher(Twist, "cmd_vel", QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
    pub_event = node.create_publisher(String, "episode/event", reliable)
    command = np.zeros(3)
    fd = sys.stdin.fileno()
    old = termios.tcgetattr(fd)
    print(HELP)
    try:
        tty.setcbreak(fd)
        while rclpy.ok():
            ready, _, _ = select.select([sys.stdin], [], [], 0.1)  # 10 Hz cmd_vel
            if ready:
                # from the descriptor: sys.stdin's buffer would hold back keys typed together until the next one
                result = apply_key(command, os.read(fd, 1).decode(errors="replace"))
                command = result.command
                if result.event:
                    pub_event.publish(String(data=result.event))
                    print(f"\revent: {result.event}          ")
                if result.quit:
                    break
            msg = Twist()
            msg.linear.x, msg.linear.y, msg.angular.z = (float(v) for v in command)
            pub_cmd.publish(msg)
            print(f"\rvx {command[0]:+.2f}  vy {command[1]:+.2f}  wz {command[2]:+.2f}   ", end="", flush=True)
            rclpy.spin_once(node, timeout_sec=0.0)
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)
        pub_cmd.publish(Twist())
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
