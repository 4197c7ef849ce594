"""Shared test data of fog_training's tests (unit and integration): tiny stores and untrained models
that several test modules build on. Session-scoped: each is written once per test run, and tests only
read it (they write into their own tmp_path).

- `store_path`: a synthetic episode store (5 episodes of 18..24 steps, 32x32) for the trainers;
- `synthetic_models`: (root, data) with debug-preset runs root/wm (`fog train world-model`) and
  root/rssm (`fog train rssm`), 2 steps each, on a 4-episode synthetic store (the baselines' tests);
- `dream_world`: fog_training.untrained_dream's world model, store and dream bundle (the dream tests);
- `dream_artifact`: an untrained exported policy for 16x16 images (fog_training.untrained_artifact);
- `compare_inputs`: (world, bag, root): the untrained dream world model and a 4 s synthetic bag with
  48x48 frames, the inputs of `fog dream compare` (root: the folder they are in);
- `small_bag(name, **options)`: a synthetic robot bag in the test's tmp_path (24x32 frames, 3 s unless
  told; fog_training.data.synthetic_bags), and `dataset_config(bags, out, **fields)`: a `fog dataset`
  config for 16x16 images without the report (matplotlib costs ~1 s; tests that read it ask for it).
"""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def store_path(tmp_path_factory):
    from fog_training.data.synthetic_store import make_synthetic_store

    p = tmp_path_factory.mktemp("data") / "synth.zarr"
    make_synthetic_store(p, episodes=5, steps=[24, 20, 24, 18, 24], image_hw=(32, 32), seed=0)
    return p


@pytest.fixture(scope="session")
def synthetic_models(tmp_path_factory):
    import torch
    from fog_training import train_rssm, train_world_model
    from fog_training.data.synthetic_store import make_synthetic_store

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("base")
    data = root / "synth.zarr"
    make_synthetic_store(data, episodes=4, steps=20, image_hw=(32, 32), seed=0)
    for mod, out in ((train_world_model, root / "wm"), (train_rssm, root / "rssm")):
        assert mod.main(["--preset", "debug", "--data", str(data), "--out", str(out), "--loop.steps", "2"]) == 0
    return root, data


@pytest.fixture(scope="session")
def dream_world(tmp_path_factory):
    from fog_training.untrained_dream import make_untrained_world_model

    return make_untrained_world_model(tmp_path_factory.mktemp("dream"), seed=0, bundle=True)


@pytest.fixture(scope="session")
def dream_artifact(tmp_path_factory):
    from fog_training.untrained_artifact import make_untrained_artifact

    out = tmp_path_factory.mktemp("policy") / "untrained"
    make_untrained_artifact(out, seed=1, image_size=16)
    return out


SMALL_BAG_HW = (24, 32)  # camera frames of `small_bag` (small: fast tests)


@pytest.fixture
def small_bag(tmp_path):
    from fog_training.data.synthetic_bags import write_synthetic_bag

    def write(name: str, **options):
        options.setdefault("image_hw", SMALL_BAG_HW)
        options.setdefault("duration_s", 3.0)
        return write_synthetic_bag(tmp_path / name, **options)

    return write


@pytest.fixture
def dataset_config():
    from fog_training.data.bag_to_dataset import BagToDatasetConfig

    def make(bags, out, **fields) -> BagToDatasetConfig:
        fields.setdefault("report", False)
        return BagToDatasetConfig(bags=[Path(b) for b in bags], out=Path(out), image_size=16, **fields)

    return make


@pytest.fixture(scope="session")
def compare_inputs(tmp_path_factory):
    from fog_training.data.synthetic_bags import write_synthetic_bag
    from fog_training.untrained_dream import make_untrained_world_model

    root = tmp_path_factory.mktemp("compare")
    world = make_untrained_world_model(root / "wm", seed=0)
    bag = root / "bag"
    write_synthetic_bag(bag, duration_s=4.0, image_hw=(48, 48), seed=1)
    return world, bag, root
