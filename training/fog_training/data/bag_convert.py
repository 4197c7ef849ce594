"""One bag -> its episodes, in the store's layout, and its quality figures.

The bag is read twice. Pass 1 takes every message's timing (header stamps; receive times for the
headerless topics, mapped through /clock when the bag has it) and the values of the low-rate topics
(commands, events, poses). From the timing come the episodes (split on ``episode/event``), the policy
ticks inside each, and which ticks keep fresh sensors. Pass 2 decodes only the images, joint states
and IMU samples those ticks use. Each kept run of ticks becomes an episode: image, proprio, the
action in effect, the reward of the configured source (its formula lives with its task:
quadruped_bridge.tasks, fog_contract.proprio) and the extras.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from fog_contract.images import resize_rgb
from fog_contract.proprio import upright_reward
from quadruped_bridge.tasks import GoalTask, PushCubeTask

from fog_training.data import alignment as al
from fog_training.data.bag_messages import (
    JointOrder,
    any_image_to_rgb,
    camera_info,
    imu_features,
    low_rate_value,
    new_typestore,
    register_unknown_types,
)
from fog_training.data.bag_quality import BagResult, Stream, span_timing, topic_quality
from fog_training.data.bag_reader import BagError, BagSource, CorruptDataError, header_stamp_ns
from fog_training.data.bag_topics import (
    BASE,
    CLOCK,
    CMD,
    CUBE,
    EVENT,
    GOAL,
    IMAGE,
    IMU,
    INFO,
    JCMD,
    JOINTS,
    POSE_REWARDS,
    check_topics,
    required_topics,
    topic_names,
)

if TYPE_CHECKING:
    from fog_training.data.bag_to_dataset import BagToDatasetConfig

LOW_RATE = (CMD, JCMD, EVENT, CUBE, BASE, GOAL)
"""Topics whose values pass 1 keeps (every message): commands, events, poses."""


def convert_bag(
    path: Path, cfg: BagToDatasetConfig, bag_index: int = 0, typestore=None, progress=None
) -> BagResult:
    """Read one bag and return its episodes (arrays in the store's layout) and quality figures.

    A bag whose data turn out corrupt while reading is read again forward record by record (an
    MCAP), skipping the rest of each corrupt chunk; its problems say what was skipped."""
    typestore = typestore or new_typestore()
    try:
        return _OneBag(Path(path), cfg, typestore).convert(bag_index, progress, None)
    except CorruptDataError as e:
        return _OneBag(Path(path), cfg, typestore).convert(bag_index, progress, str(e).split(": ", 1)[-1])


def command_in_effect(cmd_stamps: np.ndarray, cmd_values: np.ndarray, ticks: np.ndarray, timeout_ns: int) -> np.ndarray:
    """The velocity command in effect at each tick: the latest at or before it, 0 if none or timed out."""
    idx = al.latest_at_or_before(cmd_stamps, ticks)
    ok = al.fresh(ticks, cmd_stamps, idx, timeout_ns)
    out = np.zeros((len(ticks), cmd_values.shape[1]))
    out[ok] = cmd_values[idx[ok]]
    return out


@dataclass
class Piece:
    """A run of consecutive ticks with fresh sensors inside one episode span: one stored episode."""

    span_index: int
    span: al.EpisodeSpan
    ticks: np.ndarray
    sel: dict[str, np.ndarray]
    """Per sensor topic: the index (into its Stream) of the latest message at or before each tick."""
    reaches_end: bool


class _OneBag:
    """The state of one bag's conversion, pass by pass."""

    def __init__(self, path: Path, cfg: BagToDatasetConfig, typestore) -> None:
        self.path, self.cfg, self.typestore = path, cfg, typestore
        self.result = BagResult(path)
        self.joints = JointOrder(path)

    def convert(self, bag_index: int, progress, force_scan: str | None) -> BagResult:
        with BagSource(self.path, force_scan=force_scan) as src:
            self.src = src
            self._topics()
            n_msgs = self._timing_pass()
            if progress is not None:
                progress.set_postfix_str(f"{src.path.name}: decoding")
            for rel in required_topics(self.cfg.action, self.cfg.reward_source):
                if not self.stamps[rel]:
                    raise BagError(src.path, "has no messages" + (" (truncated bag?)" if src.salvaged else ""),
                                   self.full[rel])
            self._streams()
            pieces = self._pieces()
            decoded = self._decode_pass(pieces)
        for piece in pieces:
            self.result.episodes.append(self._episode(piece, decoded, bag_index))
        self.result.quality["messages"] = n_msgs
        return self.result

    # ---- which topics ----
    def _topics(self) -> None:
        src, cfg = self.src, self.cfg
        self.result.problems += src.problems
        self.result.namespace, self.full = topic_names(src.topics, cfg.namespace, cfg.topic, src.path)
        self.rel_of = {f: r for r, f in self.full.items()}
        self.present = check_topics(src.topics, self.full, cfg.action, cfg.reward_source, src.path)
        if INFO not in self.present:
            self.result.problems.append(f"no {self.full[INFO]}: meta.camera_info left empty")
        register_unknown_types(self.typestore, src)
        cmd_stamped = CMD in self.present and src.topics[self.full[CMD]].endswith("TwistStamped")
        self.headerless = {EVENT} | ({CMD} if not cmd_stamped else set())

    # ---- pass 1: timing of everything; values of the low-rate topics ----
    def _timing_pass(self) -> int:
        src, present = self.src, self.present
        self.stamps: dict[str, list[int]] = {r: [] for r in present}
        self.recv: dict[str, list[int]] = {r: [] for r in present}
        self.values: dict[str, list[Any]] = {r: [] for r in LOW_RATE if r in present}
        self.clock_recv: list[int] = []
        self.clock_val: list[int] = []
        n_msgs = 0
        for topic, t_recv, raw in src.messages([self.full[r] for r in present]):
            rel = self.rel_of[topic]
            n_msgs += 1
            try:
                self._take_timing(rel, topic, t_recv, raw)
            except BagError:
                raise
            except Exception as e:
                raise BagError(
                    src.path, f"cannot decode message {len(self.stamps.get(rel, []))} ({type(e).__name__}: {e})", topic
                ) from e
        return n_msgs

    def _take_timing(self, rel: str, topic: str, t_recv: int, raw) -> None:
        if rel == CLOCK:
            self.clock_recv.append(t_recv)
            self.clock_val.append(header_stamp_ns(raw))  # Clock's one field is a Time, like a header
            return
        self.recv[rel].append(t_recv)
        self.stamps[rel].append(t_recv if rel in self.headerless else header_stamp_ns(raw))
        if rel == INFO and self.result.camera_info is None:
            self.result.camera_info = camera_info(self.typestore.deserialize_cdr(raw, self.src.topics[topic]))
        elif rel in self.values:
            msg = self.typestore.deserialize_cdr(raw, self.src.topics[topic])
            self.values[rel].append(low_rate_value(rel, msg, self.joints, topic))

    def _streams(self) -> None:
        """Sorted timing per topic (headerless topics on the /clock clock when the bag has one) and
        the per-topic quality figures, times counted from the bag's start."""
        res, present = self.result, self.present
        if self.clock_recv:
            order = np.argsort(self.clock_recv, kind="stable")
            cr, cv = np.asarray(self.clock_recv, np.int64)[order], np.asarray(self.clock_val, np.int64)[order]
            for rel in self.headerless & present:
                self.stamps[rel] = al.map_to_clock(np.asarray(self.stamps[rel], np.int64), cr, cv).tolist()
            offset_ms = float(np.median((cr - cv) / 1e6))
            if abs(offset_ms) > 1.0:
                res.problems.append(
                    f"recorder clock runs {offset_ms:.1f} ms from /clock: headerless topics mapped through /clock"
                )
        self.streams = {rel: Stream.build(self.stamps[rel], self.recv[rel]) for rel in present if rel != CLOCK}
        for rel, vals in self.values.items():
            self.values[rel] = [vals[i] for i in self.streams[rel].ordinals]  # sorted like the stamps
        res.streams = {rel: s.stamps for rel, s in self.streams.items()}
        if self.clock_recv:
            res.streams[CLOCK] = np.sort(np.asarray(self.clock_val, np.int64))
        self.t0 = min(int(s[0]) for s in res.streams.values() if len(s))  # the earliest header stamp
        res.quality["t0_ns"] = self.t0
        # The camera's period comes from the data (its median interval) unless --camera-rate says.
        nominal = {CMD: 1e9 / self.cfg.rate} | ({IMAGE: 1e9 / self.cfg.camera_rate} if self.cfg.camera_rate else {})
        res.quality["topics"] = {
            rel: topic_quality(s.stamps, None if rel in self.headerless else s.recv, nominal.get(rel), self.t0)
            for rel, s in self.streams.items()
        }
        if self.clock_recv:
            res.quality["topics"][CLOCK] = topic_quality(res.streams[CLOCK], None, None, self.t0)

    # ---- episodes and ticks ----
    def _sensors(self) -> list[str]:
        poses = {"goal-progress": [BASE], **dict.fromkeys(POSE_REWARDS, [CUBE, BASE])}
        return [IMAGE, JOINTS, IMU] + poses.get(self.cfg.reward_source, [])

    def _spans(self, sensors: list[str]) -> list[al.EpisodeSpan]:
        """The episode spans: the bag's usable time (from when every sensor has spoken to when the
        first one stops), split on episode/event."""
        bag_start = max(int(self.streams[r].stamps[0]) for r in sensors)
        bag_end = min(int(self.streams[r].stamps[-1]) for r in sensors)
        events: list[tuple[int, str]] = []
        unknown: list[str] = []
        if EVENT in self.present:
            for t, text in zip(self.streams[EVENT].stamps, self.values[EVENT], strict=True):
                if text in al.EVENTS:
                    events.append((int(t), text))
                else:
                    unknown.append(text)
        if unknown:
            self.result.problems.append(f"ignored unknown episode/event texts: {sorted(set(unknown))}")
        return al.episode_spans(events, bag_start, bag_end)

    def _pieces(self) -> list[Piece]:
        cfg, streams = self.cfg, self.streams
        sensors = self._sensors()
        max_age = int(cfg.max_sensor_age * 1e9)
        cam_period = self.result.quality["topics"][IMAGE].get("nominal_period_ms", math.nan) * 1e6
        pieces = []
        for si, span in enumerate(self._spans(sensors)):
            ticks = al.policy_ticks(span.start_ns, span.end_ns, cfg.rate)
            sel = {r: al.latest_at_or_before(streams[r].stamps, ticks) for r in sensors}
            ok = np.ones(len(ticks), bool)
            for r in sensors:
                ok &= al.fresh(ticks, streams[r].stamps, sel[r], max_age)
            if cfg.action == "joints":
                sel[JCMD] = al.latest_at_or_before(streams[JCMD].stamps, ticks)
                ok &= al.fresh(ticks, streams[JCMD].stamps, sel[JCMD], int(cfg.command_timeout * 1e9))
            runs = al.contiguous_runs(ok, cfg.min_episode_steps)
            span_q = {
                "span": si,
                "start_s": (span.start_ns - self.t0) / 1e9,
                "duration_s": (span.end_ns - span.start_ns) / 1e9,
                "outcome": span.outcome,
                "ticks": int(len(ticks)),
                "valid_ticks": int(ok.sum()),
                "pieces": len(runs),
                "steps": int(sum(b - a for a, b in runs)),
            }
            span_q.update(span_timing(streams, span, cam_period))
            self.result.quality.setdefault("episodes", []).append(span_q)
            for a, b in runs:
                pieces.append(Piece(si, span, ticks[a:b], {r: v[a:b] for r, v in sel.items()}, b == len(ticks)))
        return pieces

    # ---- pass 2: decode only the images / joint states / IMU samples that ticks use ----
    def _decode_pass(self, pieces: list[Piece]) -> dict[str, dict[int, Any]]:
        streams = self.streams
        need: dict[str, set[int]] = {r: set() for r in (IMAGE, JOINTS, IMU)}
        for piece in pieces:
            for r in need:
                idx = piece.sel[r]
                need[r].update(streams[r].ordinals[idx].tolist())
                if r == JOINTS:  # predecessor, for velocities when the message has none
                    need[r].update(streams[r].ordinals[np.maximum(idx - 1, 0)].tolist())
        decoded: dict[str, dict[int, Any]] = {r: {} for r in need}
        if not pieces:
            return decoded
        counters = dict.fromkeys(need, 0)
        for topic, _t, raw in self.src.messages([self.full[r] for r in need]):
            rel = self.rel_of[topic]
            k = counters[rel]
            counters[rel] += 1
            if k not in need[rel]:
                continue
            if header_stamp_ns(raw) != self.stamps[rel][k]:
                # Messages are matched to pass 1 by their order per topic: make sure it held.
                raise BagError(self.src.path, f"message {k} differs from the first read (order changed)", topic)
            try:
                decoded[rel][k] = self._decode(rel, topic, raw)
            except BagError:
                raise
            except Exception as e:
                raise BagError(self.src.path, f"cannot decode message {k} ({type(e).__name__}: {e})", topic) from e
        return decoded

    def _decode(self, rel: str, topic: str, raw):
        msg = self.typestore.deserialize_cdr(raw, self.src.topics[topic])
        if rel == IMAGE:
            return resize_rgb(any_image_to_rgb(msg, self.src.path, topic), self.cfg.image_size)
        if rel == JOINTS:
            return self.joints.state(msg, topic)
        return imu_features(msg)

    # ---- assemble episodes ----
    def _proprio(self, piece: Piece, decoded) -> np.ndarray:
        js = self.streams[JOINTS]
        n = len(piece.ticks)
        q, dq = np.zeros((n, 12)), np.zeros((n, 12))
        for j, i in enumerate(piece.sel[JOINTS]):
            pos, vel = decoded[JOINTS][int(js.ordinals[i])]
            q[j] = pos
            if vel is None and i > 0:  # finite difference with the previous joint state
                prev, _ = decoded[JOINTS][int(js.ordinals[i - 1])]
                dt = (js.stamps[i] - js.stamps[i - 1]) / 1e9
                vel = (pos - prev) / dt if dt > 0 else np.zeros(12)
            dq[j] = vel if vel is not None else 0.0
        imu = np.stack([decoded[IMU][int(self.streams[IMU].ordinals[i])] for i in piece.sel[IMU]])
        return np.concatenate([q, dq, imu], axis=1)

    def _episode(self, piece: Piece, decoded, bag_index: int) -> dict[str, Any]:
        cfg, streams, ticks, n = self.cfg, self.streams, piece.ticks, len(piece.ticks)
        imgs = np.stack([decoded[IMAGE][int(streams[IMAGE].ordinals[i])] for i in piece.sel[IMAGE]])
        proprio = self._proprio(piece, decoded)
        if cfg.action == "cmd_vel":
            cmd = np.asarray(self.values[CMD]).reshape(-1, 3)
            action = command_in_effect(streams[CMD].stamps, cmd, ticks, int(cfg.command_timeout * 1e9))
        else:
            action = np.stack([self.values[JCMD][i] for i in piece.sel[JCMD]])
        terminal, success = np.zeros(n, bool), np.zeros(n, bool)
        if piece.span.terminal and piece.reaches_end:
            terminal[-1] = True
            success[-1] = piece.span.outcome == al.SUCCESS
        extra: dict[str, np.ndarray] = {
            "time": ticks / 1e9,
            "image_age": ((ticks - streams[IMAGE].stamps[piece.sel[IMAGE]]) / 1e9).astype(np.float32),
            "success": success,
            "bag": np.full(n, bag_index, np.int32),
        }
        reward = self._reward(piece, proprio, terminal, extra)
        return {"image": imgs, "action": action, "proprio": proprio, "reward": reward, "is_terminal": terminal,
                "extra": extra, "span": piece.span_index}

    # ---- rewards (their formulas live with their tasks) ----
    def _poses(self, rel: str, ticks: np.ndarray) -> np.ndarray:
        idx = np.maximum(al.latest_at_or_before(self.streams[rel].stamps, ticks), 0)
        return np.asarray(self.values[rel], np.float64)[idx]

    def _goal(self, ticks: np.ndarray) -> np.ndarray:
        """Goal (x, y) per tick: latest sim/goal_pose at or before it (before the first one: the first),
        else the --goal option."""
        if self.values.get(GOAL):
            return self._poses(GOAL, ticks)[:, :2]
        if self.cfg.goal is None:
            raise BagError(self.src.path, "no goal for --reward-source sim: the bag has no sim/goal_pose; "
                           "pass --goal X Y", self.full[GOAL])
        return np.tile(np.asarray(self.cfg.goal, np.float64), (len(ticks), 1))

    def _reward(self, piece: Piece, proprio: np.ndarray, terminal: np.ndarray, extra: dict) -> np.ndarray:
        cfg, ticks = self.cfg, piece.ticks
        nxt = ticks + int(round(1e9 / cfg.rate))
        if cfg.reward_source in POSE_REWARDS:
            task = PushCubeTask(robot_weight=cfg.sim_robot_weight, contact_radius=cfg.sim_contact_radius)
            base_now, cube_now = self._poses(BASE, ticks), self._poses(CUBE, ticks)
            base_next, cube_next = self._poses(BASE, nxt), self._poses(CUBE, nxt)
            goal = self._goal(ticks)
            extra["state"] = np.concatenate([base_now, cube_now, goal], axis=1).astype(np.float32)
            if cfg.reward_source == "sim-progress":
                return task.progress_reward(base_now, cube_now, base_next, cube_next, goal, cfg.rate)
            return task.potential(base_next, cube_next, goal)
        if cfg.reward_source == "goal-progress":
            base_now, goal = self._poses(BASE, ticks), self._goal(ticks)
            extra["state"] = np.concatenate([base_now, goal], axis=1).astype(np.float32)
            return GoalTask().reward(base_now, self._poses(BASE, nxt), goal, cfg.rate)
        if cfg.reward_source == "events":
            reward = np.zeros(len(ticks))
            if terminal[-1]:
                reward[-1] = 1.0 if piece.span.outcome == al.SUCCESS else -1.0
            return reward
        return upright_reward(proprio)
