"""quadruped_bridge.go2_dds in one process: the readers' and writer's QoS as the motor loop sees them
(newest sample only, a full backlog, invalid samples dropped), the CycloneDDS interface binding, and
the motion switcher's release loop against a stand-in client. No second process, no robot."""

import json

import pytest
from cyclonedds.domain import DomainParticipant
from quadruped_bridge import go2_dds
from quadruped_bridge.go2_lowlevel import new_lowcmd
from quadruped_bridge.process_launch import wait_for
from quadruped_bridge.ros_probe import private_domain_id
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_


def test_cyclonedds_uri_binds_one_interface():
    uri = go2_dds.cyclonedds_uri("enp3s0")
    assert '<NetworkInterface name="enp3s0"/>' in uri and 'Domain Id="any"' in uri
    assert uri.startswith("<CycloneDDS>") and uri.endswith("</CycloneDDS>")


def test_open_go2_domain_needs_an_interface():
    with pytest.raises(ValueError, match="a network interface is required"):
        go2_dds.open_go2_domain(5, "")


@pytest.fixture(scope="module")
def participant():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CYCLONEDDS_URI", go2_dds.cyclonedds_uri("lo"))
        yield DomainParticipant(1 + private_domain_id() % 100)  # a Unitree domain apart from 0, as the tests use


def cmd_with_crc(value):
    cmd = new_lowcmd()
    cmd.crc = value  # the CRC field as a sequence number (nothing here checks it)
    return cmd


def test_latest_reader_keeps_the_newest_and_backlog_reader_keeps_all_in_order(participant):
    topic = "rt/go2_dds_unit_order"
    latest = go2_dds.latest_reader(participant, topic, LowCmd_)
    backlog = go2_dds.backlog_reader(participant, topic, LowCmd_, depth=16)
    writer = go2_dds.writer(participant, topic, LowCmd_)
    for i in range(5):
        writer.write(cmd_with_crc(i))
    got = []
    assert wait_for(lambda: got.extend(s.crc for s in go2_dds.take_valid(backlog)) or len(got) >= 5, 5), (
        f"awaited 5 LowCmd_ in the backlog reader for 5 s; got {got}")
    assert got == [0, 1, 2, 3, 4]
    assert [s.crc for s in go2_dds.take_valid(latest)] == [4]
    assert go2_dds.take_valid(latest) == []  # taken: nothing stale is read twice


def test_take_valid_takes_at_most_n_and_drops_invalid_samples(participant):
    topic = "rt/go2_dds_unit_invalid"
    backlog = go2_dds.backlog_reader(participant, topic, LowCmd_)
    writer = go2_dds.writer(participant, topic, LowCmd_)
    for i in range(3):
        writer.write(cmd_with_crc(10 + i))
    assert wait_for(lambda: len(backlog.read(N=10)) >= 3, 5), "awaited 3 LowCmd_ in the reader for 5 s"
    assert [s.crc for s in go2_dds.take_valid(backlog, n=2)] == [10, 11]
    assert [s.crc for s in go2_dds.take_valid(backlog)] == [12]
    last = cmd_with_crc(13)
    writer.write(last)
    assert wait_for(lambda: len(backlog.read(N=10)) >= 1, 5), "awaited LowCmd_ 13 for 5 s"
    assert [s.crc for s in go2_dds.take_valid(backlog)] == [13]
    writer.unregister_instance(last)  # the reader gets an invalid sample: the writer left, no data
    assert wait_for(lambda: len(backlog.read(N=10)) >= 1, 5), "awaited the unregistration's sample for 5 s"
    assert go2_dds.take_valid(backlog) == []
    writer.write(cmd_with_crc(14))
    assert wait_for(lambda: len(backlog.read(N=10)) >= 1, 5), "awaited LowCmd_ 14 for 5 s"
    assert [s.crc for s in go2_dds.take_valid(backlog)] == [14]


class FakeSwitcherClient:
    """The SDK's MotionSwitcherClient as the robot answers it: CheckMode, then ReleaseMode."""

    def __init__(self, modes, code=0):
        self.modes, self.code, self.releases = list(modes), code, 0

    def CheckMode(self):  # noqa: N802 - the SDK's name
        if self.code:
            return self.code, None
        return 0, json.dumps({"form": "0", "name": self.modes[0]})

    def ReleaseMode(self):  # noqa: N802
        self.releases += 1
        if len(self.modes) > 1:
            self.modes.pop(0)


def switcher(client):
    s = go2_dds.MotionSwitcher.__new__(go2_dds.MotionSwitcher)  # no SDK client, no DDS
    s.client = client
    return s


def test_motion_switcher_releases_until_no_mode_is_active():
    client = FakeSwitcherClient(["normal", "ai", ""])
    ok, message = switcher(client).release(pause=0.0)
    assert ok and "sport mode released" in message and client.releases == 2
    stuck = FakeSwitcherClient(["normal"])
    ok, message = switcher(stuck).release(attempts=3, pause=0.0)
    assert not ok and message == "motion mode after release: 'normal'" and stuck.releases == 3
    silent = switcher(FakeSwitcherClient([""], code=3104))
    assert silent.active_mode() is None
    assert silent.release(pause=0.0) == (False, "motion switcher did not answer")
