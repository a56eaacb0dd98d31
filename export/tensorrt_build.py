"""TensorRT engines from the exported ONNX files, cached on disk per GPU, TensorRT version and model.

An engine is only valid for the GPU model and compute capability it was built on, the TensorRT
version that built it, its precision and the exact ONNX bytes. :class:`EngineKey` holds those
facts; the cache file name is their digest and a JSON sidecar records them, and :func:`load_engine`
refuses an engine whose sidecar does not match this machine (a copied or stale engine is never
deserialised by mistake). The facts are injected, so all of this is tested without TensorRT.

Build: the TensorRT Python API (``trt.Builder`` -> explicit-batch network -> ``trt.OnnxParser`` ->
builder config with a workspace limit, a timing cache kept on disk per GPU model, compute capability,
TensorRT version and TF32 setting (:func:`timing_cache_file`) and one optimisation profile
covering every input). fp16 ONNX files (``reenact export --precision fp16``) already carry their
types, float32 coordinate cone included, so they are built as *strongly typed* networks: TensorRT
obeys the ONNX types instead of choosing per layer (``BuilderFlag.FP16`` on an fp32 file is the
alternative, ``strongly_typed=False``). ``tensorrt`` is imported lazily: CPU installs never load it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from export.atomic import atomic_write_bytes, atomic_write_text, sha256_file
from export.registry import ExportableNetwork

SKIP_REASON = "needs an NVIDIA GPU with TensorRT 10 (pip install 'reenact[gpu]')"
ENGINE_SUFFIX = ".engine"


class EngineMismatch(RuntimeError):
    """A cached engine was built for another GPU, TensorRT version, precision or ONNX file."""


@dataclass(frozen=True)
class DeviceFacts:
    """What an engine is tied to on the machine that runs it."""

    gpu: str  #: GPU model name, e.g. "NVIDIA H100 80GB HBM3"
    compute_capability: str  #: "9.0"
    tensorrt: str  #: TensorRT version, e.g. "10.3.0"


@dataclass(frozen=True)
class EngineKey:
    """Everything that decides whether an engine file may be loaded."""

    network: str
    onnx_sha256: str
    precision: str
    max_batch: int  #: 1 for static engines
    gpu: str
    compute_capability: str
    tensorrt: str
    # How it was built (each changes the tactics TensorRT picks, so the engine's numbers or speed):
    strongly_typed: bool  #: fp16 from the ONNX types rather than BuilderFlag.FP16
    tf32: bool  #: BuilderFlag.TF32 left on (fp16 builds) or cleared (fp32 builds)
    workspace_mib: int
    opt_batch: int

    @classmethod
    def make(cls, network: str, onnx_sha256: str, facts: DeviceFacts, cfg: BuildConfig | None = None) -> EngineKey:
        """The key of ``network`` built with ``cfg`` (default: ``BuildConfig()``, fp32 batch 1) on ``facts``."""
        cfg = cfg or BuildConfig()
        return cls(
            network,
            onnx_sha256,
            cfg.precision,
            cfg.max_batch,
            facts.gpu,
            facts.compute_capability,
            facts.tensorrt,
            cfg.strongly_typed,
            cfg.tf32,
            cfg.workspace_mib,
            cfg.opt_batch,
        )

    def digest(self) -> str:
        """Short stable hash of every field (the cache file name)."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:24]

    def file_name(self) -> str:
        return f"{self.network}.{self.precision}.{self.digest()}{ENGINE_SUFFIX}"

    def mismatches(self, other: EngineKey) -> list[str]:
        """Fields that differ, as 'field: cached != wanted'."""
        a, b = asdict(self), asdict(other)
        return [f"{k}: {a[k]!r} != {b[k]!r}" for k in a if a[k] != b[k]]


