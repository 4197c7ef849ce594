"""`fog export-dream`: a trained global world model + a few real start windows -> a small dream bundle.

The bundle is what `fog deploy --robot dream` (fog_policy.dream_node) runs: the global diffusion
world model (config.json + model.safetensors, parameters stored as float16 unless --dtype float32;
normalisation buffers stay float32) and `starts.npz`: the first L frames and actions of a handful
of dataset episodes, at the model's resolution. `dream.json` records the action space, the policy
rate, the camera calibration, where everything came from, and how far float16 weights move the
model's outputs (measured here on the bundled starts: the same imagined rollouts, same noise,
from float32 and float16 weights).

Examples::

    fog export-dream --run runs/goal --out ros_ws/src/fog_policy/artifacts/goal/world_model
    fog export-dream --run runs/goal/global --data runs/goal/go2.zarr --out /tmp/wm --starts 8
    fog export-dream --run runs/goal/global --out /tmp/wm --episodes 0 3 7 --dtype float32
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from fog_worldmodel.dream import (
    BUNDLE_FILE,
    BUNDLE_FORMAT,
    STARTS_FILE,
    Dream,
    DreamSpec,
    DreamStarts,
    WorldModelFolderError,
    is_model_dir,
    load_model,
    psnr,
    read_store,
    resolve_data,
    store_starts,
)
from fog_worldmodel.persistence import save_safetensors_atomic


def resolve_run(run: str | Path) -> tuple[Path, Path]:
    """(model folder, run folder) from a pipeline work folder (WORK/global), a run, or a model folder."""
    p = Path(run)
    for model_dir, run_dir in ((p, p.parent), (p / "model", p), (p / "global" / "model", p / "global")):
        if is_model_dir(model_dir):
            return model_dir, run_dir
    raise WorldModelFolderError(
        f"--run {p}: no global world model there (expected RUN/model/config.json of a `fog train world-model` run, "
        "a pipeline work folder holding global/, or a model folder)"
    )


def spread_episodes(lengths: np.ndarray, context_length: int, count: int) -> list[int]:
    """`count` episodes spread evenly over the dataset, among those with at least L frames."""
    ok = [e for e in range(len(lengths)) if lengths[e] >= context_length]
    if not ok:
        raise WorldModelFolderError(f"no episode has the model's {context_length} context frames")
    if count >= len(ok):
        return ok
    idx = np.unique(np.round(np.linspace(0, len(ok) - 1, count)).astype(int))
    return [ok[i] for i in idx]


def half_precision_state(model) -> dict[str, torch.Tensor]:
    """The state dict with parameters in float16 and buffers (normalisation statistics) as they are."""
    params = {name for name, _ in model.named_parameters()}
    return {k: (v.half() if k in params and v.is_floating_point() else v) for k, v in model.state_dict().items()}


def rollout(model, spec: DreamSpec, actions: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Imagined frames [N, H, S, S, 3], rewards and termination probabilities [N, H] from every start."""
    dream = Dream(model, spec)
    frames, rewards, probs = [], [], []
    for i in range(len(spec.starts)):
        dream.reset(i, seed=seed + i)
        f, r, p = [], [], []
        for a in actions[i]:
            out = dream.step(a)
            f.append(out.frame)
            r.append(out.reward)
            p.append(out.termination_probability)
        frames.append(f), rewards.append(r), probs.append(p)
    return np.array(frames), np.array(rewards), np.array(probs)


def measure_half_precision(model, spec: DreamSpec, horizon: int, seed: int = 0) -> dict:
    """How far float16 weights move the outputs: same starts, same random actions, same noise."""
    from fog_worldmodel.global_world_model import GlobalWorldModel

    rng = np.random.default_rng(seed)
    actions = rng.uniform(spec.action_low, spec.action_high, (len(spec.starts), horizon, len(spec.action_low)))
    f32 = rollout(model, spec, actions, seed)
    half = GlobalWorldModel(model.cfg)
    half.load_state_dict(half_precision_state(model))  # float16 values, cast back to float32 on load
    f16 = rollout(half.eval(), spec, actions, seed)
    per_step = [float(np.mean([psnr(f32[0][i, t], f16[0][i, t]) for i in range(len(actions))])) for t in range(horizon)]
    diff = np.abs(f32[0].astype(int) - f16[0].astype(int))
    return {
        "horizon": horizon,
        "starts": len(actions),
        "psnr_db_first_step": per_step[0],
        "psnr_db_last_step": per_step[-1],
        "frame_max_abs_diff_first_step": int(diff[:, 0].max()),
        "frame_mean_abs_diff_last_step": float(diff[:, -1].mean()),
        "reward_max_abs_diff": float(np.abs(f32[1] - f16[1]).max()),
        "termination_probability_max_abs_diff": float(np.abs(f32[2] - f16[2]).max()),
        "terminations_float32": int((f32[2] > 0.5).sum()),
        "terminations_float16": int((f16[2] > 0.5).sum()),
    }


