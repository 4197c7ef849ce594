"""The Push-T benchmark's bookkeeping (fog_training.bench_pusht): which stage is finished, which action
encoding every method acts through, when the reference rows are current, and that only the selected
stages run, their times adding up across a resume. (The whole bench: integration/test_bench_pusht.py.)"""

import json

import pytest
from fog_training import bench_pusht
from fog_training.bench_pusht import (
    BenchConfig,
    _finished,
    _references_done,
    _Stages,
    _store_ok,
    bench_action_encoding,
    run_references,
)
from fog_training.data.synthetic_store import make_synthetic_store
from fog_training.pusht_task import PushTAction


@pytest.mark.parametrize(("stopped", "finished"), [("done", True), ("time_limit", True), ("stop_after", False)])
def test_a_run_is_finished_when_its_summary_says_it_stopped_for_good(tmp_path, stopped, finished):
    assert not _finished(tmp_path), "no summary: not finished"
    (tmp_path / "train_summary.json").write_text(json.dumps({"stopped": stopped}))
    assert _finished(tmp_path) == finished


def test_the_stores_own_encoding_wins_over_the_bench_config(tmp_path):
    cfg = BenchConfig(action_encoding="relative", action_scale_px=30.0)
    missing = tmp_path / "none.zarr"
    assert not _store_ok(missing)
    assert bench_action_encoding(cfg, missing) == PushTAction("relative", 30.0)
    store = make_synthetic_store(tmp_path / "old.zarr", episodes=1, steps=3, image_hw=(8, 8))
    assert _store_ok(store.path) and "encoding" not in store.meta["action"]
    assert bench_action_encoding(cfg, store.path) == PushTAction("absolute"), "a store without one is absolute"


def test_references_are_written_for_the_evaluation_and_redone_when_it_changes(tmp_path):
    cfg = BenchConfig(eval_episodes=2, eval_max_steps=3)
    action, path = PushTAction("relative", 40.0), tmp_path / "refs" / "references.json"
    assert not _references_done(cfg, action, path)
    run_references(cfg, action, path)
    refs = json.loads(path.read_text())
    assert set(refs) == {"nothing", "random"}
    assert refs["nothing"]["episodes"] == 2 and refs["nothing"]["max_steps"] == 3
    assert refs["nothing"]["action_encoding"] == action.to_meta()
    assert _references_done(cfg, action, path)
    assert not _references_done(BenchConfig(eval_episodes=3, eval_max_steps=3), action, path)
    assert not _references_done(BenchConfig(eval_episodes=2, eval_max_steps=4), action, path)
    assert not _references_done(cfg, PushTAction("absolute"), path)
    run_references(BenchConfig(eval_episodes=0), action, tmp_path / "none.json")
    assert not (tmp_path / "none.json").exists(), "no evaluation episodes: no reference rows"


def test_only_the_selected_stages_run_and_their_times_add_up_across_a_resume(tmp_path):
    cfg = BenchConfig(stages=("rssm", "fog"))
    ran = []
    stages = _Stages(cfg, tmp_path)
    for name in ("world_model", "rssm", "fog"):
        stages.run(name, lambda n=name: ran.append(n))
    assert ran == ["rssm", "fog"]
    first = json.loads((tmp_path / "stage_seconds.json").read_text())
    assert set(first) == {"rssm", "fog"} and all(v >= 0 for v in first.values())
    resumed = _Stages(cfg, tmp_path)  # a second call reads the earlier part's times and adds to them
    assert resumed.timings == first
    resumed.timings["fog"] = 10.0
    resumed.run("fog", lambda: ran.append("fog again"))
    assert ran[-1] == "fog again" and json.loads((tmp_path / "stage_seconds.json").read_text())["fog"] >= 10.0


def test_every_stage_is_named_in_order_and_the_default_config_runs_them_all():
    assert bench_pusht.STAGES[0] == "data" and bench_pusht.STAGES[-1] == "gradient_cost"
    assert BenchConfig().stages == bench_pusht.STAGES and len(set(bench_pusht.STAGES)) == 9
