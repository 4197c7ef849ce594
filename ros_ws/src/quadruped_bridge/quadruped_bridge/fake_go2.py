"""A fake Unitree Go2 for tests and benchmarks: the robot's side of the low-level interface.

    python -m quadruped_bridge.fake_go2 --domain 123 --interface lo --record /tmp/lowcmd.bin --stats /tmp/stats.json

Speaks the real SDK types over real CycloneDDS: publishes `LowState_` on `rt/lowstate` at 500 Hz
(CRC set, as the robot does), reads every `LowCmd_` on `rt/lowcmd`, checks every CRC (a command
with a bad CRC is counted and ignored, as the robot ignores it), and applies the newest valid
command to a model of the robot through the motor law (quadruped_bridge.motor_command.pd_torque):
the MuJoCo Go2 (`--model mujoco`, default: lying on the floor, it stands up under a soft start) or
twelve independent joints (`--model joints`, no floor, no gravity: cheap). It serves the
motion-switcher RPC (CheckMode / ReleaseMode) like the robot: while a sport mode is active
(`--sport-mode normal`), low-level commands are counted but not applied.

What it received is exposed for tests on two side channels (files, nothing on the network):
- `--record PATH`: one row of float64 per LowCmd_ received (RECORD_COLUMNS), raw by Unitree motor
  index, appended and flushed every ~50 ms, so a reader sees it while the fake runs;
- `--stats PATH`: a JSON snapshot of the counters, replaced atomically 20 times a second.
`--hold-state` withholds LowState_ until the process gets SIGUSR1 (tests of "zero torque until the
first state"). Motor index -> model joint goes by Unitree's motor names (FR_0 = front-right hip,
...), the SDK's table, independently of the bridge's joint names.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
from fog_contract.go2 import JOINT_LOWER, JOINT_UPPER, LIE_POSE, NUM_JOINTS, STAND_POSE, TORQUE_LIMITS

from quadruped_bridge.go2_lowlevel import (
    NUM_MOTOR_SLOTS,
    POS_STOP_F,
    UNITREE_LEG_ID,
    VEL_STOP_F,
    crc_valid,
    fill_lowstate,
    new_lowstate,
    stamp_crc,
)
from quadruped_bridge.motor_command import MotorCommand, pd_torque

RECORD_FIELDS = ("mode", "q", "dq", "tau", "kp", "kd")
RECORD_HEADER = ("t", "t_source", "crc_ok", "states_published", "sport_mode_active", "spare_slots_max_abs")
RECORD_COLUMNS = len(RECORD_HEADER) + len(RECORD_FIELDS) * NUM_JOINTS
"""Row layout: t (monotonic s, when the fake took it), t_source (the writer's DDS source timestamp,
realtime clock s: when the bridge sent it), crc_ok (0/1), LowState_ published so far, sport mode active (0/1),
max |q|,|dq|,|tau|,|kp|,|kd| over the unused slots 12..19 with their stop values counted as 0, then
mode, q, dq, tau, kp, kd of motors 0..11 (Unitree index order; stop values as sent)."""


def record_column(field: str, motor: int) -> int:
    """Column of `field` for Unitree motor index `motor` in a record row."""
    return len(RECORD_HEADER) + RECORD_FIELDS.index(field) * NUM_JOINTS + motor


def read_record(path: str | Path) -> np.ndarray:
    """All complete rows written so far, shape (n, RECORD_COLUMNS)."""
    try:
        raw = np.fromfile(path, dtype=np.float64)
    except (FileNotFoundError, ValueError):
        return np.zeros((0, RECORD_COLUMNS))
    n = raw.size // RECORD_COLUMNS
    return raw[: n * RECORD_COLUMNS].reshape(n, RECORD_COLUMNS)


class RecordReader:
    """Incremental reader of a `--record` file: each `rows()` reads only the bytes appended since the
    last call (a partly written row waits for the next call), so polling it in a wait loop costs
    what is new, not the whole record."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._offset = 0  # bytes of complete rows consumed
        self._buf = np.zeros((1024, RECORD_COLUMNS))
        self._n = 0

    def __len__(self) -> int:
        return len(self.rows())

    def rows(self) -> np.ndarray:
        """All complete rows written so far, shape (n, RECORD_COLUMNS) (a view: copy to keep it)."""
        row_bytes = RECORD_COLUMNS * 8
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        n_new = len(data) // row_bytes
        if n_new:
            new = np.frombuffer(data[: n_new * row_bytes], dtype=np.float64).reshape(n_new, RECORD_COLUMNS)
            if self._n + n_new > len(self._buf):
                grown = np.zeros((max(2 * len(self._buf), self._n + n_new), RECORD_COLUMNS))
                grown[: self._n] = self._buf[: self._n]
                self._buf = grown
            self._buf[self._n: self._n + n_new] = new
            self._n += n_new
            self._offset += n_new * row_bytes
        return self._buf[: self._n]


