"""Head pose, per-point visibility and a small expression vector from 3D landmarks.

Template-free: the head's axes come from rigid landmark pairs (eye corners, jaw ends, eye line to
nose base), so no mean face model is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamer import landmarks as L

#: Angle between the eye-line-to-nose-base direction and the face's vertical axis, measured as the
#: mean MediaPipe pitch reading of six frontal photos (22 degrees); ``head_axes`` rotates it out.
NOSE_LINE_TILT_DEG = 22.0

EXPRESSION_NAMES = ("mouth_open", "mouth_width", "right_eye_open", "left_eye_open", "brow_raise")


@dataclass(frozen=True)
class HeadPose:
    """Yaw, pitch, roll in degrees and the head-to-camera rotation (columns: head x, y, z axes)."""

    yaw: float
    pitch: float
    roll: float
    rotation: np.ndarray


def head_axes(points: np.ndarray) -> np.ndarray:
    """3x3 rotation whose columns are the head's x (subject's left), y (down), z (back) axes."""
    p = np.asarray(points, np.float64)
    ax = (p[45] - p[36]) + (p[16] - p[0])
    ax /= np.linalg.norm(ax) + 1e-12
    down = p[L.NOSE_BASE].mean(axis=0) - p[[36, 39, 42, 45]].mean(axis=0)
    ay = down - (down @ ax) * ax
    ay /= np.linalg.norm(ay) + 1e-12
    az = np.cross(ax, ay)
    t = np.radians(NOSE_LINE_TILT_DEG)
    ay, az = np.cos(t) * ay + np.sin(t) * az, -np.sin(t) * ay + np.cos(t) * az
    return np.stack([ax, ay, az], axis=1)


def head_pose(points: np.ndarray) -> HeadPose:
    """Yaw (+: face turns to image right), pitch (+: chin up), roll (+: clockwise), in degrees."""
    rot = head_axes(points)
    ax, ay, az = rot[:, 0], rot[:, 1], rot[:, 2]
    facing = -az
    yaw = np.degrees(np.arctan2(facing[0], -facing[2]))
    pitch = np.degrees(np.arcsin(np.clip(-facing[1], -1.0, 1.0)))
    roll = np.degrees(np.arctan2(ax[1], ay[1]))
    return HeadPose(float(yaw), float(pitch), float(roll), rot)


def face_width(points: np.ndarray) -> float:
    """3D distance between the jaw ends (points 0 and 16)."""
    return float(np.linalg.norm(np.asarray(points[16], np.float64) - points[0]))


def visibility_from_landmarks(points: np.ndarray, softness: float = 0.15) -> np.ndarray:
    """Per-point visibility in [0, 1] from the pose: points whose surface faces away are hidden.

    Each point's outward normal is approximated by the direction from a centre placed half a face
    width behind the landmarks' centroid; a point is visible when that normal points toward the
    camera, with a soft ramp of ``softness`` (cosine units) around the silhouette.
    """
    p = np.asarray(points, np.float64)
    rot = head_axes(p)
    centre = p.mean(axis=0)
    local = (p - centre) @ rot  # head frame
    origin = np.array([0.0, local[:, 1].mean(), 0.5 * face_width(p)])
    normals = local - origin
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    toward_camera = -(normals @ rot.T)[:, 2]
    return np.clip(toward_camera / softness + 0.5, 0.0, 1.0).astype(np.float32)


def expression_vector(points: np.ndarray) -> np.ndarray:
    """Pose-normalised expression features (see ``EXPRESSION_NAMES``), in interocular units."""
    p = np.asarray(points, np.float64)
    local = (p - p.mean(axis=0)) @ head_axes(p)
    xy = local[:, :2]
    iod = np.linalg.norm(xy[L.LEFT_EYE].mean(0) - xy[L.RIGHT_EYE].mean(0)) + 1e-9

    def dist(a: int, b: int) -> float:
        return float(np.linalg.norm(xy[a] - xy[b]))

    mouth_open = L.inner_lip_gap(xy) / iod
    mouth_width = dist(48, 54) / iod
    right_eye = (dist(37, 41) + dist(38, 40)) / (2 * dist(36, 39) + 1e-9)
    left_eye = (dist(43, 47) + dist(44, 46)) / (2 * dist(42, 45) + 1e-9)
    brows = xy[np.r_[L.RIGHT_BROW, L.LEFT_BROW]].mean(0)
    eyes = xy[np.r_[L.RIGHT_EYE, L.LEFT_EYE]].mean(0)
    brow_raise = float(np.linalg.norm(brows - eyes)) / iod
    return np.array([mouth_open, mouth_width, right_eye, left_eye, brow_raise], np.float32)
