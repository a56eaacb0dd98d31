"""Loading source photos with the checks users need: exists, decodes, not absurdly large."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from streamer.errors import InputError

MAX_MEGAPIXELS = 50.0


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the file header, without decoding the pixels."""
    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"cannot read image {path}: not a supported image file ({exc.__class__.__name__})") from None


def load_image(path: str | Path, max_megapixels: float = MAX_MEGAPIXELS) -> np.ndarray:
    """A BGR uint8 image (EXIF orientation applied); ``InputError`` for missing, corrupt or huge files."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    w, h = image_size(path)
    if w * h > max_megapixels * 1e6:
        raise InputError(f"image {path} is {w}x{h} ({w * h / 1e6:.0f} MP), over the {max_megapixels:.0f} MP limit")
    # Pillow, not cv2.imdecode: OpenCV's libjpeg/libpng print warnings for damaged files straight to the
    # terminal ("Corrupt JPEG data: ..."), beside our one-line error (issue 16's fuzzing). The pixels are
    # the same: both decode with libjpeg-turbo's defaults (identical arrays on the bundled photo and 20
    # photos of the shared data, checked), and EXIF orientation is applied as IMREAD_COLOR did.
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode.startswith("I"):  # 16/32-bit grey: scale to 8 bits as OpenCV does, not clip
                grey = np.asarray(im, np.float64) / (256.0 if im.mode.startswith("I;16") else 65536.0)
                rgb = np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
            else:
                rgb = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise InputError(f"cannot decode image {path}: the file is corrupt or truncated") from None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def fit_within(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale so the longer side is at most ``max_side`` and both sides are even (for yuv420p)."""
    h, w = image.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale == 1.0:  # only trim an odd row/column: no resampling
        return image[: h // 2 * 2, : w // 2 * 2]
    nw, nh = max(2, int(round(w * scale)) // 2 * 2), max(2, int(round(h * scale)) // 2 * 2)
    if (nw, nh) == (w, h):
        return image
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(image, (nw, nh), interpolation=interp)
