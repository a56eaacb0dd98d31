"""Learned retargeting: the IDSG (``streamer.models.idsg``) behind ``AnalyticRetargeter``'s interface.

``retarget(source, driver_ref, driver)``: the driver's landmarks, normalised in the driver frame's
own alignment crop, give the action code; the source's landmarks (pose-normalised) give the
identity code; the generated landmarks live in the driver crop's frame and are placed into the
source image as the driver moved relative to its reference frame:
``image_src <- crop(source)^-1 . crop(driver_ref) . crop(driver)^-1`` (the analytic absolute mode's
placement), so head translation, scale and roll follow the driver, shape follows the source.
Weights load with safetensors only.

Before the first frame of each source, ``motion_response`` drives the network with that source's own
face turned by +-``CHECK_TURN_DEG`` of yaw and with its mouth opened, and ``retarget`` refuses
(``InputError``) weights whose output does not follow (gain below ``MIN_GAIN``) or bends the face's
own eyes, nose or mouth out of shape (``MAX_SHAPE_ERROR``): such weights draw a torn face (the weights
shipped on 2026-11-22 did both; see streamer/models/weights/IDSG.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from streamer.alignment import crop_transform, transform_scale
from streamer.errors import InputError
from streamer.geometry import invert_affine, umeyama
from streamer.landmarks import REGIONS, FaceLandmarks, inner_lip_gap, interocular
from streamer.models.idsg import (
    IDSGConfig,
    IDSGGenerator,
    denormalise_crop_points,
    identity_shape,
    normalise_crop_points,
)
from streamer.pose import head_axes, visibility_from_landmarks

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "models" / "weights" / "idsg.safetensors"

#: Yaw (degrees) of the synthetic turns ``motion_response`` drives the network with.
CHECK_TURN_DEG = 15.0
#: Lower-lip drop (interocular distances) of the synthetic mouth opening.
CHECK_MOUTH_OPEN = 0.25
#: Least output/driver gain of yaw and of mouth opening that counts as following the driver.
MIN_GAIN = 0.5
#: Most RMS distance (interocular distances) between an eye's, the nose's or the mouth's shape in the
#: output and in the driver, after a similarity fit of that region alone, when the driver is the source
#: itself (turned or with its mouth opened): a good generator then has nothing to change. Measured on
#: 3-5 faces (2026-12-07): 0.001-0.002 for a generator that passes the driver through, 0.018-0.034 for
#: the shipped weights (renders in shape), 0.055-0.14 for weights whose renders show displaced eyes and
#: torn lips (among them the 2026-11-22 weights).
MAX_SHAPE_ERROR = 0.04
#: Regions ``shape_error`` checks.
_SHAPE_REGIONS = ("left_eye", "right_eye", "nose", "mouth")
#: Lower-lip points the synthetic opening moves.
_LOWER_LIP = np.array([55, 56, 57, 58, 59, 65, 66, 67])


@dataclass(frozen=True)
class MotionResponse:
    """How the IDSG's output follows synthetic driver motion on one face (``motion_response``)."""

    yaw_gain: float  #: output yaw change / driver yaw change (2D nose offset; 1 = follows, <= 0 = frozen or mirrored)
    mouth_gain: float  #: output mouth-opening change / driver's
    shape_error: float  #: worst ``shape_error`` (interocular distances) over the synthetic drivers

    @property
    def follows(self) -> bool:
        """Whether the output follows the driver and keeps the face's features in shape."""
        return self.yaw_gain >= MIN_GAIN and self.mouth_gain >= MIN_GAIN and self.shape_error <= MAX_SHAPE_ERROR

    def describe(self) -> str:
        """One line with the three numbers and the limits."""
        return (
            f"yaw gain {self.yaw_gain:.2f} and mouth gain {self.mouth_gain:.2f} (need >= {MIN_GAIN}), "
            f"eye/nose/mouth shape error {self.shape_error:.3f} interocular (need <= {MAX_SHAPE_ERROR})"
        )


