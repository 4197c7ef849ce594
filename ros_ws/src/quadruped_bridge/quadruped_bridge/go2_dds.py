"""CycloneDDS plumbing for the Go2 low-level topics, through the Unitree SDK.

`open_go2_domain` initialises the SDK's channel factory on one network interface and DDS domain
(the SDK's own configuration: the interface named, nothing auto-detected) and returns a
participant on that domain. Readers and writers are plain CycloneDDS entities with the QoS the
motor loop needs: a state reader that keeps only the newest sample (the loop reads once per tick
and never decodes stale states), a command reader that keeps a backlog (the fake Go2 checks every
CRC), writers with the SDK's default QoS (reliable, keep last).

`MotionSwitcher` wraps the SDK's motion-switcher client: on the Go2 the sport-mode service owns
the motors until it is released, and low-level commands must not be sent before that.
"""

from __future__ import annotations

import json
import time

from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.qos import Policy, Qos
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

LOWSTATE_TOPIC = "rt/lowstate"
LOWCMD_TOPIC = "rt/lowcmd"


def cyclonedds_uri(interface: str) -> str:
    """A CYCLONEDDS_URI value that binds CycloneDDS to one interface (e.g. 'lo' for tests)."""
    return (f'<CycloneDDS><Domain Id="any"><General><Interfaces><NetworkInterface name="{interface}"/>'
            "</Interfaces></General></Domain></CycloneDDS>")


def open_go2_domain(domain_id: int, interface: str) -> DomainParticipant:
    """Initialise the SDK's channel factory on `interface` and return a participant on the domain."""
    from unitree_sdk2py.core.channel import ChannelFactoryInitialize

    if not interface:
        raise ValueError("a network interface is required (the one wired to the Go2, or 'lo' for a fake)")
    ChannelFactoryInitialize(domain_id, interface)  # raises if the domain cannot be created
    return DomainParticipant(domain_id)


def latest_reader(participant: DomainParticipant, name: str, msg_type) -> DataReader:
    """Reader keeping only the newest sample (best effort): for robot state read once per tick."""
    qos = Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(1))
    return DataReader(participant, Topic(participant, name, msg_type), qos)


def backlog_reader(participant: DomainParticipant, name: str, msg_type, depth: int = 256) -> DataReader:
    """Reliable reader keeping up to `depth` samples: every command is seen (and its CRC checked)."""
    qos = Qos(Policy.Reliability.Reliable(max_blocking_time=0), Policy.History.KeepLast(depth))
    return DataReader(participant, Topic(participant, name, msg_type), qos)


def writer(participant: DomainParticipant, name: str, msg_type) -> DataWriter:
    qos = Qos(Policy.Reliability.Reliable(max_blocking_time=0), Policy.History.KeepLast(1))
    return DataWriter(participant, Topic(participant, name, msg_type), qos)


def take_valid(reader: DataReader, n: int = 64) -> list:
    """Samples taken from `reader` without waiting, invalid (dispose/unregister) ones dropped."""
    from cyclonedds.internal import InvalidSample

    return [s for s in reader.take(N=n) if not isinstance(s, InvalidSample)]


class MotionSwitcher:
    """The Go2's motion-switcher service (sport mode) through the SDK's RPC client."""

    def __init__(self, timeout: float = 2.0):
        from unitree_sdk2py.comm.motion_switcher.motion_switcher_client import MotionSwitcherClient

        self.client = MotionSwitcherClient()
        self.client.SetTimeout(timeout)
        self.client.Init()

    def active_mode(self) -> str | None:
        """Name of the active motion mode ('' when released); None when the service does not answer."""
        code, data = self.client.CheckMode()
        if code != 0 or data is None:
            return None
        if isinstance(data, str):
            data = json.loads(data)
        return str(data.get("name", ""))

    def release(self, attempts: int = 5, pause: float = 0.5) -> tuple[bool, str]:
        """Release sport mode (ReleaseMode until CheckMode says none is active)."""
        for _ in range(attempts):
            mode = self.active_mode()
            if mode is None:
                return False, "motion switcher did not answer"
            if mode == "":
                return True, "sport mode released: low-level control is available"
            self.client.ReleaseMode()
            time.sleep(pause)
        mode = self.active_mode()
        return mode == "", f"motion mode after release: {mode!r}"