def export_dream(
    run, out, data=None, starts: int = 16, episodes=None, dtype: str = "float16", check_steps: int = 16, argv=None
) -> dict:
    model_dir, run_dir = resolve_run(run)
    model = load_model(model_dir)
    if data is None:
        cfg = run_dir / "config.json"
        data = json.loads(cfg.read_text()).get("data") if cfg.is_file() else None
        if not data:
            raise WorldModelFolderError(f"--run {run}: the run records no dataset; give --data DATASET.zarr")
        data = resolve_data(run_dir, data)
    _g, meta, ends = read_store(data)
    c = model.cfg
    if episodes is None:
        lengths = np.diff(np.concatenate([[0], ends]))
        episodes = spread_episodes(lengths, c.context_length, starts)
    st: DreamStarts = store_starts(data, c.context_length, c.image_size, list(episodes))
    a = meta["action"]
    if len(a["low"]) != c.action_dim:
        raise WorldModelFolderError(
            f"--data {data}: {len(a['low'])}-dimensional actions, the model takes {c.action_dim}"
        )
    spec = DreamSpec(
        starts=st,
        action_names=list(a["names"]),
        action_low=np.asarray(a["low"], np.float64),
        action_high=np.asarray(a["high"], np.float64),
        policy_rate_hz=float(meta.get("policy_rate_hz", 5.0)),
        source=str(model_dir),
        camera_info=meta.get("camera_info"),
    )
    info = {
        "format": BUNDLE_FORMAT,
        "created_by": "fog export-dream " + " ".join(sys.argv[1:] if argv is None else argv),
        "model": str(model_dir),
        "dataset": str(data),
        "dataset_source": meta.get("source"),
        "reward_source": meta.get("reward_source"),
        "weights_dtype": dtype,
        "image_size": c.image_size,
        "context_length": c.context_length,
        "action": {"names": spec.action_names, "low": spec.action_low.tolist(), "high": spec.action_high.tolist()},
        "policy_rate_hz": spec.policy_rate_hz,
        "camera_info": spec.camera_info,
        "starts": {
            "episodes": [int(e) for e in st.episodes],
            "what": "the first context_length frames and actions of each episode",
        },
        "terminal_steps_in_dataset": _terminal_summary(data, meta),
    }
    if dtype == "float16" and check_steps > 0:
        info["float16_check"] = measure_half_precision(model, spec, check_steps)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-dream-", dir=out.parent))
    try:
        state = half_precision_state(model) if dtype == "float16" else model.state_dict()
        save_safetensors_atomic(state, tmp / "model.safetensors", {"format": "fog_worldmodel.GlobalWorldModel/1"})
        shutil.copyfile(model_dir / "config.json", tmp / "config.json")
        np.savez_compressed(tmp / STARTS_FILE, frames=st.frames, actions=st.actions, episodes=st.episodes)
        (tmp / BUNDLE_FILE).write_text(json.dumps(info, indent=2))
        if out.exists():
            if not (out / BUNDLE_FILE).is_file():
                raise WorldModelFolderError(f"--out {out} exists and is not a dream bundle: not overwriting it")
            shutil.rmtree(out)
        tmp.rename(out)
        out.chmod(0o755)  # mkdtemp's 0700 would hide an installed bundle from other users
        for f in out.iterdir():
            f.chmod(0o644)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    info["bytes"] = sum(f.stat().st_size for f in out.iterdir())
    return info


def _terminal_summary(data, meta) -> dict:
    """How terminal steps arise in the dataset (the dream's termination means what they meant)."""
    g, _meta, ends = read_store(data)
    n = int(ends[-1])
    term = np.asarray(g["is_terminal"][:n], bool)
    out = {"terminal_steps": int(term.sum()), "episodes": int(len(ends))}
    if "extra" in g and "success" in g["extra"]:
        success = np.asarray(g["extra"]["success"][:n], bool)
        out["terminal_steps_that_are_success"] = int((term & success).sum())
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fog export-dream", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run", required=True, help="world-model run (RUN/model), pipeline work folder, or model folder")
    p.add_argument("--out", required=True, help="bundle folder to write (replaced if it is a bundle)")
    p.add_argument("--data", default=None, help="episode store for the starts (default: the run's recorded data)")
    p.add_argument("--starts", type=int, default=16, help="number of episodes to take start windows from")
    p.add_argument("--episodes", type=int, nargs="+", default=None, help="these episodes instead of --starts")
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16", help="storage of the parameters")
    p.add_argument("--check-steps", type=int, default=16, help="imagined steps of the float16 check (0: skip)")
    a = p.parse_args(argv)
    try:
        info = export_dream(a.run, a.out, a.data, a.starts, a.episodes, a.dtype, a.check_steps, argv)
    except WorldModelFolderError as e:
        print(f"fog export-dream: {e}", file=sys.stderr)
        return 2
    show = {k: info[k] for k in ("model", "dataset", "weights_dtype", "bytes") if k in info}
    show["starts"] = info["starts"]["episodes"]
    if "float16_check" in info:
        show["float16_check"] = info["float16_check"]
    print(json.dumps(show, indent=2))
    print(f"[export-dream] wrote {a.out} ({info['bytes'] / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
