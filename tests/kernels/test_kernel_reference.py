"""The NumPy references against OpenCV (and the project's Compositor) where they do the same thing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from kernel_helpers import COLOUR_IDS, COLOURS, assert_float_close, assert_u8_close, similarity

from kernels import reference as ref
from kernels.colour import KR_KB, scales
from kernels.frames import Colour, Frame
from kernels.host import paste_region, warp_inverse
from streamer.compositor import Compositor, CompositorConfig, feather_mask

AFFINES = {
    "rotate-zoom-in": similarity(17.0, 0.9, (205.3, 95.9), (131.7, 110.2)),
    "zoom-out": similarity(-8.0, 2.3, (300.0, 40.0), (40.0, 200.0)),
    "shear": np.array([[0.8, 0.35, -20.25], [-0.15, 1.1, 13.3]]),
    "far-outside": similarity(60.0, 0.5, (-40.0, 500.0), (128.0, 128.0)),
}


@pytest.mark.parametrize("name", list(AFFINES))
@pytest.mark.parametrize("dsize", [(256, 256), (97, 130)])
def test_warp_u8_is_opencv_bit_for_bit(photo, name, dsize):
    expected = cv2.warpAffine(photo, AFFINES[name], dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(ref.warp_affine_u8(photo, AFFINES[name], dsize), expected)
    grey = np.ascontiguousarray(photo[..., 1])
    expected = cv2.warpAffine(grey, AFFINES[name], dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.array_equal(ref.warp_affine_u8(grey, AFFINES[name], dsize), expected)


@pytest.mark.parametrize("name", list(AFFINES))
def test_warp_f32_mask_is_opencv(photo, name):
    """The mask warp of the paste-back: float32, zero border, into a frame-sized canvas."""
    mask = feather_mask(256, 0.12)
    inv = np.array(warp_inverse(AFFINES[name])).reshape(2, 3)  # crop -> frame, as the paste uses it
    dsize = (photo.shape[1], photo.shape[0])
    expected = cv2.warpAffine(mask, inv, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    assert_float_close(ref.warp_affine_f32(mask, inv, dsize), expected, 1e-6)


def test_opencv_inverse_matches_cv2_invert(affine):
    assert np.allclose(np.array(warp_inverse(affine)).reshape(2, 3), cv2.invertAffineTransform(affine), atol=1e-12)


@pytest.mark.parametrize(("fmt", "code"), [("nv12", cv2.COLOR_YUV2RGB_NV12), ("i420", cv2.COLOR_YUV2RGB_I420)])
def test_decode_matches_cvtcolor_bt601_limited(even_photo, fmt, code):
    """cv2.cvtColor(..., COLOR_YUV2RGB_NV12 / _I420) is BT.601 limited range."""
    h, w = even_photo.shape[:2]
    buf = cv2.cvtColor(even_photo, cv2.COLOR_BGR2YUV_I420)
    frame = Frame.from_opencv_yuv420(buf, w, h, "i420")
    if fmt == "nv12":
        frame = Frame.nv12(frame.planes[0], np.stack(frame.planes[1:], axis=-1).reshape(h // 2, w))
    assert_u8_close(ref.decode_to_rgb(frame), cv2.cvtColor(frame.to_opencv_yuv420(), code))
    assert_u8_close(ref.to_packed(frame, "bgr"), cv2.cvtColor(frame.to_opencv_yuv420(), code)[..., ::-1])


def test_full_range_bt601_matches_ycrcb(photo):
    """cv2's YCrCb conversions are full-range BT.601 (JPEG), per pixel."""
    ycrcb = cv2.cvtColor(photo, cv2.COLOR_BGR2YCrCb)
    y, cr, cb = ycrcb[..., 0], ycrcb[..., 1], ycrcb[..., 2]
    rgb = ref.yuv_to_rgb(y, cb, cr, Colour("bt601", True))
    assert_u8_close(rgb, cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB))


@pytest.mark.parametrize("colour", COLOURS, ids=COLOUR_IDS)
def test_yuv_to_rgb_matches_the_standard(colour):
    """Against the float definition (R = E_Y + 2(1 - Kr) E_Cr, ...), over a grid of legal samples."""
    kr, kb = KR_KB[colour.matrix]
    y0, ys, cs = scales(colour)
    y, u, v = np.meshgrid(np.arange(y0, y0 + ys + 1, 3), np.arange(16, 241, 7), np.arange(16, 241, 5), indexing="ij")
    ey, ecb, ecr = (y - y0) / ys, (u - 128) / cs, (v - 128) / cs
    kg = 1 - kr - kb
    r = ey + 2 * (1 - kr) * ecr
    b = ey + 2 * (1 - kb) * ecb
    g = (ey - kr * r - kb * b) / kg
    expected = np.clip(np.floor(np.stack([r, g, b], -1) * 255 + 0.5), 0, 255)
    assert_u8_close(ref.yuv_to_rgb(y.astype(np.uint8), u.astype(np.uint8), v.astype(np.uint8), colour), expected)


def test_luma_matches_cvtcolor_i420(even_photo):
    h, w = even_photo.shape[:2]
    expected = cv2.cvtColor(even_photo, cv2.COLOR_BGR2YUV_I420)
    frame = ref.rgb_to_yuv420(even_photo, "i420", "bgr")
    assert_u8_close(frame.planes[0], expected[:h])


