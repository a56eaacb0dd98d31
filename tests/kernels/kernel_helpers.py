"""Helpers shared by the kernel tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from kernels.frames import BT601_LIMITED, Colour

COLOURS = [BT601_LIMITED, Colour("bt601", True), Colour("bt709", False), Colour("bt709", True)]
COLOUR_IDS = ["601-limited", "601-full", "709-limited", "709-full"]
SHARED_DATA = Path(os.environ.get("REENACT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """A file of ../shared/data; skips the test with a clear message when it is absent."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"needs the shared real data ({path} is absent; set REENACT_SHARED_DATA)")
    return path


def similarity(angle_deg: float, scale: float, centre: tuple[float, float], target: tuple[float, float]) -> np.ndarray:
    """2x3 frame -> crop similarity: rotate by ``angle_deg``, scale, and move ``centre`` to ``target``."""
    a = np.deg2rad(angle_deg)
    lin = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.concatenate([lin, (np.asarray(target) - lin @ np.asarray(centre))[:, None]], axis=1)


def assert_u8_close(actual: np.ndarray, expected: np.ndarray, tol: int = 1) -> None:
    """8-bit outputs: same shape, max abs difference <= tol levels."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    diff = np.abs(actual.astype(np.int32) - expected.astype(np.int32))
    assert int(diff.max(initial=0)) <= tol, f"max diff {diff.max()} at {np.unravel_index(diff.argmax(), diff.shape)}"


def assert_float_close(actual: np.ndarray, expected: np.ndarray, tol: float = 1e-5) -> None:
    """Float outputs: same shape, max abs difference <= tol."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    assert float(diff.max(initial=0)) <= tol, f"max diff {diff.max()}"
