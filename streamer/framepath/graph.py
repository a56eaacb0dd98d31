"""Capture one frame's device work once, replay it every frame: a CUDA graph of the per-frame path.

Per frame the kernel path queues the same work with the same buffers: copy the host-made inputs up
(from fixed staging buffers), run the preprocess kernel and the engines, paste, convert, copy the
result down (into a fixed host buffer). ``GraphDevice`` wraps a device and records that sequence:

* **eager**: every call goes straight to the device (warm-up frames: TensorRT allocates lazily on its
  first run, which must not happen inside a capture);
* **capture**: the frame is rendered as usual (host work, host writes into the staging buffers), but
  each queued device call is only recorded, with a signature of it (op, buffer addresses, launch
  arguments); once the frame's host work is done the recorded calls are issued, and only they, into
  the device's graph capture (``Device.capture_graph``: a ``torch.cuda.CUDAGraph`` on the device's
  stream on a GPU; the list of calls on the host device). Nothing of the host work runs inside a CUDA
  capture, e.g. a reenactor whose own warp runs on a TensorRT runner with its own stream and host
  synchronisation (``--backend auto`` on a GPU), which a capture would forbid;
* **replay**: host writes happen; each queued call is only checked against the signature (and not
  issued); the frame's ``download`` replays the whole graph, waits, and returns the fixed host buffer.

Any difference in the sequence (a new source, other buffers, another branch) raises ``GraphMismatch``
before anything was replayed; ``GraphRenderer`` then renders that frame eagerly and captures anew.
On the host device the same logic runs with the recorded calls as the "graph", which is how it is
tested without a GPU (tests/framepath/test_framepath_graph.py; the CUDA side's order of host work and
capture with stand-ins in test_framepath_cuda_fakes.py). Saves the per-launch CPU cost of the
10-20 launches and copies of a frame on a GPU (measured by ``python -m benchmarks.gpu``, rows "graph").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from kernels import host
from streamer.framepath.device import Buffer, Device, _check_upload
from streamer.landmarks import FaceLandmarks
from streamer.pipeline import PreparedSource

EAGER, CAPTURE, REPLAY = "eager", "capture", "replay"


class GraphMismatch(RuntimeError):
    """This frame's device work differs from the captured graph's."""


def _launch_key(launch: host.Launch) -> tuple:
    def arg(a: Any) -> Any:
        if isinstance(a, np.ndarray):
            return (a.dtype.str, a.shape, a.tobytes())
        return a

    return ("launch", launch.kernel, launch.grid, launch.block, tuple(arg(a) for a in launch.args))


class GraphDevice:
    """A device whose queued work can be captured once and replayed (see the module doc)."""

    def __init__(self, device: Device):
        self.base = device
        self.name = device.name
        self.mode = EAGER
        self._signature: list[tuple] = []
        self._recording: list[tuple] = []
        self._calls: list[Callable[[], None]] = []  # the capture frame's device calls, issued after it
        self._position = 0
        self._graph: Any = None
        self._uploaded: set[int] = set()  # this frame's upload targets: each once (one staging array each)

    def __getattr__(self, name: str) -> Any:  # stream, adopt, kernels, ...: the wrapped device's
        return getattr(self.base, name)

    @property
    def captured(self) -> bool:
        """Whether a graph is held."""
        return self._graph is not None

    # ---- the recording of queued calls --------------------------------------------------------------
    def _queue(self, key: tuple, call: Callable[[], None]) -> None:
        if self.mode == EAGER:
            call()
        elif self.mode == CAPTURE:
            self._recording.append(key)
            self._calls.append(call)  # issued into the graph capture once the frame's host work is done
        else:
            if self._position >= len(self._signature) or self._signature[self._position] != key:
                raise GraphMismatch(f"call {self._position} ({key[0]}) differs from the captured frame")
            self._position += 1

    # ---- Device ---------------------------------------------------------------------------------------
    def empty(self, shape: tuple[int, ...], dtype: type) -> Buffer:
        if self.mode != EAGER:
            raise GraphMismatch("allocation inside a captured frame")
        return self.base.empty(shape, dtype)

    def upload(self, dst: Buffer, src: np.ndarray) -> None:
        if self.mode == EAGER:
            self.base.upload(dst, src)
            return
        src = _check_upload(dst, src)
        if dst.ptr in self._uploaded:
            raise GraphMismatch("a buffer uploaded twice in one frame (its staging would be overwritten)")
        self._uploaded.add(dst.ptr)
        # The host write happens now, in every mode; the copy up is the queued (captured) part.
        np.copyto(self.base.staging(dst), src)
        self._queue(("upload", dst.ptr, dst.shape, dst.dtype.str), lambda: self.base.commit(dst))

    def copy(self, dst: Buffer, src: Buffer) -> None:
        self._queue(("copy", dst.ptr, src.ptr, dst.nbytes), lambda: self.base.copy(dst, src))

    def zero(self, buf: Buffer) -> None:
        self._queue(("zero", buf.ptr, buf.nbytes), lambda: self.base.zero(buf))

    def launch(self, launch: host.Launch) -> None:
        self._queue(_launch_key(launch), lambda: self.base.launch(launch))

    def enqueue(self, key: str, work: Callable[[], None]) -> None:
        """Queue device work that is not a kernel launch (an engine run), named by ``key``."""
        self._queue(("enqueue", key), work)

    def download(self, src: Buffer) -> np.ndarray:
        """Eager: the data. Captured or replayed: the fixed host array it lands in once the graph ran."""
        if self.mode == EAGER:
            return self.base.download(src)
        self._queue(("download", src.ptr, src.shape, src.dtype.str), lambda: self.base.fetch(src))
        return self.base.host_buffer(src)

    def synchronize(self) -> None:
        if self.mode == EAGER:
            self.base.synchronize()

    # ---- capture and replay -------------------------------------------------------------------------
    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """Record the device work queued inside the block, then capture it as the graph (nothing of it
        has run yet: :meth:`replay` runs it). The block's host work runs before the capture starts."""
        self._graph, self._recording, self._calls, self.mode = None, [], [], CAPTURE
        self._uploaded = set()
        try:
            yield
            self.mode = EAGER
            self._graph = self.base.capture_graph(self._calls)
            self._signature = self._recording
        except BaseException:
            self._graph = None
            raise
        finally:
            self.mode, self._calls = EAGER, []

    @contextlib.contextmanager
    def replaying(self) -> Iterator[None]:
        """Check the block's queued calls against the captured frame (issuing none of them)."""
        if self._graph is None:
            raise RuntimeError("nothing captured")
        self.mode, self._position = REPLAY, 0
        self._uploaded = set()
        try:
            yield
            if self._position != len(self._signature):
                raise GraphMismatch(f"{self._position} of the captured frame's {len(self._signature)} calls made")
        finally:
            self.mode = EAGER

    def replay(self) -> None:
        """Run the captured frame once and wait for it."""
        if self._graph is None:
            raise RuntimeError("nothing captured")
        self.base.replay_graph(self._graph)

    def release(self) -> None:
        """Drop the graph (e.g. the buffers changed)."""
        self._graph, self._signature = None, []

    def close(self) -> None:
        """Drop the graph, then close the wrapped device."""
        self.release()
        self.base.close()


