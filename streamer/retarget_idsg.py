"""Learned retargeting: the IDSG (``streamer.models.idsg``) behind ``AnalyticRetargeter``'s interface.

``retarget(source, driver_ref, driver)``: the driver's landmarks, normalised in the driver frame's
own alignment crop, give the action code; the source's landmarks (pose-normalised) give the
identity code; the generated landmarks live in the driver crop's frame and are placed into the
source image as the driver moved relative to its reference frame:
``image_src <- crop(source)^-1 . crop(driver_ref) . crop(driver)^-1`` (the analytic absolute mode's
placement), so head translation, scale and roll follow the driver, shape follows the source.
Weights load with safetensors only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from streamer.alignment import crop_transform, transform_scale
from streamer.errors import InputError
from streamer.geometry import invert_affine
from streamer.landmarks import FaceLandmarks
from streamer.models.idsg import (
    IDSGConfig,
    IDSGGenerator,
    denormalise_crop_points,
    identity_shape,
    normalise_crop_points,
)
from streamer.pose import visibility_from_landmarks

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "models" / "weights" / "idsg.safetensors"


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine of ``outer(inner(x))``."""
    a = np.vstack([np.asarray(outer, np.float64), [0, 0, 1]])
    b = np.vstack([np.asarray(inner, np.float64), [0, 0, 1]])
    return (a @ b)[:2]


def load_idsg(path: str | Path = DEFAULT_WEIGHTS) -> tuple[IDSGGenerator, int]:
    """The generator and its crop size from a safetensors file written by the IDSG trainer."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"IDSG weights not found: {path}")
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != "idsg-v1":
        raise InputError(f"{path} is not an IDSG weights file (format {meta.get('format')!r})")
    gen = IDSGGenerator(IDSGConfig.from_dict(json.loads(meta["config"])))
    gen.load_state_dict(load_file(str(path)), strict=True)
    gen.eval()
    return gen, int(meta.get("size", 256))


class IDSGRetargeter:
    """Target landmarks in the source's image coordinates for a driver frame, from the IDSG."""

    def __init__(self, weights: str | Path = DEFAULT_WEIGHTS, device: str = "cpu"):
        self.generator, self.crop_size = load_idsg(weights)
        self.device = torch.device(device)
        self.generator.to(self.device)
        self._identity_key: bytes | None = None
        self._identity: torch.Tensor | None = None

    def _identity_code(self, source: FaceLandmarks, src_affine: np.ndarray) -> torch.Tensor:
        key = source.points.tobytes()
        if key != self._identity_key or self._identity is None:  # a source is prepared once, then reused
            norm = normalise_crop_points(source.transformed(src_affine).points, self.crop_size)
            shape = torch.from_numpy(identity_shape(norm).reshape(1, -1)).to(self.device)
            with torch.no_grad():
                self._identity = self.generator.identity(shape)
            self._identity_key = key
        return self._identity

    @torch.no_grad()
    def generate_crop(self, source: FaceLandmarks, driver: FaceLandmarks) -> tuple[np.ndarray, np.ndarray]:
        """(68, 3) generated landmarks in the driver frame's crop pixels, and that crop's transform."""
        size = self.crop_size
        drv_affine = crop_transform(driver, size)
        drv_crop = driver.transformed(drv_affine).points
        x = torch.from_numpy(normalise_crop_points(drv_crop, size).reshape(1, -1)).to(self.device)
        identity = self._identity_code(source, crop_transform(source, size))
        out = self.generator.decoder(self.generator.encoder(x), identity).reshape(68, 3).cpu().numpy()
        return denormalise_crop_points(out, size, float(drv_crop[:, 2].mean())), drv_affine

    def retarget(self, source: FaceLandmarks, driver_ref: FaceLandmarks, driver: FaceLandmarks) -> FaceLandmarks:
        """Target landmarks in the source's coordinates for this driver frame."""
        crop_pts, drv_affine = self.generate_crop(source, driver)
        src_affine = crop_transform(source, self.crop_size)
        place = _compose(
            invert_affine(src_affine), _compose(crop_transform(driver_ref, self.crop_size), invert_affine(drv_affine))
        )
        xy = crop_pts[:, :2] @ place[:2, :2].T + place[:, 2]
        z = crop_pts[:, 2:3] * transform_scale(place)
        points = np.concatenate([xy, z], axis=1)
        return source.with_points(points, visibility_from_landmarks(points))
