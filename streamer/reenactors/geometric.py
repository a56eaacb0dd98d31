"""The geometric reenactor: analytic retargeting + a landmark-driven piecewise-affine warp.

Control points: the 68 landmarks, forehead points above the brows (moved rigidly with the head),
a ring around the head (moved by the 2D similarity of the rigid landmarks) and fixed crop-border
points, so the background stays put and the crop's edge matches the photo for a seamless paste.
The mouth interior is drawn (dark cavity + upper teeth) when the source's mouth is closed, so an
opened mouth does not smear the lips; eyelids close by compressing the eye triangles.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import cv2
import numpy as np
from scipy.spatial import Delaunay

from streamer import landmarks as L
from streamer.backends.warp import RemapBackend, create_remap_backend
from streamer.errors import InputError
from streamer.geometry import umeyama
from streamer.landmarks import FaceLandmarks
from streamer.mesh_warp import MeshSource, MeshWarp
from streamer.pose import head_axes
from streamer.retarget import AnalyticRetargeter, MotionMode, rigid_motion
from streamer.warp import piecewise_affine_map, signed_areas

log = logging.getLogger(__name__)

_FOREHEAD_FROM = np.array([17, 18, 19, 20, 21, 22, 23, 24, 25, 26])
_N_LANDMARKS = L.NUM_POINTS
_RING_MARGIN = 8.0  # px between the head ring and the fixed crop border
#: The drawn mouth cavity's colour as a fraction of the source's mean lip colour: nearly black, as an open
#: mouth's interior is in shadow (a lighter, lip-coloured cavity read as more lip to dlib, issue 17).
CAVITY_SHADE = 0.08
#: The drawn tongue's colour as a multiple of the cavity's (lower middle of an opened mouth).
MOUTH_TONGUE_SHADE = 4.0

WarpName = Literal["planar", "mesh"]
#: ``--warp`` choices: the 2D piecewise-affine warp of the landmarks (default) or the posed 3D mesh.
WARPS: tuple[WarpName, ...] = ("planar", "mesh")
#: The commands' default (``convert``, ``batch``, ``serve``, ``camera``; issue 14): the 3D mesh keeps the
#: face whole on large turns (benchmarks/LARGE_POSE.md). A bare ``GeometricConfig`` stays planar (no second
#: MediaPipe pass over the source), as does ``reenact edit``'s still photo.
DEFAULT_WARP: WarpName = "mesh"


@dataclass(frozen=True)
class GeometricConfig:
    """Geometry of the control points (lengths in interocular distances unless noted)."""

    crop_size: int = 256
    forehead_height: float = 0.75
    #: How far the forehead points sit behind the brows, as a fraction of the way to the ring's depth (the
    #: head's centre): the forehead curves back towards the hairline. At 0 (brow depth, the default) a
    #: 30-degree turn slides the forehead over the far side's hair (a bald dome, driving.mp4 -> cage.jpg,
    #: #14); at 1 the band between brows and forehead shears visibly. 0.5 keeps the hair on turns, but it
    #: lowered the expression suite's eyes r (0.45 -> 0.36, benchmarks/LARGE_POSE.md), so it is not the
    #: default.
    forehead_depth: float = 0.0
    ring_scale: float = 1.35
    ring_points: int = 20
    #: Depth of the ring behind the rigid landmarks, in face widths (about the head's centre).
    ring_depth: float = 0.5
    border_points_per_side: int = 6
    #: A source mouth opening (inner lips, interocular units) above this is warped, not drawn.
    open_mouth_threshold: float = 0.12
    motion: MotionMode = "relative"
    #: "planar": 68 landmarks + rings, piecewise affine; "mesh": the source's 3D face mesh + head shell,
    #: posed and z-buffered (``streamer.mesh_warp``); falls back to planar for a source whose crop has
    #: no MediaPipe mesh.
    warp: WarpName = "planar"


@dataclass
class GeometricSourceState:
    """Everything ``step`` needs about one source, computed once."""

    crop: np.ndarray
    landmarks: FaceLandmarks
    forehead: np.ndarray  # (F, 3) crop coordinates
    ring: np.ndarray  # (R, 3): around the head, at the depth of the head's centre
    ring_follow: np.ndarray  # (R,) how much each ring point follows the head (1 above, less below)
    border: np.ndarray  # (B, 2)
    triangles: np.ndarray  # (T, 3) indices into [landmarks, forehead, ring, border]
    face_triangle: np.ndarray  # (T,) bool: all vertices on the face (landmarks or forehead)
    mouth_triangle: np.ndarray  # (T,) bool: inside the inner lips
    source_signs: np.ndarray  # (T,) orientation of each triangle in the triangulation template
    mouth_is_open: bool
    cavity_color: np.ndarray  # BGR float
    teeth_color: np.ndarray  # BGR float
    interocular: float
    mesh: MeshSource | None = None  # the posable 3D mesh (``warp="mesh"``); None: the planar warp


def _ring_points(centre: np.ndarray, hull: np.ndarray, scale: float, count: int) -> np.ndarray:
    """``count`` points on the outline of ``hull`` pushed out by ``scale`` from ``centre``."""
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    rel = hull - centre
    hull_angles = np.arctan2(rel[:, 1], rel[:, 0])
    radii = np.linalg.norm(rel, axis=1)
    order = np.argsort(hull_angles)
    ha = np.concatenate([hull_angles[order] - 2 * np.pi, hull_angles[order], hull_angles[order] + 2 * np.pi])
    hr = np.tile(radii[order], 3)
    r = np.interp(angles, ha, hr) * scale
    return centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * r[:, None]


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


def _forehead_points(pts: np.ndarray, up: np.ndarray, iod: float, ring_z: float, cfg: GeometricConfig) -> np.ndarray:
    """(10, 3) points ``forehead_height`` above the brows, ``forehead_depth`` of the way back to ``ring_z``."""
    forehead = pts[_FOREHEAD_FROM] + up * cfg.forehead_height * iod
    forehead[:, 2] += cfg.forehead_depth * (ring_z - forehead[:, 2])
    return forehead


def _opened_template(points: np.ndarray, iod: float) -> np.ndarray:
    """Landmarks with mouth and eyes opened, so the triangulation has a clean mouth and eye interior."""
    pts = points[:, :2].copy()
    down = head_axes(points)[:2, 1]
    down = down / (np.linalg.norm(down) + 1e-9)
    for idx, amount in (
        ([61, 62, 63], -0.12),
        ([65, 66, 67], 0.12),
        ([37, 38, 43, 44], -0.04),
        ([40, 41, 46, 47], 0.04),
    ):
        pts[idx] += amount * iod * down
    return pts


def _inner_mouth_opening(points: np.ndarray, iod: float) -> float:
    return L.inner_lip_gap(points) / iod


class Retargeter(Protocol):
    """Where the source's landmarks go for a driver frame (``AnalyticRetargeter``, ``IDSGRetargeter``)."""

    def retarget(self, source: FaceLandmarks, driver_ref: FaceLandmarks, driver: FaceLandmarks) -> FaceLandmarks:
        """Target landmarks in the source's (crop) coordinates."""
        ...


