"""Regression test of the whole FoG/SAPO machinery on the 2-D point mass (seconds on one thread).

The trainer is unchanged: a true simulator steps the point mass (values), an MLP local model learned
from its transitions supplies the gradients through the decoupled swap, SAPO's actor, critic and
temperature updates do the rest. A policy that learned nothing ends about 0.7 from its goals; the
trained one must end within 0.15. With the swap's gradient cut (values still global, no local
Jacobian) the same run must not learn: the test would catch a swap that stops carrying gradients.
"""

import torch
from fog_training import local_models
from fog_training.fog_trainer import PRESETS, FoGTrainer
from fog_training.point_mass_env import evaluate_point_mass


def _train(tmp_path, iterations: int) -> tuple[float, float]:
    cfg = PRESETS["point-mass"]()
    cfg.out, cfg.iterations, cfg.seed = str(tmp_path / "run"), iterations, 3
    trainer = FoGTrainer(cfg)
    untrained = evaluate_point_mass(lambda s: trainer.actor(s))
    trainer.train()
    trainer.actor.eval()
    return untrained, evaluate_point_mass(lambda s: trainer.actor(s))


def test_fog_learns_the_point_mass(tmp_path):
    torch.manual_seed(0)
    untrained, trained = _train(tmp_path, 150)
    assert untrained > 0.5, f"the untrained policy should end far from its goals, ended {untrained:.3f}"
    assert trained < 0.15, f"FoG did not learn the point mass: mean final distance {untrained:.3f} -> {trained:.3f}"


def test_cutting_the_swap_gradient_stops_learning(tmp_path, monkeypatch):
    monkeypatch.setattr(local_models, "swap", lambda local, global_value: global_value.detach())
    torch.manual_seed(0)
    untrained, trained = _train(tmp_path, 150)
    assert trained > 0.4, (
        f"learned without the local model's gradient ({untrained:.3f} -> {trained:.3f}): the test is blind"
    )