def lowcmd_row(cmd, t: float, t_source: float, ok: bool, states: int, sport: bool) -> np.ndarray:
    row = np.empty(RECORD_COLUMNS)
    row[: len(RECORD_HEADER) - 1] = (t, t_source, float(ok), float(states), float(sport))
    spare = 0.0
    for m in cmd.motor_cmd[NUM_JOINTS:]:
        q = 0.0 if abs(m.q) >= POS_STOP_F * 0.999 else m.q
        dq = 0.0 if abs(m.dq) >= VEL_STOP_F * 0.999 else m.dq
        spare = max(spare, abs(q), abs(dq), abs(m.tau), abs(m.kp), abs(m.kd))
    row[len(RECORD_HEADER) - 1] = spare
    motors = cmd.motor_cmd[:NUM_JOINTS]
    base = len(RECORD_HEADER)
    for k, name in enumerate(RECORD_FIELDS):
        row[base + k * NUM_JOINTS: base + (k + 1) * NUM_JOINTS] = [getattr(m, name) for m in motors]
    return row


def motor_command_from_lowcmd(cmd, model_joint_of_motor: np.ndarray) -> MotorCommand:
    """The robot's reading of a LowCmd_: per model joint (q, dq, tau, kp, kd); stop targets -> 0."""
    out = MotorCommand()
    for motor, j in enumerate(model_joint_of_motor):
        m = cmd.motor_cmd[motor]
        out.q[j] = 0.0 if abs(m.q) >= POS_STOP_F * 0.999 else m.q
        out.dq[j] = 0.0 if abs(m.dq) >= VEL_STOP_F * 0.999 else m.dq
        out.tau[j], out.kp[j], out.kd[j] = m.tau, m.kp, m.kd
    return out


def model_joint_of_motor(model_joint_names) -> np.ndarray:
    """For each Unitree motor index 0..11, the model joint driven by it, by Unitree's motor names."""
    kinds = {"0": "hip", "1": "thigh", "2": "calf"}
    out = np.empty(NUM_JOINTS, dtype=np.int64)
    for name, motor in UNITREE_LEG_ID.items():
        leg, kind = name.split("_")
        out[motor] = list(model_joint_names).index(f"{leg}_{kinds[kind]}_joint")
    return out


class JointModel:
    """Twelve independent joints (inertia, viscous damping, joint limits), no gravity or contact."""

    joint_names = None

    def __init__(self, dt: float, pose: np.ndarray, inertia: float = 0.02, damping: float = 0.3):
        from fog_contract.go2 import JOINT_NAMES

        self.joint_names = JOINT_NAMES
        self.dt, self.inertia, self.damping = dt, inertia, damping
        self.q = np.array(pose, dtype=np.float64)
        self.dq = np.zeros(NUM_JOINTS)
        self.tau = np.zeros(NUM_JOINTS)

    def step(self, cmd: MotorCommand) -> None:
        for _ in range(4):  # substeps keep kp = 50 stable at any inertia used here
            h = self.dt / 4
            tau = pd_torque(cmd, self.q, self.dq, TORQUE_LIMITS)
            self.dq += h * (tau - self.damping * self.dq) / self.inertia
            self.q += h * self.dq
            hit = (self.q < JOINT_LOWER) | (self.q > JOINT_UPPER)
            self.q = np.clip(self.q, JOINT_LOWER, JOINT_UPPER)
            self.dq[hit] = 0.0
        self.tau = tau

    def sensors(self):
        return self.q, self.dq, self.tau, np.array([1.0, 0, 0, 0]), np.zeros(3), np.array([0.0, 0.0, 9.81])

    def base_height(self) -> float:
        return math.nan


