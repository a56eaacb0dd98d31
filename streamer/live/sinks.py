"""Where the camera path's frames go: a virtual camera (pyvirtualcam) or a preview window."""

from __future__ import annotations

import logging
import os
import sys
from typing import Protocol

import numpy as np

from streamer.errors import InputError

log = logging.getLogger(__name__)


class FrameSink(Protocol):
    """Takes BGR frames of one fixed size."""

    def send(self, image_bgr: np.ndarray) -> None: ...

    def close(self) -> None: ...


def virtual_camera_hint() -> str:
    """How to get a virtual camera device on this platform."""
    if sys.platform.startswith("linux"):
        return (
            "load v4l2loopback: sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=reenact "
            "(Debian/Ubuntu: sudo apt-get install v4l2loopback-dkms)"
        )
    if sys.platform == "win32":
        return "install OBS Studio (start its virtual camera once) or Unity Capture"
    if sys.platform == "darwin":
        return "install OBS Studio and start its virtual camera once"
    return "this platform has no virtual camera backend in pyvirtualcam"


class VirtualCameraSink:
    """A pyvirtualcam camera; its setup problems become one-line ``InputError`` hints."""

    def __init__(self, width: int, height: int, fps: float):
        try:
            import pyvirtualcam
        except ImportError:
            raise InputError("--virtual-cam needs pyvirtualcam: pip install 'reenact[camera]'") from None
        try:
            self._cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.BGR)
        except RuntimeError as exc:
            log.debug("pyvirtualcam: %s", exc)
            raise InputError(f"no virtual camera device; {virtual_camera_hint()}") from None
        self.device = self._cam.device

    def send(self, image_bgr: np.ndarray) -> None:
        self._cam.send(image_bgr)
        self._cam.sleep_until_next_frame()

    def close(self) -> None:
        self._cam.close()


def check_display() -> None:
    """``InputError`` when a preview window cannot open (no display on Linux)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise InputError("--preview needs a display (DISPLAY is not set); leave --preview off on a headless machine")


class PreviewWindow:
    """An OpenCV window; ``show`` returns the key pressed (lower-case letter) or None."""

    TITLE = "reenact (r: re-anchor, q: quit)"

    def __init__(self) -> None:
        check_display()
        import cv2

        self._cv2 = cv2
        cv2.namedWindow(self.TITLE, cv2.WINDOW_NORMAL)

    def show(self, image_bgr: np.ndarray) -> str | None:
        self._cv2.imshow(self.TITLE, image_bgr)
        key = self._cv2.waitKey(1) & 0xFF
        return chr(key).lower() if key != 0xFF else None

    def close(self) -> None:
        self._cv2.destroyWindow(self.TITLE)
