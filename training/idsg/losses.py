"""IDSG losses (DG paper, eqs. 1-6) on (B, 68, 3) normalised landmarks (``streamer.models.idsg``).

Total generator loss: ``adv * L_adv + vls * L_vls + action * L_a + cls * L_c + loc * L_l`` with the
paper's weights 1, 10, 1, 1, 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from streamer.landmarks import NOSE_BASE, REGIONS

#: Region order of ``IDSGLossConfig.margins``.
VLS_REGIONS = ("left_eye", "right_eye", "nose", "mouth", "contour")


@dataclass(frozen=True)
class IDSGLossConfig:
    """Loss weights and margins (the paper's values by default); a weight of 0 switches a loss off."""

    adv: float = 1.0  #: adversarial (eqs. 1-2)
    vls: float = 10.0  #: visible local shape (eq. 3)
    action: float = 1.0  #: action code consistency (eq. 4)
    cls: float = 1.0  #: subject classification (eq. 5)
    loc: float = 0.5  #: localisation on self-reenactment pairs (eq. 6)
    margins: tuple[float, ...] = (0.05, 0.05, 0.1, 0.05, 0.2)  #: per region of ``VLS_REGIONS``
    visible: float = 0.5  #: a source point counts as visible above this visibility
    #: Whether L_a's gradient also trains E_l (the paper's form). E_l can then zero L_a by mapping every
    #: face to one code, after which R_l ignores the driver: that is how the weights shipped until
    #: 2026-12-07 collapsed (output pose followed the source, yaw gain about 0).
    action_trains_encoder: bool = False
    #: Whether C_l sees pose-free shapes (``pose_free_shape``) rather than the landmarks as they are. With
    #: one or two videos per identity, head pose and expression tell the identities apart as well as face
    #: shape does, and L_c then pulls the output towards the source video's pose instead of the driver's.
    cls_pose_free: bool = True


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 1 for D_l: ``-log D(real) - log(1 - D(fake))`` as logits (batch means)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_adv_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Eq. 2, the non-saturating generator side: ``-log D(fake)``."""
    return F.softplus(-fake_logits).mean()


def region_shape_distance(gen: torch.Tensor, src: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(B,) RMS distance of two regions' shapes over weighted (visible) points.

    ``gen``, ``src``: (B, n, 2) points of one region; ``weight``: (B, n) in {0, 1}. Each shape is
    centred on its weighted centroid (translation removed; the crop normalisation has already
    removed face scale and roll), then the weighted mean squared point distance is rooted. A face
    with fewer than two visible points in the region gets distance 0.
    """
    w = weight.unsqueeze(-1)
    count = w.sum(dim=1).clamp_min(1e-9)
    gc = gen - (w * gen).sum(dim=1, keepdim=True) / count.unsqueeze(1)
    sc = src - (w * src).sum(dim=1, keepdim=True) / count.unsqueeze(1)
    sq = (w * (gc - sc) ** 2).sum(dim=(1, 2)) / count.squeeze(-1)
    enough = weight.sum(dim=1) >= 2
    return torch.where(enough, torch.sqrt(sq + 1e-12), torch.zeros_like(sq))


def visible_local_shape_loss(
    gen: torch.Tensor, src: torch.Tensor, visibility: torch.Tensor, margins: tuple[float, ...], threshold: float = 0.5
) -> torch.Tensor:
    """Eq. 3: sum over regions of ``max(0, d_k - m_k)``, batch mean; (B, 68, 3) points, (B, 68) source visibility."""
    mask = (visibility > threshold).to(gen.dtype)
    total = gen.new_zeros(gen.shape[0])
    for name, margin in zip(VLS_REGIONS, margins, strict=True):
        idx = torch.as_tensor(REGIONS[name], device=gen.device)
        d = region_shape_distance(gen[:, idx, :2], src[:, idx, :2], mask[:, idx])
        total = total + F.relu(d - margin)
    return total.mean()


def pose_free_shape(points: torch.Tensor) -> torch.Tensor:
    """(B, 68, 3) -> (B, 68, 3): centred, rotated into the head's frame, unit RMS size (differentiable).

    The head frame of ``streamer.pose.head_axes`` (x along the eye line and jaw ends, y from the eye
    line to the nose base), without its constant nose-line tilt, which a classifier does not need.
    """
    p = points.float()
    ax = (p[:, 45] - p[:, 36]) + (p[:, 16] - p[:, 0])
    ax = ax / (ax.norm(dim=-1, keepdim=True) + 1e-9)
    idx = torch.as_tensor(NOSE_BASE, device=p.device)
    down = p[:, idx].mean(dim=1) - p[:, [36, 39, 42, 45]].mean(dim=1)
    ay = down - (down * ax).sum(dim=-1, keepdim=True) * ax
    ay = ay / (ay.norm(dim=-1, keepdim=True) + 1e-9)
    rot = torch.stack([ax, ay, torch.linalg.cross(ax, ay)], dim=-1)  # columns: head x, y, z
    local = (p - p.mean(dim=1, keepdim=True)) @ rot
    return local / (local.pow(2).sum(dim=-1).mean(dim=-1).sqrt()[:, None, None] + 1e-9)


def action_loss(code_generated: torch.Tensor, code_driver: torch.Tensor) -> torch.Tensor:
    """Eq. 4: ``|E_l(l_t_hat) - E_l(l_r)|_1`` (mean over batch and code); the driver's code is a fixed target."""
    return (code_generated - code_driver.detach()).abs().mean()


def class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Eq. 5: cross-entropy of the subject classifier."""
    return F.cross_entropy(logits, labels)


def localization_loss(gen: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 6: mean L1 between generated and true target landmarks over rows where ``mask`` (self pairs)."""
    if not bool(mask.any()):
        return gen.new_zeros(())
    return (gen[mask] - target[mask]).abs().mean()
