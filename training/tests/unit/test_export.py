"""Export -> artifact -> runtime: parity with torch, refusal on mismatch, artifact checks."""

import json

import numpy as np
import pytest
import torch
from fog_contract.artifact import ArtifactError, check_compatible, load_meta
from fog_contract.go2 import JOINT_NAMES, STAND_POSE
from fog_policy.policy_runtime import PolicyInputError, PolicyRuntime
from fog_training.export import ParityError, export_policy, validate_artifact
from fog_worldmodel.rssm import RSSM, RSSMConfig
from torch import nn

torch.set_num_threads(1)


class TanhActor(nn.Module):
    def __init__(self, feat, low, high):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(feat, 32), nn.SiLU(), nn.Linear(32, len(low)))
        self.register_buffer("low", torch.tensor(low))
        self.register_buffer("high", torch.tensor(high))

    def forward(self, feat):
        return self.low + (torch.tanh(self.net(feat)) + 1) * 0.5 * (self.high - self.low)


LOW, HIGH = [-0.3, -0.3, -1.0], [0.5, 0.3, 1.0]


def meta():
    return {
        "robot": "go2",
        "joint_names": list(JOINT_NAMES),
        "observation": {"image": {"height": 32, "width": 32, "encoding": "rgb8"}, "proprio": {"names": ["a", "b"]}},
        "action": {"kind": "cmd_vel", "names": ["vx", "vy", "wz"], "low": LOW, "high": HIGH},
        "policy_rate_hz": 5.0,
        "normalization": {},
        "default_pose": STAND_POSE.tolist(),
        "action_scale": 1.0,
        "created_by": "test",
        "config": {"test": True},
    }


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    rssm = RSSM(
        RSSMConfig(image_size=32, action_dim=3, deter=32, stoch=4, classes=4, hidden=32, cnn_depth=4, decoder=False)
    )
    actor = TanhActor(rssm.feat_dim, LOW, HIGH)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (12, 32, 32, 3), dtype=np.uint8)
    proprio = rng.normal(size=(12, 2)).astype(np.float32)
    return rssm, actor, images, proprio


def test_export_writes_a_valid_artifact_with_parity(model, tmp_path):
    rssm, actor, images, proprio = model
    out = tmp_path / "artifact"
    full = export_policy(rssm, actor, meta(), out, images, proprio)
    assert (out / "policy.onnx").exists() and (out / "parity_check.npz").exists()
    assert max(full["parity"]["max_abs_diff"].values()) <= 1e-3
    m = load_meta(out)
    assert m["state"] == {"deter": 32, "stoch": 16} and m["surprise"]["threshold"] > 0
    report = validate_artifact(out)
    assert report["steps"] == 12
    # the runtime acts within bounds and carries its state
    rt = PolicyRuntime(out)
    a1 = rt.step(images[0], proprio[0])
    a2 = rt.step(images[1], proprio[1])
    assert np.all(a1.action >= LOW) and np.all(a1.action <= HIGH)
    assert not np.allclose(rt.deter, 0)
    rt.reset()
    np.testing.assert_allclose(rt.step(images[0], proprio[0]).action, a1.action, atol=1e-6)
    assert a2.surprise >= 0


def test_export_refuses_when_parity_fails_and_writes_nothing(model, tmp_path):
    rssm, actor, images, proprio = model
    out = tmp_path / "artifact"
    with pytest.raises(ParityError, match="artifact not written"):
        export_policy(rssm, actor, meta(), out, images, proprio, tolerance=-1.0)
    assert not out.exists()


def test_validate_detects_a_tampered_artifact(model, tmp_path):
    rssm, actor, images, proprio = model
    out = tmp_path / "artifact"
    export_policy(rssm, actor, meta(), out, images, proprio)
    data = dict(np.load(out / "parity_check.npz"))
    data["torch_action"] = data["torch_action"] + 0.1
    np.savez(out / "parity_check.npz", **data)
    with pytest.raises(ParityError):
        validate_artifact(out)


def test_artifact_checks_name_the_problem(model, tmp_path):
    rssm, actor, images, proprio = model
    out = tmp_path / "artifact"
    export_policy(rssm, actor, meta(), out, images, proprio)
    m = load_meta(out)
    wrong = list(JOINT_NAMES)
    wrong[3], wrong[4] = wrong[4], wrong[3]
    with pytest.raises(ArtifactError, match="3: artifact 'FL_hip_joint' vs robot 'FL_thigh_joint'"):
        check_compatible(m, wrong)
    with pytest.raises(ArtifactError, match="another aspect ratio"):
        check_compatible(m, JOINT_NAMES, camera_size=(64, 48))
    check_compatible(m, JOINT_NAMES, camera_size=(128, 128), action_kind="cmd_vel")
    raw = json.loads((out / "policy_meta.json").read_text())
    raw["schema_version"] = 99
    (out / "policy_meta.json").write_text(json.dumps(raw))
    with pytest.raises(ArtifactError, match="schema_version 99"):
        load_meta(out)


def test_runtime_validates_inputs(model, tmp_path):
    rssm, actor, images, proprio = model
    out = tmp_path / "artifact"
    export_policy(rssm, actor, meta(), out, images, proprio)
    rt = PolicyRuntime(out)
    with pytest.raises(PolicyInputError, match="uint8"):
        rt.step(images[0].astype(np.float32), proprio[0])
    with pytest.raises(PolicyInputError, match="proprio has 3 values"):
        rt.step(images[0], np.zeros(3))
    with pytest.raises(PolicyInputError, match="NaN"):
        rt.step(images[0], np.array([np.nan, 0.0]))
    big = np.repeat(np.repeat(images[0], 2, 0), 2, 1)  # 64x64: resized to the policy's 32x32
    assert rt.step(big, proprio[0]).action.shape == (3,)
