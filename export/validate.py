"""Check an exported ONNX graph against eager fp32 PyTorch in onnxruntime (CPU), on random and real inputs.

fp16 graphs run in onnxruntime's CPU provider in float16 (it inserts casts around kernels it only
has in float32). If a graph cannot run that way, it is validated "by casting": the fp32 graph on
inputs rounded through float16, which bounds the input quantisation error but not fp16 arithmetic;
the result says which method was used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from export.registry import ExportableNetwork
from streamer.backends.runner import TOLERANCE, OnnxRuntimeRunner, TorchRunner, compare


@dataclass(frozen=True)
class Check:
    """One output on one input case."""

    case: str  #: "random" or "real"
    output: str
    max_abs: float
    relative: float
    tolerance: float
    method: str  #: "onnxruntime-cpu" or "fp32 graph on fp16-rounded inputs"

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.relative)) and self.relative <= self.tolerance

    def line(self) -> str:
        """One progress line."""
        verdict = "ok" if self.ok else "FAIL"
        return (
            f"{self.case:6s} {self.output}: max abs {self.max_abs:.3g}, rel {self.relative:.3g} "
            f"(tol {self.tolerance:g}, {self.method}) {verdict}"
        )


def example_cases(net: ExportableNetwork, batch: int = 1, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """{"random": feeds, "real": feeds} for ``net``."""
    return {"random": net.random_inputs(np.random.default_rng(seed), batch), "real": net.real_inputs(batch)}


def validate_onnx(
    net: ExportableNetwork,
    module,
    model_bytes: bytes,
    precision: str,
    cases: dict[str, dict[str, np.ndarray]],
    fp32_bytes: bytes | None = None,
) -> list[Check]:
    """Compare ``model_bytes`` in onnxruntime with ``module`` in eager fp32 torch on every case."""
    reference = TorchRunner(module, net.inputs, net.outputs)
    method = "onnxruntime-cpu"
    try:
        runner = OnnxRuntimeRunner(model_bytes, precision=precision)  # type: ignore[arg-type]
        runner.infer(next(iter(cases.values())))
    except Exception as exc:  # noqa: BLE001 - any ORT refusal of an fp16 graph: fall back, and say so
        if precision != "fp16" or fp32_bytes is None:
            raise
        runner = OnnxRuntimeRunner(fp32_bytes)
        method = f"fp32 graph on fp16-rounded inputs (ORT CPU refused fp16: {exc.__class__.__name__})"
    checks = []
    for case, feeds in cases.items():
        ref = reference.infer(feeds)
        run_feeds = feeds
        if method != "onnxruntime-cpu":
            run_feeds = {k: v.astype(np.float16).astype(np.float32) for k, v in feeds.items()}
        out = runner.infer(run_feeds)
        for spec in net.outputs:
            max_abs, rel = compare(out[spec.name], ref[spec.name])
            checks.append(Check(case, spec.name, max_abs, rel, TOLERANCE[precision], method))
    return checks
