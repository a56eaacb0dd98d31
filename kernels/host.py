"""Host-side launch parameters, shared by the CPU-emulated library and the GPU (pycuda) glue.

Everything a kernel needs that is computed once per frame on the host lives here: the inverse
matrices (computed exactly the way ``cv2.warpAffine`` inverts, so sampling positions match OpenCV
bit for bit), the paste-back region (as ``streamer.compositor.Compositor.paste`` computes it) and
the grid / block shapes. A :class:`Launch` holds the arguments in kernel order, with pointers as
integers (host addresses for the CPU build, device addresses on the GPU).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kernels.affine import invert_affine
from kernels.frames import BT601_LIMITED, FORMAT_CODES, RGB_SIGNED, Colour, Format, TensorLayout

#: Argument codes of every kernel ('d' double, 'P' pointer, 'i' int32, 'f' float32), in kernel order. The CPU
#: library reports the codes deduced from kernels/cuda/kernels.cuh and cpu_build checks them; the
#: same strings are pycuda ``prepare`` formats.
KERNEL_ARGS: dict[str, str] = {
    "reenact_preprocess_f32": "ddddddPPPPiiiiiiiiiiff",
    "reenact_preprocess_f16": "ddddddPPPPiiiiiiiiiiff",
    "reenact_to_packed": "PPPPiiiiiiiiii",
    "reenact_denormalize_f32": "PPiiiiiff",
    "reenact_denormalize_f16": "PPiiiiiff",
    "reenact_seam_stats_f32": "ddddddPPPPiiiiiiiiff",
    "reenact_seam_stats_f16": "ddddddPPPPiiiiiiiiff",
    "reenact_paste_f32": "ddddddPPPPiiiiiiiiff",
    "reenact_paste_f16": "ddddddPPPPiiiiiiiiff",
    "reenact_to_yuv420": "PPPPiiiiiiiiii",
    "reenact_raster_depth": "PPiPii",
    "reenact_raster_resolve": "PPPPPPPPPiiiif",
}

BLOCK_2D = (32, 8, 1)
STATS_THREADS = 256  # kStatsThreads in postprocess.cu
RASTER_THREADS = 256  # threads per block of the raster kernels (1D grid-stride loops)
STATS_MAX_BLOCKS = 264  # 2 blocks per SM on an H100 (132 SMs); the kernel is grid-size agnostic


@dataclass(frozen=True)
class Launch:
    """One kernel launch: name, grid, block and its arguments in kernel order."""

    kernel: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    args: tuple

    def __post_init__(self) -> None:
        codes = KERNEL_ARGS[self.kernel]
        if len(codes) != len(self.args):
            raise ValueError(f"{self.kernel} takes {len(codes)} arguments, got {len(self.args)}")


@dataclass(frozen=True)
class PlanePointers:
    """A frame anywhere in memory: format, size, plane addresses and byte pitches (0 if unused)."""

    format: Format
    width: int
    height: int
    pointers: tuple[int, int, int]
    pitches: tuple[int, int, int]


@dataclass(frozen=True)
class PasteRegion:
    """Where a crop lands in the frame: [x0, x0 + width) x [y0, y0 + height), and ``inverse``, the
    matrix taking a region pixel (frame pixel minus (x0, y0)) to crop coordinates."""

    x0: int
    y0: int
    width: int
    height: int
    inverse: tuple[float, float, float, float, float, float]


def warp_inverse(affine: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """The inverse of a 2x3 affine, computed as ``cv2.warpAffine`` does internally (double precision,
    same operation order), so a kernel given it samples exactly where OpenCV does."""
    a, b, c, d, e, f = (float(v) for v in np.asarray(affine, np.float64).reshape(6))
    det = a * e - b * d
    det = 1.0 / det if det != 0 else 0.0
    a11, a22 = e * det, a * det
    a12, a21 = b * -det, d * -det
    return (a11, a12, -a11 * c - a12 * f, a21, a22, -a21 * c - a22 * f)


def grid_2d(width: int, height: int, block: tuple[int, int, int] = BLOCK_2D) -> tuple[int, int, int]:
    return (max(1, math.ceil(width / block[0])), max(1, math.ceil(height / block[1])), 1)


def paste_region(affine: np.ndarray, size: int, frame_width: int, frame_height: int) -> PasteRegion | None:
    """The crop's footprint clipped to the frame (None if empty), as ``Compositor.paste`` computes it."""
    inv = invert_affine(affine)
    s = size - 1
    corners = np.array([[0, 0], [s, 0], [0, s], [s, s]], np.float64) @ inv[:, :2].T + inv[:, 2]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), frame_width), min(int(y1), frame_height)
    if x1 <= x0 or y1 <= y0:
        return None
    local = inv.copy()
    local[:, 2] -= (x0, y0)
    return PasteRegion(x0, y0, x1 - x0, y1 - y0, warp_inverse(local))


