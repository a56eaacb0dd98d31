"""``reenact export``: every registered network to checked ONNX (and, on a GPU, TensorRT engines)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact export``."""
    from export.registry import DEFAULT_WEIGHTS_DIR, NETWORKS
    from streamer.models.sampling import SAMPLERS

    p = sub.add_parser(
        "export",
        help="export the networks to ONNX (validated against PyTorch), optionally build TensorRT engines",
        description=(
            "Export every network of the per-source and per-frame paths to ONNX (static 256x256 shapes), "
            "check each graph (ONNX checker, shape inference, TensorRT 10 op support), validate it in "
            "onnxruntime against PyTorch on random and real inputs, and write a manifest."
        ),
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (ONNX files + manifest.json)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR, help="folder of trained weights files")
    p.add_argument("--precision", choices=("fp32", "fp16"), default="fp32", help="precision (default fp32)")
    p.add_argument("--tensorrt", action="store_true", help="also build TensorRT engines (NVIDIA GPU + tensorrt)")
    p.add_argument("--dynamic-batch", action="store_true", help="a dynamic batch axis (engines: batch 1..8)")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset, 18 or newer (default 18)")
    p.add_argument("--no-simplify", dest="simplify", action="store_false", help="skip graph simplification")
    p.add_argument("--random-weights", action="store_true", help="export networks without weights at random init")
    p.add_argument("--only", nargs="+", choices=tuple(NETWORKS), default=(), help="export only these networks")
    p.add_argument(
        "--sampler",
        choices=("auto", *SAMPLERS),
        default="auto",
        help="bilinear resampling in the graphs: grid_sample (ONNX GridSample, TensorRT's native layer) or gather "
        "(4x faster in onnxruntime's CPU kernels); auto: grid_sample with --tensorrt, else gather",
    )
    p.add_argument("--engine-dir", type=Path, default=None, help="engine cache (default: OUT/engines)")
    p.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    from export.onnx_export import MIN_OPSET, ExportError
    from export.pipeline import ExportConfig, ExportFailed, export_all
    from streamer.errors import InputError

    if args.opset < MIN_OPSET:
        raise InputError(f"--opset must be {MIN_OPSET} or newer, got {args.opset}")
    if args.tensorrt:
        from export.tensorrt_build import tensorrt_status

        ok, reason = tensorrt_status()
        if not ok:
            raise InputError(f"--tensorrt: {reason}; run reenact doctor")
    cfg = ExportConfig(
        out=args.out,
        weights=args.weights,
        precision=args.precision,
        opset=args.opset,
        dynamic_batch=args.dynamic_batch,
        simplify=args.simplify,
        random_weights=args.random_weights,
        networks=tuple(args.only),
        sampler=_sampler(args),
    )
    try:
        manifest = export_all(cfg, say=lambda line: print(line, flush=True))
    except (ExportError, ExportFailed) as exc:
        print(f"reenact: export failed: {exc}")
        return 1
    if args.tensorrt:
        from export.registry import get_network
        from export.tensorrt_build import BuildConfig, ensure_engine

        folder = args.engine_dir or args.out / "engines"
        for entry in manifest.models:
            net = get_network(entry.name, args.weights)  # the inputs of the weights it was exported with
            max_batch = net.max_batch if entry.dynamic_batch else 1
            build = BuildConfig(precision=args.precision, max_batch=max_batch, opt_batch=1)
            ensure_engine(args.out / entry.file, net, build, folder=folder, log=lambda line: print(line, flush=True))
    return 0


def _sampler(args: argparse.Namespace) -> str:
    """--sampler auto: gathers for onnxruntime at fp32; GridSample for TensorRT and fp16 (the gathers'
    coordinates need fp32)."""
    from streamer.errors import InputError

    if args.sampler == "gather" and args.precision == "fp16":
        raise InputError("--sampler gather needs --precision fp32 (fp16 coordinates are off by up to 1/16 pixel)")
    if args.sampler != "auto":
        return args.sampler
    return "grid_sample" if args.tensorrt or args.precision == "fp16" else "gather"
