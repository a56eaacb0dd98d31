"""RFG training samples from a prepared dataset.

A self-reenactment sample (video v, source frame s, target frame t) holds, all in the SOURCE crop's
coordinates (the reenactor draws into the source crop): the source crop, the geometric reenactor's
output for the target landmarks and its pixel map (the analytic flow), landmark maps of the source,
the target and the previous target, the mouth guard's map of the target's open mouth, the real frame
t mapped into the source crop (ground truth) with a validity mask, and frame t-1 mapped the same way
and blurred (Gaussian, sigma drawn in [0, 10]) as the local integrator's stand-in for its own
previous output.

A cross-identity sample (source of one identity, driver of another) has the retargeted target
landmarks and no ground truth (mask 0): it trains the generator through the adversarial, style and
landmark losses only.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from streamer.geometry import invert_affine
from streamer.landmarks import FaceLandmarks
from streamer.models.rfg_inputs import image_to_input, landmark_input, pixel_map, revealed_input
from streamer.models.rfg_mouth import add_crack_guard, guard_input
from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor, GeometricSourceState, WarpName
from streamer.retarget import AnalyticRetargeter
from training.dataset import LandmarkDataset

#: Share of each video's frames (the tail, by frame index) held out for evaluation.
HELDOUT_TAIL_FRACTION = 0.2


def train_frame_count(n_frames: int) -> int:
    """Frames of a training video that training may use: all but the held-out tail."""
    return max(2, int(np.floor(n_frames * (1.0 - HELDOUT_TAIL_FRACTION))))


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """2x3 affine ``outer ∘ inner``."""
    a = np.vstack([np.asarray(outer, np.float64), [0, 0, 1]])
    b = np.vstack([np.asarray(inner, np.float64), [0, 0, 1]])
    return (a @ b)[:2]


@dataclass(frozen=True)
class PairRow:
    """One sample: source (video, frame), driver (video, frame), and the driver's reference frame."""

    source_video: int
    source_frame: int
    driver_video: int
    driver_frame: int
    reference_frame: int  #: cross pairs: the driver video's reference frame; self pairs: = source_frame

    @property
    def same_video(self) -> bool:
        return self.source_video == self.driver_video


