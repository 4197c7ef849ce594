"""Write requirements.txt from `pip freeze` of a venv made from requirements.in.

The ROS 2 wheels register a second distribution under their import name (`rclpy`,
`sensor_msgs`, ...) beside the index name (`ros-rclpy`, ...); only the index name can be
installed, so the import-name duplicates are dropped.
"""

import subprocess
import sys

HEADER = "# Full pinned environment. Edit requirements.in, then 'make lock'."


def main(python: str, out: str = "requirements.txt") -> None:
    frozen = subprocess.run([python, "-m", "pip", "freeze"], check=True, capture_output=True, text=True).stdout
    lines = [ln for ln in frozen.splitlines() if "==" in ln and not ln.startswith("-e")]

    def norm(line: str) -> str:
        return line.split("==")[0].lower().replace("_", "-").replace(".", "-")

    names = {norm(ln) for ln in lines}
    keep = [ln for ln in lines if norm(ln).startswith("ros-") or "ros-" + norm(ln) not in names]
    with open(out, "w") as f:
        f.write("\n".join([HEADER, *keep, "setuptools==79.0.1"]) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
