"""Run the test suite N times and say which tests failed in which run: the flakiness check.

    python scripts/test_repeat.py --runs 5 [--load] [--out DIR] -- [pytest arguments]

`make test-repeat N=5` runs it on the whole suite; `LOAD=1` adds --load (both cores kept busy by
scripts/cpu_load.py busy loops for the whole time, stopped at the end, on a failure and on
Ctrl-C), `ORDER=reverse` or `ORDER=shuffle[:SEED]` passes --order to pytest (the repository's
conftest.py; a shuffle without a seed draws a new one each run, printed with the run's line).

Each run's full output goes to DIR/run_K.log and its outcome (conftest.py's FOG_TEST_REPORT) to
DIR/run_K.json; this prints one line per run, then every test that failed in any run with the
runs it failed in. Exit status 0 only if every run passed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cpu_load import start_load, stop_load  # noqa: E402


def run_once(k: int, pytest_args: list[str], out: Path) -> dict:
    log, report = out / f"run_{k}.log", out / f"run_{k}.json"
    report.unlink(missing_ok=True)
    env = dict(os.environ, FOG_TEST_REPORT=str(report))
    t0 = time.monotonic()
    with open(log, "w") as f:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", *pytest_args], env=env, stdout=f,
                                stderr=subprocess.STDOUT)
        try:
            code = proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: stop this run's pytest (its nodes die with it)
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    try:
        result = json.loads(report.read_text())
    except (OSError, ValueError):  # pytest died before its report: the log says why
        result = {"passed": 0, "failed": [], "errors": [f"(no report: see {log})"], "skipped": 0, "order": "?"}
    result.update(exit=code, seconds=time.monotonic() - t0, log=str(log))
    return result


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--runs", type=int, default=5, help="how many times to run the suite (default 5)")
    p.add_argument("--load", action="store_true", help="keep every core busy with busy loops while the suite runs")
    p.add_argument("--out", default="runs/test-repeat", help="folder for each run's log and report")
    args = p.parse_args(own)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    def terminate(*_):
        raise KeyboardInterrupt  # SIGTERM: stop like Ctrl-C, through the finally below

    signal.signal(signal.SIGTERM, terminate)
    load = []
    results = []
    interrupted = False
    try:
        if args.load:
            start_load(into=load)
            print(f"[test-repeat] load: {len(load)} busy loops at niceness {os.nice(0)}", flush=True)
        for k in range(1, args.runs + 1):
            r = run_once(k, pytest_args, out)
            results.append(r)
            bad = len(r["failed"]) + len(r["errors"])
            verdict = "PASS" if r["exit"] == 0 else "FAIL"
            print(f"[test-repeat] run {k}/{args.runs}: {verdict} (exit {r['exit']}) {r['passed']} passed, "
                  f"{len(r['failed'])} failed, {len(r['errors'])} errors, {r['skipped']} skipped, order "
                  f"{r['order']}, {r['seconds']:.0f} s; log {r['log']}", flush=True)
            for test in r["failed"] + r["errors"]:
                print(f"[test-repeat]     {test}", flush=True)
            if bad == 0 and r["exit"] not in (0, 5):
                print(f"[test-repeat]     pytest exited {r['exit']}: see {r['log']}", flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("[test-repeat] interrupted", flush=True)
    finally:
        stop_load(load)
        if load:
            print("[test-repeat] load stopped", flush=True)
    failures: dict[str, list[int]] = {}
    for k, r in enumerate(results, 1):
        for test in r["failed"] + r["errors"]:
            failures.setdefault(test, []).append(k)
    passed_runs = sum(r["exit"] == 0 for r in results)
    print(f"[test-repeat] {passed_runs} of {len(results)} runs passed" + (" (interrupted)" if interrupted else ""))
    if failures:
        print("[test-repeat] failed in some run (test: runs):")
        for test, runs in sorted(failures.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            print(f"[test-repeat]   {test}: {', '.join(map(str, runs))} ({len(runs)}/{len(results)})")
    return 0 if results and passed_runs == len(results) and not interrupted else 1


if __name__ == "__main__":
    sys.exit(main())
