"""The mesh rasteriser's CUDA build on a real GPU equals its CPU build (skipped without GPU + pycuda)."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.gpu import GpuKernels
from kernels.meshes import sphere_cap
from kernels.rasterize import prepare_mesh, rasterize_prepared

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("with_source_depth", [True, False])
def test_gpu_rasterizer_equals_cpu_build(cuda, cpu, with_source_depth):
    verts, tris = sphere_cap((128.0, 120.0, 300.0), 100.0, 120.0, rings=20, sectors=40)
    a = np.deg2rad(35.0)
    turned = verts.copy()
    turned[:, 0] = 128.0 + np.cos(a) * (verts[:, 0] - 128.0) + np.sin(a) * (verts[:, 2] - 300.0)
    turned[:, 2] = 300.0 - np.sin(a) * (verts[:, 0] - 128.0) + np.cos(a) * (verts[:, 2] - 300.0)
    depth = verts[:, 2] if with_source_depth else None
    mesh = prepare_mesh(turned, verts[:, :2], tris, (256, 256), source_depth=depth)
    want = rasterize_prepared(mesh, cpu)
    gpu = GpuKernels()
    d_target, d_source, d_tris = (cuda.to_device(x) for x in (mesh.target, mesh.source, mesh.triangles))
    zbuf = cuda.mem_alloc(256 * 256 * 8)
    src_zbuf = cuda.mem_alloc(256 * 256 * 8) if with_source_depth else None
    hosts = [np.empty((256, 256), np.float32), np.empty((256, 256), np.float32)]
    hosts += [np.empty((256, 256), np.uint8), np.empty((256, 256), np.uint8)]
    devs = [cuda.mem_alloc(h.nbytes) for h in hosts]
    stream = cuda.Stream()
    gpu.rasterize(
        int(d_target),
        int(d_source),
        int(d_tris),
        len(mesh.triangles),
        int(zbuf),
        (256, 256),
        tuple(int(d) for d in devs),
        int(src_zbuf) if src_zbuf else None,
        (256, 256),
        stream=stream,
    )
    for h, d in zip(hosts, devs, strict=True):
        cuda.memcpy_dtoh_async(h, d, stream)
    stream.synchronize()
    for got, expected in zip(hosts, (want.map_x, want.map_y, want.mask, want.revealed), strict=True):
        assert np.array_equal(got, expected), np.count_nonzero(got != expected)
