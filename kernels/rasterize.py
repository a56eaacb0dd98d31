"""Mesh rasteriser: a posed triangle mesh -> a dense backward warp map (issue #14 item 1).

:func:`rasterize_mesh` draws the TARGET mesh (x, y in output pixels, z = depth, larger = farther)
with a z-buffer and back-face culling, and for every covered output pixel interpolates where that
surface point lies in the SOURCE image: ``cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR,
borderMode=cv2.BORDER_CONSTANT)`` then renders the source texture on the posed mesh. It also says
which pixels the source photo cannot show (``revealed``): surface that faces away from the source
camera, lies outside the source image, or is hidden there behind a nearer part of the mesh.

It runs kernels/cuda/rasterize.cu (whose comment block is the full convention: winding, coverage
rule, tie-break) through the CPU grid emulation; ``kernels.gpu.GpuKernels.rasterize`` is the same
kernel on the GPU, and ``kernels.rasterize_reference`` the NumPy twin the tests compare against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kernels import host

UNCOVERED = -1.0  # map_x / map_y of a pixel no front-facing triangle covers


@dataclass(frozen=True)
class MeshInputs:
    """Validated, contiguous inputs: target (V, 3) float32, source (V, 3) float32 (z = source depth,
    0 when none was given), triangles (T, 3) int32, size = (height, width) of the output,
    source_size = (height, width) of the source image when the occlusion test runs (else None)."""

    target: np.ndarray
    source: np.ndarray
    triangles: np.ndarray
    size: tuple[int, int]
    source_size: tuple[int, int] | None
    depth_tolerance: float


@dataclass(frozen=True)
class MeshRaster:
    """(H, W) outputs: map_x, map_y float32 (source pixel positions, UNCOVERED = -1 where nothing is
    drawn), mask uint8 (1 = covered), revealed uint8 (1 = covered but not visible in the source)."""

    map_x: np.ndarray
    map_y: np.ndarray
    mask: np.ndarray
    revealed: np.ndarray


def _size(value: tuple[int, int], name: str) -> tuple[int, int]:
    h, w = (int(v) for v in value)
    if h <= 0 or w <= 0 or h * w > (1 << 28):
        raise ValueError(f"{name} must be a positive (height, width), got {value}")
    return h, w


def prepare_mesh(
    target_vertices: np.ndarray,
    source_vertices: np.ndarray,
    triangles: np.ndarray,
    size: tuple[int, int],
    source_depth: np.ndarray | None = None,
    source_size: tuple[int, int] | None = None,
    depth_tolerance: float = 1.0,
) -> MeshInputs:
    """Checks shapes, dtypes, indices and finiteness (ValueError with a one-line reason)."""
    target = np.ascontiguousarray(target_vertices, np.float32)
    source_xy = np.asarray(source_vertices, np.float32)
    tris = np.asarray(triangles)
    if target.ndim != 2 or target.shape[1] != 3:
        raise ValueError(f"target vertices must be (V, 3) x, y, depth; got {target.shape}")
    if source_xy.shape != (len(target), 2):
        raise ValueError(f"source vertices must be ({len(target)}, 2); got {source_xy.shape}")
    if tris.ndim != 2 or tris.shape[1] != 3 or not np.issubdtype(tris.dtype, np.integer):
        raise ValueError(f"triangles must be (T, 3) integer vertex indices; got {tris.shape} {tris.dtype}")
    if len(tris) >= (1 << 31) - 1:
        raise ValueError("too many triangles")
    if tris.size and (tris.min() < 0 or tris.max() >= len(target)):
        raise ValueError(f"triangle indices must be in [0, {len(target)})")
    depth = np.zeros(len(target), np.float32)
    if source_depth is not None:
        depth = np.asarray(source_depth, np.float32)
        if depth.shape != (len(target),):
            raise ValueError(f"source depth must be ({len(target)},); got {depth.shape}")
        source_size = _size(source_size or size, "source_size")
    else:
        source_size = None
    source = np.ascontiguousarray(np.column_stack([source_xy, depth]), np.float32)
    if not (np.isfinite(target).all() and np.isfinite(source).all()):
        raise ValueError("vertices must be finite")
    if not np.isfinite(depth_tolerance) or depth_tolerance < 0:
        raise ValueError(f"depth_tolerance must be finite and >= 0, got {depth_tolerance}")
    triangles32 = np.ascontiguousarray(tris, np.int32).reshape(-1, 3)
    return MeshInputs(target, source, triangles32, _size(size, "size"), source_size, float(depth_tolerance))


def _ptr(array: np.ndarray) -> int:
    return int(array.ctypes.data)


def rasterize_prepared(mesh: MeshInputs, kernels=None, gpu_grid: bool = False) -> MeshRaster:
    """Run the kernel (CPU build; ``kernels``: a ``kernels.cpu_build.CpuKernels``, default the
    process-wide one) on validated inputs. ``gpu_grid``: launch a thread per triangle / pixel as
    the GPU does instead of one emulated thread (same result, slower: a test of grid independence)."""
    if kernels is None:
        from kernels.cpu_build import cpu_kernels

        kernels = cpu_kernels()
    height, width = mesh.size
    zbuf = np.full((height, width), np.iinfo(np.uint64).max, np.uint64)
    src_zbuf = None
    if mesh.source_size is not None:
        src_zbuf = np.full(mesh.source_size, np.iinfo(np.uint64).max, np.uint64)
    map_x = np.empty((height, width), np.float32)
    map_y = np.empty((height, width), np.float32)
    mask = np.empty((height, width), np.uint8)
    revealed = np.empty((height, width), np.uint8)
    num_tris = len(mesh.triangles)
    for launch in host.raster_launches(
        _ptr(mesh.target),
        _ptr(mesh.source),
        _ptr(mesh.triangles) if num_tris else 0,
        num_tris,
        _ptr(zbuf),
        0 if src_zbuf is None else _ptr(src_zbuf),
        (_ptr(map_x), _ptr(map_y), _ptr(mask), _ptr(revealed)),
        mesh.size,
        mesh.source_size or (0, 0),
        mesh.depth_tolerance,
        cpu=not gpu_grid,
    ):
        kernels.launch(launch)
    return MeshRaster(map_x, map_y, mask, revealed)


def rasterize_mesh(
    target_vertices: np.ndarray,
    source_vertices: np.ndarray,
    triangles: np.ndarray,
    size: tuple[int, int],
    source_depth: np.ndarray | None = None,
    source_size: tuple[int, int] | None = None,
    depth_tolerance: float = 1.0,
    kernels=None,
) -> MeshRaster:
    """Rasterise the target mesh into (H, W) = ``size`` backward maps into the source image.

    ``target_vertices`` (V, 3): x, y output pixels (centres at integers), z depth (larger = farther);
    ``source_vertices`` (V, 2): where each vertex's texture is in the source image; ``triangles``
    (T, 3) vertex indices, front-facing where clockwise on screen (y down) in each view;
    ``source_depth`` (V,): depth in the source view (same unit as ``depth_tolerance``) to find what
    the source hides, on a ``source_size`` (default ``size``) source z-buffer; without it only faces
    turned away from the source count as revealed."""
    mesh = prepare_mesh(target_vertices, source_vertices, triangles, size, source_depth, source_size, depth_tolerance)
    return rasterize_prepared(mesh, kernels)
