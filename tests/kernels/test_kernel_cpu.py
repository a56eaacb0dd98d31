"""The kernels themselves, built for the CPU with the grid emulation, against the NumPy references.

Tolerances: 1 level on 8-bit outputs, 1e-5 on float outputs (the kernels are designed to be bit
exact: integer colour and sampling math, explicitly rounded float steps).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest
from kernel_helpers import (
    COLOUR_IDS,
    COLOURS,
    assert_float_close,
    assert_u8_close,
    shared_file,
    similarity,
)

import kernels
from kernels import reference as ref
from kernels.colour import rgb_to_yuv_coefficients, yuv_to_rgb_coefficients
from kernels.cpu_build import build_cpu_library
from kernels.frames import Colour, Frame
from kernels.host import KERNEL_ARGS, paste_region
from streamer.compositor import Compositor, CompositorConfig, feather_mask

FORMATS = ["nv12", "i420", "bgr", "rgb"]


def make_frame(photo: np.ndarray, fmt: str, colour: Colour, pad: int = 0) -> Frame:
    """``photo`` (BGR) as a frame of format ``fmt``; rows padded by ``pad`` bytes (a decoder pitch)."""
    if fmt in ("nv12", "i420"):
        frame = ref.rgb_to_yuv420(photo, fmt, "bgr", colour)
    elif fmt == "bgr":
        frame = Frame.packed(photo, "bgr")
    else:
        frame = Frame.packed(np.ascontiguousarray(photo[..., ::-1]), "rgb")
    return frame.copy_with_pitch(pad) if pad else frame


def shifted_crop(crop: np.ndarray) -> np.ndarray:
    """A generator-like output: the crop with a smooth colour shift (so the seam match has work)."""
    ramp = np.float32(0.15) * np.sin(np.arange(crop.shape[-1], dtype=np.float32) / 9)
    return np.clip(crop + ramp * np.array([1, -0.5, 0.8], np.float32)[:, None, None], -1, 1).astype(np.float32)


# ---- the library ------------------------------------------------------------------------------------
def test_library_is_cached_by_source_hash(cpu):
    """A second build reuses the cached library (no recompile), which lives outside the package."""
    before = cpu.path.stat().st_mtime_ns
    path = build_cpu_library()
    assert path == cpu.path and path.stat().st_mtime_ns == before
    assert Path(kernels.__file__).resolve().parent not in path.resolve().parents


def test_signatures_match_the_host_specs(cpu):
    """The arguments Python packs are the kernels' declared parameters (checked at load, here explicitly)."""
    for name, codes in KERNEL_ARGS.items():
        assert cpu._lib.reenact_cpu_signature(name.encode()).decode() == codes


@pytest.mark.parametrize("colour", COLOURS, ids=COLOUR_IDS)
def test_colour_table_matches_the_derivation(cpu, colour):
    """common.cuh's Q16 table == kernels/colour.py's derivation from Kr, Kb and the ranges."""
    to_rgb, to_yuv = cpu.colour_coefficients(colour)
    assert to_rgb == tuple(yuv_to_rgb_coefficients(colour))
    assert to_yuv == tuple(rgb_to_yuv_coefficients(colour))


def test_float_to_half_rounds_like_numpy(cpu):
    fn = cpu._lib.reenact_cpu_float_to_half
    fn.restype, fn.argtypes = ctypes.c_ushort, [ctypes.c_float]
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [
            rng.uniform(-1, 1, 2000).astype(np.float32),
            np.float32([0, -0.0, 1, -1, 65504, 65520, 1e6, -1e6, 6e-8, 3e-8, 1e-10, np.inf, -np.inf]),
            (np.arange(-2048, 2048, dtype=np.float32) + np.float32(0.5)) / np.float32(1024),  # ties
        ]
    )
    got = np.array([fn(float(v)) for v in values], np.uint16)
    with np.errstate(over="ignore"):
        expected = values.astype(np.float16).view(np.uint16)
    assert np.array_equal(got, expected)


# ---- pre-processing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("colour", COLOURS, ids=COLOUR_IDS)
def test_preprocess_matches_reference(cpu, photo, affine, fmt, colour):
    frame = make_frame(photo, fmt, colour, pad=7)
    expected = ref.preprocess(frame, affine, 256, colour)
    got = cpu.preprocess(frame, affine, 256, colour)
    assert got.dtype == np.float32 and got.shape == (1, 3, 256, 256)
    assert_float_close(got, expected)
    half = cpu.preprocess(frame, affine, 256, colour, np.float16)
    assert half.dtype == np.float16
    assert np.array_equal(half.view(np.uint16), expected.astype(np.float16).view(np.uint16))


