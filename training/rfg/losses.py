"""RFG losses available offline: masked L1 and SSIM, LSGAN adversarial terms, discriminator feature
matching (the perceptual term, no downloaded VGG), style consistency and the landmark loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class RFGLossConfig:
    """Loss weights (paper: attribute 10, style 1, landmark 1) and the schedule of cross-identity pairs."""

    attribute: float = 10.0  #: masked L1 against the real frame
    ssim: float = 1.0  #: 1 - SSIM (masked)
    style: float = 1.0  #: ||E_s(output) - E_s(source)||_1
    landmark: float = 1.0  #: regressor(output) vs target landmarks (crop units)
    adversarial: float = 0.1  #: face and shape discriminators (generator side)
    feature_matching: float = 1.0  #: discriminator features of output vs real frame
    local: float = 1.0  #: weight of the local integrator's reconstruction loss L_L
    calibration: float = 1.0  #: weight of the calibration net's losses L_C
    cross_fraction: float = 0.25  #: share of cross-identity samples once they start
    cross_start: int = 2000  #: step from which cross-identity pairs are mixed in (fine-tuning)
    max_blur: float = 10.0  #: sigma range of the blur on the local integrator's input
    #: Frames the system runs on its own outputs before the trained frame (0: L's input is the blurred
    #: real frame t-1). With R > 0, frame t-R is drawn by G alone (as the runtime does after a reset),
    #: then G+L+C follow frame by frame without gradients, and L trains on that output, the input it
    #: gets when it runs.
    rollout: int = 0


def masked_l1(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean |x - y| over masked pixels (mask (N, 1, H, W) in {0, 1}); 0 when nothing is masked."""
    w = mask.expand_as(x)
    return ((x - y).abs() * w).sum() / w.sum().clamp_min(1.0)


def _gauss(size: int = 11, sigma: float = 1.5, device: torch.device | None = None) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004; 11-tap Gaussian, sigma 1.5, K1 0.01, K2 0.03), mean over channels.

    Written here because the packages that ship it (piq, pytorch-msssim's relatives) pull torchvision;
    tested against scikit-image in tests/training.
    """
    c = x.shape[1]
    g = _gauss(device=x.device).to(x.dtype)
    kx = g.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    ky = g.view(1, 1, -1, 1).repeat(c, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t, kx, groups=c), ky, groups=c)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean(dim=1, keepdim=True)


def masked_ssim(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean SSIM over the (valid-window) pixels whose mask is set."""
    s = ssim_map(x, y)
    m = mask[:, :, 5:-5, 5:-5]
    return (s * m).sum() / m.sum().clamp_min(1.0)


def d_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN discriminator loss over scales (logits are the last feature of each scale)."""
    return sum(((r - 1) ** 2).mean() + (f**2).mean() for r, f in zip(real, fake, strict=True)) / len(real)


def g_adv_loss(fake: list[torch.Tensor]) -> torch.Tensor:
    """LSGAN generator loss over scales."""
    return sum(((f - 1) ** 2).mean() for f in fake) / len(fake)


def feature_matching(real_feats: list[list[torch.Tensor]], fake_feats: list[list[torch.Tensor]]) -> torch.Tensor:
    """L1 between discriminator features of the real frame and of the output (all layers but logits)."""
    total, count = 0.0, 0
    for rf, ff in zip(real_feats, fake_feats, strict=True):
        for r, f in zip(rf[:-1], ff[:-1], strict=True):
            total = total + (r.detach() - f).abs().mean()
            count += 1
    return total / max(count, 1)


def psnr(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-sample PSNR (dB) over masked pixels, images in [-1, 1]."""
    w = mask.expand_as(x)
    mse = (((x - y) ** 2) * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp_min(1.0)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-10))
