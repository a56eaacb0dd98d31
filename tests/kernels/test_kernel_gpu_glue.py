"""kernels.gpu's launch glue, run without a GPU: a stand-in ``pycuda`` whose "device" launches go to
the CPU-emulated library (device pointers are host addresses). Checks the argument packing, the
module / artifact selection and the paste's stats handling, not the GPU itself."""

from __future__ import annotations

import ctypes
import sys
import types

import numpy as np
import pytest
from kernel_helpers import assert_float_close, assert_u8_close

from kernels import reference as ref
from kernels.frames import Colour
from kernels.host import KERNEL_ARGS, Launch, PlanePointers
from streamer.compositor import feather_mask


def fake_pycuda(cpu, loaded: list[str]) -> dict[str, types.ModuleType]:
    class LogicError(Exception):
        pass

    class Function:
        def __init__(self, name: str):
            self.name = name

        def prepare(self, codes: str) -> Function:
            assert codes == KERNEL_ARGS[self.name]
            return self

        def prepared_async_call(self, grid, block, stream, *args) -> None:
            cpu.launch(Launch(self.name, tuple(grid), tuple(block), tuple(args)))

    class Module:
        def __init__(self, path: str):
            loaded.append(path)
            pre = {n for n in KERNEL_ARGS if n.startswith(("reenact_preprocess", "reenact_to_packed"))}
            raster = {n for n in KERNEL_ARGS if n.startswith("reenact_raster")}
            if "source" in path:
                self.names = set(KERNEL_ARGS)
            elif "preprocess" in path:
                self.names = pre
            elif "rasterize" in path:
                self.names = raster
            else:
                self.names = set(KERNEL_ARGS) - pre - raster

        def get_function(self, name: str) -> Function:
            if name not in self.names:
                raise LogicError(name)
            return Function(name)

    class Device:
        @staticmethod
        def count() -> int:
            return 1

        def compute_capability(self) -> tuple[int, int]:
            return (8, 6)

    class Context:
        @staticmethod
        def get_current() -> object:
            return object()

        @staticmethod
        def get_device() -> Device:
            return Device()

    driver = types.ModuleType("pycuda.driver")
    driver.init = lambda: None
    driver.Device, driver.Context, driver.LogicError = Device, Context, LogicError
    driver.module_from_file = Module
    driver.memset_d8_async = lambda ptr, value, size, stream=None: ctypes.memset(ptr, value, size)
    compiler = types.ModuleType("pycuda.compiler")
    compiler.SourceModule = lambda code, **kw: Module("pre+post source")
    package = types.ModuleType("pycuda")
    package.driver, package.compiler = driver, compiler
    return {"pycuda": package, "pycuda.driver": driver, "pycuda.compiler": compiler}


@pytest.fixture()
def glue(cpu, monkeypatch):
    loaded: list[str] = []
    for name, module in fake_pycuda(cpu, loaded).items():
        monkeypatch.setitem(sys.modules, name, module)
    from kernels.gpu import GpuKernels

    return GpuKernels(), loaded


def test_loads_one_module_per_source(glue):
    _, loaded = glue
    assert len(loaded) in (1, 3)
    if len(loaded) == 3:  # the nvcc build is here: the sm_86 cubins were picked
        assert all(p.endswith(".sm_86.cubin") for p in loaded)


