"""`fog pipeline goal` (fog_training.task_pipeline): each stage a `fog` command in its own process, the
finished ones skipped by their markers, a failed one stops the run with exit 1 and no marker.

Tiny and short: every stage up to the policy's export is marked done; the dream stage then runs the
real `fog export-dream` on fog_training.untrained_dream's world model and store (the `dream_world`
fixture), and the dataset stage is made to fail on a folder without bags.
"""

import json
import shutil

import pytest
from fog_training import task_pipeline
from fog_training.task_pipeline import STAGES

pytestmark = pytest.mark.integration


def test_pipeline_runs_the_unfinished_stage_skips_the_rest_and_stops_at_a_failure(dream_world, tmp_path, capsys):
    work, artifact = tmp_path / "work", tmp_path / "artifact"
    work.mkdir()
    shutil.copytree(dream_world["data"], work / "go2.zarr")
    shutil.copytree(dream_world["run"], work / "global")
    for stage in STAGES[:-1]:
        (work / f".done_{stage}").touch()
    argv = ["goal", "--work", str(work), "--artifact", str(artifact)]

    assert task_pipeline.main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("done already") == len(STAGES) - 1, out
    assert "7/7 dream: fog export-dream --run" in out, out
    assert json.loads((artifact / "world_model" / "dream.json").read_text()), "export-dream wrote no bundle"
    assert (work / ".done_dream").exists()
    record = json.loads((work / "pipeline.json").read_text())
    assert record["command"] == "fog pipeline " + " ".join(argv)
    assert set(record["stages"]) == set(STAGES) and list(record["seconds"]) == ["dream"]
    assert record["stages"]["collect"].startswith("fog collect --robot sim --task goal --minutes 12 ")
    # the glob is left for the shell, and the goal task bounds the actions by the exploration's commands
    assert record["stages"]["dataset"].startswith(f"fog dataset {work}/bags/episode_* --out {work}/go2.zarr ")
    assert "--reward-source goal-progress" in record["stages"]["dataset"] and "--cmd-low" in record["stages"]["dataset"]

    # a second run finds every stage done and runs nothing; the stage times are kept
    assert task_pipeline.main(argv) == 0
    assert capsys.readouterr().out.count("done already") == len(STAGES)
    assert list(json.loads((work / "pipeline.json").read_text())["seconds"]) == ["dream"]

    # the dataset stage again, with no bags: it fails, the pipeline says so and marks nothing
    (work / ".done_dataset").unlink()
    assert task_pipeline.main(argv) == 1
    err = capsys.readouterr().err
    assert "[pipeline] stage dataset failed (exit 2)" in err and "rerun the same command" in err, err
    assert not (work / ".done_dataset").exists()
    assert "dataset" not in json.loads((work / "pipeline.json").read_text())["seconds"]
