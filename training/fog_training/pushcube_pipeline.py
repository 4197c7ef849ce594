"""``fog pipeline pushcube``: the whole recipe behind the bundled push-cube policy, one command.

Runs our own pipeline on the simulated Go2's ego-centric push-cube task, each stage a ``fog``
command in its own process (so every stage is exactly what a user would type)::

    1 collect   fog collect --robot sim --minutes M --out WORK/bags               (exploration episodes)
    2 dataset   fog dataset WORK/bags --out WORK/go2.zarr --reward-source R       (5 Hz, 64x64, cmd_vel)
    3 global    fog train world-model --preset cpu --auto-sigma-data ...          (diffusion world model)
    4 rssm      fog train rssm --preset cpu ...                                   (local latent model)
    5 policy    fog train policy --preset cpu --eval-episodes 0 ...               (FoG + SAPO, in imagination)
    6 export    fog export WORK/policy --data WORK/go2.zarr --out ARTIFACT        (ONNX, parity-checked)

A stage whose ``WORK/.done_<stage>`` marker exists is skipped, and the trainers resume from their
checkpoints, so a killed pipeline continues where it stopped when run again with the same
arguments. The commands and per-stage wall times go into ``WORK/pipeline.json`` and into the
artifact's ``policy_meta.json`` (``created_by`` and ``config.pipeline``).

Examples::

    fog pipeline pushcube                                   # -> ros_ws/src/fog_policy/artifacts/pushcube
    fog pipeline pushcube --work runs/pushcube --collect-minutes 20 --policy-minutes 30
    fog pipeline pushcube --work /tmp/pc --artifact /tmp/pc/artifact --collect-minutes 0.5 \\
        --wm-preset debug --rssm-preset debug --policy-preset debug    # a smoke run in a few minutes
"""

from __future__ import annotations

import argparse
import glob
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_ARTIFACT = "ros_ws/src/fog_policy/artifacts/pushcube"
STAGES = ("collect", "dataset", "global", "rssm", "policy", "export")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="fog pipeline pushcube", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--work", default="runs/pushcube", help="folder for the bags, dataset and runs")
    p.add_argument("--artifact", default=DEFAULT_ARTIFACT, help="where the exported policy goes")
    p.add_argument("--collect-minutes", type=float, default=10.0, help="simulated minutes of exploration")
    p.add_argument("--episode-seconds", type=float, default=30.0, help="exploration episode time limit (s)")
    p.add_argument("--wm-preset", default="cpu", help="preset of fog train world-model")
    p.add_argument("--wm-minutes", type=float, default=12.0, help="time limit of the world-model training")
    p.add_argument("--rssm-preset", default="cpu", help="preset of fog train rssm")
    p.add_argument("--rssm-minutes", type=float, default=6.0, help="time limit of the RSSM training")
    p.add_argument("--policy-preset", default="cpu", help="preset of fog train policy")
    p.add_argument("--policy-minutes", type=float, default=10.0, help="time limit of the FoG policy training")
    p.add_argument("--seed", type=int, default=0, help="seed of the exploration and of the trainers")
    p.add_argument(
        "--reward-source",
        default="sim",
        choices=("sim", "sim-progress"),
        help="fog dataset's reward: sim (default, the bundled policy's) rewards the cube-to-goal potential; "
        "sim-progress its change per second (the per-episode offset the ego camera cannot see cancels; at CPU "
        "budgets it did not do better: docs/BENCHMARKS.md, Push-cube)",
    )
    p.add_argument("--force", action="store_true", help="rerun every stage (delete WORK first for a clean run)")
    return p.parse_args(argv)


def stage_commands(a: argparse.Namespace) -> dict[str, list[str]]:
    """Each stage's ``fog`` arguments (without the leading ``fog``)."""
    w = Path(a.work)
    data = str(w / "go2.zarr")
    return {
        "collect": [
            "collect", "--robot", "sim", "--minutes", f"{a.collect_minutes:g}", "--out", str(w / "bags"),
            "--seed", str(a.seed), "--episode-seconds", f"{a.episode_seconds:g}",
        ],
        "dataset": [
            "dataset", str(w / "bags" / "episode_*"), "--out", data, "--rate", "5", "--image-size", "64",
            "--reward-source", a.reward_source, "--action", "cmd_vel", "--overwrite",
        ],
        "global": [
            "train", "world-model", "--data", data, "--out", str(w / "global"), "--preset", a.wm_preset,
            "--auto-sigma-data", "--loop.time-limit-min", f"{a.wm_minutes:g}", "--loop.seed", str(a.seed),
        ],
        "rssm": [
            "train", "rssm", "--data", data, "--out", str(w / "rssm"), "--preset", a.rssm_preset,
            "--loop.time-limit-min", f"{a.rssm_minutes:g}", "--loop.seed", str(a.seed),
        ],
        "policy": [
            "train", "policy", "--preset", a.policy_preset, "--data", data, "--world-model", str(w / "global"),
            "--rssm", str(w / "rssm"), "--out", str(w / "policy"), "--eval-episodes", "0",
            "--time-limit-min", f"{a.policy_minutes:g}", "--seed", str(a.seed),
        ],
        "export": [
            "export", str(w / "policy"), "--data", data, "--out", a.artifact, "--provenance", str(w / "pipeline.json"),
        ],
    }  # fmt: skip


def shell_line(args: list[str]) -> str:
    """The stage as a user types it (glob patterns left for the shell to expand)."""
    return "fog " + " ".join(x if "*" in x else shlex.quote(x) for x in args)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    commands = stage_commands(a)
    record_path = work / "pipeline.json"
    record = json.loads(record_path.read_text()) if record_path.exists() and not a.force else {}
    record.update(
        {
            "command": "fog pipeline pushcube " + shlex.join(argv),
            "stages": {s: shell_line(commands[s]) for s in STAGES},
            "seconds": record.get("seconds", {}),
        }
    )
    record_path.write_text(json.dumps(record, indent=2))
    for i, stage in enumerate(STAGES, 1):
        marker = work / f".done_{stage}"
        if marker.exists() and not a.force:
            print(f"[pipeline] {i}/{len(STAGES)} {stage}: done already ({marker})")
            continue
        print(f"[pipeline] {i}/{len(STAGES)} {stage}: {record['stages'][stage]}", flush=True)
        t0 = time.monotonic()
        args = [x for arg in commands[stage] for x in (sorted(glob.glob(arg)) or [arg] if "*" in arg else [arg])]
        rc = subprocess.call([sys.executable, "-m", "fog_training.cli", *args])
        if rc != 0:
            print(
                f"[pipeline] stage {stage} failed (exit {rc}); fix the cause and rerun the same command to continue",
                file=sys.stderr,
            )
            return 1
        record["seconds"][stage] = round(time.monotonic() - t0, 1)
        record_path.write_text(json.dumps(record, indent=2))
        marker.touch()
    total = sum(record["seconds"].values())
    print(f"[pipeline] artifact: {a.artifact} ({total / 60:.1f} min of stages; commands in {record_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
