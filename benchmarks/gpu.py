"""GPU benchmark in one command: build the engines, then per-stage and end-to-end fps for fp32 / fp16,
with and without CUDA graphs.

    python -m benchmarks.gpu [--out DIR] [--iters N] [--markdown OUT]

Stages (all on one CUDA stream, device buffers only): preprocess kernel (frame -> normalised crop),
the per-frame engines, denormalise + paste kernels; end to end is the three queued back to back,
timed with CUDA events (no host copies). Then the product's kernel frame path (``streamer.framepath``,
RFG global) per frame, host-timed with its uploads and the one download. Without an NVIDIA GPU,
TensorRT and pycuda it says what is missing and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_NO_GPU = 2
FRAME = (1280, 720)


def missing() -> list[str]:
    """What this machine lacks for the GPU benchmark (empty: it can run)."""
    from export.tensorrt_build import tensorrt_status
    from kernels.gpu import gpu_status

    out = []
    for ok, reason in (tensorrt_status(), gpu_status()):
        if not ok:
            out.append(reason)
    return out


def _time_ms(torch, stream, fn, iters: int) -> float:
    """Median milliseconds of ``fn()`` queued on ``stream`` (CUDA events around each call)."""
    times = []
    for _ in range(iters):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record(stream)
        fn()
        end.record(stream)
        end.synchronize()
        times.append(start.elapsed_time(end))
    times.sort()
    return times[len(times) // 2]


def run(out: Path, iters: int) -> list[tuple[str, str, str, float]]:
    """(stage, precision, graphs, median ms) rows."""
    import numpy as np
    import pycuda.driver as cuda
    import torch

    from export.pipeline import ExportConfig, export_all
    from export.registry import NETWORKS, astronaut_bgr
    from export.tensorrt_build import BuildConfig, ensure_engine
    from kernels.frames import BGR_PIXELS
    from kernels.gpu import GpuKernels
    from kernels.host import PlanePointers
    from streamer.backends.tensorrt import TensorRTRunner
    from streamer.compositor import feather_mask

    torch.cuda.init()
    cuda.init()
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()
    rows = []
    try:
        kern = GpuKernels()
        pstream = cuda.Stream()
        frame = torch.from_numpy(np.ascontiguousarray(astronaut_bgr())).cuda()
        h, w = frame.shape[:2]
        fp = PlanePointers("bgr", w, h, (frame.data_ptr(), 0, 0), (frame.stride(0), 0, 0))
        affine = np.array([[0.5, 0.0, 10.0], [0.0, 0.5, 10.0]])
        mask = torch.from_numpy(feather_mask(256, 0.1)).cuda()
        stats = torch.zeros(7, dtype=torch.int64, device="cuda")
        for precision in ("fp32", "fp16"):
            manifest = export_all(ExportConfig(out, precision=precision), say=print)
            for name, why in manifest.skipped.items():
                print(f"not benchmarked: {name}: {why}")
            exported = {m.name for m in manifest.models}
            runners = {
                name: TensorRTRunner(
                    ensure_engine(out / f"{name}.{precision}.onnx", net, BuildConfig(precision=precision)),
                    precision,
                    stream_handle=pstream.handle,
                )
                for name, net in NETWORKS.items()
                if net.path == "per_frame" and name in exported
            }
            warp = runners["pixel_warp"]
            stream = warp.stream
            half = precision == "fp16"
            crop = torch.empty((1, 3, 256, 256), dtype=torch.half if half else torch.float32, device="cuda")
            warp.bind("image", crop)  # the preprocess kernel writes the engine input (BGR, 0..255) in place
            warped = warp.buffers["warped"]

            def pre(crop=crop, half=half) -> None:
                kern.preprocess(fp, affine, crop.data_ptr(), 256, half, stream=pstream, layout=BGR_PIXELS)

            def post(warped=warped, half=half) -> None:
                kern.paste(
                    frame.data_ptr(),
                    frame.stride(0),
                    w,
                    h,
                    warped.data_ptr(),
                    affine,
                    mask.data_ptr(),
                    256,
                    stats.data_ptr(),
                    half,
                    stream=pstream,
                    layout=BGR_PIXELS,  # the pixel warp's output: BGR planes, 0..255
                )

            def engines(runners=runners) -> None:
                for r in runners.values():
                    r.enqueue()

            for graphs in ("off", "on"):
                if graphs == "on":
                    for r in runners.values():
                        r.capture()
                rows.append(("preprocess kernel", precision, graphs, _time_ms(torch, stream, pre, iters)))
                for name, r in runners.items():
                    rows.append((f"engine {name}", precision, graphs, _time_ms(torch, stream, r.enqueue, iters)))
                rows.append(("paste kernels", precision, graphs, _time_ms(torch, stream, post, iters)))
                rows.append(
                    (
                        "end to end",
                        precision,
                        graphs,
                        _time_ms(torch, stream, lambda: (pre(), engines(), post()), iters),
                    )
                )
    finally:
        ctx.pop()
    return rows


def frame_path_rows(iters: int) -> list[tuple[str, str, str, float]]:
    """The product's kernel frame path (``reenact convert --frame-path kernels --generator rfg``) per
    frame, timed on the host: geometric draw on the CPU, upload, RFG engines, paste kernels, download."""
    import contextlib
    import time

    from export.registry import astronaut_bgr
    from streamer.detectors import create_detector
    from streamer.framepath.build import create_device_renderer
    from streamer.pipeline import prepare_source
    from streamer.reenactors.rfg import DEFAULT_WEIGHTS, RFGReenactor

    if not DEFAULT_WEIGHTS.is_file():
        print("not benchmarked: frame path (no RFG weights)")
        return []
    canvas = astronaut_bgr()
    reenactor = RFGReenactor(integrator="global")
    with contextlib.closing(create_detector("auto", "image")) as detector:
        source = prepare_source(canvas, detector, reenactor)
    rows = []
    for precision in ("fp32", "fp16"):
        for graph in (False, True):
            renderer = create_device_renderer(reenactor, "cuda", precision=precision, graph=graph)
            try:
                renderer.prepare(source)
                face = source.landmarks
                for _ in range(5):  # warm-up (and, with graphs, the capture)
                    renderer.render(source, face, face)
                times = []
                for _ in range(iters):
                    start = time.perf_counter()
                    renderer.render(source, face, face)
                    times.append((time.perf_counter() - start) * 1000)
            finally:
                renderer.close()
            times.sort()
            label = "frame path rfg-global (draw, upload, engines, paste, download)"
            rows.append((label, precision, "on" if graph else "off", times[len(times) // 2]))
    return rows


def markdown(rows: list[tuple[str, str, str, float]]) -> str:
    lines = ["| stage | precision | CUDA graphs | median ms | fps |", "|---|---|---|---:|---:|"]
    lines += [f"| {s} | {p} | {g} | {ms:.3f} | {1000 / ms:.0f} |" for s, p, g, ms in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/gpu-bench"), help="ONNX + engine folder")
    parser.add_argument("--iters", type=int, default=200, help="timed calls per stage")
    parser.add_argument("--markdown", type=Path, default=None, help="write the table here")
    args = parser.parse_args(argv)
    lacking = missing()
    if lacking:
        sys.stderr.write("benchmarks.gpu needs an NVIDIA GPU: " + "; ".join(lacking) + " (see reenact doctor)\n")
        return EXIT_NO_GPU
    report = markdown(run(args.out, args.iters) + frame_path_rows(min(args.iters, 100)))
    print(report)
    if args.markdown is not None:
        args.markdown.write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
