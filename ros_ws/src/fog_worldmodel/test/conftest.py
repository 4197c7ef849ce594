"""Make the package importable from the source tree when the colcon workspace is not sourced."""

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
_pkg_root = Path(__file__).resolve().parents[1]
try:
    import fog_worldmodel  # noqa: F401
except ImportError:
    sys.path.insert(0, str(_pkg_root))
