"""IDSG: the ID-preserving Shape Generator of the DG paper (Hsu et al., "Dual-Generator Face
Reenactment", CVPR 2022), adapted to offline data.

A landmark encoder ``E_l`` turns the driver's landmarks into an action code ``gamma`` (pose and
expression); a decoder ``R_l`` turns ``[gamma, r_s]`` into the target landmarks, where ``r_s`` is
the source's identity code. The paper takes ``r_s`` from VGGFace2 features; those are not
available offline, so here ``r_s`` comes from the source's own landmarks (pose-normalised shape)
through a small MLP (``IdentityEncoder``). ``LandmarkCritic`` (E_l's structure) serves as the
landmark discriminator ``D_l`` (one logit) and as the subject classifier ``C_l`` (one logit per
training identity); both live here so checkpoints and the inference wrapper share one definition.

Convention: landmarks enter as (B, 68, 3) crop coordinates of the canonical 256 alignment crop
(``streamer.alignment``) normalised by ``normalise_crop_points``: x, y -> px / size - 0.5, z ->
(z - mean z) / size; the networks see them flattened to (B, 204).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from streamer.landmarks import NUM_POINTS
from streamer.pose import head_axes

FLAT = NUM_POINTS * 3


@dataclass(frozen=True)
class IDSGConfig:
    """Architecture of the IDSG networks (not runtime flags)."""

    hidden: int = 256  #: width of the hidden layers of E_l, R_l, D_l and C_l
    layers: int = 5  #: fully connected layers per MLP (five in the paper)
    action_dim: int = 32  #: size of the action code gamma
    identity_dim: int = 32  #: size of the identity code r_s
    identity_hidden: int = 128  #: width of the identity encoder
    identity_layers: int = 3  #: fully connected layers of the identity encoder
    slope: float = 0.2  #: leaky ReLU negative slope
    #: R_l outputs a correction added to the driver's landmarks instead of the landmarks themselves. In
    #: the alignment crop a face's pose and expression move its points by a few pixels while faces differ
    #: by more, so a direct R_l fits each identity's mean face first and can settle there, ignoring the
    #: driver (the weights shipped until 2026-12-07 did); with the skip, following the driver is the start.
    residual: bool = False
    #: With ``residual``: R_l's last layer starts at zero, so a fresh generator passes the driver through and
    #: a short run cannot tear the face (the shipped weights were trained before this, with it off).
    zero_last: bool = True

    @classmethod
    def from_dict(cls, data: dict) -> IDSGConfig:
        """Build from a dict, ignoring nothing: unknown keys raise ``TypeError``."""
        return cls(**data)

    def to_dict(self) -> dict:
        """Plain dict (JSON-safe)."""
        return dataclasses.asdict(self)


def mlp(in_dim: int, hidden: int, out_dim: int, layers: int, slope: float) -> nn.Sequential:
    """``layers`` fully connected layers with leaky ReLU between them (none after the last)."""
    dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
    mods: list[nn.Module] = []
    for i in range(layers):
        mods.append(nn.Linear(dims[i], dims[i + 1]))
        if i < layers - 1:
            mods.append(nn.LeakyReLU(slope))
    return nn.Sequential(*mods)


class LandmarkEncoder(nn.Module):
    """E_l: (B, 204) landmarks -> (B, action_dim) action code."""

    def __init__(self, cfg: IDSGConfig):
        super().__init__()
        self.net = mlp(FLAT, cfg.hidden, cfg.action_dim, cfg.layers, cfg.slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class IdentityEncoder(nn.Module):
    """r_s: (B, 204) pose-normalised source shape -> (B, identity_dim) identity code."""

    def __init__(self, cfg: IDSGConfig):
        super().__init__()
        self.net = mlp(FLAT, cfg.identity_hidden, cfg.identity_dim, cfg.identity_layers, cfg.slope)

    def forward(self, shape: torch.Tensor) -> torch.Tensor:
        return self.net(shape)


class LandmarkDecoder(nn.Module):
    """R_l: [gamma, r_s] -> (B, 204) landmarks; mirrors E_l."""

    def __init__(self, cfg: IDSGConfig):
        super().__init__()
        self.net = mlp(cfg.action_dim + cfg.identity_dim, cfg.hidden, FLAT, cfg.layers, cfg.slope)

    def forward(self, action: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([action, identity], dim=1))


class IDSGGenerator(nn.Module):
    """E_l + identity encoder + R_l: driver landmarks and source shape -> target landmarks."""

    def __init__(self, cfg: IDSGConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = LandmarkEncoder(cfg)
        self.identity = IdentityEncoder(cfg)
        self.decoder = LandmarkDecoder(cfg)
        if cfg.residual and cfg.zero_last:
            nn.init.zeros_(self.decoder.net[-1].weight)
            nn.init.zeros_(self.decoder.net[-1].bias)

    def forward(self, driver: torch.Tensor, source_shape: torch.Tensor) -> torch.Tensor:
        """(B, 204) normalised driver landmarks, (B, 204) source shape -> (B, 204) normalised target."""
        return self.retarget(driver, self.identity(source_shape))

    def retarget(self, driver: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
        """(B, 204) normalised driver landmarks, (B, identity_dim) identity code -> (B, 204) normalised target."""
        out = self.decoder(self.encoder(driver), identity)
        return out + driver if self.cfg.residual else out


class LandmarkCritic(nn.Module):
    """E_l's structure with ``outputs`` logits: D_l (1) or C_l (number of training identities)."""

    def __init__(self, cfg: IDSGConfig, outputs: int):
        super().__init__()
        self.net = mlp(FLAT, cfg.hidden, outputs, cfg.layers, cfg.slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def normalise_crop_points(crop_points: np.ndarray, size: int = 256) -> np.ndarray:
    """(..., 68, 3) crop pixels -> network units: x, y / size - 0.5; z centred per face, / size."""
    p = np.asarray(crop_points, np.float32)
    out = np.empty_like(p)
    out[..., :2] = p[..., :2] / size - 0.5
    out[..., 2] = (p[..., 2] - p[..., 2].mean(axis=-1, keepdims=True)) / size
    return out


def denormalise_crop_points(norm: np.ndarray, size: int = 256, z_mean: float | np.ndarray = 0.0) -> np.ndarray:
    """Inverse of ``normalise_crop_points`` (z gets ``z_mean`` back)."""
    p = np.asarray(norm, np.float32)
    out = np.empty_like(p)
    out[..., :2] = (p[..., :2] + 0.5) * size
    out[..., 2] = p[..., 2] * size + np.asarray(z_mean, np.float32)[..., None]
    return out


def identity_shape(norm_points: np.ndarray) -> np.ndarray:
    """(..., 68, 3) normalised points -> pose-free shape: centred, rotated into the head frame, unit RMS."""
    p = np.asarray(norm_points, np.float64)
    flat = p.reshape(-1, NUM_POINTS, 3)
    out = np.empty_like(flat)
    for i, face in enumerate(flat):
        local = (face - face.mean(axis=0)) @ head_axes(face)
        out[i] = local / (np.sqrt((local**2).sum(axis=1).mean()) + 1e-9)
    return out.reshape(p.shape).astype(np.float32)
