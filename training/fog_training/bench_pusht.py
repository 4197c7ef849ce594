"""``fog bench pusht``: every method on Push-T at the same budgets, judged in the true environment.

Stages (each writes its own run directory under ``--out`` and is skipped when already finished,
so an interrupted benchmark resumes where it stopped):

1. ``data``: ``fog collect-pusht`` (unless ``--data`` names an existing store);
2. ``world_model`` and ``rssm``: the global diffusion model and the local RSSM (unless
   ``--world-model`` / ``--rssm`` name finished runs);
3. ``fog``: FoG (diffusion global model + RSSM swap + SAPO) for ``image_budget`` world-model samples;
4. ``ppo_world_model``: PPO inside the same world model, same budget, same contexts and filter;
5. ``dmo``: DMO on state-based Push-T (true simulator + MLP local model), ``state_budget`` real samples;
6. ``sb3_ppo``: stable-baselines3 PPO in the same state-based Push-T, same real samples;
7. ``references``: two reference policies on the evaluation seeds, doing nothing (the agent holds
   still) and uniformly random actions;
8. ``gradient_cost``: time and memory of one actor update, FoG vs BPTT through the sampler.

Actions are relative moves by default (``--action-encoding relative``: env target = agent +
``--action-scale-px`` * a, a in [-1, 1]^2), or absolute targets; the collected store records the
encoding in ``meta.action`` and every method (and the reference rows) acts through the store's
encoding, so a ``--data`` store written before the switch runs everything absolute.

Every policy is evaluated in gym-pusht (``eval_episodes`` episodes of ``eval_max_steps`` steps,
deterministic actions) during and after training, on the same seeds as the reference rows; the
table reports each evaluation's coverage gain over doing nothing and says in a sentence whether any
final policy beats doing nothing. Outputs: ``results.json``, ``results.md``
(tables), ``curves.png`` (coverage and success vs samples; world-model samples and real samples
labelled, with the real data behind the world models marked) and, with ``--docs``, the same
section written into docs/BENCHMARKS.md between its ``bench-pusht`` markers.

Examples::

    fog bench pusht --preset cpu --out runs/bench_pusht --docs docs/BENCHMARKS.md
    fog bench pusht --preset cpu --world-model runs/pusht/global --rssm runs/pusht/rssm --data data/pusht.zarr
    fog bench pusht --preset debug --out /tmp/bench
"""

from __future__ import annotations

import json
import platform
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fog_training.data.pusht_collect import DEFAULT_ACTION_SCALE_PX, PushTAction
from fog_training.presets import load_presets

STAGES = ("data", "world_model", "rssm", "fog", "ppo_world_model", "dmo", "sb3_ppo", "references", "gradient_cost")
LABELS = {
    "fog": "FoG (diffusion WM + RSSM swap, SAPO)",
    "ppo_world_model": "PPO in the world model",
    "dmo": "DMO (true sim + MLP local model, SAPO)",
    "sb3_ppo": "PPO in the true env (SB3)",
}
_ARGV: list[str] = []
"""The command line of this benchmark (for the report)."""
MARK_START, MARK_END = "<!-- bench-pusht:start -->", "<!-- bench-pusht:end -->"


