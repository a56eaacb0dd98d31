"""The trained reenactor: the geometric warp as the starting point, refined by the RFG networks.

Per source (``prepare``): the geometric reenactor's control points, and the RFG's source part
(features, AdaIN parameters) run once. Per frame (``step``): retarget the driver's motion onto the
source, render the analytic warp and its pixel map, run the global integrator; with
``integrator="global-local"`` also the local integrator on the previous output and the calibration
net. The local state restarts (global only for one frame) on the first frame, after a gap, or when
the target jumps further than a frame-to-frame motion could (``reset_motion``).

Backends: ``torch`` runs the modules; ``onnxruntime`` runs the same graphs exported to ONNX
(exported in memory at start-up, cached per process); ``tensorrt`` builds an engine per graph
(cached on disk by ONNX hash and GPU). ``--frame-path kernels`` keeps the global integrator's
tensors on the GPU instead (``streamer.framepath``).
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from streamer.errors import InputError
from streamer.landmarks import FaceLandmarks
from streamer.models.rfg import RFGNetworks, load_networks
from streamer.models.rfg_inputs import image_to_input, landmark_input, output_to_image, pixel_map
from streamer.reenactors.geometric import GeometricReenactor, GeometricSourceState

log = logging.getLogger(__name__)

Integrator = Literal["global", "global-local"]
INTEGRATORS: tuple[str, ...] = ("global", "global-local")
RFG_BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "tensorrt")
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "weights" / "rfg.safetensors"


@dataclass(frozen=True, eq=False)
class RFGSourceState:
    """Per-source tensors, computed once; shared (read-only) by every stream that uses the source."""

    geometric: GeometricSourceState
    feats: np.ndarray
    adain_g: np.ndarray
    calib: np.ndarray
    lm_src: np.ndarray


@dataclass
class LocalState:
    """The local integrator's memory for one (reenactor, source): the previous output and its target."""

    output: np.ndarray | None = None  #: (1, 3, S, S) previous output in [-1, 1]
    lm: np.ndarray | None = None
    points: np.ndarray | None = None


class _TorchParts:
    def __init__(self, nets: RFGNetworks, threads: int):
        self.nets = nets
        self.parts = nets.parts()
        self.threads = threads

    def run(self, name: str, *inputs: np.ndarray) -> list[np.ndarray]:
        with torch.inference_mode():
            out = self.parts[name](*(torch.from_numpy(x) for x in inputs))
        out = out if isinstance(out, tuple) else (out,)
        return [o.numpy() for o in out]


_INPUTS = {
    "rfg_source": ["source"],
    "rfg_global": ["feats", "adain", "base", "pixel_map", "lm_src", "lm_tgt"],
    "rfg_local": ["prev", "lm_prev", "lm_tgt"],
    "rfg_calibration": ["y_g", "y_l", "params"],
}


def export_part_onnx(
    module: torch.nn.Module, name: str, example: tuple[torch.Tensor, ...], opset: int = 18, sampler: str = "gather"
) -> bytes:
    """One deployed RFG graph as ONNX bytes (static shapes, batch 1, single file) for onnxruntime's CPU:
    resampling as gathers by default (``streamer.models.sampling``: 4x faster there than GridSample)."""
    from streamer.models.sampling import sampler as use_sampler

    buf = io.BytesIO()
    outputs = ["feats", "adain_g", "calib"] if name == "rfg_source" else ["output"]
    with warnings.catch_warnings():
        # Tracing notes (instance norm "train=True" is what AdaIN means; constant shapes are intended).
        warnings.simplefilter("ignore")
        with use_sampler(sampler):
            torch.onnx.export(
                module, example, buf, input_names=_INPUTS[name], output_names=outputs, opset_version=opset, dynamo=False
            )
    return buf.getvalue()


