"""The bench's TensorRT warp runner (``benchmarks.machine.TENSORRT_MODULE`` / ``TENSORRT_FACTORY``)."""

from __future__ import annotations


def make_remap_backend(threads: int):
    """The pixel warp as a cached TensorRT engine behind ``RemapBackend`` (built on first use)."""
    from streamer.backends.select import BackendChoice, RunnerRemap, create_runner

    choice = BackendChoice("pixel_warp", "tensorrt", "requested by the bench")
    return RunnerRemap(create_runner(choice, "fp32", threads=threads))
