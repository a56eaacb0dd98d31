"""NumPy reference of the mesh rasteriser (kernels/cuda/rasterize.cu): the same float32 steps in the
same order, written triangle by triangle (each vectorised over its bounding box) for clarity, not
speed. The kernel tests compare the CPU build with it bit for bit; see the kernel's Convention block.
"""

from __future__ import annotations

import numpy as np

from kernels.rasterize import UNCOVERED, MeshInputs, MeshRaster

EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)
_F = np.float32


def edge_function(ax, ay, bx, by, px, py):
    """E(a, b, p) = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x), in float32."""
    return (_F(bx) - _F(ax)) * (py - _F(ay)) - (_F(by) - _F(ay)) * (px - _F(ax))


def edge_weights(a, b, c, px, py) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three edge functions (w0 opposite a, w1 opposite b, w2 opposite c) at pixels (px, py)."""
    return (
        edge_function(b[..., 0], b[..., 1], c[..., 0], c[..., 1], px, py),
        edge_function(c[..., 0], c[..., 1], a[..., 0], a[..., 1], px, py),
        edge_function(a[..., 0], a[..., 1], b[..., 0], b[..., 1], px, py),
    )


def interpolate(w: tuple, a0, a1, a2) -> np.ndarray:
    """((w0 a0 + w1 a1) + w2 a2) / ((w0 + w1) + w2) in float32."""
    return ((w[0] * _F(a0) + w[1] * _F(a1)) + w[2] * _F(a2)) / ((w[0] + w[1]) + w[2])


def signed_area2(a, b, c) -> np.ndarray:
    """Twice the signed area (> 0: front-facing, clockwise on screen with y down)."""
    return edge_function(a[..., 0], a[..., 1], b[..., 0], b[..., 1], c[..., 0], c[..., 1])


def orderable_depth(depth: np.ndarray) -> np.ndarray:
    """float32 -> uint32 keeping the order (as the kernel's orderable_depth)."""
    bits = np.asarray(depth, np.float32).view(np.uint32)
    return np.where(bits & np.uint32(0x80000000), ~bits, bits | np.uint32(0x80000000)).astype(np.uint32)


def _span(lo: float, hi: float, size: int) -> tuple[int, int]:
    lo, hi = max(_F(lo), _F(-1.0)), min(_F(hi), _F(size))
    return int(np.clip(np.ceil(lo), 0, size)), int(np.clip(np.floor(hi), -1, size - 1))


def depth_buffer(verts: np.ndarray, tris: np.ndarray, width: int, height: int) -> np.ndarray:
    """(height, width) uint64 keys (orderable depth << 32 | triangle id), EMPTY where nothing is drawn."""
    zbuf = np.full((height, width), EMPTY, np.uint64)
    for t, (i0, i1, i2) in enumerate(tris):
        a, b, c = verts[i0], verts[i1], verts[i2]
        if not signed_area2(a, b, c) > 0:
            continue  # back-facing or degenerate
        xs = np.stack([a[0], b[0], c[0]])
        ys = np.stack([a[1], b[1], c[1]])
        x0, x1 = _span(xs.min(), xs.max(), width)
        y0, y1 = _span(ys.min(), ys.max(), height)
        if x0 > x1 or y0 > y1:
            continue
        py, px = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(np.float32)
        w = edge_weights(a, b, c, px, py)
        inside = (w[0] >= 0) & (w[1] >= 0) & (w[2] >= 0)
        depth = interpolate(w, a[2], b[2], c[2])
        key = (orderable_depth(depth).astype(np.uint64) << np.uint64(32)) | np.uint64(t)
        region = zbuf[y0 : y1 + 1, x0 : x1 + 1]
        np.copyto(region, np.minimum(region, key), where=inside)
    return zbuf


def rasterize(mesh: MeshInputs) -> MeshRaster:
    """What ``kernels.rasterize.rasterize_mesh`` computes, in NumPy."""
    height, width = mesh.size
    zbuf = depth_buffer(mesh.target, mesh.triangles, width, height)
    map_x = np.full((height, width), UNCOVERED, np.float32)
    map_y = map_x.copy()
    mask = np.zeros((height, width), np.uint8)
    revealed = np.zeros((height, width), np.uint8)
    ys, xs = np.nonzero(zbuf != EMPTY)
    if len(ys) == 0:
        return MeshRaster(map_x, map_y, mask, revealed)
    keys = zbuf[ys, xs]
    t = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
    idx = mesh.triangles[t]
    a, b, c = (mesh.target[idx[:, k]] for k in range(3))
    w = edge_weights(a, b, c, xs.astype(np.float32), ys.astype(np.float32))
    sa, sb, sc = (mesh.source[idx[:, k]] for k in range(3))
    u = interpolate(w, sa[:, 0], sb[:, 0], sc[:, 0])
    v = interpolate(w, sa[:, 1], sb[:, 1], sc[:, 1])
    map_x[ys, xs], map_y[ys, xs], mask[ys, xs] = u, v, 1
    hidden = ~(signed_area2(sa, sb, sc) > 0)
    if mesh.source_size is not None:
        src_h, src_w = mesh.source_size
        src_zbuf = depth_buffer(mesh.source, mesh.triangles, src_w, src_h)
        fx, fy = np.floor(u + _F(0.5)), np.floor(v + _F(0.5))
        outside = ~((fx >= 0) & (fx < src_w) & (fy >= 0) & (fy < src_h))
        sx = np.where(outside, 0, fx).astype(np.int64)
        sy = np.where(outside, 0, fy).astype(np.int64)
        src_key = src_zbuf[sy, sx]
        other_id = (src_key & np.uint64(0xFFFFFFFF)).astype(np.int64)
        other = (src_key != EMPTY) & (other_id != t)
        oidx = mesh.triangles[np.where(other, other_id, 0)]
        oa, ob, oc = (mesh.source[oidx[:, k]] for k in range(3))
        other_depth = interpolate(edge_weights(oa, ob, oc, u, v), oa[:, 2], ob[:, 2], oc[:, 2])
        depth = interpolate(w, sa[:, 2], sb[:, 2], sc[:, 2])
        with np.errstate(invalid="ignore", divide="ignore"):  # rows where other is False are not used
            occluded = other & (depth > other_depth + _F(mesh.depth_tolerance))
        hidden |= ~hidden & (outside | (~outside & occluded))
    revealed[ys, xs] = hidden
    return MeshRaster(map_x, map_y, mask, revealed)
