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