def test_preprocess_paste_yuv_through_the_glue(glue, photo, affine):
    gpu, _ = glue
    colour = Colour("bt709", True)
    frame = ref.rgb_to_yuv420(photo, "nv12", "bgr", colour).copy_with_pitch(16)
    pointers = (frame.planes[0].ctypes.data, frame.planes[1].ctypes.data, 0)
    ptrs = PlanePointers("nv12", frame.width, frame.height, pointers, frame.pitches)
    out = np.zeros((1, 3, 256, 256), np.float32)
    gpu.preprocess(ptrs, affine, out.ctypes.data, 256, False, colour)
    assert_float_close(out, ref.preprocess(frame, affine, 256, colour))

    bgr = np.zeros((frame.height, frame.width, 3), np.uint8)
    gpu.to_packed(ptrs, bgr.ctypes.data, bgr.strides[0], "bgr", colour)
    assert_u8_close(bgr, ref.to_packed(frame, "bgr", colour))

    crop = np.clip(out[0] + np.float32(0.2), -1, 1)
    mask = feather_mask(256, 0.12)
    stats = np.full(7, 12345, np.int64)  # garbage: the glue must zero it
    pasted = bgr.copy()
    h, w = bgr.shape[:2]
    target = (pasted.ctypes.data, pasted.strides[0], w, h)
    region = gpu.paste(*target, crop.ctypes.data, affine, mask.ctypes.data, 256, stats.ctypes.data)
    assert region is not None
    assert np.array_equal(stats, ref.seam_stats(bgr, crop, affine, mask))
    assert_u8_close(pasted, ref.paste(bgr, crop, affine, mask, True))

    planes = ref.rgb_to_yuv420(pasted, "i420", "bgr", colour)
    y, u, v = (np.zeros_like(p) for p in planes.planes)
    target = PlanePointers(
        "i420", w, h, (y.ctypes.data, u.ctypes.data, v.ctypes.data), (y.strides[0], u.strides[0], v.strides[0])
    )
    gpu.to_yuv420(pasted.ctypes.data, pasted.strides[0], target, "bgr", colour)
    for got, want in zip((y, u, v), planes.planes, strict=True):
        assert_u8_close(got, want)

    small = np.zeros((256, 256, 3), np.uint8)
    gpu.denormalize(crop.ctypes.data, small.ctypes.data, 256, 256, small.strides[0], "rgb")
    assert_u8_close(small, ref.denormalize(crop, "rgb"))
    assert region.width > 0


def test_falls_back_to_source_module(cpu, monkeypatch, tmp_path):
    """No nvcc and no usable prebuilt folder: one SourceModule with every kernel."""
    from kernels import nvcc_check

    loaded: list[str] = []
    for name, module in fake_pycuda(cpu, loaded).items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(nvcc_check, "find_nvcc", lambda: None)
    from kernels.gpu import GpuKernels

    GpuKernels()
    GpuKernels(artifacts=tmp_path)  # an empty folder: nothing for sm_86 there
    assert loaded == ["pre+post source", "pre+post source"]


def test_rasterize_through_the_glue(glue):
    """GpuKernels.rasterize's launches (memsets, two depth passes, resolve) give the CPU build's maps."""
    from kernels.meshes import sphere_cap
    from kernels.rasterize import prepare_mesh, rasterize_prepared

    gpu, _ = glue
    verts, tris = sphere_cap((40.0, 36.0, 80.0), 30.0, 120.0, rings=8, sectors=16)
    turned = verts.copy()
    turned[:, 0] = 40.0 + (verts[:, 0] - 40.0) * np.float32(0.9) + (verts[:, 2] - 80.0) * np.float32(0.44)
    mesh = prepare_mesh(turned, verts[:, :2], tris, (72, 80), source_depth=verts[:, 2], source_size=(70, 82))
    want = rasterize_prepared(mesh)
    zbuf, src_zbuf = np.empty(72 * 80, np.uint64), np.empty(70 * 82, np.uint64)
    outs = [np.empty((72, 80), np.float32), np.empty((72, 80), np.float32)]
    outs += [np.empty((72, 80), np.uint8), np.empty((72, 80), np.uint8)]
    gpu.rasterize(
        mesh.target.ctypes.data,
        mesh.source.ctypes.data,
        mesh.triangles.ctypes.data,
        len(mesh.triangles),
        zbuf.ctypes.data,
        (72, 80),
        tuple(o.ctypes.data for o in outs),
        src_zbuf.ctypes.data,
        (70, 82),
    )
    assert want.revealed.any()
    for got, expected in zip(outs, (want.map_x, want.map_y, want.mask, want.revealed), strict=True):
        assert np.array_equal(got, expected)
