"""The temporal tracker: a global integrator (detector on key frames), a local integrator (LK flow)
and a per-point fusion with an online shape prior, all causal.

Per frame: (1) the Kalman state predicts every point; (2) LK moves the previous fused points into
this frame and the forward-backward error, the pose-based visibility and the agreement with a
shape-model fit grade each point; reliable points measure their displacement, the rest take the
displacement of the shape fit, which is also a second, coupling measurement for every point (it
averages the flow noise over the face; contour points, where LK slides along the face boundary,
lean on it most); (3) on key frames (every ``key_interval`` frames, or sooner when the flow grows
unreliable, but not while detections keep failing, and within a duty budget: at most
``budget_window / key_interval`` calls in any ``budget_window`` frames, so early key frames borrow
from the regular ones) the detector measures absolute positions,
gated per point, with noise from its confidence and visibility; (4) the fused points are pulled
toward the shape model where they are unreliable, their depth and visibility come from the
model's 3D pose; (5) detector corrections reach the output through a decaying offset and an
adaptive One-Euro low-pass, so neither key frames nor re-acquisition make the output jump.
Without accepted detections the track is held for ``max_hold_s`` and then dropped.

Expressive regions (mouth with the lower jaw, eyes, brows) move non-rigidly and fast, and LK does
not follow them (the inner-lip points sit on a boundary whose texture changes as the mouth opens;
the flow passes its forward-backward check yet stays behind). So each detection is compared with
the track after a similarity fitted on the region itself: a region whose shape changed by more
than ``expr_threshold`` becomes "active" for ``expr_hold`` frames, and so does one the flow
deforms by more than ``expr_flow_trigger`` (a detection is then taken at once: LK does not say
where the lips went, but it does notice that they moved). While a region is active the
detector runs on every frame (outside the duty budget: on a talking face the duty cycle exceeds
1/key_interval, because LK cannot follow the lips) and its points take the detection directly: low noise, no gate
against the rigid prediction, no correction spreading and a high output cutoff. A still face
keeps the key-frame schedule and all the smoothing.

Only a detection the detector is about as sure of as usual in this stream (``expr_conf_margin``),
following another such detection, drives regions directly: under a hand or an occluding block
MediaPipe still returns a plausible, invented face, but with a lower score, and taking its mouth
at face value moved the points onto the occluder. A run of rejected detections re-anchors the
track only when the detector is as sure as usual, or when two of them agree on the face's shape
near the track (``_may_reanchor``): the invented faces differ from frame to frame.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from streamer.alignment import CANONICAL_ANCHORS, anchor_points
from streamer.detectors import LandmarkDetector
from streamer.geometry import umeyama
from streamer.landmarks import NUM_POINTS, FaceLandmarks, bounding_box
from streamer.pose import HeadPose, expression_vector, head_pose, visibility_from_landmarks
from streamer.tracking_filters import OneEuroFilter, VelocityKalman
from streamer.tracking_flow import FlowConfig, FlowPropagator, FlowResult, to_gray
from streamer.tracking_shape import ShapeConfig, ShapeFit, ShapeModel

#: Crop size the noise figures refer to: pixels of the canonical 256x256 alignment crop.
CROP = 256
#: Expressive regions: (name, point indices). The mouth includes the lower jaw, which opens with it.
REGIONS: tuple[tuple[str, np.ndarray], ...] = (
    ("mouth", np.r_[4:13, 48:68]),
    ("eyes", np.r_[36:48]),
    ("brows", np.r_[17:27]),
)
#: The face contour: LK slides along it (a boundary against hair or background, the aperture problem).
CONTOUR = np.arange(17)
#: Points outside the expressive regions (upper contour, nose): they move with the head.
RIGID = np.setdiff1d(np.arange(NUM_POINTS), np.concatenate([idx for _, idx in REGIONS]))


@dataclass(frozen=True)
class TemporalConfig:
    """Settings of ``TemporalTracker``. Distances are in pixels of the 256 alignment crop ("crop px")."""

    fps: float = 30.0  #: frame rate used for the time constants (hold time, blending, One-Euro)
    key_interval: int = 3  #: the detector runs at least every N frames (duty 1/N while tracking is good)
    min_key_gap: int = 2  #: earliest re-detection when the flow grows unreliable
    reliability_trigger: float = 0.7  #: mean flow reliability below which an early key frame is asked for
    lost_interval: int = 1  #: frames between detector calls while no face is tracked
    #: at most ``budget_window / key_interval`` detector calls in any ``budget_window`` frames: early
    #: key frames (unreliable flow) and the search for a lost face borrow from the regular ones, so
    #: the duty cycle stays at most 1/key_interval; only an active expressive region (a moving
    #: mouth, which LK cannot follow) runs the detector beyond it (0 turns the budget off).
    budget_window: int = 30
    max_hold_s: float = 1.5  #: flow-only tracking time without an accepted detection, then the face is lost
    min_confidence: float = 0.55  #: detections below this confidence count as misses
    det_sigma: float = 1.5  #: detector noise per point (crop px) at confidence 1
    flow_sigma: float = 0.1  #: flow displacement noise (crop px) at zero forward-backward error
    contour_sigma: float = 0.5  #: least displacement noise (crop px) of a contour point's flow
    coupling_sigma: float = 0.2  #: noise (crop px) of the shape fit's displacement, a second measurement of each point
    model_sigma: float = 1.0  #: displacement noise (crop px) of a point moved by the shape fit instead of flow
    fb_max: float = 1.0  #: forward-backward error (crop px) above which a point's flow is rejected
    outlier_scale: float = 1.0  #: flow-vs-shape-fit motion difference (crop px/frame) where a point's weight halves
    outlier_relative: float = 0.5  #: ... plus this fraction of the fitted motion (the model is approximate)
    acc_sigma: float = 0.6  #: process noise: per-frame change of a point's displacement (crop px)
    pos_sigma: float = 0.05  #: process noise on positions (crop px per frame)
    min_flow_fraction: float = 0.3  #: mean flow reliability below which the flow is ignored (face covered)
    min_flow_resume: float = 0.5  #: ... and above which it is used again after that
    max_accel: float = 12.0  #: RMS change of the displacements (crop px/frame^2) beyond which the flow is ignored
    velocity_damping: float = 0.7  #: per-frame velocity factor for points nothing measured
    gate: float = 4.0  #: per-point detection gate (Mahalanobis distance)
    reject_fraction: float = 0.5  #: a detection with more gated points than this is rejected ...
    max_rejections: int = 2  #: ... unless this many in a row were: then it re-anchors the track
    spread_frames: float = 1.5  #: time constant (frames) over which detector corrections reach the output
    blend_s: float = 0.25  #: time constant of blending back after a re-anchor or a long hold
    blend_max_step: float = 1.5  #: most a detector correction moves the output in one frame (crop px)
    shape_floor: float = 0.0  #: weight of the shape prior on fully reliable points (1 - reliability elsewhere)
    euro_min_cutoff: float = 2.0  #: One-Euro cutoff (Hz) of a still face
    euro_beta: float = 0.8  #: One-Euro cutoff increase (Hz) per crop px/s of speed
    euro_d_cutoff: float = 2.0  #: One-Euro cutoff (Hz) of its own speed estimate (unused: the flow gives the speed)
    speed_noise: float = 0.5  #: a point's own speed (crop px/frame) counts only beyond this noise level
    expr_threshold: float = 1.5  #: RMS shape change of a region (crop px, see ``region_change``) that activates it
    expr_flow_trigger: float = 0.6  #: shape change of a region under the flow (crop px/frame) that asks for a detection
    #: fraction of a region's points the flow must track for the region to activate. Off: a lip that
    #: moves fast fails LK's forward-backward check just like a covered one, and the confidence test
    #: (``expr_conf_margin``) now keeps occluders out (0.65 cost AOC mouth correlation 0.92 -> 0.87).
    expr_min_seen: float = 0.0
    expr_hold: int = 2  #: frames a region stays active after its last large change
    expr_sigma: float = 0.3  #: detector noise (crop px) of an active region's points
    expr_cutoff: float = 10.0  #: One-Euro cutoff floor (Hz) of an active region's points
    expr_conf_margin: float = 0.1  #: a detection drives regions only if its confidence is within this of the usual
    expr_confirm: bool = True  #: ... and only if the detection before it was sure too (no snap as a hand lifts)
    expr_min_visibility: float = 0.5  #: detected visibility below which a point never takes the direct path
    conf_window: int = 60  #: recent detections whose upper-quartile confidence is the stream's usual confidence
    reanchor_conf_margin: float = 0.05  #: a rejected detection this close to the usual confidence re-anchors
    reanchor_max_shift: float = 60.0  #: mean distance (crop px) from the track beyond which only a sure one does
    reanchor_agree: float = 2.0  #: RMS shape difference (crop px) of two rejected detections that may re-anchor
    flow: FlowConfig = field(default_factory=FlowConfig)
    shape: ShapeConfig = field(default_factory=ShapeConfig)


@dataclass(frozen=True)
class TrackResult:
    """One frame of the temporal tracker: the fused face and how it was obtained."""

    landmarks: FaceLandmarks  #: fused, smoothed output (image pixels; z and visibility from the 3D fit)
    pose: HeadPose  #: head pose of ``landmarks``
    expression: np.ndarray  #: ``pose.expression_vector`` of ``landmarks``
    mode: str  #: "detect" (key frame, detection fused), "flow" (between key frames) or "hold" (no recent detection)
    frame_index: int
    detection: FaceLandmarks | None  #: the detector's output on this frame (key frames only)
    flow_points: np.ndarray | None  #: (68, 2) LK-propagated points of this frame
    reliability: np.ndarray  #: (68,) flow reliability in [0, 1]
    frames_since_detection: int


@dataclass
class TrackerStats:
    """Counters of one stream."""

    frames: int = 0
    tracked: int = 0
    detector_calls: int = 0
    detections_accepted: int = 0
    detections_rejected: int = 0
    reanchors: int = 0
    early_unreliable: int = 0  #: detector calls before ``key_interval``: unreliable flow or a rejected detection
    early_expression: int = 0  #: ... because an expressive region moved (or stays active)

    @property
    def duty_cycle(self) -> float:
        """Detector calls per frame."""
        return self.detector_calls / max(self.frames, 1)


def crop_scale(xy: np.ndarray) -> float:
    """Crop pixels per image pixel for a face with these points (the alignment's similarity scale)."""
    return umeyama(anchor_points(xy), CANONICAL_ANCHORS * CROP)[0]


def region_change(a: np.ndarray, b: np.ndarray, c: float) -> np.ndarray:
    """Per region of ``REGIONS``: RMS distance (crop px) between the region's points in ``a`` and ``b``
    after a similarity fitted on the region itself, i.e. how much the region changed shape. Head
    motion (even a turn, which is nearly a similarity over so small an area) leaves it near zero."""
    out = np.zeros(len(REGIONS))
    for k, (_, idx) in enumerate(REGIONS):
        s, rot, t = umeyama(a[idx], b[idx])
        out[k] = np.sqrt(((s * a[idx] @ rot.T + t - b[idx]) ** 2).sum(axis=1).mean()) * c
    return out


def _cauchy(residual: np.ndarray, scale: float) -> np.ndarray:
    return 1.0 / (1.0 + (residual / scale) ** 2)


class TemporalTracker:
    """Global/local integrator behind the ``Tracker`` protocol; ``last`` holds the full ``TrackResult``."""

    def __init__(self, detector: LandmarkDetector, config: TemporalConfig | None = None):
        self.detector = detector
        self.config = config or TemporalConfig()
        self.stats = TrackerStats()
        self.last: TrackResult | None = None
        self._flow = FlowPropagator(self.config.flow)
        self._kf: VelocityKalman | None = None
        self._shape = ShapeModel(self.config.shape)
        self._euro = OneEuroFilter(self.config.euro_min_cutoff, self.config.euro_beta, self.config.euro_d_cutoff)
        self._offset = np.zeros((NUM_POINTS, 2))
        self._decay = 0.0
        self._vis = np.ones(NUM_POINTS)
        self._z = np.zeros(NUM_POINTS)
        self._fit_xy = np.zeros((NUM_POINTS, 2))  # the shape fit of the previous frame's fused points
        self._last_try = -(10**9)
        # The last budget_window // key_interval detector calls (frame indices): bounded, and enough to
        # tell whether that many fell inside the window.
        self._calls: deque[int] = deque(maxlen=max(self.config.budget_window, 0) // self.config.key_interval)
        self._last_accept = -(10**9)
        self._confidence = 0.0
        self._rejections = 0
        self._active = np.zeros(NUM_POINTS, np.int64)  # frames each point's region stays active
        self._seen = np.ones(NUM_POINTS, bool)  # points whose flow passed the forward-backward check this frame
        self._confs: deque[float] = deque(maxlen=self.config.conf_window)  # recent detection confidences
        self._rejected: np.ndarray | None = None  # xy of the last rejected detection
        self._last_sure = True  # whether the latest detection was confident (see ``_confident``)
        self._last_found = True  # whether the latest detector call found a face (accepted or not)
        self._prev_sure = True  # ``_last_sure`` of the detector call before the latest
        self._flow_lost = False  # whether the previous frame's flow was ignored

    @property
    def duty_cycle(self) -> float:
        """Detector calls per frame so far."""
        return self.stats.duty_cycle

    def update(self, frame_bgr: np.ndarray) -> FaceLandmarks | None:
        """Landmarks of the tracked face in this frame, or None."""
        result = self.track(frame_bgr)
        return None if result is None else result.landmarks

    def reset(self) -> None:
        """Drop the track (the next frame starts with a detection); the shape model is kept."""
        self._kf = None
        self._flow.reset()
        self.last = None

    def close(self) -> None:
        """Release the detector."""
        self.detector.close()

    # ----------------------------------------------------------------------------------------------
    def track(self, frame_bgr: np.ndarray) -> TrackResult | None:
        """Track one frame; the full result (also kept as ``last``), or None without a face."""
        index = self.stats.frames
        self.stats.frames += 1
        gray = to_gray(frame_bgr)
        if self._kf is None:
            self.last = self._acquire(frame_bgr, gray, index)
        else:
            self.last = self._follow(frame_bgr, gray, index)
        if self.last is not None:
            self.stats.tracked += 1
        return self.last

    def _budget_left(self, index: int) -> bool:
        """Whether the detector may run on frame ``index`` within the duty budget (``budget_window``)."""
        if self.config.budget_window <= 0:
            return True
        if not self._calls.maxlen:
            return False  # a window shorter than key_interval allows no call
        full = len(self._calls) == self._calls.maxlen
        return not full or self._calls[0] <= index - self.config.budget_window

    def _detect(self, frame_bgr: np.ndarray, index: int) -> FaceLandmarks | None:
        self._last_try = index
        self._calls.append(index)
        self.stats.detector_calls += 1
        faces = self.detector.detect(frame_bgr)
        self._prev_sure = self._last_sure
        self._last_found = bool(faces) and faces[0].confidence >= self.config.min_confidence
        if not self._last_found:
            self._last_sure = False
            return None
        self._confs.append(faces[0].confidence)
        self._last_sure = self._confident(faces[0])
        return faces[0]

    def _confident(self, det: FaceLandmarks, margin: float | None = None) -> bool:
        """Whether the detector is about as sure of this face as usual in this stream.

        An occluder or blur lowers MediaPipe's face score by 0.1-0.3 while the mesh still returns a
        plausible (invented) face; a stream's usual score (upper quartile of recent detections, so a
        one-second occlusion barely moves it) differs between faces and cameras, hence relative."""
        usual = float(np.percentile(self._confs, 75)) if self._confs else det.confidence
        return det.confidence >= usual - (self.config.expr_conf_margin if margin is None else margin)

    def _acquire(self, frame_bgr: np.ndarray, gray: np.ndarray, index: int) -> TrackResult | None:
        self._flow.reset(gray)
        if index - self._last_try < self.config.lost_interval or not self._budget_left(index):
            return None  # the search for a lost face keeps the duty budget too (a retry every few frames)
        det = self._detect(frame_bgr, index)
        if det is None:
            return None
        self._start(det, index)
        return self._emit(index, "detect", det, None, np.ones(NUM_POINTS))

    def _start(self, det: FaceLandmarks, index: int) -> None:
        cfg = self.config
        c = crop_scale(det.xy)
        self._kf = VelocityKalman(det.xy.ravel(), (cfg.det_sigma / c) ** 2, (4 * cfg.acc_sigma / c) ** 2)
        self._shape.observe(det.points)
        self._offset[:] = 0.0
        self._euro.reset()
        self._vis = det.visibility.astype(np.float64)
        self._z = det.points[:, 2] - det.points[:, 2].mean()
        self._fit_xy = self._shape.fit(det.xy, np.ones(NUM_POINTS)).points[:, :2]
        self._last_accept = index
        self._confidence = det.confidence
        self._rejections = 0
        self._rejected = None
        self._flow_lost = False
        self.stats.detections_accepted += 1

    # ----------------------------------------------------------------------------------------------
    def _follow(self, frame_bgr: np.ndarray, gray: np.ndarray, index: int) -> TrackResult | None:
        cfg, kf = self.config, self._kf
        assert kf is not None
        prev = kf.x.reshape(-1, 2).copy()
        c = crop_scale(prev)
        kf.predict((cfg.acc_sigma / c) ** 2, (cfg.pos_sigma / c) ** 2)
        flow = self._flow.propagate(gray, prev, guess=kf.x.reshape(-1, 2))
        rel = self._flow_step(prev, flow, c)

        det = None
        since_try = index - self._last_try
        self._active = np.maximum(self._active - 1, 0)
        # Early key frames only while the detector finds the face: after a failed detection (covered or
        # blurred) it waits for the regular key frame instead of trying every other frame. A rejected one
        # asks for the next early, so that a track that fell behind a fast turn is re-anchored soon.
        found = self._last_found
        expressive = self._flow_expression(prev, flow, rel, c) and found and self._last_sure
        unreliable = rel.mean() < cfg.reliability_trigger and found
        confirm = self._rejections > 0 and found
        early = (unreliable or confirm) and since_try >= cfg.min_key_gap
        if ((since_try >= cfg.key_interval or early) and self._budget_left(index)) or expressive:
            if since_try < cfg.key_interval:
                self.stats.early_unreliable += early
                self.stats.early_expression += expressive and not early
            det = self._detect(frame_bgr, index)
        fused = None if det is None else self._fuse_detection(det, c, index)
        if index - self._last_accept > cfg.max_hold_s * cfg.fps:
            self.reset()
            return None
        accepted = fused is not None
        self._regularise(rel if fused is None else np.maximum(rel, fused))
        mode = "detect" if accepted else ("flow" if index - self._last_accept <= cfg.key_interval else "hold")
        return self._emit(index, mode, det, None if flow is None else flow.points, rel)

    def _flow_step(self, prev: np.ndarray, flow: FlowResult | None, c: float) -> np.ndarray:
        """Grade the flow, fill unreliable points from a shape fit, and fuse the displacements."""
        cfg, kf = self.config, self._kf
        assert kf is not None
        if flow is None:
            self._seen[:] = False
            return np.zeros(NUM_POINTS)
        fb_ok = flow.displacement_valid & (flow.fb_error * c < cfg.fb_max)
        self._seen = fb_ok
        rel = fb_ok * np.clip(2.0 * self._vis - 0.5, 0.0, 1.0)
        if (rel > 0.5).sum() < 6:
            kf.damp_velocity(cfg.velocity_damping)
            self._flow_lost = True
            return np.zeros(NUM_POINTS)
        moved = np.where(fb_ok[:, None], flow.points, prev)
        base, rel = rel, rel
        for _ in range(2):  # down-weight points whose motion disagrees with the rigid + expression motion
            fit = self._shape.fit(moved, np.maximum(rel, 1e-3))
            model_disp = fit.points[:, :2] - self._fit_xy
            resid = np.linalg.norm(moved - prev - model_disp, axis=1) * c
            allowed = cfg.outlier_scale + cfg.outlier_relative * np.linalg.norm(model_disp, axis=1) * c
            rel = base * _cauchy(resid, allowed)
        disp = np.where(rel[:, None] > 0.5, flow.points - prev, model_disp)
        accel = np.sqrt(((disp - kf.v.reshape(-1, 2)) ** 2).sum(axis=1).mean()) * c
        # Hysteresis: once the face was covered, a few points that LK holds on the occluder's edges must
        # not move it (they did, by 3-4 crop px in a frame, under a block that covered the whole face).
        least = cfg.min_flow_resume if self._flow_lost else cfg.min_flow_fraction
        if rel.mean() < least or accel > cfg.max_accel:
            # Mostly covered, or an implausible jump: the few "trackable" points are not trusted.
            kf.damp_velocity(cfg.velocity_damping)
            self._flow_lost = True
            return rel * (rel.mean() >= least)
        self._flow_lost = False
        fb = np.where(np.isfinite(flow.fb_error), flow.fb_error * c, cfg.fb_max)
        sigma = np.where(rel > 0.5, cfg.flow_sigma + fb, cfg.model_sigma)
        contour = CONTOUR[self._active[CONTOUR] == 0]
        sigma[contour] = np.maximum(sigma[contour], cfg.contour_sigma)
        sigma = sigma / c
        kf.update_velocity(disp.ravel(), np.repeat(sigma**2, 2))
        if np.isfinite(cfg.coupling_sigma):
            # Every point also moves as the shape fit of all points says: a second displacement measurement
            # that averages the flow noise over the face. Not for regions that follow the detector.
            m = (rel > 0.5) & (self._active == 0)
            kf.update_velocity(model_disp.ravel(), (cfg.coupling_sigma / c) ** 2, np.repeat(m, 2))
        return rel

    def _flow_expression(self, prev: np.ndarray, flow: FlowResult | None, rel: np.ndarray, c: float) -> bool:
        """Activate the regions the flow deformed (a detection is then taken at once); whether any is active.

        Only while the flow holds on the rigid points: an occluder or blur deforms the flow too."""
        cfg = self.config
        steady = rel[RIGID].mean() >= cfg.reliability_trigger
        if flow is not None and steady and np.isfinite(cfg.expr_flow_trigger):
            ok = flow.displacement_valid
            change = region_change(prev, np.where(ok[:, None], flow.points, prev), c)
            for (_, idx), value in zip(REGIONS, change, strict=True):
                if value > cfg.expr_flow_trigger and self._seen[idx].mean() >= cfg.expr_min_seen:
                    self._active[idx] = np.maximum(self._active[idx], 1)
        return bool(self._active.any())

    def _expression_change(self, det: FaceLandmarks, c: float) -> np.ndarray:
        """Frames each point's region stays active given this detection: a region whose detected shape
        differs from the track's by more than ``expr_threshold`` restarts its hold.

        Only a confident detection (see ``_confident``) that follows a confident one drives regions
        directly; after a less sure one every region, even one the flow or an earlier detection
        activated, goes back to the gated, smoothed fusion. Without the second condition the first
        sure detection as a hand lifts snapped the mouth by 2.2 crop px in one frame. Letting a region
        through when two consecutive detections agree on its shape was tried too: under a hand over
        half the face MediaPipe invents nearly the same eyes on every frame, and the synthetic
        occlusion clip's error rose from 2.37 to 2.84 crop px."""
        cfg, kf = self.config, self._kf
        assert kf is not None
        change = region_change(det.xy.astype(np.float64), kf.x.reshape(-1, 2), c)
        if not self._confident(det) or (cfg.expr_confirm and not self._prev_sure):
            return np.zeros_like(self._active)
        active = self._active.copy()
        for (_, idx), value in zip(REGIONS, change, strict=True):
            # ``expr_min_seen`` (off by default) keeps a region the flow lost on the gated fusion.
            if value > cfg.expr_threshold and self._seen[idx].mean() >= cfg.expr_min_seen:
                active[idx] = cfg.expr_hold
        active[det.visibility < cfg.expr_min_visibility] = 0  # turned away: the detector guesses these
        return active

    def _fuse_detection(self, det: FaceLandmarks, c: float, index: int) -> np.ndarray | None:
        """Gate and fuse a detection; returns the per-point fused mask (as 0/1), or None if rejected."""
        cfg, kf = self.config, self._kf
        assert kf is not None
        r = (cfg.det_sigma / (c * max(det.confidence, 1e-3))) ** 2 / np.clip(det.visibility, 0.1, 1.0)
        long_gap = index - self._last_accept > 2 * cfg.key_interval
        # After a hold the track's shape is stale: re-acquisition blends back instead of snapping.
        hold = np.zeros_like(self._active) if long_gap else self._expression_change(det, c)
        active = hold > 0
        # Active (expressive) points: the detector is the only sensor that follows them; trust it.
        r = np.where(active, (cfg.expr_sigma / (c * max(det.confidence, 1e-3))) ** 2, r)
        r = np.repeat(r, 2)
        innov = det.xy.ravel().astype(np.float64) - kf.x
        d2 = (innov**2 / (kf.pxx + r)).reshape(-1, 2).sum(axis=1)
        inside = (d2 < cfg.gate**2) | active
        before = kf.x.copy()
        if (~active).any() and (~inside[~active]).mean() > cfg.reject_fraction:
            self._rejections += 1
            self.stats.detections_rejected += 1
            previous, self._rejected = self._rejected, det.xy.astype(np.float64)
            if self._rejections < cfg.max_rejections or not self._may_reanchor(det, previous, c):
                self._active[:] = 0
                return None
            # Several detections in a row disagree with the track: the track is wrong. Re-anchor.
            self._reanchor(det, c)
            inside = np.ones(NUM_POINTS, bool)
        else:
            kf.update_position(det.xy.ravel(), r, np.repeat(inside, 2))
        self._rejections = 0
        self._rejected = None
        delta = (kf.x - before).reshape(-1, 2)
        self._offset -= delta
        self._offset[active] = 0.0  # active points show the detection at once
        self._active = hold
        large = np.median(np.linalg.norm(delta[~active], axis=1)) * c > 2.0 if (~active).any() else False
        frames = cfg.blend_s * cfg.fps if (long_gap or large) else cfg.spread_frames
        decay = float(np.exp(-1.0 / max(frames, 1e-6)))
        blending = np.median(np.linalg.norm(self._offset, axis=1)) * c > 1.0
        self._decay = max(decay, self._decay) if blending else decay  # never cut a blend-back short
        self._shape.observe(det.points)
        self._last_accept = index
        self._confidence = det.confidence
        self.stats.detections_accepted += 1
        return inside.astype(np.float64)

    def _may_reanchor(self, det: FaceLandmarks, previous: np.ndarray | None, c: float) -> bool:
        """Whether a run of rejected detections re-anchors the track: only if the detector is as sure of the
        face as usual (``reanchor_conf_margin``), or if the last two rejected detections agree on the face's
        shape (``reanchor_agree``) and lie within ``reanchor_max_shift`` of the track.

        A lost track (the flow followed something else) meets the same face on every detection; under a
        hand the mesh invents a new face each time, with a score that can still look nearly usual (0.79 on
        one synthetic clip, where re-anchoring on it put the points 9 crop px off for a second); and a
        mesh that locks onto something else entirely (183 crop px away for 8 frames on another clip)
        repeats itself but scores low."""
        cfg, kf = self.config, self._kf
        assert kf is not None
        if self._confident(det, cfg.reanchor_conf_margin):
            return True
        if previous is None:
            return False
        shift = np.linalg.norm(det.xy - kf.x.reshape(-1, 2), axis=1).mean() * c
        s, rot, t = umeyama(previous, det.xy.astype(np.float64))
        rms = np.sqrt(((s * previous @ rot.T + t - det.xy) ** 2).sum(axis=1).mean()) * c
        return bool(rms < cfg.reanchor_agree and shift < cfg.reanchor_max_shift)

    def _reanchor(self, det: FaceLandmarks, c: float) -> None:
        cfg, kf = self.config, self._kf
        assert kf is not None
        kf.shift(det.xy.ravel() - kf.x)
        kf.pxx[:] = (cfg.det_sigma / c) ** 2
        kf.pxv[:] = 0.0
        self.stats.reanchors += 1

    def _regularise(self, rel: np.ndarray) -> None:
        """Pull unreliable points toward the shape fit; depth and visibility from the fit's 3D pose."""
        kf = self._kf
        assert kf is not None
        xy = kf.x.reshape(-1, 2)
        # Every point anchors the fit a little, so a few confident outliers cannot drag it.
        fit: ShapeFit = self._shape.fit(xy, 0.2 + 0.8 * rel)
        floor = self.config.shape_floor
        pull = floor + (1.0 - floor) * (1.0 - rel) ** 2
        kf.shift(((fit.points[:, :2] - xy) * pull[:, None]).ravel())
        self._z = fit.points[:, 2] - fit.points[:, 2].mean()
        self._fit_xy = fit.points[:, :2]
        pts = np.column_stack([kf.x.reshape(-1, 2), self._z])
        self._vis = visibility_from_landmarks(pts).astype(np.float64)

    def _speed(self, v: np.ndarray, xy: np.ndarray, c: float) -> np.ndarray:
        """Per-point speed (px/frame) for the output filter: the rigid (similarity) part of the flow-measured
        motion, which is nearly noise-free, or the point's own speed where that clearly exceeds its noise."""
        s, rot, t = umeyama(xy, xy + v)
        rigid = np.linalg.norm(s * xy @ rot.T + t - xy, axis=1)
        own = np.linalg.norm(v, axis=1) - self.config.speed_noise / c
        return np.maximum(rigid, own)

    def _emit(
        self, index: int, mode: str, det: FaceLandmarks | None, flow_pts: np.ndarray | None, rel: np.ndarray
    ) -> TrackResult:
        cfg, kf = self.config, self._kf
        assert kf is not None
        xy = kf.x.reshape(-1, 2)
        out = xy + self._offset
        c = crop_scale(xy)
        # The offset decays exponentially, but never by more than ``blend_max_step`` a frame: after a long
        # hold the face may be 20+ crop px from the held points, and an exponential first step is a jump.
        step = self._offset * (1.0 - self._decay)
        size = np.linalg.norm(step, axis=1) * c
        self._offset -= step * np.minimum(1.0, cfg.blend_max_step / np.maximum(size, 1e-9))[:, None]
        speed = np.repeat(self._speed(kf.v.reshape(-1, 2), xy, c), 2) * cfg.fps
        floor = np.repeat(np.where(self._active > 0, cfg.expr_cutoff, 0.0), 2)
        out = self._euro(out.ravel(), 1.0 / cfg.fps, 1.0 / c, speed, floor).reshape(-1, 2)
        since = index - self._last_accept
        conf = self._confidence * max(0.0, 1.0 - since / (cfg.max_hold_s * cfg.fps + 1.0))
        pts = np.column_stack([out, self._z]).astype(np.float32)
        lm = FaceLandmarks(pts, self._vis.astype(np.float32), bounding_box(out), float(conf))
        pose = head_pose(pts)
        expr = expression_vector(pts)
        return TrackResult(lm, pose, expr, mode, index, det, flow_pts, rel, since)
