"""Camera capture without ROS: frame sources, crop/resize, calibration, image conversion.

Sources (`open_source(spec)`), all returning RGB uint8 frames:
- a V4L2 device: "/dev/video0" or an index "0";
- a GStreamer pipeline: any spec containing "!" (needs an OpenCV built with GStreamer, e.g. the
  distribution's python3-opencv; the PyPI wheel has none, which is said at open);
- the Go2's front camera through the SDK's video client: "go2" (DDS set up by the caller);
- a video file (tests, replays): any other path; loops at its end when asked.

`FrameGeometry` crops then resizes, and `CameraModel` carries the calibration (ROS camera_info YAML,
as written by camera_calibration) through the same crop and resize, so camera_info always describes
the published image. `ImageConverter` builds sensor_msgs/Image with ROS 2's cv_bridge when it is
importable and with the project's own converter (quadruped_bridge.ros_messages) otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from quadruped_bridge import ros_messages as rm


# --------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class FrameGeometry:
    """Crop (x, y, width, height; width 0 = no crop) then resize to (width, height; 0 = keep)."""

    crop_x: int = 0
    crop_y: int = 0
    crop_width: int = 0
    crop_height: int = 0
    width: int = 0
    height: int = 0

    def crop_box(self, src_w: int, src_h: int) -> tuple[int, int, int, int]:
        if self.crop_width <= 0 or self.crop_height <= 0:
            return 0, 0, src_w, src_h
        x, y, w, h = self.crop_x, self.crop_y, self.crop_width, self.crop_height
        if x < 0 or y < 0 or x + w > src_w or y + h > src_h:
            raise ValueError(f"crop ({x}, {y}, {w}x{h}) does not fit in a {src_w}x{src_h} image")
        return x, y, w, h

    def output_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        _, _, w, h = self.crop_box(src_w, src_h)
        return (self.width or w, self.height or h)

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        h0, w0 = rgb.shape[:2]
        x, y, w, h = self.crop_box(w0, h0)
        out = rgb[y:y + h, x:x + w]
        ow, oh = self.output_size(w0, h0)
        if (ow, oh) != (w, h):
            interp = cv2.INTER_AREA if ow < w else cv2.INTER_LINEAR
            out = cv2.resize(out, (ow, oh), interpolation=interp)
        return np.ascontiguousarray(out)


# ------------------------------------------------------------------------------ calibration
@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics for one image size (ROS CameraInfo conventions)."""

    width: int
    height: int
    k: tuple[float, ...]
    """3x3 camera matrix, row-major."""
    d: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0, 0.0)
    distortion_model: str = "plumb_bob"
    r: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    p: tuple[float, ...] | None = None
    """3x4 projection matrix, row-major (default: K with a zero fourth column)."""
    name: str = "camera"

    @staticmethod
    def from_fov(width: int, height: int, fovy_deg: float, name: str = "camera") -> CameraModel:
        """An ideal pinhole with square pixels and the given vertical field of view."""
        f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2.0)
        return CameraModel(width, height, (f, 0.0, width / 2.0, 0.0, f, height / 2.0, 0.0, 0.0, 1.0), name=name)

    @staticmethod
    def from_yaml(path: str | Path) -> CameraModel:
        """A ROS camera calibration file (image_width, image_height, camera_matrix, ...)."""
        import yaml

        doc = yaml.safe_load(Path(path).read_text())

        def matrix(key, n):
            data = doc.get(key, {}).get("data") if isinstance(doc.get(key), dict) else None
            if data is None:
                return None
            if len(data) != n:
                raise ValueError(f"{path}: {key} must have {n} values, got {len(data)}")
            return tuple(float(v) for v in data)

        k = matrix("camera_matrix", 9)
        if k is None or "image_width" not in doc or "image_height" not in doc:
            raise ValueError(f"{path}: needs image_width, image_height and camera_matrix")
        d = doc.get("distortion_coefficients", {}).get("data", [0.0] * 5)
        return CameraModel(
            width=int(doc["image_width"]), height=int(doc["image_height"]), k=k,
            d=tuple(float(v) for v in d),
            distortion_model=str(doc.get("distortion_model", "plumb_bob")),
            r=matrix("rectification_matrix", 9) or CameraModel.__dataclass_fields__["r"].default,
            p=matrix("projection_matrix", 12), name=str(doc.get("camera_name", "camera")))

    def projection(self) -> tuple[float, ...]:
        if self.p is not None:
            return self.p
        k = self.k
        return (k[0], k[1], k[2], 0.0, k[3], k[4], k[5], 0.0, k[6], k[7], k[8], 0.0)

    def adapted(self, geometry: FrameGeometry) -> CameraModel:
        """The model of the image after `geometry`'s crop (shifts the centre) and resize (scales)."""
        x, y, w, h = geometry.crop_box(self.width, self.height)
        ow, oh = geometry.output_size(self.width, self.height)
        sx, sy = ow / w, oh / h
        k, p = list(self.k), list(self.projection())
        k[0], k[2] = k[0] * sx, (k[2] - x) * sx
        k[4], k[5] = k[4] * sy, (k[5] - y) * sy
        p[0], p[2], p[3] = p[0] * sx, (p[2] - x) * sx, p[3] * sx
        p[5], p[6], p[7] = p[5] * sy, (p[6] - y) * sy, p[7] * sy
        return replace(self, width=ow, height=oh, k=tuple(k), p=tuple(p))

    def to_msg(self, t: float, frame_id: str = rm.CAMERA_FRAME):
        msg = rm.camera_info_msg(t, self.width, self.height, self.k[0], self.k[4], self.k[2], self.k[5], frame_id)
        msg.k = list(self.k)
        msg.d = list(self.d)
        msg.distortion_model = self.distortion_model
        msg.r = list(self.r)
        msg.p = list(self.projection())
        return msg