RetargetName = Literal["analytic", "idsg"]
#: ``--retarget`` choices: the analytic landmark transfer (default) or the learned IDSG.
RETARGETERS: tuple[RetargetName, ...] = ("analytic", "idsg")


def create_retargeter(
    name: str = "analytic", motion: MotionMode = "relative", crop_size: int = 256, idsg_weights: Path | None = None
) -> Retargeter:
    """The retargeter called ``name``; IDSG weights (safetensors) default to the shipped file.

    A missing, corrupt or foreign weights file is an ``InputError`` (one line, exit 2). The IDSG places
    the face itself (as the driver moved relative to its reference frame), so ``motion`` is for the
    analytic retargeter only.
    """
    if name == "analytic":
        return AnalyticRetargeter(motion, crop_size)
    if name != "idsg":
        raise InputError(f"unknown retargeter {name!r}; choose one of {', '.join(RETARGETERS)}")
    from safetensors import SafetensorError

    from streamer.retarget_idsg import DEFAULT_WEIGHTS, IDSGRetargeter

    path = Path(idsg_weights or DEFAULT_WEIGHTS)
    try:
        return IDSGRetargeter(path)
    except (SafetensorError, OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        # What a truncated, non-safetensors or other-architecture file raises; the first line of the
        # reason is enough (load_state_dict lists every missing key).
        if isinstance(exc, KeyError):
            reason = f"its metadata has no {exc} entry"
        elif isinstance(exc, RuntimeError) and "state_dict" in str(exc):
            reason = "its tensors do not match the IDSG architecture in its metadata"
        else:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputError(f"cannot load IDSG weights {path}: {reason}") from None


class GeometricReenactor:
    """Reenactment by warping the source crop; no learned weights of its own.

    ``retargeter`` decides where the landmarks go (default: the analytic one in ``config.motion``
    mode); the warp itself is the same for every retargeter.
    """

    def __init__(
        self,
        config: GeometricConfig | None = None,
        backend: RemapBackend | None = None,
        retargeter: Retargeter | None = None,
    ):
        self.config = config or GeometricConfig()
        if self.config.warp not in WARPS:
            raise InputError(f"unknown warp {self.config.warp!r}; choose one of {', '.join(WARPS)}")
        self.crop_size = self.config.crop_size
        self.retargeter = retargeter or AnalyticRetargeter(self.config.motion, self.crop_size)
        self.backend = backend or create_remap_backend("opencv")

    def prepare(self, source_crop: np.ndarray, source_landmarks: FaceLandmarks) -> GeometricSourceState:
        """Control points, triangulation and mouth colours of one source."""
        cfg = self.config
        pts = source_landmarks.points.astype(np.float64)
        iod = L.interocular(pts)
        axes = head_axes(pts)
        up = -axes[:, 1]
        width = float(np.linalg.norm(pts[16] - pts[0]))
        ring_z = pts[L.RIGID, 2].mean() + cfg.ring_depth * width
        forehead = _forehead_points(pts, up, iod, ring_z, cfg)
        face2d = np.concatenate([pts[:, :2], forehead[:, :2]])
        hull = face2d[cv2.convexHull(face2d.astype(np.float32), returnPoints=False).ravel()]
        ring = _ring_points(face2d.mean(axis=0), hull, cfg.ring_scale, cfg.ring_points)
        ring = np.clip(ring, _RING_MARGIN, cfg.crop_size - 1 - _RING_MARGIN)
        # The ring sits at the head's centre depth, so a turn moves it less than the face surface;
        # below the mouth it follows the head less and less (neck and shoulders stay).
        ring3d = np.concatenate([ring, np.full((len(ring), 1), ring_z)], axis=1)
        mouth_y, chin_y = (pts[[48, 54]] @ axes[:, 1]).mean(), pts[8] @ axes[:, 1]
        below_mouth = (ring3d @ axes[:, 1] - mouth_y) / max(chin_y - mouth_y, 1.0)
        follow = np.clip(1.0 - 0.35 * below_mouth, 0.3, 1.0)
        border = _border_points(cfg.crop_size, cfg.border_points_per_side)

        template = np.concatenate([_opened_template(pts, iod), forehead[:, :2], ring, border])
        triangles = Delaunay(template).simplices.astype(np.int32)
        n_face = _N_LANDMARKS + len(forehead)
        face_tri = (triangles < n_face).all(axis=1)
        inner = set(L.INNER_LIPS.tolist())
        mouth_tri = np.array([set(t.tolist()) <= inner for t in triangles])
        signs = np.sign(signed_areas(template, triangles))

        cavity, teeth = _mouth_colours(source_crop, pts, iod)
        mesh = _source_mesh(source_crop, pts, cfg.crop_size) if cfg.warp == "mesh" else None
        return GeometricSourceState(
            crop=source_crop,
            landmarks=source_landmarks,
            forehead=forehead,
            ring=ring3d,
            ring_follow=follow,
            border=border,
            triangles=triangles,
            face_triangle=face_tri,
            mouth_triangle=mouth_tri,
            source_signs=signs,
            mouth_is_open=_inner_mouth_opening(pts, iod) > cfg.open_mouth_threshold,
            cavity_color=cavity,
            teeth_color=teeth,
            interocular=iod,
            mesh=mesh,
        )

    def step(self, state: GeometricSourceState, driver: FaceLandmarks, reference: FaceLandmarks) -> np.ndarray:
        """The source crop warped to the driver's pose and expression."""
        target = self.retargeter.retarget(state.landmarks, reference, driver)
        return self.render(state, target)

    def render(self, state: GeometricSourceState, target: FaceLandmarks) -> np.ndarray:
        """Warp the source crop so its landmarks land on ``target`` (crop coordinates)."""
        return self.render_maps(state, target)[0]

    def render_maps(
        self, state: GeometricSourceState, target: FaceLandmarks
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``render`` plus its backward pixel maps (map_x, map_y): the analytic flow the RFG starts from."""
        image, map_x, map_y, _ = self.render_warp(state, target)
        return image, map_x, map_y

    def render_warp(
        self, state: GeometricSourceState, target: FaceLandmarks
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, MeshWarp | None]:
        """``render_maps`` plus, on the mesh warp, its ``MeshWarp`` (coverage and revealed masks, from the
        same render); None on the planar warp."""
        if state.mesh is not None:
            image, warp = self.render_mesh(state, target)
            return image, warp.map_x, warp.map_y, warp
        src = state.landmarks.points.astype(np.float64)
        dst = target.points.astype(np.float64)
        motion = rigid_motion(src, dst)
        forehead_dst = motion.apply(state.forehead)
        ring_src = state.ring[:, :2]
        w = state.ring_follow[:, None]
        ring_dst = ring_src + w * (motion.apply(state.ring)[:, :2] - ring_src)
        ring_dst = np.clip(ring_dst, _RING_MARGIN, self.crop_size - 1 - _RING_MARGIN)

        src_xy = np.concatenate([src[:, :2], state.forehead[:, :2], ring_src, state.border])
        dst_xy = np.concatenate([dst[:, :2], forehead_dst[:, :2], ring_dst, state.border])
        z = np.concatenate([dst[:, 2], forehead_dst[:, 2]])
        far = z.max() + 1e3
        z_all = np.concatenate([z, np.full(len(state.ring) + len(state.border), far)])
        depth = z_all[state.triangles].mean(axis=1)
        flipped = np.sign(signed_areas(dst_xy, state.triangles)) != state.source_signs
        skip = (state.face_triangle & flipped) | state.mouth_triangle
        size = (self.crop_size, self.crop_size)
        map_x, map_y, covered = piecewise_affine_map(src_xy, dst_xy, state.triangles, size, depth, skip)
        ys, xs = np.nonzero(~covered)
        map_x[ys, xs] = xs
        map_y[ys, xs] = ys
        out = self.backend.remap(state.crop, map_x, map_y)
        _draw_mouth_interior(out, dst, state)
        return out, map_x, map_y, None

    def render_mesh(self, state: GeometricSourceState, target: FaceLandmarks) -> tuple[np.ndarray, MeshWarp]:
        """The mesh warp's image and its maps, coverage and revealed mask (``state.mesh`` must be set)."""
        from streamer.mesh_warp import fill_cracks, pose_mesh, render_mesh_maps

        if state.mesh is None:
            raise ValueError("render_mesh needs a source prepared with warp='mesh'")
        dst = target.points.astype(np.float64)
        posed = pose_mesh(state.mesh, state.landmarks.points, dst)
        warp = render_mesh_maps(state.mesh, posed)
        out = fill_cracks(self.backend.remap(state.crop, warp.map_x, warp.map_y), warp.covered)
        _draw_mouth_interior(out, dst, state)
        return out, warp


def _source_mesh(crop: np.ndarray, pts: np.ndarray, crop_size: int) -> MeshSource | None:
    """The source's posable mesh, or None (with a warning; the planar warp is used) when MediaPipe finds
    no face mesh in the crop."""
    from streamer.mesh_warp import build_mesh_source, detect_source_mesh

    face_mesh = detect_source_mesh(crop)
    if face_mesh is None:
        log.warning("no face mesh in the source crop; using the planar warp for this source")
        return None
    return build_mesh_source(face_mesh, pts, crop_size)


def _mouth_colours(crop: np.ndarray, pts: np.ndarray, iod: float) -> tuple[np.ndarray, np.ndarray]:
    """Cavity colour (darkened lips) and teeth colour (matched to the face's brightness)."""
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(pts[L.OUTER_LIPS, :2]).astype(np.int32)], 255)
    cv2.fillPoly(mask, [np.round(pts[L.INNER_LIPS, :2]).astype(np.int32)], 0)
    lips = crop[mask > 0].reshape(-1, 3).astype(np.float64)
    lip = lips.mean(axis=0) if len(lips) else np.array([90.0, 90.0, 150.0])
    face = np.zeros(crop.shape[:2], np.uint8)
    cv2.fillPoly(face, [np.round(pts[L.JAW, :2]).astype(np.int32)], 255)
    brightness = crop[face > 0].mean() if (face > 0).any() else 128.0
    teeth = np.array([205.0, 212.0, 218.0]) * np.clip(brightness / 150.0, 0.55, 1.0)
    return lip * CAVITY_SHADE, teeth


