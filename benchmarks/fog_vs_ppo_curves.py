"""FoG vs PPO in the same world models: simulator success against world-model samples, as curves.

Evaluates every policy snapshot of a FoG run and of a PPO-in-the-world-model run (``RUN/snapshots/
<samples>/``, kept with ``--snapshots``) on the same scene seeds in the simulator, in one process
(``fog eval go2``: the deployed loop without DDS), and plots the success rate with its 95 % Wilson
interval against the world-model samples each had used. It then tests the paper's claim: does FoG
reach PPO's final success rate with at least 5x fewer world-model samples?

    python benchmarks/fog_vs_ppo_curves.py --fog runs/goal/policy --ppo runs/goal/ppo --episodes 20 \
        --out docs/goal_curves
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from fog_policy.task_rollout import wilson_interval
from fog_training.eval_go2 import evaluate_run


def snapshots(run: Path, points: int) -> list[tuple[int, Path]]:
    snaps = sorted((int(p.name), p) for p in (run / "snapshots").iterdir() if p.name.isdigit())
    if not snaps:
        raise SystemExit(f"{run}: no snapshots (train with --snapshots)")
    if len(snaps) > points:  # evenly spaced, always the last
        idx = np.unique(np.linspace(0, len(snaps) - 1, points).round().astype(int))
        snaps = [snaps[i] for i in idx]
    return snaps


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fog", required=True, help="FoG run directory (fog train policy --snapshots)")
    p.add_argument("--ppo", required=True, help="PPO-in-the-world-model run directory (--snapshots)")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=2000, help="first scene seed")
    p.add_argument("--points", type=int, default=6, help="snapshots per run to evaluate (evenly spaced)")
    p.add_argument("--out", default="runs/goal_curves")
    a = p.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    curves = {}
    for name, run in (("FoG", Path(a.fog)), ("PPO in the world model", Path(a.ppo))):
        rows = []
        for samples, snap in snapshots(run, a.points):
            s, _ = evaluate_run(str(snap), a.episodes, a.seed)
            rows.append({"samples": samples, **{k: s[k] for k in ("successes", "episodes", "success_rate")}})
            print(f"[curves] {name} @ {samples} samples: {s['successes']}/{s['episodes']}", file=sys.stderr)
        curves[name] = rows
    fog, ppo = curves["FoG"], curves["PPO in the world model"]
    ppo_final = ppo[-1]["success_rate"]
    reach = next((r["samples"] for r in fog if r["success_rate"] >= ppo_final), None)
    claim = {
        "ppo_final_success": ppo_final,
        "ppo_final_samples": ppo[-1]["samples"],
        "fog_samples_to_reach_it": reach,
        "ratio": (ppo[-1]["samples"] / reach) if reach else None,
    }
    claim["paper_claim_holds"] = bool(claim["ratio"] is not None and claim["ratio"] >= 5.0)
    (out / "curves.json").write_text(json.dumps({"curves": curves, "claim": claim}, indent=2))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, rows in curves.items():
        x = np.array([r["samples"] for r in rows])
        y = np.array([r["success_rate"] for r in rows])
        ci = np.array([wilson_interval(r["successes"], r["episodes"]) for r in rows])
        ax.plot(x, y, "o-", label=name)
        ax.fill_between(x, ci[:, 0], ci[:, 1], alpha=0.2)
    ax.set_xlabel("world-model samples")
    ax.set_ylabel(f"success in the simulator ({a.episodes} episodes)")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("goal task: FoG vs PPO in the same world models")
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    print(json.dumps(claim, indent=2))
    print(f"plot: {out / 'curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
