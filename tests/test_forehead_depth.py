"""The planar warp's forehead points sit behind the brows (#14: a turn slid the forehead over the hair)."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.pipeline import prepare_source
from streamer.reenactors.geometric import _FOREHEAD_FROM, GeometricConfig, GeometricReenactor
from streamer.retarget import rigid_motion
from tests.test_geometric import posed


def _state(astronaut, image_detector, depth: float):
    reenactor = GeometricReenactor(GeometricConfig(forehead_depth=depth))
    return prepare_source(astronaut, image_detector, reenactor)


def test_forehead_sits_the_asked_share_of_the_way_back_to_the_ring(astronaut, image_detector):
    flat = _state(astronaut, image_detector, 0.0).state
    half = _state(astronaut, image_detector, 0.5).state
    brows_z = flat.landmarks.points[_FOREHEAD_FROM, 2]
    ring_z = half.ring[0, 2]
    np.testing.assert_allclose(half.forehead[:, 2], flat.forehead[:, 2] + 0.5 * (ring_z - flat.forehead[:, 2]))
    np.testing.assert_allclose(half.forehead[:, :2], flat.forehead[:, :2])  # same place in the photo
    assert (half.forehead[:, 2] > brows_z.min()).all() and (half.forehead[:, 2] < ring_z).all()


@pytest.mark.parametrize("yaw", [-30.0, 30.0])
def test_on_a_turn_the_forehead_moves_between_the_brows_and_the_head_outline(astronaut, image_detector, yaw):
    src = _state(astronaut, image_detector, 0.5)
    state = src.state
    pts = state.landmarks.points.astype(np.float64)
    motion = rigid_motion(pts, posed(pts, yaw=yaw))
    brows = np.mean(motion.apply(pts[_FOREHEAD_FROM])[:, 0] - pts[_FOREHEAD_FROM, 0])
    forehead = np.mean(motion.apply(state.forehead)[:, 0] - state.forehead[:, 0])
    ring = np.mean(motion.apply(state.ring)[:, 0] - state.ring[:, 0])
    assert min(brows, ring) < forehead < max(brows, ring)
    assert abs(forehead - brows) > 0.2 * abs(ring - brows)


def test_identity_still_maps_every_pixel_to_itself(astronaut, image_detector):
    src = _state(astronaut, image_detector, 0.5)
    _, map_x, map_y = GeometricReenactor().render_maps(src.state, src.state.landmarks)
    h, w = map_x.shape
    ys, xs = np.mgrid[0:h, 0:w]
    assert np.abs(map_x - xs).max() < 0.5 and np.abs(map_y - ys).max() < 0.5
