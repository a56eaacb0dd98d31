"""The temporal tracker on short synthetic clips of a real face (reduced forms of the benchmark targets)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks import tracking_synth as S
from streamer.errors import InputError
from streamer.tracking import DetectorTracker, TemporalTracker, create_tracker
from streamer.tracking_debug import draw_track_debug


def run(tracker, seq: S.Sequence) -> np.ndarray:
    out = []
    try:
        for frame in seq.frames():
            lm = tracker.update(frame)
            out.append(np.full((68, 2), np.nan) if lm is None else lm.xy.astype(np.float64))
    finally:
        tracker.close()
    return np.stack(out)


def test_factory():
    assert isinstance(create_tracker("temporal", key_interval=4), TemporalTracker)
    det = create_tracker("detector", mode="image", refine=False)
    assert isinstance(det, DetectorTracker)
    det.close()
    with pytest.raises(InputError):
        create_tracker("nope")
    with pytest.raises(InputError):
        create_tracker("temporal", no_such_setting=1)


def test_static_clip_jitter_and_duty(make_clip):
    seq = make_clip("static", 45)
    tracker = create_tracker("temporal")
    est = run(tracker, seq)
    raw = run(create_tracker("detector", mode="image", refine=False), seq)
    truth = seq.truth
    assert S.tracked_fraction(est) == 1.0
    assert S.static_jitter(est, truth) * 3 <= S.static_jitter(raw, truth)
    assert S.mean_error(est, truth) <= S.mean_error(raw, truth)
    assert tracker.duty_cycle <= 1 / 3 + 0.01
    assert tracker.stats.detector_calls == 15


def test_fast_motion_lag_and_error(make_clip):
    seq = make_clip("fast", 60)
    tracker = create_tracker("temporal")
    est = run(tracker, seq)
    raw = run(create_tracker("detector", mode="image", refine=False), seq)
    truth = seq.truth
    assert abs(S.lag_frames(est, truth)) <= 1.0
    assert S.mean_error(est, truth) <= 1.1 * S.mean_error(raw, truth)
    assert S.acceleration_jitter(est, truth) < S.acceleration_jitter(raw, truth)
    assert tracker.duty_cycle <= 1 / 3 + 1 / 60  # early key frames borrow from the budget


def test_full_occlusion_is_held_and_reacquired_without_a_jump(make_clip):
    # The whole face is covered for 1 s while it keeps moving; then it reappears.
    occ = (S.Occluder(15, 30, (-0.15, -0.2, 1.15, 1.2)),)
    seq = make_clip("occlusion", 75, occluders=occ, blur={})
    tracker = create_tracker("temporal")
    est = run(tracker, seq)
    truth = seq.truth
    assert S.tracked_fraction(est) == 1.0
    step = np.linalg.norm(np.diff(est, axis=0), axis=2).mean(axis=1) * S.crop_scales(truth)[1:]
    true_step = np.linalg.norm(np.diff(truth, axis=0), axis=2).mean(axis=1) * S.crop_scales(truth)[1:]
    # After the block lifts the output converges to the face without a frame-to-frame jump.
    assert (step[44:] - true_step[44:]).max() < 2.0
    assert S.mean_error(est[-10:], truth[-10:]) < 2.0
    assert tracker.stats.detections_accepted > 3
    assert tracker.duty_cycle <= 1 / 3 + 1 / 75


def test_duty_budget_caps_early_key_frames(make_clip):
    """Unreliable flow asks for early key frames; the budget keeps the detector at 1/key_interval."""
    occ = (S.Occluder(10, 40, (0.0, 0.3, 1.0, 1.1)),)  # the lower face covered: the flow there fails
    seq = make_clip("occlusion", 60, occluders=occ, blur={})
    budget, free = create_tracker("temporal"), create_tracker("temporal", budget_window=0)
    run(budget, seq)
    run(free, seq)
    assert budget.stats.early_unreliable > 0
    assert budget.duty_cycle <= 1 / 3 + 1 / 60 < free.duty_cycle


def test_hold_is_bounded(astronaut):
    # A face, then only a blank frame: the track is held for max_hold_s, then dropped.
    tracker = create_tracker("temporal", fps=10.0, max_hold_s=1.0)
    assert tracker.update(astronaut) is not None
    blank = np.full_like(astronaut, 127)
    results = [tracker.update(blank) for _ in range(15)]
    tracker.close()
    assert all(r is not None for r in results[:10])
    assert all(r is None for r in results[11:])


def test_track_result_pose_visibility_and_debug(astronaut, make_clip):
    seq = make_clip("drift", 8)
    tracker = create_tracker("temporal")
    frames = list(seq.frames())
    try:
        results = [tracker.track(f) for f in frames]
    finally:
        tracker.close()
    r = results[-1]
    assert r is not None and r.mode in ("detect", "flow", "hold")
    assert abs(r.pose.yaw) < 30 and r.expression.shape == (5,)
    assert r.landmarks.visibility.min() >= 0.0 and r.landmarks.visibility.mean() > 0.8
    img = draw_track_debug(frames[-1], r, tracker.duty_cycle)
    assert img.shape == frames[-1].shape and (img != frames[-1]).any()
    fused = tuple(int(v) for v in np.round(r.landmarks.xy[30]))
    assert img[fused[1], fused[0], 1] > 150  # a green fused point on the nose tip
    assert draw_track_debug(frames[-1], None).shape == frames[-1].shape
    plain = draw_track_debug(frames[-1], r.landmarks)
    assert plain[fused[1], fused[0], 1] > 150


@pytest.mark.shared_data
def test_real_video_keeps_the_face(shared_data):
    path = shared_data / "raw/LivePortrait/assets/examples/driving/d9.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < 60:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    tracker = create_tracker("temporal", fps=30.0)
    raw = create_tracker("detector", mode="image", refine=False)
    try:
        ours = [tracker.update(f) for f in frames]
        theirs = [raw.update(f) for f in frames]
    finally:
        tracker.close()
        raw.close()
    assert sum(r is not None for r in ours) >= sum(r is not None for r in theirs)
    assert tracker.duty_cycle <= 0.4
