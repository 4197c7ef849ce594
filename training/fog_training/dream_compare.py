"""`fog dream compare`: replay a recorded episode's actions through the world model, real beside imagined.

The bag (written by `fog collect` or the recorder) is converted exactly as `fog dataset` converts
it (policy ticks at the model's rate, the cmd_vel in effect at each tick, frames resized to the
model's size); the world model starts from the episode's first L real frames and then imagines
every later frame from its own previous ones and the recorded actions only (open loop: it never
sees another real frame). Writes to --out:

  compare.mp4    real | imagined, side by side, one video frame per policy step (the first L are
                 the real context, shown on both sides)
  psnr.png       PSNR (dB) of each imagined frame against the real one, per imagined step, with
                 the "nothing moves" baseline (the last context frame against each real frame);
                 below it the imagined reward (and the bag's, when it holds the goal task's poses)
                 and, with --artifact, the policy's RSSM surprise on the real and imagined frames
  compare.json   the figures behind the plot

Options: --live publishes while it runs (wall clock, at the policy rate): dream/compare/image
(sensor_msgs/Image rgb8, real | imagined), dream/compare/psnr and dream/compare/surprise
(std_msgs/Float32), on the project's ROS domain with localhost discovery (quadruped_bridge.
network_policy). --artifact ARTIFACT: the surprise, KL(posterior || prior) of the artifact's RSSM
(what the policy node stops on), fed the recorded actions.

Examples::

    fog dream compare --bag runs/goal/bags/episode_20261201-141056_0001 --world-model runs/goal/global
    fog dream compare --bag BAG --world-model ros_ws/src/fog_policy/artifacts/goal/world_model \\
        --artifact ros_ws/src/fog_policy/artifacts/goal --out runs/compare --live
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from fog_worldmodel.dream import WorldModelFolderError, load_model, model_folder, psnr, read_store
from fog_worldmodel.world_model_env import WorldModelEnv

SCALE = 8
"""Video pixels per model pixel (32x32 frames -> 256x256 panels)."""


class CompareError(ValueError):
    """A bag or an option that cannot be compared; the message names it."""


def bag_episode(bag: Path, episode: int, rate: float, image_size: int) -> dict:
    """The bag's episode ``episode`` as `fog dataset` would store it (image, action, reward ...)."""
    from fog_training.data.bag_convert import convert_bag
    from fog_training.data.bag_reader import BagError, BagSource
    from fog_training.data.bag_to_dataset import BagToDatasetConfig

    try:
        with BagSource(bag) as src:
            topics = set(src.topics)
    except BagError as e:
        raise CompareError(f"--bag {bag}: {e}") from e
    goal = any(t.endswith("sim/goal_pose") for t in topics) and any(t.endswith("sim/base_pose") for t in topics)
    cfg = BagToDatasetConfig(
        bags=[bag],
        out=Path(tempfile.gettempdir()) / "unused.zarr",
        rate=rate,
        image_size=image_size,
        reward_source="goal-progress" if goal else "proprio",
        action="cmd_vel",
        report=False,
    )
    try:
        result = convert_bag(bag, cfg)
    except (BagError, ValueError, KeyError) as e:
        raise CompareError(f"--bag {bag}: cannot read its episodes ({e})") from e
    if not result.episodes:
        raise CompareError(
            f"--bag {bag}: no episode (needs camera/image_raw, joint_states, imu/data and cmd_vel at the policy "
            f"ticks; problems: {result.problems or 'none'})"
        )
    if not 0 <= episode < len(result.episodes):
        raise CompareError(f"--bag {bag} has {len(result.episodes)} episode(s) (0..{len(result.episodes) - 1}), "
                           f"not --episode {episode}")
    ep = dict(result.episodes[episode])
    ep["reward_source"] = "goal-progress" if goal else None
    return ep