class GraphRenderer:
    """A ``DeviceRenderer`` whose per-frame device work is captured once and replayed (module doc).

    ``warmup`` eager frames come first (TensorRT's lazy allocations); a new source (``prepare``) or a
    frame whose work differs releases the graph, renders that frame eagerly and captures the next.
    """

    def __init__(self, renderer: Any, warmup: int = 1):
        if not isinstance(renderer.device, GraphDevice):
            raise TypeError("the renderer must be built on a GraphDevice")
        if warmup < 1:
            raise ValueError("warmup must be at least 1: the eager frame makes the staging buffers and engines ready")
        self.inner = renderer
        self.device: GraphDevice = renderer.device
        self.compositor = renderer.compositor
        self.warmup = warmup
        self._eager_left = warmup
        self.captures = self.replays = 0

    def prepare(self, source: PreparedSource) -> None:
        """New source: new canvas and per-source results, so the graph goes (the same source again: nothing)."""
        if source is self.inner.prepared:
            return
        self.device.release()
        self._eager_left = self.warmup
        self.inner.prepare(source)

    def render(self, source: PreparedSource, driver: FaceLandmarks, reference: FaceLandmarks) -> np.ndarray:
        """The output frame, from the graph when one is held."""
        dev = self.device
        if dev.captured:
            try:
                with dev.replaying():
                    out = self.inner.render(source, driver, reference)
            except GraphMismatch:
                dev.release()
                self._eager_left = self.warmup
            else:
                dev.replay()
                self.replays += 1
                return out.copy()
        if self._eager_left > 0:
            self._eager_left -= 1
            return self.inner.render(source, driver, reference)
        with dev.capturing():
            out = self.inner.render(source, driver, reference)
        dev.replay()
        self.captures += 1
        return out.copy()

    def close(self) -> None:
        """Drop the graph and close the device (see ``DeviceRenderer.close``)."""
        self.inner.close()
