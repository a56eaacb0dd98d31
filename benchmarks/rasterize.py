"""Mesh rasteriser timing (kernels.rasterize, the CPU build of kernels/cuda/rasterize.cu, one thread).

    python -m benchmarks.rasterize [--size 256] [--repeats 200] [--yaw 30] [--json OUT.json]

Meshes: MediaPipe's face tessellation (852 triangles) on the face MediaPipe finds in the bundled
astronaut photo, scaled so the face fills the crop (its own z as depth), turned by ``--yaw`` about
the face's centre; a 120-degree sphere cap of about the same triangle count, turned alike; and a
full-frame 22 x 22 grid (968 triangles, identity pose). Each is timed without and with the source
z-buffer (the occlusion test of the revealed mask). Times are per call of ``rasterize_prepared``
(the kernels and their buffers; validated inputs), median and 90th percentile.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from benchmarks.machine import cpu_model, usable_cores
from benchmarks.registry import BenchContext, Row, register
from benchmarks.stats import percentile, sample_calls, time_calls
from export.atomic import atomic_write_text
from kernels.meshes import facemesh_triangles, grid_triangles, sphere_cap
from kernels.rasterize import MeshInputs, prepare_mesh, rasterize_prepared

Mesh = tuple[np.ndarray, np.ndarray, np.ndarray]  # source (V, 3), target (V, 3), triangles (T, 3)


def _yaw(points: np.ndarray, degrees: float, centre: np.ndarray) -> np.ndarray:
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    return ((points - centre) @ rot.T + centre).astype(np.float32)


def facemesh(size: int, yaw: float) -> Mesh:
    """The astronaut's MediaPipe face mesh (468 points) in a size x size crop, and its yawed copy."""
    import cv2
    import mediapipe as mp

    from streamer.examples import example_source_path
    from streamer.media.images import load_image

    image = load_image(example_source_path())
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        found = mesh.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).multi_face_landmarks
    if not found:
        raise RuntimeError("MediaPipe found no face in the bundled photo")
    h, w = image.shape[:2]
    pts = np.array([(p.x * w, p.y * h, p.z * w) for p in found[0].landmark[:468]])
    lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
    scale = 0.8 * size / (hi - lo).max()
    source = np.column_stack([(pts[:, :2] - (lo + hi) / 2) * scale + size / 2, pts[:, 2] * scale]).astype(np.float32)
    source[:, 2] += size  # positive depths, larger = farther (MediaPipe: smaller z = nearer)
    tris = facemesh_triangles(source[:, :2])
    return source, _yaw(source, yaw, source.mean(0)), tris


def sphere(size: int, yaw: float) -> Mesh:
    centre = np.array([size / 2, size / 2, 2.0 * size])
    verts, tris = sphere_cap(tuple(centre), 0.4 * size, 120.0, rings=15, sectors=30)
    return verts, _yaw(verts, yaw, centre), tris


def grid(size: int, yaw: float) -> Mesh:
    del yaw  # identity pose
    xs = np.linspace(-0.5, size - 0.5, 23, dtype=np.float32)
    gx, gy = np.meshgrid(xs, xs)
    verts = np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, 10.0, np.float32)], 1)
    return verts, verts.copy(), grid_triangles(22, 22)


def time_call(mesh: MeshInputs, repeats: int) -> tuple[float, float]:
    """(median, p90) milliseconds of rasterize_prepared after a few warm-up calls."""
    times = sample_calls(lambda _i: rasterize_prepared(mesh), warmup=5, repeat=repeats)
    return percentile(times, 50), percentile(times, 90)


def run(size: int, repeats: int, yaw: float) -> list[dict]:
    rows = []
    for name, build in (("facemesh", facemesh), ("sphere", sphere), ("grid", grid)):
        source, target, tris = build(size, yaw)
        for occlusion in (False, True):
            depth = source[:, 2] if occlusion else None
            mesh = prepare_mesh(target, source[:, :2], tris, (size, size), source_depth=depth)
            out = rasterize_prepared(mesh)
            median, p90 = time_call(mesh, repeats)
            rows.append(
                {
                    "mesh": name,
                    "triangles": len(tris),
                    "source_zbuffer": occlusion,
                    "covered": float(out.mask.mean()),
                    "revealed": float(out.revealed.mean()),
                    "median_ms": round(median, 3),
                    "p90_ms": round(p90, 3),
                }
            )
    return rows


@register("rasterize", "stage", "mesh rasteriser (issue #14, not yet in the warp): MediaPipe tessellation, yaw 30")
def bench_rasterize(ctx: BenchContext):
    """``reenact bench`` rows: the face mesh at each crop size, without and with the source z-buffer."""
    cfg = ctx.config
    for crop in cfg.crop_sizes:
        source, target, tris = facemesh(crop, 30.0)
        for occlusion in (False, True):
            depth = source[:, 2] if occlusion else None
            mesh = prepare_mesh(target, source[:, :2], tris, (crop, crop), source_depth=depth)
            timing = time_calls(
                lambda _i, m=mesh: rasterize_prepared(m), warmup=cfg.warmup, repeat=cfg.repeat, budget_s=cfg.budget_s
            )
            occluded = "with source z-buffer" if occlusion else "no source z-buffer"
            variant = {"crop": crop, "mesh": f"{len(tris)} triangles", "occlusion": occluded}
            yield Row("stage", "rasterize", variant, timing, note="CPU build of kernels/cuda/rasterize.cu, one thread")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="output (and source) size in pixels")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--yaw", type=float, default=30.0, help="turn of the face and sphere meshes (degrees)")
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    if not 16 <= args.size <= 4096 or args.repeats < 1:
        print("error: --size must be 16..4096 and --repeats >= 1", file=sys.stderr)
        return 2
    try:
        rows = run(args.size, args.repeats, args.yaw)
    except KeyboardInterrupt:
        return 130
    except RuntimeError as exc:  # no face found, or the kernel library failed to build
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"machine: {cpu_model()}, {usable_cores()} usable cores; CPU build, one thread; {args.size}x{args.size}")
    print(
        f"{'mesh':9s} {'tris':>5s} {'src z-buf':>9s} {'covered':>8s} {'revealed':>8s} {'median ms':>9s} {'p90 ms':>7s}"
    )
    for r in rows:
        print(
            f"{r['mesh']:9s} {r['triangles']:5d} {'yes' if r['source_zbuffer'] else 'no':>9s} {r['covered']:8.3f} "
            f"{r['revealed']:8.3f} {r['median_ms']:9.2f} {r['p90_ms']:7.2f}"
        )
    if args.json:
        atomic_write_text(args.json, json.dumps({"size": args.size, "yaw": args.yaw, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
