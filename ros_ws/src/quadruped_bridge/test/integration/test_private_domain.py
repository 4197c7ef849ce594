"""quadruped_bridge.ros_probe.private_domain_id: processes side by side never get the same domain."""

import os
import subprocess
import sys

CLAIM = """
import sys
from quadruped_bridge.ros_probe import private_domain_id
print(" ".join(str(private_domain_id()) for _ in range(int(sys.argv[1]))), flush=True)
sys.stdin.read()  # hold the claims until the test closes stdin
"""


def claimer(n, env):
    proc = subprocess.Popen([sys.executable, "-c", CLAIM, str(n)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    return proc, [int(d) for d in proc.stdout.readline().split()]


def test_a_domain_claimed_by_one_process_is_not_handed_to_another(tmp_path):
    # four domains, a lock folder of this test's own (no other run's claims in it)
    env = dict(os.environ, FOG_TEST_DOMAINS="150-153", FOG_DOMAIN_LOCK_DIR=str(tmp_path))
    first, got_first = claimer(3, env)
    try:
        assert len(set(got_first)) == 3 and set(got_first) <= {150, 151, 152, 153}, got_first
        # the second process gets the one domain left, then (all claimed) that one again
        second, got_second = claimer(3, env)
        try:
            free = {150, 151, 152, 153} - set(got_first)
            assert got_second == [free.pop()] * 3, (got_first, got_second)
        finally:
            second.communicate("")
    finally:
        first.communicate("")
    # the claims end with their processes: a new one gets three distinct domains again
    third, got_third = claimer(3, env)
    third.communicate("")
    assert len(set(got_third)) == 3, got_third
