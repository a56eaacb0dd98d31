"""Synthetic ground-truth tracking sequences made from one real face photo, and their metrics.

A photo is framed around its face (the face about 40% of a square frame), then moved over time by
known homographies: roll, scale, translation and a perspective warp that mimics yaw (a plane
turned about its vertical axis, seen by a pinhole camera). Frames get sensor noise, motion blur
and occluding blocks. The truth is the detector's landmarks on the clean first frame pushed
through each frame's homography. Errors are in pixels of the 256 alignment crop of the true face.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

from streamer.landmarks import FaceLandmarks
from streamer.tracking_temporal import crop_scale

FRAME = 384  #: side of the synthetic frames
FPS = 30.0
GREY = (128, 128, 128)
SKIN = (120, 150, 200)  # BGR, a hand-like colour


@dataclass(frozen=True)
class Occluder:
    """A filled box over part of the true face from ``start`` for ``length`` frames."""

    start: int
    length: int
    region: tuple[float, float, float, float]  # (x0, y0, x1, y1) as fractions of the true face box
    colour: tuple[int, int, int] = GREY


@dataclass(frozen=True)
class Sequence:
    """A synthetic clip: per-frame homographies from the base frame, noise, blur and occluders."""

    name: str
    base: np.ndarray  # clean first frame (BGR)
    photo: np.ndarray
    to_base: np.ndarray  # 3x3 photo -> base frame
    homographies: np.ndarray  # (T, 3, 3) base frame -> frame t
    truth0: np.ndarray  # (68, 2) landmarks of the clean base frame
    noise: float = 5.0
    blur: dict[int, int] = field(default_factory=dict)  # frame -> horizontal motion-blur length
    occluders: tuple[Occluder, ...] = ()
    seed: int = 0

    def __len__(self) -> int:
        return len(self.homographies)

    @property
    def truth(self) -> np.ndarray:
        """(T, 68, 2) true landmarks."""
        return np.stack([_apply_h(h, self.truth0) for h in self.homographies])

    def occluded(self) -> np.ndarray:
        """(T,) whether a block covers part of the face."""
        mask = np.zeros(len(self), bool)
        for occ in self.occluders:
            mask[occ.start : occ.start + occ.length] = True
        return mask

    def frames(self) -> Iterator[np.ndarray]:
        """The frames, generated one at a time (deterministic)."""
        rng = np.random.default_rng(self.seed)
        truth = self.truth
        for t, h in enumerate(self.homographies):
            img = cv2.warpPerspective(
                self.photo, h @ self.to_base, (FRAME, FRAME), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
            if self.blur.get(t):
                k = self.blur[t]
                img = cv2.filter2D(img, -1, np.full((1, k), 1.0 / k))
            for occ in self.occluders:
                if occ.start <= t < occ.start + occ.length:
                    _draw_block(img, truth[t], occ)
            if self.noise > 0:
                img = np.clip(img + rng.normal(0.0, self.noise, img.shape), 0, 255).astype(np.uint8)
            yield img


def _draw_block(img: np.ndarray, pts: np.ndarray, occ: Occluder) -> None:
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    w, h = x1 - x0, y1 - y0
    fx0, fy0, fx1, fy1 = occ.region
    p0 = (int(x0 + fx0 * w), int(y0 + fy0 * h))
    p1 = (int(x0 + fx1 * w), int(y0 + fy1 * h))
    cv2.rectangle(img, p0, p1, occ.colour, thickness=-1)


def _apply_h(h: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(xy, np.float64).reshape(-1, 1, 2), h).reshape(-1, 2)


def motion_homography(
    yaw_deg: float, roll_deg: float, scale: float, shift: tuple[float, float], centre: np.ndarray
) -> np.ndarray:
    """Base frame -> moved frame: a yaw-like perspective turn, roll and scale about ``centre``, then a shift."""
    f = 1.2 * FRAME  # pinhole focal length (px): about a 45 degree field of view
    th = np.radians(yaw_deg)
    to_norm = np.array([[1 / f, 0, -centre[0] / f], [0, 1 / f, -centre[1] / f], [0, 0, 1]])
    turn = np.array([[f * np.cos(th), 0, 0], [0, f, 0], [-np.sin(th), 0, 1]])
    a = np.radians(roll_deg)
    rs = np.array([[scale * np.cos(a), -scale * np.sin(a), 0], [scale * np.sin(a), scale * np.cos(a), 0], [0, 0, 1]])
    back = np.array([[1, 0, centre[0] + shift[0]], [0, 1, centre[1] + shift[1]], [0, 0, 1]])
    return back @ rs @ turn @ to_norm  # turn @ to_norm gives coordinates about the centre


def frame_photo(photo: np.ndarray, face: FaceLandmarks, face_fraction: float = 0.4) -> np.ndarray:
    """3x3 similarity placing the face at the centre of a FRAME-sized square, ``face_fraction`` wide."""
    x0, y0, x1, y1 = face.box
    s = face_fraction * FRAME / max(x1 - x0, y1 - y0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return np.array([[s, 0, FRAME / 2 - s * cx], [0, s, FRAME / 2 - s * cy], [0, 0, 1]])


def smoothstep(t: np.ndarray, start: float, length: float) -> np.ndarray:
    """0 before ``start``, 1 after ``start + length``, a smooth ramp between."""
    u = np.clip((t - start) / length, 0.0, 1.0)
    return u * u * (3 - 2 * u)


MotionFn = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _static(t: np.ndarray) -> tuple[np.ndarray, ...]:
    z = np.zeros_like(t)
    return z, z, np.ones_like(t), z, z


def _drift(t: np.ndarray) -> tuple[np.ndarray, ...]:
    s = t / FPS
    yaw = 25 * np.sin(2 * np.pi * s / 6.0)
    roll = 10 * np.sin(2 * np.pi * s / 4.0 + 1.0)
    scale = 1 + 0.12 * np.sin(2 * np.pi * s / 5.0)
    return yaw, roll, scale, 40 * np.sin(2 * np.pi * s / 7.0), 20 * np.sin(2 * np.pi * s / 3.0)


def _fast(t: np.ndarray) -> tuple[np.ndarray, ...]:
    # Quick turns: 60 px and 30 degree yaw swings in 6-8 frames, held, then back.
    period = 40
    phase = t % (2 * period)
    go = smoothstep(phase, 0, 7) - smoothstep(phase, period, 7)
    yaw = 30 * (smoothstep(phase, 3, 8) - smoothstep(phase, period + 3, 8))
    return yaw, 8 * go, np.ones_like(t), 60 * go - 30, 15 * go


def _occluded(t: np.ndarray) -> tuple[np.ndarray, ...]:
    s = t / FPS
    yaw = 15 * np.sin(2 * np.pi * s / 5.0)
    return yaw, 6 * np.sin(2 * np.pi * s / 4.0), np.ones_like(t), 25 * np.sin(2 * np.pi * s / 3.0), 10 * np.sin(s)


MOTIONS: dict[str, MotionFn] = {"static": _static, "drift": _drift, "fast": _fast, "occlusion": _occluded}


def make_sequence(
    name: str, photo: np.ndarray, face: FaceLandmarks, base_face: FaceLandmarks | None, length: int, seed: int = 0
) -> Sequence:
    """One synthetic clip of kind ``name`` (see ``MOTIONS``); ``face`` is the detection on ``photo``.

    ``base_face`` is the detection on the clean base frame (the truth at t=0); pass None to have
    it filled in by the caller through ``with_truth``.
    """
    to_base = frame_photo(photo, face)
    centre = np.array([FRAME / 2, FRAME / 2])
    t = np.arange(length, dtype=np.float64)
    yaw, roll, scale, dx, dy = MOTIONS[name](t)
    hs = np.stack([motion_homography(*v[:3], (v[3], v[4]), centre) for v in zip(yaw, roll, scale, dx, dy, strict=True)])
    base = cv2.warpPerspective(photo, to_base, (FRAME, FRAME), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    truth0 = np.zeros((68, 2)) if base_face is None else base_face.xy.astype(np.float64)
    blur: dict[int, int] = {}
    occluders: tuple[Occluder, ...] = ()
    if name == "occlusion":
        blur = {f: 11 for f in range(int(length * 0.85), int(length * 0.85) + 6)}
        occluders = (
            Occluder(int(length * 0.1), 30, (-0.1, 0.45, 1.1, 1.15), GREY),  # lower face, 1 s
            Occluder(int(length * 0.4), 30, (-0.1, -0.15, 0.6, 1.15), SKIN),  # a hand over half the face, 1 s
            Occluder(int(length * 0.65), 15, (-0.15, -0.2, 1.15, 1.2), GREY),  # whole face, 0.5 s
        )
    return Sequence(name, base, photo, to_base, hs, truth0, 5.0, blur, occluders, seed)


def with_truth(seq: Sequence, truth0: np.ndarray) -> Sequence:
    """The same clip with the base-frame truth set."""
    return Sequence(
        seq.name,
        seq.base,
        seq.photo,
        seq.to_base,
        seq.homographies,
        truth0,
        seq.noise,
        seq.blur,
        seq.occluders,
        seq.seed,
    )


# --------------------------------------------------------------------------------------------------
# Metrics. ``est`` is (T, 68, 2) with NaN rows where a method returned no face.


def crop_scales(truth: np.ndarray) -> np.ndarray:
    """(T,) crop pixels per image pixel of the true face."""
    return np.array([crop_scale(p) for p in truth])


def tracked_fraction(est: np.ndarray) -> float:
    """Fraction of frames with a face."""
    return float(np.isfinite(est[:, 0, 0]).mean())


def mean_error(est: np.ndarray, truth: np.ndarray, frames: np.ndarray | None = None) -> float:
    """Mean point error (crop px) over frames with a face (and within ``frames`` when given)."""
    err = np.linalg.norm(est - truth, axis=2).mean(axis=1) * crop_scales(truth)
    ok = np.isfinite(err) if frames is None else np.isfinite(err) & frames
    return float(err[ok].mean()) if ok.any() else float("nan")


def static_jitter(est: np.ndarray, truth: np.ndarray) -> float:
    """RMS temporal standard deviation of the points (crop px) on a still clip."""
    ok = np.isfinite(est[:, 0, 0])
    std = est[ok].std(axis=0)  # (68, 2)
    return float(np.sqrt((std**2).sum(axis=1).mean()) * crop_scales(truth[:1])[0])


def acceleration_jitter(est: np.ndarray, truth: np.ndarray) -> float:
    """RMS second difference of the error (crop px / frame^2): shake that the true motion does not explain."""
    err = (est - truth) * crop_scales(truth)[:, None, None]
    acc = err[2:] - 2 * err[1:-1] + err[:-2]
    ok = np.isfinite(acc[:, 0, 0])
    return float(np.sqrt((acc[ok] ** 2).sum(axis=2).mean())) if ok.any() else float("nan")


def reacquisition_jump(est: np.ndarray, truth: np.ndarray, ends: list[int], window: int = 15) -> float:
    """Largest frame-to-frame step of the points beyond the true one (crop px, mean over points) in the
    ``window`` frames after each of ``ends`` (frames where an occluder or blur ends): how much the output
    jumps when the face comes back. Steps from or to a frame without a face are not counted."""
    scale = crop_scales(truth)[1:]
    step = np.linalg.norm(np.diff(est, axis=0), axis=2).mean(axis=1) * scale
    true_step = np.linalg.norm(np.diff(truth, axis=0), axis=2).mean(axis=1) * scale
    excess = step - true_step  # index t - 1: the step into frame t
    worst = float("nan")
    for end in ends:
        seg = excess[max(end - 1, 0) : end - 1 + window]
        seg = seg[np.isfinite(seg)]
        if len(seg):
            worst = max(float(seg.max()), worst) if np.isfinite(worst) else float(seg.max())
    return worst


def occlusion_ends(seq: Sequence) -> list[int]:
    """Frames where an occluder or a run of blurred frames ends."""
    ends = [o.start + o.length for o in seq.occluders]
    blurred = sorted(seq.blur)
    ends += [f + 1 for f in blurred if f + 1 not in seq.blur]
    return sorted(e for e in ends if e < len(seq))


def lag_frames(est: np.ndarray, truth: np.ndarray, max_lag: int = 6) -> float:
    """Delay (frames, sub-frame) of the estimated face centre behind the true one, by least squares."""
    ec, tc = est.mean(axis=1), truth.mean(axis=1)
    lags = np.arange(-max_lag, max_lag + 1)
    cost = []
    n = len(ec)
    for k in lags:
        a = ec[max_lag : n - max_lag]
        b = tc[max_lag - k : n - max_lag - k]
        d = np.linalg.norm(a - b, axis=1)
        cost.append(np.nanmean(d**2))
    cost = np.array(cost)
    i = int(np.nanargmin(cost))
    if 0 < i < len(cost) - 1:  # parabolic refinement
        c0, c1, c2 = cost[i - 1], cost[i], cost[i + 1]
        denom = c0 - 2 * c1 + c2
        return float(lags[i] + (0.5 * (c0 - c2) / denom if denom > 0 else 0.0))
    return float(lags[i])


# --------------------------------------------------------------------------------------------------
# Non-rigid motion: a talking mouth (and blinks) rendered by the geometric reenactor.


def mouth_profile(length: int, rise: int = 3, starts: tuple[int, ...] = (4, 14, 22, 33), amplitude: float = 0.3):
    """(T,) fast mouth openings (interocular units): 0 -> ``amplitude`` -> 0 in ``2 * rise`` frames
    at each of ``starts``, varying the height a little so the openings are not all alike."""
    out = np.zeros(length)
    ramp = np.r_[np.arange(rise + 1), np.arange(rise - 1, -1, -1)] / rise  # 0 .. 1 .. 0
    for k, start in enumerate(starts):
        seg = amplitude * (1.0 - 0.25 * (k % 2)) * ramp
        end = min(start + len(seg), length)
        if start < length:
            out[start:end] = np.maximum(out[start:end], seg[: end - start])
    return out


def expression_frames(
    photo: np.ndarray,
    mouth: np.ndarray,
    blink: np.ndarray | None = None,
    noise: float = 2.0,
    seed: int = 0,
    size: int = FRAME,
) -> list[np.ndarray]:
    """Frames of ``photo`` whose lower lip and jaw drop by ``mouth[t]`` interocular distances (and
    whose eyelids close by ``blink[t]``, 0..1), warped by the geometric reenactor as
    ``streamer.examples`` does, with sensor noise. The head does not move."""
    from streamer.compositor import Compositor
    from streamer.detectors import create_detector
    from streamer.landmarks import interocular
    from streamer.media.images import fit_within
    from streamer.pipeline import prepare_source
    from streamer.reenactors.geometric import GeometricReenactor

    image = fit_within(photo, size)
    detector = create_detector("mediapipe", "image", refine=False)  # the clip as it was made before issue 17
    try:
        reenactor = GeometricReenactor()
        src = prepare_source(image, detector, reenactor, what="the photo")
    finally:
        detector.close()
    compositor = Compositor(reenactor.crop_size)
    base = src.crop_landmarks.points.astype(np.float64)
    iod = interocular(base)
    rng = np.random.default_rng(seed)
    frames = []
    for t, m in enumerate(mouth):
        pts = base.copy()
        pts[[65, 66, 67, 56, 57, 58, 6, 7, 8, 9, 10]] += (0.0, m * iod, 0.0)
        pts[[4, 5, 11, 12]] += (0.0, 0.5 * m * iod, 0.0)
        if blink is not None:
            pts[[37, 38, 43, 44]] += blink[t] * (base[[41, 40, 47, 46]] - base[[37, 38, 43, 44]])
        crop = reenactor.render(src.state, src.crop_landmarks.with_points(pts))
        frame = compositor.paste(image, crop, src.affine).astype(np.float32)
        frame += rng.normal(0.0, noise, frame.shape)
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def lagged_correlation(reference: np.ndarray, series: np.ndarray, max_lag: int = 3) -> tuple[int, float, float]:
    """(best lag, its Pearson r, r at lag 0) of ``series`` against ``reference``; a positive lag means
    ``series`` is late (``series[t + lag]`` matches ``reference[t]``)."""
    a, b = np.asarray(reference, np.float64), np.asarray(series, np.float64)
    best = (0, -np.inf)
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[: len(a) - lag], b[lag:]) if lag >= 0 else (a[-lag:], b[: len(b) + lag])
        r = float(np.corrcoef(x, y)[0, 1])
        if r > best[1]:
            best = (lag, r)
    return best[0], best[1], float(np.corrcoef(a, b)[0, 1])
