"""Per-frame cost of the mesh warp (``--warp mesh``) against the planar warp, one thread, on the bundled photo.

    python -m benchmarks.mesh_warp_timing [--calls 200]

Prints median and p90 ms of: the planar ``render_maps``, the mesh ``render_maps``, and the mesh's
parts (posing the vertices; rasterising + filling the uncovered pixels; the kernel alone).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from functools import partial

import cv2
import numpy as np

from kernels.rasterize import rasterize_prepared
from streamer import landmarks as L
from streamer.detectors import create_detector
from streamer.examples import example_source_path
from streamer.geometry import rotation_matrix
from streamer.media.images import load_image
from streamer.mesh_warp import pose_mesh, render_mesh_maps
from streamer.pipeline import prepare_source
from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor
from streamer.retarget import RigidMotion


def _timed(call, calls: int) -> tuple[float, float]:
    call()  # warm-up (the kernel library loads on first use)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3), float(np.percentile(times, 90) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    photo = load_image(example_source_path())
    detector = create_detector("mediapipe", "image")
    rows = []
    for warp in ("planar", "mesh"):
        reenactor = GeometricReenactor(GeometricConfig(warp=warp))
        state = prepare_source(photo, detector, reenactor).state
        src = state.landmarks.points.astype(np.float64)
        turn = RigidMotion(1.0, rotation_matrix(30, 10, 5), src[L.RIGID].mean(axis=0), np.zeros(3))
        target = state.landmarks.with_points(turn.apply(src))
        rows.append(
            (
                f"{warp} render_maps (yaw 30, pitch 10, roll 5)",
                _timed(partial(reenactor.render_maps, state, target), args.calls),
            )
        )
        if warp == "mesh":
            mesh = state.mesh
            posed = pose_mesh(mesh, src, target.points)
            inputs = replace(mesh.prepared, target=np.ascontiguousarray(posed, np.float32))
            rows.append(("  pose the vertices", _timed(partial(pose_mesh, mesh, src, target.points), args.calls)))
            rows.append(("  rasterise + fill", _timed(partial(render_mesh_maps, mesh, posed), args.calls)))
            rows.append(
                (
                    f"  kernel alone ({len(inputs.triangles)} triangles)",
                    _timed(partial(rasterize_prepared, inputs), args.calls),
                )
            )
    detector.close()
    print("| step | median ms | p90 ms |\n|---|---|---|")
    for name, (median, p90) in rows:
        print(f"| {name} | {median:.2f} | {p90:.2f} |")


if __name__ == "__main__":
    main()
