"""Shared test data and helpers of fog_policy's tests.

`untrained_artifact`: a copy of the committed untrained policy artifact (test_data/, written by
`python -m fog_training.untrained_artifact --seed 1`; training/tests/unit/test_untrained_artifact.py
checks that it still matches what the export code writes). fog_policy sits below fog_training, so
its tests use the committed files instead of importing the exporter.

`fog`, `exit_problems` and `bad_output`: how integration/test_deploy.py and integration/test_collect.py
start the `fog` verbs and judge that a process ended cleanly (issue 16: exit code 0, no traceback).
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pytest

UNTRAINED_ARTIFACT = Path(__file__).resolve().parents[1] / "test_data" / "untrained_artifact"
# what a normal stop must never print (rclpy's RCLError, EGLError, "Exception in thread", ...)
BAD_OUTPUT = ("Traceback", "Error", "Exception", "never retrieved", "Segmentation fault", "core dumped")
EXIT_TIMEOUT = 30.0  # wall s from the signal to the exit (the recorder drains, the simulator closes its renderers)


@pytest.fixture
def untrained_artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("artifacts") / "untrained"
    shutil.copytree(UNTRAINED_ARTIFACT, out)
    return out


def fog_command(verb: str, *args: str) -> list[str]:
    """`fog <verb> ...` as the fog CLI (fog_training.cli, a layer above) runs it: the verb's module main
    (training/tests/unit/test_cli.py checks the CLI's table names these modules)."""
    module = {"deploy": "fog_policy.deploy", "collect": "fog_policy.collect"}[verb]
    return [sys.executable, "-m", module, *args]


def process_exit_problems(procs, timeout: float = EXIT_TIMEOUT) -> list[str]:
    """Wait for each process (quadruped_bridge.process_launch.ManagedProcess) to end; one line (with the
    log's tail) per unclean exit."""
    problems = []
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            code = p.popen.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except Exception:
            problems.append(f"{p.name}: still running {timeout:.0f} s after the stop:\n{p.log()[-2000:]}")
            continue
        log = p.log()
        bad = [b for b in BAD_OUTPUT if b in log]
        if code != 0 or bad:
            problems.append(f"{p.name}: exit code {code}, output has {bad}:\n{log[-3000:]}")
    return problems


@pytest.fixture
def fog():
    """`fog(verb, *args)`: the command line of a `fog` verb (see fog_command)."""
    return fog_command


@pytest.fixture
def exit_problems():
    """`exit_problems(procs, timeout=30.0)`: a line per process that did not end cleanly."""
    return process_exit_problems


@pytest.fixture
def bad_output():
    """What a process that ends normally must never print."""
    return BAD_OUTPUT