def surprise_of(artifact: str, frames: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """KL(posterior || prior) per frame of the artifact's RSSM, fed the recorded previous actions."""
    from fog_policy.policy_runtime import PolicyRuntime

    rt = PolicyRuntime(artifact)
    out = []
    for t in range(len(frames)):
        if t > 0:
            rt.prev_action = np.asarray(actions[t - 1], np.float32)[None]
        out.append(rt.step(frames[t]).surprise)
    return np.asarray(out)


def panel(real: np.ndarray, imagined: np.ndarray, text: str) -> np.ndarray:
    """Real | imagined, upscaled, with a caption strip: uint8 [32 + S*SCALE, 2*S*SCALE + 8, 3]."""
    import cv2

    s = real.shape[0] * SCALE
    big = lambda f: cv2.resize(f, (s, s), interpolation=cv2.INTER_NEAREST)  # noqa: E731
    out = np.full((32 + s, 2 * s + 8, 3), 255, np.uint8)
    out[32:, :s], out[32:, s + 8 :] = big(real), big(imagined)
    cv2.putText(out, "real", (4, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(out, text, (s + 12, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class Live:
    """Publishes the comparison while it runs (one message set per policy step, wall clock)."""

    def __init__(self, rate: float):
        import rclpy
        from quadruped_bridge import clean_exit
        from rclpy.qos import QoSProfile, qos_profile_sensor_data
        from sensor_msgs.msg import Image
        from std_msgs.msg import Float32

        self.rclpy, self.Float32 = rclpy, Float32
        self.stop = clean_exit.init([])
        self.node = rclpy.create_node("dream_compare")
        self.pub_image = self.node.create_publisher(Image, "dream/compare/image", qos_profile_sensor_data)
        self.pub_psnr = self.node.create_publisher(Float32, "dream/compare/psnr", QoSProfile(depth=10))
        self.pub_surprise = self.node.create_publisher(Float32, "dream/compare/surprise", QoSProfile(depth=10))
        self.period = 1.0 / rate
        self.next = None
        # a few seconds for a viewer already listening to be discovered (what is published before is lost)
        import time

        deadline = time.monotonic() + 3.0
        while self.pub_image.get_subscription_count() == 0 and time.monotonic() < deadline and not self.stop.is_set():
            time.sleep(0.05)

    def publish(self, image: np.ndarray, psnr_db: float | None, surprise: float | None) -> None:
        import time

        from quadruped_bridge import ros_messages as rm

        now = time.monotonic()
        self.next = now if self.next is None else self.next
        if self.next > now:
            time.sleep(self.next - now)
        self.next += self.period
        t = self.node.get_clock().now().nanoseconds * 1e-9
        self.pub_image.publish(rm.image_msg(t, image, frame_id="dream_compare"))
        if psnr_db is not None:
            self.pub_psnr.publish(self.Float32(data=float(min(psnr_db, 99.0))))
        if surprise is not None:
            self.pub_surprise.publish(self.Float32(data=float(surprise)))

    def close(self) -> None:
        self.node.destroy_node()
        self.rclpy.try_shutdown()


def _default_rate(info: dict) -> float:
    """The policy rate of the model's dataset (its folder's info, else its store's meta), 5 Hz when neither says."""
    rate = info.get("policy_rate_hz")
    if rate is None and info.get("data"):
        try:
            rate = read_store(info["data"])[1].get("policy_rate_hz")
        except WorldModelFolderError:
            rate = None
    return float(rate or 5.0)


def _check_episode(model, bag, episode: int, rate: float, frames: np.ndarray, actions: np.ndarray) -> None:
    """CompareError when the episode's frames or actions do not fit the model."""
    S = model.cfg.image_size
    if frames.shape[1:3] != (S, S):
        raise CompareError(f"--bag {bag}: frames came out {frames.shape[1:3]}, expected {S}x{S}")
    if actions.shape[1] != model.cfg.action_dim:
        raise CompareError(f"--bag {bag}: {actions.shape[1]}-dimensional actions, the model takes "
                           f"{model.cfg.action_dim} (cmd_vel: vx, vy, yaw rate)")


def _imagine(model, frames: np.ndarray, actions: np.ndarray, T: int, seed: int) -> tuple[np.ndarray, list, list]:
    """Open loop from the first L real frames, fed the recorded actions up to frame T:
    imagined frames [T - L, S, S, 3], imagined rewards and termination probabilities."""
    L = model.cfg.context_length
    env = WorldModelEnv(model, seed=seed, as_numpy=True)
    env.reset(frames[None, :L], actions[None, :L])
    imagined, rewards, term = [], [], []
    for t in range(L - 1, T - 1):  # the action taken at frame t leads to frame t + 1
        f, r, _ = env.step(actions[None, t])
        imagined.append(f[0])
        rewards.append(float(r[0]))
        term.append(float(env.last_termination_probability[0]))
    return np.stack(imagined), rewards, term


def _panels(frames: np.ndarray, imagined: np.ndarray, psnr_steps: list, L: int):
    """Yields (video frame, PSNR or None) per policy step: the L context frames on both sides, then real | imagined."""
    for t in range(len(frames)):
        if t < L:
            yield panel(frames[t], frames[t], f"context {t + 1}/{L}"), None
        else:
            k = t - L
            p = psnr_steps[k]
            yield panel(frames[t], imagined[k], f"imagined +{k + 1}  {p:.1f} dB"), p


def compare(
    bag, world_model, out, episode: int = 0, seed: int = 0, rate: float | None = None, artifact: str | None = None,
    max_steps: int = 0, live: bool = False, threads: int = 1,
) -> dict:
    torch.set_num_threads(threads)
    model_dir, info = model_folder(world_model)
    model = load_model(model_dir)
    if rate is None:
        rate = _default_rate(info)
    L, S = model.cfg.context_length, model.cfg.image_size
    ep = bag_episode(Path(bag), episode, rate, S)
    frames, actions = ep["image"], ep["action"].astype(np.float32)
    _check_episode(model, bag, episode, rate, frames, actions)
    T = len(frames) if max_steps <= 0 else min(len(frames), L + max_steps)
    if T <= L:
        raise CompareError(f"--bag {bag}: episode {episode} has {len(frames)} steps at {rate:g} Hz, the model needs "
                           f"more than its {L} context frames")
    imagined, rewards, term = _imagine(model, frames, actions, T, seed)
    real = frames[L:T]
    psnr_steps = [psnr(a, b) for a, b in zip(real, imagined, strict=True)]
    still = [psnr(frames[L - 1], b) for b in real]  # "nothing moves": the last context frame
    surprise_real = surprise_imag = None
    if artifact:
        surprise_real = surprise_of(artifact, frames[:T], actions[:T])
        surprise_imag = surprise_of(artifact, np.concatenate([frames[:L], imagined]), actions[:T])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    live_pub = Live(rate) if live else None
    import imageio.v2 as imageio

    try:
        with imageio.get_writer(out / "compare.mp4", fps=rate, codec="libx264", macro_block_size=8) as video:
            for t, (img, p) in enumerate(_panels(frames[:T], imagined, psnr_steps, L)):
                video.append_data(img)
                if live_pub is not None:
                    if live_pub.stop.is_set():
                        break
                    s = None if surprise_real is None else float(surprise_real[t])
                    live_pub.publish(img, p, s)
    finally:
        if live_pub is not None:
            live_pub.close()
    summary = {
        "bag": str(bag),
        "episode": episode,
        "world_model": str(model_dir),
        "rate_hz": rate,
        "seed": seed,
        "context_frames": L,
        "imagined_steps": len(psnr_steps),
        "psnr_db": psnr_steps,
        "psnr_db_mean": float(np.mean(psnr_steps)),
        "psnr_db_still_baseline": still,
        "imagined_reward": rewards,
        "real_reward": ep["reward"][L - 1 : T - 1].tolist() if ep["reward_source"] else None,
        "real_reward_source": ep["reward_source"],
        "imagined_termination_probability": term,
        "surprise_real": None if surprise_real is None else surprise_real.tolist(),
        "surprise_imagined": None if surprise_imag is None else surprise_imag.tolist(),
        "actions": actions[:T].tolist(),
    }
    plot(out / "psnr.png", summary)
    (out / "compare.json").write_text(json.dumps(summary, indent=2))
    return summary


def plot(path: Path, s: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 2 + (s["surprise_real"] is not None)
    fig, axes = plt.subplots(rows, 1, figsize=(8, 2.6 * rows + 0.6), sharex=True)
    k = np.arange(1, s["imagined_steps"] + 1)
    ax = axes[0]
    ax.plot(k, s["psnr_db"], marker=".", label="imagined vs real")
    ax.plot(k, s["psnr_db_still_baseline"], ls="--", color="gray", label="last context frame vs real (nothing moves)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{Path(s['bag']).name}, episode {s['episode']}: open loop from {s['context_frames']} real frames, "
                 f"mean {s['psnr_db_mean']:.1f} dB", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(k, s["imagined_reward"], label="imagined reward")
    if s["real_reward"] is not None:
        ax.plot(k, s["real_reward"], label=f"bag's reward ({s['real_reward_source']})")
    ax.plot(k, s["imagined_termination_probability"], ls=":", label="imagined P(terminal)")
    ax.set_ylabel("reward")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if s["surprise_real"] is not None:
        ax = axes[2]
        L = s["context_frames"]
        ax.plot(k, s["surprise_real"][L:], label="on the real frames")
        ax.plot(k, s["surprise_imagined"][L:], label="on the imagined frames")
        ax.set_ylabel("RSSM surprise (nats)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[-1].set_xlabel(f"imagined step (1 step = {1 / s['rate_hz']:.2f} s)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fog dream compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--bag", required=True, help="rosbag2 bag (folder, .mcap or .db3) of the robot's topics")
    p.add_argument("--world-model", required=True, help="dream bundle, global model folder or world-model run")
    p.add_argument("--out", default=None, help="output folder (default: dream_compare/<bag name>)")
    p.add_argument("--episode", type=int, default=0, help="which of the bag's episodes (by its episode/event)")
    p.add_argument("--seed", type=int, default=0, help="sampler noise seed")
    p.add_argument("--rate", type=float, default=None, help="policy rate (default: the model's dataset's)")
    p.add_argument("--steps", type=int, default=0, help="imagine at most this many steps (0: the whole episode)")
    p.add_argument("--artifact", default=None, help="policy artifact whose RSSM surprise to plot")
    p.add_argument("--live", action="store_true", help="also publish on dream/compare/* while it runs")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    a = p.parse_args(argv)
    out = a.out or str(Path("dream_compare") / Path(a.bag).name)
    try:
        s = compare(a.bag, a.world_model, out, a.episode, a.seed, a.rate, a.artifact, a.steps, a.live, a.threads)
    except (CompareError, WorldModelFolderError) as e:
        print(f"fog dream compare: {e}", file=sys.stderr)
        return 2
    print(f"[dream compare] {s['imagined_steps']} imagined steps, PSNR mean {s['psnr_db_mean']:.2f} dB "
          f"(first {s['psnr_db'][0]:.2f}, last {s['psnr_db'][-1]:.2f}); nothing-moves baseline mean "
          f"{float(np.mean(s['psnr_db_still_baseline'])):.2f} dB")
    print(f"[dream compare] wrote {out}/compare.mp4, {out}/psnr.png, {out}/compare.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
