"""Camera capture as a ROS 2 node: camera/image_raw (rgb8) + camera/camera_info at a fixed rate.

    python -m quadruped_bridge.camera_node --ros-args -p source:=/dev/video0 -p width:=128 -p height:=128

Sources: a V4L2 device, a GStreamer pipeline, a video file, or the Go2's front camera ("go2",
through the SDK's video client); see quadruped_bridge.camera_capture. Each frame is cropped, then
resized, and stamped when it was read; camera_info (from `calibration_file`, a ROS calibration
YAML, or an ideal pinhole with `fovy_deg`) is adapted to the same crop and resize and published with
the same stamp. Both topics use sensor-data QoS (best effort, shallow), as the topic contract says.
Image messages go through ROS 2's cv_bridge when it is installed and the project's own converter
otherwise (`image_converter`). /diagnostics: achieved rate, failed reads, source, converter.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from fog_contract.go2 import CAMERA_FOVY_DEG
from fog_contract.loop_timing import RateMeter
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from quadruped_bridge import clean_exit, network_policy
from quadruped_bridge import ros_messages as rm
from quadruped_bridge.camera_capture import CameraModel, FrameGeometry, ImageConverter, open_source
from quadruped_bridge.ros_params import declare_config


@dataclass(frozen=True)
class CameraNodeConfig:
    source: str = "/dev/video0"
    """V4L2 device ('/dev/video0' or '0'), GStreamer pipeline (contains '!'), video file, or 'go2'."""
    rate_hz: float = 30.0
    """Publishing rate: one frame read and published per period."""
    width: int = 0
    """Output width after the crop (pixels); 0 keeps the cropped width."""
    height: int = 0
    """Output height after the crop (pixels); 0 keeps the cropped height."""
    crop_x: int = 0
    """Left edge of the crop (pixels of the source image)."""
    crop_y: int = 0
    """Top edge of the crop."""
    crop_width: int = 0
    """Crop width; 0 = no crop."""
    crop_height: int = 0
    """Crop height; 0 = no crop."""
    device_width: int = 0
    """Requested capture width of a V4L2 device (0 = the device's default)."""
    device_height: int = 0
    """Requested capture height of a V4L2 device."""
    device_fps: float = 0.0
    """Requested frame rate of a V4L2 device (0 = default)."""
    loop_video: bool = True
    """A video file starts again at its end."""
    calibration_file: str = ""
    """ROS camera calibration YAML for the source's full image; empty = ideal pinhole with fovy_deg."""
    fovy_deg: float = CAMERA_FOVY_DEG
    """Vertical field of view of the ideal pinhole used without a calibration file."""
    frame_id: str = rm.CAMERA_FRAME
    """frame_id of both messages."""
    image_converter: str = "auto"
    """'auto' (cv_bridge when installed, else own), 'cv_bridge' or 'own'."""
    go2_network_interface: str = "eth0"
    """source 'go2': network interface wired to the robot."""
    go2_dds_domain_id: int = 0
    """source 'go2': DDS domain (0 needs real_robot)."""
    real_robot: bool = False
    """source 'go2': set true to use domain 0, the real robot's."""
    diagnostics_rate_hz: float = 1.0
    """Rate of /diagnostics."""


class CameraNode(Node):
    def __init__(self, **kwargs):
        super().__init__("camera", **kwargs)
        self._net = network_policy.report(self)  # domain and discovery range: log and /diagnostics
        self.cfg = cfg = declare_config(self, CameraNodeConfig)
        if cfg.rate_hz <= 0:
            raise ValueError(f"rate_hz must be > 0, got {cfg.rate_hz}")
        if cfg.source == "go2":
            from quadruped_bridge.go2_dds import open_go2_domain
            from quadruped_bridge.go2_lowlevel import check_dds_domain

            check_dds_domain(cfg.go2_dds_domain_id, cfg.real_robot)
            open_go2_domain(cfg.go2_dds_domain_id, cfg.go2_network_interface)
        self.source = open_source(cfg.source, cfg.loop_video, device_width=cfg.device_width,
                                  device_height=cfg.device_height, device_fps=cfg.device_fps) \
            if cfg.source != "go2" else open_source("go2")
        self.geometry = FrameGeometry(cfg.crop_x, cfg.crop_y, cfg.crop_width, cfg.crop_height, cfg.width, cfg.height)
        self.converter = ImageConverter(cfg.image_converter)
        self._calibration = CameraModel.from_yaml(cfg.calibration_file) if cfg.calibration_file else None
        self._model: CameraModel | None = None  # for the current source size, made at the first frame
        self._src_size: tuple[int, int] | None = None
        self.pub_image = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.pub_info = self.create_publisher(CameraInfo, "camera/camera_info", qos_profile_sensor_data)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", QoSProfile(depth=10))
        self.meter = RateMeter(300)
        self.failed_reads = 0
        self.create_timer(1.0 / cfg.rate_hz, self._capture)
        self.create_timer(1.0 / max(cfg.diagnostics_rate_hz, 1e-3), self._diagnostics)
        self.get_logger().info(f"camera: {self.source.kind} source {cfg.source!r} at {cfg.rate_hz:g} Hz, "
                               f"converter {self.converter.backend}")

    def _camera_model(self, src_w: int, src_h: int) -> CameraModel:
        if self._src_size != (src_w, src_h):
            base = self._calibration or CameraModel.from_fov(src_w, src_h, self.cfg.fovy_deg)
            if (base.width, base.height) != (src_w, src_h):
                # a calibration for another resolution of the same sensor: scale it to the source
                base = base.adapted(FrameGeometry(width=src_w, height=src_h))
            self._model = base.adapted(self.geometry)
            self._src_size = (src_w, src_h)
        return self._model

    def _capture(self) -> None:
        rgb = self.source.read()
        if rgb is None:
            self.failed_reads += 1
            return
        t = self.get_clock().now().nanoseconds * 1e-9
        model = self._camera_model(rgb.shape[1], rgb.shape[0])
        out = self.geometry.apply(rgb)
        self.pub_image.publish(self.converter.to_msg(t, out, self.cfg.frame_id))
        self.pub_info.publish(model.to_msg(t, self.cfg.frame_id))
        self.meter.tick(time.monotonic())

    def _diagnostics(self) -> None:
        st = self.meter.stats(1.0 / self.cfg.rate_hz)
        ok = st["rate_hz"] >= 0.8 * self.cfg.rate_hz
        values = {"source": self.cfg.source, "kind": self.source.kind, "converter": self.converter.backend,
                  "published": str(self.meter.total), "rate_hz": f"{st['rate_hz']:.1f}",
                  "interval_p99_ms": f"{st['p99_ms']:.1f}", "failed_reads": str(self.failed_reads)}
        level = "OK" if ok else "WARN"
        message = "capturing" if ok else f"rate {st['rate_hz']:.1f} Hz below {self.cfg.rate_hz:g} Hz"
        t = self.get_clock().now().nanoseconds * 1e-9
        values.update(self._net)
        self.pub_diag.publish(rm.diagnostics_msg(t, "quadruped_bridge: camera", level, message, values, "camera"))

    def destroy_node(self):
        self.source.close()
        super().destroy_node()


def main(args=None) -> int:
    """Exits 0 on SIGINT or SIGTERM (see quadruped_bridge.clean_exit); 2 if the camera cannot be opened."""
    stop = clean_exit.init(args)
    try:
        node = CameraNode()
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        rclpy.logging.get_logger("camera").fatal(str(exc))
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        clean_exit.spin_until(executor, stop)
    finally:
        clean_exit.teardown([node], executor)
    return 0


if __name__ == "__main__":
    sys.exit(main())
