"""fog_training.run_records: reading, appending and trimming a run's JSON-lines records."""

from __future__ import annotations

import json

from fog_training.run_records import append_record, drop_records_after, last_record_has, read_records


def test_append_then_read_and_a_cut_line_is_left_out(tmp_path):
    path = tmp_path / "metrics.jsonl"
    assert read_records(path) == [] and not last_record_has(path, "samples", 0)
    append_record(path, {"step": 1, "loss": 0.5})
    append_record(path, {"step": 2, "loss": 0.4})
    with open(path, "a") as f:
        f.write('{"step": 3, "lo')  # a kill in the middle of a write
    assert read_records(path) == [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.4}]
    assert last_record_has(path, "step", 2) and not last_record_has(path, "step", 3)


def test_drop_records_after_keeps_up_to_the_checkpoint(tmp_path):
    path = tmp_path / "evals.jsonl"
    lines = [{"iteration": i} for i in (1, 2, 3, 4)] + [{"note": "no key: kept"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"iteration": 5, "x')
    assert drop_records_after(path, "iteration", 2) == 3, "iterations 3 and 4 and the cut line"
    assert read_records(path) == [{"iteration": 1}, {"iteration": 2}, {"note": "no key: kept"}]
    assert drop_records_after(path, "iteration", 2) == 0, "a second call changes nothing"
    assert drop_records_after(tmp_path / "absent.jsonl", "iteration", 0) == 0
    assert not (tmp_path / "evals.jsonl.tmp").exists()
