"""quadruped_bridge.clean_exit.teardown in-process; the nodes' exits under signals are tested as
separate processes in fog_policy/test/test_exit_codes.py."""

from __future__ import annotations

import time

from quadruped_bridge import clean_exit


class SlowNode:
    """Stands in for a node whose destruction hangs in the middleware (the sleep is the hang)."""

    destroyed = False

    def destroy_node(self):
        time.sleep(0.6)
        self.destroyed = True


def test_a_slow_teardown_prints_where_every_thread_waits(capfd, monkeypatch):
    monkeypatch.setattr(clean_exit, "STALL_REPORT_S", 0.2)
    node = SlowNode()
    assert clean_exit.teardown([node]) is True and node.destroyed
    err = capfd.readouterr().err
    assert "Timeout" in err and "destroy_node" in err, err  # faulthandler's stack of the waiting thread
