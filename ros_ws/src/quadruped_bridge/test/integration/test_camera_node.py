"""The camera node on a generated video file, as a separate process over DDS: size, encoding, rate, info."""

import cv2
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_messages import image_array
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id, stamp_seconds
from sensor_msgs.msg import CameraInfo, Image

pytestmark = pytest.mark.integration

RATE = 20.0


def make_video(path, n=40, w=160, h=120):
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    for i in range(n):
        rgb = np.zeros((h, w, 3), np.uint8)
        rgb[:, :, 0] = 220  # red everywhere: a BGR/RGB swap would show
        rgb[:, : w // 2, 2] = 120 + i  # the left half bluish
        out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out.release()


def test_camera_node_publishes_video_file_at_rate(tmp_path):
    video, calib = tmp_path / "clip.avi", tmp_path / "calib.yaml"
    make_video(video)
    calib.write_text("image_width: 160\nimage_height: 120\ncamera_name: test\n"
                     "camera_matrix: {rows: 3, cols: 3, data: [100.0, 0, 80.0, 0, 100.0, 60.0, 0, 0, 1]}\n"
                     "distortion_model: plumb_bob\n"
                     "distortion_coefficients: {rows: 1, cols: 5, data: [0, 0, 0, 0, 0]}\n")
    domain = private_domain_id()
    group = ProcessGroup(tmp_path / "logs", ros_env(domain))
    probe = RosProbe(domain, use_sim_time=False)
    images = probe.watch(Image, "camera/image_raw", sensor=True)
    infos = probe.watch(CameraInfo, "camera/camera_info", sensor=True)
    diags = probe.watch(DiagnosticArray, "/diagnostics")
    try:
        group.start("camera", node_command("quadruped_bridge.camera_node", {
            "source": str(video), "rate_hz": RATE, "crop_x": 20, "crop_y": 0, "crop_width": 120, "crop_height": 120,
            "width": 64, "height": 64, "calibration_file": str(calib), "image_converter": "own"}))
        if not probe.spin_until(lambda: len(images) >= 5, 30):
            group.check_alive()
            raise AssertionError("no images")
        start = len(images)
        # 3 s of images at the configured rate, then the rate they came at
        n = int(3 * RATE)
        assert probe.spin_until(lambda: len(images) >= start + n, 30), (
            f"awaited {n} more images for 30 s; got {len(images) - start}")
        got = images[start:]
        t = probe.wall_times["camera/image_raw"][start:]
        rate = (len(got) - 1) / (t[-1] - t[0])
        assert 0.75 * RATE < rate < 1.15 * RATE, f"{rate:.1f} Hz, configured {RATE} Hz"
        stamps = [stamp_seconds(m) for m in got]
        assert np.median(np.diff(stamps)) == pytest.approx(1 / RATE, rel=0.2)
        img = got[-1]
        assert (img.width, img.height, img.encoding, img.step) == (64, 64, "rgb8", 64 * 3)
        rgb = image_array(img)
        assert rgb[:, :, 0].mean() > 200 and rgb[:, 32:, 2].mean() < 30  # red channel, right half not blue
        assert rgb[:, :8, 2].mean() > 100  # left edge (inside the crop) bluish
        info = infos[-1]
        assert (info.width, info.height) == (64, 64)
        s = 64 / 120
        assert list(info.k) == pytest.approx([100 * s, 0, (80 - 20) * s, 0, 100 * s, 60 * s, 0, 0, 1])
        assert {stamp_seconds(i) for i in infos} >= set(stamps[:-3])  # camera_info with every image
        assert probe.spin_until(lambda: "converter=own" in diagnostics_text(diags), 5), (
            "awaited converter=own in the camera's report:\n" + diagnostics_text(diags[-1:]))
    finally:
        probe.close()
        group.stop()
