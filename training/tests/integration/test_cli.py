"""`fog` (fog_training.cli) as a child process: `fog deploy` is `python -m fog_policy.deploy`, and an unknown
verb is named."""

import subprocess
import sys


def test_deploy_dispatches_to_fog_policy_deploy():
    out = subprocess.run(
        [sys.executable, "-m", "fog_training.cli", "deploy", "--help"], capture_output=True, text=True, timeout=120
    )
    direct = subprocess.run(
        [sys.executable, "-m", "fog_policy.deploy", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and direct.returncode == 0, out.stderr + direct.stderr
    assert out.stdout.split("\n", 1)[1] == direct.stdout.split("\n", 1)[1], "fog deploy is not fog_policy.deploy"


def test_unknown_verb_is_named():
    out = subprocess.run([sys.executable, "-m", "fog_training.cli", "dance"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown verb 'dance'" in out.stderr
