"""The MuJoCo Go2 simulator as a pure class (no ROS): physics, motor law, sensors, cameras.

`Go2Sim.step` applies the same motor law as the real robot's motor loop (`motor_command`): a
command issued by the 50 Hz controller is zero-order held and its position target moves along its
velocity target (`extrapolate`) for the age of the command. The caller says how old the command is
(`cmd_age`) or when it was issued (`issued_at`, sim time); `Go2Sim.advance` steps for a duration
while ageing one command, which is exactly what a 500 Hz bridge loop between two 50 Hz commands does.

Joint state is mapped between MuJoCo's qpos/qvel layout and Unitree order by joint name.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Self

import mujoco
import numpy as np
from fog_contract.go2 import (
    CAMERA_FOVY_DEG,
    FOOT_RADIUS,
    JOINT_NAMES,
    LEGS,
    LIE_POSE,
    NUM_JOINTS,
    STAND_POSE,
)

from quadruped_bridge.go2_mjcf import (
    CUBE_HALF_SIZE,
    actuator_ids,
    go2_mjcf,
    joint_addresses,
)
from quadruped_bridge.motor_command import MotorCommand, extrapolate, pd_torque
from quadruped_bridge.tasks import TASK_NAMES, GoalTask

PARKED_CUBE_XY = (-18.0, 18.0)
"""Where the goal task leaves the cube: far outside the arena, too small to see."""

MAX_CAMERA_SIZE = 128
"""Largest ego image side (pixels) the simulator renders: the policy's input is small."""


@dataclass(frozen=True)
class SimConfig:
    """Simulator settings. Defaults are the project's standard scene."""

    physics_dt: float = 0.002
    """Physics time step (s): 500 Hz, the motor loop's rate."""
    camera_width: int = 64
    """Ego camera image width (pixels), at most MAX_CAMERA_SIZE."""
    camera_height: int = 64
    """Ego camera image height (pixels), at most MAX_CAMERA_SIZE."""
    camera_fovy_deg: float = CAMERA_FOVY_DEG
    """Ego camera vertical field of view (degrees); the Go2 front camera's by default."""
    third_person_width: int = 320
    """Third-person (tracking) camera image width (pixels)."""
    third_person_height: int = 240
    """Third-person (tracking) camera image height (pixels)."""
    seed: int = 0
    """Seed of the generator that places the cube and goal when `reset` is given no seed."""
    cube_distance: tuple[float, float] = (0.6, 0.9)
    """Range (m) of the cube's start distance ahead of the robot (+x of the world), uniform."""
    cube_lateral: float = 0.15
    """Half range (m) of the cube's start offset sideways (y), uniform."""
    goal_distance: tuple[float, float] = (1.4, 2.0)
    """Range (m) of the goal disc's distance ahead of the robot (+x), uniform."""
    goal_lateral: float = 0.4
    """Half range (m) of the goal disc's offset sideways (y), uniform."""
    foot_condim: int = 3
    """Contact dimensionality of the feet: 3 (sliding only, tracks yaw) or 6 (stock, with spin/roll friction)."""
    fallen_height: float = 0.08
    """Base height (m) below which the robot counts as fallen: lying on folded legs is 0.10-0.13 m, not fallen."""
    fallen_tilt: float = 1.0
    """|roll| or |pitch| (rad) beyond which the robot counts as fallen."""

    task: str = "pushcube"
    """Scene: 'pushcube' (cube + goal disc) or 'goal' (a tall red marker post at the goal position, the
    cube parked out of sight); layouts and rules in quadruped_bridge.tasks."""

    def __post_init__(self) -> None:
        if self.task not in TASK_NAMES:
            raise ValueError(f"task must be one of {TASK_NAMES}, got {self.task!r}")
        for name in ("camera_width", "camera_height"):
            value = getattr(self, name)
            if not 1 <= value <= MAX_CAMERA_SIZE:
                raise ValueError(f"{name} must be in [1, {MAX_CAMERA_SIZE}], got {value}")
        if self.physics_dt <= 0.0 or self.physics_dt > 0.002:
            raise ValueError(f"physics_dt must be in (0, 0.002] (>= 500 Hz), got {self.physics_dt}")
        if not 0.0 < self.camera_fovy_deg < 180.0:
            raise ValueError(f"camera_fovy_deg must be in (0, 180), got {self.camera_fovy_deg}")


