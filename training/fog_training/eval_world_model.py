"""``fog eval world-model``: how good are the learned world models on held-out episodes?

Reports, on windows from the held-out episodes (the training run's split):
- open-loop prediction quality vs horizon (PSNR and SSIM at 1, 2, 4, 8, 16 steps) of the global
  model, started from L real frames and fed the real actions, beside the copy-last-frame baseline;
  PSNR is computed from the MSE pooled over all windows (robust to identical frames), the mean of
  per-frame PSNRs (capped at 100 dB) is reported too;
- action responsiveness: the same contexts rolled out with their real actions and with another
  window's actions; the mean absolute pixel distance between the two futures, beside the distance
  between two rollouts with the same actions and different noise seeds;
- reward prediction error (MSE) of the reward head (teacher-forced on real frames, and along the
  imagined rollouts) and of the RSSM (posterior states on real frames, and open-loop imagination)
  vs predicting the dataset's mean reward;
- a real-vs-imagined video (MP4, GIF fallback), a plot (PNG), summary.json and summary.md.

Examples::

    fog eval world-model --run runs/pusht/global --data data/pusht.zarr --rssm-run runs/pusht/rssm
    fog eval world-model --run /tmp/wm --data /tmp/synth.zarr --windows 8 --horizons 1 2 4
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from fog_worldmodel.global_world_model import GlobalWorldModel
from fog_worldmodel.rssm import RSSM, prev_actions_from
from fog_worldmodel.world_model_env import WorldModelEnv


@dataclass
class EvalConfig:
    run: str = ""
    """Run directory of the global world model (reads RUN/model and RUN/config.json)."""
    data: str = ""
    """Episode store (Zarr) to evaluate on."""
    rssm_run: str = ""
    """Run directory of the RSSM (optional): adds its reward prediction error."""
    out: str = ""
    """Output directory (default RUN/eval)."""
    windows: int = 64
    """Context windows for the open-loop metrics and reward errors."""
    horizons: tuple[int, ...] = (1, 2, 4, 8, 16)
    """Open-loop horizons to report."""
    batch: int = 16
    """Environments stepped together."""
    response_windows: int = 16
    """Contexts for the action-responsiveness test."""
    response_horizon: int = 8
    """Steps of the action-responsiveness rollouts."""
    reward_seq_len: int = 16
    """Frames per sequence for the teacher-forced reward errors."""
    video_windows: int = 4
    """Rollouts shown in the video (rows)."""
    split: Literal["val", "train", "all"] = "val"
    """Episodes to evaluate on (val = the run's held-out episodes)."""
    seed: int = 0
    """Seed of window choice and sampling noise."""
    threads: int = 0
    """torch CPU threads (0 = default)."""


def _pick(starts: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(starts, size=min(n, len(starts)), replace=False)) if len(starts) else starts


@torch.no_grad()
def rollout(
    model: GlobalWorldModel, frames: np.ndarray, actions: np.ndarray, horizon: int, seed: int, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Open loop from frames[:, :L] with actions[:, L-1 : L-1+horizon] -> (frames [N, H, S, S, 3], rewards [N, H])."""
    L = model.cfg.context_length
    outs, rews = [], []
    for i in range(0, len(frames), batch):
        env = WorldModelEnv(model, seed=seed + i)
        env.reset(frames[i : i + batch, :L], actions[i : i + batch, : L - 1])
        fs, rs = [], []
        for k in range(horizon):
            f, r, _ = env.step(actions[i : i + batch, L - 1 + k])
            fs.append(f.cpu().numpy())
            rs.append(r.cpu().numpy())
        outs.append(np.stack(fs, 1))
        rews.append(np.stack(rs, 1))
    return np.concatenate(outs), np.concatenate(rews)


def _write_video(path_stem: Path, real: np.ndarray, imag: np.ndarray, context: np.ndarray) -> str:
    """Rows = windows; each row shows real | imagined. Context frames appear on both sides."""
    import imageio.v2 as imageio

    n, h = real.shape[:2]
    frames = []
    sep = 2
    for t in range(context.shape[1] + h):
        rows = []
        for i in range(n):
            if t < context.shape[1]:
                a = b = context[i, t]
            else:
                a, b = real[i, t - context.shape[1]], imag[i, t - context.shape[1]]
            rows.append(np.concatenate([a, np.full((a.shape[0], sep, 3), 255, np.uint8), b], 1))
            rows.append(np.full((sep, rows[-1].shape[1], 3), 255, np.uint8))
        img = np.concatenate(rows[:-1], 0)
        scale = max(1, 256 // img.shape[1])
        img = img.repeat(scale, 0).repeat(scale, 1)
        ph, pw = (-img.shape[0]) % 16, (-img.shape[1]) % 16
        frames.append(np.pad(img, ((0, ph), (0, pw), (0, 0))))
    try:
        path = path_stem.with_suffix(".mp4")
        imageio.mimsave(path, frames, fps=4, macro_block_size=16)
        return str(path)
    except Exception as e:  # no ffmpeg: GIF still works everywhere
        print(f"MP4 writing failed ({e}); writing a GIF", file=sys.stderr)
        path = path_stem.with_suffix(".gif")
        imageio.mimsave(path, frames, duration=0.25)
        return str(path)


def _plot(path: Path, res: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hs = res["horizons"]
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    for key, label in (("model", "world model"), ("copy_last", "copy last frame")):
        ax[0].plot(hs, [res["psnr"][key][str(h)] for h in hs], "o-", label=label)
        ax[1].plot(hs, [res["ssim"][key][str(h)] for h in hs], "o-", label=label)
    for a, name in zip(ax, ("PSNR (dB)", "SSIM"), strict=False):
        a.set_xscale("log", base=2)
        a.set_xticks(hs, [str(h) for h in hs])
        a.set_xlabel("open-loop horizon (steps)")
        a.set_ylabel(name)
        a.grid(alpha=0.3)
    ax[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@dataclass
class _EvalData:
    """What the evaluation's sections share: the model, the episodes and the window geometry."""

    model: GlobalWorldModel
    store: Any
    sampler: Any
    run_cfg: dict[str, Any]
    split: str
    """The split evaluated on: cfg.split, or "all" where it has no window long enough."""
    L: int
    """Context frames of the model."""
    S: int
    """Image size of the model."""
    H: int
    """Longest open-loop horizon."""


def _load(cfg: EvalConfig, run: Path) -> tuple[_EvalData, np.ndarray]:
    """The model, its run's config and the episode store, and the starts of the windows of L + H frames."""
    from fog_training.data.episode_store import EpisodeStore
    from fog_training.window_sampler import WindowSampler

    model = GlobalWorldModel.from_pretrained(run / "model")
    L, S = model.cfg.context_length, model.cfg.image_size
    run_cfg = json.loads((run / "config.json").read_text()) if (run / "config.json").exists() else {}
    store = EpisodeStore(cfg.data)
    sampler = WindowSampler(store, S, run_cfg.get("val_fraction", 0.05))
    H = max(cfg.horizons)
    split = cfg.split
    try:
        starts = sampler.valid_starts(L + H, split)
    except ValueError:
        split, starts = "all", sampler.valid_starts(L + H, "all")
    return _EvalData(model, store, sampler, run_cfg, split, L, S, H), starts


def _open_loop_quality(
    res: dict[str, Any], d: _EvalData, w: dict[str, np.ndarray], cfg: EvalConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSNR and SSIM vs horizon of the model and the copy-last baseline, into ``res``;
    returns the predicted frames, the imagined rewards and the real future frames."""
    from fog_training.image_metrics import mse_per_frame, psnr_from_mse, ssim_per_frame

    L, H = d.L, d.H
    pred, imag_r = rollout(d.model, w["image"], w["action"], H, cfg.seed, cfg.batch)
    real = w["image"][:, L : L + H]
    copy = np.repeat(w["image"][:, L - 1 : L], H, axis=1)
    t_real, t_pred, t_copy = (torch.from_numpy(x) for x in (real, pred, copy))
    res["psnr"], res["psnr_frame_mean"], res["ssim"] = (
        {"model": {}, "copy_last": {}},
        {"model": {}, "copy_last": {}},
        {"model": {}, "copy_last": {}},
    )
    for h in cfg.horizons:
        for key, t in (("model", t_pred), ("copy_last", t_copy)):
            mse = mse_per_frame(t[:, h - 1], t_real[:, h - 1])
            res["psnr"][key][str(h)] = float(psnr_from_mse(mse.mean()))
            res["psnr_frame_mean"][key][str(h)] = float(psnr_from_mse(mse).mean())
            res["ssim"][key][str(h)] = float(ssim_per_frame(t[:, h - 1], t_real[:, h - 1]).mean())
    res["psnr_beats_copy_last"] = {
        str(h): res["psnr"]["model"][str(h)] > res["psnr"]["copy_last"][str(h)] for h in cfg.horizons
    }
    return pred, imag_r, real


def _action_response(d: _EvalData, w: dict[str, np.ndarray], real: np.ndarray, cfg: EvalConfig) -> dict[str, Any]:
    """How far other actions move the imagined future, beside another noise seed (and other real windows)."""
    L, model = d.L, d.model
    n, hr = min(cfg.response_windows, len(w["image"])), min(cfg.response_horizon, d.H)
    ctx, acts = w["image"][:n], w["action"][:n]
    other = np.roll(acts, 1, axis=0) if n > 1 else acts[:, ::-1].copy()
    other[:, : L - 1] = acts[:, : L - 1]  # same context, different future actions
    fa, _ = rollout(model, ctx, acts, hr, cfg.seed + 1000, cfg.batch)
    fb, _ = rollout(model, ctx, other, hr, cfg.seed + 1000, cfg.batch)
    fc, _ = rollout(model, ctx, acts, hr, cfg.seed + 2000, cfg.batch)
    d_act = np.abs(fa.astype(np.float32) - fb).mean((0, 2, 3, 4))
    d_seed = np.abs(fa.astype(np.float32) - fc).mean((0, 2, 3, 4))
    d_real = (
        np.abs(real[:n, :hr].astype(np.float32) - real[np.roll(np.arange(n), 1), :hr]).mean((0, 2, 3, 4))
        if n > 1
        else d_act * 0
    )
    return {
        "windows": n,
        "horizon": hr,
        "action_distance": float(d_act.mean()),
        "seed_distance": float(d_seed.mean()),
        "ratio": float(d_act.mean() / max(d_seed.mean(), 1e-6)),
        "action_distance_per_step": d_act.round(3).tolist(),
        "seed_distance_per_step": d_seed.round(3).tolist(),
        "note": "mean |pixel| (0-255) between futures of the same contexts: other actions vs another noise seed",
        "real_future_distance_other_windows": float(d_real.mean()),
    }


def _reward_head(
    d: _EvalData, cfg: EvalConfig, rng: np.random.Generator, mean_r: float
) -> tuple[dict[str, Any], np.ndarray, int]:
    """Reward head's MSE, teacher-forced on real sequences, vs the mean reward;
    also returns the sequences' starts and length (the RSSM is scored on the same)."""
    model, sampler = d.model, d.sampler
    T = cfg.reward_seq_len
    try:
        rs = sampler.valid_starts(T, d.split)
    except ValueError:
        T = min(T, int(min(sampler.store.episode_lengths)))
        rs = sampler.valid_starts(T, "all")
    rw = sampler.read(_pick(rs, cfg.windows, rng), T)
    with torch.no_grad():
        f = model.prepare_frames(torch.from_numpy(rw["image"]))
        pr, _, _ = model.head(f[:, :-1], model.normalize_actions(torch.from_numpy(rw["action"][:, :-1])), f[:, 1:])
        pr = model.denormalize_rewards(pr).numpy()
    tr = rw["reward"][:, :-1]
    out = {"mse": float(np.mean((pr - tr) ** 2)), "mse_mean": float(np.mean((mean_r - tr) ** 2))}
    out["beats_mean"] = out["mse"] < out["mse_mean"]
    return out, rs, T


def _rssm_reward(d: _EvalData, cfg: EvalConfig, rs: np.ndarray, T: int, mean_r: float) -> dict[str, Any]:
    """The RSSM's reward MSE on posterior states of real frames and along open-loop imagination, vs the mean."""
    from fog_training.window_sampler import WindowSampler

    L, S = d.L, d.S
    rssm = RSSM.from_pretrained(Path(cfg.rssm_run) / "model")
    rs_sampler = (
        d.sampler
        if rssm.cfg.image_size == S
        else WindowSampler(d.store, rssm.cfg.image_size, d.run_cfg.get("val_fraction", 0.05))
    )
    with torch.no_grad():
        rr = rs_sampler.read(_pick(rs, cfg.windows, np.random.default_rng(cfg.seed + 7)), T)
        is_first = torch.from_numpy(rr["is_first"]).clone()
        is_first[:, 0] = True
        act = torch.from_numpy(rr["action"])
        posts, _, _, _ = rssm.observe(
            torch.from_numpy(rr["image"]), prev_actions_from(act, is_first), is_first, sample=False
        )
        feat = rssm.feat(posts)
        r_post = rssm.reward(feat[:, 1:]).numpy()
        mask = ~rr["is_first"][:, 1:]
        tgt = rr["reward"][:, :-1]
        ctx_len = min(L, T - 1)
        last = type(posts)(posts.deter[:, ctx_len - 1], posts.stoch[:, ctx_len - 1])
        imag, _ = rssm.imagine(last, act[:, ctx_len - 1 : T - 1], sample=False)
        r_imag = rssm.reward(rssm.feat(imag)).numpy()
        tgt_imag = rr["reward"][:, ctx_len - 1 : T - 1]
    out = {
        "mse_posterior": float(((r_post - tgt) ** 2)[mask].mean()),
        "mse_mean": float(((mean_r - tgt) ** 2)[mask].mean()),
        "mse_imagined": float(np.mean((r_imag - tgt_imag) ** 2)),
        "mse_mean_imagined": float(np.mean((mean_r - tgt_imag) ** 2)),
        "imagined_horizon": int(T - ctx_len),
        "context": ctx_len,
    }
    out["beats_mean"] = out["mse_posterior"] < out["mse_mean"]
    return out


def evaluate(cfg: EvalConfig) -> dict[str, Any]:
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    run = Path(cfg.run)
    out = Path(cfg.out) if cfg.out else run / "eval"
    out.mkdir(parents=True, exist_ok=True)
    d, starts = _load(cfg, run)
    L, H = d.L, d.H
    rng = np.random.default_rng(cfg.seed)
    w = d.sampler.read(_pick(starts, cfg.windows, rng), L + H)
    res: dict[str, Any] = {
        "run": str(run),
        "data": str(cfg.data),
        "split": d.split,
        "windows": int(len(w["image"])),
        "context_length": L,
        "image_size": d.S,
        "horizons": list(cfg.horizons),
    }

    # ---- open-loop quality ----
    pred, imag_r, real = _open_loop_quality(res, d, w, cfg)

    # ---- reward along the imagined rollouts ----
    mean_r = float(d.model.reward_mean)
    real_r = w["reward"][:, L - 1 : L - 1 + H]
    res["reward_imagined"] = {
        "mse_head": float(np.mean((imag_r - real_r) ** 2)),
        "mse_mean": float(np.mean((mean_r - real_r) ** 2)),
    }

    # ---- action responsiveness ----
    res["action_response"] = _action_response(d, w, real, cfg)

    # ---- reward head, teacher-forced on real frames ----
    res["reward_head"], rs, T = _reward_head(d, cfg, rng, mean_r)

    # ---- RSSM reward ----
    if cfg.rssm_run:
        res["rssm_reward"] = _rssm_reward(d, cfg, rs, T, mean_r)

    # ---- artifacts ----
    nv = min(cfg.video_windows, len(pred))
    res["video"] = _write_video(out / "real_vs_imagined", real[:nv], pred[:nv], w["image"][:nv, :L])
    _plot(out / "psnr_ssim_vs_horizon.png", res)
    res["plot"] = str(out / "psnr_ssim_vs_horizon.png")
    (out / "summary.json").write_text(json.dumps(res, indent=2))
    (out / "summary.md").write_text(to_markdown(res))
    return res


def to_markdown(res: dict[str, Any]) -> str:
    lines = [
        f"# World-model evaluation: {res['run']}",
        "",
        f"{res['windows']} windows from the `{res['split']}` episodes of `{res['data']}`; "
        f"context L = {res['context_length']}, "
        f"{res['image_size']}x{res['image_size']} frames.",
        "",
        "| horizon | PSNR model | PSNR copy-last | SSIM model | SSIM copy-last |",
        "|---|---|---|---|---|",
    ]
    for h in res["horizons"]:
        k = str(h)
        lines.append(
            f"| {h} | {res['psnr']['model'][k]:.2f} | {res['psnr']['copy_last'][k]:.2f} | "
            f"{res['ssim']['model'][k]:.4f} | {res['ssim']['copy_last'][k]:.4f} |"
        )
    a = res["action_response"]
    lines += [
        "",
        f"Action response ({a['windows']} contexts, {a['horizon']} steps): other actions move the future by "
        f"{a['action_distance']:.2f} (mean |pixel|, 0-255), another noise seed by {a['seed_distance']:.2f} "
        f"(ratio {a['ratio']:.1f}).",
        "",
        "| reward MSE | model | predict the mean |",
        "|---|---|---|",
        f"| reward head, real frames | {res['reward_head']['mse']:.5g} | {res['reward_head']['mse_mean']:.5g} |",
        f"| reward head, imagined rollout | {res['reward_imagined']['mse_head']:.5g} "
        f"| {res['reward_imagined']['mse_mean']:.5g} |",
    ]
    if "rssm_reward" in res:
        r = res["rssm_reward"]
        lines += [
            f"| RSSM, posterior on real frames | {r['mse_posterior']:.5g} | {r['mse_mean']:.5g} |",
            f"| RSSM, imagined {r['imagined_horizon']} steps after {r['context']} frames "
            f"| {r['mse_imagined']:.5g} | {r['mse_mean_imagined']:.5g} |",
        ]
    lines += ["", f"Video: `{res['video']}`; plot: `{res['plot']}`.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import tyro

    argv = sys.argv[1:] if argv is None else argv
    cfg = tyro.cli(EvalConfig, args=argv, prog="fog eval world-model", description=__doc__)
    if not cfg.run or not cfg.data:
        raise SystemExit("--run and --data are required")
    res = evaluate(cfg)
    print(to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
