"""quadruped_bridge.process_launch: node processes never outlive the process that started them."""

import os
import signal
import subprocess
import sys
import textwrap

from quadruped_bridge.process_launch import wait_for


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


def test_children_die_when_their_launcher_is_killed(tmp_path):
    launcher = textwrap.dedent(
        f"""
        import sys, time
        from quadruped_bridge.process_launch import ProcessGroup
        group = ProcessGroup({str(tmp_path / "logs")!r}, dict(__import__("os").environ))
        p = group.start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"])
        print(p.popen.pid, flush=True)
        time.sleep(120)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", launcher], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _alive(child), "the child process did not start"
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    gone = wait_for(lambda: not _alive(child), timeout=10)
    if not gone:
        os.kill(child, signal.SIGKILL)
    assert gone, f"child {child} still runs 10 s after its launcher was SIGKILLed"
