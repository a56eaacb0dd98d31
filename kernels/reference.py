"""NumPy references of the kernels: the same integer / float32 arithmetic, written array-wise.

These are what the CPU pipeline can use, and what the kernel tests compare against. Each function
names the OpenCV call it reproduces; the tests check each reference against OpenCV where OpenCV has
the same operation:

* :func:`warp_affine_u8` == ``cv2.warpAffine(img, M, (w, h), flags=cv2.INTER_LINEAR,
  borderMode=cv2.BORDER_REPLICATE)`` for uint8 images, bit for bit (OpenCV's 1/32-pixel fixed point).
* :func:`warp_affine_f32` == the same call with ``borderMode=cv2.BORDER_CONSTANT`` (value 0) on a
  float32 single-channel image (the paste-back mask).
* :func:`decode_to_rgb` ~ ``cv2.cvtColor(buf, cv2.COLOR_YUV2RGB_NV12)`` / ``COLOR_YUV2RGB_I420``
  (BT.601 limited range; within 1 level, OpenCV rounds its coefficients to 3 decimals).
* :func:`rgb_to_yuv420` ~ ``cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)`` for luma (BT.601 limited);
  chroma here is the mean of each 2x2 block (OpenCV takes the top-left pixel's).
* :func:`paste` == ``streamer.compositor.Compositor.paste`` (same math; seam means as ``cv2.mean``).
"""

from __future__ import annotations

import numpy as np

from kernels.colour import rgb_to_yuv_coefficients, yuv_to_rgb_coefficients
from kernels.frames import BT601_LIMITED, RGB_SIGNED, Colour, Format, Frame, TensorLayout, chroma_shape
from kernels.host import PasteRegion, paste_region, warp_inverse

_HALF = 1 << 15


# ---- colour ----------------------------------------------------------------------------------------
def yuv_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray, colour: Colour = BT601_LIMITED) -> np.ndarray:
    """Per-sample YUV -> RGB (..., 3) uint8: Q16 integer math, rounded half up, clamped."""
    c = yuv_to_rgb_coefficients(colour)
    yy = c.cy * (y.astype(np.int64) - c.y_offset) + _HALF
    u = u.astype(np.int64) - 128
    v = v.astype(np.int64) - 128
    rgb = [(yy + c.rv * v) >> 16, (yy + c.gu * u + c.gv * v) >> 16, (yy + c.bu * u) >> 16]
    return np.clip(np.stack(rgb, axis=-1), 0, 255).astype(np.uint8)


def decode_to_rgb(frame: Frame, colour: Colour = BT601_LIMITED) -> np.ndarray:
    """Any frame -> (h, w, 3) RGB uint8; 4:2:0 chroma is taken from the sample covering each pixel.

    Reproduces ``cv2.cvtColor(buf, cv2.COLOR_YUV2RGB_NV12 / _I420)`` (BT.601 limited) within 1 level.
    """
    if frame.format == "rgb":
        return np.ascontiguousarray(frame.planes[0])
    if frame.format == "bgr":
        return np.ascontiguousarray(frame.planes[0][..., ::-1])
    h, w = frame.height, frame.width
    if frame.format == "nv12":
        u, v = frame.planes[1][:, 0::2], frame.planes[1][:, 1::2]
    else:
        u, v = frame.planes[1], frame.planes[2]
    u = np.repeat(np.repeat(u, 2, axis=0), 2, axis=1)[:h, :w]
    v = np.repeat(np.repeat(v, 2, axis=0), 2, axis=1)[:h, :w]
    return yuv_to_rgb(frame.planes[0], u, v, colour)


def to_packed(frame: Frame, order: Format = "bgr", colour: Colour = BT601_LIMITED) -> np.ndarray:
    """Any frame -> packed BGR / RGB (``cv2.cvtColor(..., COLOR_YUV2BGR_NV12)`` for BT.601 limited)."""
    rgb = decode_to_rgb(frame, colour)
    return np.ascontiguousarray(rgb[..., ::-1]) if order == "bgr" else rgb


