"""Every .cu compiles with nvcc for sm_75, sm_80, sm_86, sm_89, sm_90 (+ compute_90 PTX and the host
pass) with warnings as errors. Cached by source hash: only the first run after an edit compiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernels import nvcc_check
from kernels.host import KERNEL_ARGS


@pytest.fixture(scope="module")
def results():
    if nvcc_check.find_nvcc() is None:
        pytest.skip("nvcc not found (install the CUDA toolkit or set NVCC) - the GPU build cannot be checked")
    return nvcc_check.check()


def test_every_source_compiles_clean_for_every_arch(results):
    report = nvcc_check.format_report(results)
    assert all(r.ok for r in results), report
    expected = {f"sm_{a}" for a in nvcc_check.ARCHS} | {f"compute_{nvcc_check.PTX_ARCH}", "host"}
    sources = {p.name for p in nvcc_check.cu_sources()}
    assert sources == {"preprocess.cu", "postprocess.cu", "rasterize.cu"}
    for src in sources:
        assert {r.target for r in results if r.source == src} == expected, report
    for r in results:
        assert not r.output, f"{r.source} {r.target}: {r.output}"
        assert r.artifact and Path(r.artifact).stat().st_size > 0


def test_every_kernel_is_exported_unmangled(results):
    """The PTX of the files together defines each kernel under its C name (what pycuda looks up)."""
    ptx = "".join(Path(r.artifact).read_text() for r in results if r.target.startswith("compute_"))
    for name in KERNEL_ARGS:
        assert f".entry {name}(" in ptx, name
