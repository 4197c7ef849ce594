"""The `fog` CLI's verbs: each names a module (in the workspace or training) with the entry it calls,
so tests lower in the stack may run a verb's module directly (e.g. `python -m fog_policy.deploy` for
`fog deploy`) and still test what `fog` runs. `fog` run as a child process: training/tests/integration/test_cli.py."""

import ast
import importlib.util
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
