"""A contact sheet of a benchmark's worst frames: driver and output side by side, one row per kind of failure.

The sheet is for looking, not for committing: made from the shared data, it shows real people
(``../shared/data/README.md`` forbids committing frames or anything cut from them), so benchmarks
write it to a path on their command line, by default under ``runs/`` (ignored by git).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from export.atomic import atomic_write_bytes

CAPTION_H = 14  #: pixels of caption under each tile
TITLE_H = 20  #: pixels of the row title above each row
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class Tile:
    """One frame pair for the sheet."""

    kind: str  #: the row it belongs to (e.g. "face not found")
    badness: float  #: higher is worse; orders the row
    caption: str
    driver: np.ndarray  #: BGR thumbnail
    output: np.ndarray  #: BGR thumbnail, same height as ``driver``


def thumbnail(image: np.ndarray, height: int) -> np.ndarray:
    """``image`` scaled to ``height`` rows (area interpolation), aspect kept."""
    h, w = image.shape[:2]
    width = max(1, int(round(w * height / h)))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def make_tile(kind: str, badness: float, caption: str, driver: np.ndarray, output: np.ndarray, height: int) -> Tile:
    """A tile of full-size frames, stored as thumbnails ``height`` rows high."""
    return Tile(kind, badness, caption, thumbnail(driver, height), thumbnail(output, height))


def worst(tiles: list[Tile], per_kind: int) -> dict[str, list[Tile]]:
    """The ``per_kind`` worst tiles of each kind (kinds in order of first appearance)."""
    rows: dict[str, list[Tile]] = defaultdict(list)
    for tile in tiles:
        rows[tile.kind].append(tile)
    return {kind: sorted(row, key=lambda t: -t.badness)[:per_kind] for kind, row in rows.items()}


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float) -> None:
    cv2.putText(canvas, text, (x, y), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def render(rows: dict[str, list[Tile]], columns: int | None = None, gap: int = 4) -> np.ndarray:
    """The sheet: per kind a title, then its tiles (driver | output) left to right with captions."""
    if not any(rows.values()):
        raise ValueError("no tiles to draw")
    pair_w = max(t.driver.shape[1] + t.output.shape[1] for row in rows.values() for t in row)
    tile_h = max(t.driver.shape[0] for row in rows.values() for t in row)
    columns = columns or max(len(row) for row in rows.values())
    width = columns * (pair_w + gap) + gap
    height = sum(TITLE_H + tile_h + CAPTION_H + gap for row in rows.values() if row) + gap
    sheet = np.full((height, width, 3), 32, np.uint8)
    y = gap
    for kind, row in rows.items():
        if not row:
            continue
        _text(sheet, f"{kind} (left: driver, right: output)", gap, y + TITLE_H - 6, 0.45)
        y += TITLE_H
        for i, t in enumerate(row[:columns]):
            x = gap + i * (pair_w + gap)
            dh, dw = t.driver.shape[:2]
            oh, ow = t.output.shape[:2]
            sheet[y : y + dh, x : x + dw] = t.driver
            sheet[y : y + oh, x + dw : x + dw + ow] = t.output
            _text(sheet, t.caption[: max(8, pair_w // 6)], x, y + tile_h + CAPTION_H - 3, 0.32)
        y += tile_h + CAPTION_H + gap
    return sheet


def write_jpeg(path: Path, image: np.ndarray, quality: int = 85) -> Path:
    """``image`` as a JPEG at ``path``, written atomically."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as JPEG")
    return atomic_write_bytes(path, data.tobytes())
