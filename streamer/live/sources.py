"""Source photos for live streams: decoded from bytes (uploads) or files, prepared once, kept in memory."""

from __future__ import annotations

import io
import secrets
import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from streamer.backends.warp import create_remap_backend
from streamer.detectors import create_detector
from streamer.edit_controls import EditingRetargeter
from streamer.errors import InputError
from streamer.live.config import LiveConfig
from streamer.media.images import fit_within, load_image
from streamer.pipeline import PreparedSource, prepare_source
from streamer.reenactors.base import Reenactor
from streamer.reenactors.generators import create_generator
from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor, create_retargeter


def decode_image_bytes(data: bytes, max_bytes: int, max_megapixels: float) -> np.ndarray:
    """A BGR uint8 image from an upload; ``InputError`` for empty, huge, non-image or corrupt data."""
    if not data:
        raise InputError("the upload is empty")
    if len(data) > max_bytes:
        raise InputError(f"the upload is {len(data) / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            fmt = im.format
    except (UnidentifiedImageError, OSError):
        raise InputError("the upload is not a supported image (JPEG, PNG, WebP, BMP)") from None
    if w * h > max_megapixels * 1e6:
        raise InputError(f"the image is {w}x{h} ({w * h / 1e6:.0f} MP), over the {max_megapixels:.0f} MP limit")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot decode the {fmt or 'image'} upload: corrupt or truncated")
    return image


def create_reenactor(config: LiveConfig) -> Reenactor:
    """The reenactor a live stream uses (one per stream; prepared sources are shared between them).

    Each stream gets its own retargeter (the IDSG one caches the source's identity code, which is not
    safe to share between stream threads; its weights load in a few milliseconds) and its own RFG
    local-integrator memory; the RFG's networks are loaded once per process and shared.
    """
    geometric = GeometricConfig(crop_size=config.size, motion=config.motion, warp=config.warp)
    retargeter = create_retargeter(config.retarget, config.motion, config.size, config.idsg_weights)
    # The editing controls (``config.edits``, then ``SetEdits``) act after the retargeter.
    retargeter = EditingRetargeter(retargeter, config.edits)
    warp = GeometricReenactor(geometric, create_remap_backend(config.backend), retargeter)
    return create_generator(config.generator, warp, config.integrator, config.weights)


def prepare_image(image: np.ndarray, config: LiveConfig, what: str) -> PreparedSource:
    """Fit, detect and prepare a source image (blocking: call it off the event loop)."""
    canvas = fit_within(image, config.max_side)
    detector = create_detector(config.landmarks, "image", max_faces=5)
    try:
        return prepare_source(canvas, detector, create_reenactor(config), what=what)
    finally:
        detector.close()


def prepare_file(path: str | Path, config: LiveConfig) -> PreparedSource:
    """A prepared source from a photo on disk."""
    return prepare_image(load_image(path, config.max_megapixels), config, f"the source photo {path}")


def prepare_upload(data: bytes, config: LiveConfig) -> PreparedSource:
    """A prepared source from uploaded bytes."""
    image = decode_image_bytes(data, config.max_upload_bytes, config.max_megapixels)
    return prepare_image(image, config, "the uploaded photo")


class SourceLibrary:
    """Prepared sources by id, in memory, the oldest forgotten past ``capacity``; ``default`` is never."""

    DEFAULT_ID = "default"

    def __init__(self, default: PreparedSource, capacity: int = 32):
        self.capacity = capacity
        self._lock = threading.Lock()
        self._items: OrderedDict[str, PreparedSource] = OrderedDict()
        self._default = default

    def add(self, source: PreparedSource) -> str:
        """Store ``source``; returns its new id."""
        key = secrets.token_urlsafe(12)
        with self._lock:
            self._items[key] = source
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return key

    def get(self, key: str | None) -> PreparedSource:
        """The source ``key`` (the default for None); ``InputError`` when unknown or forgotten."""
        if key is None or key == self.DEFAULT_ID:
            return self._default
        with self._lock:
            source = self._items.get(key)
        if source is None:
            raise InputError(f"unknown source id {key!r}: upload the photo again")
        return source

    def __len__(self) -> int:
        return len(self._items)
