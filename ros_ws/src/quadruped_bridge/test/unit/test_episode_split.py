"""The recorder's bag routing and disk policy (quadruped_bridge.episode_split); the recorder node
itself, over DDS into real bags, is tested in integration/test_recorder_node.py."""

from __future__ import annotations

from quadruped_bridge.episode_split import Route, disk_problem, route


def play(events, split=True):
    """Feed a message stream through route(); return the bags as lists of what they hold."""
    bags, current = [], None
    for ev in events:
        r = route(None if ev == "data" else ev, current is not None, split)
        if r.close_before:
            current = None
        if r.open_kind:
            current = [r.open_kind]
            bags.append(current)
        current.append(ev)
        if r.close_after:
            current = None
    return bags


def test_one_bag_per_episode_and_the_time_between_kept_apart():
    stream = ["data", "start", "data", "data", "success", "data", "reset", "start", "data", "fail", "data"]
    assert play(stream) == [
        ["between", "data"],
        ["episode", "start", "data", "data", "success"],
        ["between", "data", "reset"],  # a reset between episodes closes the between bag too
        ["episode", "start", "data", "fail"],
        ["between", "data"],
    ]


def test_a_start_inside_an_episode_begins_a_new_one():
    assert play(["start", "data", "start", "data"]) == [["episode", "start", "data"], ["episode", "start", "data"]]


def test_without_splitting_everything_goes_into_one_episode_bag():
    assert play(["data", "start", "data", "success", "data"], split=False) == [
        ["episode", "data", "start", "data", "success", "data"]
    ]
    assert route("start", bag_open=True, split_episodes=False) == Route(False, None, False)


def test_disk_policy():
    assert disk_problem(600.0, 500.0, "/data") is None
    msg = disk_problem(120.4, 500.0, "/data")
    assert msg.startswith("disk nearly full: 120 MB free in /data (< min_free_mb 500)") and "recording stopped" in msg
