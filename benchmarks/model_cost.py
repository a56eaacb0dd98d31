"""Model cost: parameters and GFLOPs per network next to its measured time and the achieved share of peak.

Networks are registered in ``NETWORKS`` (name -> factory of a ``NetworkCase`` at a crop size): the
pixel warp, and the RFG's four deployed graphs (per source: ``rfg_source``; per frame: ``rfg_global``,
``rfg_local``, ``rfg_calibration``), timed through ``RFGReenactor``'s own runners on real inputs.
Parameters are those the forward actually uses (``flops.count_used_params``).
"""

from __future__ import annotations

import copy
import io
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.flops import count_used_params, flop_breakdown, gflops
from benchmarks.machine import cuda_availability
from benchmarks.registry import BenchContext, Row, register
from benchmarks.stages import warp_inputs
from streamer.runtime import configure_threads


@dataclass
class NetworkCase:
    """One network at one crop size: the module and real inputs, and how it is deployed."""

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    per: str = "frame"  #: "frame" or "source": how often it runs
    variant: dict[str, Any] = field(default_factory=dict)  #: extra variant keys (e.g. the weights)
    #: The deployed runners at ``threads``, by backend (None: torch and a generic onnxruntime export).
    runners: Callable[[int], dict[str, Callable[[], object]]] | None = None
    #: Precomputed cost (``total``/``grid_sample`` FLOPs, ``params``); None: counted here.
    cost: dict[str, int] | None = None


#: name -> (ctx, crop) -> ``NetworkCase``, or None where the network does not run at that crop.
NETWORKS: dict[str, Callable[[BenchContext, int], NetworkCase | None]] = {}

#: Per-frame cost reported by the research we build on (the papers' own numbers, RTX 3090; not measured here).
PAPER_REFERENCES = (
    {"method": "DG (paper)", "gflops": 85.5, "img_per_s": 4.32, "hardware": "RTX 3090 (paper's number)"},
    {"method": "PASL (paper)", "gflops": 97.3, "img_per_s": 3.71, "hardware": "RTX 3090 (paper's number)"},
)


def network(name: str):
    """Decorator registering a network factory under ``name``."""

    def add(factory):
        NETWORKS[name] = factory
        return factory

    return add


@network("pixel_warp")
def _pixel_warp(ctx: BenchContext, crop: int) -> NetworkCase:
    from streamer.models.pixel_warp import PixelMapWarp

    image, map_x, map_y = warp_inputs(ctx, crop, count=1)[0]
    img = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)[None].astype(np.float32)))
    pm = torch.from_numpy(np.stack([map_x, map_y], axis=-1)[None].astype(np.float32))
    return NetworkCase(PixelMapWarp().eval(), (img, pm))


def _rfg_part(part: str) -> Callable[[BenchContext, int], NetworkCase | None]:
    def factory(ctx: BenchContext, crop: int) -> NetworkCase | None:
        from benchmarks.generator import fixture, rfg_settings

        if not rfg_settings(ctx):
            return None
        fx = fixture(ctx)
        if crop != fx.crop:
            return None  # the RFG runs at its weights' crop only (an absent row in reenact.step says so)

        def runners(threads: int) -> dict[str, Callable[[], object]]:
            return {backend: fx.runner(part, backend, threads) for backend in ("torch", "onnxruntime")}

        per = "source" if part == "rfg_source" else "frame"
        variant = {"weights": fx.label}
        return NetworkCase(fx.module(part), fx.torch_inputs(part), per, variant, runners, fx.cost(part))

    return factory


for _part in ("rfg_source", "rfg_global", "rfg_local", "rfg_calibration"):
    network(_part)(_rfg_part(_part))


def _onnx_session(module: nn.Module, inputs: tuple[torch.Tensor, ...], threads: int | None):
    """An onnxruntime session of ``module``; ``threads=None`` keeps onnxruntime's default options."""
    import onnxruntime as ort

    buf = io.BytesIO()
    names = [f"in{i}" for i in range(len(inputs))]
    with warnings.catch_warnings():
        # The TorchScript exporter on purpose: it is what streamer.backends.warp ships with.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, inputs, buf, input_names=names, opset_version=18, dynamo=False)
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
    feeds = {n: t.numpy() for n, t in zip(names, inputs, strict=True)}
    return lambda: sess.run(None, feeds)


def _runners(module: nn.Module, inputs: tuple[torch.Tensor, ...], threads: int) -> dict[str, Callable[[], object]]:
    def run_torch() -> object:
        with torch.inference_mode():
            return module(*inputs)

    runners = {"torch": run_torch, "onnxruntime": _onnx_session(module, inputs, threads)}
    if cuda_availability().available:
        runners["torch-cuda"] = _cuda_runner(module, inputs)
    return runners


def _cuda_runner(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> Callable[[], object]:
    """The network on the GPU, inputs already there; synchronised so the time is the kernel time."""
    gpu_module = copy.deepcopy(module).cuda()
    gpu_inputs = tuple(t.cuda() for t in inputs)

    def run() -> object:
        with torch.inference_mode():
            out = gpu_module(*gpu_inputs)
        torch.cuda.synchronize()
        return out

    return run


@register("model", "model", "parameters, GFLOPs and achieved GFLOP/s per network vs this machine's matmul peak")
def bench_models(ctx: BenchContext) -> Iterator[Row]:
    from benchmarks.stages import _timed

    for name, factory in NETWORKS.items():
        for crop in ctx.config.crop_sizes:
            case = factory(ctx, crop)
            if case is None:
                continue
            cost = case.cost or {
                **flop_breakdown(case.module, *case.inputs),
                "params": count_used_params(case.module, *case.inputs),
            }
            flops = cost["total"]
            base = {
                "gflops": gflops(flops),
                "grid_sample_gflops": gflops(cost["grid_sample"]),
                "params": cost["params"],
                "per": case.per,
            }
            for threads in ctx.config.threads:
                configure_threads(threads)
                runners = case.runners(threads) if case.runners else _runners(case.module, case.inputs, threads)
                if case.runners and cuda_availability().available:
                    runners["torch-cuda"] = _cuda_runner(case.module, case.inputs)
                for backend, run in runners.items():
                    if backend.removesuffix("-cuda") not in ctx.config.backends:
                        continue
                    peak = ctx.peak_gflops(threads, "cuda" if backend.endswith("-cuda") else "cpu")
                    timing = _timed(ctx, lambda i, run=run: run())
                    achieved = flops / 1e9 / (timing.median_ms / 1000.0)
                    metrics = {
                        **base,
                        "achieved_gflop_s": round(achieved, 3),
                        "peak_gflop_s": round(peak, 1),
                        "share_of_peak_pct": round(100.0 * achieved / peak, 3),
                    }
                    variant = {"network": name, "crop": crop, "backend": backend, "threads": threads, **case.variant}
                    unit = f"ms/{case.per}"
                    yield Row("model", name, variant, timing, unit=unit, metrics=metrics)
    configure_threads(1)