class MujocoModel:
    """The project's MuJoCo Go2 (quadruped_bridge.sim.Go2Sim): floor, gravity, contacts."""

    def __init__(self, dt: float, pose: str):
        from fog_contract.go2 import JOINT_NAMES

        from quadruped_bridge.sim import Go2Sim, SimConfig

        self.joint_names = JOINT_NAMES  # Go2Sim's joint arrays are in this order (mapped by name inside)
        self.sim = Go2Sim(SimConfig(physics_dt=dt))
        self.sim.reset(pose=pose)

    def step(self, cmd: MotorCommand) -> None:
        self.sim.step(cmd)

    def sensors(self):
        st = self.sim.state()
        self._height = float(st.base_pos[2])
        return st.q, st.dq, st.tau, st.imu_quat, st.gyro, st.accel

    def base_height(self) -> float:
        return float(self.sim.state().base_pos[2])


class FakeMotionSwitcher:
    """The robot's motion-switcher RPC service (SDK server side): CheckMode, SelectMode, ReleaseMode."""

    def __init__(self, mode: str):
        from unitree_sdk2py.comm.motion_switcher.motion_switcher_api import (
            MOTION_SWITCHER_API_ID_CHECK_MODE,
            MOTION_SWITCHER_API_ID_RELEASE_MODE,
            MOTION_SWITCHER_API_ID_SELECT_MODE,
            MOTION_SWITCHER_API_VERSION,
            MOTION_SWITCHER_SERVICE_NAME,
        )
        from unitree_sdk2py.rpc.server import Server

        self.mode = mode
        self.releases = 0
        outer = self

        class _Server(Server):
            def Init(self):
                self._SetApiVersion(MOTION_SWITCHER_API_VERSION)
                self._RegistHandler(MOTION_SWITCHER_API_ID_CHECK_MODE, outer._check, False)
                self._RegistHandler(MOTION_SWITCHER_API_ID_SELECT_MODE, outer._select, False)
                self._RegistHandler(MOTION_SWITCHER_API_ID_RELEASE_MODE, outer._release, False)

        self.server = _Server(MOTION_SWITCHER_SERVICE_NAME)
        self.server.Init()
        self.server.Start(False)

    def _check(self, _parameter: str):
        return 0, json.dumps({"form": "0", "name": self.mode})

    def _select(self, parameter: str):
        self.mode = str(json.loads(parameter or "{}").get("name", "normal"))
        return 0, ""

    def _release(self, _parameter: str):
        self.mode = ""
        self.releases += 1
        return 0, ""