def test_preprocess_writes_into_a_batch_slot(cpu, photo, affine):
    """The kernel writes straight into an engine input buffer: slot 1 of a batch of 3, the rest untouched."""
    batch = np.full((3, 3, 128, 128), 7.0, np.float32)
    cpu.preprocess(Frame.packed(photo), affine * 0.5, 128, out=batch[1])
    assert_float_close(batch[1:2], ref.preprocess(Frame.packed(photo), affine * 0.5, 128))
    assert (batch[0] == 7.0).all() and (batch[2] == 7.0).all()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("colour", [COLOURS[0], COLOURS[3]], ids=[COLOUR_IDS[0], COLOUR_IDS[3]])
def test_to_packed_matches_reference(cpu, photo, fmt, colour):
    frame = make_frame(photo, fmt, colour, pad=5)
    for order in ("bgr", "rgb"):
        assert_u8_close(cpu.to_packed(frame, order, colour), ref.to_packed(frame, order, colour))


# ---- post-processing --------------------------------------------------------------------------------
def test_denormalize_matches_reference(cpu, photo, affine):
    crop = shifted_crop(ref.preprocess(Frame.packed(photo), affine)[0])
    edge = np.float32([-1, 1, -1.5, 1.5, np.nan, np.inf, -np.inf, 0, 1 / 255, -1 / 255])
    crop[:, 0, : edge.size] = edge
    crop[:, 1, :] = (np.arange(256, dtype=np.float32) / np.float32(127.5)) - 1  # every level
    for order in ("bgr", "rgb"):
        assert_u8_close(cpu.denormalize(crop, order), ref.denormalize(crop, order), tol=0)
        half = crop.astype(np.float16)
        assert_u8_close(cpu.denormalize(half, order), ref.denormalize(half, order), tol=0)


@pytest.mark.parametrize("max_blocks", [1, 3, 8, 10_000])
def test_seam_stats_match_reference_for_any_grid(cpu, photo, affine, max_blocks):
    """The block reduction (shared memory + __syncthreads, run as fibers on the CPU) is grid-size free."""
    crop = shifted_crop(ref.preprocess(Frame.packed(photo), affine)[0])
    mask = feather_mask(256, 0.12)
    expected = ref.seam_stats(photo, crop, affine, mask)
    assert expected[6] > 1000
    assert np.array_equal(cpu.seam_stats(photo, crop, affine, mask, max_blocks=max_blocks), expected)


PASTES = {
    "face": (similarity(17.0, 0.9, (205.3, 95.9), (131.7, 110.2)), 0.12),
    "over-corner": (similarity(-25.0, 1.4, (390.0, 20.0), (128.0, 128.0)), 0.2),
    "small-shear": (np.array([[1.9, 0.4, -210.0], [-0.3, 2.2, -120.0]]), 0.12),
}


