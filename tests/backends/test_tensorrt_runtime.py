"""The TensorRT runtime wrapper: importable everywhere, exercised on a GPU only."""

from __future__ import annotations

import importlib
import sys

import pytest

from export.tensorrt_build import tensorrt_status


def test_cpu_install_never_imports_tensorrt_or_pycuda():
    for name in ("streamer.backends.tensorrt", "export.tensorrt_build", "export.tensorrt", "streamer.backends.select"):
        importlib.import_module(name)
    assert "tensorrt" not in sys.modules or tensorrt_status()[0]
    assert "pycuda" not in sys.modules or tensorrt_status()[0]


def test_status_gives_a_reason_here():
    ok, reason = tensorrt_status()
    assert ok or "needs an NVIDIA GPU" in reason


@pytest.mark.gpu
def test_bind_chains_engines_without_host_copies(tmp_path):
    ok, reason = tensorrt_status()
    if not ok:
        pytest.skip(reason)
    import numpy as np
    import torch

    from export.registry import get_network
    from streamer.backends.select import BackendChoice, create_runner

    net = get_network("pixel_warp")
    first = create_runner(BackendChoice("pixel_warp", "tensorrt", "test"))
    second = create_runner(BackendChoice("pixel_warp", "tensorrt", "test"))
    feeds = net.real_inputs(1)
    for name, value in feeds.items():
        first.buffers[name].copy_(torch.from_numpy(value))
    # The warped crop feeds the next warp on the GPU; the runners have their own streams, so the second
    # waits for the first's event (and the first's next run for the second's).
    second.bind("image", first.buffers["warped"], producer=first)
    second.buffers["pixel_map"].copy_(torch.from_numpy(feeds["pixel_map"]))
    first.enqueue()
    second.enqueue()
    second.synchronize()
    twice = first.infer({"image": first.infer(feeds)["warped"], "pixel_map": feeds["pixel_map"]})["warped"]
    assert np.abs(second.buffers["warped"].cpu().numpy() - twice).max() < 1e-3


@pytest.mark.gpu
def test_one_runner_shared_by_threads_gives_each_its_own_result():
    """Issue #19 item 6 on a GPU: threads sharing a runner (live streams sharing the RFG's) take turns
    on its one execution context; each gets the result of its own inputs."""
    ok, reason = tensorrt_status()
    if not ok:
        pytest.skip(reason)
    import threading

    import numpy as np

    from export.registry import get_network
    from streamer.backends.select import BackendChoice, create_runner

    net = get_network("pixel_warp")
    shared = create_runner(BackendChoice("pixel_warp", "tensorrt", "test"))
    base = net.real_inputs(1)
    feeds = [{**base, "image": np.roll(base["image"], 8 * k, axis=-1)} for k in range(4)]
    want = [shared.infer(f)["warped"] for f in feeds]
    got: dict[int, list] = {k: [] for k in range(4)}

    def stream(k: int) -> None:
        for _ in range(10):
            got[k].append(shared.infer(feeds[k])["warped"])

    threads = [threading.Thread(target=stream, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert all(np.array_equal(g, want[k]) for g in got[k]), f"stream {k} got another stream's result"
