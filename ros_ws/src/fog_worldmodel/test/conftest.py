"""Make the package importable from the source tree when the colcon workspace is not sourced; the tiny
world-model config the unit tests build their untrained models from."""

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_pkg_root = Path(__file__).resolve().parents[1]
try:
    import fog_worldmodel  # noqa: F401
except ImportError:
    sys.path.insert(0, str(_pkg_root))


def _tiny_config(image_size: int = 16, action_dim: int = 2, **kw):
    """A GlobalWorldModelConfig small enough to build and run in well under a second on a CPU."""
    from fog_worldmodel.global_world_model import GlobalWorldModelConfig
    from fog_worldmodel.reward_termination_head import RewardTerminationConfig
    from fog_worldmodel.unet_inner_model import InnerModelConfig

    return GlobalWorldModelConfig(
        image_size=image_size,
        action_dim=action_dim,
        inner=InnerModelConfig(
            block_out_channels=(8, 16), attention_levels=(False, False), cond_channels=16, norm_num_groups=4
        ),
        head=RewardTerminationConfig(channels=(8, 8), embed_dim=16, hidden_dim=16),
        **kw,
    )


@pytest.fixture(scope="session")
def tiny_config():
    """``tiny_config(image_size=16, action_dim=2, **fields)``: a tiny GlobalWorldModelConfig."""
    return _tiny_config