@pytest.mark.parametrize("name", list(PASTES))
@pytest.mark.parametrize("colour_match", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_paste_matches_reference_and_compositor(cpu, photo, name, colour_match, dtype):
    matrix, feather = PASTES[name]
    crop = shifted_crop(ref.preprocess(Frame.packed(photo), matrix)[0]).astype(dtype)
    mask = feather_mask(256, feather)
    got = cpu.paste(photo, crop, matrix, mask, colour_match)
    assert_u8_close(got, ref.paste(photo, crop, matrix, mask, colour_match))
    compositor = Compositor(256, CompositorConfig(feather=feather, color_match=colour_match))
    assert_u8_close(got, compositor.paste(photo, ref.denormalize(crop), matrix))


def test_paste_outside_the_frame_leaves_it_alone(cpu, photo):
    far = similarity(0.0, 1.0, (-600.0, -600.0), (128.0, 128.0))
    crop = np.zeros((3, 256, 256), np.float32)
    assert np.array_equal(cpu.paste(photo, crop, far, feather_mask(256, 0.12)), photo)


@pytest.mark.parametrize("fmt", ["nv12", "i420"])
@pytest.mark.parametrize("colour", COLOURS, ids=COLOUR_IDS)
@pytest.mark.parametrize("shape", [(301, 421), (300, 420)], ids=["odd", "even"])
def test_to_yuv420_matches_reference(cpu, photo, fmt, colour, shape):
    image = np.ascontiguousarray(photo[: shape[0], : shape[1]])
    expected = ref.rgb_to_yuv420(image, fmt, "bgr", colour)
    got = cpu.to_yuv420(image, fmt, "bgr", colour, pad=9)
    assert got.pitches[0] > shape[1]  # really a padded pitch
    for plane, want in zip(got.planes, expected.planes, strict=True):
        assert_u8_close(plane, want)
    rgb_input = np.ascontiguousarray(image[..., ::-1])
    for plane, want in zip(cpu.to_yuv420(rgb_input, fmt, "rgb", colour).planes, expected.planes, strict=True):
        assert_u8_close(plane, want)


# ---- the convention, pinned with asymmetric input -------------------------------------------------------
def test_crop_convention_with_an_off_centre_dot(cpu):
    """A dot at frame pixel p lands at crop pixel M @ p (M: frame -> crop, OpenCV's convention), for a
    non-square frame, a rotation + translation and a point far from every centre; and a dot at crop
    pixel q goes back to frame pixel M^-1 @ q on paste."""
    h, w = 240, 400
    frame = np.zeros((h, w, 3), np.uint8)
    p = np.array([311.0, 57.0])
    frame[57, 311] = (0, 0, 255)  # red in BGR
    matrix = similarity(30.0, 1.0, (300.0, 60.0), (70.0, 40.0))
    crop = cpu.preprocess(Frame.packed(frame), matrix, 128)[0]
    red = crop[0] - crop[2]
    expected = matrix[:, :2] @ p + matrix[:, 2]
    y, x = np.unravel_index(red.argmax(), red.shape)
    assert abs(x - expected[0]) <= 0.5 and abs(y - expected[1]) <= 0.5, ((x, y), expected)

    # paste: a green dot at an off-centre crop pixel, inside the mask's flat part
    q = np.array([90.0, 50.0])
    out_crop = np.full((3, 128, 128), -1.0, np.float32)
    out_crop[1, 50, 90] = 1.0
    mask = np.ones((128, 128), np.float32)
    pasted = cpu.paste(np.zeros((h, w, 3), np.uint8), out_crop, matrix, mask, colour_match=False)
    inv = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    back = inv[:, :2] @ q + inv[:, 2]
    y, x = np.unravel_index(pasted[..., 1].astype(int).argmax(), pasted.shape[:2])
    assert abs(x - back[0]) <= 1 and abs(y - back[1]) <= 1, ((x, y), back)
    assert pasted[..., 0].max() == 0 and pasted[..., 2].max() == 0  # channel order kept


def test_full_chain_nv12_in_nv12_out(cpu, photo, affine):
    """Decode NV12 -> BGR frame, crop -> engine input, 'generate' (identity + shift), paste, encode NV12:
    the kernels chained as the GPU path chains them, against the references chained the same way."""
    colour = Colour("bt709", False)
    decoded = make_frame(photo[:300, :420], "nv12", colour, pad=12)
    mask = feather_mask(256, 0.12)
    got_bgr = cpu.to_packed(decoded, "bgr", colour)
    ref_bgr = ref.to_packed(decoded, "bgr", colour)
    assert_u8_close(got_bgr, ref_bgr)
    got_out = shifted_crop(cpu.preprocess(decoded, affine, 256, colour)[0])
    ref_out = shifted_crop(ref.preprocess(decoded, affine, 256, colour)[0])
    assert_float_close(got_out, ref_out)
    got = cpu.to_yuv420(cpu.paste(got_bgr, got_out, affine, mask), "nv12", "bgr", colour)
    want = ref.rgb_to_yuv420(ref.paste(ref_bgr, ref_out, affine, mask), "nv12", "bgr", colour)
    for plane, expected in zip(got.planes, want.planes, strict=True):
        assert_u8_close(plane, expected)


@pytest.mark.shared_data
def test_real_video_frame(cpu):
    """A real decoded NV12 frame (a vertical phone video, decoder pitch) through the crop kernel."""
    av = pytest.importorskip("av")
    path = shared_file("raw/LivePortrait/assets/examples/driving/d13.mp4")
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).reformat(format="nv12")
    h, w = frame.height, frame.width
    y = np.frombuffer(frame.planes[0], np.uint8).reshape(-1, frame.planes[0].line_size)[:h, :w]
    uv = np.frombuffer(frame.planes[1], np.uint8).reshape(-1, frame.planes[1].line_size)[
        : (h + 1) // 2, : 2 * ((w + 1) // 2)
    ]
    nv12 = Frame.nv12(y, uv)
    matrix = similarity(-6.0, 256 / 420, (w / 2, h * 0.35), (128.0, 120.0))
    colour = Colour("bt709", False)
    assert_float_close(cpu.preprocess(nv12, matrix, 256, colour), ref.preprocess(nv12, matrix, 256, colour))
    assert paste_region(matrix, 256, w, h) is not None