def engine_cache_dir() -> Path:
    """``$REENACT_ENGINE_CACHE``, else ``~/.cache/reenact/engines`` (created on demand)."""
    base = (
        os.environ.get("REENACT_ENGINE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reenact" / "engines"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def current_device_facts(device: int = 0) -> DeviceFacts:
    """Facts of this machine's GPU ``device`` and installed TensorRT (imports tensorrt and torch.cuda)."""
    import tensorrt as trt
    import torch

    if not torch.cuda.is_available():
        raise RuntimeError(f"{SKIP_REASON} (no CUDA device visible to torch)")
    major, minor = torch.cuda.get_device_capability(device)
    return DeviceFacts(torch.cuda.get_device_name(device), f"{major}.{minor}", trt.__version__)


@functools.cache
def tensorrt_logger(trt: Any) -> Any:
    """The process's one ``trt.Logger`` (TensorRT keeps a single logger per process: every builder and
    runtime must be given the same one; its developer guide's thread-safety notes)."""
    return trt.Logger(trt.Logger.WARNING)


def tensorrt_status() -> tuple[bool, str]:
    """(usable, reason): tensorrt imports and a CUDA device is visible."""
    try:
        import tensorrt as trt
    except ImportError:
        return False, f"{SKIP_REASON} (tensorrt is not installed)"
    try:
        import torch

        if not torch.cuda.is_available():
            return False, f"{SKIP_REASON} (torch sees no CUDA device; a CUDA build of torch is needed)"
    except ImportError:
        return False, f"{SKIP_REASON} (torch is not installed)"
    return True, f"tensorrt {trt.__version__}"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def store_engine(folder: Path, key: EngineKey, data: bytes) -> Path:
    """Write the engine and its key sidecar atomically (sidecar last: an engine without one is ignored)."""
    path = Path(folder) / key.file_name()
    atomic_write_bytes(path, data)
    atomic_write_text(_sidecar(path), json.dumps(asdict(key), indent=2, sort_keys=True) + "\n")
    return path


def read_engine_key(path: Path) -> EngineKey:
    """The key recorded beside engine ``path`` (``EngineMismatch`` when there is none)."""
    side = _sidecar(Path(path))
    if not side.is_file():
        raise EngineMismatch(f"{path} has no key file {side.name}: rebuild it with reenact export --tensorrt")
    try:
        return EngineKey(**json.loads(side.read_text(encoding="utf-8")))
    except (TypeError, ValueError) as exc:  # an older sidecar lacks the build fields: its engine is stale
        why = f"{side.name} does not record how {Path(path).name} was built ({exc}); rebuild it"
        raise EngineMismatch(why) from None


def load_engine_bytes(path: Path, wanted: EngineKey) -> bytes:
    """The engine at ``path`` if its recorded key equals ``wanted``; else ``EngineMismatch`` saying why."""
    found = read_engine_key(path)
    diff = found.mismatches(wanted)
    if diff:
        raise EngineMismatch(f"{Path(path).name} was built for another setup ({'; '.join(diff)}); rebuild it")
    return Path(path).read_bytes()


def cached_engine(folder: Path, wanted: EngineKey) -> Path | None:
    """The cache file for ``wanted`` when it exists and its sidecar matches, else None."""
    path = Path(folder) / wanted.file_name()
    if not path.is_file():
        return None
    try:
        load_engine_bytes(path, wanted)
    except EngineMismatch:
        return None
    return path


@dataclass(frozen=True)
class BuildConfig:
    """How to build one engine."""

    precision: str = "fp32"  #: of the ONNX file (fp16 files are built strongly typed)
    max_batch: int = 1  #: > 1 only for ONNX files exported with --dynamic-batch
    opt_batch: int = 1
    workspace_mib: int = 2048
    strongly_typed: bool = True  #: fp16 from the ONNX types; False: BuilderFlag.FP16 (TensorRT picks)
    timing_cache: Path | None = None  #: default: timing_cache_file(<engine cache>, this GPU, tf32)

    @property
    def tf32(self) -> bool:
        """Whether float32 layers may use TF32: not in fp32 engines (TensorRT turns BuilderFlag.TF32 on by
        default; TF32 rounds products' inputs to 10-bit mantissas, far outside fp32's tolerance
        ``streamer.backends.runner.TOLERANCE``); TensorRT's default in fp16 engines (well inside 1e-2)."""
        return self.precision != "fp32"


def timing_cache_file(folder: Path, facts: DeviceFacts, tf32: bool) -> Path:
    """The timing cache for one GPU model, compute capability, TensorRT version and TF32 setting.

    TensorRT's timing entries hold for the device, CUDA and TensorRT versions and the builder flags that
    change layer implementations, TF32 among them (TensorRT developer guide, "Timing Cache"), and
    ``set_timing_cache`` refuses a cache from another device; one file per combination keeps each
    machine's cache from being thrown away by the next."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", facts.gpu).strip("-").lower() or "gpu"
    mode = "tf32" if tf32 else "no-tf32"
    return Path(folder) / "timing" / f"{gpu}.sm{facts.compute_capability}.trt{facts.tensorrt}.{mode}.cache"


def _attach_timing_cache(config: Any, path: Path, log: Callable) -> None:
    """Give ``config`` the timing cache stored at ``path``, or an empty one when there is none, or when
    TensorRT cannot read it or refuses it (``create_timing_cache`` may return None; ``set_timing_cache``
    returns False for a cache from another device or TensorRT version)."""
    data = path.read_bytes() if path.is_file() else b""
    if data:
        cache = config.create_timing_cache(data)
        if cache is not None and config.set_timing_cache(cache, ignore_mismatch=False):
            return
        log(f"  timing cache {path.name} is unreadable or from another GPU / TensorRT: starting an empty one")
    cache = config.create_timing_cache(b"")
    if cache is None or not config.set_timing_cache(cache, ignore_mismatch=False):
        log("  TensorRT gave no empty timing cache: building without one")


def _profile_shapes(net: ExportableNetwork, cfg: BuildConfig) -> dict[str, tuple[tuple[int, ...], ...]]:
    """input -> (min, opt, max) shapes of the optimisation profile."""
    lo, opt, hi = (1, cfg.opt_batch, cfg.max_batch) if cfg.max_batch > 1 else (1, 1, 1)
    return {s.name: (s.batched(lo), s.batched(opt), s.batched(hi)) for s in net.inputs}


def build_serialized_engine(
    onnx_path: Path,
    net: ExportableNetwork,
    cfg: BuildConfig,
    log: Callable = print,
    *,
    facts: DeviceFacts | None = None,
    trt: Any = None,
) -> bytes:
    """Build an engine from ``onnx_path`` with the TensorRT Python API; returns the plan bytes.
    ``facts``: this GPU (names the timing cache; default: queried); ``trt``: the tensorrt module (tests
    pass a stand-in)."""
    if trt is None:
        import tensorrt as trt

    logger = tensorrt_logger(trt)
    builder = trt.Builder(logger)
    flags = 0
    if cfg.precision == "fp16" and cfg.strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    explicit = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    if explicit is not None and _release(trt.__version__) < (10,):
        flags |= 1 << int(explicit)  # TensorRT 8/9; implicit in 10
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, cfg.workspace_mib << 20)
    if cfg.precision == "fp16" and not cfg.strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    if not cfg.tf32:
        config.clear_flag(trt.BuilderFlag.TF32)  # on by default ("Enabled by default", tensorrt.BuilderFlag)
    cache_path = cfg.timing_cache or timing_cache_file(engine_cache_dir(), facts or current_device_facts(), cfg.tf32)
    _attach_timing_cache(config, cache_path, log)
    profile = builder.create_optimization_profile()
    for name, (lo, opt, hi) in _profile_shapes(net, cfg).items():
        profile.set_shape(name, lo, opt, hi)
    config.add_optimization_profile(profile)
    log(f"  building {net.name} ({cfg.precision}, batch <= {cfg.max_batch}) with TensorRT {trt.__version__}")
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build {onnx_path} (see the TensorRT log above)")
    cache = config.get_timing_cache()  # None when the build ran without one
    if cache is not None:
        atomic_write_bytes(cache_path, bytes(cache.serialize()))
    return bytes(plan)


def ensure_engine(
    onnx_path: Path,
    net: ExportableNetwork,
    cfg: BuildConfig = BuildConfig(),
    facts: DeviceFacts | None = None,
    folder: Path | None = None,
    build: Callable[[Path, ExportableNetwork, BuildConfig], bytes] | None = None,
    log: Callable = print,
) -> Path:
    """The cached engine for this ONNX file on this GPU, built (and cached) when missing or stale.

    ``facts`` and ``build`` are injectable so the cache logic is testable without TensorRT.
    """
    facts = facts or current_device_facts()
    folder = Path(folder) if folder is not None else engine_cache_dir()
    key = EngineKey.make(net.name, sha256_file(onnx_path), facts, cfg)
    hit = cached_engine(folder, key)
    if hit is not None:
        log(f"  {net.name}: cached engine {hit.name}")
        return hit
    data = (build or (lambda p, n, c: build_serialized_engine(p, n, c, log, facts=facts)))(Path(onnx_path), net, cfg)
    path = store_engine(folder, key, data)
    log(f"  {net.name}: engine {path.name} ({len(data) / 2**20:.1f} MiB)")
    return path


def compile_torch_tensorrt(module: Any, net: ExportableNetwork, precision: str = "fp16") -> Any:
    """The alternative path: torch-tensorrt's dynamo compile of the eager module (where installed).

    Returns the compiled module (call it like the original, with CUDA tensors). Not cached on disk.
    Types come from the module and its inputs (``TorchRunner`` halves the module for fp16, except for
    networks with ``fp32_inputs``, which stay float32 and are compiled as such): torch-tensorrt types
    explicitly by default from 2.10 and then rejects ``enabled_precisions`` (deprecated; "should not be
    used when use_explicit_typing=True"), so it is passed only to earlier releases, which type weakly
    and would otherwise build fp32 kernels. fp32 compiles disable TF32, which torch-tensorrt otherwise
    leaves on (``disable_tf32`` defaults to False).
    ``--backend torch-tensorrt`` calls this.
    """
    try:
        import torch
        import torch_tensorrt
    except ImportError as exc:
        raise RuntimeError("torch-tensorrt is not installed (pip install torch-tensorrt matching torch)") from exc
    dtype = torch.half if precision == "fp16" else torch.float32
    input_dtype = torch.float32 if net.fp32_inputs else dtype
    inputs = [torch_tensorrt.Input(s.batched(1), dtype=input_dtype) for s in net.inputs]
    options: dict[str, Any] = {"disable_tf32": precision == "fp32"}
    if _release(torch_tensorrt.__version__) < (2, 10):
        options["enabled_precisions"] = {dtype}
    return torch_tensorrt.compile(module.eval().cuda(), ir="dynamo", inputs=inputs, min_block_size=1, **options)


def _release(version: str) -> tuple[int, ...]:
    """(major, minor) of a version string: (2, 13) of "2.13.0+cu128", (10, 3) of "10.3.0"."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:2])