def _frame_args(frame: PlanePointers) -> tuple:
    return (*frame.pointers, *frame.pitches, frame.width, frame.height, FORMAT_CODES[frame.format])


def preprocess_launch(
    frame: PlanePointers,
    affine: np.ndarray,
    out: int,
    size: int = 256,
    half: bool = False,
    colour: Colour = BT601_LIMITED,
    layout: TensorLayout = RGB_SIGNED,
) -> Launch:
    """Aligned, normalised NCHW crop of ``frame`` (``affine`` maps frame pixels to crop pixels)."""
    p0, p1, p2, *rest = _frame_args(frame)
    kernel = "reenact_preprocess_f16" if half else "reenact_preprocess_f32"
    args = (*warp_inverse(affine), p0, p1, p2, out, *rest, *colour.codes(), size, *layout.forward())
    return Launch(kernel, grid_2d(size, size), BLOCK_2D, args)


def to_packed_launch(
    frame: PlanePointers, out: int, out_pitch: int, out_format: Format = "bgr", colour: Colour = BT601_LIMITED
) -> Launch:
    """Whole-frame conversion to packed BGR / RGB."""
    p0, p1, p2, *rest = _frame_args(frame)
    args = (p0, p1, p2, out, *rest, *colour.codes(), out_pitch, FORMAT_CODES[out_format])
    return Launch("reenact_to_packed", grid_2d(frame.width, frame.height), BLOCK_2D, args)


def denormalize_launch(
    src: int,
    out: int,
    width: int,
    height: int,
    out_pitch: int,
    out_format: Format = "bgr",
    half: bool = False,
    layout: TensorLayout = RGB_SIGNED,
) -> Launch:
    """NCHW tensor (``layout``) -> packed uint8."""
    kernel = "reenact_denormalize_f16" if half else "reenact_denormalize_f32"
    args = (src, out, width, height, out_pitch, FORMAT_CODES[out_format], *layout.inverse())
    return Launch(kernel, grid_2d(width, height), BLOCK_2D, args)


def _paste_args(
    region: PasteRegion,
    crop: int,
    mask: int,
    frame: int,
    stats: int,
    size: int,
    frame_pitch: int,
    fmt: Format,
    layout: TensorLayout,
) -> tuple:
    return (
        *region.inverse,
        crop,
        mask,
        frame,
        stats,
        size,
        frame_pitch,
        FORMAT_CODES[fmt],
        region.x0,
        region.y0,
        region.width,
        region.height,
        *layout.inverse(),
    )


def seam_stats_launch(
    region: PasteRegion,
    crop: int,
    mask: int,
    frame: int,
    stats: int,
    size: int,
    frame_pitch: int,
    frame_format: Format = "bgr",
    half: bool = False,
    max_blocks: int = STATS_MAX_BLOCKS,
    layout: TensorLayout = RGB_SIGNED,
) -> Launch:
    """Seam colour sums into ``stats`` (7 x int64, zeroed by the caller first)."""
    blocks = max(1, min(max_blocks, math.ceil(region.width * region.height / STATS_THREADS)))
    kernel = "reenact_seam_stats_f16" if half else "reenact_seam_stats_f32"
    args = _paste_args(region, crop, mask, frame, stats, size, frame_pitch, frame_format, layout)
    return Launch(kernel, (blocks, 1, 1), (STATS_THREADS, 1, 1), args)


