"""The methods FoG is compared with, apart from FoG itself (`fog_training.fog_trainer`):

- `ppo_world_model`: PPO inside the same world models, same sample budget, contexts and filter
  (`fog train ppo`);
- `sb3_ppo`: stable-baselines3 PPO in the true state-based Push-T, same real samples (`fog train ppo-sb3`);
- `bptt`: the gradient cost of backpropagating through the diffusion sampler, against FoG's
  (`fog bench gradient-cost`).

`fog_training.bench_pusht` runs them side by side (docs/BENCHMARKS.md).
"""
