"""An outside judge of faces: dlib's detector and 68-point shape predictor, never the product's MediaPipe.

Per image: whether dlib finds a face, its head pose (yaw, pitch, roll from the 68 points by
``cv2.solvePnP`` against a six-point generic head), mouth opening, eye openness, brow height, and a
128-d identity descriptor. The product tracks with MediaPipe; grading its output with the same
detector would share its blind spots, hence dlib (``pip install -e '.[quality]'``: ``dlib-bin`` and
``face-recognition-models``, whose package ships the model files, so nothing is downloaded).

The generic head: six points in millimetres (nose tip, chin, outer eye corners, mouth corners), the
anthropometric figures commonly used for head-pose estimation from 2D landmarks. A generic head
makes the absolute angles approximate (a few degrees per face); the relative motion, which is what
the benchmarks compare, is much less sensitive to it.

Convention: yaw > 0 when the face turns towards image right, pitch > 0 when the chin goes up, roll >
0 clockwise in the image, as ``streamer.pose.head_pose`` reports, so both read alike.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import cv2
import numpy as np

from benchmarks.quality_identity import DlibFaceEmbedder, _models_dir, embedder_status

SHAPE_68 = "shape_predictor_68_face_landmarks.dat"

#: (dlib 68-point index, x, y, z) of a generic head in millimetres; x right, y up, z towards the camera.
GENERIC_HEAD = np.array(
    [
        (30, 0.0, 0.0, 0.0),  # nose tip
        (8, 0.0, -63.6, -12.5),  # chin
        (36, -43.3, 32.7, -26.0),  # right eye, outer corner (image left)
        (45, 43.3, 32.7, -26.0),  # left eye, outer corner (image right)
        (48, -28.9, -28.9, -24.1),  # mouth, image-left corner
        (54, 28.9, -28.9, -24.1),  # mouth, image-right corner
    ]
)


@dataclass(frozen=True)
class JudgedFace:
    """What dlib sees of one face."""

    points: np.ndarray  #: (68, 2) image coordinates
    yaw: float
    pitch: float
    roll: float
    mouth: float  #: inner-lip gap over the interocular distance
    eyes: float  #: mean eyelid gap over eye width, both eyes
    brows: float  #: brow height above the eyes over the interocular distance


def expression_measures(points: np.ndarray) -> tuple[float, float, float]:
    """(mouth opening, eye openness, brow height) of 68 dlib points, scale-free."""
    p = np.asarray(points, np.float64)
    right_eye, left_eye = p[36:42].mean(axis=0), p[42:48].mean(axis=0)
    iod = float(np.linalg.norm(left_eye - right_eye)) + 1e-9
    mouth = float(np.mean([np.linalg.norm(p[lo] - p[up]) for up, lo in ((61, 67), (62, 66), (63, 65))])) / iod
    eye_gap = [np.linalg.norm(p[a] - p[b]) for a, b in ((37, 41), (38, 40), (43, 47), (44, 46))]
    eye_width = (np.linalg.norm(p[39] - p[36]) + np.linalg.norm(p[45] - p[42])) / 2 + 1e-9
    eyes = float(np.mean(eye_gap) / eye_width)
    brows = float((np.linalg.norm(p[17:22].mean(0) - right_eye) + np.linalg.norm(p[22:27].mean(0) - left_eye)) / 2)
    return mouth, eyes, brows / iod


def head_angles(points: np.ndarray, image_size: tuple[int, int]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of 68 dlib points in an image of (height, width)."""
    h, w = image_size
    image_pts = np.asarray(points, np.float64)[GENERIC_HEAD[:, 0].astype(int)]
    model = GENERIC_HEAD[:, 1:] * np.array([1.0, -1.0, -1.0])  # to camera axes: y down, z away from the camera
    focal = float(max(h, w))
    camera = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]])
    # Start from a frontal head at the distance its eye corners imply: six nearly coplanar points have a
    # second, mirrored pose that fits almost as well, and the solver left to start on its own lands in it
    # on real faces (a 50-degree turn read as -60). From frontal it stays in the basin of a face that
    # looks at the camera.
    eye_span = np.linalg.norm(image_pts[3] - image_pts[2])
    distance = focal * (GENERIC_HEAD[3, 1] - GENERIC_HEAD[2, 1]) / max(float(eye_span), 1e-6)
    rvec, tvec = np.zeros((3, 1)), np.array([[0.0], [0.0], [distance]])
    ok, rvec, _ = cv2.solvePnP(model, image_pts, camera, None, rvec, tvec, True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return float("nan"), float("nan"), float("nan")
    rot, _ = cv2.Rodrigues(rvec)
    facing = rot @ np.array([0.0, 0.0, -1.0])  # the face's forward direction, in camera axes
    yaw = np.degrees(np.arctan2(facing[0], -facing[2]))
    pitch = np.degrees(np.arcsin(np.clip(-facing[1], -1.0, 1.0)))
    across = rot @ np.array([1.0, 0.0, 0.0])
    roll = np.degrees(np.arctan2(across[1], across[0]))
    return float(yaw), float(pitch), float(roll)


def judge_status() -> tuple[bool, str]:
    """(available, why not) for the judge's dlib models, without loading them."""
    status = embedder_status()
    if not status.available:
        return False, status.detail
    models = _models_dir()
    if models is None or not (models / SHAPE_68).is_file():
        return False, f"{SHAPE_68} missing from {models} (face-recognition-models ships it)"
    return True, ""


def open_judge(prog: str) -> DlibJudge | None:
    """The judge, or None after a one-line error naming ``prog`` when dlib or its models are missing."""
    ok, why = judge_status()
    if not ok:
        print(f"{prog}: the dlib judge is not available ({why}); pip install -e '.[quality]'", file=sys.stderr)
        return None
    return DlibJudge()


class DlibJudge:
    """dlib's HOG face detector, 68-point predictor and identity network on BGR images."""

    def __init__(self, max_side: int = 640, upsample: int = 1):
        ok, why = judge_status()
        if not ok:
            raise RuntimeError(why)
        models = _models_dir()
        assert models is not None
        import dlib

        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(models / SHAPE_68))
        self._embedder = DlibFaceEmbedder()
        self.max_side = max_side
        self.upsample = upsample
        self.detail = (
            f"dlib {dlib.__version__} HOG detector, {SHAPE_68}; pose: solvePnP from a frontal start; "
            f"identity: {self._embedder.detail}"
        )

    def points(self, image_bgr: np.ndarray) -> np.ndarray | None:
        """(68, 2) points of the largest face dlib finds (None: no face)."""
        scale = min(1.0, self.max_side / max(image_bgr.shape[:2]))
        small = (
            image_bgr if scale == 1.0 else cv2.resize(image_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
        rgb = np.ascontiguousarray(small[:, :, ::-1])
        rects = self._detector(rgb, self.upsample)
        if not rects:
            return None
        rect = max(rects, key=lambda r: r.area())
        shape = self._shape(rgb, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float64) / scale

    def judge(self, image_bgr: np.ndarray) -> JudgedFace | None:
        """The largest face dlib finds, with its pose and expression measures (None: no face)."""
        pts = self.points(image_bgr)
        if pts is None:
            return None
        yaw, pitch, roll = head_angles(pts, image_bgr.shape[:2])
        return JudgedFace(pts, yaw, pitch, roll, *expression_measures(pts))

    def identity(self, image_bgr: np.ndarray, face: JudgedFace) -> np.ndarray:
        """128-d descriptor of ``face`` (Euclidean distance < 0.6: the same person, by dlib's convention)."""
        return self._embedder.embed(image_bgr, face.points)