def rgb_to_yuv420(
    image: np.ndarray, fmt: Format = "nv12", order: Format = "bgr", colour: Colour = BT601_LIMITED
) -> Frame:
    """Packed BGR / RGB -> NV12 / I420. Y per pixel; U, V = mean of each 2x2 block's Q16 chroma,
    rounded half up; an odd last row / column is replicated. Luma == ``cv2.cvtColor(rgb,
    cv2.COLOR_RGB2YUV_I420)`` within 1 level (BT.601 limited)."""
    c = rgb_to_yuv_coefficients(colour)
    px = image.astype(np.int64)
    if order == "bgr":
        px = px[..., ::-1]
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    y = np.clip((c.yr * r + c.yg * g + c.yb * b + (c.y_offset << 16) + _HALF) >> 16, 0, 255).astype(np.uint8)
    h, w = y.shape
    ch, cw = chroma_shape(h, w)
    even = np.pad(px, ((0, 2 * ch - h), (0, 2 * cw - w), (0, 0)), mode="edge")
    blocks = even.reshape(ch, 2, cw, 2, 3).sum(axis=(1, 3))
    su = c.ur * blocks[..., 0] + c.ug * blocks[..., 1] + c.ub * blocks[..., 2]
    sv = c.vr * blocks[..., 0] + c.vg * blocks[..., 1] + c.vb * blocks[..., 2]
    u = np.clip((su + (128 << 18) + (1 << 17)) >> 18, 0, 255).astype(np.uint8)
    v = np.clip((sv + (128 << 18) + (1 << 17)) >> 18, 0, 255).astype(np.uint8)
    if fmt == "nv12":
        return Frame.nv12(y, np.stack([u, v], axis=-1).reshape(ch, 2 * cw))
    if fmt == "i420":
        return Frame.i420(y, u, v)
    raise ValueError(f"not a 4:2:0 format: {fmt}")


# ---- affine sampling ---------------------------------------------------------------------------------
def source_positions(inverse: tuple[float, ...], width: int, height: int) -> tuple[np.ndarray, ...]:
    """(ix, iy, fx, fy) of every destination pixel, OpenCV's fixed point (fractions in 1/32).

    Per row ``round((b*y + c) * 1024) + 16``, per column ``round(a*x * 1024)`` (ties to even), summed
    and shifted right by 5, as in OpenCV's ``WarpAffineInvoker``.
    """
    m = inverse
    xs = np.arange(width, dtype=np.float64)
    ys = np.arange(height, dtype=np.float64)

    def rnd(v: np.ndarray) -> np.ndarray:
        return np.rint(np.clip(v, -(2.0**30), 2.0**30)).astype(np.int64)

    sx = (rnd((m[1] * ys + m[2]) * 1024.0)[:, None] + 16 + rnd(m[0] * xs * 1024.0)[None, :]) >> 5
    sy = (rnd((m[4] * ys + m[5]) * 1024.0)[:, None] + 16 + rnd(m[3] * xs * 1024.0)[None, :]) >> 5
    return sx >> 5, sy >> 5, sx & 31, sy & 31


def _bilinear_u8(image: np.ndarray, inverse: tuple[float, ...], dsize: tuple[int, int]) -> np.ndarray:
    """Integer bilinear with edge replication at OpenCV's source positions (rounded half up)."""
    ix, iy, fx, fy = source_positions(inverse, *dsize)
    h, w = image.shape[:2]
    x0, x1 = np.clip(ix, 0, w - 1), np.clip(ix + 1, 0, w - 1)
    y0, y1 = np.clip(iy, 0, h - 1), np.clip(iy + 1, 0, h - 1)
    src = image.astype(np.int64)
    if image.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    acc = (
        src[y0, x0] * ((32 - fx) * (32 - fy))
        + src[y0, x1] * (fx * (32 - fy))
        + src[y1, x0] * ((32 - fx) * fy)
        + src[y1, x1] * (fx * fy)
    )
    return ((acc + 512) >> 10).astype(np.uint8)


