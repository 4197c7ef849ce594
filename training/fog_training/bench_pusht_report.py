"""`fog bench pusht`'s results: read every stage's run folder, compare each method with doing
nothing and with random actions, plot the curves, write results.md and the docs section.

The harness that runs the stages is fog_training.bench_pusht; this module only reads what they wrote.
"""

from __future__ import annotations

import json
import platform
import shlex
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fog_training.pusht_task import PushTAction

if TYPE_CHECKING:
    from fog_training.bench_pusht import BenchConfig

LABELS = {
    "fog": "FoG (diffusion WM + RSSM swap, SAPO)",
    "ppo_world_model": "PPO in the world model",
    "dmo": "DMO (true sim + MLP local model, SAPO)",
    "sb3_ppo": "PPO in the true env (SB3)",
}
ARGV: list[str] = []
"""The command line of this benchmark (set by bench_pusht.main, quoted in the report)."""
MARK_START, MARK_END = "<!-- bench-pusht:start -->", "<!-- bench-pusht:end -->"


def evals_of(run: Path) -> list[dict[str, Any]]:
    p = run / "evals.jsonl"
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


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
        ev = evals_of(out / m)
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
    cmd = "fog bench pusht " + shlex.join(ARGV)
    ds = results.get("dataset", {})
    actions = _actions_sentence(results, ds)
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
    lines += _closing_sections(results, cfg)
    return "\n".join(lines)


def _actions_sentence(results: dict[str, Any], ds: dict[str, Any]) -> str:
    """The report's "Actions: ..." sentence, with a warning when the methods' runs disagree on the encoding."""
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
    return actions


def _closing_sections(results: dict[str, Any], cfg: BenchConfig) -> list[str]:
    """Report lines after the results table: gradient cost, stage wall times, reused world models."""
    from fog_training.baselines.bptt import table as gc_table

    lines: list[str] = []
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
    return lines


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
