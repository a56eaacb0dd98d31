import numpy as np

from streamer.alignment import CANONICAL_ANCHORS, anchor_points, crop_image, crop_to_image_points, crop_transform
from streamer.geometry import apply_affine, invert_affine, umeyama


class TestUmeyama:
    def test_recovers_a_known_similarity(self):
        rng = np.random.default_rng(1)
        src = rng.normal(size=(20, 3))
        angle = np.radians(30)
        rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
        dst = 1.7 * src @ rot.T + [3, -2, 5]
        s, r, t = umeyama(src, dst)
        np.testing.assert_allclose([s], [1.7], atol=1e-9)
        np.testing.assert_allclose(r, rot, atol=1e-9)
        np.testing.assert_allclose(t, [3, -2, 5], atol=1e-9)

    def test_never_returns_a_reflection(self):
        src = np.array([[0, 0], [1, 0], [0, 1], [1, 1.0]])
        dst = src * [-1, 1]  # a mirror image
        _, r, _ = umeyama(src, dst)
        assert np.linalg.det(r) > 0


class TestAlignment:
    def test_anchors_land_on_the_template(self, astronaut_face):
        m = crop_transform(astronaut_face, 256)
        placed = apply_affine(m, anchor_points(astronaut_face.points))
        assert np.abs(placed - (CANONICAL_ANCHORS * 256 - 0.5)).max() < 12  # a similarity fits 5 points

    def test_round_trip_within_half_a_pixel(self, astronaut_face):
        m = crop_transform(astronaut_face, 256)
        pts = astronaut_face.xy.astype(np.float64)
        back = crop_to_image_points(m, apply_affine(m, pts))
        assert np.abs(back - pts).max() < 0.5

    def test_crop_pixels_match_the_inverse_mapping(self, astronaut, astronaut_face):
        # Asymmetric check of the convention: crop pixel (x, y) shows image pixel M^-1 (x, y).
        m = crop_transform(astronaut_face, 200)
        crop = crop_image(astronaut, m, 200)
        inv = invert_affine(m)
        for x, y in [(31, 170), (150, 20), (100, 100)]:
            ix, iy = np.rint(apply_affine(inv, np.array([[x, y]], np.float64))[0]).astype(int)
            assert np.abs(crop[y, x].astype(int) - astronaut[iy, ix].astype(int)).max() < 40

    def test_stable_under_tiny_landmark_noise(self, astronaut_face):
        rng = np.random.default_rng(2)
        m0 = crop_transform(astronaut_face, 256)
        noisy = astronaut_face.with_points(astronaut_face.points + rng.normal(0, 0.5, (68, 3)).astype(np.float32))
        m1 = crop_transform(noisy, 256)
        corners = np.array([[0, 0], [255, 255.0]])
        assert np.abs(apply_affine(invert_affine(m0), corners) - apply_affine(invert_affine(m1), corners)).max() < 2


def test_source_crop_mirrors_the_photo_where_it_reaches_past_the_edge(astronaut, image_detector):
    """A tight portrait (the astronaut cut just above the brows): the source crop reaches past the photo's
    top, and the rows there are the photo mirrored in, not its top row smeared (streaks through the hair
    that a lifted chin brings into view, issue 14)."""
    from streamer.pipeline import prepare_source
    from streamer.reenactors.geometric import GeometricReenactor

    face = image_detector.detect(astronaut)[0]
    top = int(face.points[17:27, 1].min()) - 5
    photo = np.ascontiguousarray(astronaut[top:, :])
    source = prepare_source(photo, image_detector, GeometricReenactor())
    inside = crop_to_image_points(source.affine, np.array([[128.0, 0.0], [128.0, 60.0]]))
    assert inside[0, 1] < -10, "the crop should reach past the photo's top for this test"
    # The crop's first row lies past the photo: replicated, its pixels would copy the photo's top row, so
    # consecutive crop rows up there would be nearly equal; mirrored, they differ as the photo's rows do.
    rows_out = source.crop[:8].astype(np.float64)
    assert np.abs(np.diff(rows_out, axis=0)).mean() > 2.0
    replicated = crop_image(photo, source.affine, 256)[:8].astype(np.float64)
    assert np.abs(np.diff(replicated, axis=0)).mean() < 0.5 * np.abs(np.diff(rows_out, axis=0)).mean()
