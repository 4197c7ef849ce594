"""``fog pipeline goal|pushcube``: the whole recipe behind a bundled Go2 policy, one command.

Runs our own pipeline on one of the simulated Go2's ego-centric tasks (quadruped_bridge.tasks),
each stage a ``fog`` command in its own process (so every stage is exactly what a user would type)::

    1 collect   fog collect --robot sim --task T --minutes M --out WORK/bags      (exploration episodes)
    2 dataset   fog dataset WORK/bags/episode_* --out WORK/go2.zarr --reward-source R   (5 Hz, cmd_vel)
    3 global    fog train world-model --preset P --auto-sigma-data ...            (diffusion world model)
    4 rssm      fog train rssm --preset P ...                                     (local latent model)
    5 policy    fog train policy --preset P --eval-episodes 0 ...                 (FoG + SAPO, in imagination)
    6 export    fog export WORK/policy --data WORK/go2.zarr --out ARTIFACT        (ONNX, parity-checked)
    7 dream     fog export-dream --run WORK/global --data WORK/go2.zarr --out ARTIFACT/world_model
                (the world model beside the policy, for `fog deploy --robot dream`; export replaces ARTIFACT)

Task defaults: ``goal`` (the bundled policy ``artifacts/goal``): 32x32 frames, the ``goal-cpu``
presets, reward ``goal-progress``, action bounds = the exploration's command ranges (so the actor
never leaves the commands its world models saw); ``pushcube``: 64x64, the ``cpu`` presets, reward
``sim``.

A stage whose ``WORK/.done_<stage>`` marker exists is skipped, and the trainers resume from their
checkpoints, so a killed pipeline continues where it stopped when run again with the same
arguments. The commands and per-stage wall times go into ``WORK/pipeline.json`` and into the
artifact's ``policy_meta.json`` (``created_by`` and ``config.pipeline``).

Examples::

    fog pipeline goal                                       # -> ros_ws/src/fog_policy/artifacts/goal
    fog pipeline goal --preset gpu                          # the GPU presets of every trainer
    fog pipeline pushcube --work runs/pushcube --collect-minutes 20 --policy-minutes 30
    fog pipeline goal --work /tmp/g --artifact /tmp/g/artifact --collect-minutes 0.5 \\
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

STAGES = ("collect", "dataset", "global", "rssm", "policy", "export", "dream")

TASK_DEFAULTS: dict[str, dict] = {
    "goal": {
        "image_size": 32,
        "preset": "goal-cpu",
        "reward_source": "goal-progress",
        "collect_minutes": 12.0,
        "wm_minutes": 20.0,
        "rssm_minutes": 6.0,
        "policy_minutes": 15.0,
        # action bounds = the exploration's command ranges (quadruped_bridge.exploration.command_bounds)
        "bounds": "exploration",
    },
    "pushcube": {
        "image_size": 64,
        "preset": "cpu",
        "reward_source": "sim",
        "collect_minutes": 10.0,
        "wm_minutes": 12.0,
        "rssm_minutes": 6.0,
        "policy_minutes": 10.0,
        "bounds": None,
    },
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="fog pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("task", choices=sorted(TASK_DEFAULTS), help="the Go2 task (quadruped_bridge.tasks)")
    p.add_argument("--work", default=None, help="folder for the bags, dataset and runs (default runs/TASK)")
    p.add_argument(
        "--artifact", default=None, help="where the exported policy goes (default ros_ws/src/fog_policy/artifacts/TASK)"
    )
    p.add_argument("--collect-minutes", type=float, default=None, help="simulated minutes of exploration")
    p.add_argument("--episode-seconds", type=float, default=30.0, help="exploration episode time limit (s)")
    p.add_argument("--preset", default=None, help="preset of every trainer (default: the task's, e.g. goal-cpu; gpu)")
    p.add_argument("--wm-preset", default=None, help="preset of fog train world-model (default --preset)")
    p.add_argument("--wm-minutes", type=float, default=None, help="time limit of the world-model training")
    p.add_argument("--rssm-preset", default=None, help="preset of fog train rssm (default --preset)")
    p.add_argument("--rssm-minutes", type=float, default=None, help="time limit of the RSSM training")
    p.add_argument("--policy-preset", default=None, help="preset of fog train policy (default --preset)")
    p.add_argument("--policy-minutes", type=float, default=None, help="time limit of the FoG policy training")
    p.add_argument("--image-size", type=int, default=None, help="dataset frame side (default: the task's)")
    p.add_argument("--seed", type=int, default=0, help="seed of the exploration and of the trainers")
    p.add_argument(
        "--reward-source",
        default=None,
        choices=("sim", "sim-progress", "goal-progress"),
        help="fog dataset's reward (default: the task's). pushcube: sim rewards the cube-to-goal potential; "
        "sim-progress its change per second (at CPU budgets it did not do better: docs/BENCHMARKS.md, Push-cube)",
    )
    p.add_argument("--force", action="store_true", help="rerun every stage (delete WORK first for a clean run)")
    a = p.parse_args(argv)
    d = TASK_DEFAULTS[a.task]
    a.work = a.work or f"runs/{a.task}"
    a.artifact = a.artifact or f"ros_ws/src/fog_policy/artifacts/{a.task}"
    image_given = a.image_size is not None
    for key in ("collect_minutes", "wm_minutes", "rssm_minutes", "policy_minutes", "image_size", "reward_source"):
        if getattr(a, key) is None:
            setattr(a, key, d[key])
    a.preset = a.preset or d["preset"]
    if a.preset == "gpu" and not image_given:
        a.image_size = 64  # the gpu presets' models work at 64x64
    for key in ("wm_preset", "rssm_preset", "policy_preset"):
        setattr(a, key, getattr(a, key) or a.preset)
    for key in ("collect_minutes", "wm_minutes", "rssm_minutes", "policy_minutes"):
        if getattr(a, key) <= 0:
            p.error(f"--{key.replace('_', '-')} must be positive, got {getattr(a, key)}")
    return a


def stage_commands(a: argparse.Namespace) -> dict[str, list[str]]:
    """Each stage's ``fog`` arguments (without the leading ``fog``)."""
    w = Path(a.work)
    data = str(w / "go2.zarr")
    bounds = []
    d = TASK_DEFAULTS[a.task]
    if d["bounds"] == "exploration":
        from quadruped_bridge.exploration import command_bounds

        low, high = command_bounds()
        bounds = ["--cmd-low", *(f"{x:g}" for x in low), "--cmd-high", *(f"{x:g}" for x in high)]
    return {
        "collect": [
            "collect", "--robot", "sim", "--task", a.task, "--minutes", f"{a.collect_minutes:g}",
            "--out", str(w / "bags"), "--seed", str(a.seed), "--episode-seconds", f"{a.episode_seconds:g}",
        ],
        "dataset": [
            "dataset", str(w / "bags" / "episode_*"), "--out", data, "--rate", "5", "--image-size", str(a.image_size),
            "--reward-source", a.reward_source, "--action", "cmd_vel", *bounds, "--overwrite",
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
            "--time-limit-min", f"{a.policy_minutes:g}", "--seed", str(a.seed), "--snapshots",
        ],
        "export": [
            "export", str(w / "policy"), "--data", data, "--out", a.artifact, "--provenance", str(w / "pipeline.json"),
        ],
        "dream": [
            "export-dream", "--run", str(w / "global"), "--data", data, "--out", str(Path(a.artifact) / "world_model"),
            "--starts", "20",
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
            "command": "fog pipeline " + shlex.join(argv),
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
