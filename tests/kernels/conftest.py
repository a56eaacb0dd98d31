"""Fixtures for the kernel tests: the CPU-emulated library (built once per session, cached by source
hash), real-looking test frames cut from the bundled astronaut photo, and an alignment."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_helpers import similarity


@pytest.fixture(scope="session")
def cpu():
    """The CPU-emulated kernel library; skips only when there is no C++ compiler at all."""
    from kernels.cpu_build import CompilerMissing, cpu_kernels

    try:
        return cpu_kernels()
    except CompilerMissing as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def cuda():
    """pycuda's driver with device 0's primary context (the one TensorRT uses) pushed; skips without a GPU."""
    from kernels.gpu import gpu_status

    ok, reason = gpu_status()
    if not ok:
        pytest.skip(reason)
    import pycuda.driver as drv

    context = drv.Device(0).retain_primary_context()
    context.push()
    yield drv
    context.pop()


@pytest.fixture(scope="session")
def photo(astronaut) -> np.ndarray:
    """A non-square, odd-sized (301 x 421) BGR cut of the astronaut photo, face off-centre."""
    return np.ascontiguousarray(astronaut[37:338, 21:442])


@pytest.fixture(scope="session")
def even_photo(astronaut) -> np.ndarray:
    """An even-sized (300 x 420) BGR cut (OpenCV's 4:2:0 conversions need even sizes)."""
    return np.ascontiguousarray(astronaut[37:337, 21:441])


@pytest.fixture(scope="session")
def affine() -> np.ndarray:
    """A rotation + scale + translation aligning the astronaut's face (off-centre in ``photo``) to a
    256 crop, with the crop's corners reaching outside the frame (exercises edge replication)."""
    return similarity(17.0, 0.9, (205.3, 95.9), (131.7, 110.2))
