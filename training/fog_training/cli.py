"""The `fog` command line: one verb per job.

Each verb lives in its own module with a ``main(argv: list[str]) -> int`` that parses its own
typed options (and prints examples with ``--help``). Modules are imported only when their verb
runs, so ``fog --help`` stays fast and a verb's heavy imports (torch, mujoco) cost nothing to
the others.

Examples::

    fog collect --robot sim --minutes 2 --out data/bags
    fog dataset data/bags/*.mcap --out data/go2.zarr
    fog collect-pusht --episodes 200 --out data/pusht.zarr
"""

from __future__ import annotations

import importlib
import sys

# verb -> (module, one-line help). Multi-word verbs (``train world-model``) are listed whole.
VERBS: dict[str, tuple[str, str]] = {}


def register(verb: str, module: str, help_text: str) -> None:
    VERBS[verb] = (module, help_text)


# `collect` starts the simulator, the locomotion controller, exploration and the recorder: it lives in
# fog_policy, above everything it starts (needs the built workspace).
register("collect", "fog_policy.collect", "record exploration episodes from the simulator into bags")
register("security", "quadruped_bridge.sros2_keystore", "SROS2: `security init --out DIR` writes the robot's keystore")
register("dataset", "fog_training.data.bag_to_dataset", "convert rosbag2 bags into a Zarr episode dataset")
register(
    "deploy", "fog_policy.deploy", "run a policy on the simulator, the Go2 or a bag (deploy.launch.py in one process)"
)
register(
    "export", "fog_training.export_cli:export_main", "export a trained policy run to an ONNX artifact (parity-checked)"
)
register("validate", "fog_training.export_cli", "check an exported policy artifact with the robot's runtime")
register(
    "export-dream",
    "fog_training.dream_export",
    "bundle a global world model with real start windows for `fog deploy --robot dream` (float16, small)",
)
register(
    "dream compare",
    "fog_training.dream_compare",
    "replay a bag's actions through the world model: real | imagined video, PSNR per step",
)
register("collect-pusht", "fog_training.data.pusht_collect", "collect Push-T episodes into a Zarr dataset")
register("train world-model", "fog_training.train_world_model", "train the global diffusion world model")
register("train rssm", "fog_training.train_rssm", "train the local latent world model (RSSM)")
register(
    "eval world-model", "fog_training.eval_world_model", "world models: PSNR/SSIM vs horizon, action response, rewards"
)
register(
    "train policy",
    "fog_training.fog_trainer",
    "train the policy with decoupled first-order gradients (FoG / DMO) and SAPO",
)
register(
    "train ppo-world-model",
    "fog_training.baselines.ppo_world_model",
    "baseline: PPO inside the global world model (same sample budget)",
)
register(
    "train ppo-sb3",
    "fog_training.baselines.sb3_ppo",
    "baseline: stable-baselines3 PPO in the true state-based Push-T",
)
register(
    "eval policy",
    "fog_training.eval_policy",
    "evaluate a policy in gym-pusht: success rate, final coverage, best/worst video",
)
register("eval go2", "fog_training.eval_go2", "judge a Go2 policy run in the simulator (in-process), action histograms")
register(
    "pipeline",
    "fog_training.task_pipeline",
    "collect -> dataset -> world models -> FoG -> export for a Go2 task (goal | pushcube), one command",
)
register(
    "bench pusht",
    "fog_training.bench_pusht",
    "train every method at equal budgets, evaluate in gym-pusht, gradient cost FoG vs BPTT",
)
register(
    "bench gradient-cost",
    "fog_training.baselines.bptt",
    "time and peak memory of one actor update: FoG vs BPTT through the diffusion sampler",
)


def _usage() -> str:
    width = max(len(v) for v in VERBS)
    lines = ["usage: fog VERB [options]   (fog VERB --help for a verb's options and examples)", "", "verbs:"]
    lines += [f"  {v.ljust(width)}  {h}" for v, (_, h) in sorted(VERBS.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    # Longest match first so that "train world-model" wins over "train".
    for n in (2, 1):
        verb = " ".join(argv[:n])
        if len(argv) >= n and verb in VERBS:
            module, _ = VERBS[verb]
            module, _, func = module.partition(":")
            try:
                entry = getattr(importlib.import_module(module), func or "main")
            except ModuleNotFoundError as e:
                if e.name and e.name.split(".")[0] in ("quadruped_bridge", "fog_policy", "rclpy"):
                    print(
                        f"fog {verb}: needs the ROS 2 workspace ({e.name} not importable): run "
                        "`make setup` and `source ros_ws/install/setup.bash` first",
                        file=sys.stderr,
                    )
                    return 2
                raise
            return int(entry(argv[n:]) or 0)
    print(f"fog: unknown verb {' '.join(argv[:2])!r}\n\n{_usage()}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
