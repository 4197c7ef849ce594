"""Let launch_pytest run under the project's pinned pytest (9.x).

- launch_testing's pytest plugin (for `launch_test`-style files, which this project has none of)
  cannot even register under pytest 9: its `pytest_pycollect_makemodule(path, parent)` hook takes
  the `path` argument pytest removed. pytest.ini blocks it (`-p no:launch_testing`); these tests
  use launch_pytest's own plugin only.
- launch_pytest releases made before ros2/launch#947 read `fixture._pytestfixturefunction`, which
  pytest 8.4 replaced by `_fixture_function_marker`: the old name is provided here when missing.

Where launch_pytest is not installed (pip installs: ROS 2's launch is not on PyPI), the test module
skips itself and says so.
"""

try:
    from _pytest.fixtures import FixtureFunctionDefinition  # pytest >= 8.4
except ImportError:  # older pytest: fixtures are functions carrying _pytestfixturefunction
    FixtureFunctionDefinition = None

if FixtureFunctionDefinition is not None and not hasattr(FixtureFunctionDefinition, "_pytestfixturefunction"):
    FixtureFunctionDefinition._pytestfixturefunction = property(lambda self: self._fixture_function_marker)  # noqa: SLF001  (the shim for launch_pytest's read of pytest's private name)
