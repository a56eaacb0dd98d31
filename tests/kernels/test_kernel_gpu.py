"""The kernels on a real NVIDIA GPU (pycuda), against the same references as the CPU twins.

Skipped, with the reason, where there is no GPU or no pycuda.
"""

from __future__ import annotations

import numpy as np
import pytest
from kernel_helpers import COLOUR_IDS, COLOURS, assert_float_close, assert_u8_close, similarity

from kernels import reference as ref
from kernels.frames import Colour, Frame, chroma_shape
from kernels.gpu import STATS_BYTES, GpuKernels
from kernels.host import PlanePointers
from streamer.compositor import feather_mask

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def gpu(cuda):
    return GpuKernels()


def upload_frame(cuda, frame: Frame) -> tuple[PlanePointers, list]:
    """Device copies of the planes (tightly pitched) and a PlanePointers describing them."""
    buffers = [cuda.to_device(np.ascontiguousarray(p)) for p in frame.planes]
    pitches = [int(p.shape[1] * (p.shape[2] if p.ndim == 3 else 1)) for p in frame.planes]
    ptrs = [int(b) for b in buffers] + [0] * (3 - len(buffers))
    pitches += [0] * (3 - len(pitches))
    return PlanePointers(frame.format, frame.width, frame.height, tuple(ptrs), tuple(pitches)), buffers


@pytest.mark.parametrize("fmt", ["nv12", "i420", "bgr"])
@pytest.mark.parametrize("colour", COLOURS, ids=COLOUR_IDS)
@pytest.mark.parametrize("half", [False, True])
def test_preprocess_on_gpu(cuda, gpu, photo, affine, fmt, colour, half):
    frame = ref.rgb_to_yuv420(photo, fmt, "bgr", colour) if fmt != "bgr" else Frame.packed(photo)
    ptrs, _keep = upload_frame(cuda, frame)
    dtype = np.float16 if half else np.float32
    out = cuda.mem_alloc(3 * 256 * 256 * np.dtype(dtype).itemsize)
    stream = cuda.Stream()
    gpu.preprocess(ptrs, affine, int(out), 256, half, colour, stream)
    got = np.empty((1, 3, 256, 256), dtype)
    cuda.memcpy_dtoh_async(got, out, stream)
    stream.synchronize()
    expected = ref.preprocess(frame, affine, 256, colour)
    if half:
        assert np.array_equal(got.view(np.uint16), expected.astype(np.float16).view(np.uint16))
    else:
        assert_float_close(got, expected)


@pytest.mark.parametrize("colour_match", [True, False])
def test_paste_on_gpu(cuda, gpu, photo, colour_match):
    matrix = similarity(-25.0, 1.4, (390.0, 20.0), (128.0, 128.0))
    crop = ref.preprocess(Frame.packed(photo), matrix)[0]
    crop = np.clip(crop + np.float32(0.1), -1, 1).astype(np.float32)
    mask = feather_mask(256, 0.12)
    d_frame, d_crop, d_mask = cuda.to_device(photo), cuda.to_device(crop), cuda.to_device(mask)
    stats = cuda.mem_alloc(STATS_BYTES) if colour_match else None
    h, w = photo.shape[:2]
    gpu.paste(int(d_frame), w * 3, w, h, int(d_crop), matrix, int(d_mask), 256, int(stats) if stats else None)
    got = cuda.from_device_like(d_frame, photo)
    assert_u8_close(got, ref.paste(photo, crop, matrix, mask, colour_match))


@pytest.mark.parametrize("fmt", ["nv12", "i420"])
def test_to_yuv420_on_gpu(cuda, gpu, photo, fmt):
    colour = Colour("bt709", False)
    h, w = photo.shape[:2]
    ch, cw = chroma_shape(h, w)
    d_src = cuda.to_device(photo)
    planes = [np.zeros((h, w), np.uint8)]
    planes += [np.zeros((ch, 2 * cw), np.uint8)] if fmt == "nv12" else [np.zeros((ch, cw), np.uint8)] * 2
    d_planes = [cuda.to_device(p) for p in planes]
    pitches = [p.shape[1] for p in planes] + [0] * (3 - len(planes))
    ptrs = [int(d) for d in d_planes] + [0] * (3 - len(planes))
    gpu.to_yuv420(int(d_src), w * 3, PlanePointers(fmt, w, h, tuple(ptrs), tuple(pitches)), "bgr", colour)
    expected = ref.rgb_to_yuv420(photo, fmt, "bgr", colour)
    for d, p, want in zip(d_planes, planes, expected.planes, strict=True):
        assert_u8_close(cuda.from_device_like(d, p), want)
