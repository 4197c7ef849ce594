"""Export a trained policy (RSSM filter + actor) into the deployable artifact, with a parity check.

The artifact (see fog_contract.artifact) is one ONNX graph for the policy step plus
`policy_meta.json`. `export_policy` traces the step with torch's ONNX exporter, then replays
recorded inputs (a real episode from the dataset) through torch and through onnxruntime *with the
runtime the robot uses* (fog_policy.policy_runtime), step by step with the recurrent state carried,
and refuses to write the artifact if actions, states or surprise differ beyond tolerance. The
inputs and torch's outputs are kept in the artifact (`parity_check.npz`) so that `fog validate`
can repeat the check on any machine.

    fog export RUN_DIR --out artifacts/pushcube          (see fog_training.export_cli)
    fog validate artifacts/pushcube
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fog_contract.artifact import SCHEMA_VERSION, ArtifactError, load_meta
from fog_worldmodel.rssm import RSSM, RSSMState
from torch import nn

POLICY_INPUTS = ("image", "proprio", "deter", "stoch", "prev_action", "is_first")
POLICY_OUTPUTS = ("action", "deter_next", "stoch_next", "surprise")


class PolicyStep(nn.Module):
    """One step of the deployed policy: filter the camera image into the RSSM state, then act.

    `actor` maps RSSM features [B, D + S*C] to actions in the action space's units (deterministic:
    the mean of the trained policy). Proprio is an input of the graph for the artifact's fixed
    signature; a policy that does not use it ignores it.
    """

    def __init__(self, rssm: RSSM, actor: nn.Module):
        super().__init__()
        self.rssm = rssm
        self.actor = actor
        self.stoch_shape = (rssm.cfg.stoch, rssm.cfg.classes)

    def forward(self, image, proprio, deter, stoch, prev_action, is_first):
        state = RSSMState(deter, stoch.view(-1, *self.stoch_shape))
        embed = self.rssm.encode(image)
        post, _prior, post_logits, prior_logits = self.rssm.obs_step(state, prev_action, embed, is_first, sample=False)
        action = self.actor(self.rssm.feat(post))
        # KL(posterior || prior), summed over the categorical latents: the world model's surprise
        logq, logp = torch.log_softmax(post_logits, -1), torch.log_softmax(prior_logits, -1)
        surprise = (logq.exp() * (logq - logp)).sum((-2, -1))
        return action, post.deter, post.stoch.flatten(-2), surprise + 0.0 * proprio.sum(-1)


def git_revision() -> str:
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], capture_output=True, text=True, cwd=Path(__file__).resolve().parent
        ).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def torch_rollout(step: PolicyStep, images: np.ndarray, proprio: np.ndarray, low, high) -> dict[str, np.ndarray]:
    """Run the torch step over a recorded sequence exactly as the runtime does (clip, carry state)."""
    rssm = step.rssm
    deter = torch.zeros(1, rssm.cfg.deter)
    stoch = torch.zeros(1, rssm.cfg.stoch * rssm.cfg.classes)
    prev = torch.zeros(1, len(low))
    out = {k: [] for k in ("action", "deter", "stoch", "surprise")}
    with torch.no_grad():
        for t in range(len(images)):
            is_first = torch.tensor([1.0 if t == 0 else 0.0])
            action, deter, stoch, surprise = step(
                torch.from_numpy(images[t][None]), torch.from_numpy(proprio[t][None]), deter, stoch, prev, is_first
            )
            prev = torch.clamp(
                action, torch.as_tensor(low, dtype=torch.float32), torch.as_tensor(high, dtype=torch.float32)
            )
            for k, v in (("action", action), ("deter", deter), ("stoch", stoch), ("surprise", surprise)):
                out[k].append(v[0].numpy().copy())
    return {k: np.stack(v) for k, v in out.items()}


def runtime_rollout(artifact_dir: Path, images: np.ndarray, proprio: np.ndarray) -> dict[str, np.ndarray]:
    from fog_policy.policy_runtime import PolicyRuntime

    rt = PolicyRuntime(artifact_dir)
    out = {k: [] for k in ("action", "deter", "stoch", "surprise")}
    for t in range(len(images)):
        res = rt.step(images[t], proprio[t])
        out["action"].append(res.raw_action)
        out["deter"].append(rt.deter[0].copy())
        out["stoch"].append(rt.stoch[0].copy())
        out["surprise"].append(np.float64(res.surprise))
    return {k: np.stack(v) for k, v in out.items()}


def parity(reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray]) -> dict[str, float]:
    """Largest absolute difference per output over the sequence."""
    return {
        k: float(np.max(np.abs(np.asarray(reference[k], np.float64) - np.asarray(candidate[k], np.float64))))
        for k in reference
    }


class ParityError(RuntimeError):
    pass


def export_policy(
    rssm: RSSM,
    actor: nn.Module,
    meta: dict[str, Any],
    out_dir: str | Path,
    images: np.ndarray,
    proprio: np.ndarray | None = None,
    tolerance: float = 1e-3,
) -> dict[str, Any]:
    """Write the artifact to `out_dir` after a parity check on (images [T,H,W,3] uint8, proprio [T,P]).

    `meta` holds the run-specific fields of policy_meta.json (robot, joint_names, observation,
    action, policy_rate_hz, normalization, default_pose, action_scale, created_by, config); this
    adds state sizes, surprise threshold, config hash, code revision and the parity figures.
    Nothing is written when parity fails.
    """
    out_dir = Path(out_dir)
    rssm = rssm.eval()
    actor = actor.eval()
    step = PolicyStep(rssm, actor).eval()
    images = np.ascontiguousarray(images, dtype=np.uint8)
    p_dim = len(meta["observation"]["proprio"]["names"])
    proprio = np.zeros((len(images), p_dim), np.float32) if proprio is None else np.asarray(proprio, np.float32)
    low, high = meta["action"]["low"], meta["action"]["high"]
    reference = torch_rollout(step, images, proprio, low, high)
    full = complete_meta(meta, rssm, reference["surprise"])

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    # beside the destination, so the final rename stays on one file system
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out_dir.parent))
    try:
        write_onnx(step, tmp / "policy.onnx", rssm, images.shape[1:3], p_dim, len(low))
        (tmp / "policy_meta.json").write_text(json.dumps(full, indent=2))
        load_meta(tmp)  # the schema the robot checks
        candidate = runtime_rollout(tmp, images, proprio)
        diffs = parity(reference, candidate)
        if max(diffs.values()) > tolerance:
            raise ParityError(f"ONNX and torch differ beyond {tolerance}: {diffs}; artifact not written")
        full["parity"] = {"max_abs_diff": diffs, "tolerance": tolerance, "steps": len(images)}
        (tmp / "policy_meta.json").write_text(json.dumps(full, indent=2))
        np.savez_compressed(
            tmp / "parity_check.npz", images=images, proprio=proprio, **{f"torch_{k}": v for k, v in reference.items()}
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.chmod(0o755)  # mkdtemp makes it private; an artifact is read by other users (docker, robot)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return full


def complete_meta(meta: dict[str, Any], rssm: RSSM, surprise: np.ndarray) -> dict[str, Any]:
    """policy_meta.json's fields: the run's `meta` plus schema version, state sizes, the surprise stop
    threshold (from the torch rollout's `surprise` on the export's episode), config hash and revision."""
    threshold = float(max(np.percentile(surprise[1:], 99) * 3.0, 1.0)) if len(surprise) > 2 else 10.0
    full = dict(meta)
    config = full.pop("config", {})
    full.update(
        {
            "schema_version": SCHEMA_VERSION,
            "state": {"deter": rssm.cfg.deter, "stoch": rssm.cfg.stoch * rssm.cfg.classes},
            "surprise": {
                "threshold": threshold,
                "steps": 5,
                "basis": "3 x the 99th percentile of the surprise on the export's recorded episode",
            },
            "config_hash": config_hash(config),
            "code_revision": git_revision(),
            "config": config,
        }
    )
    full.setdefault("created_by", " ".join(sys.argv))
    return full


def write_onnx(step: PolicyStep, path: Path, rssm: RSSM, image_hw: tuple[int, int], p_dim: int, a_dim: int) -> None:
    """The policy step as one ONNX graph (opset 17), traced on zero inputs of the artifact's shapes."""
    d, s = rssm.cfg.deter, rssm.cfg.stoch * rssm.cfg.classes
    h, w = image_hw
    args = (
        torch.zeros(1, h, w, 3, dtype=torch.uint8),
        torch.zeros(1, p_dim),
        torch.zeros(1, d),
        torch.zeros(1, s),
        torch.zeros(1, a_dim),
        torch.ones(1),
    )
    torch.onnx.export(
        step,
        args,
        str(path),
        input_names=list(POLICY_INPUTS),
        output_names=list(POLICY_OUTPUTS),
        opset_version=17,
        dynamo=False,
    )


def validate_artifact(artifact_dir: str | Path, tolerance: float | None = None) -> dict[str, Any]:
    """Load an artifact with the robot's runtime and repeat its parity check; raise if it fails."""
    artifact_dir = Path(artifact_dir)
    meta = load_meta(artifact_dir)
    check = artifact_dir / "parity_check.npz"
    if not check.exists():
        raise ArtifactError(f"{artifact_dir}: no parity_check.npz (was it written by fog export?)")
    data = np.load(check)
    reference = {k[len("torch_") :]: data[k] for k in data.files if k.startswith("torch_")}
    candidate = runtime_rollout(artifact_dir, data["images"], data["proprio"])
    diffs = parity(reference, candidate)
    tol = tolerance if tolerance is not None else meta.get("parity", {}).get("tolerance", 1e-3)
    if max(diffs.values()) > tol:
        raise ParityError(f"{artifact_dir}: onnxruntime differs from the exported torch outputs beyond {tol}: {diffs}")
    return {
        "artifact": str(artifact_dir),
        "max_abs_diff": diffs,
        "tolerance": tol,
        "steps": int(len(data["images"])),
        "action": meta["action"],
        "policy_rate_hz": meta["policy_rate_hz"],
        "code_revision": meta["code_revision"],
    }