def yaw_offset(points: np.ndarray) -> float:
    """2D yaw measure: the nose tip's offset from the jaw ends' midpoint along the eye line, / jaw width.

    Image-plane only (what a viewer, or dlib, sees); it grows as the face turns to image right.
    """
    p = np.asarray(points, np.float64)[:, :2]
    eye_line = p[45] - p[36]
    eye_line /= np.linalg.norm(eye_line) + 1e-12
    return float(((p[30] - (p[0] + p[16]) / 2) @ eye_line) / (abs((p[16] - p[0]) @ eye_line) + 1e-9))


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip opening / interocular distance, in the image plane."""
    p = np.asarray(points, np.float64)
    return float(inner_lip_gap(p) / (interocular(p) + 1e-9))


def shape_error(output: np.ndarray, driver: np.ndarray) -> float:
    """Worst RMS distance, over both eyes, the nose and the mouth, between a region of ``output`` fitted onto
    the same region of ``driver`` by a similarity (``streamer.geometry.umeyama``), / the driver's interocular."""
    iod = interocular(driver) + 1e-9
    worst = 0.0
    for name in _SHAPE_REGIONS:
        idx = REGIONS[name]
        a, b = np.asarray(output, np.float64)[idx, :2], np.asarray(driver, np.float64)[idx, :2]
        scale, rot, shift = umeyama(a, b)
        fit = scale * a @ rot.T + shift
        worst = max(worst, float(np.sqrt(((fit - b) ** 2).sum(axis=1).mean()) / iod))
    return worst


def turned(points: np.ndarray, degrees: float) -> np.ndarray:
    """(68, 3) points turned by ``degrees`` of yaw about the head's own vertical axis, through their centroid.

    Positive turns the face to image right, the sign of ``streamer.pose.head_pose``'s yaw.
    """
    p = np.asarray(points, np.float64)
    axis = head_axes(p)[:, 1]
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    a = -np.radians(degrees)  # the head's y axis points down: a positive right-hand turn about it goes left
    rot = np.eye(3) + np.sin(a) * k + (1.0 - np.cos(a)) * (k @ k)  # Rodrigues
    centre = p.mean(axis=0)
    return (p - centre) @ rot.T + centre


def mouth_opened(points: np.ndarray, amount: float = CHECK_MOUTH_OPEN) -> np.ndarray:
    """(68, 3) points with the lower lip dropped by ``amount`` interocular distances along the head's down axis."""
    p = np.asarray(points, np.float64).copy()
    p[_LOWER_LIP] += amount * interocular(p) * head_axes(p)[:, 1]
    return p


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


@torch.no_grad()
def _generate(generator: IDSGGenerator, identity: torch.Tensor, crops: np.ndarray, size: int) -> np.ndarray:
    """(N, 68, 3) generated crop points for N drivers given as (N, 68, 3) crop points."""
    device = next(generator.parameters()).device
    x = torch.from_numpy(normalise_crop_points(crops, size).reshape(len(crops), -1)).to(device)
    out = generator.retarget(x, identity.expand(len(crops), -1)).float()
    return denormalise_crop_points(out.reshape(-1, 68, 3).cpu().numpy(), size, crops[..., 2].mean(axis=1))


@torch.no_grad()
def encode_identity(generator: IDSGGenerator, source: FaceLandmarks, size: int = 256) -> torch.Tensor:
    """(1, identity_dim) identity code of a face given in image (or any) coordinates."""
    norm = normalise_crop_points(source.transformed(crop_transform(source, size)).points, size)
    device = next(generator.parameters()).device
    return generator.identity(torch.from_numpy(identity_shape(norm).reshape(1, -1)).to(device))


