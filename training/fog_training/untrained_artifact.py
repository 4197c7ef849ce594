"""An artifact from an untrained (seeded, randomly initialised) RSSM and actor, for Go2 cmd_vel.

The deploy side is tested end to end with it before a trained policy exists, and it is the
"random policy" reference of the closed-loop benchmarks. It goes through the same `export_policy`
(parity check included) as a trained policy.

    python -m fog_training.untrained_artifact --out artifacts/untrained
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from fog_contract import go2
from fog_contract.go2 import CMD_NAMES, JOINT_NAMES
from fog_contract.proprio import PROPRIO_NAMES
from fog_worldmodel.rssm import RSSM, RSSMConfig
from torch import nn

from fog_training.export import export_policy

CMD_LOW, CMD_HIGH = list(go2.CMD_LOW), list(go2.CMD_HIGH)
STAND = [float(v) for v in go2.STAND_POSE]


class BoundedActor(nn.Module):
    """feat -> action in [low, high] through tanh (the trained actor's deterministic form)."""

    def __init__(self, feat_dim: int, low, high, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(feat_dim, hidden), nn.SiLU(), nn.Linear(hidden, len(low)))
        self.register_buffer("low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(high, dtype=torch.float32))

    def forward(self, feat):
        return self.low + (torch.tanh(self.net(feat)) + 1.0) * 0.5 * (self.high - self.low)


def go2_cmd_vel_meta(image_size: int, created_by: str, config: dict) -> dict:
    return {
        "robot": "go2",
        "joint_names": list(JOINT_NAMES),
        "observation": {
            "image": {"height": image_size, "width": image_size, "encoding": "rgb8"},
            "proprio": {"names": list(PROPRIO_NAMES)},
        },
        "action": {"kind": "cmd_vel", "names": list(CMD_NAMES), "low": CMD_LOW, "high": CMD_HIGH},
        "policy_rate_hz": 5.0,
        "normalization": {},
        "default_pose": STAND,
        "action_scale": 1.0,
        "created_by": created_by,
        "config": config,
    }


def make_untrained_artifact(out: str | Path, seed: int = 0, image_size: int = 64) -> dict:
    torch.manual_seed(seed)
    cfg = RSSMConfig(
        image_size=image_size, action_dim=3, deter=64, stoch=8, classes=8, hidden=64, cnn_depth=8, decoder=False
    )
    rssm = RSSM(cfg)
    actor = BoundedActor(rssm.feat_dim, CMD_LOW, CMD_HIGH)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 255, (8, image_size, image_size, 3), dtype=np.uint8)
    proprio = rng.normal(size=(8, len(PROPRIO_NAMES))).astype(np.float32)
    return export_policy(
        rssm,
        actor,
        go2_cmd_vel_meta(image_size, f"untrained_artifact seed={seed}", {"untrained": True, "seed": seed}),
        out,
        images,
        proprio,
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=64)
    a = p.parse_args(argv)
    meta = make_untrained_artifact(a.out, a.seed, a.image_size)
    print(f"wrote {a.out} (parity {meta['parity']['max_abs_diff']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
