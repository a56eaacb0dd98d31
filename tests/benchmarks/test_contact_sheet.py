"""benchmarks.contact_sheet: picking the worst tiles and laying them out, on synthetic frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from benchmarks.contact_sheet import CAPTION_H, TITLE_H, make_tile, render, worst, write_jpeg


def _frame(value: int, h: int = 60, w: int = 80) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_worst_keeps_the_highest_badness_per_kind_in_order():
    tiles = [make_tile("a", b, f"a{b}", _frame(10), _frame(20), 30) for b in (0.2, 0.9, 0.5)]
    tiles.append(make_tile("b", 1.0, "b", _frame(10), _frame(20), 30))
    rows = worst(tiles, 2)
    assert list(rows) == ["a", "b"]
    assert [t.badness for t in rows["a"]] == [0.9, 0.5] and len(rows["b"]) == 1


def test_tiles_are_thumbnails_with_the_aspect_kept():
    tile = make_tile("a", 1.0, "x", _frame(10, 120, 160), _frame(20, 100, 100), 30)
    assert tile.driver.shape == (30, 40, 3) and tile.output.shape == (30, 30, 3)


def test_render_places_driver_left_of_output(tmp_path):
    rows = worst([make_tile("k", 1.0, "cap", _frame(50), _frame(200), 30)], 4)
    sheet = render(rows, gap=4)
    top = 4 + TITLE_H
    assert sheet.shape == (4 + TITLE_H + 30 + CAPTION_H + 4, 4 + 80 + 4, 3)
    assert (sheet[top + 5 : top + 25, 4 + 5 : 4 + 35] == 50).all()  # driver thumbnail, 40 px wide
    assert (sheet[top + 5 : top + 25, 4 + 45 : 4 + 75] == 200).all()  # output thumbnail right of it
    path = write_jpeg(tmp_path / "sheet.jpg", sheet)
    back = cv2.imread(str(path))
    assert back.shape == sheet.shape and abs(int(back[top + 15, 4 + 60, 0]) - 200) < 8
    assert not list(tmp_path.glob(".*"))  # the temp file of the atomic write is gone


def test_render_needs_tiles():
    with pytest.raises(ValueError, match="no tiles"):
        render({})
