"""``fog bench gradient-cost``: what one actor update costs, FoG vs BPTT through the diffusion model.

BPTT differentiates the global model itself: every imagined frame is sampled with the Euler loop
*with* gradients (3 UNet evaluations per frame, the uint8 quantization passed straight through),
the reward comes from the reward head, and the actor acts on the RSSM state filtered from the
generated frames (the encoder is in the graph), so the actor's gradient flows back through every
sampler step of every frame. FoG runs the same rollout with the sampler under ``no_grad`` and
backpropagates only through the RSSM (:meth:`FoGTrainer.actor_update`, the real code path:
:func:`fog_training.fog.rollout_window`).

Both are measured at the same N (rollouts) and H (horizon), each in a fresh subprocess:
seconds per update (median of ``repeats`` after one warm-up), the bytes autograd keeps for the
backward pass (saved activations, counted per storage through ``saved_tensors_hooks``), the
process's peak-RSS increase over the loaded process during the updates (CPU; the kernel's peak
is reset after loading, see :class:`PeakRSS`) or ``max_memory_allocated`` (CUDA).

Examples::

    fog bench gradient-cost --data data/pusht.zarr --world-model runs/pusht/wm --rssm runs/pusht/rssm \
        --envs 4 --horizon 16
    fog bench gradient-cost --data /tmp/tiny.zarr --world-model /tmp/wm --rssm /tmp/rssm --envs 2 --horizon 2
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from fog_worldmodel.rssm import RSSMState

from fog_training.fog import requires_grad_only


@dataclass
class GradientCostConfig:
    data: str = ""
    """Episode store (context windows)."""
    world_model: str = ""
    """Run directory of the global world model."""
    rssm: str = ""
    """Run directory of the RSSM."""
    out: str = ""
    """Where to write gradient_cost.json (default: print only)."""
    envs: int = 32
    """N: rollouts per update (both methods)."""
    horizon: int = 16
    """H: steps per update (both methods)."""
    repeats: int = 2
    """Timed updates after one warm-up (median reported)."""
    threads: int = 0
    """torch CPU threads (0 = default)."""
    device: str = "auto"
    """cpu, cuda or auto."""
    methods: tuple[str, ...] = ("fog", "bptt")
    """Methods to measure."""


def differentiable_next_frame(
    model, obs_ctx: torch.Tensor, act_ctx: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """The global model's next frame *with* gradients (DiffusionSampler.sample_differentiable).

    ``obs_ctx`` [B, L, C, H, W] in [-1, 1], ``act_ctx`` [B, L, A] normalized -> next frame [B, C, H, W].
    """
    ctx = obs_ctx.reshape(obs_ctx.shape[0], -1, *obs_ctx.shape[-2:])
    return model.sampler.sample_differentiable(ctx, act_ctx, generator)


def bptt_actor_update(trainer) -> dict[str, float]:
    """One actor update that backpropagates through the diffusion sampler and the reward head."""
    cfg, gm, local = trainer.cfg, trainer.global_model, trainer.local
    model, rssm, actor, critic = gm.env.model, local.rssm, trainer.actor, trainer.critic
    requires_grad_only(trainer.modules, actor)
    N, H, A = cfg.num_envs, cfg.horizon, trainer.action_dim
    state = local.start(gm.reset(trainer.rng)).model
    env = gm.env
    obs, act, hidden = env.context()
    alpha = trainer.temperature.alpha
    total = torch.zeros(N, device=trainer.device)
    disc = 1.0
    no_first = torch.zeros(N, dtype=torch.bool, device=trainer.device)
    for _ in range(H):
        action, logp, _ = actor.sample(rssm.feat(state))
        a_n = model.normalize_actions(action)
        act = torch.cat([act[:, :-1], a_n[:, None]], 1)
        nxt = differentiable_next_frame(model, obs, act, env.generator)
        r_norm, _, hidden = model.head.step(obs[:, -1], a_n, nxt, hidden)
        total = total + disc * (model.denormalize_rewards(r_norm) + alpha * (-logp) / A)
        disc *= cfg.gamma
        obs = torch.cat([obs[:, 1:], nxt[:, None]], 1)
        act = torch.cat([act[:, 1:], torch.zeros_like(act[:, :1])], 1)
        x = (
            nxt
            if nxt.shape[-1] == rssm.cfg.image_size
            else F.interpolate(
                nxt, size=(rssm.cfg.image_size,) * 2, mode="bilinear", antialias=True, align_corners=False
            )
        )
        embed = rssm.encoder(x * 0.5)
        state, _, _, _ = rssm.obs_step(RSSMState(state.deter, state.stoch), action, embed, no_first, sample=False)
    total = total + disc * critic.mean(rssm.feat(state))
    loss = -total.mean() / H
    trainer.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(actor.parameters(), cfg.grad_clip)
    trainer.optimizer.step()
    gm.samples += N * H
    return {"actor/loss": loss.item()}


@contextmanager
def count_saved_tensors(stats: dict[str, int]):
    """Counts the distinct storages autograd saves for backward (bytes) while active."""
    seen: set[int] = set()
    stats["saved_bytes"] = 0

    def pack(t: torch.Tensor):
        try:
            st = t.untyped_storage()
            key = st.data_ptr()
            if key not in seen:
                seen.add(key)
                stats["saved_bytes"] += st.nbytes()
        except (RuntimeError, NotImplementedError):
            pass
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        yield


class PeakRSS:
    """The process's resident memory now and its peak since `reset()` (Linux: /proc/self VmRSS, VmHWM).

    Writing 5 to /proc/self/clear_refs resets the kernel's peak (VmHWM) to the current RSS, so the
    peak of the update alone is measured, not a peak left over from loading the models and the
    data (a bench run whose loading peaked at 1.3 GB hid the FoG update's peak entirely).
    Where that is unavailable it falls back to getrusage's ru_maxrss, which cannot be reset
    (`resettable` False: the increase is then a lower bound).
    """

    def __init__(self) -> None:
        self.resettable = True
        try:
            self.reset()
        except OSError:
            self.resettable = False

    @staticmethod
    def _status(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024  # kB
        raise OSError(f"/proc/self/status has no {key}")

    def reset(self) -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def current(self) -> int:
        if self.resettable:
            return self._status("VmRSS")
        return self.peak()

    def peak(self) -> int:
        if self.resettable:
            return self._status("VmHWM")
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def measure(method: str, cfg: GradientCostConfig) -> dict[str, float]:
    """Measure one method in this process (call in a fresh process for a clean peak RSS)."""
    from fog_training.fog_trainer import FoGConfig, FoGTrainer

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    fcfg = FoGConfig(
        data=cfg.data,
        world_model=cfg.world_model,
        rssm=cfg.rssm,
        out="",
        num_envs=cfg.envs,
        horizon=cfg.horizon,
        device=cfg.device,
        global_precision="fp32",
        progress=False,
        refresh_every=0,
    )
    trainer = FoGTrainer(fcfg)
    step = (lambda: trainer.actor_update()) if method == "fog" else (lambda: bptt_actor_update(trainer))
    cuda = trainer.device.type == "cuda"
    # the baseline is the process with its models and data loaded, before any update: the warm-up
    # update already reaches the method's peak, so a baseline taken after it would hide the peak
    import gc

    gc.collect()
    rss = PeakRSS()  # resets the kernel's peak to now, after loading
    base_rss = rss.current()
    step()  # warm-up (allocator, lazy init)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_cuda = torch.cuda.memory_allocated()
    times, stats = [], {}
    for _ in range(cfg.repeats):
        t0 = time.perf_counter()
        with count_saved_tensors(stats):
            step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    out = {
        "method": method,
        "envs": cfg.envs,
        "horizon": cfg.horizon,
        "seconds": statistics.median(times),
        "times": times,
        "saved_activation_mb": stats["saved_bytes"] / 2**20,
        "peak_rss_increase_mb": (rss.peak() - base_rss) / 2**20,
        "peak_rss_mb": rss.peak() / 2**20,
        "loaded_rss_mb": base_rss / 2**20,
        "peak_rss_resettable": rss.resettable,
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
    }
    if cuda:
        out["cuda_peak_mb"] = (torch.cuda.max_memory_allocated() - base_cuda) / 2**20
    return out


RATIO_FLOORS = {"seconds": 1e-9, "saved_activation_mb": 1.0, "peak_rss_increase_mb": 1.0}
"""The smallest FoG figure a ratio is taken over: RSS moves in pages and an increase of ~0 MB would make
any BPTT figure an absurd multiple (a run reported 2.7e12x)."""


def ratios(bptt: dict, fog: dict) -> dict[str, float]:
    """BPTT / FoG for each figure where FoG's is measurable (at least its RATIO_FLOORS value)."""
    return {k: bptt[k] / fog[k] for k, lo in RATIO_FLOORS.items() if fog[k] >= lo}


def run(cfg: GradientCostConfig) -> dict:
    """Measure every method in its own subprocess; returns {"results": [...], "ratio": {...}}."""
    results = []
    for method in cfg.methods:
        args = [
            sys.executable,
            "-m",
            "fog_training.baselines.bptt",
            "--worker",
            method,
            "--data",
            cfg.data,
            "--world-model",
            cfg.world_model,
            "--rssm",
            cfg.rssm,
            "--envs",
            str(cfg.envs),
            "--horizon",
            str(cfg.horizon),
            "--repeats",
            str(cfg.repeats),
            "--threads",
            str(cfg.threads),
            "--device",
            cfg.device,
        ]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"gradient-cost worker {method} failed:\n{proc.stderr[-3000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    summary: dict = {"results": results}
    by = {r["method"]: r for r in results}
    if "fog" in by and "bptt" in by:
        summary["ratio_bptt_over_fog"] = ratios(by["bptt"], by["fog"])
    if cfg.out:
        Path(cfg.out).mkdir(parents=True, exist_ok=True)
        (Path(cfg.out) / "gradient_cost.json").write_text(json.dumps(summary, indent=2))
    return summary


def table(summary: dict) -> str:
    lines = [
        "| method | N x H | seconds / actor update | saved activations (MB) "
        "| peak RSS increase over the loaded process (MB) | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for r in summary["results"]:
        lines.append(
            f"| {r['method'].upper()} | {r['envs']} x {r['horizon']} | {r['seconds']:.2f} | "
            f"{r['saved_activation_mb']:.1f} | "
            f"{r['peak_rss_increase_mb']:.0f} | {r.get('peak_rss_mb', float('nan')):.0f} |"
        )
    if "ratio_bptt_over_fog" in summary:
        q = summary["ratio_bptt_over_fog"]
        lines.append(
            f"\nBPTT / FoG: {q['seconds']:.1f}x the time"
            + (f", {q['saved_activation_mb']:.1f}x the saved activations" if "saved_activation_mb" in q else "")
            + (
                f", {q['peak_rss_increase_mb']:.1f}x the peak memory increase."
                if "peak_rss_increase_mb" in q
                else " (FoG's peak memory increase is under 1 MB: no ratio)."
            )
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import tyro

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--worker":
        method = argv[1]
        cfg = tyro.cli(GradientCostConfig, args=argv[2:])
        print(json.dumps(measure(method, cfg)))
        return 0
    cfg = tyro.cli(GradientCostConfig, args=argv, prog="fog bench gradient-cost", description=__doc__)
    summary = run(cfg)
    print(table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
