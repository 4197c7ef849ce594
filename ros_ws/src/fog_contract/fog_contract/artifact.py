"""The exported policy artifact: `policy.onnx` + `policy_meta.json`, and the checks before use.

The artifact is the only thing that crosses from training to the robot. The ONNX graph is one
policy step:

    (image uint8 [1,H,W,3], proprio f32 [1,P], deter f32 [1,D], stoch f32 [1,S], prev_action f32 [1,A],
     is_first f32 [1])  ->  (action f32 [1,A], deter_next [1,D], stoch_next [1,S], surprise f32 [1])

where (deter, stoch) is the RSSM state, `action` is in the units of the action space (cmd_vel in
m/s and rad/s, or joint positions in rad), and `surprise` = KL(posterior || prior): how much the
camera image disagreed with what the world model expected.

`policy_meta.json` says what the graph expects and what produced it; `load_meta` refuses a file
with another schema version or missing fields, and `check_compatible` refuses an artifact that
does not fit the robot it is about to drive (joint names and order, camera, action space), each
with an error that names the field, the artifact's value and the robot's.

Pure Python (json), no rclpy or onnxruntime, so training validates exports with this same code.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
META_FILE = "policy_meta.json"
ONNX_FILE = "policy.onnx"
INPUTS = ("image", "proprio", "deter", "stoch", "prev_action", "is_first")
OUTPUTS = ("action", "deter_next", "stoch_next", "surprise")
ACTION_KINDS = ("cmd_vel", "joint_position")

REQUIRED = {
    "schema_version": int,
    "robot": str,
    "joint_names": list,
    "observation": dict,
    "action": dict,
    "state": dict,
    "policy_rate_hz": (int, float),
    "normalization": dict,
    "default_pose": list,
    "action_scale": (int, float),
    "surprise": dict,
    "config_hash": str,
    "code_revision": str,
    "created_by": str,
}


class ArtifactError(ValueError):
    """An artifact that cannot be used: the message names the file, the field and what was expected."""


def load_meta(artifact_dir: str | Path) -> dict[str, Any]:
    """Read and check `policy_meta.json` of an artifact folder."""
    artifact_dir = Path(artifact_dir)
    path = artifact_dir / META_FILE
    if not path.exists():
        raise ArtifactError(f"{artifact_dir}: no {META_FILE} (not a policy artifact folder)")
    if not (artifact_dir / ONNX_FILE).exists():
        raise ArtifactError(f"{artifact_dir}: no {ONNX_FILE}")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ArtifactError(f"{path}: not valid JSON ({e})") from e
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ArtifactError(
            f"{path}: schema_version {version!r}, this runtime reads schema_version {SCHEMA_VERSION}: "
            "re-export the policy with this version of the stack"
        )
    for key, kind in REQUIRED.items():
        if key not in meta:
            raise ArtifactError(f"{path}: missing field {key!r}")
        if not isinstance(meta[key], kind):
            raise ArtifactError(f"{path}: field {key!r} must be {kind}, got {type(meta[key]).__name__}")
    obs, act, state = meta["observation"], meta["action"], meta["state"]
    image = obs.get("image", {})
    for key in ("height", "width"):
        if not isinstance(image.get(key), int) or image[key] <= 0:
            raise ArtifactError(f"{path}: observation.image.{key} must be a positive integer, got {image.get(key)!r}")
    if image.get("encoding") != "rgb8":
        raise ArtifactError(f"{path}: observation.image.encoding must be 'rgb8', got {image.get('encoding')!r}")
    if not isinstance(obs.get("proprio", {}).get("names"), list):
        raise ArtifactError(f"{path}: observation.proprio.names must be a list")
    if act.get("kind") not in ACTION_KINDS:
        raise ArtifactError(f"{path}: action.kind must be one of {ACTION_KINDS}, got {act.get('kind')!r}")
    names, low, high = act.get("names"), act.get("low"), act.get("high")
    if not (
        isinstance(names, list)
        and isinstance(low, list)
        and isinstance(high, list)
        and len(names) == len(low) == len(high) > 0
    ):
        raise ArtifactError(f"{path}: action.names, action.low and action.high must be lists of one length")
    if any(not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi) for lo, hi in zip(low, high)):
        raise ArtifactError(f"{path}: action bounds must be finite with low <= high, got {low}, {high}")
    for key in ("deter", "stoch"):
        if not isinstance(state.get(key), int) or state[key] <= 0:
            raise ArtifactError(f"{path}: state.{key} must be a positive integer, got {state.get(key)!r}")
    if meta["policy_rate_hz"] <= 0:
        raise ArtifactError(f"{path}: policy_rate_hz must be positive")
    return meta


def check_compatible(
    meta: dict[str, Any], joint_names, camera_size: tuple[int, int] | None = None, action_kind: str | None = None
) -> None:
    """Refuse an artifact that does not fit this robot; `camera_size` is (width, height) if known.

    The camera may be larger than the policy's input (images are resized), but not of another
    aspect ratio: a policy trained on a square ego view would see a squashed world.
    """
    if list(meta["joint_names"]) != list(joint_names):
        diff = [
            f"{i}: artifact {a!r} vs robot {b!r}"
            for i, (a, b) in enumerate(zip(meta["joint_names"], joint_names))
            if a != b
        ]
        if len(meta["joint_names"]) != len(joint_names):
            diff.append(f"artifact has {len(meta['joint_names'])} joints, robot {len(joint_names)}")
        raise ArtifactError("artifact joint_names do not match the robot's: " + "; ".join(diff[:4]))
    if camera_size is not None:
        width, height = camera_size
        img = meta["observation"]["image"]
        if width * img["height"] != height * img["width"]:
            raise ArtifactError(
                f"camera is {width}x{height} but the policy was trained on {img['width']}x{img['height']} "
                "images (another aspect ratio)"
            )
    if action_kind is not None and meta["action"]["kind"] != action_kind:
        raise ArtifactError(
            f"artifact action.kind is {meta['action']['kind']!r}, the deployment expects {action_kind!r}"
        )
