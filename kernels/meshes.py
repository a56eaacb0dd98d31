"""Triangle lists for the mesh rasteriser (kernels.rasterize): MediaPipe's face tessellation, a grid and
a sphere cap (test and benchmark meshes)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def orient_triangles(triangles: np.ndarray, points_xy: np.ndarray) -> np.ndarray:
    """``triangles`` reordered so each is front-facing (clockwise on screen, y down: the rasteriser's
    convention) where ``points_xy`` (V, 2) lie, e.g. a frontal view of the mesh."""
    tris = np.asarray(triangles, np.int32).copy()
    p = np.asarray(points_xy, np.float64)
    a, b, c = p[tris[:, 0]], p[tris[:, 1]], p[tris[:, 2]]
    area2 = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    flip = area2 < 0
    tris[flip, 1], tris[flip, 2] = tris[flip, 2], tris[flip, 1].copy()
    return tris


def triangles_from_edges(edges) -> np.ndarray:
    """The 3-cliques of an undirected edge set, (T, 3) int32 sorted (unoriented)."""
    neighbours: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    found = {tuple(sorted((a, b, c))) for a, b in edges for c in neighbours[a] & neighbours[b]}
    return np.array(sorted(found), np.int32).reshape(-1, 3)


def _edges_of(tris: np.ndarray) -> list[tuple[int, int]]:
    return [tuple(sorted(e)) for a, b, c in tris.tolist() for e in ((a, b), (b, c), (a, c))]


def facemesh_triangles(points_xy: np.ndarray | None = None) -> np.ndarray:
    """MediaPipe face mesh triangles over its 468 landmarks: the 3-cliques of FACEMESH_TESSELATION
    (2556 edges -> 854 cliques) less the 2 that are not faces ((49, 64, 129) and its mirror (279, 294,
    358) at the nose wings: each of their edges already borders two faces), so 852 triangles and every
    edge borders at most two (the model's own list has 898 faces; the rest are not in the edge set).
    Oriented front-facing at ``points_xy`` (468 or 478, 2) when given (a frontal detection), else sorted."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    tris = triangles_from_edges(FACEMESH_TESSELATION)
    uses: dict[tuple[int, int], int] = defaultdict(int)
    for edge in _edges_of(tris):
        uses[edge] += 1
    # hand-written rule: on this open surface, a clique all of whose edges lie in three cliques is a
    # ghost over real faces (a closed surface like a tetrahedron would need a different test)
    ghost = np.array([all(uses[e] == 3 for e in _edges_of(t[None])) for t in tris], bool)
    tris = tris[~ghost]
    return tris if points_xy is None else orient_triangles(tris, np.asarray(points_xy)[:, :2])


def grid_triangles(rows: int, cols: int) -> np.ndarray:
    """Two clockwise (on screen) triangles per cell of a (rows + 1) x (cols + 1) row-major vertex grid."""
    idx = np.arange((rows + 1) * (cols + 1)).reshape(rows + 1, cols + 1)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()  # top-left, top-right
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()  # bottom-left, bottom-right
    return np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)]).astype(np.int32)


def sphere_cap(
    centre: tuple[float, float, float], radius: float, max_angle_deg: float, rings: int = 16, sectors: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """A sphere cap facing the camera (the camera looks along +z, so the cap's pole is at centre - radius
    * z): (V, 3) float32 vertices and (T, 3) triangles front-facing where the surface faces the camera
    under an orthographic x, y projection. ``max_angle_deg`` > 90 makes it more than a hemisphere."""
    polar = np.deg2rad(np.linspace(0.0, max_angle_deg, rings + 1)[1:])
    azimuth = np.linspace(0.0, 2 * np.pi, sectors, endpoint=False)
    s, az = np.meshgrid(polar, azimuth, indexing="ij")
    ring_points = np.stack([np.sin(s) * np.cos(az), np.sin(s) * np.sin(az), -np.cos(s)], -1).reshape(-1, 3)
    unit = np.concatenate([[[0.0, 0.0, -1.0]], ring_points])
    verts = (np.asarray(centre) + radius * unit).astype(np.float32)
    tris = []
    for j in range(sectors):  # the pole fan
        tris.append((0, 1 + j, 1 + (j + 1) % sectors))
    for i in range(rings - 1):
        for j in range(sectors):
            a, b = 1 + i * sectors + j, 1 + i * sectors + (j + 1) % sectors
            c, d = a + sectors, b + sectors
            tris += [(a, c, b), (b, c, d)]
    tris_arr = np.array(tris, np.int32)
    # area2 is the z of (b - a) x (c - a) (x right, y down, z away): > 0 on screen exactly where that
    # cross product points into the sphere, i.e. where the outward normal faces the camera
    a, b, c = (verts[tris_arr[:, k]].astype(np.float64) for k in range(3))
    outward = np.einsum("ij,ij->i", np.cross(b - a, c - a), (a + b + c) / 3 - np.asarray(centre))
    flip = outward > 0
    tris_arr[flip, 1], tris_arr[flip, 2] = tris_arr[flip, 2], tris_arr[flip, 1].copy()
    return verts, tris_arr
