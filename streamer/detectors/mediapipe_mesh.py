"""The embedded default detector: MediaPipe face mesh (ships in mediapipe==0.10.21), mapped to 68 points.

The 478-point mesh carries its own depth; we map it to the iBUG order with a fixed index table and
derive per-point visibility from the head pose, so profile views flag the hidden cheek as invisible.
The mesh solution gives no per-face score. In image mode the confidence is the BlazeFace detector's
score for the matching box (the detector the mesh itself uses to find faces); in video mode, where
running BlazeFace on every frame would double the cost, and for a face BlazeFace misses, it is
``TRACKED_CONFIDENCE``: the mesh only returns faces whose presence score passed that threshold.

The mesh runs with ``refine_landmarks`` (MediaPipe's attention model for lips, eyes and irises; about
1 ms more a frame here): without it the eyelids and inner lips follow the face poorly. Over the 19
expression clips of ``benchmarks.cross_dlib`` its driver readings agree better with dlib's (median
Pearson r of mouth opening 0.87 -> 0.89, eye openness 0.58 -> 0.82, brow height 0.54 -> 0.69;
``benchmarks/EXPRESSION.md``, issue 17).
"""

from __future__ import annotations

import cv2
import numpy as np

from streamer.detectors.base import DetectorMode
from streamer.landmarks import FaceLandmarks, bounding_box
from streamer.pose import visibility_from_landmarks

#: Mesh vertex for each of the 68 iBUG points (jaw, brows, nose, eyes, outer lips, inner lips).
MESH_TO_IBUG68 = np.array(
    [
        162,
        234,
        93,
        58,
        172,
        136,
        149,
        148,
        152,
        377,
        378,
        365,
        397,
        288,
        323,
        454,
        389,
        71,
        63,
        105,
        66,
        107,
        336,
        296,
        334,
        293,
        301,
        168,
        197,
        5,
        4,
        75,
        97,
        2,
        326,
        305,
        33,
        160,
        158,
        133,
        153,
        144,
        362,
        385,
        387,
        263,
        373,
        380,
        61,
        39,
        37,
        0,
        267,
        269,
        291,
        405,
        314,
        17,
        84,
        181,
        78,
        82,
        13,
        312,
        308,
        317,
        14,
        87,
    ]
)

#: Run MediaPipe's refinement (attention) model for lips, eyes and irises.
REFINE_LANDMARKS = True

#: The mesh's presence threshold (``min_tracking_confidence``), reported when no better score exists.
TRACKED_CONFIDENCE = 0.5


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = np.maximum(a[:2], b[:2])
    x1, y1 = np.minimum(a[2:], b[2:])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class MediaPipeDetector:
    """MediaPipe face mesh + BlazeFace scores, returning ``FaceLandmarks`` largest first."""

    name = "mediapipe"

    def __init__(
        self,
        mode: DetectorMode = "image",
        max_faces: int = 1,
        min_confidence: float = 0.5,
        refine: bool = REFINE_LANDMARKS,
    ):
        import mediapipe as mp  # imported here: a heavy import, and only this detector needs it

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=(mode == "image"),
            max_num_faces=max_faces,
            refine_landmarks=refine,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        # Full-range model: finds the small faces of wide shots, which the short-range one misses.
        self._boxes = (
            mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.3)
            if mode == "image"
            else None
        )

    def detect(self, image_bgr: np.ndarray) -> list[FaceLandmarks]:
        """All faces, largest first, in the image's pixel coordinates."""
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)  # a strided ::-1 copy costs ~10 ms on 720p, this ~1
        h, w = rgb.shape[:2]
        result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return []
        scored = self._scored_boxes(rgb, w, h)
        faces = []
        for mesh in result.multi_face_landmarks:
            raw = np.array([(p.x * w, p.y * h, p.z * w) for p in mesh.landmark], np.float32)
            pts = raw[MESH_TO_IBUG68]
            box = bounding_box(raw[:, :2])
            conf = max((s for b, s in scored if _iou(b, box) > 0.3), default=TRACKED_CONFIDENCE)
            faces.append(FaceLandmarks(pts, visibility_from_landmarks(pts), box, float(conf)))
        faces.sort(key=lambda f: -f.size)
        return faces

    def _scored_boxes(self, rgb: np.ndarray, w: int, h: int) -> list[tuple[np.ndarray, float]]:
        if self._boxes is None:
            return []
        out = self._boxes.process(rgb)
        boxes = []
        for det in out.detections or []:
            rb = det.location_data.relative_bounding_box
            box = np.array([rb.xmin * w, rb.ymin * h, (rb.xmin + rb.width) * w, (rb.ymin + rb.height) * h])
            boxes.append((box.astype(np.float32), float(det.score[0])))
        return boxes

    def close(self) -> None:
        """Release the MediaPipe graphs."""
        self._mesh.close()
        if self._boxes is not None:
            self._boxes.close()
