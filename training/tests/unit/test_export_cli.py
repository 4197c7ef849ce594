"""`fog export` / `fog validate` (fog_training.export_cli): a run folder the FoG trainer writes becomes a
validated artifact."""

import torch
from fog_contract.artifact import load_meta
from fog_training.export import validate_artifact
from fog_worldmodel.rssm import RSSM, RSSMConfig

torch.set_num_threads(1)


def test_fog_export_cli_from_a_run_folder(tmp_path):
    """`fog export RUN --data DATA --out DIR` on the run layout the FoG trainer writes."""
    from fog_training.actor import ActorConfig, SquashedGaussianActor, save_actor
    from fog_training.data.synthetic_store import make_synthetic_store
    from fog_training.export_cli import export_main

    store = make_synthetic_store(tmp_path / "data.zarr", episodes=2, steps=20, image_hw=(32, 32), seed=0)
    a_dim = store.action_dim
    torch.manual_seed(0)
    rssm = RSSM(
        RSSMConfig(image_size=32, action_dim=a_dim, deter=32, stoch=4, classes=4, hidden=32, cnn_depth=4, decoder=False)
    )
    low = [float(x) for x in store.meta["action"]["low"]]
    high = [float(x) for x in store.meta["action"]["high"]]
    actor = SquashedGaussianActor(
        ActorConfig(
            feat_dim=rssm.feat_dim, action_dim=a_dim, hidden=(32,), action_low=tuple(low), action_high=tuple(high)
        )
    )
    save_actor(actor, tmp_path / "run" / "policy", feature="rssm")
    rssm.save_pretrained(tmp_path / "run" / "policy" / "rssm")
    out = tmp_path / "artifact"
    assert (
        export_main([str(tmp_path / "run"), "--data", str(tmp_path / "data.zarr"), "--out", str(out), "--steps", "10"])
        == 0
    )
    meta = load_meta(out)
    assert meta["action"]["low"] == low and meta["observation"]["image"] == {
        "height": 32,
        "width": 32,
        "encoding": "rgb8",
    }
    assert validate_artifact(out)["steps"] == 10
