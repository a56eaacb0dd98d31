"""Source photos: EXIF orientation applied, damaged files a one-line error (decoded with Pillow)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from streamer.errors import InputError
from streamer.media.images import load_image


def _marked(w: int = 64, h: int = 48) -> np.ndarray:
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[:12, :12] = (255, 0, 0)  # red marker, top-left
    return rgb


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_exif_orientation_is_applied(tmp_path, suffix):
    """Orientation 6 (a phone held upright): stored turned 90 degrees counter-clockwise, shown upright."""
    upright = _marked()
    stored = Image.fromarray(np.ascontiguousarray(np.rot90(upright, 1)))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / f"photo{suffix}"
    stored.save(path, exif=exif.tobytes(), quality=95)
    image = load_image(path)
    assert image.shape == (48, 64, 3)
    assert image[:12, :12, 2].mean() > 200 and image[:12, :12, 0].mean() < 60  # BGR: red on top-left


def test_matches_opencv_pixels(tmp_path):
    import cv2

    rng = np.random.default_rng(0)
    path = tmp_path / "noise.jpg"
    cv2.imwrite(str(path), rng.integers(0, 255, (40, 56, 3), dtype=np.uint8))
    assert np.array_equal(load_image(path), cv2.imread(str(path)))


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "grey16.png"
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(path)
    image = load_image(path)
    assert image.shape == (8, 8, 3) and int(image[0, 0, 0]) == 128


@pytest.mark.parametrize("damage", [b"", b"\xff\xd8\xff", b"not an image at all"])
def test_damaged_photo_is_one_line_input_error(tmp_path, damage):
    path = tmp_path / "bad.jpg"
    path.write_bytes(damage)
    with pytest.raises(InputError) as info:
        load_image(path)
    assert "\n" not in str(info.value)