def motion_response(generator: IDSGGenerator, source: FaceLandmarks, size: int = 256) -> MotionResponse:
    """How the output follows ``source``'s own face turned by +-``CHECK_TURN_DEG`` and with its mouth opened.

    Each gain is the output's change over the driver's change, both measured in the driver crop's
    image plane (``yaw_offset``, ``mouth_opening``). The driver is the source's own face, so a generator
    that keeps identity has no feature to reshape: ``shape_error`` is the worst of the four drivers.
    """
    pts = source.points.astype(np.float64)
    drivers = [pts, turned(pts, -CHECK_TURN_DEG), turned(pts, CHECK_TURN_DEG), mouth_opened(pts)]
    faces = [FaceLandmarks(d.astype(np.float32), np.ones(len(d), np.float32)) for d in drivers]
    crops = np.stack([f.transformed(crop_transform(f, size)).points for f in faces])
    outs = _generate(generator, encode_identity(generator, source, size), crops, size)

    def gain(measure, a: int, b: int) -> float:
        return (measure(outs[b]) - measure(outs[a])) / (measure(crops[b]) - measure(crops[a]))

    worst_shape = max(shape_error(o, c) for o, c in zip(outs, crops, strict=True))
    return MotionResponse(gain(yaw_offset, 1, 2), gain(mouth_opening, 0, 3), worst_shape)


class IDSGRetargeter:
    """Target landmarks in the source's image coordinates for a driver frame, from the IDSG.

    ``check=False`` skips the per-source ``motion_response`` check (for measuring broken weights).
    """

    def __init__(self, weights: str | Path = DEFAULT_WEIGHTS, device: str = "cpu", check: bool = True):
        self.weights = Path(weights)
        self.generator, self.crop_size = load_idsg(weights)
        self.device = torch.device(device)
        self.generator.to(self.device)
        self.check = check
        self._identity_key: bytes | None = None
        self._identity: torch.Tensor | None = None

    def _identity_code(self, source: FaceLandmarks) -> torch.Tensor:
        """The source's identity code, computed (and, with ``check``, the weights checked) once per source."""
        key = source.points.tobytes()
        if key != self._identity_key or self._identity is None:
            if self.check:
                response = self.motion_response(source)
                if not response.follows:
                    raise InputError(
                        f"IDSG weights {self.weights.name} do not follow the driver on this face "
                        f"({response.describe()}): they would draw a torn face; use --retarget analytic or retrain"
                    )
            self._identity, self._identity_key = encode_identity(self.generator, source, self.crop_size), key
        return self._identity

    def motion_response(self, source: FaceLandmarks) -> MotionResponse:
        """``motion_response`` of these weights on ``source``."""
        return motion_response(self.generator, source, self.crop_size)

    def generate_crop(self, source: FaceLandmarks, driver: FaceLandmarks) -> tuple[np.ndarray, np.ndarray]:
        """(68, 3) generated landmarks in the driver frame's crop pixels, and that crop's transform."""
        drv_affine = crop_transform(driver, self.crop_size)
        drv_crop = driver.transformed(drv_affine).points
        return _generate(self.generator, self._identity_code(source), drv_crop[None], self.crop_size)[0], drv_affine

    def retarget(self, source: FaceLandmarks, driver_ref: FaceLandmarks, driver: FaceLandmarks) -> FaceLandmarks:
        """Target landmarks in the source's coordinates for this driver frame.

        Raises ``InputError`` (once per source) when the weights fail ``motion_response`` on it.
        """
        crop_pts, drv_affine = self.generate_crop(source, driver)
        src_affine = crop_transform(source, self.crop_size)
        place = _compose(
            invert_affine(src_affine), _compose(crop_transform(driver_ref, self.crop_size), invert_affine(drv_affine))
        )
        xy = crop_pts[:, :2] @ place[:2, :2].T + place[:, 2]
        z = crop_pts[:, 2:3] * transform_scale(place)
        points = np.concatenate([xy, z], axis=1)
        return source.with_points(points, visibility_from_landmarks(points))
