"""Start ROS 2 nodes as separate processes and stop them cleanly, without `ros2 launch`.

Used by `make demo`, `fog collect` and the integration tests on machines where ROS 2's `launch`
package is not installed (pip-based installs). Where it is installed, the launch files in
launch/ start the same executables with the same parameters.

Each process gets its own process group (so a node's children die with it), its output goes to a
log file, and `stop()` sends SIGINT, then SIGTERM, then SIGKILL, waiting between each. On Linux a
node also gets SIGTERM when the process that started it dies (even by SIGKILL), so no simulator or
controller outlives a killed demo, collection or test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _parent_death_signal():
    """A preexec function: SIGTERM this child when its parent dies (Linux prctl), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork: the child only calls it
    except (OSError, AttributeError):
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


def ros_env(
    domain_id: int | None = None, extra: dict[str, str] | None = None, network: str = "localhost"
) -> dict[str, str]:
    """The environment for a node: this interpreter's, on `domain_id` (else the project's network
    policy: ROS_DOMAIN_ID if set, else the project default), discovery localhost unless `network` is 'lan'."""
    from quadruped_bridge import network_policy

    env = dict(os.environ)
    network_policy.apply(network_policy.resolve(network, domain_id, env), env)
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    env.setdefault("MUJOCO_GL", "egl")
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def node_command(
    module: str, params: dict[str, object] | None = None, ros_args: list[str] | None = None, name: str | None = None
) -> list[str]:
    """`python -m module --ros-args -p k:=v ...` with this interpreter."""
    cmd = [sys.executable, "-m", module, "--ros-args"]
    if name:
        cmd += ["-r", f"__node:={name}"]
    for key, value in (params or {}).items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        cmd += ["-p", f"{key}:={value}"]
    return cmd + list(ros_args or [])


@dataclass
class ManagedProcess:
    name: str
    popen: subprocess.Popen
    log_path: Path
    _log: object = field(repr=False, default=None)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGINT, then SIGTERM, then SIGKILL; returns the exit code."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if not self.alive():
                break
            self.signal(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                continue
        if self._log is not None:
            self._log.close()
        return self.popen.poll()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


class ProcessGroup:
    """A set of node processes started together and stopped in reverse order."""

    def __init__(self, log_dir: str | Path, env: dict[str, str]):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env = env
        self.processes: list[ManagedProcess] = []

    def start(self, name: str, cmd: list[str], stdin=None) -> ManagedProcess:
        """Start `cmd` (its output to `<log_dir>/<name>.log`; `stdin`: a file or descriptor, e.g. a pty)."""
        log_path = self.log_dir / f"{name}.log"
        log = open(log_path, "w")
        popen = subprocess.Popen(
            cmd,
            env=self.env,
            stdin=stdin,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_parent_death_signal(),
        )
        proc = ManagedProcess(name, popen, log_path, log)
        self.processes.append(proc)
        return proc

    def check_alive(self) -> None:
        """Raise with the log's tail if a process has died."""
        for p in self.processes:
            if not p.alive():
                tail = "\n".join(p.log().splitlines()[-30:])
                raise RuntimeError(
                    f"process {p.name!r} exited with code {p.popen.returncode}; log {p.log_path}:\n{tail}"
                )

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.stop()

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for(predicate, timeout: float, poll=None, interval: float = 0.02) -> bool:
    """Call `poll()` (e.g. spin_once) until `predicate()` holds or `timeout` (wall s) passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if poll is not None:
            poll()
        else:
            time.sleep(interval)
    return bool(predicate())