def _bilinear_f32_zero(image: np.ndarray, inverse: tuple[float, ...], dsize: tuple[int, int]) -> np.ndarray:
    """Float32 bilinear with a zero border, OpenCV's weights ((1-a)(1-b), ...) and summation order."""
    ix, iy, fx, fy = source_positions(inverse, *dsize)
    h, w = image.shape
    ax, ay = fx.astype(np.float32) * np.float32(1 / 32), fy.astype(np.float32) * np.float32(1 / 32)
    wx, wy = (np.float32(1) - ax, ax), (np.float32(1) - ay, ay)
    acc = np.zeros(ix.shape, np.float32)
    for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        xx, yy = ix + dx, iy + dy
        inside = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
        v = np.where(inside, image[np.clip(yy, 0, h - 1), np.clip(xx, 0, w - 1)], np.float32(0)).astype(np.float32)
        term = v * (wy[dy] * wx[dx])
        acc = term if k == 0 else acc + term
    return acc


def warp_affine_u8(image: np.ndarray, affine: np.ndarray, dsize: tuple[int, int]) -> np.ndarray:
    """``cv2.warpAffine(image, affine, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)``
    for uint8 (h, w) or (h, w, C) images, bit for bit."""
    return _bilinear_u8(image, warp_inverse(affine), dsize)


def warp_affine_f32(image: np.ndarray, affine: np.ndarray, dsize: tuple[int, int]) -> np.ndarray:
    """``cv2.warpAffine(image, affine, dsize, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)``
    for a float32 (h, w) image (value 0 outside)."""
    return _bilinear_f32_zero(image, warp_inverse(affine), dsize)


# ---- normalisation -----------------------------------------------------------------------------------
def normalize(rgb: np.ndarray, layout: TensorLayout = RGB_SIGNED) -> np.ndarray:
    """(h, w, 3) uint8 RGB -> (3, h, w) float32: ``u8 * scale + bias`` in float32, planes in the
    layout's order (e.g. ``image_to_input`` of the BGR image for ``BGR_SIGNED``)."""
    _, scale, bias = layout.forward()
    v = rgb.astype(np.float32).transpose(2, 0, 1)
    if layout.order == "bgr":
        v = v[::-1]
    return np.ascontiguousarray(v * np.float32(scale) + np.float32(bias))