@dataclass
class BenchConfig:
    out: str = "runs/bench_pusht"
    """Benchmark directory (one run directory per stage)."""
    data: str = ""
    """An existing Push-T store to use (default: OUT/pusht.zarr, collected)."""
    collect_episodes: int = 200
    """Episodes to collect when there is no store."""
    collect_max_steps: int = 100
    """Steps per collected episode."""
    image_size: int = 64
    """Image size of the collected store."""
    action_encoding: Literal["relative", "absolute"] = "relative"
    """Action encoding of the collected store (an existing --data store's own encoding wins)."""
    action_scale_px: float = DEFAULT_ACTION_SCALE_PX
    """Relative encoding: pixels of target offset for a = 1."""
    world_model: str = ""
    """A finished ``fog train world-model`` run to use instead of training one."""
    rssm: str = ""
    """A finished ``fog train rssm`` run to use instead of training one."""
    wm_preset: str = "cpu"
    """Preset of the world-model training."""
    rssm_preset: str = "cpu"
    """Preset of the RSSM training."""
    fog_preset: str = "cpu"
    """Preset of ``fog train policy`` (and of PPO in the world model)."""
    dmo_preset: str = "dmo-cpu"
    """Preset of the DMO run (``fog train policy``, pusht_state mode)."""
    sb3_preset: str = "cpu"
    """Preset of the SB3 PPO run."""
    image_budget: int = 10_240
    """World-model samples for FoG and for PPO in the world model."""
    image_eval_every: int = 5_120
    """Evaluate the image policies every this many world-model samples."""
    state_budget: int = 61_440
    """Real samples for DMO and for SB3 PPO."""
    state_eval_every: int = 20_480
    """Evaluate the state policies every this many real samples."""
    eval_episodes: int = 50
    """Evaluation episodes per point (>= 50 for the record)."""
    eval_max_steps: int = 300
    """Step limit of evaluation episodes (gym-pusht's own: 300)."""
    gradient_cost_envs: int = 4
    """N of the gradient-cost comparison (BPTT keeps every UNet activation of N x H x 3 evaluations: ~50 MB per
    rollout step with the cpu world model, so 4 x 16 needs ~3.2 GB)."""
    gradient_cost_horizon: int = 16
    """H of the gradient-cost comparison."""
    gradient_cost_repeats: int = 2
    """Timed updates per method."""
    stages: tuple[str, ...] = STAGES
    """Stages to run (others are read from OUT when present)."""
    docs: str = ""
    """Write the results section into this markdown file (docs/BENCHMARKS.md) between the bench-pusht markers."""
    threads: int = 2
    """torch CPU threads of the image stages (world models, FoG, PPO in the world model, gradient cost); the
    state stages (DMO, SB3 PPO) always use 1 (tiny networks)."""
    seed: int = 0
    """Seed of every stage."""


PRESETS = load_presets("bench_pusht", BenchConfig)
"""--preset NAME: fog_training/presets/bench_pusht.yaml."""


def _finished(run: Path) -> bool:
    p = run / "train_summary.json"
    return p.exists() and json.loads(p.read_text()).get("stopped") in ("done", "time_limit")


def _store_ok(path: Path) -> bool:
    from fog_training.data.episode_store import EpisodeStore

    try:
        EpisodeStore(path)
        return True
    except Exception:  # noqa: BLE001  (missing or incomplete: collect again)
        return False


def _evals(run: Path) -> list[dict[str, Any]]:
    p = run / "evals.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


def bench_action_encoding(cfg: BenchConfig, data: Path) -> PushTAction:
    """The encoding every method acts through: the store's own (``meta.action``), else the bench's."""
    from fog_training.data.episode_store import EpisodeStore

    try:
        return PushTAction.from_store_meta(EpisodeStore(data).meta)
    except Exception:  # noqa: BLE001  (no store: the stage list left out data collection)
        return PushTAction(cfg.action_encoding, cfg.action_scale_px)


def _references_done(cfg: BenchConfig, action: PushTAction, path: Path) -> bool:
    if not path.exists():
        return False
    refs = json.loads(path.read_text())
    r = refs.get("nothing", {})
    return (
        r.get("episodes") == cfg.eval_episodes
        and r.get("max_steps") == cfg.eval_max_steps
        and r.get("action_encoding") == action.to_meta()
    )


def run_references(cfg: BenchConfig, action: PushTAction, path: Path) -> None:
    """Do nothing and random actions on the methods' evaluation seeds (evaluate(..., seed=0))."""
    from fog_training.eval_policy import evaluate_references

    if not cfg.eval_episodes:
        return
    refs = evaluate_references(action, cfg.eval_episodes, cfg.eval_max_steps, min(25, cfg.eval_episodes), seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(refs, indent=2))


