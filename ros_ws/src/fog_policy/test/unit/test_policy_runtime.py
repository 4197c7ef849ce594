"""The policy runtime (fog_policy.policy_runtime): load an exported artifact and run it step by step in process.

The artifact is the committed untrained policy (conftest.py's `untrained_artifact`); its
parity_check.npz holds an episode's images and proprio and what the exported torch policy output on
them, so the runtime's outputs are checked against real reference values.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from fog_contract.artifact import ArtifactError
from fog_policy.policy_runtime import PolicyInputError, PolicyRuntime


@pytest.fixture
def parity(untrained_artifact):
    return dict(np.load(untrained_artifact / "parity_check.npz"))


def test_loads_the_artifact_and_takes_its_sizes_from_the_meta(untrained_artifact):
    rt = PolicyRuntime(untrained_artifact)
    image = json.loads((untrained_artifact / "policy_meta.json").read_text())["observation"]["image"]
    assert (rt.height, rt.width) == (64, 64) == (image["height"], image["width"])
    assert rt.proprio_dim == 30 and rt.action_dim == 3 and (rt.deter_dim, rt.stoch_dim) == (64, 64)
    np.testing.assert_array_equal(rt.low, [-0.3, -0.3, -1.0])
    np.testing.assert_array_equal(rt.high, [0.5, 0.3, 1.0])
    assert rt.is_first and not rt.deter.any() and not rt.stoch.any() and not rt.prev_action.any()


def test_runs_the_recorded_episode_as_the_exported_torch_policy_did(untrained_artifact, parity):
    rt = PolicyRuntime(untrained_artifact)
    tolerance = json.loads((untrained_artifact / "policy_meta.json").read_text())["parity"]["tolerance"]
    assert len(parity["images"]) == 8
    for t, (image, proprio) in enumerate(zip(parity["images"], parity["proprio"], strict=True)):
        out = rt.step(image, proprio)
        np.testing.assert_allclose(out.raw_action, parity["torch_action"][t], atol=tolerance)
        np.testing.assert_allclose(rt.deter[0], parity["torch_deter"][t], atol=tolerance)
        np.testing.assert_allclose(rt.stoch[0], parity["torch_stoch"][t], atol=tolerance)
        assert out.surprise == pytest.approx(float(parity["torch_surprise"][t]), abs=tolerance)
        assert out.action.dtype == np.float64 and out.action.shape == (3,)
        np.testing.assert_array_equal(out.action, np.clip(out.raw_action, rt.low, rt.high))
        assert not rt.is_first


def test_reset_starts_a_new_episode(untrained_artifact, parity):
    rt = PolicyRuntime(untrained_artifact)
    image, proprio = parity["images"][0], parity["proprio"][0]
    first = rt.step(image, proprio)
    again = rt.step(image, proprio)  # the same observation, but with the state of a step behind it
    assert np.abs(again.raw_action - first.raw_action).max() > 1e-4
    rt.reset()
    assert rt.is_first and not rt.deter.any() and not rt.stoch.any() and not rt.prev_action.any()
    np.testing.assert_array_equal(rt.step(image, proprio).raw_action, first.raw_action)


def test_actions_are_clipped_to_the_artifact_bounds_and_fed_back_clipped(untrained_artifact, parity):
    meta_path = untrained_artifact / "policy_meta.json"
    meta = json.loads(meta_path.read_text())
    meta["action"]["low"], meta["action"]["high"] = [-0.01] * 3, [0.01] * 3
    meta_path.write_text(json.dumps(meta))
    rt = PolicyRuntime(untrained_artifact)
    out = rt.step(parity["images"][0], parity["proprio"][0])
    np.testing.assert_allclose(out.raw_action, parity["torch_action"][0], atol=1e-3)  # the graph is the same
    assert np.abs(out.raw_action).max() > 0.01
    np.testing.assert_array_equal(out.action, np.clip(out.raw_action, -0.01, 0.01))
    # the next step sees the clipped action
    np.testing.assert_array_equal(rt.prev_action[0], out.action.astype(np.float32))


def test_bad_inputs_are_refused_with_errors_naming_them_and_leave_the_state(untrained_artifact, parity):
    rt = PolicyRuntime(untrained_artifact)
    image, proprio = parity["images"][0], parity["proprio"][0]
    bad = [
        ((image.astype(np.float32), proprio), "image must be a uint8 \\(H, W, 3\\) RGB array, got float32"),
        ((image[..., 0], proprio), "image must be a uint8 \\(H, W, 3\\) RGB array"),
        ((image.tolist(), proprio), "image must be a uint8"),
        ((image[:48], proprio), "image is 64x48, the policy takes 64x64 \\(another aspect ratio\\)"),
        ((image, proprio[:3]), "proprio has 3 values, the policy takes 30 \\(\\['joint_pos.FR_hip_joint'"),
        ((image, np.where(np.arange(30) == 4, np.nan, proprio)), "proprio contains NaN/inf"),
        ((image, np.where(np.arange(30) == 0, np.inf, proprio)), "proprio contains NaN/inf"),
    ]
    for args, message in bad:
        with pytest.raises(PolicyInputError, match=message):
            rt.step(*args)
    assert rt.is_first and not rt.deter.any(), "a refused input must not advance the policy's state"


def test_larger_images_are_resized_and_missing_proprio_is_zero(untrained_artifact, parity):
    image = parity["images"][0]
    reference = PolicyRuntime(untrained_artifact).step(image, np.zeros(30)).raw_action
    big = np.repeat(np.repeat(image, 2, axis=0), 2, axis=1)  # 128x128: area averaging gives back the 64x64 image
    np.testing.assert_array_equal(PolicyRuntime(untrained_artifact).step(big).raw_action, reference)


def test_a_non_finite_policy_output_resets_the_state(untrained_artifact, parity):
    rt = PolicyRuntime(untrained_artifact)
    rt.step(parity["images"][0], parity["proprio"][0])
    rt.deter[:] = np.nan  # a state gone bad (the graph propagates it to every output)
    with pytest.raises(PolicyInputError, match="the policy produced NaN/inf \\(state reset\\)"):
        rt.step(parity["images"][1], parity["proprio"][1])
    assert rt.is_first and not rt.deter.any() and not rt.stoch.any() and not rt.prev_action.any()
    assert np.isfinite(rt.step(parity["images"][1], parity["proprio"][1]).action).all()


def test_broken_artifacts_are_refused_naming_the_file(untrained_artifact, tmp_path):
    onnx_file = untrained_artifact / "policy.onnx"
    onnx_file.write_bytes(b"not an onnx graph")
    with pytest.raises(ArtifactError, match="policy.onnx: onnxruntime cannot load it"):
        PolicyRuntime(untrained_artifact)

    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "other", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), onnx_file)
    with pytest.raises(ArtifactError, match=r"graph inputs \['x'\] / outputs \['y'\], expected \['image', 'proprio'"):
        PolicyRuntime(untrained_artifact)

    onnx_file.unlink()
    with pytest.raises(ArtifactError, match="no policy.onnx"):
        PolicyRuntime(untrained_artifact)
    with pytest.raises(ArtifactError, match="no policy_meta.json"):
        PolicyRuntime(tmp_path)
