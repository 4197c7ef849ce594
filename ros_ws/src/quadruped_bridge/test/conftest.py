"""Fixtures shared by quadruped_bridge's tests."""

import pytest
from quadruped_bridge.fake_go2_stack import Stacks


@pytest.fixture(scope="module")
def go2(tmp_path_factory):
    """The fake Go2 + bridge stacks of one test module (quadruped_bridge.fake_go2_stack): `go2.at(STAGE)`
    brings a stack to a bring-up stage; every stack is closed when the module's tests are done."""
    stacks = Stacks(tmp_path_factory)
    yield stacks
    stacks.close()
