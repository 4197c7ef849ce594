"""The `fog` CLI's verbs: each names a module (in the workspace or training) with the entry it calls,
so tests lower in the stack may run a verb's module directly (e.g. `python -m fog_policy.deploy` for
`fog deploy`) and still test what `fog` runs."""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from fog_training.cli import VERBS


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_names_a_module_with_its_entry(verb):
    module, _, func = VERBS[verb][0].partition(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"fog {verb}: module {module} not found"
    tree = ast.parse(Path(spec.origin).read_text())
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert (func or "main") in functions, f"fog {verb}: {module} has no {func or 'main'}()"


def test_deploy_dispatches_to_fog_policy_deploy():
    out = subprocess.run(
        [sys.executable, "-m", "fog_training.cli", "deploy", "--help"], capture_output=True, text=True, timeout=120
    )
    direct = subprocess.run(
        [sys.executable, "-m", "fog_policy.deploy", "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and direct.returncode == 0, out.stderr + direct.stderr
    assert out.stdout.split("\n", 1)[1] == direct.stdout.split("\n", 1)[1], "fog deploy is not fog_policy.deploy"


def test_unknown_verb_is_named():
    out = subprocess.run([sys.executable, "-m", "fog_training.cli", "dance"], capture_output=True, text=True)
    assert out.returncode == 2 and "unknown verb 'dance'" in out.stderr
