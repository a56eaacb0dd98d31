"""Tensor layouts: the kernels write and read the networks' own tensors (RGB / BGR planes, [-1, 1] or
0..255), checked against the runtime's own NumPy conversions, not only against our references."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from kernel_helpers import assert_float_close, assert_u8_close

from kernels import reference as ref
from kernels.frames import BGR_PIXELS, BGR_SIGNED, RGB_SIGNED, Frame, TensorLayout
from streamer.compositor import Compositor, CompositorConfig
from streamer.models.rfg_inputs import image_to_input, output_to_image

LAYOUTS = {"rgb-signed": RGB_SIGNED, "bgr-signed": BGR_SIGNED, "bgr-pixels": BGR_PIXELS}


def _warped_bgr(photo: np.ndarray, affine: np.ndarray) -> np.ndarray:
    return cv2.warpAffine(photo, affine, (256, 256), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def test_layout_arguments():
    """forward = (plane order code, scale, bias); inverse = (code, -bias, 1 / scale)."""
    assert BGR_SIGNED.inverse() == (2, 1.0, 127.5)
    assert BGR_PIXELS.forward() == (2, 1.0, 0.0) and BGR_PIXELS.inverse() == (2, 0.0, 1.0)
    assert RGB_SIGNED.forward()[0] == 3
    with pytest.raises(ValueError):
        TensorLayout("yuv")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TensorLayout("rgb", 0.0, 0.0)


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_preprocess_layouts_match_reference(cpu, photo, affine, name):
    layout = LAYOUTS[name]
    got = cpu.preprocess(Frame.packed(photo), affine, 256, layout=layout)
    assert_float_close(got, ref.preprocess(Frame.packed(photo), affine, 256, layout=layout), tol=0)


def test_preprocess_writes_the_rfg_input(cpu, photo, affine):
    """BGR_SIGNED is exactly ``image_to_input`` of the aligned BGR crop (what the RFG graphs take)."""
    got = cpu.preprocess(Frame.packed(photo), affine, 256, layout=BGR_SIGNED)[0]
    assert np.array_equal(got, image_to_input(_warped_bgr(photo, affine)))


def test_preprocess_writes_the_pixel_warp_input(cpu, photo, affine):
    """BGR_PIXELS is the aligned BGR crop as float planes, 0..255 (``PixelMapWarp``'s input)."""
    got = cpu.preprocess(Frame.packed(photo), affine, 256, layout=BGR_PIXELS)[0]
    assert np.array_equal(got, _warped_bgr(photo, affine).transpose(2, 0, 1).astype(np.float32))


@pytest.mark.parametrize("order", ["bgr", "rgb"])
def test_denormalize_reads_the_rfg_output(cpu, order):
    """BGR_SIGNED denormalize == ``output_to_image`` (BGR), in either output channel order."""
    rng = np.random.default_rng(3)
    out = rng.uniform(-1.1, 1.1, (3, 64, 48)).astype(np.float32)
    want = output_to_image(out)
    want = want if order == "bgr" else np.ascontiguousarray(want[..., ::-1])
    assert np.array_equal(cpu.denormalize(out, order, BGR_SIGNED), want)
    assert np.array_equal(ref.denormalize(out, order, BGR_SIGNED), want)


@pytest.mark.parametrize("name", list(LAYOUTS))
@pytest.mark.parametrize("colour_match", [True, False])
def test_paste_layouts_match_compositor(cpu, photo, affine, name, colour_match):
    """Pasting a tensor in any layout == Compositor.paste of that tensor turned into a BGR image."""
    layout = LAYOUTS[name]
    tensor = cpu.preprocess(Frame.packed(photo), affine, 256, layout=layout)[0]
    tensor = tensor + np.float32(0.03 if layout.scale < 1 else 7.0)  # a generator-like colour shift
    compositor = Compositor(256, CompositorConfig(color_match=colour_match))
    want = compositor.paste(photo, ref.denormalize(tensor, "bgr", layout), affine)
    got = cpu.paste(photo, tensor, affine, compositor.mask, colour_match, layout=layout)
    assert_u8_close(got, want, tol=0)
    assert_u8_close(ref.paste(photo, tensor, affine, compositor.mask, colour_match, layout=layout), want, tol=0)