# ------------------------------------------------------------------------------ conversion
def cv_bridge_available() -> bool:
    """True when ROS 2's cv_bridge imports (the distribution's package; not on pip-based installs)."""
    try:
        from cv_bridge import CvBridge  # noqa: F401
    except ImportError:
        return False
    return True


class ImageConverter:
    """numpy RGB <-> sensor_msgs/Image (rgb8), through cv_bridge or the project's converter."""

    def __init__(self, backend: str = "auto"):
        if backend == "auto":
            backend = "cv_bridge" if cv_bridge_available() else "own"
        if backend not in ("cv_bridge", "own"):
            raise ValueError(f"image converter must be 'auto', 'cv_bridge' or 'own', got {backend!r}")
        self.backend = backend
        if backend == "cv_bridge":
            from cv_bridge import CvBridge

            self._bridge = CvBridge()

    def to_msg(self, t: float, rgb: np.ndarray, frame_id: str = rm.CAMERA_FRAME):
        if self.backend == "own":
            return rm.image_msg(t, rgb, frame_id)
        msg = self._bridge.cv2_to_imgmsg(np.ascontiguousarray(rgb), encoding="rgb8")
        msg.header.stamp = rm.to_stamp(t)
        msg.header.frame_id = frame_id
        return msg

    def to_rgb(self, msg) -> np.ndarray:
        if self.backend == "own":
            return rm.image_array(msg)
        return np.asarray(self._bridge.imgmsg_to_cv2(msg, desired_encoding="rgb8"))


def available_converters() -> list[str]:
    return ["own"] + (["cv_bridge"] if cv_bridge_available() else [])


# --------------------------------------------------------------------------------- sources
class OpenCVSource:
    """A cv2.VideoCapture on a device, pipeline or file; frames converted to RGB."""

    def __init__(self, spec: str, loop: bool = True, device_width: int = 0, device_height: int = 0,
                 device_fps: float = 0.0):
        import cv2

        self.spec, self.loop = spec, loop
        if spec.isdigit() or spec.startswith("/dev/video"):
            self.kind = "v4l2"
            self.cap = cv2.VideoCapture(int(spec) if spec.isdigit() else spec, cv2.CAP_V4L2)
            self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a queue of old ones
            if device_width and device_height:
                self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, device_width)
                self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, device_height)
            if device_fps:
                self.cap.set(cv2.CAP_PROP_FPS, device_fps)
        elif "!" in spec:
            self.kind = "gstreamer"
            if "GStreamer:                   YES" not in cv2.getBuildInformation():
                raise RuntimeError("this OpenCV has no GStreamer support (the PyPI wheel has none): install the "
                                   "distribution's python3-opencv to use a GStreamer pipeline")
            self.cap = cv2.VideoCapture(spec, cv2.CAP_GSTREAMER)
        else:
            self.kind = "file"
            if not Path(spec).is_file():
                raise FileNotFoundError(f"camera source {spec!r}: no such device or file")
            self.cap = cv2.VideoCapture(spec)
        if not self.cap.isOpened():
            raise RuntimeError(f"could not open camera source {spec!r} ({self.kind})")

    def read(self) -> np.ndarray | None:
        import cv2

        ok, bgr = self.cap.read()
        if not ok and self.kind == "file" and self.loop:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self.cap.read()
        if not ok or bgr is None:
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self.cap.release()


def decode_jpeg(data) -> np.ndarray | None:
    """RGB from JPEG bytes (the Go2 video client's sample), None when undecodable."""
    import cv2

    buf = np.frombuffer(bytes(data), dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class Go2VideoSource:
    """The Go2's front camera through the SDK's video client (the SDK's channel factory must be up)."""

    kind = "go2"

    def __init__(self, timeout: float = 1.0):
        from unitree_sdk2py.go2.video.video_client import VideoClient

        self.client = VideoClient()
        self.client.SetTimeout(timeout)
        self.client.Init()

    def read(self) -> np.ndarray | None:
        code, data = self.client.GetImageSample()
        return decode_jpeg(data) if code == 0 and data else None

    def close(self) -> None:
        pass


def open_source(spec: str, loop: bool = True, **device) -> OpenCVSource | Go2VideoSource:
    if spec == "go2":
        return Go2VideoSource()
    return OpenCVSource(spec, loop, **device)
