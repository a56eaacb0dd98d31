"""ReferenceSelector: automatic neutral-frame choice, re-anchoring and the forced frame."""

from __future__ import annotations

import numpy as np

from streamer.geometry import rotation_matrix
from streamer.landmarks import FaceLandmarks
from streamer.tracking_reference import ReferenceConfig, ReferenceSelector


def posed(face: FaceLandmarks, yaw: float, pitch: float = 0.0, mouth: float = 0.0) -> FaceLandmarks:
    """The photo's 3D landmarks turned by (yaw, pitch) about their centre, mouth opened by ``mouth`` px."""
    p = face.points.astype(np.float64).copy()
    p[[65, 66, 67, 56, 57, 58], 1] += mouth
    centre = p.mean(axis=0)
    rot = rotation_matrix(yaw, pitch, 0.0)
    return FaceLandmarks(((p - centre) @ rot.T + centre).astype(np.float32), face.visibility, None, 0.9)


def test_score_prefers_frontal_closed_mouth(astronaut_face):
    sel = ReferenceSelector()
    frontal = sel.score(posed(astronaut_face, 0.0))
    assert frontal < sel.score(posed(astronaut_face, 25.0))
    assert frontal < sel.score(posed(astronaut_face, 0.0, 15.0))
    assert frontal < sel.score(posed(astronaut_face, 0.0, mouth=12.0))


def test_warmup_picks_the_most_neutral_frame(astronaut_face):
    sel = ReferenceSelector(ReferenceConfig(warmup_frames=6))
    yaws = [30.0, 20.0, 2.0, 15.0, 25.0, 18.0, 28.0]
    faces = [posed(astronaut_face, y) for y in yaws]
    for i, f in enumerate(faces):
        ref = sel.update(i, f)
    assert ref is faces[2]
    assert sel.reference.frame_index == 2


def test_live_reanchor_needs_a_confirmed_better_frame(astronaut_face):
    cfg = ReferenceConfig(warmup_frames=3, confirm_frames=5, cooldown_frames=0)
    sel = ReferenceSelector(cfg)
    turned = [posed(astronaut_face, 30.0) for _ in range(10)]
    for i, f in enumerate(turned):
        sel.update(i, f)
    first = sel.reference.frame_index
    # A single frontal frame is not enough ...
    sel.update(10, posed(astronaut_face, 0.0))
    sel.update(11, posed(astronaut_face, 30.0))
    assert sel.reference.frame_index == first
    # ... five in a row are.
    for i in range(12, 17):
        sel.update(i, posed(astronaut_face, 0.0))
    assert sel.reference.frame_index >= 12 and sel.changes == 1
    no_auto = ReferenceSelector(ReferenceConfig(warmup_frames=3, auto_reanchor=False))
    for i in range(10):
        no_auto.update(i, turned[i])
    for i in range(10, 30):
        no_auto.update(i, posed(astronaut_face, 0.0))
    assert no_auto.reference.frame_index < 3


def test_forced_frame_locks(astronaut_face):
    sel = ReferenceSelector(ReferenceConfig(forced_frame=5))
    assert sel.update(0, None) is None
    for i in range(1, 5):
        sel.update(i, posed(astronaut_face, 0.0))
    target = posed(astronaut_face, 20.0)
    assert sel.update(5, target) is target
    for i in range(6, 40):
        assert sel.update(i, posed(astronaut_face, 0.0)) is target
    late = ReferenceSelector(ReferenceConfig(forced_frame=3))
    late.update(3, None)  # no face at frame 3: the first face after it is used
    f4 = posed(astronaut_face, 10.0)
    assert late.update(4, f4) is f4 and late.update(5, posed(astronaut_face, 0.0)) is f4
    sel.reset()
    assert sel.reference is None
    pre = ReferenceSelector()
    chosen = posed(astronaut_face, 15.0)
    pre.force(chosen, 120)  # found by an offline pre-pass
    assert all(pre.update(i, posed(astronaut_face, 0.0)) is chosen for i in range(30))
