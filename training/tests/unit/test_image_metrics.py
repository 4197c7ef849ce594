"""Frame-quality metrics (fog_training.image_metrics): MSE, PSNR and SSIM on uint8 frames, by hand."""

import math

import pytest
import torch
from fog_training.image_metrics import mse_per_frame, psnr_from_mse, ssim_per_frame


def test_mse_is_per_frame_in_uint8_units():
    a = torch.zeros(2, 3, 4, 4, 3, dtype=torch.uint8)
    b = a.clone()
    b[0, 1] = 10  # one frame off by 10 everywhere
    b[1, 2, 0, 0, 0] = 255  # one pixel of one channel off by 255 (no uint8 wrap-around)
    m = mse_per_frame(a, b)
    assert m.shape == (2, 3)
    torch.testing.assert_close(m, torch.tensor([[0.0, 100.0, 0.0], [0.0, 0.0, 255.0**2 / 48]]))


def test_psnr_by_hand_and_capped_for_equal_frames():
    assert psnr_from_mse(100.0).item() == pytest.approx(10 * math.log10(255**2 / 100))
    assert psnr_from_mse(torch.tensor([255.0**2])).item() == pytest.approx(0.0)
    assert psnr_from_mse(0.0).item() == 100.0  # identical frames: the cap, not inf
    assert psnr_from_mse(0.0, cap=60.0).item() == 60.0
    assert psnr_from_mse(1.0, max_val=1.0).item() == pytest.approx(0.0)


def test_ssim_is_one_for_equal_frames_and_falls_with_noise():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (2, 16, 16, 3), generator=g, dtype=torch.uint8)
    torch.testing.assert_close(ssim_per_frame(a, a), torch.ones(2))
    noise = torch.randint(-40, 41, a.shape, generator=g)
    b = (a.int() + noise).clamp(0, 255).to(torch.uint8)
    other = torch.randint(0, 256, a.shape, generator=g, dtype=torch.uint8)
    s_noisy, s_other = ssim_per_frame(a, b), ssim_per_frame(a, other)
    assert s_noisy.shape == (2,) and (s_noisy < 0.99).all() and (s_other < s_noisy).all()
    assert (s_other.abs() < 0.1).all(), "unrelated random frames are uncorrelated"


def test_ssim_keeps_leading_dims_and_takes_frames_smaller_than_its_window():
    a = torch.full((3, 2, 8, 6, 3), 100, dtype=torch.uint8)
    b = a.clone()
    b[1, 0] = 180  # a brighter frame: a luminance difference only
    s = ssim_per_frame(a, b)
    assert s.shape == (3, 2)
    c1 = (0.01 * 255) ** 2
    want = (2 * 100 * 180 + c1) / (100**2 + 180**2 + c1)  # flat frames: the luminance term alone
    assert s[1, 0].item() == pytest.approx(want, rel=1e-4) and s[0, 0].item() == pytest.approx(1.0)
