"""Frame-quality metrics on uint8 frames: PSNR and SSIM (Gaussian window 11, sigma 1.5, per channel)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mse_per_frame(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean squared error in uint8 units of frames [..., H, W, C] -> [...]."""
    return (a.float() - b.float()).square().mean((-3, -2, -1))


def psnr_from_mse(mse: torch.Tensor | float, max_val: float = 255.0, cap: float = 100.0) -> torch.Tensor:
    mse = torch.as_tensor(mse, dtype=torch.float64)
    return (10 * torch.log10(max_val**2 / mse.clamp_min(1e-12))).clamp(max=cap)


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_per_frame(a: torch.Tensor, b: torch.Tensor, max_val: float = 255.0) -> torch.Tensor:
    """SSIM (Wang et al. 2004) of uint8 frames [..., H, W, C] -> [...], averaged over channels and valid windows."""
    lead = a.shape[:-3]
    x = a.reshape(-1, *a.shape[-3:]).permute(0, 3, 1, 2).float()
    y = b.reshape(-1, *b.shape[-3:]).permute(0, 3, 1, 2).float()
    c = x.shape[1]
    size = min(11, x.shape[-1], x.shape[-2])
    g = _gaussian(size).to(x.device)
    w = (g[:, None] @ g[None, :]).expand(c, 1, size, size).contiguous()
    mu_x, mu_y = F.conv2d(x, w, groups=c), F.conv2d(y, w, groups=c)
    sxx = F.conv2d(x * x, w, groups=c) - mu_x**2
    syy = F.conv2d(y * y, w, groups=c) - mu_y**2
    sxy = F.conv2d(x * y, w, groups=c) - mu_x * mu_y
    c1, c2 = (0.01 * max_val) ** 2, (0.03 * max_val) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.mean((1, 2, 3)).reshape(lead)
