"""The pose-adapted 3D warp (issue #14 item 1): the source's dense face mesh plus a head shell, posed like the
target landmarks and rasterised with a z-buffer (``kernels.rasterize``) into backward pixel maps.

Per source (:func:`build_mesh_source`, once): MediaPipe's 468-point face mesh of the source crop, aligned
onto the source's 68 landmarks; fans that close the eye and mouth holes; a coarse head shell of three
rings outside the face oval (hair, ears and neck at the head's depth, then a back ring a turn can bring
into view); and a background strip from the shell's silhouette to the fixed crop border, far behind,
so the crop's edge stays put for a seamless paste. Texture coordinates are the source crop pixels.

Per frame (:func:`pose_mesh`, :func:`render_mesh_maps`): the head's rigid motion (``rigid_motion`` of the
68 source -> target points) moves everything; the 68 points' non-rigid residual, taken in the head's
canonical (source) frame, spreads to the dense vertices by harmonic weights on the mesh graph (see
:func:`harmonic_weights` for why); the shell follows the head rigidly, less below the mouth (the neck).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import cv2
import numpy as np

from kernels.meshes import facemesh_triangles, orient_triangles
from kernels.rasterize import MeshInputs, prepare_mesh, rasterize_prepared
from streamer import landmarks as L
from streamer.detectors.mediapipe_mesh import MESH_TO_IBUG68
from streamer.geometry import umeyama
from streamer.pose import head_axes
from streamer.retarget import rigid_motion

FACE_VERTICES = 468
#: Depth of the background layer, far behind any head (crop pixels; larger = farther).
_FAR = 1.0e4
#: Shell rings outside the face oval, as (2D push-out from the head's centre relative to the oval,
#: depth as a fraction of the way from the oval's depth to the head's centre; > 1 lies behind it).
_SHELL_RINGS = ((1.15, 0.3), (1.45, 0.9), (1.3, 1.5))
_SILHOUETTE_RING = 1  # index in _SHELL_RINGS of the ring the background strip hangs from
_RING_MARGIN = 4.0  # px between the silhouette ring and the crop border


@dataclass(frozen=True)
class MeshTopology:
    """What does not depend on the source: the face triangles and the holes and outline of the mesh."""

    face_triangles: np.ndarray  # (852, 3) unoriented
    oval: np.ndarray  # (36,) face outline, in order around it
    holes: tuple[np.ndarray, ...]  # the two eyes and the mouth, each a loop of vertex indices
    edges: np.ndarray  # (E, 2) mesh edges (for the harmonic weights)


@dataclass(frozen=True)
class MeshSource:
    """Everything the per-frame pose needs about one source (vertex order: face, hole centres, shell, background)."""

    vertices: np.ndarray  # (V, 3) source positions: crop x, y and depth (larger = farther)
    weights: np.ndarray  # (468, 68) harmonic weights: residual of the 68 points -> face vertices
    holes: tuple[np.ndarray, ...]  # loops whose centre vertex is FACE_VERTICES + k
    shell: slice  # the shell vertices
    shell_follow: np.ndarray  # how much each shell vertex follows the head (1 above, less on the neck)
    silhouette: np.ndarray  # indices of the shell ring the background strip hangs from
    background: slice  # copies of the silhouette ring at far depth, then the fixed crop border
    prepared: MeshInputs  # the rasteriser's inputs at the identity pose (the target is replaced per frame)
    crop_size: int


@dataclass(frozen=True)
class MeshWarp:
    """One frame's warp: backward maps into the source crop (every pixel filled), covered = drawn by
    the mesh (not filled from a neighbour), revealed = drawn, but not visible in the source photo."""

    map_x: np.ndarray
    map_y: np.ndarray
    covered: np.ndarray
    revealed: np.ndarray


def _boundary_loops(triangles: np.ndarray) -> list[np.ndarray]:
    """Closed loops of edges that border one triangle only, each in walking order."""
    uses: dict[tuple[int, int], int] = defaultdict(int)
    for a, b, c in triangles.tolist():
        for e in ((a, b), (b, c), (a, c)):
            uses[tuple(sorted(e))] += 1
    neighbours: dict[int, list[int]] = defaultdict(list)
    for (a, b), n in uses.items():
        if n == 1:
            neighbours[a].append(b)
            neighbours[b].append(a)
    seen: set[int] = set()
    loops = []
    for start in sorted(neighbours):
        if start in seen:
            continue
        loop, prev, cur = [start], -1, start
        seen.add(start)
        while True:
            nxt = [n for n in neighbours[cur] if n != prev and n not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            loop.append(cur)
            seen.add(cur)
        loops.append(np.array(loop, np.int64))
    return loops


_TOPOLOGY: MeshTopology | None = None


def mesh_topology() -> MeshTopology:
    """MediaPipe's tessellation (852 triangles) with its outline (the longest boundary loop) and holes."""
    global _TOPOLOGY
    if _TOPOLOGY is None:
        tris = facemesh_triangles()
        loops = sorted(_boundary_loops(tris), key=len)
        edges = {tuple(sorted(e)) for a, b, c in tris.tolist() for e in ((a, b), (b, c), (a, c))}
        _TOPOLOGY = MeshTopology(tris, loops[-1], tuple(loops[:-1]), np.array(sorted(edges), np.int64))
    return _TOPOLOGY


