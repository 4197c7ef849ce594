"""`fog validate ARTIFACT_DIR`: load an artifact with the robot's runtime and repeat its parity check.

Examples::

    fog validate artifacts/pushcube
    fog validate ros_ws/src/fog_policy/artifacts/pushcube --tolerance 1e-4
"""

from __future__ import annotations

import argparse
import json
import sys

from fog_training.export import ParityError, validate_artifact


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fog validate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("artifact", help="artifact folder (policy.onnx + policy_meta.json)")
    p.add_argument("--tolerance", type=float, default=None, help="max abs difference (default: the export's)")
    a = p.parse_args(argv)
    from fog_policy.policy_artifact import ArtifactError

    try:
        report = validate_artifact(a.artifact, a.tolerance)
    except (ArtifactError, ParityError, OSError) as e:
        print(f"fog validate: {e}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    print(f"[validate] {a.artifact}: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
