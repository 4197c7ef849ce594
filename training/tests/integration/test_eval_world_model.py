"""`fog eval world-model` on tiny debug runs: every report, file and number is there and sane."""

import json
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)

from fog_training import train_rssm, train_world_model  # noqa: E402
from fog_training.cli import main as fog  # noqa: E402
from fog_training.data.synthetic_store import make_synthetic_store  # noqa: E402
from fog_training.image_metrics import psnr_from_mse, ssim_per_frame  # noqa: E402


def test_image_metrics():
    a = torch.randint(0, 256, (2, 16, 16, 3), dtype=torch.uint8)
    assert torch.allclose(ssim_per_frame(a, a), torch.ones(2, dtype=torch.float32))
    b = (a.int() + 10).clamp(0, 255).to(torch.uint8)
    assert (ssim_per_frame(a, b) < 1).all()
    assert psnr_from_mse(torch.tensor(255.0**2)).item() == pytest.approx(0.0)
    assert psnr_from_mse(torch.tensor(0.0)).item() == 100.0


def test_eval_world_model_reports(tmp_path):
    data = tmp_path / "synth.zarr"
    make_synthetic_store(data, episodes=5, steps=24, image_hw=(32, 32), seed=3)
    wm, rs = tmp_path / "wm", tmp_path / "rssm"
    train_world_model.main(["--data", str(data), "--out", str(wm), "--preset", "debug", "--loop.steps", "4"])
    train_rssm.main(["--data", str(data), "--out", str(rs), "--preset", "debug", "--loop.steps", "4"])
    assert (
        fog(
            [
                "eval",
                "world-model",
                "--run",
                str(wm),
                "--data",
                str(data),
                "--rssm-run",
                str(rs),
                "--windows",
                "4",
                "--horizons",
                "1",
                "2",
                "4",
                "8",
                "--batch",
                "4",
                "--response-windows",
                "3",
                "--response-horizon",
                "3",
                "--reward-seq-len",
                "8",
                "--video-windows",
                "2",
            ]
        )
        == 0
    )
    out = wm / "eval"
    res = json.loads((out / "summary.json").read_text())
    assert res["horizons"] == [1, 2, 4, 8] and res["split"] == "val"
    for metric in ("psnr", "ssim"):
        for who in ("model", "copy_last"):
            assert set(res[metric][who]) == {"1", "2", "4", "8"}
    assert 0 < res["psnr"]["copy_last"]["1"] <= 100 and -1 <= res["ssim"]["model"]["8"] <= 1
    a = res["action_response"]
    assert a["horizon"] == 3 and len(a["action_distance_per_step"]) == 3 and a["seed_distance"] >= 0
    assert res["reward_head"]["mse_mean"] > 0 and res["rssm_reward"]["mse_mean"] > 0
    assert "mse_posterior" in res["rssm_reward"] and "mse_imagined" in res["rssm_reward"]
    video = res["video"]
    assert video.endswith((".mp4", ".gif")) and os.path.getsize(video) > 1000
    assert (out / "psnr_ssim_vs_horizon.png").stat().st_size > 5000
    md = (out / "summary.md").read_text()
    assert "copy-last" in md and "RSSM" in md
