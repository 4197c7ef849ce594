"""The settings every training run shares, defined once and inherited by each trainer's config.

Inherited (not nested), so the command line keeps flat flags (``--seed 3 --threads 2``) and a saved
``config.json`` keeps its keys.

- :class:`RunConfig`: seed, torch threads, device, progress bar, time limit, resume policy (the
  policy trainers: FoG, PPO in the world models).
- :class:`PolicyEvalConfig`: true-environment evaluation during training and checkpoints.
- :class:`WorldModelInputs`: the dataset and the two world models a policy learns in, and its run
  folder (FoG and PPO in the world models).
- :class:`ModelRunConfig`: the world-model trainers' data, run folder, optimisation loop (which holds
  their threads, precision, time limit and checkpoints), validation split and resume policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from fog_training.train_loop import LoopConfig

Resume = Literal["auto", "require", "never"]


@dataclass
class RunConfig:
    seed: int = 0
    """Seed of context sampling, simulators and torch."""
    threads: int = 0
    """torch CPU threads (0 = default)."""
    device: str = "auto"
    """cpu, cuda, or auto."""
    progress: bool = True
    """tqdm progress bar."""
    time_limit_min: float = 0.0
    """Stop (with a checkpoint) after this many minutes (0 = none)."""
    resume: Resume = "auto"
    """auto: continue from RUN's checkpoint if any; require: fail without one; never: fail with one."""


@dataclass
class PolicyEvalConfig:
    eval_every_samples: int = 0
    """True-environment evaluation every this many world-model samples (0: only at the end, if eval_episodes > 0)."""
    eval_episodes: int = 0
    """Episodes per evaluation (0: no evaluation during training)."""
    eval_max_steps: int = 300
    """Step limit of evaluation episodes."""
    checkpoint_every: int = 20
    """Iterations between checkpoints (and policy exports); also at the end and on SIGTERM/SIGINT."""
    snapshots: bool = False
    """Keep a copy of the policy at every checkpoint in RUN/snapshots/<samples>/ (learning curves)."""


@dataclass
class WorldModelInputs:
    data: str = ""
    """Episode store the world models were trained on (context windows; FoG also refreshes the RSSM on it)."""
    world_model: str = ""
    """Run directory of ``fog train world-model`` (reads RUN/model)."""
    rssm: str = ""
    """Run directory of ``fog train rssm`` (reads RUN/model): the filter the policy acts through, exported with it."""
    out: str = ""
    """Run directory of this training."""


@dataclass
class ModelRunConfig:
    data: str = ""
    """Episode store (Zarr) to train on."""
    out: str = ""
    """Run directory: checkpoint, exported model, TensorBoard logs, metrics.jsonl."""
    loop: LoopConfig = field(default_factory=LoopConfig)
    """Optimization, logging and checkpointing."""
    val_fraction: float = 0.05
    """Last fraction of episodes held out for evaluation (never trained on; the same split for both models)."""
    resume: Resume = "auto"
    """auto: continue from RUN_DIR's checkpoint if any; require: fail without one; never: fail with one."""
