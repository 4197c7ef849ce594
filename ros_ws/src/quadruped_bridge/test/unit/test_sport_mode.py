"""The bridge's sport-mode state machine (quadruped_bridge.sport_mode) with a stand-in motion switcher.

The SDK's real motion-switcher client against fake_go2's sport mode is exercised in
integration/test_go2_bridge_node.py::test_no_lowcmd_while_sport_mode_active_then_release."""

from __future__ import annotations

import pytest
from quadruped_bridge.sport_mode import LowLevelAccess


class StandIn:
    """A motion switcher: the mode it reports, whether release works, and what was asked of it."""

    def __init__(self, mode: str | None, release_ok: bool = True, fail: Exception | None = None) -> None:
        self.mode, self.release_ok, self.fail, self.releases = mode, release_ok, fail, 0

    def active_mode(self) -> str | None:
        if self.fail:
            raise self.fail
        return self.mode

    def release(self) -> tuple[bool, str]:
        self.releases += 1
        if self.fail:
            raise self.fail
        if self.release_ok:
            self.mode = ""
            return True, "sport mode released: low-level control is available"
        return False, "motion mode after release: 'normal'"


def test_unchecked_is_granted_at_once():
    access = LowLevelAccess(check_sport_mode=False)
    assert access.snapshot() == (True, "not checked (check_sport_mode:=false)")


def test_no_sport_mode_grants():
    access = LowLevelAccess(check_sport_mode=True)
    assert access.snapshot() == (False, "checking")
    access.check_at_start(StandIn(""), release_on_start=False)
    assert access.snapshot() == (True, "no sport mode active")


def test_an_active_sport_mode_holds_until_released_by_the_service():
    access, switcher = LowLevelAccess(True), StandIn("normal")
    access.check_at_start(switcher, release_on_start=False)
    granted, status = access.snapshot()
    assert not granted and "sport mode 'normal' active: LowCmd_ held" in status and "go2/release_sport_mode" in status
    assert switcher.releases == 0  # never released without being asked
    assert access.release(switcher) == (True, "sport mode released: low-level control is available")
    assert access.snapshot()[0]


def test_release_at_start_when_asked_and_a_failed_release_holds():
    access, switcher = LowLevelAccess(True), StandIn("ai")
    access.check_at_start(switcher, release_on_start=True)
    assert access.snapshot() == (True, "sport mode 'ai' released at start") and switcher.releases == 1
    stuck = LowLevelAccess(True)
    stuck.check_at_start(StandIn("normal", release_ok=False), release_on_start=True)
    granted, status = stuck.snapshot()
    assert not granted and status.startswith("could not release sport mode 'normal'") and "LowCmd_ held" in status


@pytest.mark.parametrize("switcher", [StandIn(None), StandIn("x", fail=RuntimeError("DDS is down"))])
def test_no_answer_holds_and_says_how_to_go_on(switcher):
    access = LowLevelAccess(True)
    access.check_at_start(switcher, release_on_start=True)
    granted, status = access.snapshot()
    assert not granted and status.startswith("motion switcher: ")
    assert "check_sport_mode:=false" in status
    ok, msg = access.release(switcher)
    assert ok is (switcher.fail is None) and (msg.startswith("motion switcher: DDS is down") or ok)


def test_once_granted_a_late_start_check_does_not_take_it_back():
    access = LowLevelAccess(True)
    assert access.release(StandIn("normal"))[0]  # the service ran before the start-up check answered
    access.check_at_start(StandIn("normal", release_ok=False), release_on_start=False)
    assert access.snapshot() == (True, "sport mode released: low-level control is available")
