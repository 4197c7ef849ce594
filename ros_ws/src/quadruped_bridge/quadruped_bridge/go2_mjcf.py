"""The project's own Go2 MJCF, built from the figures in `go2_description`.

Collision primitives only (boxes, capsules, spheres; no meshes): the model has to load anywhere
without asset files and render fast in software OpenGL. Kinematics, joint ranges, passive joint
dynamics, torque limits and masses follow Unitree's published figures (Unitree's URDF and MuJoCo
Menagerie's `unitree_go2`).

Choices worth knowing:
- Joints are declared per leg in Unitree order (FR, FL, RR, RL), but callers must still map MuJoCo
  qpos/qvel to Unitree order by joint name (`Go2Sim` does), never by position.
- Feet use condim 3 (sliding friction only). With condim 6 the feet's torsional/rolling friction
  absorbs most of a yaw command (with condim 3 the trot's yaw tracked within 7 % without an
  integral term); the real Go2's rubber feet turn easily on the
  spot, so condim 3 is the closer and the better-tracking model. `foot_condim=6` restores the
  stock behaviour.
- Robot geoms never collide with each other (contype 2 / conaffinity 1); the floor and the cube
  (contype 1 / conaffinity 3) collide with everything.
- Rendering is set up for software OpenGL: no shadows, no reflections, no skybox, no multisampling.
"""

from __future__ import annotations

import math

import mujoco
import numpy as np
from fog_contract.go2 import (
    CALF_LENGTH,
    CAMERA_FOVY_DEG,
    CAMERA_POS,
    FOOT_OFFSET_X,
    FOOT_RADIUS,
    HIP_OFFSET_X,
    HIP_OFFSET_Y,
    JOINT_ARMATURE,
    JOINT_DAMPING,
    JOINT_FRICTIONLOSS,
    JOINT_LOWER,
    JOINT_UPPER,
    LEG_SIGN_X,
    LEG_SIGN_Y,
    LEGS,
    MASS_BASE,
    MASS_CALF,
    MASS_HIP,
    MASS_THIGH,
    THIGH_LENGTH,
    THIGH_OFFSET_Y,
    TORQUE_LIMITS,
    leg_slice,
)

FOOT_FRICTION = (0.8, 0.02, 0.01)
"""Sliding, torsional, rolling friction of the feet (the stock model's)."""

EGO_CAMERA_PITCH_DOWN = math.radians(15.0)
"""The ego camera looks this much below the base's +x so the floor just ahead (and a cube on it) is seen."""

CUBE_HALF_SIZE = 0.08
"""Half edge (m) of the pushable cube: a 0.16 m cube."""

CUBE_MASS = 0.3
"""Mass (kg) of the cube: light enough for the robot to push."""

GOAL_RADIUS = 0.12
"""Radius (m) of the flat goal disc."""

IMU_SITE_POS = (-0.02557, 0.0, 0.04232)
"""Where the Go2's IMU sits on the base (m)."""

_ROBOT_COLLISION = 'contype="2" conaffinity="1"'
_WORLD_COLLISION = 'contype="1" conaffinity="3"'


def _fmt(*values: float) -> str:
    return " ".join(f"{v:.6g}" for v in values)


