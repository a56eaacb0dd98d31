"""CPU backends, measured: torch vs onnxruntime (vs OpenCV) per registered network, and our kernels'
CPU build vs plain OpenCV for crop + normalise and paste-back.

    python -m benchmarks.backends_cpu [--markdown OUT] [--repeat N] [--threads 1 2]

Medians with p5-p95 spread (the machine may be shared: the spread says how noisy it was). Batch 1,
real inputs (the bundled photo), random weights for networks whose weights are absent.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.machine import cpu_model, usable_cores
from benchmarks.stats import Summary, time_calls

CROP = 256
FRAME_SIZE = (1280, 720)


@dataclass(frozen=True)
class Row:
    """One measured configuration."""

    group: str
    item: str
    backend: str
    threads: int
    summary: Summary


def _calls(name: str, torch_runner, ort_runner, feeds: dict, ort_fp16=None) -> dict[str, Callable[[int], object]]:
    """backend -> one timed call on ``feeds`` (batch 1); OpenCV's remap too for the pixel warp, and
    onnxruntime on the float16 graph when given (the precision axis on a CPU)."""
    args = list(feeds.values())
    calls: dict[str, Callable[[int], object]] = {
        "torch": lambda _i: torch_runner.process(*args),
        "onnxruntime": lambda _i: ort_runner.process(*args),
    }
    if ort_fp16 is not None:
        calls["onnxruntime fp16"] = lambda _i: ort_fp16.process(*args)
    if name == "pixel_warp":
        image = np.clip(feeds["image"][0].transpose(1, 2, 0), 0, 255).astype(np.uint8)
        mx, my = feeds["pixel_map"][0, ..., 0], feeds["pixel_map"][0, ..., 1]
        calls["opencv"] = lambda _i: cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return calls


def _network_rows(repeat: int, threads: int) -> list[Row]:
    import torch

    from export.onnx_export import OnnxOptions, check_onnx, export_onnx, serialize, to_fp16
    from export.registry import DEFAULT_WEIGHTS_DIR, NETWORKS, MissingWeights
    from streamer.backends.runner import OnnxRuntimeRunner, TorchRunner

    torch.set_num_threads(threads)
    rows = []
    for name, net in NETWORKS.items():
        try:
            module = net.build(DEFAULT_WEIGHTS_DIR if net.weights_file else None)
        except MissingWeights:
            module = net.build(None)
        # fp32 as the CPU product runs it (resampling by gathers); fp16 from the GridSample graph.
        graph = check_onnx(export_onnx(net, module, OnnxOptions(sampler="gather")))
        half = serialize(to_fp16(check_onnx(export_onnx(net, module, OnnxOptions())), net.fp32_inputs))
        runners = _calls(
            name,
            TorchRunner(module, net.inputs, net.outputs),
            OnnxRuntimeRunner(serialize(graph), threads=threads),
            net.real_inputs(1),
            OnnxRuntimeRunner(half, precision="fp16", threads=threads),
        )
        for backend, fn in runners.items():
            rows.append(Row("network", name, backend, threads, time_calls(fn, warmup=3, repeat=repeat)))
    return rows


def _kernel_rows(repeat: int) -> list[Row]:
    from export.registry import astronaut_bgr
    from kernels.cpu_build import cpu_kernels
    from kernels.frames import Frame
    from streamer.compositor import Compositor

    frame = cv2.resize(astronaut_bgr(), FRAME_SIZE, interpolation=cv2.INTER_AREA)
    m = cv2.getRotationMatrix2D((640.0, 300.0), 8.0, 0.6)
    m[:, 2] -= (640.0 - CROP / 2, 300.0 - CROP / 2)
    kern = cpu_kernels()
    packed = Frame.packed(frame)

    def opencv_pre(_i: int) -> np.ndarray:
        crop = cv2.warpAffine(frame, m, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)
        return np.ascontiguousarray(((rgb / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None])

    nchw = opencv_pre(0)[0]
    comp = Compositor(CROP)
    mask = comp.mask

    def opencv_paste(_i: int) -> np.ndarray:
        bgr = np.clip(np.floor((nchw[::-1].transpose(1, 2, 0) * 0.5 + 0.5) * 255 + 0.5), 0, 255).astype(np.uint8)
        return comp.paste(frame, bgr, m)

    cases = {
        ("crop + normalise", "opencv"): opencv_pre,
        ("crop + normalise", "kernels-cpu"): lambda _i: kern.preprocess(packed, m, CROP),
        ("denormalise + paste", "opencv"): opencv_paste,
        ("denormalise + paste", "kernels-cpu"): lambda _i: kern.paste(frame, nchw, m, mask),
    }
    return [
        Row("kernel", item, backend, 1, time_calls(fn, warmup=2, repeat=repeat))
        for (item, backend), fn in cases.items()
    ]


def markdown(rows: list[Row], command: str) -> str:
    """The BACKENDS.md report."""
    lines = [
        "# CPU backends",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {cpu_model()}, {usable_cores()} usable cores, shared with other jobs while measured "
        "(hence the p5-p95 spread). Batch 1, real inputs (the bundled photo), one call per sample.",
        "",
        "| group | item | backend | threads | median ms | p5-p95 ms | calls/s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        s = r.summary
        lines.append(
            f"| {r.group} | {r.item} | {r.backend} | {r.threads} | {s.median_ms:.3f} | "
            f"{s.p5_ms:.3f}-{s.p95_ms:.3f} | {s.per_second:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends_cpu", description=__doc__.split("\n")[0])
    parser.add_argument("--markdown", type=Path, default=None, help="write the Markdown report here")
    parser.add_argument("--repeat", type=int, default=50, help="timed calls per configuration")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="compute threads to measure")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for threads in args.threads:
        rows += _network_rows(args.repeat, threads)
    rows += _kernel_rows(args.repeat)
    command = "python -m benchmarks.backends_cpu " + " ".join(argv if argv is not None else sys.argv[1:])
    report = markdown(rows, command.strip())
    print(report)
    if args.markdown is not None:
        from export.atomic import atomic_write_text

        atomic_write_text(args.markdown, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