def run_stages(cfg: BenchConfig) -> dict[str, Any]:
    from fog_training import fog_trainer, ppo_world_model, sb3_ppo, train_rssm, train_world_model
    from fog_training.bptt_baseline import GradientCostConfig
    from fog_training.bptt_baseline import run as gradient_cost
    from fog_training.data import pusht_collect

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    timings_path = out / "stage_seconds.json"
    timings: dict[str, float] = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    data = Path(cfg.data) if cfg.data else out / "pusht.zarr"
    wm = Path(cfg.world_model) if cfg.world_model else out / "world_model"
    rssm = Path(cfg.rssm) if cfg.rssm else out / "rssm"
    t_ = ["--threads", str(cfg.threads)]
    seed = ["--seed", str(cfg.seed)]

    def stage(name: str, fn) -> None:
        if name not in cfg.stages:
            return
        t0 = time.monotonic()
        print(f"== bench pusht: {name}", flush=True)
        fn()
        timings[name] = timings.get(name, 0.0) + time.monotonic() - t0
        timings_path.write_text(json.dumps(timings, indent=2))

    if not cfg.data and not _store_ok(data):
        stage(
            "data",
            lambda: pusht_collect.main(
                [
                    "--out",
                    str(data),
                    "--episodes",
                    str(cfg.collect_episodes),
                    "--max-steps",
                    str(cfg.collect_max_steps),
                    "--image-size",
                    str(cfg.image_size),
                    "--seed",
                    str(cfg.seed),
                    "--action-encoding",
                    cfg.action_encoding,
                    "--action-scale-px",
                    str(cfg.action_scale_px),
                    "--overwrite",
                ]
            ),
        )
    action = bench_action_encoding(cfg, data)
    if not cfg.world_model and not _finished(wm):
        stage(
            "world_model",
            lambda: train_world_model.main(
                ["--preset", cfg.wm_preset, "--data", str(data), "--out", str(wm), "--loop.threads", str(cfg.threads)]
            ),
        )
    if not cfg.rssm and not _finished(rssm):
        stage(
            "rssm",
            lambda: train_rssm.main(
                [
                    "--preset",
                    cfg.rssm_preset,
                    "--data",
                    str(data),
                    "--out",
                    str(rssm),
                    "--loop.threads",
                    str(cfg.threads),
                ]
            ),
        )
    image_args = [
        "--data",
        str(data),
        "--world-model",
        str(wm),
        "--rssm",
        str(rssm),
        "--sample-budget",
        str(cfg.image_budget),
        "--eval-every-samples",
        str(cfg.image_eval_every),
        "--eval-episodes",
        str(cfg.eval_episodes),
        "--eval-max-steps",
        str(cfg.eval_max_steps),
        "--no-progress",
        *t_,
        *seed,
    ]
    state_args = [
        "--sample-budget",
        str(cfg.state_budget),
        "--eval-every-samples",
        str(cfg.state_eval_every),
        "--eval-episodes",
        str(cfg.eval_episodes),
        "--eval-max-steps",
        str(cfg.eval_max_steps),
        "--threads",
        "1",
        *seed,
    ]
    if not _finished(out / "fog"):
        stage("fog", lambda: fog_trainer.main(["--preset", cfg.fog_preset, "--out", str(out / "fog"), *image_args]))
    if not _finished(out / "ppo_world_model"):
        stage(
            "ppo_world_model",
            lambda: ppo_world_model.main(
                [
                    "--preset",
                    cfg.fog_preset if cfg.fog_preset in ppo_world_model.PRESETS else "cpu",
                    "--out",
                    str(out / "ppo_world_model"),
                    *image_args,
                ]
            ),
        )
    enc = ["--pusht-action-encoding", action.encoding, "--pusht-action-scale-px", str(action.scale_px)]
    if not _finished(out / "dmo"):
        stage(
            "dmo",
            lambda: fog_trainer.main(
                ["--preset", cfg.dmo_preset, "--out", str(out / "dmo"), "--no-progress", *state_args, *enc]
            ),
        )
    sb3_enc = ["--action-encoding", action.encoding, "--action-scale-px", str(action.scale_px)]
    if not _finished(out / "sb3_ppo"):
        stage(
            "sb3_ppo",
            lambda: sb3_ppo.main(["--preset", cfg.sb3_preset, "--out", str(out / "sb3_ppo"), *state_args, *sb3_enc]),
        )
    if not _references_done(cfg, action, out / "references" / "references.json"):
        stage("references", lambda: run_references(cfg, action, out / "references" / "references.json"))
    if not (out / "gradient_cost" / "gradient_cost.json").exists():
        stage(
            "gradient_cost",
            lambda: gradient_cost(
                GradientCostConfig(
                    data=str(data),
                    world_model=str(wm),
                    rssm=str(rssm),
                    out=str(out / "gradient_cost"),
                    envs=cfg.gradient_cost_envs,
                    horizon=cfg.gradient_cost_horizon,
                    repeats=cfg.gradient_cost_repeats,
                    threads=cfg.threads,
                )
            ),
        )
    return collect_results(cfg, data, timings)


