"""Shared test data of fog_policy's tests.

`untrained_artifact`: a copy of the committed untrained policy artifact (test_data/, written by
`python -m fog_training.untrained_artifact --seed 1`; training/tests/unit/test_untrained_artifact.py
checks that it still matches what the export code writes). fog_policy sits below fog_training, so
its tests use the committed files instead of importing the exporter.
"""

import shutil
from pathlib import Path

import pytest

UNTRAINED_ARTIFACT = Path(__file__).resolve().parents[1] / "test_data" / "untrained_artifact"


@pytest.fixture
def untrained_artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("artifacts") / "untrained"
    shutil.copytree(UNTRAINED_ARTIFACT, out)
    return out
