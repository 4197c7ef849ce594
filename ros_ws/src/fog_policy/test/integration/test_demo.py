"""`python -m fog_policy.demo` (`make demo`): the smallest real run of the main demo, the bundled goal policy
walking the simulated Go2 (simulator, locomotion controller and policy node as processes), one short episode.

The episode is too short for the policy to reach the marker (the stand-up takes most of it): this checks the
command line, the printed report and the files it writes; the closed loop itself is checked in test_task_demo.py.
"""

import json
import subprocess
import sys

import pytest
from quadruped_bridge.process_launch import ros_env
from quadruped_bridge.ros_probe import private_domain_id

pytestmark = pytest.mark.integration


def test_demo_runs_an_episode_of_the_bundled_goal_policy_and_reports_it(tmp_path):
    out = tmp_path / "demo"
    domain = private_domain_id()
    args = ["--out", str(out), "--episodes", "1", "--episode-seconds", "3", "--no-video", "--real-time-factor", "3",
            "--domain-id", str(domain)]  # fmt: skip
    run = subprocess.run([sys.executable, "-m", "fog_policy.demo", *args], env=ros_env(domain),
                         capture_output=True, text=True, timeout=180)  # fmt: skip
    report = f"stdout:\n{run.stdout[-3000:]}\nstderr:\n{run.stderr[-3000:]}"
    assert run.returncode == 0, report
    lines = run.stdout.splitlines()
    assert "{" in lines and "}" in lines, report
    printed = json.loads("\n".join(lines[lines.index("{") : lines.index("}") + 1]))
    summary = json.loads((out / "summary.json").read_text())
    assert printed == {k: v for k, v in summary.items() if k != "episodes"}, report
    assert summary["task"] == "goal" and summary["policy"].endswith("artifacts/goal"), summary
    assert summary["falls"] == 0 and len(summary["episodes"]) == 1, summary
    e = summary["episodes"][0]
    assert e["episode"] == 0 and e["scene_seed"] == 1 and 1.5 - 0.05 <= e["start_distance_m"] <= 3.0 + 0.05, e
    said = (f"[demo] episode 0 (scene 1): base-to-marker {e['start_distance_m']:.2f} -> "
            f"{e['final_distance_m']:.2f} m, {'success' if e['success'] else 'no success'}")  # fmt: skip
    assert any(line.startswith(said) for line in lines), report
    assert f"[demo] plot: {out / 'goal.png'}" in lines and f"[demo] summary: {out / 'summary.json'}" in lines, report
    assert not any(line.startswith("[demo] video:") for line in lines) and not (out / "demo.mp4").exists()
    assert (out / "goal.png").stat().st_size > 10_000 and (out / "trace.npz").exists()
    assert {p.stem for p in (out / "logs").glob("*.log")} == {"sim", "locomotion", "policy"}


@pytest.mark.parametrize("broken", ["missing", "no_onnx"])
def test_a_folder_that_is_not_a_policy_is_refused_by_name_before_anything_starts(tmp_path, capsys, broken):
    from fog_policy.demo import main

    policy = tmp_path / "policy"
    if broken == "no_onnx":
        policy.mkdir()
        (policy / "policy_meta.json").write_text("{}")
    code = main(["--policy", str(policy), "--out", str(tmp_path / "out"), "--episodes", "1"])
    err = capsys.readouterr().err
    expected = "no policy_meta.json" if broken == "missing" else "no policy.onnx"
    assert code == 2 and f"[demo] {policy}: {expected}" in err, (code, err)
    assert not (tmp_path / "out" / "summary.json").exists()