def _method_action(run: Path) -> dict | None:
    """The action encoding a method's run recorded (policy/actor.json, or SB3's config.json)."""
    actor = run / "policy" / "actor.json"
    if actor.exists():
        return PushTAction.from_meta(json.loads(actor.read_text()).get("pusht_action")).to_meta()
    if (run / "model.zip").exists():
        from fog_training.eval_policy import sb3_action_encoding

        return sb3_action_encoding(run / "model.zip").to_meta()
    return None


def collect_results(cfg: BenchConfig, data: Path, timings: dict[str, float]) -> dict[str, Any]:
    out = Path(cfg.out)
    results: dict[str, Any] = {
        "methods": {},
        "stage_seconds": timings,
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
    }
    for m in LABELS:
        ev = _evals(out / m)
        summary = (
            json.loads((out / m / "train_summary.json").read_text())
            if (out / m / "train_summary.json").exists()
            else {}
        )
        results["methods"][m] = {
            "label": LABELS[m],
            "evals": ev,
            "train_seconds": summary.get("seconds"),
            "action_encoding": _method_action(out / m),
        }
    refs = out / "references" / "references.json"
    results["references"] = json.loads(refs.read_text()) if refs.exists() else {}
    results["comparison"] = compare_with_nothing(results)
    gc = out / "gradient_cost" / "gradient_cost.json"
    results["gradient_cost"] = json.loads(gc.read_text()) if gc.exists() else None
    wm_summary = Path(cfg.world_model or out / "world_model") / "train_summary.json"
    results["world_model_train"] = json.loads(wm_summary.read_text()) if wm_summary.exists() else None
    rssm_summary = Path(cfg.rssm or out / "rssm") / "train_summary.json"
    results["rssm_train"] = json.loads(rssm_summary.read_text()) if rssm_summary.exists() else None
    try:
        from fog_training.data.episode_store import EpisodeStore

        store = EpisodeStore(data)
        results["dataset"] = {
            "path": str(data),
            "episodes": store.num_episodes,
            "steps": store.num_steps,
            "action_encoding": PushTAction.from_store_meta(store.meta).to_meta(),
        }
    except Exception as e:  # noqa: BLE001  (report what is there)
        results["dataset"] = {"path": str(data), "error": str(e)}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    plot(results, out / "curves.png")
    md = markdown(results, cfg)
    (out / "results.md").write_text(md)
    if cfg.docs:
        media = Path(cfg.docs).parent / "media"
        media.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "curves.png", media / "pusht_bench_curves.png")
        md = md.replace(
            f"Plot: `{out / 'curves.png'}`.",
            f"Plot: `{out / 'curves.png'}`, copied here:\n\n![Push-T curves](media/pusht_bench_curves.png)",
        )
        write_docs_section(Path(cfg.docs), md)
    return results


