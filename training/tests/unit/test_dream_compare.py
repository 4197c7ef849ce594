"""`fog dream compare` on a small bag the test writes and an untrained tiny world model: the video
has one real | imagined frame per policy step, the PSNR plot and figures cover every imagined step.

The Foxglove layout for dream mode (docs/foxglove/dream_layout.json) names
only topics that the dream node and `fog dream compare --live` publish, and every panel it configures
is placed. `--live` over DDS: training/tests/integration/test_dream_compare.py.
"""

import json
import re
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch
from fog_training.cli import main as fog

torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[3]
LAYOUT = ROOT / "docs" / "foxglove" / "dream_layout.json"
SOURCES = [ROOT / "ros_ws/src/fog_policy/fog_policy/dream_node.py", ROOT / "training/fog_training/dream_compare.py"]


def test_compare_writes_side_by_side_video_and_psnr_plot(compare_inputs, dream_artifact, tmp_path):
    world, bag, _ = compare_inputs
    artifact = dream_artifact
    out = tmp_path / "cmp"
    code = fog(["dream", "compare", "--bag", str(bag), "--world-model", str(world["run"]), "--out", str(out),
                "--artifact", str(artifact)])
    assert code == 0
    s = json.loads((out / "compare.json").read_text())
    T = s["context_frames"] + s["imagined_steps"]
    assert s["rate_hz"] == 5.0 and s["imagined_steps"] >= 10, s["imagined_steps"]  # 4 s of bag at 5 Hz
    assert len(s["psnr_db"]) == len(s["psnr_db_still_baseline"]) == len(s["imagined_reward"]) == s["imagined_steps"]
    assert all(np.isfinite(s["psnr_db"])) and 0 < s["psnr_db_mean"] < 100
    assert s["real_reward_source"] == "goal-progress" and len(s["real_reward"]) == s["imagined_steps"]
    assert len(s["surprise_real"]) == len(s["surprise_imagined"]) == T and all(np.isfinite(s["surprise_real"]))
    frames = imageio.mimread(out / "compare.mp4", memtest=False)
    assert len(frames) == T, f"{len(frames)} video frames for {T} policy steps"
    h, w = frames[0].shape[:2]
    assert w > 2 * 16 * 8 and h > 16 * 8, "the panels are upscaled side by side"
    # the context frames are real on both sides; the imagined panel differs from the real one later
    left, right = frames[0][40:, : w // 2 - 8], frames[0][40:, w // 2 + 8 :]
    assert np.abs(left.astype(int) - right.astype(int)).mean() < 8
    png = out / "psnr.png"
    assert png.stat().st_size > 10_000 and imageio.imread(png).shape[0] > 500  # three panels tall


def test_compare_refuses_a_missing_episode_and_a_folder_that_is_no_world_model(compare_inputs, tmp_path, capsys):
    world, bag, _ = compare_inputs
    assert fog(["dream", "compare", "--bag", str(bag), "--world-model", str(world["run"]), "--episode", "3",
                "--out", str(tmp_path / "x")]) == 2
    assert f"--bag {bag} has 1 episode(s) (0..0), not --episode 3" in capsys.readouterr().err
    args = ["--bag", str(bag), "--world-model", str(tmp_path), "--out", str(tmp_path / "y")]
    assert fog(["dream", "compare", *args]) == 2
    assert f"world model {tmp_path} is not one" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def placed(node) -> set[str]:
    if isinstance(node, str):
        return {node}
    return placed(node["first"]) | placed(node["second"])


def test_layout_topics_are_published_and_panels_placed():
    layout = json.loads(LAYOUT.read_text())
    panels = layout["configById"]
    assert placed(layout["layout"]) == set(panels), "every configured panel appears in the layout tree"
    topics = {p["imageMode"]["imageTopic"] for k, p in panels.items() if k.startswith("Image!")}
    topics |= {path["value"].split(".")[0] for k, p in panels.items() if k.startswith("Plot!") for path in p["paths"]}
    source = "\n".join(s.read_text() for s in SOURCES)
    published = set(re.findall(r'create_publisher\(\s*\w+,\s*"([^"]+)"', source)) | {"cmd_vel"}
    missing = {t for t in topics if t.lstrip("/") not in published}
    assert not missing, f"the layout names topics nothing publishes: {missing}"
