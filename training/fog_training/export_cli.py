"""`fog export` and `fog validate`: a trained run -> the deployable artifact, and its check.

`fog export RUN --data DATA.zarr --out ARTIFACT_DIR` loads the run's actor and RSSM
(`RUN/policy`, see fog_training.actor.load_policy), takes the observation and action spec from the
dataset it was trained on, replays one recorded episode through torch and through onnxruntime,
and writes the artifact only if they agree (fog_training.export.export_policy).
`fog validate ARTIFACT_DIR` loads an artifact with the robot's runtime and repeats the check.

Examples::

    fog export runs/go2/fog --data data/go2.zarr --out artifacts/pushcube
    fog validate artifacts/pushcube
    fog validate ros_ws/src/fog_policy/artifacts/pushcube --tolerance 1e-4
"""

from __future__ import annotations

import argparse
import json
import sys

import torch
from fog_contract.go2 import STAND_POSE

from fog_training.export import ParityError, export_policy, validate_artifact


class ActionHead(torch.nn.Module):
    """RSSM feature -> the actor's deterministic action, as one module for the ONNX graph."""

    def __init__(self, actor):
        super().__init__()
        self.actor = actor

    def forward(self, feat):
        from fog_training.actor import deterministic_action

        return deterministic_action(self.actor, feat)


def export_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fog export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run", help="trained policy run folder (holds policy/)")
    p.add_argument("--data", required=True, help="the dataset the run was trained on (spec and parity inputs)")
    p.add_argument("--out", required=True, help="artifact folder to write")
    p.add_argument("--episode", type=int, default=0, help="dataset episode replayed for the parity check")
    p.add_argument("--steps", type=int, default=32, help="steps of that episode replayed")
    p.add_argument("--tolerance", type=float, default=1e-3)
    p.add_argument(
        "--provenance",
        default=None,
        help="JSON file describing how the run was made (e.g. the pipeline's commands): stored in the "
        "metadata under config.pipeline, its 'command' becomes created_by",
    )
    a = p.parse_args(argv)
    provenance = None
    if a.provenance:
        try:
            provenance = json.loads(open(a.provenance).read())
        except (OSError, ValueError) as e:
            print(f"fog export: --provenance {a.provenance}: expected a readable JSON file ({e})", file=sys.stderr)
            return 2
    from fog_training.actor import load_policy
    from fog_training.data.episode_store import EpisodeStore

    actor, rssm = load_policy(a.run)
    if rssm is None:
        print(f"fog export: {a.run} is a state-feature policy (no RSSM): only image policies deploy", file=sys.stderr)
        return 2
    store = EpisodeStore(a.data)
    meta = store.meta
    ep = store.episode(a.episode)
    n = min(a.steps, len(ep["image"]))
    spec = {
        "robot": str(meta.get("source", "go2")),
        "joint_names": list(meta.get("joint_names", [])),
        "observation": {
            "image": {"height": int(ep["image"].shape[1]), "width": int(ep["image"].shape[2]), "encoding": "rgb8"},
            "proprio": {"names": list(meta["proprio"]["names"])},
        },
        "action": {
            # the converter's cmd_vel actions are (vx, vy, yaw_rate); anything else is joint targets
            "kind": "cmd_vel" if len(meta["action"]["names"]) == 3 else "joint_position",
            "names": list(meta["action"]["names"]),
            "low": [float(x) for x in meta["action"]["low"]],
            "high": [float(x) for x in meta["action"]["high"]],
        },
        "policy_rate_hz": float(meta.get("policy_rate_hz", 5.0)),
        # the simulator scene the policy was trained for (fog deploy --robot sim picks it from here)
        "task": task_of(meta),
        "normalization": meta.get("normalization", {}),
        "default_pose": [float(v) for v in STAND_POSE],
        "action_scale": 1.0,
        "created_by": "fog export " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": {"run": str(a.run), "data": str(a.data), "dataset_meta": meta},
    }
    if provenance is not None:
        spec["config"]["pipeline"] = provenance
        spec["created_by"] = str(provenance.get("command", spec["created_by"]))
    full = export_policy(rssm, ActionHead(actor), spec, a.out, ep["image"][:n], ep["proprio"][:n], a.tolerance)
    print(json.dumps({"artifact": a.out, "parity": full["parity"]}, indent=2))
    return 0


def task_of(dataset_meta: dict) -> str | None:
    """The Go2 task (quadruped_bridge.tasks) a dataset was made for, from its reward source; None if unknown."""
    source = str(dataset_meta.get("reward_source", ""))
    if source.startswith("goal-progress"):
        return "goal"
    if source.startswith(("sim:", "sim-progress")):
        return "pushcube"
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fog validate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("artifact", help="artifact folder (policy.onnx + policy_meta.json)")
    p.add_argument("--tolerance", type=float, default=None, help="max abs difference (default: the export's)")
    a = p.parse_args(argv)
    from fog_contract.artifact import ArtifactError

    try:
        report = validate_artifact(a.artifact, a.tolerance)
    except (ArtifactError, ParityError, OSError) as e:
        print(f"fog validate: {e}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    print(f"[validate] {a.artifact}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