def denormalize(chw: np.ndarray, order: Format = "bgr", layout: TensorLayout = RGB_SIGNED) -> np.ndarray:
    """(3, h, w) tensor (float32 or float16, planes in the layout's order) -> (h, w, 3) uint8 in channel
    ``order``: clamp(floor((x + offset) * gain + 0.5)) in float32, NaN -> 0 (``output_to_image`` for
    ``BGR_SIGNED``)."""
    _, offset, gain = layout.inverse()
    x = np.asarray(chw).astype(np.float32)
    v = (x + np.float32(offset)) * np.float32(gain) + np.float32(0.5)
    v = np.where(np.isnan(v), np.float32(0), v)
    out = np.clip(v, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    return np.ascontiguousarray(out if order == layout.order else out[..., ::-1])


def preprocess(
    frame: Frame,
    affine: np.ndarray,
    size: int = 256,
    colour: Colour = BT601_LIMITED,
    dtype: type = np.float32,
    layout: TensorLayout = RGB_SIGNED,
) -> np.ndarray:
    """(1, 3, size, size) engine input: ``normalize(cv2.warpAffine(cv2.cvtColor(frame -> RGB), affine,
    (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE), layout)``."""
    crop = warp_affine_u8(decode_to_rgb(frame, colour), affine, (size, size))
    return normalize(crop, layout)[None].astype(dtype)


# ---- paste-back --------------------------------------------------------------------------------------
def _paste_samples(
    frame: np.ndarray,
    crop_chw: np.ndarray,
    region: PasteRegion,
    mask: np.ndarray,
    order: Format,
    layout: TensorLayout,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame region, warped crop, alpha), float32, of a paste region: ``Compositor.paste``'s
    ``cv2.warpAffine`` of the crop (replicate) and of the mask (zero border) through ``local``."""
    dsize = (region.width, region.height)
    warped = _bilinear_u8(denormalize(crop_chw, order, layout), region.inverse, dsize).astype(np.float32)
    alpha = _bilinear_f32_zero(mask.astype(np.float32), region.inverse, dsize)
    y, x = region.y0, region.x0
    part = frame[y : y + region.height, x : x + region.width].astype(np.float32)
    return part, warped, alpha


def seam_stats(
    frame: np.ndarray,
    crop_chw: np.ndarray,
    affine: np.ndarray,
    mask: np.ndarray,
    order: Format = "bgr",
    layout: TensorLayout = RGB_SIGNED,
) -> np.ndarray:
    """int64 [frame sums (3), warped-crop sums (3), count] over the feather band 0.05 < alpha < 0.95,
    per frame channel: the sums behind ``Compositor.paste``'s ``cv2.mean(region, band)`` and
    ``cv2.mean(warped, band)``."""
    region = paste_region(affine, mask.shape[0], frame.shape[1], frame.shape[0])
    if region is None:
        return np.zeros(7, np.int64)
    part, warped, alpha = _paste_samples(frame, crop_chw, region, mask, order, layout)
    band = (alpha > np.float32(0.05)) & (alpha < np.float32(0.95))
    sums = [part[band].astype(np.int64).sum(axis=0), warped[band].astype(np.int64).sum(axis=0)]
    return np.array([*sums[0], *sums[1], int(band.sum())], np.int64)


def seam_offset(stats: np.ndarray) -> np.ndarray | None:
    """int (3,) round(mean(frame) - mean(crop)) over the band: each mean = sum * (1 / count) in double
    (``cv2.mean``), the difference rounded half to even (``cv2.add(uint8, scalar)`` rounds its scalar);
    None when the band has fewer than 16 pixels."""
    count = int(stats[6])
    if count < 16:
        return None
    scale = 1.0 / count
    return np.rint(stats[0:3].astype(np.float64) * scale - stats[3:6].astype(np.float64) * scale).astype(np.int64)


def blend_linear(crop: np.ndarray, frame: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``cv2.blendLinear(crop, frame, alpha, 1 - alpha)`` for uint8 (h, w, 3) images and float32 (h, w)
    weights: round_half_even((c * a + f * b) / ((a + b) + 1e-5)), float32 steps, saturated."""
    a = alpha.astype(np.float32)[..., None]
    b = (np.float32(1) - alpha.astype(np.float32))[..., None]
    num = crop.astype(np.float32) * a + frame.astype(np.float32) * b
    return np.clip(np.rint(num / ((a + b) + np.float32(1e-5))), 0, 255).astype(np.uint8)


def paste(
    frame: np.ndarray,
    crop_chw: np.ndarray,
    affine: np.ndarray,
    mask: np.ndarray,
    colour_match: bool = True,
    order: Format = "bgr",
    layout: TensorLayout = RGB_SIGNED,
) -> np.ndarray:
    """A copy of ``frame`` (packed uint8) with the generated crop ((3, S, S) tensor in ``layout``)
    pasted back: ``Compositor(S, CompositorConfig(color_match=...)).paste(frame, denormalize(crop, order,
    layout), affine)``
    with the mask ``mask``: c = clamp(warped + round(seam offset)), out = blend_linear(c, f, alpha)."""
    out = frame.copy()
    region = paste_region(affine, mask.shape[0], frame.shape[1], frame.shape[0])
    if region is None:
        return out
    part, warped, alpha = _paste_samples(frame, crop_chw, region, mask, order, layout)
    offset = seam_offset(seam_stats(frame, crop_chw, affine, mask, order, layout)) if colour_match else None
    if offset is not None:
        warped = np.clip(warped + offset[None, None, :].astype(np.float32), 0, 255)
    y, x = region.y0, region.x0
    out[y : y + region.height, x : x + region.width] = blend_linear(warped, part, alpha)
    return out
