"""The Foxglove layout for dream mode (docs/foxglove/dream_layout.json) names only topics that the
dream node and `fog dream compare --live` publish, and every panel it configures is placed."""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LAYOUT = ROOT / "docs" / "foxglove" / "dream_layout.json"
SOURCES = [ROOT / "ros_ws/src/fog_policy/fog_policy/dream_node.py", ROOT / "training/fog_training/dream_compare.py"]


def placed(node) -> set[str]:
    if isinstance(node, str):
        return {node}
    return placed(node["first"]) | placed(node["second"])


def test_layout_topics_are_published_and_panels_placed():
    layout = json.loads(LAYOUT.read_text())
    panels = layout["configById"]
    assert placed(layout["layout"]) == set(panels), "every configured panel appears in the layout tree"
    topics = {p["imageMode"]["imageTopic"] for k, p in panels.items() if k.startswith("Image!")}
    topics |= {path["value"].split(".")[0] for k, p in panels.items() if k.startswith("Plot!") for path in p["paths"]}
    source = "\n".join(s.read_text() for s in SOURCES)
    published = set(re.findall(r'create_publisher\(\s*\w+,\s*"([^"]+)"', source)) | {"cmd_vel"}
    missing = {t for t in topics if t.lstrip("/") not in published}
    assert not missing, f"the layout names topics nothing publishes: {missing}"
