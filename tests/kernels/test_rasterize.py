"""The mesh rasteriser (kernels/cuda/rasterize.cu through the CPU emulation): geometry checks against
analytic answers, and the CPU build against the NumPy reference bit for bit."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from kernels import rasterize_reference as ref
from kernels.meshes import facemesh_triangles, grid_triangles, orient_triangles, sphere_cap, triangles_from_edges
from kernels.rasterize import UNCOVERED, prepare_mesh, rasterize_mesh, rasterize_prepared

SIZE = 96
CENTRE = np.array([48.0, 48.0, 100.0])
RADIUS = 40.0


@pytest.fixture(autouse=True)
def _library(cpu):
    """Every test needs the CPU build (skips without a compiler)."""


def grid_vertices(rows: int, cols: int, size: tuple[int, int]) -> np.ndarray:
    """(rows + 1) x (cols + 1) vertices spanning the image's pixel edges (-0.5 .. size - 0.5)."""
    h, w = size
    xs = np.linspace(-0.5, w - 0.5, cols + 1, dtype=np.float32)
    ys = np.linspace(-0.5, h - 0.5, rows + 1, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1)


def yaw(points: np.ndarray, degrees: float, centre: np.ndarray = CENTRE) -> np.ndarray:
    """Rotate (V, 3) points about the vertical axis through ``centre`` (x right, y down, z away)."""
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    return ((points - centre) @ rot.T + centre).astype(np.float32)


def test_identity_pose_maps_every_pixel_to_itself():
    size = (70, 90)  # not square, not a multiple of the grid
    verts = grid_vertices(7, 11, size)
    target = np.column_stack([verts, np.full(len(verts), 5.0, np.float32)])
    out = rasterize_mesh(target, verts, grid_triangles(7, 11), size, source_depth=target[:, 2])
    assert out.mask.all()
    ys, xs = np.mgrid[: size[0], : size[1]]
    assert np.abs(out.map_x - xs).max() < 0.5 and np.abs(out.map_y - ys).max() < 0.5
    assert np.abs(out.map_x - xs).max() < 1e-3  # in fact exact up to float rounding
    assert not out.revealed.any()


