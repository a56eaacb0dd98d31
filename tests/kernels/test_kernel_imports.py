"""The kernel package stands alone: it imports nothing of the runtime (``streamer``)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

KERNEL_MODULES = (
    "kernels",
    "kernels.affine",
    "kernels.colour",
    "kernels.cpu_build",
    "kernels.frames",
    "kernels.gpu",
    "kernels.host",
    "kernels.nvcc_check",
    "kernels.reference",
)


def test_kernels_import_no_runtime_module():
    code = (
        "import importlib, sys\n"
        f"for name in {KERNEL_MODULES!r}: importlib.import_module(name)\n"
        "print(','.join(sorted(m for m in sys.modules if m == 'streamer' or m.startswith('streamer.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "", f"kernels imported runtime modules: {out.stdout.strip()}"


def test_the_runtime_uses_the_kernels_inverse():
    from kernels.affine import invert_affine
    from streamer import geometry

    assert geometry.invert_affine is invert_affine
    a = np.array([[0.8, -0.3, 12.0], [0.25, 1.1, -7.0]])
    back = invert_affine(a)
    np.testing.assert_allclose(back[:, :2] @ a[:, :2], np.eye(2), atol=1e-12)
    np.testing.assert_allclose(back[:, :2] @ a[:, 2] + back[:, 2], 0.0, atol=1e-12)
