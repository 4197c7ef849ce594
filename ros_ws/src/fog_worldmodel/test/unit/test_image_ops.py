"""fog_worldmodel.image_ops: uint8 HWC frames <-> float CHW in [-1, 1] (value mapping, leading
dimensions, resizing only when needed, clamping and rounding) and the uint8 resize."""

from __future__ import annotations

import pytest
import torch
from fog_worldmodel.image_ops import float_to_frames, frames_to_float, resize_frames_uint8


def frames(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)


def test_frames_to_float_maps_0_and_255_to_minus_one_and_one_and_moves_channels_first():
    x = torch.tensor([[[[0, 255, 128]]]], dtype=torch.uint8)  # [1, H=1, W=1, C=3]
    y = frames_to_float(x)
    assert y.shape == (1, 3, 1, 1) and y.dtype == torch.float32, f"expected float32 [1, 3, 1, 1], got {y.shape}"
    assert torch.allclose(y.flatten(), torch.tensor([-1.0, 1.0, 128 / 127.5 - 1]), atol=1e-6), f"got {y.flatten()}"


def test_channel_order_and_pixel_positions_are_kept():
    x = frames(2, 5, 7, 3)
    y = frames_to_float(x)
    assert y.shape == (2, 3, 5, 7)
    assert y[1, 2, 4, 6] == pytest.approx(x[1, 4, 6, 2].item() / 127.5 - 1), "pixel (4, 6) channel 2 of frame 1"


@pytest.mark.parametrize("lead", [(), (4,), (2, 3)])
def test_leading_dimensions_are_preserved(lead):
    x = frames(*lead, 6, 6, 3)
    y = frames_to_float(x)
    assert y.shape == (*lead, 3, 6, 6), f"leading dims {lead}: got {tuple(y.shape)}"
    assert float_to_frames(y).shape == x.shape


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.int8])
def test_frames_to_float_refuses_non_uint8_with_the_dtype_named(dtype):
    with pytest.raises(TypeError, match=f"frames must be uint8.*got {dtype}"):
        frames_to_float(torch.zeros(1, 4, 4, 3, dtype=dtype))


def test_uint8_float_uint8_is_exact():
    x = frames(3, 8, 8, 3)
    assert torch.equal(float_to_frames(frames_to_float(x)), x), "every uint8 value must survive the round trip"


def test_size_equal_to_the_frame_size_does_not_resample():
    x = frames(2, 8, 8, 3)
    assert torch.equal(frames_to_float(x, size=8), frames_to_float(x)), "same size: no interpolation"


def test_resize_changes_the_spatial_size_and_keeps_a_flat_image_flat():
    flat = torch.full((2, 12, 12, 3), 200, dtype=torch.uint8)
    y = frames_to_float(flat, size=5)
    assert y.shape == (2, 3, 5, 5)
    assert torch.allclose(y, torch.full_like(y, 200 / 127.5 - 1), atol=1e-5), "a constant image stays constant"
    up = frames_to_float(frames(1, 4, 4, 3), size=9)
    assert up.shape == (1, 3, 9, 9) and up.min() >= -1 and up.max() <= 1, "upsampling stays within [-1, 1]"


def test_downscaling_is_antialiased_averages_not_point_samples():
    """A 1-pixel checkerboard shrunk 4x becomes mid-grey (antialiasing), not black or white."""
    ii, jj = torch.meshgrid(torch.arange(16), torch.arange(16), indexing="ij")
    board = (((ii + jj) % 2) * 255).to(torch.uint8)[..., None].expand(16, 16, 3).contiguous()
    y = frames_to_float(board[None], size=4)
    assert y.abs().max() < 0.1, f"expected about 0 (grey) everywhere, got range [{y.min():.3f}, {y.max():.3f}]"


def test_float_to_frames_clamps_out_of_range_values_and_rounds():
    x = torch.tensor([-3.0, -1.0, 0.0, 1.0, 5.0, 0.004, 0.003]).view(1, 7, 1).expand(3, 7, 1).contiguous()
    y = float_to_frames(x)  # [C=3, H=7, W=1] -> [7, 1, 3]
    assert y.dtype == torch.uint8 and y.shape == (7, 1, 3)
    # 0 -> 127.5 rounds half to even (128); 0.004 -> 128.01 -> 128; 0.003 -> 127.88 -> 128
    assert y[:, 0, 0].tolist() == [0, 0, 128, 255, 255, 128, 128], f"got {y[:, 0, 0].tolist()}"


def test_resize_frames_uint8_returns_the_same_tensor_when_already_that_size():
    x = frames(2, 6, 6, 3)
    assert resize_frames_uint8(x, 6) is x, "no copy and no change at the target size"


def test_resize_frames_uint8_resizes_to_uint8_with_leading_dims():
    x = frames(2, 3, 10, 10, 3)
    y = resize_frames_uint8(x, 4)
    assert y.shape == (2, 3, 4, 4, 3) and y.dtype == torch.uint8, f"got {tuple(y.shape)} {y.dtype}"
    flat = torch.full((1, 10, 10, 3), 77, dtype=torch.uint8)
    assert torch.equal(resize_frames_uint8(flat, 4), torch.full((1, 4, 4, 3), 77, dtype=torch.uint8))


def test_non_square_frames_are_resized_to_a_square():
    y = frames_to_float(frames(1, 6, 10, 3), size=6)
    assert y.shape == (1, 3, 6, 6), "a 6x10 frame at size 6 is resampled to 6x6"