def example_inputs(nets: RFGNetworks) -> dict[str, tuple[torch.Tensor, ...]]:
    """Example inputs (batch 1) of every deployed graph, e.g. for export."""
    cfg = nets.config
    s, g = cfg.size, cfg.grid
    img = torch.zeros(1, 3, s, s)
    with torch.no_grad():
        feats, adain_g, calib = nets.parts()["rfg_source"](img)
    ys, xs = torch.meshgrid(torch.arange(s).float(), torch.arange(s).float(), indexing="ij")
    pm = torch.stack((xs, ys), dim=-1)[None]
    lm = torch.zeros(1, 1, g, g)
    return {
        "rfg_source": (img,),
        "rfg_global": (feats, adain_g, img, pm, lm, lm),
        "rfg_local": (img, lm, lm),
        "rfg_calibration": (img, img, calib),
    }


class _OrtParts:
    def __init__(self, nets: RFGNetworks, threads: int):
        import onnxruntime as ort

        self.nets = nets
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        examples = example_inputs(nets)
        self.sessions = {}
        #: the exported graphs, kept so the CPU kernel frame path binds the same ones (no second export)
        self.models: dict[str, bytes] = {}
        for name, module in nets.parts().items():
            self.models[name] = model = export_part_onnx(module, name, examples[name])
            self.sessions[name] = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])

    def run(self, name: str, *inputs: np.ndarray) -> list[np.ndarray]:
        feeds = dict(zip(_INPUTS[name], (np.ascontiguousarray(x, np.float32) for x in inputs), strict=True))
        return self.sessions[name].run(None, feeds)


class _TrtParts:
    """Every deployed graph as a TensorRT engine (built from these networks and cached on disk)."""

    def __init__(self, nets: RFGNetworks, precision: str = "fp32"):
        from export.registry import get_network
        from export.tensorrt_build import tensorrt_status
        from streamer.backends.tensorrt import TensorRTRunner
        from streamer.framepath.build import engine_for_module

        ok, why = tensorrt_status()
        if not ok:
            raise InputError(f"the RFG cannot run on TensorRT here: {why}")
        self.nets = nets
        self.runners = {
            name: TensorRTRunner(engine_for_module(get_network(name), module, precision), precision)
            for name, module in nets.parts().items()
        }

    def run(self, name: str, *inputs: np.ndarray) -> list[np.ndarray]:
        runner = self.runners[name]
        out = runner.infer(dict(zip(_INPUTS[name], inputs, strict=True)))
        return [np.asarray(out[s.name], np.float32) for s in runner.output_spec]


def _parts(nets: RFGNetworks, backend: str, threads: int) -> _TorchParts | _OrtParts | _TrtParts:
    if backend == "onnxruntime":
        return _OrtParts(nets, threads)
    if backend == "tensorrt":
        return _TrtParts(nets)
    return _TorchParts(nets, threads)


_RUNNERS: dict[tuple, _TorchParts | _OrtParts | _TrtParts] = {}
_RUNNERS_LOCK = threading.Lock()


def _shared_runner(path: Path, backend: str, threads: int) -> tuple[RFGNetworks, _TorchParts | _OrtParts | _TrtParts]:
    """Networks and runner per (weights file, backend, threads), built once per process.

    Live paths make a reenactor per stream; loading and exporting the graphs takes seconds, and every
    runner is safe to call from several threads: onnxruntime sessions and torch inference mode are, and
    a TensorRT runner (one execution context, which TensorRT allows one running thread at a time)
    serialises its ``infer`` with a lock.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, backend, threads)
    with _RUNNERS_LOCK:
        if key not in _RUNNERS:
            nets = load_rfg_weights(path)
            _RUNNERS[key] = _parts(nets, backend, threads)
        runner = _RUNNERS[key]
    return runner.nets, runner


def load_rfg_weights(path: str | Path | None) -> RFGNetworks:
    """The RFG networks from ``path`` (default: the shipped weights), with one-line errors."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        if path == DEFAULT_WEIGHTS:
            raise InputError("no trained RFG weights are installed; use --generator geometric or pass --weights")
        raise InputError(f"RFG weights not found: {path}")
    try:
        return load_networks(path)
    except Exception as exc:  # safetensors raises several types for a corrupt file
        raise InputError(f"cannot load RFG weights {path}: {exc}") from None