def harmonic_weights(vertices: np.ndarray, edges: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """(V, A) weights: each vertex's value as the harmonic (discrete Laplace) interpolation of the anchors'.

    Why harmonic on the mesh graph rather than an RBF / thin-plate spline in space: the graph knows the
    mouth and eye holes, so a vertex of the upper lip follows the upper-lip landmarks even where the
    lower lip lies a pixel away (a spatial kernel would tear the closed lips apart or glue an opened
    mouth shut); the weights are positive and sum to 1 (no overshoot past the landmarks, unlike a thin
    plate), and anchors keep their own value exactly, so the identity pose maps every pixel to itself.
    Edges are weighted by inverse length, so dense regions do not pull harder.
    """
    n = len(vertices)
    lengths = np.linalg.norm(vertices[edges[:, 0]] - vertices[edges[:, 1]], axis=1)
    w = 1.0 / np.maximum(lengths, 1e-3)
    lap = np.zeros((n, n))
    lap[edges[:, 0], edges[:, 1]] = -w
    lap[edges[:, 1], edges[:, 0]] = -w
    lap[np.arange(n), np.arange(n)] = -lap.sum(axis=1)
    free = np.setdiff1d(np.arange(n), anchors)
    weights = np.zeros((n, len(anchors)))
    weights[anchors, np.arange(len(anchors))] = 1.0
    weights[free] = np.linalg.solve(lap[np.ix_(free, free)], -lap[np.ix_(free, anchors)])
    return weights


def detect_source_mesh(crop: np.ndarray) -> np.ndarray | None:
    """The 468-point MediaPipe face mesh of a BGR crop (static image mode): (468, 3) crop pixels and
    depth in the same unit (larger = farther), or None when it finds no face."""
    import mediapipe as mp  # a heavy import, needed only by the mesh warp's per-source step

    h, w = crop.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False) as mesh:
        result = mesh.process(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))
    if not result.multi_face_landmarks:
        return None
    lm = result.multi_face_landmarks[0].landmark
    return np.array([(p.x * w, p.y * h, p.z * w) for p in lm[:FACE_VERTICES]], np.float64)


