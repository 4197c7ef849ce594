"""`make bench`: run every benchmark behind docs/BENCHMARKS.md with its documented command.

Each benchmark prints a markdown table; this collects them into runs/bench/<name>.md. The figures
in docs/BENCHMARKS.md were copied from such runs (each section names its own command).
"""

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHES = {
    "sim_realtime_factor": ["benchmarks/sim_realtime_factor.py", "--seconds", "20"],
    "locomotion_tracking": ["benchmarks/locomotion_tracking.py", "--seconds", "6"],
    "bag_to_dataset_throughput": ["benchmarks/bag_to_dataset_throughput.py"],
    "go2_lowcmd_rate": ["benchmarks/go2_lowcmd_rate.py", "--seconds", "10", "--model", "mujoco"],
    "deploy_latency": ["benchmarks/deploy_latency.py", "--minutes", "10"],
    "goal_success": ["benchmarks/task_success.py", "--task", "goal", "--episodes", "20", "--out", "runs/goal_bench"],
    "pushcube_success": [
        "benchmarks/task_success.py", "--task", "pushcube", "--episodes", "10", "--rows", "policy", "random",
        "--out", "runs/pushcube_bench",
    ],
}


def main() -> int:
    out = ROOT / "runs" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    names = sys.argv[1:] or list(BENCHES)
    failed = []
    for name in names:
        if name not in BENCHES:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHES)}", file=sys.stderr)
            return 2
        t0 = time.monotonic()
        print(f"== {name}: python {' '.join(BENCHES[name])}", flush=True)
        res = subprocess.run([sys.executable, *BENCHES[name]], cwd=ROOT, capture_output=True, text=True)
        (out / f"{name}.md").write_text(res.stdout)
        print(res.stdout[-4000:])
        if res.returncode:
            print(res.stderr[-3000:], file=sys.stderr)
            failed.append(name)
        print(f"== {name}: {time.monotonic() - t0:.0f} s, exit {res.returncode}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
