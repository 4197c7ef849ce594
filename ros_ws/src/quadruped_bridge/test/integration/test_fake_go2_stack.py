"""quadruped_bridge.fake_go2_stack: the fake Go2 + bridge stack that the `go2` fixture hands to the bridge's
tests (integration/test_go2_bridge_node.py) starts, is brought up to the stand pose, has LowState_
flowing into joint_states, and stops cleanly: every process exits 0."""

import numpy as np
import pytest
from fog_contract.go2 import STAND_POSE
from quadruped_bridge.fake_go2_stack import STOOD, Stacks

pytestmark = pytest.mark.integration


def test_stack_starts_lowstate_flows_and_stops_cleanly(tmp_path_factory):
    stacks = Stacks(tmp_path_factory)
    try:
        stack = stacks.at(STOOD)
        assert stacks.at(STOOD) is stack and stack.stage == STOOD  # reused at the stage it is in
        assert stack.stats()["sport_mode"] == "" and stack.first_state_row is not None
        # LowState_ flows: the fake keeps publishing and the bridge turns it into joint_states
        published = stack.stats()["states_published"]
        n_js = len(stack.probe.messages["joint_states_count"])
        stack.await_(lambda: stack.stats().get("states_published", 0) > published + 100
                     and len(stack.probe.messages["joint_states_count"]) > n_js + 100, 10,
                     "100 more LowState_ published and 100 more joint_states")
        js = stack.probe.messages["joint_states"][-1]
        np.testing.assert_allclose(js.position, STAND_POSE, atol=0.05)
        assert stack.stats()["bad_crc"] == 0
        processes = list(stack.group.processes)
        assert [p.name for p in processes] == ["fake_go2", "bridge"]
        with pytest.raises(AssertionError, match="^STOOD$"):
            stack.publish_state()  # a bring-up step out of order is refused, naming the stage the stack is in
    finally:
        stacks.close()
    for p in processes:
        assert not p.alive() and p.popen.returncode == 0, f"{p.name} exited {p.popen.returncode}:\n{p.log()[-2000:]}"