def _leg_xml(leg: str, foot_condim: int) -> str:
    sx, sy = LEG_SIGN_X[leg], LEG_SIGN_Y[leg]
    sl = leg_slice(leg)
    lo, hi = JOINT_LOWER[sl], JOINT_UPPER[sl]
    names = [f"{leg}_{kind}_joint" for kind in ("hip", "thigh", "calf")]
    # Inertial figures: the stock model's masses; centres of mass and inertias of simple shapes of
    # the right size (hip motor cylinder, thigh box with its knee motor, slender calf with foot).
    return f"""
      <body name="{leg}_hip" pos="{_fmt(sx * HIP_OFFSET_X, sy * HIP_OFFSET_Y, 0)}">
        <inertial pos="{_fmt(-0.0054 * sx, 0.00194 * sy, 0)}" mass="{MASS_HIP}"
                  diaginertia="0.00048 0.00088 0.0006"/>
        <joint name="{names[0]}" axis="1 0 0" range="{_fmt(lo[0], hi[0])}"/>
        <geom type="cylinder" size="0.046 0.02" pos="{_fmt(0, sy * 0.08, 0)}" zaxis="0 1 0"
              rgba="0.25 0.25 0.28 1" {_ROBOT_COLLISION}/>
        <body name="{leg}_thigh" pos="{_fmt(0, sy * THIGH_OFFSET_Y, 0)}">
          <inertial pos="{_fmt(-0.00374, -0.0223 * sy, -0.0327)}" mass="{MASS_THIGH}"
                    diaginertia="0.00595 0.00584 0.00088"/>
          <joint name="{names[1]}" axis="0 1 0" range="{_fmt(lo[1], hi[1])}"/>
          <geom type="box" size="0.0123 0.017 {THIGH_LENGTH / 2:.6g}" pos="{_fmt(0, 0, -THIGH_LENGTH / 2)}"
                rgba="0.75 0.75 0.78 1" {_ROBOT_COLLISION}/>
          <body name="{leg}_calf" pos="{_fmt(0, 0, -THIGH_LENGTH)}">
            <inertial pos="0.0048 0 -0.13" mass="{MASS_CALF}" diaginertia="0.0014 0.0014 0.00003"/>
            <joint name="{names[2]}" axis="0 1 0" range="{_fmt(lo[2], hi[2])}"/>
            <geom type="capsule" size="0.012" fromto="{_fmt(0.008, 0, -0.01, FOOT_OFFSET_X, 0, -CALF_LENGTH + 0.03)}"
                  rgba="0.2 0.2 0.22 1" {_ROBOT_COLLISION}/>
            <geom name="{leg}_foot" type="sphere" size="{FOOT_RADIUS}"
                  pos="{_fmt(FOOT_OFFSET_X, 0, -CALF_LENGTH)}" condim="{foot_condim}"
                  friction="{_fmt(*FOOT_FRICTION)}" priority="1" rgba="0.1 0.1 0.1 1" {_ROBOT_COLLISION}/>
            <site name="{leg}_foot_site" pos="{_fmt(FOOT_OFFSET_X, 0, -CALF_LENGTH)}" size="0.005"/>
          </body>
        </body>
      </body>"""


def _motors_xml() -> str:
    """One torque motor per joint (Unitree order), limited to the joint's torque limit."""
    return "\n    ".join(
        f'<motor name="{name}" joint="{name}" ctrlrange="{_fmt(-lim, lim)}" ctrllimited="true"/>'
        for name, lim in zip(
            (f"{leg}_{kind}_joint" for leg in LEGS for kind in ("hip", "thigh", "calf")), TORQUE_LIMITS, strict=True
        )
    )


def _marker_xml(marker: tuple[float, float] | None) -> str:
    """The goal task's post (a non-colliding red cylinder) for `marker` = (radius, height); "" for None."""
    if marker is None:
        return ""
    radius, height = marker
    if radius <= 0 or height <= 0:
        raise ValueError(f"marker (radius, height) must be positive, got {marker}")
    return (
        f'\n      <geom name="marker" type="cylinder" size="{_fmt(radius, height / 2)}" '
        f'pos="{_fmt(0, 0, height / 2)}" rgba="0.95 0.1 0.1 1" contype="0" conaffinity="0" group="0"/>'
    )


