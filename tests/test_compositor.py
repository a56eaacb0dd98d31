import numpy as np

from streamer.alignment import crop_image, crop_transform
from streamer.compositor import Compositor, CompositorConfig, feather_mask


class TestFeatherMask:
    def test_shape_range_and_symmetry(self):
        m = feather_mask(64, 0.2)
        assert m.shape == (64, 64) and m.dtype == np.float32
        assert m[32, 32] == 1.0 and m[0, 0] == 0.0 and m[0, 32] == 0.0
        np.testing.assert_allclose(m, m.T)
        np.testing.assert_allclose(m, m[::-1, ::-1])
        assert (np.diff(m[32, :32]) >= 0).all()


class TestPaste:
    def test_pasting_the_frames_own_crop_changes_nothing(self, astronaut, astronaut_face):
        m = crop_transform(astronaut_face, 256)
        crop = crop_image(astronaut, m, 256)
        out = Compositor(256, CompositorConfig(color_match=False)).paste(astronaut, crop, m)
        diff = np.abs(out.astype(int) - astronaut.astype(int))
        assert diff.mean() < 1.5
        assert np.percentile(diff, 99) < 20  # resampling twice blurs fine texture a little

    def test_outside_the_footprint_is_untouched(self, astronaut, astronaut_face):
        m = crop_transform(astronaut_face, 128)
        out = Compositor(128, CompositorConfig(color_match=False)).paste(
            astronaut, np.zeros((128, 128, 3), np.uint8), m
        )
        assert (out[-20:, -20:] == astronaut[-20:, -20:]).all()
        centre = np.rint(astronaut_face.xy[30]).astype(int)
        assert out[centre[1], centre[0]].max() < 30  # the black crop shows in the middle

    def test_colour_match_removes_a_constant_offset_at_the_seam(self, astronaut, astronaut_face):
        m = crop_transform(astronaut_face, 256)
        crop = crop_image(astronaut, m, 256).astype(int)
        tinted = np.clip(crop + [30, -20, 10], 0, 255).astype(np.uint8)
        plain = Compositor(256, CompositorConfig(color_match=False)).paste(astronaut, tinted, m)
        matched = Compositor(256, CompositorConfig(color_match=True)).paste(astronaut, tinted, m)
        err = lambda o: np.abs(o.astype(int) - astronaut.astype(int)).mean()  # noqa: E731
        assert err(matched) < 0.25 * err(plain)


def _paste_by_definition(comp: Compositor, frame: np.ndarray, crop: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """The paste-back written plainly: warp, colour offset on every pixel, one blendLinear over the box."""
    import cv2

    out = frame.copy()
    fp = comp._footprint(frame.shape, affine)
    if fp is None:
        return out
    x0, y0, x1, y1 = fp.box
    region = out[y0:y1, x0:x1]
    warped = cv2.warpAffine(crop, fp.local, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if comp.config.color_match and int(fp.band.sum()) >= 16:
        offset = np.subtract(cv2.mean(region, fp.band), cv2.mean(warped, fp.band))
        warped = cv2.add(warped, offset, dtype=cv2.CV_8U)
    out[y0:y1, x0:x1] = cv2.blendLinear(warped, region, fp.alpha, fp.beta)
    return out


class TestBoundPaste:
    """Compositor.bind / paste (inner rectangle copied, strips blended, colour offset as a table) write
    the same bytes as the plain definition, for rotated, shrunk, clipped and colour-shifted crops."""

    def test_same_bytes_as_the_definition(self, astronaut, astronaut_face):
        import cv2

        rng = np.random.default_rng(0)
        base = crop_transform(astronaut_face, 256)
        for angle, scale, shift, color in [
            (0, 1.0, (0, 0), True),
            (7, 0.8, (5, -3), True),
            (-23, 1.3, (0, 0), True),
            (3, 0.5, (-150, 0), True),
            (12, 1.0, (0, 0), False),
        ]:
            rot = np.vstack([cv2.getRotationMatrix2D((128, 128), angle, scale), [0, 0, 1]])
            affine = (rot @ np.vstack([base, [0, 0, 1]]))[:2]
            affine[:, 2] += shift
            crop = np.clip(crop_image(astronaut, affine, 256).astype(int) + rng.integers(-40, 40, 3), 0, 255)
            crop = crop.astype(np.uint8)
            comp = Compositor(256, CompositorConfig(color_match=color))
            bound = comp.bind(astronaut, affine)
            want = _paste_by_definition(comp, astronaut, crop, affine)
            assert np.array_equal(bound.paste(crop), want), (angle, scale, shift)
            assert np.array_equal(comp.paste(astronaut, crop, affine), want)
            r0, r1, c0, c1 = bound.fp.inner
            full = int((bound.fp.alpha == 1.0).sum())
            assert (r1 - r0) * (c1 - c0) > 0.5 * full, (angle, (r1 - r0) * (c1 - c0), full)  # the copied share

    def test_frame_is_not_modified(self, astronaut, astronaut_face):
        m = crop_transform(astronaut_face, 256)
        before = astronaut.copy()
        Compositor(256).bind(astronaut, m).paste(np.zeros((256, 256, 3), np.uint8))
        assert np.array_equal(astronaut, before)

    def test_footprint_outside_the_frame(self, astronaut, astronaut_face):
        m = crop_transform(astronaut_face, 256).copy()
        m[:, 2] += 5000.0  # the crop lands far off the frame
        out = Compositor(256).bind(astronaut, m).paste(np.zeros((256, 256, 3), np.uint8))
        assert np.array_equal(out, astronaut)


def test_inner_rect_is_inside_and_refuses_holes():
    from streamer.compositor import _inner_rect

    full = np.zeros((9, 12), bool)
    full[2:8, 3:10] = True
    assert _inner_rect(full) == (2, 7, 3, 10)  # centred on the middle row (4): rows 2-6
    full[4, 6] = False  # a hole in the middle row: no rectangle rather than one over the hole
    assert _inner_rect(full) == (0, 0, 0, 0)
    assert _inner_rect(np.zeros((5, 5), bool)) == (0, 0, 0, 0)
