"""`fog dream compare --live` in a child process publishes the side-by-side images and the PSNR over DDS
(private domain), the same PSNR it writes; on a small bag the test writes and an untrained tiny world model."""

import json
import sys

import numpy as np
import pytest
import torch
from quadruped_bridge.process_launch import ProcessGroup, ros_env
from quadruped_bridge.ros_probe import RosProbe, private_domain_id
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Float32

torch.set_num_threads(1)
pytestmark = pytest.mark.integration


def test_compare_live_publishes_the_side_by_side_and_psnr(compare_inputs, tmp_path):
    world, bag, _ = compare_inputs
    domain = private_domain_id()
    probe = RosProbe(domain, use_sim_time=False)
    deep = QoSProfile(depth=100, reliability=ReliabilityPolicy.BEST_EFFORT)
    images = probe.watch(Image, "dream/compare/image", qos=deep)
    psnrs = probe.watch(Float32, "dream/compare/psnr")
    try:
        with ProcessGroup(tmp_path / "logs", ros_env(domain)) as group:
            proc = group.start("compare", [sys.executable, "-m", "fog_training.cli", "dream", "compare", "--bag",
                                           str(bag), "--world-model", str(world["run"]), "--out", str(tmp_path / "c"),
                                           "--live"])
            assert probe.spin_until(lambda: proc.popen.poll() is not None, timeout=120), "compare --live did not end"
            probe.spin(0.5)
            assert proc.popen.returncode == 0, proc.log()
    finally:
        probe.close()
    s = json.loads((tmp_path / "c" / "compare.json").read_text())
    T = s["context_frames"] + s["imagined_steps"]
    assert len(images) >= T - 2, f"{len(images)} side-by-side images of {T}"
    assert images[-1].width == 2 * 16 * 8 + 8 and images[-1].encoding == "rgb8"
    assert len(psnrs) >= s["imagined_steps"] - 2
    assert np.allclose([m.data for m in psnrs[-5:]], s["psnr_db"][-5:], atol=1e-3), "live PSNR = the written PSNR"
