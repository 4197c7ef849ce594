"""The FoG stack's robot contract: pure Python (numpy, cv2), no ROS, no torch.

Every package imports these instead of keeping its own copy:

- `fog_contract.go2`: the Go2's joint names in Unitree order, limits, stand and lying poses,
  kinematic and inertial figures; the cmd_vel command names and bounds.
- `fog_contract.topics`: topic names, types, nominal rates; the command topics' queue depth.
- `fog_contract.proprio`: proprioceptive features by name, built from joint states and the IMU.
- `fog_contract.images`: the one image resize (dataset and robot alike).
- `fog_contract.artifact`: the policy artifact's schema (`policy_meta.json`) and the checks that
  training's export and the robot's policy node both run on it.
- `fog_contract.mcap_scan`, `fog_contract.loop_timing`: the one MCAP scanner and loop-timing helper.
"""