def compare_with_nothing(results: dict[str, Any]) -> dict[str, Any]:
    """Each method's final policy against doing nothing on the same seeds, and the sentence that says it.

    A method beats doing nothing when the mean final coverage of its last evaluation is higher than
    doing nothing's (its gain is positive). The do-nothing row's standard error over episodes is
    given alongside, so that a gain within noise reads as such.
    """
    nothing = results.get("references", {}).get("nothing")
    if not nothing:
        return {"sentence": "No do-nothing reference was run (eval_episodes 0?): no comparison.", "methods": {}}
    base, base_success = nothing["mean_final_coverage"], nothing["success_rate"]
    n = max(int(nothing["episodes"]), 1)
    se = float(nothing.get("std_final_coverage", 0.0)) / n**0.5
    methods = {}
    for m, r in results["methods"].items():
        if r["evals"]:
            e = r["evals"][-1]
            methods[m] = {
                "label": r["label"],
                "samples": e["samples"],
                "mean_final_coverage": e["mean_final_coverage"],
                "success_rate": e["success_rate"],
                "coverage_gain": e["mean_final_coverage"] - base,
                "beats_nothing": e["mean_final_coverage"] > base,
            }
    ref = (
        f"doing nothing ends at a mean final coverage of {base:.3f} (standard error {se:.3f} over {n} episodes) "
        f"and a success rate of {base_success:.2f}"
    )
    if not methods:
        sentence = f"No method has an evaluation yet; {ref}."
    else:
        winners = sorted((v for v in methods.values() if v["beats_nothing"]), key=lambda v: -v["coverage_gain"])
        if not winners:
            best = max(methods.values(), key=lambda v: v["coverage_gain"])
            sentence = (
                f"**No method beats doing nothing**: {ref}; the best final policy, {best['label']}, ends at "
                f"{best['mean_final_coverage']:.3f} (gain {best['coverage_gain']:+.3f}, success rate "
                f"{best['success_rate']:.2f})."
            )
        else:

            def item(v: dict) -> str:
                noise = " (within 2 standard errors: not a clear win)" if v["coverage_gain"] <= 2 * se else ""
                return f"{v['label']} ({v['coverage_gain']:+.3f}, success rate {v['success_rate']:.2f}){noise}"

            losers = [v["label"] for v in methods.values() if not v["beats_nothing"]]
            sentence = (
                f"**{len(winners)} of {len(methods)} methods beat doing nothing** on mean final coverage "
                f"(final policies, same seeds): "
                + "; ".join(item(v) for v in winners)
                + f". {ref[0].upper()}{ref[1:]}"
                + (f"; {', '.join(losers)} do not." if losers else ".")
            )
    random = results.get("references", {}).get("random")
    if random:
        sentence += (
            f" Uniformly random actions end at {random['mean_final_coverage']:.3f} "
            f"(gain {random['mean_final_coverage'] - base:+.3f}, success rate {random['success_rate']:.2f})."
        )
    return {"sentence": sentence, "nothing_standard_error": se, "methods": methods}


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    styles = {
        "fog": ("tab:red", "o", "-"),
        "ppo_world_model": ("tab:blue", "s", "-"),
        "dmo": ("tab:orange", "^", "--"),
        "sb3_ppo": ("tab:green", "v", "--"),
    }
    for m, r in results["methods"].items():
        if not r["evals"]:
            continue
        kind = r["evals"][-1]["sample_kind"]
        x = [e["samples"] for e in r["evals"]]
        label = f"{r['label']} [{'world-model' if kind == 'world_model' else 'real'} samples]"
        c, mk, ls = styles[m]
        axes[0].plot(x, [e["mean_final_coverage"] for e in r["evals"]], color=c, marker=mk, ls=ls, label=label)
        axes[1].plot(x, [e["success_rate"] for e in r["evals"]], color=c, marker=mk, ls=ls, label=label)
    refs = results.get("references", {})
    for kind, color in (("nothing", "black"), ("random", "gray")):
        if kind in refs:
            r = refs[kind]
            axes[0].axhline(r["mean_final_coverage"], color=color, ls="-.", lw=1, label=r["label"])
            axes[1].axhline(r["success_rate"], color=color, ls="-.", lw=1, label=r["label"])
    steps = results.get("dataset", {}).get("steps")
    for ax, name in zip(axes, ("mean final coverage", "success rate")):
        if steps:
            ax.axvline(steps, color="gray", ls=":", label=f"real samples behind the world models ({steps})")
        ax.set_xscale("log")
        ax.set_xlabel("samples (solid: world-model, dashed: real environment)")
        ax.set_ylabel(f"gym-pusht {name}")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="upper left")
    fig.suptitle("Push-T: true-environment evaluation vs samples")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(results: dict[str, Any], cfg: BenchConfig) -> str:
    from fog_training.bptt_baseline import table as gc_table

    cmd = "fog bench pusht " + shlex.join(_ARGV)
    ds = results.get("dataset", {})
    act = ds.get("action_encoding") or {}
    actions = (
        f"Actions: {act.get('encoding')} ({act.get('description')}; the store's `meta.action`, used by every "
        "method and by the reference rows)."
        if act
        else "Actions: unknown (no readable store)."
    )
    encodings = {
        json.dumps(r.get("action_encoding"), sort_keys=True) for r in results["methods"].values() if r["evals"]
    }
    if len(encodings) > 1 or (encodings and json.dumps(act, sort_keys=True) not in encodings):
        actions += " **Warning: the methods' runs recorded different action encodings (reused runs?)**."
    comparison = results.get("comparison") or compare_with_nothing(results)
    nothing = results.get("references", {}).get("nothing")
    lines = [
        "## Push-T: FoG vs baselines (true-environment evaluation)",
        "",
        f"Command: `{cmd.strip()}`",
        "",
        f"Machine: {platform.node()} ({platform.machine()}, {__import__('os').cpu_count()} CPUs), "
        f"{time.strftime('%Y-%m-%d %H:%M')}. Dataset: {ds.get('episodes')} episodes, {ds.get('steps')} real steps "
        f"(`{ds.get('path')}`). Evaluation: {cfg.eval_episodes} gym-pusht episodes of up to {cfg.eval_max_steps} "
        "steps per point (the same seeds for every row), "
        "deterministic actions, success = coverage > 0.95. " + actions,
        "",
        comparison["sentence"],
        "",
        "| method | sample kind | samples | real samples | success rate | mean final coverage "
        "| gain over doing nothing | train time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def gain(cov: float) -> str:
        return "" if not nothing else f"{cov - nothing['mean_final_coverage']:+.3f}"

    for r in results.get("references", {}).values():
        lines.append(
            f"| {r['label'].capitalize()} (reference) | none | 0 | 0 | {r['success_rate']:.2f} | "
            f"{r['mean_final_coverage']:.3f} | {gain(r['mean_final_coverage'])} | |"
        )
    for r in results["methods"].values():
        for e in r["evals"]:
            lines.append(
                f"| {r['label']} | {'world model' if e['sample_kind'] == 'world_model' else 'real'} | {e['samples']} | "
                f"{e['real_samples']} | {e['success_rate']:.2f} | {e['mean_final_coverage']:.3f} | "
                f"{gain(e['mean_final_coverage'])} | "
                f"{'' if r['train_seconds'] is None else round(r['train_seconds'])} |"
            )
    lines += [
        "",
        "Real samples of the image methods = the dataset steps the world models were trained on (their policy "
        "samples are all imagined). Gain over doing nothing = mean final coverage minus that of the agent holding "
        "still, on the same episodes (a policy that never touches the T scores 0).",
        "",
        f"Plot: `{Path(cfg.out) / 'curves.png'}`.",
        "",
    ]
    if results.get("gradient_cost"):
        lines += [
            "### Gradient cost of one actor update (FoG vs BPTT through the diffusion sampler)",
            "",
            gc_table(results["gradient_cost"]),
            "",
        ]
    st = results.get("stage_seconds", {})
    if st:
        lines += ["Stage wall times (s): " + ", ".join(f"{k} {v:.0f}" for k, v in st.items()), ""]
    reused = [
        f"{name} `{path}` ({results[key]['seconds']:.0f} s of training, step {results[key].get('step')})"
        for name, path, key in (
            ("global model", cfg.world_model, "world_model_train"),
            ("RSSM", cfg.rssm, "rssm_train"),
        )
        if path and results.get(key)
    ]
    if reused:
        lines += [
            "World models reused from earlier runs (not timed above): " + "; ".join(reused) + ".",
            "",
        ]
    return "\n".join(lines)


def write_docs_section(path: Path, md: str) -> None:
    """Replace the text between the bench-pusht markers (appending the markers when absent)."""
    text = path.read_text() if path.exists() else ""
    block = f"{MARK_START}\n{md}\n{MARK_END}"
    if MARK_START in text and MARK_END in text:
        a, b = text.index(MARK_START), text.index(MARK_END) + len(MARK_END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    from fog_training.train_cli import parse_with_presets

    argv = sys.argv[1:] if argv is None else argv
    _ARGV[:] = list(argv)
    cfg = parse_with_presets(BenchConfig, PRESETS, argv, "fog bench pusht", __doc__)
    t0 = time.monotonic()
    results = run_stages(cfg)
    print((Path(cfg.out) / "results.md").read_text())
    print(f"bench pusht: {time.monotonic() - t0:.0f} s; results in {cfg.out}")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
