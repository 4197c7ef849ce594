"""Cost of one global-model step (the diffusion sampler) against frame size, UNet width and Euler steps.

Times `GlobalWorldModel.predict_next` for a batch of context windows (untrained weights: the cost
does not depend on them) in one process, so the ratios between rows are the figures to compare.
The goal task's preset (32x32, (16, 32, 64), 1 step) against the push-cube one (64x64,
(16, 32, 64, 64), 3 steps) is why FoG makes hundreds of actor updates on 2 cores.

    python benchmarks/global_model_cost.py --batch 64 --repeats 3
"""

import argparse
import time

import torch
from fog_worldmodel.diffusion_sampler import SamplerConfig
from fog_worldmodel.edm_denoiser import EDMConfig
from fog_worldmodel.global_world_model import GlobalWorldModel, GlobalWorldModelConfig
from fog_worldmodel.reward_termination_head import RewardTerminationConfig
from fog_worldmodel.unet_inner_model import InnerModelConfig

ROWS = (  # (frame side, UNet channels, Euler steps)
    (64, (16, 32, 64, 64), 3),
    (64, (16, 32, 64, 64), 1),
    (32, (16, 32, 64), 3),
    (32, (16, 32, 64), 1),
)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"| frames | UNet channels | Euler steps | parameters | s per batch of {a.batch} | frames/s |")
    print("|---|---|---|---|---|---|")
    for size, channels, steps in ROWS:
        cfg = GlobalWorldModelConfig(
            image_size=size,
            action_dim=3,
            inner=InnerModelConfig(
                block_out_channels=channels,
                attention_levels=(False,) * len(channels),
                cond_channels=128,
                norm_num_groups=8,
            ),
            edm=EDMConfig(residual=True, sigma_data=0.05),
            sampler=SamplerConfig(num_steps=steps),
            head=RewardTerminationConfig(channels=channels, embed_dim=128, hidden_dim=128),
        )
        model = GlobalWorldModel(cfg).eval()
        obs = torch.rand(a.batch, cfg.context_length, 3, size, size) * 2 - 1
        act = torch.zeros(a.batch, cfg.context_length, 3)
        with torch.no_grad():
            model.predict_next(obs, act)  # warm-up
            t0 = time.perf_counter()
            for _ in range(a.repeats):
                model.predict_next(obs, act)
            dt = (time.perf_counter() - t0) / a.repeats
        n = (
            sum(p.numel() for p in model.denoiser.parameters())
            if hasattr(model, "denoiser")
            else sum(p.numel() for p in model.parameters())
        )
        print(f"| {size}x{size} | {channels} | {steps} | {n / 1e6:.2f} M | {dt:.3f} | {a.batch / dt:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
