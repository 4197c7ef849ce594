"""Camera capture without ROS graph: crop/resize, calibration, image converters, video file source."""

import cv2
import numpy as np
import pytest
from quadruped_bridge.camera_capture import (
    CameraModel,
    FrameGeometry,
    ImageConverter,
    OpenCVSource,
    available_converters,
    decode_jpeg,
    open_source,
)


def gradient(h=48, w=64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], axis=-1).astype(np.uint8)


def write_video(path, frames, fps=30.0):
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert out.isOpened()
    for rgb in frames:
        out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out.release()


def test_crop_then_resize():
    img = gradient(48, 64)
    g = FrameGeometry(crop_x=8, crop_y=4, crop_width=32, crop_height=40, width=16, height=20)
    out = g.apply(img)
    assert out.shape == (20, 16, 3) and out.dtype == np.uint8 and out.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(FrameGeometry(crop_x=8, crop_y=4, crop_width=32, crop_height=40).apply(img),
                                  img[4:44, 8:40])
    assert FrameGeometry().apply(img).shape == img.shape
    with pytest.raises(ValueError, match="does not fit"):
        FrameGeometry(crop_x=40, crop_width=32, crop_height=8).apply(img)


def test_camera_model_follows_crop_and_resize():
    model = CameraModel(640, 480, (500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0))
    g = FrameGeometry(crop_x=80, crop_y=0, crop_width=480, crop_height=480, width=128, height=128)
    m = model.adapted(g)
    s = 128 / 480
    assert (m.width, m.height) == (128, 128)
    assert m.k[0] == pytest.approx(500 * s) and m.k[4] == pytest.approx(500 * s)
    assert m.k[2] == pytest.approx((320 - 80) * s) and m.k[5] == pytest.approx(240 * s)
    assert m.projection()[2] == pytest.approx(m.k[2])
    # a point projects to the same pixel before and after (modulo the crop shift and the scale)
    X = np.array([0.1, -0.05, 1.0])
    u0 = model.k[0] * X[0] / X[2] + model.k[2]
    u1 = m.k[0] * X[0] / X[2] + m.k[2]
    assert u1 == pytest.approx((u0 - 80) * s)


def test_camera_model_from_ros_calibration_yaml(tmp_path):
    path = tmp_path / "front.yaml"
    path.write_text("""image_width: 640
image_height: 480
camera_name: go2_front
camera_matrix: {rows: 3, cols: 3, data: [410.0, 0.0, 322.5, 0.0, 411.0, 238.0, 0.0, 0.0, 1.0]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [-0.3, 0.09, 0.001, -0.002, 0.0]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [300.0, 0, 320.0, 0, 0, 330.0, 240.0, 0, 0, 0, 1, 0]}
""")
    m = CameraModel.from_yaml(path)
    assert m.name == "go2_front" and (m.width, m.height) == (640, 480)
    assert m.d == (-0.3, 0.09, 0.001, -0.002, 0.0)
    msg = m.adapted(FrameGeometry(width=320, height=240)).to_msg(1.5, "cam")
    assert (msg.width, msg.height) == (320, 240) and msg.header.frame_id == "cam"
    assert list(msg.k) == pytest.approx([205.0, 0, 161.25, 0, 205.5, 119.0, 0, 0, 1])
    assert list(msg.p)[:3] == pytest.approx([150.0, 0, 160.0]) and list(msg.d) == pytest.approx(m.d)
    bad = tmp_path / "bad.yaml"
    bad.write_text("image_width: 10\n")
    with pytest.raises(ValueError, match="camera_matrix"):
        CameraModel.from_yaml(bad)


def test_pinhole_from_fov():
    m = CameraModel.from_fov(64, 64, 90.0)
    assert m.k[0] == pytest.approx(32.0) and m.k[2] == 32.0


@pytest.mark.parametrize("backend", available_converters())
def test_converter_round_trip_is_exact(backend):
    conv = ImageConverter(backend)
    img = gradient(37, 53)  # odd sizes: no row padding assumptions
    msg = conv.to_msg(12.25, img, "cam")
    assert (msg.encoding, msg.height, msg.width, msg.step) == ("rgb8", 37, 53, 53 * 3)
    assert msg.header.stamp.sec == 12 and msg.header.stamp.nanosec == 250_000_000
    np.testing.assert_array_equal(conv.to_rgb(msg), img)


def test_converters_agree_byte_for_byte():
    """Every available converter (cv_bridge where ROS 2 installs it) builds the same message."""
    img = gradient()
    msgs = [ImageConverter(b).to_msg(1.0, img) for b in available_converters()]
    for m in msgs[1:]:
        assert bytes(m.data) == bytes(msgs[0].data) and (m.encoding, m.step) == (msgs[0].encoding, msgs[0].step)
    own = ImageConverter("own")
    for m in msgs:
        np.testing.assert_array_equal(own.to_rgb(m), img)


def test_auto_converter_and_bad_name():
    assert ImageConverter("auto").backend == available_converters()[-1]
    with pytest.raises(ValueError):
        ImageConverter("pil")


def test_video_file_source_reads_rgb_and_loops(tmp_path):
    frames = [np.full((24, 32, 3), (40 * i, 10, 200), np.uint8) for i in range(3)]
    path = tmp_path / "clip.avi"
    write_video(path, frames)
    src = open_source(str(path), loop=True)
    assert isinstance(src, OpenCVSource) and src.kind == "file"
    got = [src.read() for _ in range(5)]
    assert all(g is not None and g.shape == (24, 32, 3) for g in got)
    for i, g in enumerate(got):  # MJPG is lossy: compare the mean colour, channel by channel (RGB order)
        np.testing.assert_allclose(g.reshape(-1, 3).mean(0), frames[i % 3][0, 0], atol=6)
    src.close()
    once = open_source(str(path), loop=False)
    assert [once.read() is None for _ in range(4)] == [False, False, False, True]


def test_missing_source_and_jpeg_decode():
    with pytest.raises(FileNotFoundError):
        open_source("/nonexistent/video.mp4")
    ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(gradient(), cv2.COLOR_RGB2BGR))
    assert ok
    rgb = decode_jpeg(jpg.tobytes())
    assert rgb.shape == (48, 64, 3)
    np.testing.assert_allclose(rgb.astype(float), gradient().astype(float), atol=12)
    assert decode_jpeg(b"") is None and decode_jpeg(b"not a jpeg") is None
