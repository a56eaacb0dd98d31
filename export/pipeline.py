"""``reenact export`` as a library call: every registered network -> checked ONNX files + manifest."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import onnx

from export.atomic import atomic_write_bytes, sha256_bytes
from export.manifest import Manifest, ModelEntry
from export.onnx_export import OnnxOptions, check_onnx, export_onnx, op_types, serialize, simplify_onnx, to_fp16
from export.registry import DEFAULT_WEIGHTS_DIR, NETWORKS, ExportableNetwork, MissingWeights
from export.trt_ops import check_tensorrt_ops
from export.validate import example_cases, validate_onnx


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how."""

    out: Path  #: folder for the ONNX files and manifest.json
    weights: Path | None = DEFAULT_WEIGHTS_DIR  #: folder with trained weights files
    precision: str = "fp32"  #: fp32 or fp16
    opset: int = 18
    dynamic_batch: bool = False
    simplify: bool = True
    random_weights: bool = False  #: export networks whose weights are missing with random init (shapes only)
    networks: tuple[str, ...] = ()  #: names to export (empty: all registered)
    validate_batch: int = 1  #: batch used for validation
    #: resampling as ONNX GridSample (for TensorRT) or gathers (4x faster in onnxruntime's CPU kernels)
    sampler: str = "grid_sample"


class ExportFailed(RuntimeError):
    """A model failed validation; the message lists the failing checks."""


def _shapes(value_infos: Iterable[onnx.ValueInfoProto]) -> dict[str, list]:
    return {vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim] for vi in value_infos}


def _build(net: ExportableNetwork, cfg: ExportConfig):
    """(module, weights label); raises MissingWeights unless random weights are allowed."""
    if net.weights_file is None:
        return net.build(None), "none"
    try:
        if cfg.weights is None:
            raise MissingWeights("no weights folder given")
        return net.build(cfg.weights), str(Path(cfg.weights) / net.weights_file)
    except MissingWeights:
        if not cfg.random_weights:
            raise
        return net.build(None), "random"


def export_network(net: ExportableNetwork, cfg: ExportConfig, say: Callable[[str], None] = print) -> ModelEntry:
    """Export, check, simplify, convert and validate one network; writes ``<name>.<precision>.onnx``.
    The entry is first fitted to the weights file (``ExportableNetwork.for_weights``: RFG weights with
    the revealed mask give ``rfg_global`` one more input)."""
    net = net.for_weights(cfg.weights)
    module, weights = _build(net, cfg)
    opts = OnnxOptions(cfg.opset, cfg.dynamic_batch and net.dynamic_batch, cfg.simplify, cfg.sampler)
    model = check_onnx(export_onnx(net, module, opts))
    how = ""
    if cfg.simplify:
        model, how = simplify_onnx(model)
        model = check_onnx(model)
        say(f"  simplified with {how}")
    fp32_bytes = serialize(model)
    if cfg.precision == "fp16":
        model = check_onnx(to_fp16(model, net.fp32_inputs))
    data = serialize(model)
    say(f"  {len(data) / 1024:.0f} KiB, ops: {', '.join(op_types(model))}")
    issues = check_tensorrt_ops(model)
    for issue in issues:
        say(f"  TensorRT: {issue.op} ({issue.node}): {issue.reason}")
    if not issues:
        say("  TensorRT 10 parser: every op supported natively")
    checks = validate_onnx(net, module, data, cfg.precision, example_cases(net, cfg.validate_batch), fp32_bytes)
    for check in checks:
        say("  " + check.line())
    failed = [c for c in checks if not c.ok]
    if failed:
        raise ExportFailed(f"{net.name}: " + "; ".join(c.line() for c in failed))
    file = f"{net.name}.{cfg.precision}.onnx"
    atomic_write_bytes(Path(cfg.out) / file, data)
    return ModelEntry(
        name=net.name,
        path=net.path,
        file=file,
        sha256=sha256_bytes(data),
        bytes=len(data),
        precision=cfg.precision,
        opset=cfg.opset,
        dynamic_batch=opts.dynamic_batch,
        inputs=_shapes(model.graph.input),
        outputs=_shapes(model.graph.output),
        ops=op_types(model),
        weights=weights,
        simplified=how,
        checks=[{**asdict(c), "ok": c.ok} for c in checks],
        tensorrt_issues=[asdict(i) for i in issues],
        sampler=cfg.sampler,
    )


def _versions() -> dict[str, str]:
    out = {}
    for name in ("torch", "onnx", "onnxruntime", "reenact"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def export_all(cfg: ExportConfig, say: Callable[[str], None] = print) -> Manifest:
    """Export every selected network (per-source first, then per-frame) and write the manifest."""
    if cfg.precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be fp32 or fp16, not {cfg.precision!r}")
    names = cfg.networks or tuple(NETWORKS)
    unknown = [n for n in names if n not in NETWORKS]
    if unknown:
        raise KeyError(f"unknown networks {unknown}; registered: {', '.join(NETWORKS)}")
    nets = sorted((NETWORKS[n] for n in names), key=lambda n: (n.path != "per_source", n.name))
    models, skipped = [], {}
    for i, net in enumerate(nets, 1):
        say(f"[{i}/{len(nets)}] {net.name} ({net.path}, {cfg.precision})")
        try:
            models.append(export_network(net, cfg, say))
        except MissingWeights as exc:
            skipped[net.name] = f"{exc} (pass --weights DIR, or --random-weights for shape-only exports)"
            say(f"  skipped: {skipped[net.name]}")
    manifest = Manifest(cfg.precision, cfg.opset, cfg.dynamic_batch, _versions(), models, skipped)
    path = manifest.write(cfg.out)
    say(f"wrote {len(models)} model(s) and {path}")
    return manifest
