"""quadruped_bridge.clean_exit.teardown in-process; the nodes' exits under signals are tested as
separate processes in fog_policy/test/integration/test_deploy.py."""

from __future__ import annotations

from quadruped_bridge import clean_exit
from quadruped_bridge.process_launch import wait_for


class HangingNode:
    """Stands in for a node whose destruction hangs in the middleware: `destroy_node` returns only
    once the stall report has appeared on stderr (or after `limit` seconds, which fails the test)."""

    def __init__(self, capfd, limit: float = 10.0):
        self.capfd, self.limit = capfd, limit
        self.err = ""
        self.destroyed = False

    def destroy_node(self):
        wait_for(self._reported, self.limit, interval=0.01)
        self.destroyed = True

    def _reported(self) -> bool:
        self.err += self.capfd.readouterr().err
        return "destroy_node" in self.err


def test_a_slow_teardown_prints_where_every_thread_waits(capfd, monkeypatch):
    monkeypatch.setattr(clean_exit, "STALL_REPORT_S", 0.2)
    node = HangingNode(capfd)
    assert clean_exit.teardown([node]) is True and node.destroyed
    err = node.err + capfd.readouterr().err
    # faulthandler's report names the waiting thread's frame
    assert "Timeout" in err and "destroy_node" in err, f"no stall report within {node.limit} s of teardown:\n{err}"