class FakeGo2:
    def __init__(self, args: argparse.Namespace):
        from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_

        from quadruped_bridge import go2_dds

        self.args = args
        self.dt = 1.0 / args.rate
        if args.model == "mujoco":
            self.model = MujocoModel(self.dt, args.start_pose)
        else:
            self.model = JointModel(self.dt, LIE_POSE if args.start_pose == "lie" else STAND_POSE)
        self.joint_of_motor = model_joint_of_motor(self.model.joint_names)
        participant = go2_dds.open_go2_domain(args.domain, args.interface)
        self.cmd_reader = go2_dds.backlog_reader(participant, go2_dds.LOWCMD_TOPIC, LowCmd_)
        self.state_writer = go2_dds.writer(participant, go2_dds.LOWSTATE_TOPIC, LowState_)
        self.switcher = FakeMotionSwitcher(args.sport_mode)
        self.state_msg = new_lowstate()
        self.command = MotorCommand()  # zero torque until the first valid command
        self.publishing = not args.hold_state
        self.stats = {"lowcmd_received": 0, "bad_crc": 0, "ignored_in_sport_mode": 0, "states_published": 0,
                      "first_state_time": None, "first_lowcmd_time": None, "overruns": 0}
        self._record = open(args.record, "ab", buffering=1 << 16) if args.record else None
        self._pending_rows: list[np.ndarray] = []
        signal.signal(signal.SIGUSR1, self._start_publishing)

    def _start_publishing(self, *_):
        self.publishing = True

    # ------------------------------------------------------------------ loop
    def _receive(self, t: float) -> None:
        from quadruped_bridge.go2_dds import take_valid

        # One batch per tick: a starved fake still publishes its state instead of draining forever.
        samples = take_valid(self.cmd_reader, 64)
        for cmd in samples:
            ok = crc_valid(cmd)
            sport = self.switcher.mode != ""
            s = self.stats
            s["lowcmd_received"] += 1
            if s["first_lowcmd_time"] is None:
                s["first_lowcmd_time"] = t
            if not ok:
                s["bad_crc"] += 1
            elif sport:
                s["ignored_in_sport_mode"] += 1
            else:
                self.command = motor_command_from_lowcmd(cmd, self.joint_of_motor)
            if self._record is not None:
                info = getattr(cmd, "sample_info", None)
                t_source = info.source_timestamp * 1e-9 if info is not None else float("nan")
                self._pending_rows.append(lowcmd_row(cmd, t, t_source, ok, s["states_published"], sport))

    def _publish_state(self, t: float, tick: int) -> None:
        q, dq, tau, quat, gyro, accel = self.model.sensors()
        # Our model arrays are per model joint; LowState_ slots are per motor.
        order = self.joint_of_motor  # motor -> model joint
        fill_lowstate(self.state_msg, q[order], dq[order], tau[order], quat, gyro, accel, tick,
                      idx=np.arange(NUM_JOINTS))
        stamp_crc(self.state_msg)
        self.state_writer.write(self.state_msg)
        self.stats["states_published"] += 1
        if self.stats["first_state_time"] is None:
            self.stats["first_state_time"] = t

    def _write_stats(self, t: float) -> None:
        if self._record is not None and self._pending_rows:
            self._record.write(np.asarray(self._pending_rows, dtype=np.float64).tobytes())
            self._record.flush()
            self._pending_rows = []
        if not self.args.stats:
            return
        q = self.model.sensors()[0]
        snap = dict(self.stats, t=t, sport_mode=self.switcher.mode, sport_mode_releases=self.switcher.releases,
                    publishing=self.publishing, base_height=self.model.base_height(),
                    q_by_motor=[float(q[j]) for j in self.joint_of_motor], slots=NUM_MOTOR_SLOTS)
        tmp = self.args.stats + ".tmp"
        with open(tmp, "w") as f:
            json.dump(snap, f)
        os.replace(tmp, self.args.stats)

    def run(self, stop) -> None:
        t0 = time.monotonic()
        next_tick, tick, last_flush = t0, 0, 0.0
        print(f"fake Go2 up: domain {self.args.domain} on {self.args.interface}, {self.args.rate:.0f} Hz, "
              f"model {self.args.model}, sport mode {self.args.sport_mode!r}", flush=True)
        while not stop():
            t = time.monotonic()
            self._receive(t)
            self.model.step(self.command)
            if self.publishing:
                self._publish_state(t, int((t - t0) * 1000))
            tick += 1
            if t - last_flush >= 0.05:
                self._write_stats(t)
                last_flush = t
            if self.args.duration and t - t0 >= self.args.duration:
                break
            next_tick += self.dt
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.05:  # far behind (CPU busy): drop the backlog instead of racing
                self.stats["overruns"] += 1
                next_tick = time.monotonic()
        self._write_stats(time.monotonic())
        if self._record is not None:
            self._record.close()


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domain", type=int, required=True, help="DDS domain id (not 0: the real robot's)")
    p.add_argument("--interface", default="lo", help="network interface (default lo)")
    p.add_argument("--rate", type=float, default=500.0, help="LowState_ rate and model step (Hz)")
    p.add_argument("--model", choices=("mujoco", "joints"), default="mujoco")
    p.add_argument("--start-pose", choices=("lie", "stand"), default="lie")
    p.add_argument("--sport-mode", default="", help="active motion mode at start ('' = released)")
    p.add_argument("--hold-state", action="store_true", help="publish no LowState_ until SIGUSR1")
    p.add_argument("--record", default="", help="append one row per LowCmd_ received to this file")
    p.add_argument("--stats", default="", help="write a JSON snapshot of counters here")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0 = never)")
    args = p.parse_args(argv)
    if args.domain == 0:
        p.error("domain 0 is the real robot's: use a private domain id")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.append(True))
    fake = FakeGo2(args)
    fake.run(lambda: bool(stopping))
    s = fake.stats
    print(f"fake Go2 done: {s['lowcmd_received']} LowCmd_ received, {s['bad_crc']} bad CRC, "
          f"{s['states_published']} LowState_ published", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
