"""Suite-wide pytest options: the order tests run in, and a machine-readable outcome report.

--order=file            the files' order (default)
--order=reverse         every test in reverse order (modules reversed, tests in each reversed)
--order=shuffle[:SEED]  modules in a random order, and the tests inside each module in a random
                        order (modules stay contiguous, so a module's shared stack starts once);
                        the seed is printed in the header, and the same seed repeats the order

FOG_TEST_REPORT=PATH    write {"exitstatus", "passed", "failed", "errors", "skipped"} (lists of
                        test ids for failed/errors) as JSON to PATH at the end (scripts/test_repeat.py)
"""

from __future__ import annotations

import json
import os
import random

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--order",
        default="file",
        help="file (default) | reverse | shuffle[:SEED]: the order tests run in",
    )


def parse_order(value: str) -> tuple[str, int | None]:
    """('file' | 'reverse' | 'shuffle', seed or None)."""
    kind, _, seed = value.partition(":")
    if kind not in ("file", "reverse", "shuffle") or (seed and kind != "shuffle"):
        raise pytest.UsageError(f"--order={value}: expected file, reverse or shuffle[:SEED]")
    if kind == "shuffle":
        try:
            return kind, int(seed) if seed else random.SystemRandom().randrange(10**6)
        except ValueError:
            raise pytest.UsageError(f"--order={value}: the seed must be an integer") from None
    return kind, None


ORDER = pytest.StashKey[tuple[str, int | None]]()
"""The run's test order (kind, seed) in the config's stash."""


def pytest_configure(config):
    config.stash[ORDER] = parse_order(config.getoption("order"))


def order_text(kind: str, seed: int | None) -> str:
    return f"shuffle:{seed}" if kind == "shuffle" else kind


def pytest_report_header(config):
    text = order_text(*config.stash[ORDER])
    return f"test order: {text}" + (f" (repeat with --order={text})" if config.stash[ORDER][0] == "shuffle" else "")


def ordered(items: list, kind: str, seed: int | None) -> list:
    """`items` in the order `kind` says; modules stay contiguous."""
    if kind == "file":
        return list(items)
    if kind == "reverse":
        return list(reversed(items))
    rng = random.Random(seed)
    modules: dict[object, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::", 1)[0], []).append(item)
    groups = list(modules.values())
    rng.shuffle(groups)
    out = []
    for group in groups:
        rng.shuffle(group)
        out += group
    return out


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    kind, seed = config.stash[ORDER]
    items[:] = ordered(items, kind, seed)


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("FOG_TEST_REPORT")
    if not path:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = reporter.stats if reporter is not None else {}

    def ids(key):
        return sorted({r.nodeid for r in stats.get(key, []) if getattr(r, "nodeid", None)})

    report = {
        "exitstatus": int(exitstatus),
        "passed": len(ids("passed")),
        "failed": ids("failed"),
        "errors": ids("error"),
        "skipped": len(stats.get("skipped", [])),
        "order": order_text(*session.config.stash[ORDER]),
    }
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
