"""The policy artifact's schema (`fog_contract.artifact`): what `load_meta` accepts and refuses, and
`check_compatible`'s refusals, on artifact folders written here (the exported ones are tested in
training's test_export.py)."""

from __future__ import annotations

import json

import pytest
from fog_contract.artifact import META_FILE, ONNX_FILE, SCHEMA_VERSION, ArtifactError, check_compatible, load_meta

JOINTS = ["FR_hip_joint", "FR_thigh_joint", "FR_calf_joint"]


def valid_meta() -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "robot": "go2",
        "joint_names": list(JOINTS),
        "observation": {"image": {"height": 32, "width": 32, "encoding": "rgb8"}, "proprio": {"names": ["q0"]}},
        "action": {"kind": "cmd_vel", "names": ["vx", "wz"], "low": [-0.5, -1.0], "high": [0.5, 1.0]},
        "state": {"deter": 64, "stoch": 32},
        "policy_rate_hz": 10.0,
        "normalization": {},
        "default_pose": [0.0, 0.8, -1.5],
        "action_scale": 1.0,
        "surprise": {"threshold": 5.0},
        "config_hash": "abc",
        "code_revision": "deadbeef",
        "created_by": "test",
    }


def write(tmp_path, meta: dict, onnx: bool = True):
    (tmp_path / META_FILE).write_text(json.dumps(meta))
    if onnx:
        (tmp_path / ONNX_FILE).write_bytes(b"not read by load_meta")
    return tmp_path


def test_a_complete_meta_loads(tmp_path):
    meta = load_meta(write(tmp_path, valid_meta()))
    assert meta["joint_names"] == JOINTS and meta["action"]["kind"] == "cmd_vel"


def test_a_folder_without_meta_or_onnx_is_named(tmp_path):
    with pytest.raises(ArtifactError, match="no policy_meta.json"):
        load_meta(tmp_path)
    with pytest.raises(ArtifactError, match="no policy.onnx"):
        load_meta(write(tmp_path, valid_meta(), onnx=False))


def test_bad_json_names_the_file(tmp_path):
    write(tmp_path, valid_meta())
    (tmp_path / META_FILE).write_text("{not json")
    with pytest.raises(ArtifactError, match="policy_meta.json: not valid JSON"):
        load_meta(tmp_path)


def edited(change):
    meta = valid_meta()
    change(meta)
    return meta


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m.update(schema_version=SCHEMA_VERSION + 1), "re-export the policy"),
        (lambda m: m.pop("robot"), "missing field 'robot'"),
        (lambda m: m.update(joint_names="FR_hip_joint"), "field 'joint_names' must be"),
        (lambda m: m["observation"]["image"].update(height=0), r"observation.image.height must be a positive"),
        (lambda m: m["observation"]["image"].update(encoding="bgr8"), "encoding must be 'rgb8'"),
        (lambda m: m["observation"]["proprio"].pop("names"), "observation.proprio.names must be a list"),
        (lambda m: m["action"].update(kind="torque"), "action.kind must be one of"),
        (lambda m: m["action"].update(low=[-0.5]), "must be lists of one length"),
        (lambda m: m["action"].update(low=[1.0, -1.0]), "low <= high"),
        (lambda m: m["action"].update(high=[float("inf"), 1.0]), "finite"),
        (lambda m: m["state"].update(stoch=-1), "state.stoch must be a positive integer"),
        (lambda m: m.update(policy_rate_hz=0), "policy_rate_hz must be positive"),
    ],
)
def test_each_broken_field_is_refused_by_name(tmp_path, change, message):
    with pytest.raises(ArtifactError, match=message):
        load_meta(write(tmp_path, edited(change)))


def test_check_compatible_names_what_does_not_fit():
    meta = valid_meta()
    check_compatible(meta, JOINTS, camera_size=(64, 64), action_kind="cmd_vel")  # larger, same aspect: fine
    with pytest.raises(ArtifactError, match="1: artifact 'FR_thigh_joint' vs robot 'FL_thigh_joint'"):
        check_compatible(meta, [JOINTS[0], "FL_thigh_joint", JOINTS[2]])
    with pytest.raises(ArtifactError, match="artifact has 3 joints, robot 2"):
        check_compatible(meta, JOINTS[:2])
    with pytest.raises(ArtifactError, match="another aspect ratio"):
        check_compatible(meta, JOINTS, camera_size=(64, 48))
    with pytest.raises(ArtifactError, match="the deployment expects 'joint_position'"):
        check_compatible(meta, JOINTS, action_kind="joint_position")