class RFGReenactor:
    """Reenactment with the trained RFG (see the module docstring)."""

    def __init__(
        self,
        weights: str | Path | None = None,
        integrator: Integrator = "global-local",
        backend: str = "onnxruntime",
        threads: int = 1,
        geometric: GeometricReenactor | None = None,
        reset_motion: float = 0.08,
        networks: RFGNetworks | None = None,
    ):
        if integrator not in INTEGRATORS:
            raise InputError(f"--integrator must be one of {', '.join(INTEGRATORS)}, got {integrator!r}")
        if backend not in RFG_BACKENDS:
            raise InputError(f"RFG backend must be one of {', '.join(RFG_BACKENDS)}, got {backend!r}")
        if networks is not None:
            self.nets = networks
            self.runner = _parts(networks, backend, threads)
        else:
            path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
            load_rfg_weights(path) if not path.is_file() else None  # the one-line error for a missing file
            self.nets, self.runner = _shared_runner(path, backend, threads)
        self.geometric = geometric or GeometricReenactor()
        if self.geometric.crop_size != self.nets.config.size:
            raise InputError(
                f"RFG weights are for {self.nets.config.size}px crops, not {self.geometric.crop_size} "
                f"(--size {self.nets.config.size}, or --generator geometric for other sizes)"
            )
        self.crop_size = self.nets.config.size
        self.integrator = integrator
        self.reset_motion = reset_motion
        self._local: weakref.WeakKeyDictionary[RFGSourceState, LocalState] = weakref.WeakKeyDictionary()

    @property
    def retargeter(self):
        """The retargeter (shared with the geometric warp)."""
        return self.geometric.retargeter

    def prepare(self, source_crop: np.ndarray, source_landmarks: FaceLandmarks) -> RFGSourceState:
        """Geometric control points and the RFG's per-source part."""
        geo = self.geometric.prepare(source_crop, source_landmarks)
        feats, adain_g, calib = self.runner.run("rfg_source", image_to_input(source_crop)[None])
        lm_src = landmark_input(source_landmarks.points, self.crop_size)[None]
        return RFGSourceState(geo, feats, adain_g, calib, lm_src)

    def reset(self, state: RFGSourceState) -> None:
        """Forget the previous output (the next frame is global only)."""
        self._local.pop(state, None)

    def local_state(self, state: RFGSourceState) -> LocalState:
        """This reenactor's local-integrator memory for ``state`` (one reenactor per stream)."""
        return self._local.setdefault(state, LocalState())

    def step(self, state: RFGSourceState, driver: FaceLandmarks, reference: FaceLandmarks) -> np.ndarray:
        """The reenacted crop for one driver frame."""
        target = self.geometric.retargeter.retarget(state.geometric.landmarks, reference, driver)
        return self.render(state, target)

    def global_inputs(self, state: RFGSourceState, target: FaceLandmarks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The per-frame inputs of the global integrator for ``target`` (crop coordinates): the
        geometric render (S, S, 3) uint8 BGR (``base`` is ``image_to_input`` of it), its pixel map
        (1, S, S, 2) and the target landmark map (1, 1, S/4, S/4)."""
        base, map_x, map_y = self.geometric.render_maps(state.geometric, target)
        return base, pixel_map(map_x, map_y)[None], landmark_input(target.points, self.crop_size)[None]

    def render(self, state: RFGSourceState, target: FaceLandmarks) -> np.ndarray:
        """Draw the source with ``target`` landmarks (crop coordinates)."""
        base, pmap, lm_tgt = self.global_inputs(state, target)
        y_g = self.runner.run(
            "rfg_global", state.feats, state.adain_g, image_to_input(base)[None], pmap, state.lm_src, lm_tgt
        )[0]
        out = y_g
        if self.integrator == "global-local":
            local = self.local_state(state)
            if local.output is not None and self._continuous(local, target):
                y_l = self.runner.run("rfg_local", local.output, local.lm, lm_tgt)[0]
                out = self.runner.run("rfg_calibration", y_g, y_l, state.calib)[0]
            local.output, local.lm, local.points = out, lm_tgt, target.points[:, :2].copy()
        return output_to_image(out[0])

    def _continuous(self, local: LocalState, target: FaceLandmarks) -> bool:
        """Whether the motion since the previous frame is small enough for the local integrator."""
        moved = np.abs(target.points[:, :2] - local.points).max()
        return bool(moved <= self.reset_motion * self.crop_size)
