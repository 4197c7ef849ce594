"""The Push-T benchmark's report (fog_training.bench_pusht_report): the table's reference rows and the
sentence on whether anything beats doing nothing."""

from __future__ import annotations

from fog_training import bench_pusht, bench_pusht_report
from fog_training.pusht_task import PushTAction


def _results(fog_cov: float) -> dict:
    ev = lambda n, cov, kind: {  # noqa: E731
        "samples": n,
        "real_samples": 100,
        "sample_kind": kind,
        "success_rate": 0.0,
        "mean_final_coverage": cov,
        "episodes": 4,
    }
    ref = lambda label, cov: {  # noqa: E731
        "label": label,
        "episodes": 4,
        "success_rate": 0.0,
        "mean_final_coverage": cov,
        "std_final_coverage": 0.02,
    }
    enc = PushTAction().to_meta()
    return {
        "methods": {
            "fog": {
                "label": "FoG",
                "evals": [ev(32, 0.01, "world_model"), ev(48, fog_cov, "world_model")],
                "train_seconds": 5.0,
                "action_encoding": enc,
            },
            "sb3_ppo": {
                "label": "PPO in the true env (SB3)",
                "evals": [ev(64, 0.03, "real")],
                "train_seconds": 3.0,
                "action_encoding": enc,
            },
        },
        "references": {
            "nothing": ref("do nothing (agent holds still)", 0.07),
            "random": ref("uniformly random actions", 0.05),
        },
        "dataset": {"path": "x.zarr", "episodes": 4, "steps": 100, "action_encoding": enc},
        "stage_seconds": {},
    }


def test_bench_markdown_has_reference_rows_and_says_whether_anything_beats_doing_nothing():
    cfg = bench_pusht.PRESETS["debug"]()
    md = bench_pusht_report.markdown(_results(0.02), cfg)
    assert "| Do nothing (agent holds still) (reference) | none | 0 | 0 | 0.00 | 0.070 | +0.000 | |" in md
    assert "| Uniformly random actions (reference) | none | 0 | 0 | 0.00 | 0.050 | -0.020 | |" in md
    assert "| FoG | world model | 48 | 100 | 0.00 | 0.020 | -0.050 | 5 |" in md
    assert "**No method beats doing nothing**" in md and "PPO in the true env (SB3), ends at 0.030" in md
    assert "Actions: relative" in md and "Warning" not in md
    md = bench_pusht_report.markdown(_results(0.30), cfg)
    assert "**1 of 2 methods beat doing nothing**" in md and "FoG (+0.230" in md
    assert "PPO in the true env (SB3) do not." in md and "within 2 standard errors" not in md
    md = bench_pusht_report.markdown(_results(0.08), cfg)  # +0.01 < 2 x 0.02 / sqrt(4)
    assert "FoG (+0.010, success rate 0.00) (within 2 standard errors: not a clear win)" in md