def two_triangles(first_near: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two overlapping clockwise triangles; their source positions differ by +1000 px in x so the map
    tells which one drew a pixel. The near one (depth 1) is listed first or second."""
    tri = np.array([[10.0, 10.0], [50.0, 10.0], [10.0, 50.0]], np.float32)
    near = np.column_stack([tri, np.full(3, 1.0, np.float32)])
    far = np.column_stack([tri + 5.0, np.full(3, 9.0, np.float32)])
    target = np.concatenate([near, far] if first_near else [far, near])
    source = target[:, :2].copy()
    source[(3 if first_near else 0) :][:3, 0] += 1000.0  # the far one's texture lives at x + 1000
    return target, source, np.array([[0, 1, 2], [3, 4, 5]], np.int32)


@pytest.mark.parametrize("first_near", [True, False], ids=["near-first", "near-second"])
def test_the_nearer_triangle_wins_whatever_the_order(first_near):
    target, source, tris = two_triangles(first_near)
    out = rasterize_mesh(target, source, tris, (64, 64))
    # (20, 20) is inside both: the near one's texture (x < 1000) must win
    assert out.mask[20, 20] == 1 and out.map_x[20, 20] == pytest.approx(20.0, abs=1e-3)
    # (45, 20) is only in the far triangle (x + y = 65 > 60): its texture (x + 1000)
    assert out.map_x[20, 45] == pytest.approx(1045.0, abs=1e-3)
    both = (out.map_x < 1000) & (out.mask == 1)
    assert both.sum() > 500


def test_back_faces_are_culled_and_clockwise_is_front():
    clockwise = np.array([[10.0, 10.0, 1.0], [50.0, 10.0, 1.0], [10.0, 50.0, 1.0]], np.float32)
    tris = np.array([[0, 1, 2]], np.int32)
    drawn = rasterize_mesh(clockwise, clockwise[:, :2], tris, (64, 64))
    assert drawn.mask.sum() == 861  # x, y >= 10, x + y <= 60: edges included
    flipped = rasterize_mesh(clockwise, clockwise[:, :2], tris[:, [0, 2, 1]], (64, 64))
    assert not flipped.mask.any()
    assert (flipped.map_x == UNCOVERED).all() and (flipped.map_y == UNCOVERED).all()
    assert not flipped.revealed.any()
    degenerate = clockwise.copy()
    degenerate[2, :2] = [30.0, 10.0]  # collinear
    assert not rasterize_mesh(degenerate, degenerate[:, :2], tris, (64, 64)).mask.any()


def test_a_face_turned_away_in_the_source_is_revealed():
    """Front-facing in the target but clockwise... counter-clockwise in the source: revealed."""
    target = np.array([[10.0, 10.0, 1.0], [50.0, 10.0, 1.0], [10.0, 50.0, 1.0]], np.float32)
    source = target[:, :2][[0, 2, 1]].copy()  # mirrored winding in the source view
    out = rasterize_mesh(target, source, np.array([[0, 1, 2]]), (64, 64))
    assert out.mask.any() and (out.revealed == out.mask).all()


def test_surface_hidden_in_the_source_is_revealed():
    """A near triangle covers part of a far square in the source; in the target it moved away: the
    far surface it hid is revealed, the rest of the square is not."""
    square = grid_vertices(1, 1, (64, 64))
    far = np.column_stack([square, np.full(4, 10.0, np.float32)])
    near_src = np.array([[5.0, 5.0], [30.0, 5.0], [5.0, 30.0]], np.float32)
    near_tgt = near_src + np.float32(200.0)  # off screen in the target
    target = np.concatenate([far, np.column_stack([near_tgt, np.ones(3, np.float32)])])
    source_xy = np.concatenate([square, near_src])
    depth = np.concatenate([far[:, 2], np.ones(3, np.float32)])
    tris = np.concatenate([grid_triangles(1, 1), [[4, 5, 6]]]).astype(np.int32)
    out = rasterize_mesh(target, source_xy, tris, (64, 64), source_depth=depth, source_size=(64, 64))
    assert out.mask.all()
    assert out.revealed[15, 10] and out.revealed[8, 8]  # behind the near triangle in the source
    assert not out.revealed[40, 40] and not out.revealed[5, 35]
    assert 250 < out.revealed.sum() < 400  # about the near triangle's 25 x 25 / 2 pixels
    without_depth = rasterize_mesh(target, source_xy, tris, (64, 64))
    assert not without_depth.revealed.any()  # only back faces count without a source depth


def analytic_source(x: np.ndarray, y: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """Target pixel -> (source point, its source normal) for the sphere turned by ``degrees``: the
    nearest sphere point along the view ray, rotated back (orthographic cameras)."""
    dx, dy = x - CENTRE[0], y - CENTRE[1]
    dz = -np.sqrt(np.maximum(RADIUS**2 - dx**2 - dy**2, 0.0))
    point = np.stack([x, y, CENTRE[2] + dz], -1)
    back = yaw(point.reshape(-1, 3), -degrees).reshape(point.shape)
    return back, (back - CENTRE) / RADIUS


@pytest.mark.parametrize("degrees", [0.0, 30.0, -30.0])
def test_mesh_rotation_round_trip(degrees):
    """A sphere cap wider than a hemisphere (120 deg), turned by yaw: every front pixel maps to the source
    point the analytic sphere gives, and what turned into view (faced away from the source camera) is
    revealed, on the side that turned in."""
    verts, tris = sphere_cap(tuple(CENTRE), RADIUS, 120.0, rings=24, sectors=48)
    target = yaw(verts, degrees)
    out = rasterize_mesh(target, verts[:, :2], tris, (SIZE, SIZE), source_depth=verts[:, 2])
    ys, xs = np.nonzero(out.mask)
    point, normal = analytic_source(xs.astype(np.float64), ys.astype(np.float64), degrees)
    inner = np.hypot(xs - CENTRE[0], ys - CENTRE[1]) < RADIUS - 3  # away from the silhouette
    err = np.hypot(out.map_x[ys, xs] - point[:, 0], out.map_y[ys, xs] - point[:, 1])
    assert err[inner].max() < 1.0, err[inner].max()  # the mesh's facets: a chord error under a pixel
    assert np.median(err[inner]) < 0.25
    revealed = out.revealed[ys, xs].astype(bool)
    # revealed = faced away from the source camera. Near the source's silhouette (grazing angles, the
    # surface within ~15 deg of edge-on) the facets' slope can exceed the depth tolerance: not checked.
    facing = inner & (normal[:, 2] < -0.25)
    assert not revealed[facing].any(), np.count_nonzero(revealed[facing])
    away = np.hypot(xs - CENTRE[0], ys - CENTRE[1]) < RADIUS - 1.0
    away &= normal[:, 2] > 0.1
    if degrees != 0.0:
        assert away.sum() > 50 and revealed[away].mean() > 0.98
    if degrees == 0.0:
        assert not revealed.any()
    else:
        assert revealed.sum() > 100
        side = np.sign(xs[revealed] - CENTRE[0])
        expected = np.sign(degrees)  # yaw > 0 turns the +x side towards the camera (-z): its back comes into view
        assert (side == expected).mean() > 0.99


def soup(seed: int, count: int = 60, size: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Random overlapping triangles of both windings, some off screen, negative and positive depths."""
    rng = np.random.default_rng(seed)
    target = rng.uniform(-20, size + 20, (3 * count, 3)).astype(np.float32)
    target[:, 2] = rng.uniform(-50, 50, 3 * count)
    source = (target[:, :2] + rng.normal(0, 8, (3 * count, 2))).astype(np.float32)
    depth = rng.uniform(-50, 50, 3 * count).astype(np.float32)
    return target, source, np.arange(3 * count, dtype=np.int32).reshape(-1, 3), depth


def assert_same(got, want) -> None:
    for name in ("map_x", "map_y", "mask", "revealed"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        assert np.array_equal(a, b), f"{name}: {np.count_nonzero(a != b)} pixels differ"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cpu_build_equals_reference_on_a_triangle_soup(seed):
    target, source, tris, depth = soup(seed)
    mesh = prepare_mesh(target, source, tris, (70, 80), source_depth=depth, source_size=(75, 85), depth_tolerance=2)
    out = rasterize_prepared(mesh)
    assert out.mask.sum() > 1000 and out.revealed.sum() > 50
    assert_same(out, ref.rasterize(mesh))
    assert_same(rasterize_prepared(mesh, gpu_grid=True), out)  # a thread per item, as on the GPU: same bits


def test_cpu_build_equals_reference_on_a_turned_sphere():
    verts, tris = sphere_cap(tuple(CENTRE), RADIUS, 120.0, rings=12, sectors=24)
    target = yaw(verts, 35.0)
    mesh = prepare_mesh(target, verts[:, :2], tris, (SIZE, SIZE), source_depth=verts[:, 2])
    assert_same(rasterize_prepared(mesh), ref.rasterize(mesh))
    mesh = prepare_mesh(target, verts[:, :2], tris, (SIZE, SIZE))  # no source z-buffer
    assert_same(rasterize_prepared(mesh), ref.rasterize(mesh))


def test_empty_mesh_draws_nothing():
    out = rasterize_mesh(np.zeros((0, 3)), np.zeros((0, 2)), np.zeros((0, 3), np.int32), (8, 8))
    assert not out.mask.any() and (out.map_x == UNCOVERED).all()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: {**a, "target_vertices": a["target_vertices"][:, :2]}, "target vertices"),
        (lambda a: {**a, "source_vertices": a["source_vertices"][:2]}, "source vertices"),
        (lambda a: {**a, "triangles": np.array([[0, 1, 3]])}, "indices"),
        (lambda a: {**a, "triangles": np.array([[0.0, 1.0, 2.0]])}, "integer"),
        (lambda a: {**a, "size": (0, 4)}, "size"),
        (lambda a: {**a, "source_depth": np.zeros(2)}, "source depth"),
        (lambda a: {**a, "target_vertices": np.full((3, 3), np.nan)}, "finite"),
        (lambda a: {**a, "depth_tolerance": -1.0}, "depth_tolerance"),
    ],
)
def test_bad_inputs_raise_one_line_errors(change, message):
    args = {
        "target_vertices": np.zeros((3, 3), np.float32),
        "source_vertices": np.zeros((3, 2), np.float32),
        "triangles": np.array([[0, 1, 2]]),
        "size": (4, 4),
    }
    with pytest.raises(ValueError, match=message):
        rasterize_mesh(**change(args))


def test_facemesh_triangles_are_the_tessellation_cliques():
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    tris = facemesh_triangles()
    assert tris.shape == (852, 3) and tris.min() == 0 and tris.max() == 467
    edges = {tuple(sorted(e)) for e in FACEMESH_TESSELATION}
    for a, b, c in tris:
        assert {(a, b), (a, c), (b, c)} <= edges
    used = Counter(tuple(sorted(e)) for t in tris.tolist() for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])))
    assert set(used) == edges  # every edge of the tessellation borders a triangle
    assert max(used.values()) == 2  # ... and at most two: a surface, no ghost triangles
    assert (49, 64, 129) not in {tuple(t) for t in tris.tolist()}


def test_orientation_makes_every_triangle_front_facing():
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 100, (30, 2))
    tris = triangles_from_edges([(i, j) for i in range(6) for j in range(i + 1, 6)])  # K6: 20 cliques
    assert len(tris) == 20
    oriented = orient_triangles(tris, points)
    a, b, c = (points[oriented[:, k]] for k in range(3))
    area2 = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    assert (area2 > 0).all()
    assert {tuple(sorted(t)) for t in oriented} == {tuple(t) for t in tris}
