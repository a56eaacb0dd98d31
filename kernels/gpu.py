"""Launch the kernels on an NVIDIA GPU through pycuda (``pip install reenact[gpu]``).

pycuda is imported lazily, so this module imports everywhere; :func:`gpu_status` says whether a GPU
path is usable. Modules come from the cubins / PTX that ``python -m kernels.nvcc_check [--out DIR]``
builds (the cubin of the device's architecture, else compute_90 PTX JIT-compiled by the driver),
prebuilt in a folder or built on first use, or else from pycuda's ``SourceModule``.

Sharing buffers with TensorRT: load the kernels in the context TensorRT uses (the device's primary
context: ``cuda.Device(0).retain_primary_context().push()``), pass engine bindings as integer
device pointers (the kernels write the engine input and read its output in place), and run both on
one stream: launch here with a pycuda ``Stream`` and give TensorRT ``stream.handle``
(``context.execute_async_v3(stream.handle)``). Everything is asynchronous on that stream. Pop the
context on the thread that pushed it before that thread ends: pycuda aborts the process when a thread
or the interpreter ends with a context on its stack (``streamer.framepath.device.CudaDevice.active``
pushes around each call and pops before returning).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kernels import host
from kernels.cpu_build import SOURCE_DIR
from kernels.frames import BT601_LIMITED, RGB_SIGNED, Colour, Format, TensorLayout

SKIP_REASON = "needs an NVIDIA GPU and pycuda"
STATS_BYTES = 7 * 8  # the seam statistics: 7 int64


def gpu_status() -> tuple[bool, str]:
    """(usable, reason): pycuda imports, the driver initialises and there is at least one GPU."""
    try:
        import pycuda.driver as cuda
    except ImportError:
        return False, f"{SKIP_REASON} (pycuda is not installed: pip install reenact[gpu])"
    try:
        cuda.init()
        if cuda.Device.count() == 0:
            return False, f"{SKIP_REASON} (no CUDA device)"
    except Exception as exc:  # noqa: BLE001 - any driver failure means "no GPU here"
        return False, f"{SKIP_REASON} ({exc.__class__.__name__}: {exc})"
    return True, "ok"


def _artifact(directory: Path, stem: str, major: int, minor: int) -> Path | None:
    """The cubin for this device, else PTX it can JIT (only for devices at least as new as the PTX)."""
    from kernels.nvcc_check import PTX_ARCH

    cubin = directory / f"{stem}.sm_{major}{minor}.cubin"
    if cubin.is_file():
        return cubin
    ptx = directory / f"{stem}.compute_{PTX_ARCH}.ptx"
    return ptx if ptx.is_file() and major * 10 + minor >= PTX_ARCH else None


def _load_modules(cuda: Any, artifacts: Path | None) -> list[Any]:
    """One module per .cu from prebuilt artifacts (``artifacts``, else a clean nvcc_check build when
    nvcc is here), or a single pycuda SourceModule compiling every kernel."""
    from kernels import nvcc_check

    major, minor = cuda.Context.get_device().compute_capability()
    directory = artifacts
    if directory is None and nvcc_check.find_nvcc() is not None:
        results = nvcc_check.check()
        if all(r.ok for r in results):
            directory = Path(results[0].artifact).parent  # type: ignore[arg-type]
    if directory is not None:
        found = [_artifact(directory, src.stem, major, minor) for src in nvcc_check.cu_sources()]
        if all(found):
            return [cuda.module_from_file(str(path)) for path in found]
    from pycuda.compiler import SourceModule

    code = "".join(f'#include "{p.name}"\n' for p in sorted(SOURCE_DIR.glob("*.cu")))
    return [SourceModule(code, no_extern_c=True, include_dirs=[str(SOURCE_DIR)], options=["-std=c++17"])]


class GpuKernels:
    """The kernels in the current CUDA context; every call takes device pointers (ints) and a stream."""

    def __init__(self, artifacts: Path | None = None):
        """``artifacts``: a folder of ``python -m kernels.nvcc_check --out DIR`` output (prebuilt
        cubins / PTX, no nvcc needed at run time); by default the cached nvcc build or SourceModule."""
        ok, reason = gpu_status()
        if not ok:
            raise RuntimeError(reason)
        import pycuda.driver as cuda

        if cuda.Context.get_current() is None:
            raise RuntimeError("no current CUDA context: push one first (e.g. the primary context TensorRT uses)")
        self._cuda = cuda
        self._functions: dict[str, Any] = {}
        for module in _load_modules(cuda, artifacts):
            for name, codes in host.KERNEL_ARGS.items():
                if name in self._functions:
                    continue
                try:
                    self._functions[name] = module.get_function(name).prepare(codes)
                except cuda.LogicError:
                    continue  # not in this module
        missing = set(host.KERNEL_ARGS) - set(self._functions)
        if missing:
            raise RuntimeError(f"kernels missing from the loaded modules: {sorted(missing)}")

    def launch(self, launch: host.Launch, stream: Any = None) -> None:
        """Queue one launch on ``stream`` (a pycuda Stream; None = the default stream)."""
        args = [
            int(a) if code == "P" else a for code, a in zip(host.KERNEL_ARGS[launch.kernel], launch.args, strict=True)
        ]
        self._functions[launch.kernel].prepared_async_call(launch.grid, launch.block, stream, *args)

    # ---- pre-processing ----------------------------------------------------------------------------
    def preprocess(
        self,
        frame: host.PlanePointers,
        affine: np.ndarray,
        out: int,
        size: int = 256,
        half: bool = False,
        colour: Colour = BT601_LIMITED,
        stream: Any = None,
        layout: TensorLayout = RGB_SIGNED,
    ) -> None:
        """Normalised (1, 3, size, size) crop written at device address ``out`` (an engine binding,
        or ``binding + slot * 3 * size * size * itemsize`` for a batch slot), in the engine's ``layout``."""
        self.launch(host.preprocess_launch(frame, affine, int(out), size, half, colour, layout), stream)

    def to_packed(
        self,
        frame: host.PlanePointers,
        out: int,
        out_pitch: int,
        order: Format = "bgr",
        colour: Colour = BT601_LIMITED,
        stream: Any = None,
    ) -> None:
        self.launch(host.to_packed_launch(frame, int(out), out_pitch, order, colour), stream)

    # ---- post-processing ---------------------------------------------------------------------------
    def denormalize(
        self,
        src: int,
        out: int,
        width: int,
        height: int,
        out_pitch: int,
        order: Format = "bgr",
        half: bool = False,
        stream: Any = None,
        layout: TensorLayout = RGB_SIGNED,
    ) -> None:
        self.launch(host.denormalize_launch(int(src), int(out), width, height, out_pitch, order, half, layout), stream)

    def paste(
        self,
        frame: int,
        frame_pitch: int,
        width: int,
        height: int,
        crop: int,
        affine: np.ndarray,
        mask: int,
        size: int = 256,
        stats: int | None = None,
        half: bool = False,
        order: Format = "bgr",
        stream: Any = None,
        layout: TensorLayout = RGB_SIGNED,
    ) -> host.PasteRegion | None:
        """Paste the generated crop (device NCHW at ``crop``) into the packed frame in place, with the
        feather ``mask`` (device size x size float32). ``stats``: a 56-byte device scratch buffer for
        the seam colour match (None: no colour match). Returns the region touched."""
        region = host.paste_region(affine, size, width, height)
        if region is None:
            return None
        args = (region, int(crop), int(mask), int(frame))
        if stats is not None:
            self._cuda.memset_d8_async(int(stats), 0, STATS_BYTES, stream)
            launch = host.seam_stats_launch(*args, int(stats), size, frame_pitch, order, half, layout=layout)
            self.launch(launch, stream)
        self.launch(host.paste_launch(*args, int(stats or 0), size, frame_pitch, order, half, layout), stream)
        return region

    def to_yuv420(
        self,
        src: int,
        src_pitch: int,
        out: host.PlanePointers,
        order: Format = "bgr",
        colour: Colour = BT601_LIMITED,
        stream: Any = None,
    ) -> None:
        """Packed BGR / RGB at ``src`` -> the NV12 / I420 planes of ``out`` (e.g. an encoder surface)."""
        self.launch(host.to_yuv420_launch(int(src), src_pitch, order, out, colour), stream)

    # ---- mesh rasteriser ---------------------------------------------------------------------------
    def rasterize(
        self,
        target: int,
        source: int,
        triangles: int,
        num_triangles: int,
        zbuf: int,
        size: tuple[int, int],
        outputs: tuple[int, int, int, int],
        src_zbuf: int | None = None,
        source_size: tuple[int, int] = (0, 0),
        depth_tolerance: float = 1.0,
        stream: Any = None,
    ) -> None:
        """The mesh rasteriser (kernels.rasterize's contract) on device arrays: ``target`` / ``source``
        (V, 3) float32 (x, y, depth), ``triangles`` (T, 3) int32 (indices checked by the caller, e.g.
        with ``kernels.rasterize.prepare_mesh``), ``zbuf`` height * width uint64 scratch, ``outputs`` =
        map_x, map_y (float32), mask, revealed (uint8), each height * width; ``src_zbuf`` (source_size
        uint64 scratch) turns on the source occlusion test."""
        height, width = size
        self._cuda.memset_d8_async(int(zbuf), 0xFF, width * height * 8, stream)
        if src_zbuf is not None:
            src_h, src_w = source_size
            self._cuda.memset_d8_async(int(src_zbuf), 0xFF, src_w * src_h * 8, stream)
        outs = tuple(int(p) for p in outputs)
        for launch in host.raster_launches(
            int(target),
            int(source),
            int(triangles),
            num_triangles,
            int(zbuf),
            int(src_zbuf or 0),
            outs,  # type: ignore[arg-type]
            size,
            source_size,
            depth_tolerance,
        ):
            self.launch(launch, stream)
