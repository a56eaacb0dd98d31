"""2x3 affine matrices: the one piece of geometry the kernels' host side needs.

Lives in ``kernels`` so the kernel package imports nothing of the runtime (``streamer``); the
runtime's ``streamer.geometry`` re-exports it.
"""

from __future__ import annotations

import numpy as np


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """Inverse of a 2x3 affine matrix."""
    a = np.asarray(affine, np.float64)
    lin = np.linalg.inv(a[:, :2])
    return np.concatenate([lin, -lin @ a[:, 2:3]], axis=1)
