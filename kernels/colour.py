"""YUV <-> RGB coefficients in Q16, derived from the standards (the reference side of the table in
kernels/cuda/common.cuh; a test checks that the two agree).

E_Y = Kr R + Kg G + Kb B (R, G, B in [0, 1]); E_Cb = (B - E_Y) / (2 (1 - Kb)); E_Cr = (R - E_Y) / (2 (1 - Kr)).
Full range: Y = 255 E_Y, U = 128 + 255 E_Cb, V = 128 + 255 E_Cr (JPEG / JFIF).
Limited range: Y = 16 + 219 E_Y, U = 128 + 224 E_Cb, V = 128 + 224 E_Cr (studio swing).
Each coefficient is rounded half up at 2^16; in RGB -> YUV the green coefficient absorbs the
rounding of its row so that Y of white is exact and grey has U = V = 128 exactly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from kernels.frames import Colour

Q = 16
KR_KB = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722)}


class YuvToRgb(NamedTuple):
    """R = cy (Y - y0) + rv (V - 128); G = cy (Y - y0) + gu (U - 128) + gv (V - 128); B = cy (Y - y0) + bu (U - 128)."""

    y_offset: int
    cy: int
    rv: int
    gu: int
    gv: int
    bu: int


class RgbToYuv(NamedTuple):
    """Y = y0 + (yr R + yg G + yb B), U = 128 + (ur R + ug G + ub B), V = 128 + (vr R + vg G + vb B), in Q16."""

    y_offset: int
    yr: int
    yg: int
    yb: int
    ur: int
    ug: int
    ub: int
    vr: int
    vg: int
    vb: int


def _q(value: float) -> int:
    return math.floor(value * (1 << Q) + 0.5)


def scales(colour: Colour) -> tuple[int, int, int]:
    """(Y offset, Y scale, chroma scale) of a range."""
    return (0, 255, 255) if colour.full_range else (16, 219, 224)


def yuv_to_rgb_coefficients(colour: Colour) -> YuvToRgb:
    kr, kb = KR_KB[colour.matrix]
    kg = 1.0 - kr - kb
    y0, ys, cs = scales(colour)
    return YuvToRgb(
        y0,
        _q(255 / ys),
        _q(255 * 2 * (1 - kr) / cs),
        -_q(255 * 2 * kb * (1 - kb) / (kg * cs)),
        -_q(255 * 2 * kr * (1 - kr) / (kg * cs)),
        _q(255 * 2 * (1 - kb) / cs),
    )


def rgb_to_yuv_coefficients(colour: Colour) -> RgbToYuv:
    kr, kb = KR_KB[colour.matrix]
    y0, ys, cs = scales(colour)
    yr, yb = _q(ys / 255 * kr), _q(ys / 255 * kb)
    yg = _q(ys / 255) - yr - yb
    ur, ub = -_q(cs / 255 * kr / (2 * (1 - kb))), _q(cs / 255 * 0.5)
    vr, vb = _q(cs / 255 * 0.5), -_q(cs / 255 * kb / (2 * (1 - kr)))
    return RgbToYuv(y0, yr, yg, yb, ur, -(ur + ub), ub, vr, -(vr + vb), vb)