def test_chroma_matches_cvtcolor_on_flat_blocks(even_photo):
    """OpenCV takes each 2x2 block's top-left chroma, we average the block: equal on flat blocks."""
    h, w = even_photo.shape[:2]
    flat = np.ascontiguousarray(np.repeat(np.repeat(even_photo[::2, ::2], 2, axis=0), 2, axis=1))
    expected = Frame.from_opencv_yuv420(cv2.cvtColor(flat, cv2.COLOR_BGR2YUV_I420), w, h, "i420")
    got = ref.rgb_to_yuv420(flat, "i420", "bgr")
    for plane, want in zip(got.planes, expected.planes, strict=True):
        assert_u8_close(plane, want)
    ycrcb = cv2.cvtColor(flat, cv2.COLOR_BGR2YCrCb)  # full-range BT.601
    full = ref.rgb_to_yuv420(flat, "i420", "bgr", Colour("bt601", True))
    assert_u8_close(full.planes[0], ycrcb[..., 0])
    assert_u8_close(full.planes[1], ycrcb[::2, ::2, 2])
    assert_u8_close(full.planes[2], ycrcb[::2, ::2, 1])


@pytest.mark.parametrize("colour", COLOURS, ids=COLOUR_IDS)
def test_yuv420_round_trip(photo, colour):
    """RGB -> NV12 -> RGB on a real photo: only chroma subsampling loses detail."""
    frame = ref.rgb_to_yuv420(photo, "nv12", "bgr", colour)
    back = ref.to_packed(frame, "bgr", colour).astype(np.int32)
    luma_only = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY).astype(np.int32)
    assert np.abs(back - photo).mean() < 3.0
    assert np.abs(cv2.cvtColor(back.astype(np.uint8), cv2.COLOR_BGR2GRAY) - luma_only).max() <= 12


def test_preprocess_matches_opencv_pipeline(photo, affine):
    """BGR input: exactly normalize(cv2.warpAffine(cv2.cvtColor(BGR2RGB))) in NCHW."""
    crop = cv2.warpAffine(
        cv2.cvtColor(photo, cv2.COLOR_BGR2RGB), affine, (256, 256), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    expected = ((crop.astype(np.float32) / 255 - 0.5) / 0.5).transpose(2, 0, 1)[None]
    got = ref.preprocess(Frame.packed(photo), affine)
    assert got.dtype == np.float32 and got.shape == (1, 3, 256, 256)
    assert_float_close(got, expected)


def test_preprocess_nv12_close_to_opencv(even_photo, affine):
    h, w = even_photo.shape[:2]
    buf = cv2.cvtColor(even_photo, cv2.COLOR_BGR2YUV_I420)
    rgb = cv2.cvtColor(buf, cv2.COLOR_YUV2RGB_I420)
    crop = cv2.warpAffine(rgb, affine, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    expected = ((crop.astype(np.float32) / 255 - 0.5) / 0.5).transpose(2, 0, 1)[None]
    got = ref.preprocess(Frame.from_opencv_yuv420(buf, w, h, "i420"), affine)
    assert_float_close(got, expected, 2 / 255 + 1e-6)  # 1 level of YUV conversion difference


def test_normalize_round_trip():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    rgb = np.stack([levels, levels.T, 255 - levels], axis=-1)
    assert np.array_equal(ref.denormalize(ref.normalize(rgb), "rgb"), rgb)
    assert np.array_equal(ref.denormalize(ref.normalize(rgb).astype(np.float16), "rgb"), rgb)


@pytest.mark.parametrize("colour_match", [True, False])
@pytest.mark.parametrize(
    ("feather", "matrix"),
    [
        (0.12, similarity(17.0, 0.9, (205.3, 95.9), (131.7, 110.2))),
        (0.2, similarity(-25.0, 1.4, (390.0, 20.0), (128.0, 128.0))),  # crop hangs over the corner
    ],
)
def test_paste_matches_compositor(photo, colour_match, feather, matrix):
    """reference.paste == Compositor.paste(frame, denormalize(crop), affine)."""
    crop = ref.preprocess(Frame.packed(photo), matrix)[0]
    crop = np.clip(crop + np.float32(0.15) * np.sin(np.arange(256, dtype=np.float32) / 9), -1, 1)  # a colour shift
    compositor = Compositor(256, CompositorConfig(feather=feather, color_match=colour_match))
    expected = compositor.paste(photo, ref.denormalize(crop), matrix)
    got = ref.paste(photo, crop, matrix, compositor.mask, colour_match)
    assert_u8_close(got, expected)
    assert (got != photo).any()


def test_paste_region_outside_frame(photo):
    assert paste_region(similarity(0.0, 1.0, (-600.0, -600.0), (128.0, 128.0)), 256, 421, 301) is None
    crop = np.zeros((3, 256, 256), np.float32)
    far = similarity(0.0, 1.0, (-600.0, -600.0), (128.0, 128.0))
    assert np.array_equal(ref.paste(photo, crop, far, feather_mask(256, 0.12)), photo)
