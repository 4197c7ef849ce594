"""`fog bench pusht --preset debug` end to end, in process: collect, world models, every method,
the references, the gradient cost, the docs section; a second call resumes without retraining."""

import json
import os
import re

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)


@pytest.mark.slow
def test_bench_pusht_debug_preset_writes_every_method_the_gradient_cost_and_the_docs(tmp_path):
    """`fog bench pusht --preset debug` end to end: collect, world models, four methods, gradient cost."""
    from fog_training import bench_pusht, bench_pusht_report

    docs = tmp_path / "docs" / "BENCHMARKS.md"
    docs.parent.mkdir()
    start, end = bench_pusht_report.MARK_START, bench_pusht_report.MARK_END
    docs.write_text(f"# Benchmarks\n\nbefore\n\n{start}\nold\n{end}\n\nafter\n")
    out = tmp_path / "bench"
    assert bench_pusht.main(["--preset", "debug", "--out", str(out), "--docs", str(docs)]) == 0
    res = json.loads((out / "results.json").read_text())
    for method in ("fog", "ppo_world_model", "dmo", "sb3_ppo"):
        evals = res["methods"][method]["evals"]
        assert evals, method
        assert all(0.0 <= e["success_rate"] <= 1.0 and e["episodes"] == 2 for e in evals), method
    assert res["methods"]["fog"]["evals"][-1]["sample_kind"] == "world_model"
    assert res["methods"]["sb3_ppo"]["evals"][-1]["sample_kind"] == "real"
    gc = {r["method"]: r for r in res["gradient_cost"]["results"]}
    assert gc["bptt"]["saved_activation_mb"] > gc["fog"]["saved_activation_mb"] > 0
    text = docs.read_text()
    assert "\nold\n" not in text and text.startswith("# Benchmarks") and text.rstrip().endswith("after")
    assert "fog bench pusht --preset debug" in text and "PPO in the true env (SB3)" in text
    # the reference rows, on the same evaluation episodes, and the sentence on doing nothing
    refs = res["references"]
    assert set(refs) == {"nothing", "random"} and all(r["episodes"] == 2 for r in refs.values())
    assert res["dataset"]["action_encoding"]["encoding"] == "relative"
    assert all(r["action_encoding"] == res["dataset"]["action_encoding"] for r in res["methods"].values())
    assert "| Do nothing (agent holds still) (reference) | none | 0 | 0 |" in text
    assert "| Uniformly random actions (reference) | none | 0 | 0 |" in text
    assert re.search(r"beats? doing nothing", text) and "Actions: relative" in text and "Warning" not in text
    assert (docs.parent / "media" / "pusht_bench_curves.png").stat().st_size > 10_000
    # a second call resumes: every stage is finished, nothing is retrained
    stamp = (out / "fog" / "train_summary.json").stat().st_mtime
    assert bench_pusht.main(["--preset", "debug", "--out", str(out)]) == 0
    assert (out / "fog" / "train_summary.json").stat().st_mtime == stamp
