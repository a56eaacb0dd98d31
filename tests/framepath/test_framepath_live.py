"""Live streams (serve, camera) on the kernel frame path: same frames as OpenCV's paste-back."""

from __future__ import annotations

import numpy as np

from streamer.examples import example_source_path
from streamer.live.config import LiveConfig
from streamer.live.sources import prepare_file
from streamer.live.stream import LiveStream, SetPasteBack, SetSource
from streamer.webrtc.client import load_clip


def _run(source, config: LiveConfig, frames, controls=()) -> list[np.ndarray]:
    stream = LiveStream(source, config)
    stream.open()
    try:
        out = []
        for i, frame in enumerate(frames):
            for at, control in controls:
                if at == i:
                    stream.apply(control)
            out.append(stream.process(frame).image)
        return out
    finally:
        stream.close()


def test_live_stream_on_the_kernel_path(example_driver, astronaut):
    clip, _ = load_clip(example_driver, max_frames=8, max_side=480)
    frames = [f.to_ndarray(format="bgr24") for f in clip]
    opencv, kernels = LiveConfig(max_side=512, frame_path="opencv"), LiveConfig(max_side=512, frame_path="kernels")
    source = prepare_file(example_source_path(), opencv)
    other = prepare_file(example_source_path(), LiveConfig(max_side=384))  # a new source at another size
    controls = [(3, SetSource(other)), (6, SetPasteBack(False))]
    want = _run(source, opencv, frames, controls)
    got = _run(source, kernels, frames, controls)
    assert [g.shape for g in got] == [w.shape for w in want]
    assert got[4].shape != got[0].shape and got[7].shape == (256, 256, 3)
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