@dataclass(frozen=True)
class SimState:
    """One snapshot of the simulator. Joint arrays are in Unitree order; body-frame means the base's."""

    time: float
    """Simulation time (s)."""
    q: np.ndarray
    """Joint positions (rad), (12,)."""
    dq: np.ndarray
    """Joint velocities (rad/s), (12,)."""
    tau: np.ndarray
    """Joint torques applied during the last step (N m), (12,)."""
    imu_quat: np.ndarray
    """IMU orientation, world from IMU frame, (w, x, y, z)."""
    gyro: np.ndarray
    """IMU angular velocity, IMU (= base) frame (rad/s)."""
    accel: np.ndarray
    """IMU specific force, IMU frame (m/s^2): reads about (0, 0, +9.81) at rest, like a real IMU."""
    base_pos: np.ndarray
    """Base origin position, world (m)."""
    base_quat: np.ndarray
    """Base orientation, world from base, (w, x, y, z)."""
    base_lin_vel_world: np.ndarray
    """Base origin linear velocity, world frame (m/s)."""
    base_lin_vel_body: np.ndarray
    """Base origin linear velocity, base frame (m/s)."""
    base_ang_vel_body: np.ndarray
    """Base angular velocity, base frame (rad/s)."""
    base_ang_vel_world: np.ndarray
    """Base angular velocity, world frame (rad/s)."""
    roll_pitch_yaw: np.ndarray
    """Base attitude as intrinsic z-y-x (yaw, pitch, roll) Euler angles, listed roll, pitch, yaw (rad)."""
    cube_pos: np.ndarray
    """Cube centre, world (m)."""
    cube_quat: np.ndarray
    """Cube orientation (w, x, y, z)."""
    goal_pos: np.ndarray
    """Goal disc centre on the floor, world (m)."""
    fallen: bool
    """True when the base is too low or tilted too far (see SimConfig.fallen_*)."""