def go2_mjcf(
    offscreen_width: int = 320,
    offscreen_height: int = 240,
    foot_condim: int = 3,
    timestep: float = 0.002,
    marker: tuple[float, float] | None = None,
) -> str:
    """The Go2 scene as an MJCF string: robot, checker floor, pushable `cube`, `goal` disc, cameras.

    The offscreen buffer must be at least as large as the largest image rendered from this model.
    `marker` = (radius, height) adds the goal task's post to the `goal` body: a bright red cylinder
    standing on the floor that nothing collides with (quadruped_bridge.tasks.GoalTask).
    """
    if foot_condim not in (1, 3, 4, 6):
        raise ValueError(f"foot_condim must be 1, 3, 4 or 6, got {foot_condim}")
    legs = "".join(_leg_xml(leg, foot_condim) for leg in LEGS)
    motors = _motors_xml()
    tilt = EGO_CAMERA_PITCH_DOWN
    marker_xml = _marker_xml(marker)
    ego_xyaxes = _fmt(0, -1, 0, math.sin(tilt), 0, math.cos(tilt))
    # Third-person: 1.3 m behind and 0.8 m above the centre of mass, looking at it.
    back, up = 1.3, 0.8
    norm = math.hypot(back, up)
    tp_xyaxes = _fmt(0, -1, 0, up / norm, 0, back / norm)
    return f"""<mujoco model="go2_scene">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{timestep}" cone="elliptic" impratio="100" integrator="Euler"/>
  <visual>
    <global offwidth="{int(offscreen_width)}" offheight="{int(offscreen_height)}" fovy="45"/>
    <quality shadowsize="0" offsamples="0"/>
    <headlight ambient="0.45 0.45 0.45" diffuse="0.6 0.6 0.6" specular="0 0 0"/>
    <map znear="0.01" zfar="50"/>
  </visual>
  <default>
    <joint damping="{JOINT_DAMPING}" armature="{JOINT_ARMATURE}" frictionloss="{JOINT_FRICTIONLOSS}"/>
    <geom friction="0.6 0.005 0.0001"/>
  </default>
  <asset>
    <texture name="checker" type="2d" builtin="checker" rgb1="0.82 0.82 0.8" rgb2="0.35 0.4 0.45"
             width="256" height="256"/>
    <material name="floor" texture="checker" texrepeat="8 8" texuniform="true" reflectance="0"/>
  </asset>
  <worldbody>
    <geom name="floor" type="plane" size="20 20 0.05" material="floor" {_WORLD_COLLISION}/>
    <body name="base" pos="0 0 0.3">
      <freejoint name="base_free"/>
      <inertial pos="0.021112 0 -0.005366" mass="{MASS_BASE}" diaginertia="0.0245 0.098 0.107"/>
      <geom name="base_box" type="box" size="0.1881 0.04675 0.057" rgba="0.75 0.75 0.78 1" {_ROBOT_COLLISION}/>
      <geom name="head" type="sphere" size="0.047" pos="0.293 0 -0.01" rgba="0.2 0.2 0.22 1" {_ROBOT_COLLISION}/>
      <site name="imu" pos="{_fmt(*IMU_SITE_POS)}" size="0.01"/>
      <camera name="ego" pos="{_fmt(*CAMERA_POS)}" xyaxes="{ego_xyaxes}" fovy="{CAMERA_FOVY_DEG}"/>
      <camera name="third_person" mode="trackcom" pos="{_fmt(-back, 0, up)}" xyaxes="{tp_xyaxes}" fovy="50"/>{legs}
    </body>
    <body name="cube" pos="0.8 0 {CUBE_HALF_SIZE}">
      <freejoint name="cube_free"/>
      <geom name="cube" type="box" size="{_fmt(*(3 * [CUBE_HALF_SIZE]))}" mass="{CUBE_MASS}"
            rgba="0.85 0.3 0.15 1" {_WORLD_COLLISION}/>
    </body>
    <body name="goal" mocap="true" pos="1.5 0 0">
      <site name="goal" type="cylinder" size="{GOAL_RADIUS} 0.001" pos="0 0 0.001" rgba="0.1 0.8 0.2 0.6"/>{marker_xml}
    </body>
  </worldbody>
  <actuator>
    {motors}
  </actuator>
  <sensor>
    <gyro name="imu_gyro" site="imu"/>
    <accelerometer name="imu_acc" site="imu"/>
    <framequat name="imu_quat" objtype="site" objname="imu"/>
  </sensor>
</mujoco>
"""


def go2_model(
    offscreen_width: int = 320,
    offscreen_height: int = 240,
    foot_condim: int = 3,
    timestep: float = 0.002,
    marker: tuple[float, float] | None = None,
) -> mujoco.MjModel:
    """Compile `go2_mjcf(...)` into an `mujoco.MjModel`."""
    return mujoco.MjModel.from_xml_string(go2_mjcf(offscreen_width, offscreen_height, foot_condim, timestep, marker))


def joint_addresses(model: mujoco.MjModel, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(qpos addresses, qvel addresses) of the named hinge joints, in the order of `names`."""
    qpos_adr, qvel_adr = [], []
    for name in names:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid < 0:
            raise KeyError(f"joint {name!r} not in the model")
        qpos_adr.append(model.jnt_qposadr[jid])
        qvel_adr.append(model.jnt_dofadr[jid])
    return np.array(qpos_adr, dtype=np.intp), np.array(qvel_adr, dtype=np.intp)


def actuator_ids(model: mujoco.MjModel, joint_names: tuple[str, ...]) -> np.ndarray:
    """Actuator index driving each named joint, in the order of `joint_names` (looked up by transmission)."""
    by_joint = {int(model.actuator_trnid[a, 0]): a for a in range(model.nu)}
    out = []
    for name in joint_names:
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if jid not in by_joint:
            raise KeyError(f"no actuator drives joint {name!r}")
        out.append(by_joint[jid])
    return np.array(out, dtype=np.intp)
