"""The simulator's pacing and lockstep rules (quadruped_bridge.sim_pacing); the simulator node with
them, over DDS, runs in every closed-loop test (fog_policy/test/integration/test_locomotion_node.py,
test_policy_node.py, quadruped_bridge/test/integration/test_recorder_node.py)."""

from __future__ import annotations

import pytest
from quadruped_bridge.sim_pacing import Pacer, command_due


def test_pacer_sleeps_while_simulated_time_is_ahead_and_follows_the_factor():
    p = Pacer(real_time_factor=2.0, wall=100.0, t_sim=0.0)
    assert p.delay(t_sim=1.0, wall=100.2) == pytest.approx(0.3)  # 1 s simulated = 0.5 s wall at 2x
    assert p.delay(t_sim=1.0, wall=100.5) == 0.0
    assert Pacer(0.0, 100.0, 0.0).delay(5.0, 100.0) == 0.0  # 0: as fast as the CPU allows


def test_pacer_reanchors_when_far_behind_instead_of_racing():
    p = Pacer(real_time_factor=1.0, wall=0.0, t_sim=0.0)
    assert p.delay(t_sim=1.0, wall=1.2) == 0.0  # 0.2 s behind: catch up, no sleep
    assert p.delay(t_sim=1.1, wall=2.0) == 0.0  # 0.9 s behind: re-anchored here
    # from the new anchor, 0.1 s simulated ahead of 0.05 s wall: sleep the difference
    assert p.delay(t_sim=1.2, wall=2.05) == pytest.approx(0.05)


def test_pacer_measures_the_achieved_factor_about_once_a_second():
    p = Pacer(real_time_factor=1.0, wall=0.0, t_sim=0.0)
    p.delay(t_sim=0.5, wall=0.9)
    assert p.achieved_rtf == 0.0  # not a second yet
    p.delay(t_sim=0.6, wall=1.2)
    assert p.achieved_rtf == pytest.approx(0.5)


def test_a_command_is_due_after_the_controllers_period_plus_a_step_capped_by_the_watchdog():
    # 50 Hz controller (0.02 s), 2 ms physics: due once the last command is more than 22 ms old
    assert not command_due(t=1.018, last_command=1.0, physics_dt=0.002, period=0.02, command_timeout=0.1)
    assert command_due(t=1.021, last_command=1.0, physics_dt=0.002, period=0.02, command_timeout=0.1)
    # a watchdog shorter than the period: wait before it would trip
    assert command_due(t=1.009, last_command=1.0, physics_dt=0.002, period=0.02, command_timeout=0.01)