def _strip(inner: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """Triangles joining two loops of equal length, vertex k to vertex k."""
    a, b = inner, np.roll(inner, -1)
    c, d = outer, np.roll(outer, -1)
    return np.concatenate([np.stack([a, b, c], 1), np.stack([b, d, c], 1)])


def _border_points(size: int, per_side: int) -> np.ndarray:
    t = np.linspace(0, size - 1, per_side + 1)[:-1]
    e = float(size - 1)
    return np.concatenate(
        [
            np.stack([t, np.zeros_like(t)], 1),
            np.stack([np.full_like(t, e), t], 1),
            np.stack([e - t, np.full_like(t, e)], 1),
            np.stack([np.zeros_like(t), e - t], 1),
        ]
    )


def _background_triangles(ring: np.ndarray, border: np.ndarray, first: int) -> np.ndarray:
    """Delaunay triangles of ring + border points (2D) outside the ring polygon, indices from ``first``."""
    from scipy.spatial import Delaunay

    points = np.concatenate([ring, border])
    tris = Delaunay(points).simplices
    centroids = points[tris].mean(axis=1).astype(np.float32)
    polygon = ring.astype(np.float32).reshape(-1, 1, 2)
    outside = np.array([cv2.pointPolygonTest(polygon, (float(x), float(y)), False) < 0 for x, y in centroids])
    return orient_triangles(tris[outside], points) + first


def build_mesh_source(
    face_mesh: np.ndarray,
    source68: np.ndarray,
    crop_size: int,
    ring_depth: float = 0.5,
    neck_follow: float = 0.35,
    source_occlusion: bool = False,
) -> MeshSource:
    """The posable mesh of one source: ``face_mesh`` (468, 3) from :func:`detect_source_mesh` and the
    source's 68 landmarks (crop pixels, with depth) that the retargeter moves.

    The mesh is aligned onto the landmarks by a 3D similarity, then bent so its 68 landmark vertices sit
    exactly on them (harmonically, like the per-frame expression). ``ring_depth``: the head's centre
    behind the face, in face widths; ``neck_follow``: how fast the shell stops following the head below
    the mouth (per mouth-to-chin distance), as the planar warp's ring does. ``source_occlusion``: also
    rasterise the source view to flag surface the photo hides behind a nearer part (the far cheek behind
    the nose) as revealed; off by default, as that second pass over the full-crop background costs ~3x the
    target pass on one core (back-facing and off-image surface is flagged either way)."""
    topo = mesh_topology()
    src68 = np.asarray(source68, np.float64)
    raw = np.asarray(face_mesh, np.float64)[:FACE_VERTICES]
    s, rot, t = umeyama(raw[MESH_TO_IBUG68], src68)
    aligned = s * raw @ rot.T + t
    weights = harmonic_weights(aligned, topo.edges, MESH_TO_IBUG68)
    face = aligned + weights @ (src68 - aligned[MESH_TO_IBUG68])

    # The shell is built in the crop's own axes (the photo is near frontal), so each ring lies where its
    # push puts it in the photo; a frame tilted like the head's would slide deep rings up or down.
    width = float(np.linalg.norm(src68[16] - src68[0]))
    centre = face.mean(axis=0) + np.array([0.0, 0.0, ring_depth * width])
    centres = np.array([face[loop].mean(axis=0) for loop in topo.holes])
    oval = face[topo.oval]
    rings = []
    for push, depth in _SHELL_RINGS:
        ring = centre + (oval - centre) * np.array([push, push, 0.0])
        ring[:, 2] = oval[:, 2] + depth * (centre[2] - oval[:, 2])
        rings.append(ring)
    shell = np.concatenate(rings)
    lo, hi = _RING_MARGIN, crop_size - 1 - _RING_MARGIN
    shell[:, :2] = np.clip(shell[:, :2], lo, hi)

    # Below the mouth (along the head's down axis) the shell is neck and follows the head less.
    down = head_axes(src68)[:, 1]
    mouth_y = src68[[48, 54]].mean(axis=0) @ down
    chin_y = src68[8] @ down
    below_mouth = (shell @ down - mouth_y) / max(chin_y - mouth_y, 1.0)
    follow = np.clip(1.0 - neck_follow * below_mouth, 0.3, 1.0)

    n_face = FACE_VERTICES + len(centres)
    n_ring = len(topo.oval)
    ring_ids = [n_face + k * n_ring + np.arange(n_ring) for k in range(len(_SHELL_RINGS))]
    silhouette = ring_ids[_SILHOUETTE_RING]
    bg_ring = shell[silhouette - n_face, :2]
    border = _border_points(crop_size, 6)
    n_shell = n_face + len(shell)
    background = np.concatenate([bg_ring, border])

    # Orientation: front-facing (clockwise on screen) on an unrolled layout of the head, the face as seen
    # from the front and each ring further out, so the back ring's strip faces away from a frontal view.
    # (The layout is the face seen from straight ahead, in the head's frame, so a turned photo's hidden
    # facets stay back-facing.)
    local = ((np.concatenate([face, centres]) - src68[L.RIGID].mean(axis=0)) @ head_axes(src68))[:, :2]
    middle = local[:FACE_VERTICES].mean(axis=0)
    oval_xy = local[topo.oval] - middle
    layout_rings = [middle + oval_xy * (1.0 + 0.5 * (k + 1)) for k in range(len(_SHELL_RINGS))]
    layout = np.concatenate([local, *layout_rings])
    fans = [
        np.stack([loop, np.roll(loop, -1), np.full(len(loop), FACE_VERTICES + k)], 1)
        for k, loop in enumerate(topo.holes)
    ]
    strips = [_strip(topo.oval, ring_ids[0])] + [_strip(ring_ids[k], ring_ids[k + 1]) for k in range(len(ring_ids) - 1)]
    head_tris = orient_triangles(np.concatenate([topo.face_triangles, *fans, *strips]), layout)
    bg_tris = _background_triangles(bg_ring, border, n_shell)
    triangles = np.concatenate([head_tris, bg_tris]).astype(np.int32)

    vertices = np.concatenate(
        [
            face,
            centres,
            shell,
            np.column_stack([background, np.full(len(background), _FAR)]),
        ]
    )
    size = (crop_size, crop_size)
    source_depth = vertices[:, 2] if source_occlusion else None
    prepared = prepare_mesh(vertices, vertices[:, :2], triangles, size, source_depth, size, depth_tolerance=2.0)
    return MeshSource(
        vertices=vertices,
        weights=weights,
        holes=topo.holes,
        shell=slice(n_face, n_shell),
        shell_follow=follow,
        silhouette=silhouette,
        background=slice(n_shell, len(vertices)),
        prepared=prepared,
        crop_size=crop_size,
    )


def pose_mesh(mesh: MeshSource, source68: np.ndarray, target68: np.ndarray) -> np.ndarray:
    """(V, 3) target positions of every vertex for the target landmarks ``target68`` (crop pixels, depth)."""
    src = np.asarray(source68, np.float64)
    dst = np.asarray(target68, np.float64)
    motion = rigid_motion(src, dst)
    residual = motion.unapply(dst) - src  # the expression, in the head's canonical (source) frame
    out = mesh.vertices.copy()
    face = mesh.vertices[:FACE_VERTICES] + mesh.weights @ residual
    out[:FACE_VERTICES] = motion.apply(face)
    for k, loop in enumerate(mesh.holes):
        out[FACE_VERTICES + k] = out[loop].mean(axis=0)
    shell = mesh.vertices[mesh.shell]
    out[mesh.shell] = shell + mesh.shell_follow[:, None] * (motion.apply(shell) - shell)
    n_ring = len(mesh.silhouette)
    lo, hi = _RING_MARGIN, mesh.crop_size - 1 - _RING_MARGIN
    out[mesh.background.start : mesh.background.start + n_ring, :2] = np.clip(out[mesh.silhouette, :2], lo, hi)
    return out


def _fill_uncovered(map_x: np.ndarray, map_y: np.ndarray, covered: np.ndarray) -> None:
    """Give each uncovered pixel (in place) the displacement of its nearest covered pixel (identity when
    none is): the flow continues past a crack or fold instead of smearing one source pixel over it."""
    if covered.all():
        return
    grid_y, grid_x = np.indices(covered.shape, np.float32)
    ys, xs = np.nonzero(covered)
    hole = ~covered
    if len(ys) == 0:
        map_x[:], map_y[:] = grid_x, grid_y
        return
    # DIST_LABEL_PIXEL numbers the zero pixels of the input (here: the covered ones) in row-major order.
    _, labels = cv2.distanceTransformWithLabels(hole.astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    nearest = labels[hole] - 1
    ny, nx = ys[nearest], xs[nearest]
    map_x[hole] = grid_x[hole] + map_x[ny, nx] - nx
    map_y[hole] = grid_y[hole] + map_y[ny, nx] - ny


def fill_cracks(image: np.ndarray, covered: np.ndarray, radius: float = 3.0) -> np.ndarray:
    """``image`` with the pixels no triangle covered (and a 1-pixel rim) painted from their surroundings.

    Those pixels (a strip between the face and the head shell that folded away on a turn, a nostril's
    edge) take their nearest covered pixel's flow (:func:`_fill_uncovered`), which on a wide crack
    drags the photo's hair or ear edge into a dark slash across the cheek. Painting their colour in
    from the neighbours instead (OpenCV's Telea inpainting: ~1 ms at 256x256 on one core here) leaves
    a smooth patch. The input is not modified.
    """
    hole = (~np.asarray(covered, bool)).astype(np.uint8)
    if not hole.any() or hole.all():
        return image
    hole = cv2.dilate(hole, np.ones((3, 3), np.uint8))
    return cv2.inpaint(image, hole, radius, cv2.INPAINT_TELEA)


def render_mesh_maps(mesh: MeshSource, target_vertices: np.ndarray, kernels=None) -> MeshWarp:
    """Rasterise the posed mesh: dense backward maps (uncovered pixels take their nearest covered pixel's)."""
    target = np.ascontiguousarray(target_vertices, np.float32)
    if target.shape != mesh.prepared.target.shape or not np.isfinite(target).all():
        raise ValueError(f"target vertices must be finite {mesh.prepared.target.shape}, got {target.shape}")
    raster = rasterize_prepared(replace(mesh.prepared, target=target), kernels)
    covered = raster.mask.astype(bool)
    _fill_uncovered(raster.map_x, raster.map_y, covered)
    return MeshWarp(raster.map_x, raster.map_y, covered, raster.revealed.astype(bool))