class SampleBuilder:
    """Builds the numpy arrays of RFG samples; caches the geometric source states.

    ``warp="mesh"`` draws ``base`` with the pose-adapted 3D warp (``streamer.mesh_warp``, issue 14 item 4)
    and adds its ``revealed`` mask to every sample (zeros for a source crop with no MediaPipe mesh, which
    then falls back to the planar warp as the runtime does).
    """

    def __init__(self, dataset: LandmarkDataset, cache: int = 256, warp: WarpName = "planar"):
        self.dataset = dataset
        self.size = dataset.size
        self.warp = warp
        self.geometric = GeometricReenactor(GeometricConfig(crop_size=dataset.size, warp=warp))
        self.retargeter = AnalyticRetargeter("relative", self.size)
        self._states: OrderedDict[tuple[int, int], GeometricSourceState] = OrderedDict()
        self._cache = cache

    def _landmarks(self, v: int, f: int, crop: bool) -> FaceLandmarks:
        video = self.dataset.videos[v]
        pts = video.crop_points[f] if crop else video.image_points[f]
        return FaceLandmarks(pts, video.visibility[f])

    def _state(self, v: int, f: int) -> GeometricSourceState:
        key = (v, f)
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key]
        state = self.geometric.prepare(self.dataset.videos[v].crop(f), self._landmarks(v, f, crop=True))
        self._states[key] = state
        if len(self._states) > self._cache:
            self._states.popitem(last=False)
        return state

    def _in_source_crop(self, v: int, f: int, source_affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame f's crop mapped into the source crop, and where it is valid."""
        video = self.dataset.videos[v]
        m = compose(source_affine, invert_affine(video.affine[f]))
        size = (self.size, self.size)
        image = cv2.warpAffine(video.crop(f), m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ones = np.ones((self.size, self.size), np.float32)
        valid = cv2.warpAffine(ones, m, size, flags=cv2.INTER_LINEAR, borderValue=0.0) > 0.999
        return image, valid.astype(np.float32)

    def build(self, row: PairRow, rng: np.random.Generator, max_blur: float = 10.0) -> dict[str, np.ndarray]:
        """The arrays of one sample (see the module docstring)."""
        sv, sf, dv, df = row.source_video, row.source_frame, row.driver_video, row.driver_frame
        state = self._state(sv, sf)
        src_affine = self.dataset.videos[sv].affine[sf]
        prev_f = max(df - 1, 0)
        if row.same_video:
            target = self._landmarks(dv, df, crop=False).transformed(src_affine)
            prev = self._landmarks(dv, prev_f, crop=False).transformed(src_affine)
        else:
            ref = self._landmarks(dv, row.reference_frame, crop=False)
            target = self.retargeter.retarget(state.landmarks, ref, self._landmarks(dv, df, crop=False))
            prev = self.retargeter.retarget(state.landmarks, ref, self._landmarks(dv, prev_f, crop=False))
        base, map_x, map_y, mesh_warp = self.geometric.render_warp(state, target)
        revealed = np.zeros((1, self.size, self.size), np.float32)
        guard = guard_input(target.points, self.size)  # as the reenactor feeds it (EYE_GUARD)
        if mesh_warp is not None:
            revealed = revealed_input(mesh_warp.revealed, mesh_warp.covered)
            add_crack_guard(guard, mesh_warp.covered)  # and its cracks, as the reenactor does
        if row.same_video:
            gt, valid = self._in_source_crop(dv, df, src_affine)
            prev_img, _ = self._in_source_crop(dv, prev_f, src_affine)
        else:
            gt, valid = base, np.zeros((self.size, self.size), np.float32)
            prev_img = self.geometric.render(state, prev)
        sigma = float(rng.uniform(0.0, max_blur))
        if sigma > 0.3:
            prev_img = cv2.GaussianBlur(prev_img, (0, 0), sigma)
        sample = {
            "source": image_to_input(state.crop),
            "base": image_to_input(base),
            "pixel_map": pixel_map(map_x, map_y),
            "lm_src": landmark_input(state.landmarks.points, self.size),
            "lm_tgt": landmark_input(target.points, self.size),
            "lm_prev": landmark_input(prev.points, self.size),
            "mouth": guard,
            "target_points": (target.points[:, :2] / self.size).astype(np.float32),
            "gt": image_to_input(gt),
            "mask": valid[None],
            "prev": image_to_input(prev_img),
            "is_self": np.float32(row.same_video),
        }
        if self.warp == "mesh":
            sample["revealed"] = revealed
        return sample

    def batch(self, rows: list[PairRow], rng: np.random.Generator, max_blur: float = 10.0) -> dict[str, np.ndarray]:
        """Stacked samples."""
        samples = [self.build(r, rng, max_blur) for r in rows]
        return {k: np.stack([s[k] for s in samples]) for k in samples[0]}


def frontal_frame(yaw: np.ndarray, pitch: np.ndarray, limit: int | None = None) -> int:
    """Index of the most frontal frame among the first ``limit`` frames."""
    n = len(yaw) if limit is None else max(1, min(limit, len(yaw)))
    return int(np.argmin(np.abs(yaw[:n]) + np.abs(pitch[:n])))


class PairDrawer:
    """Random pairs over training videos: self pairs weighted towards large pose changes, cross pairs."""

    def __init__(self, dataset: LandmarkDataset, videos: list[int], large_pose_bias: float = 0.1):
        self.dataset = dataset
        self.videos = list(videos)
        by_id: dict[str, list[int]] = {}
        for v in self.videos:
            by_id.setdefault(dataset.videos[v].identity, []).append(v)
        self.by_identity = by_id
        self.identities = sorted(by_id)
        self.bias = large_pose_bias
        self.usable = {v: train_frame_count(len(dataset.videos[v])) for v in self.videos}
        self.reference = {
            v: frontal_frame(dataset.videos[v].pose[:, 0], dataset.videos[v].pose[:, 1], self.usable[v])
            for v in self.videos
        }

    def _video(self, rng: np.random.Generator, exclude: str | None = None) -> int:
        ids = [i for i in self.identities if i != exclude]
        vids = self.by_identity[ids[rng.integers(len(ids))]]
        return vids[rng.integers(len(vids))]

    def self_pair(self, rng: np.random.Generator) -> PairRow:
        """Source and target of one video; the target drawn with weight 1 + bias * |pose difference| (deg)."""
        v = self._video(rng)
        n = self.usable[v]
        pose = self.dataset.videos[v].pose[:n]
        s = int(rng.integers(n))
        diff = np.abs(pose[:, :2] - pose[s, :2]).sum(axis=1)
        weight = 1.0 + self.bias * diff
        weight[s] = 0.0
        t = int(rng.choice(n, p=weight / weight.sum()))
        return PairRow(v, s, v, t, s)

    def cross_pair(self, rng: np.random.Generator) -> PairRow:
        """Source of one identity; driver frame and reference frame of another."""
        v = self._video(rng)
        d = self._video(rng, exclude=self.dataset.videos[v].identity)
        return PairRow(v, int(rng.integers(self.usable[v])), d, int(rng.integers(self.usable[d])), self.reference[d])
