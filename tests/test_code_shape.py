"""Lint and size limits that keep the code easy to carry on: `ruff check .` clean (SLF001 included),
no Python file over 500 lines (tests included), no function over 80 lines outside tests unless the
line above its `def` (or its first decorator) is a comment `# long: <reason>` saying why it reads
better whole."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TREES = ("ros_ws/src", "training", "benchmarks", "scripts", "tests", "docker")
SKIP = {"build", "install", "log", "__pycache__", ".venv"}
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def python_files():
    for tree in TREES:
        for p in sorted((ROOT / tree).rglob("*.py")):
            if not SKIP & set(p.relative_to(ROOT).parts):
                yield p


def is_test_file(path: Path) -> bool:
    parts = path.relative_to(ROOT).parts
    return path.name.startswith("test_") or path.name == "conftest.py" or any(
        part in ("test", "tests", "test_launch") for part in parts[:-1]
    )


def long_functions(source: str, limit: int = MAX_FUNCTION_LINES) -> list[tuple[int, str, int]]:
    """(line, name, length) of each function longer than `limit` lines without a `# long:` reason."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            if length > limit and not above.startswith("# long:"):
                found.append((node.lineno, node.name, length))
    return found


def test_no_file_over_500_lines():
    big = [
        f"{p.relative_to(ROOT)}: {n} lines"
        for p in python_files()
        if (n := len(p.read_text().splitlines())) > MAX_FILE_LINES
    ]
    assert not big, f"files over {MAX_FILE_LINES} lines (split them):\n" + "\n".join(big)


def test_no_function_over_80_lines_outside_tests():
    found = [
        f"{p.relative_to(ROOT)}:{line}: {name} is {length} lines"
        for p in python_files()
        if not is_test_file(p)
        for line, name, length in long_functions(p.read_text())
    ]
    assert not found, (
        f"functions over {MAX_FUNCTION_LINES} lines (split them, or put `# long: <reason>` above the def):\n"
        + "\n".join(found)
    )


def test_the_function_check_counts_and_honours_a_reason():
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    plain = f"def f():\n{body}\n"  # 81 lines
    assert long_functions(plain) == [(1, "f", 81)]
    assert long_functions(f"# long: one straight sequence\n{plain}") == []
    assert long_functions(f"# long: reason\n@decorator\n{plain}") == []
    assert long_functions(f"# a comment, not a reason\n{plain}") == [(2, "f", 81)]
    assert long_functions(f"def g():\n{body[: body.rfind(chr(10))]}\n") == []  # 80 lines


def private_imports(source: str) -> list[tuple[int, str]]:
    """(line, "module._name") for each private name imported from another module (`from m import _x`)."""
    return [
        (node.lineno, f"{node.module}.{alias.name}")
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_no_source_imports_another_modules_private_names():
    """SLF001 catches `obj._member`; this catches `from module import _helper` (a private reach ruff
    does not see). Tests may import the private helpers of the module they test."""
    found = [
        f"{p.relative_to(ROOT)}:{line}: imports {name}"
        for p in python_files()
        if not is_test_file(p)
        for line, name in private_imports(p.read_text())
    ]
    assert not found, "private names imported from other modules (make them public):\n" + "\n".join(found)


def test_the_private_import_check_sees_one():
    assert private_imports("from a.b import c, _d\nfrom e import __version__\n") == [(1, "a.b._d")]


def test_ruff_passes_on_the_whole_tree():
    """`ruff check .` (ruff.toml: pycodestyle, pyflakes, imports, bugbear, pyupgrade and SLF001, no
    reaching into another object's private members) is clean: `make lint` is part of `make test`."""
    import subprocess
    import sys

    ruff = Path(sys.executable).with_name("ruff")
    assert ruff.exists(), f"ruff is pinned in requirements.txt; {ruff} is missing: run make setup"
    done = subprocess.run([str(ruff), "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, f"ruff check . found problems:\n{done.stdout[-4000:]}{done.stderr[-2000:]}"
