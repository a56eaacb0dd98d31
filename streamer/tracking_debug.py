"""``--track-debug``: draw the tracker's global (detector), local (flow) and fused points on a frame.

Colours (BGR): detector red, flow cyan, fused green with its polylines; invisible fused points
are drawn hollow. A text line gives the mode, the frames since the last detection, the detector
duty cycle and the head pose.
"""

from __future__ import annotations

import cv2
import numpy as np

from streamer.landmarks import POLYLINES, FaceLandmarks
from streamer.pose import expression_vector, head_pose
from streamer.tracking_temporal import TrackResult

DETECTOR_COLOUR = (0, 0, 255)
FLOW_COLOUR = (255, 255, 0)
FUSED_COLOUR = (0, 220, 0)


def _points(
    img: np.ndarray, xy: np.ndarray, colour: tuple[int, int, int], radius: int, filled: np.ndarray | None = None
) -> None:
    for i, (x, y) in enumerate(np.asarray(xy, np.float64)):
        if np.isfinite(x) and np.isfinite(y):
            thick = -1 if filled is None or filled[i] else 1
            cv2.circle(img, (int(round(x)), int(round(y))), radius, colour, thick, cv2.LINE_AA)


def draw_track_debug(
    frame_bgr: np.ndarray, result: TrackResult | FaceLandmarks | None, duty_cycle: float | None = None
) -> np.ndarray:
    """A copy of ``frame_bgr`` with the tracker's points; ``result`` None draws "no face".

    Pass a ``TrackResult`` (``TemporalTracker.last``) for all three point sets, or the plain
    ``FaceLandmarks`` of another tracker (drawn as fused points, pose computed here).
    """
    img = frame_bgr.copy()
    if isinstance(result, FaceLandmarks):
        pts = result.points
        result = TrackResult(result, head_pose(pts), expression_vector(pts), "detect", -1, None, None, np.ones(68), 0)
    scale = max(1, round(max(img.shape[:2]) / 500))
    if result is None:
        cv2.putText(img, "no face", (8, 20 * scale), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 0, 255), scale)
        return img
    fused = result.landmarks.xy
    for idx, closed in POLYLINES:
        pts = np.round(fused[idx]).astype(np.int32).reshape(-1, 1, 2)
        cv2.polylines(img, [pts], closed, FUSED_COLOUR, 1, cv2.LINE_AA)
    if result.flow_points is not None:
        _points(img, result.flow_points, FLOW_COLOUR, scale)
    if result.detection is not None:
        _points(img, result.detection.xy, DETECTOR_COLOUR, scale + 1)
    _points(img, fused, FUSED_COLOUR, scale + 1, filled=result.landmarks.visibility >= 0.5)
    p = result.pose
    text = f"{result.mode} +{result.frames_since_detection}"
    if duty_cycle is not None:
        text += f" duty {duty_cycle:.2f}"
    text += f" yaw {p.yaw:+.0f} pitch {p.pitch:+.0f} roll {p.roll:+.0f}"
    cv2.putText(img, text, (8, 20 * scale), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (255, 255, 255), scale, cv2.LINE_AA)
    return img