def lip_curve(points: np.ndarray, samples: int = 6) -> np.ndarray:
    """The smooth lip line through ``points`` ((K, 2), corner to corner): a Catmull-Rom spline with
    ``samples`` points per segment, ends included. Drawn on the landmarks' polyline, the opening was an
    angular hexagon and the teeth band a bent bar (issue 17)."""
    p = np.asarray(points, np.float64)
    padded = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    out = []
    for k in range(len(p) - 1):
        p0, p1, p2, p3 = padded[k : k + 4]
        out.append(
            0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (3 * p1 - p0 - 3 * p2 + p3) * t**3)
        )
    return np.concatenate([*out, p[-1:]])


def _mouth_coordinates(
    size: tuple[int, int], off: np.ndarray, dst: np.ndarray, down: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of the mouth's box ((h, w) each, box origin ``off``) for target points ``dst``:
    ``across``, -1 .. 1 from one inner lip corner to the other (0 midway), and ``depth`` along the head's
    ``down``, 0 at the upper lip's middle .. 1 at the lower lip's."""
    xs, ys = np.meshgrid(np.arange(size[0], dtype=np.float64), np.arange(size[1], dtype=np.float64))
    pts = np.stack([xs + off[0], ys + off[1]], axis=-1)
    corner_a, corner_b, top, bottom = dst[60, :2], dst[64, :2], dst[62, :2], dst[66, :2]
    mid = (corner_a + corner_b) / 2
    half = corner_b - mid
    half_len = float(np.linalg.norm(half)) + 1e-9
    across = ((pts - mid) @ (half / half_len)) / half_len
    depth = ((pts - top) @ down) / max(float((bottom - top) @ down), 1e-6)
    return across.astype(np.float32), depth.astype(np.float32)


def _shade_cavity(fill: np.ndarray, cavity: np.ndarray, across: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """The dark cavity with a tongue: the lower part of the opening, towards the middle, lifted to a dark
    lip red (``MOUTH_TONGUE_SHADE`` times the cavity's colour), faded smoothly so no edge reads as a lip.

    Hand-drawn shading rather than a learned interior (issue 17: a flat black hole under a white band
    looked pasted on); the cavity stays dark overall, which is what lets dlib find the inner lips."""
    weight = np.clip((depth - 0.4) / 0.5, 0, 1) ** 2 * np.clip(1 - across**2, 0, 1)
    tongue = cavity.astype(np.float32) * MOUTH_TONGUE_SHADE
    return fill + (tongue - fill) * weight[..., None]


def _shade_teeth(teeth: np.ndarray, cavity: np.ndarray, across: np.ndarray) -> np.ndarray:
    """(h, w, 3) upper teeth: brightest in the middle, darkening into the shadowed mouth corners (the
    buccal corridors) and rounding off with the dental arch, with the faint gaps between the incisors."""
    arch = np.clip(1 - (np.abs(across) / 0.9) ** 3, 0, 1) * (0.82 + 0.18 * np.clip(1 - np.abs(across), 0, 1))
    to_gap = np.abs((across + 0.11) % 0.22 - 0.11)  # incisors 0.22 of the half-width wide, a gap midway
    gaps = 1 - 0.15 * np.exp(-(to_gap**2) / 0.0008)
    light = (arch * np.where(np.abs(across) < 0.7, gaps, 1))[..., None]
    return cavity.astype(np.float32) + (teeth.astype(np.float32) - cavity.astype(np.float32)) * light


def _draw_mouth_interior(image: np.ndarray, dst: np.ndarray, state: GeometricSourceState) -> None:
    """Fill the target inner-lip polygon (in place): a dark cavity, then the source's own teeth.

    Stretching the mouth interior would stretch the teeth, so the interior is never warped by the
    triangles: when the source's mouth is open, its interior moves rigidly with the upper lip (upper
    teeth stay attached and keep their size) and is clipped to the target opening; when it is
    closed, an upper-teeth band is drawn under the upper lip.
    """
    upper = [60, 61, 62, 63, 64]  # the inner upper lip, corner to corner
    upper_curve = lip_curve(dst[upper, :2])
    inner = np.concatenate([upper_curve, lip_curve(dst[[64, 65, 66, 67, 60], :2])[1:-1]])
    opening = _inner_mouth_opening(dst, state.interocular) * state.interocular
    if opening < 0.75:
        return
    box = cv2.boundingRect(np.round(inner).astype(np.int32))
    x0, y0 = max(box[0] - 2, 0), max(box[1] - 2, 0)
    x1 = min(box[0] + box[2] + 3, image.shape[1])
    y1 = min(box[1] + box[3] + 3, image.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    scale = 4  # supersampled masks for smooth lip edges
    size = (x1 - x0, y1 - y0)
    off = np.array([x0, y0], np.float64)

    def poly_mask(poly: np.ndarray) -> np.ndarray:
        m = np.zeros((size[1] * scale, size[0] * scale), np.uint8)
        cv2.fillPoly(m, [np.round((poly - off + 0.5) * scale - 0.5).astype(np.int32)], 255, cv2.LINE_AA)
        return cv2.resize(m, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0

    mouth = poly_mask(inner)
    region = image[y0:y1, x0:x1].astype(np.float32)
    fill = np.broadcast_to(state.cavity_color.astype(np.float32), region.shape).copy()
    src = state.landmarks.points[:, :2].astype(np.float64)
    if state.mouth_is_open:
        s, rot, t = umeyama(src[upper], dst[upper, :2])
        local = np.concatenate([s * rot, (t - off)[:, None]], axis=1)
        interior = cv2.warpAffine(state.crop, local, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        moved = src[L.INNER_LIPS] @ (s * rot).T + t
        keep = poly_mask(moved)[..., None]
        fill = fill * (1 - keep) + interior.astype(np.float32) * keep
    else:
        down = head_axes(dst)[:2, 1]
        down = down / (np.linalg.norm(down) + 1e-9)
        across, depth = _mouth_coordinates(size, off, dst, down)
        fill = _shade_cavity(fill, state.cavity_color, across, depth)
        teeth_h = min(0.09 * state.interocular, 0.45 * opening)
        teeth = poly_mask(np.concatenate([upper_curve, upper_curve[::-1] + teeth_h * down]))[..., None]
        fill = fill * (1 - teeth) + _shade_teeth(state.teeth_color, state.cavity_color, across) * teeth
    alpha = cv2.GaussianBlur(mouth, (3, 3), 0)[..., None]
    image[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + fill * alpha + 0.5, 0, 255).astype(np.uint8)