def paste_launch(
    region: PasteRegion,
    crop: int,
    mask: int,
    frame: int,
    stats: int,
    size: int,
    frame_pitch: int,
    frame_format: Format = "bgr",
    half: bool = False,
    layout: TensorLayout = RGB_SIGNED,
) -> Launch:
    """In-place feathered paste; ``stats`` = 0 (null) for no seam colour matching."""
    kernel = "reenact_paste_f16" if half else "reenact_paste_f32"
    args = _paste_args(region, crop, mask, frame, stats, size, frame_pitch, frame_format, layout)
    return Launch(kernel, grid_2d(region.width, region.height), BLOCK_2D, args)


def to_yuv420_launch(
    src: int, in_pitch: int, in_format: Format, out: PlanePointers, colour: Colour = BT601_LIMITED
) -> Launch:
    """Packed BGR / RGB -> NV12 / I420 (``out`` gives the destination planes)."""
    if out.format not in ("nv12", "i420"):
        raise ValueError(f"to_yuv420 writes nv12 or i420, not {out.format}")
    p0, p1, p2 = out.pointers
    args = (
        src,
        p0,
        p1,
        p2,
        in_pitch,
        FORMAT_CODES[in_format],
        out.width,
        out.height,
        FORMAT_CODES[out.format],
        *out.pitches,
        *colour.codes(),
    )
    grid = grid_2d((out.width + 1) // 2, (out.height + 1) // 2)
    return Launch("reenact_to_yuv420", grid, BLOCK_2D, args)


def _raster_grid(items: int, cpu: bool) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """The raster kernels are grid-stride loops: a thread per item on the GPU, one thread on the CPU
    emulation (where each emulated thread costs more than the work of one pixel)."""
    if cpu:
        return (1, 1, 1), (1, 1, 1)
    return (max(1, math.ceil(items / RASTER_THREADS)), 1, 1), (RASTER_THREADS, 1, 1)


def raster_depth_launch(
    verts: int, tris: int, num_tris: int, zbuf: int, width: int, height: int, cpu: bool = False
) -> Launch:
    """Depth pass of the mesh rasteriser (kernels/cuda/rasterize.cu) over ``num_tris`` triangles,
    ``verts`` (V, 3) float32 x, y, depth; ``zbuf`` width * height uint64, pre-filled with 0xFF bytes."""
    if num_tris <= 0:
        raise ValueError("the depth pass needs at least one triangle")
    grid, block = _raster_grid(num_tris, cpu)
    return Launch("reenact_raster_depth", grid, block, (verts, tris, num_tris, zbuf, width, height))


def raster_resolve_launch(
    zbuf: int,
    target: int,
    source: int,
    tris: int,
    src_zbuf: int,
    outputs: tuple[int, int, int, int],
    width: int,
    height: int,
    src_width: int,
    src_height: int,
    depth_tolerance: float,
    cpu: bool = False,
) -> Launch:
    """Resolve pass: per output pixel, the winning triangle's source position (``outputs`` = map_x,
    map_y (float32), mask, revealed (uint8), each width * height); ``src_zbuf`` = 0 for no occlusion test."""
    args = (zbuf, target, source, tris, src_zbuf, *outputs, width, height, src_width, src_height, depth_tolerance)
    grid, block = _raster_grid(width * height, cpu)
    return Launch("reenact_raster_resolve", grid, block, args)


def raster_launches(
    target: int,
    source: int,
    tris: int,
    num_tris: int,
    zbuf: int,
    src_zbuf: int,
    outputs: tuple[int, int, int, int],
    size: tuple[int, int],
    source_size: tuple[int, int],
    depth_tolerance: float,
    cpu: bool = False,
) -> list[Launch]:
    """The mesh rasteriser's launches in order: the depth pass of the target mesh into ``zbuf`` (size =
    (height, width)), of the source mesh into ``src_zbuf`` (source_size; 0: no occlusion test), both
    pre-filled with 0xFF bytes and skipped without triangles, then the resolve pass."""
    height, width = size
    src_h, src_w = source_size if src_zbuf else (0, 0)
    launches = []
    if num_tris:
        launches.append(raster_depth_launch(target, tris, num_tris, zbuf, width, height, cpu))
        if src_zbuf:
            launches.append(raster_depth_launch(source, tris, num_tris, src_zbuf, src_w, src_h, cpu))
    args = (zbuf, target, source, tris, src_zbuf, outputs, width, height, src_w, src_h, depth_tolerance, cpu)
    launches.append(raster_resolve_launch(*args))
    return launches