def release_gl_context() -> None:
    """Make no OpenGL context current on this thread (MuJoCo's Renderer leaves its own current).

    EGL and GLFW bind a context to the thread that made it current; OSMesa does not need this.
    """
    import mujoco.gl_context

    backend = getattr(getattr(mujoco.gl_context, "GLContext", None), "__module__", "")
    if backend == "mujoco.egl":
        import mujoco.egl as mj_egl
        from mujoco.egl import egl_ext as EGL

        if mj_egl.EGL_DISPLAY is not None:
            EGL.eglMakeCurrent(mj_egl.EGL_DISPLAY, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
    elif backend == "mujoco.glfw":
        import glfw

        glfw.make_context_current(None)


def quat_to_matrix(quat_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z)."""
    w, x, y, z = np.asarray(quat_wxyz, dtype=np.float64) / np.linalg.norm(quat_wxyz)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def quat_to_rpy(quat_wxyz: np.ndarray) -> np.ndarray:
    """(roll, pitch, yaw) of a quaternion (w, x, y, z), z-y-x convention."""
    w, x, y, z = np.asarray(quat_wxyz, dtype=np.float64) / np.linalg.norm(quat_wxyz)
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return np.array([roll, pitch, yaw])


class Go2Sim:
    """MuJoCo Go2 on a floor with a pushable cube and a goal disc; see the module docstring."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        cfg = self.config
        self._goal_task = GoalTask()
        offscreen_w = max(cfg.camera_width, cfg.third_person_width)
        offscreen_h = max(cfg.camera_height, cfg.third_person_height)
        self.model = mujoco.MjModel.from_xml_string(
            go2_mjcf(
                offscreen_w,
                offscreen_h,
                foot_condim=cfg.foot_condim,
                timestep=cfg.physics_dt,
                marker=(self._goal_task.marker_radius, self._goal_task.marker_height) if cfg.task == "goal" else None,
            )
        )
        self.data = mujoco.MjData(self.model)
        self._qpos_adr, self._qvel_adr = joint_addresses(self.model, JOINT_NAMES)
        self._act = actuator_ids(self.model, JOINT_NAMES)
        self._ego_cam = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, "ego")
        self._tp_cam = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, "third_person")
        self.model.cam_fovy[self._ego_cam] = cfg.camera_fovy_deg
        base_joint = self.model.joint("base_free")
        self._base_qpos = int(base_joint.qposadr[0])
        self._base_qvel = int(base_joint.dofadr[0])
        cube_joint = self.model.joint("cube_free")
        self._cube_qpos = int(cube_joint.qposadr[0])
        self._cube_qvel = int(cube_joint.dofadr[0])
        self._goal_mocap = int(self.model.body("goal").mocapid[0])
        self._imu_site = self.model.site("imu").id
        self._foot_sites = [self.model.site(f"{leg}_foot_site").id for leg in LEGS]
        self._sensor = {
            name: slice(
                int(self.model.sensor(name).adr[0]),
                int(self.model.sensor(name).adr[0] + self.model.sensor(name).dim[0]),
            )
            for name in ("imu_gyro", "imu_acc", "imu_quat")
        }
        self._rng = np.random.default_rng(cfg.seed)
        self._tau = np.zeros(NUM_JOINTS)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self._render_lock = threading.Lock()  # a close() from another thread waits for a render in flight
        self._scene_option = mujoco.MjvOption()
        self.reset()

    # ------------------------------------------------------------------ physics

    @property
    def time(self) -> float:
        """Simulation time (s)."""
        return float(self.data.time)

    def reset(self, seed: int | None = None, pose: str = "lie") -> SimState:
        """Put the robot at the origin facing +x in `pose` ("lie" or "stand"), feet on the floor.

        The cube and the goal are placed ahead at random positions drawn from `seed` (or from the
        simulator's own generator when None).
        """
        if pose not in ("lie", "stand"):
            raise ValueError(f"pose must be 'lie' or 'stand', got {pose!r}")
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        cfg, m, d = self.config, self.model, self.data
        mujoco.mj_resetData(m, d)
        joints = LIE_POSE if pose == "lie" else STAND_POSE
        d.qpos[self._base_qpos : self._base_qpos + 7] = (0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
        d.qpos[self._qpos_adr] = joints
        mujoco.mj_kinematics(m, d)
        lowest_foot = min(d.site_xpos[s][2] for s in self._foot_sites)
        # Feet just touching the floor (0.5 mm clearance avoids a start-up bounce from penetration).
        d.qpos[self._base_qpos + 2] = -lowest_foot + FOOT_RADIUS + 0.0005
        if cfg.task == "goal":
            # The cube is parked far behind (under 0.2 px at 64x64); the goal body carries the marker post.
            cube_x, cube_y = PARKED_CUBE_XY
            goal_x, goal_y = self._goal_task.place(self._rng)
        else:
            cube_x = self._rng.uniform(*cfg.cube_distance)
            cube_y = self._rng.uniform(-cfg.cube_lateral, cfg.cube_lateral)
            goal_x = self._rng.uniform(*cfg.goal_distance)
            goal_y = self._rng.uniform(-cfg.goal_lateral, cfg.goal_lateral)
        d.qpos[self._cube_qpos : self._cube_qpos + 7] = (cube_x, cube_y, CUBE_HALF_SIZE, 1.0, 0.0, 0.0, 0.0)
        d.mocap_pos[self._goal_mocap] = (goal_x, goal_y, 0.0)
        d.ctrl[:] = 0.0
        self._tau = np.zeros(NUM_JOINTS)
        mujoco.mj_forward(m, d)
        return self.state()

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """(q, dq) in Unitree order."""
        return self.data.qpos[self._qpos_adr].copy(), self.data.qvel[self._qvel_adr].copy()

    def step(self, cmd: MotorCommand | None, cmd_age: float = 0.0, issued_at: float | None = None) -> None:
        """One physics step under the motor law; `cmd=None` is zero torque.

        The command's age is `cmd_age` (s), or `time - issued_at` when `issued_at` (sim time) is given:
        the position target is extrapolated along the velocity target for that long.
        """
        q, dq = self.joint_state()
        if cmd is None:
            tau = np.zeros(NUM_JOINTS)
        else:
            age = self.time - issued_at if issued_at is not None else cmd_age
            tau = pd_torque(extrapolate(cmd, age), q, dq)
        self._tau = tau
        self.data.ctrl[self._act] = tau
        mujoco.mj_step(self.model, self.data)

    def advance(self, cmd: MotorCommand | None, duration: float, issued_at: float | None = None) -> None:
        """Step for `duration` (s) holding one command issued at `issued_at` (default: now)."""
        issued = self.time if issued_at is None else issued_at
        n_steps = max(1, round(duration / self.config.physics_dt))
        for _ in range(n_steps):
            self.step(cmd, issued_at=issued)

    def apply_force(self, body: str, force_world: np.ndarray) -> None:
        """Set an external force (N, world frame, at the body's centre of mass) until changed."""
        self.data.xfrc_applied[self.model.body(body).id, :3] = force_world

    def state(self) -> SimState:
        """Snapshot of the robot, cube and goal; see SimState."""
        d, cfg = self.data, self.config
        q, dq = self.joint_state()
        base = d.qpos[self._base_qpos : self._base_qpos + 7]
        base_quat = base[3:7].copy()
        rot = quat_to_matrix(base_quat)
        lin_world = d.qvel[self._base_qvel : self._base_qvel + 3].copy()
        # A free joint's angular velocity in qvel is expressed in the body frame.
        ang_body = d.qvel[self._base_qvel + 3 : self._base_qvel + 6].copy()
        rpy = quat_to_rpy(base_quat)
        fallen = bool(base[2] < cfg.fallen_height or abs(rpy[0]) > cfg.fallen_tilt or abs(rpy[1]) > cfg.fallen_tilt)
        return SimState(
            time=self.time,
            q=q,
            dq=dq,
            tau=self._tau.copy(),
            imu_quat=d.sensordata[self._sensor["imu_quat"]].copy(),
            gyro=d.sensordata[self._sensor["imu_gyro"]].copy(),
            accel=d.sensordata[self._sensor["imu_acc"]].copy(),
            base_pos=base[:3].copy(),
            base_quat=base_quat,
            base_lin_vel_world=lin_world,
            base_lin_vel_body=rot.T @ lin_world,
            base_ang_vel_body=ang_body,
            base_ang_vel_world=rot @ ang_body,
            roll_pitch_yaw=rpy,
            cube_pos=d.qpos[self._cube_qpos : self._cube_qpos + 3].copy(),
            cube_quat=d.qpos[self._cube_qpos + 3 : self._cube_qpos + 7].copy(),
            goal_pos=d.mocap_pos[self._goal_mocap].copy(),
            fallen=fallen,
        )

    # ------------------------------------------------------------------ cameras

    def _renderer(self, width: int, height: int) -> mujoco.Renderer:
        key = (width, height)
        if key not in self._renderers:
            # Few geoms in this scene: a small scene buffer keeps update_scene cheap.
            renderer = mujoco.Renderer(self.model, height=height, width=width, max_geom=500)
            flags = renderer.scene.flags
            for flag in (
                mujoco.mjtRndFlag.mjRND_SHADOW,
                mujoco.mjtRndFlag.mjRND_REFLECTION,
                mujoco.mjtRndFlag.mjRND_SKYBOX,
            ):
                flags[flag] = 0
            self._renderers[key] = renderer
        return self._renderers[key]

    def _render(self, camera: int, width: int, height: int) -> np.ndarray:
        with self._render_lock:
            try:
                renderer = self._renderer(width, height)
                renderer.update_scene(self.data, camera=camera, scene_option=self._scene_option)
                return np.ascontiguousarray(renderer.render(), dtype=np.uint8)
            finally:
                release_gl_context()

    def render_ego(self) -> np.ndarray:
        """The egocentric camera image, uint8 (camera_height, camera_width, 3) RGB."""
        return self._render(self._ego_cam, self.config.camera_width, self.config.camera_height)

    def render_third_person(self) -> np.ndarray:
        """The tracking camera image, uint8 (third_person_height, third_person_width, 3) RGB."""
        return self._render(self._tp_cam, self.config.third_person_width, self.config.third_person_height)

    def camera_info(self) -> tuple[int, int, float, float, float, float]:
        """Ego camera pinhole intrinsics (width, height, fx, fy, cx, cy), ROS/OpenCV pixel convention.

        MuJoCo's fovy is vertical and its pixels are square, so fx = fy; the principal point is
        the image centre, (size - 1) / 2 with pixel centres at integer coordinates.
        """
        width, height = self.config.camera_width, self.config.camera_height
        fy = 0.5 * height / math.tan(math.radians(self.config.camera_fovy_deg) / 2.0)
        return width, height, fy, fy, (width - 1) / 2.0, (height - 1) / 2.0

    def close(self) -> None:
        """Free the renderers (OpenGL contexts). The simulator must not render afterwards.

        Any thread may close: a render leaves no context current on its thread (an EGL context
        still current on the rendering thread, even one that has ended, makes eglMakeCurrent
        fail with EGL_BAD_ACCESS elsewhere). Stop the rendering thread's loop first; a render in
        flight is waited for.
        """
        with self._render_lock:
            renderers = list(self._renderers.values())
            self._renderers.clear()
            for renderer in renderers:
                renderer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
