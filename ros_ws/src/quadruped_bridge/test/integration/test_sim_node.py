"""The simulated Go2 (quadruped_bridge.sim_node) as a separate process over DDS: joint_states and
imu/data at its state rate in simulated time, a joint command taken through the safety layer (the
robot goes ACTIVE and the joint follows), and a clean exit on SIGINT. The sim node under the
locomotion controller is in fog_policy's integration tests."""

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import JOINT_NAMES, STAND_POSE
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.qos import COMMAND_QOS
from quadruped_bridge.ros_messages import joint_state_msg
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, stamp_seconds
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Imu, JointState

pytestmark = pytest.mark.integration
RATE = 100.0
DEEP_SENSOR = QoSProfile(depth=1000, reliability=ReliabilityPolicy.BEST_EFFORT)


def sim_reports(probe):
    return [d for d in probe.messages["/diagnostics"] if d.status[0].name == "quadruped_bridge: go2_sim"]


def test_sensors_at_rate_a_joint_command_followed_and_a_clean_exit(tmp_path):
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    joints = probe.watch(JointState, "joint_states", qos=DEEP_SENSOR)
    imus = probe.watch(Imu, "imu/data", qos=DEEP_SENSOR)
    probe.watch(DiagnosticArray, "/diagnostics")
    try:
        with ProcessGroup(tmp_path, ros_env(domain)) as group:
            sim = group.start("sim", node_command("quadruped_bridge.sim_node", {
                "start_pose": "stand", "camera_enabled": False, "state_rate_hz": RATE, "real_time_factor": 1.0,
                "safety.soft_start_duration": 0.2, "safety.command_timeout": 0.5}))

            def stood():
                return "mode=stand" in diagnostics_text(sim_reports(probe)[-1:])

            if not probe.spin_until(lambda: len(joints) >= 100 and stood(), 30):
                group.check_alive()
                raise AssertionError(f"awaited 100 joint_states and mode=stand for 30 s; got {len(joints)}:\n"
                                     + diagnostics_text(sim_reports(probe)[-1:]))
            # the state rate, in simulated time (the stamps); a best-effort message may be lost, none doubled
            for name, msgs in (("joint_states", joints), ("imu/data", imus)):
                stamps = np.array([stamp_seconds(m) for m in msgs[-100:]])
                steps = np.diff(stamps)
                assert np.median(steps) == pytest.approx(1 / RATE, rel=0.01), f"{name} every {np.median(steps)} s"
                assert np.all(steps > 0), f"{name} stamps not increasing"
                assert len(stamps) >= 0.8 * (stamps[-1] - stamps[0]) * RATE, f"{name}: too many lost"
            assert tuple(joints[-1].name) == JOINT_NAMES and len(joints[-1].effort) == 12
            # a joint command: the safety layer goes ACTIVE and the motor law pulls the joint towards it
            # (the leg carries the robot: the hip settles part of the way, held by the PD torque)
            target = STAND_POSE.copy()
            target[0] += 0.2  # FR hip outwards
            pub = probe.publisher(JointState, "joint_commands", COMMAND_QOS)

            def followed():
                pub.publish(joint_state_msg(probe.now(), JOINT_NAMES, target))  # ~100 Hz with the spin
                js = joints[-1]
                return (js.position[0] > 0.06 and abs(js.velocity[0]) < 0.05
                        and "mode=active" in diagnostics_text(sim_reports(probe)[-1:]))

            assert probe.spin_until(followed, 20), (
                f"awaited FR_hip_joint settled beyond 0.06 rad (target {target[0]:.2f}) and mode=active; joint at "
                f"{joints[-1].position[0]:.3f}, report:\n" + diagnostics_text(sim_reports(probe)[-1:]))
            js = joints[-1]
            kp = 50.0  # SafetyConfig's default gain: effort is the torque applied, kp (q_target - q) + kd (0 - dq)
            assert js.effort[0] == pytest.approx(kp * (target[0] - js.position[0]) - 2.0 * js.velocity[0], abs=0.5)
            assert sim.stop() == 0, sim.log()[-2000:]
    finally:
        probe.close()
