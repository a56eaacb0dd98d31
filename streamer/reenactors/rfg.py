"""The trained reenactor: the geometric warp as the starting point, refined by the RFG networks.

Per source (``prepare``): the geometric reenactor's control points, and the RFG's source part
(features, AdaIN parameters) run once. Per frame (``step``): retarget the driver's motion onto the
source, render the analytic warp and its pixel map, run the global integrator; with
``integrator="global-local"`` also the local integrator on the previous output and the calibration
net. The local state restarts (global only for one frame) on the first frame, after a gap, or when
the target jumps further than a frame-to-frame motion could (``reset_motion``).

Backends: ``torch`` runs the modules; ``onnxruntime`` runs the same graphs exported to ONNX
(cached on disk by ``streamer.reenactors.onnx_cache``: a start that finds them neither imports torch
nor loads the networks); ``tensorrt`` builds an engine per graph
(cached on disk by ONNX hash and GPU). ``--frame-path kernels`` keeps the global integrator's
tensors on the GPU instead (``streamer.framepath``).

Weights whose config has ``revealed_input`` (issue 14 item 4) were trained on the mesh warp: their
global integrator takes an 8th input, ``revealed`` (what the photo cannot show at the target pose,
from the same mesh render as ``base``). On a planar-warp source it is zeros, with a warning per source.
"""

from __future__ import annotations

import io
import logging
import threading
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from streamer.errors import InputError
from streamer.landmarks import FaceLandmarks
from streamer.models.rfg_config import RFGConfig
from streamer.models.rfg_inputs import image_to_input, landmark_input, output_to_image, pixel_map, revealed_input
from streamer.models.rfg_mouth import add_crack_guard, guard_input, mouth_input
from streamer.reenactors.geometric import GeometricReenactor, GeometricSourceState
from streamer.reenactors.onnx_cache import cached_graphs, forget, rfg_header

if TYPE_CHECKING:  # torch loads only where the networks run or are exported (issue 16: fast start)
    import torch

    from streamer.models.rfg import RFGNetworks

log = logging.getLogger(__name__)

Integrator = Literal["global", "global-local"]
INTEGRATORS: tuple[str, ...] = ("global", "global-local")
RFG_BACKENDS: tuple[str, ...] = ("torch", "onnxruntime", "tensorrt")
DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "models" / "weights" / "rfg.safetensors"

#: Guard the eye openings too (``streamer.models.rfg_mouth.guard_input``), not only the open mouth.
EYE_GUARD = True


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


@dataclass(frozen=True)
class GlobalInputs:
    """The host-made per-frame inputs of the global integrator (``RFGReenactor.global_inputs``)."""

    base: np.ndarray  #: (S, S, 3) uint8 BGR: the geometric render (the graph's ``base`` is ``image_to_input`` of it)
    pixel_map: np.ndarray  #: (1, S, S, 2) the render's source pixel per output pixel
    lm_tgt: np.ndarray  #: (1, 1, S/4, S/4) target landmark map
    mouth: np.ndarray  #: (1, 1, S, S) the mouth (and eye) guard's map; zeros with the guard off
    #: (1, 1, S, S) the mesh warp's revealed mask (zeros on the planar warp); None for weights without
    #: ``revealed_input`` (their graph has no such input)
    revealed: np.ndarray | None = None

    def feeds(self, state: RFGSourceState) -> tuple[np.ndarray, ...]:
        """The ``rfg_global`` graph's inputs, in its order."""
        extra = () if self.revealed is None else (self.revealed,)
        frame = (image_to_input(self.base)[None], self.pixel_map, state.lm_src, self.lm_tgt, self.mouth)
        return (state.feats, state.adain_g, *frame, *extra)


class _TorchParts:
    def __init__(self, nets: RFGNetworks, threads: int):
        self.nets = nets
        self.parts = nets.parts()
        self.threads = threads
        self.crop_size = nets.config.size
        self.revealed = nets.config.revealed_input

    def run(self, name: str, *inputs: np.ndarray) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.parts[name](*(torch.from_numpy(x) for x in inputs))
        out = out if isinstance(out, tuple) else (out,)
        return [o.numpy() for o in out]


_INPUTS = {
    "rfg_source": ["source"],
    "rfg_global": ["feats", "adain", "base", "pixel_map", "lm_src", "lm_tgt", "mouth"],
    "rfg_local": ["prev", "lm_prev", "lm_tgt"],
    "rfg_calibration": ["y_g", "y_l", "params"],
}
#: The global integrator's extra input with ``RFGConfig.revealed_input`` weights (the last one).
REVEALED = "revealed"


def graph_inputs(revealed: bool = False) -> dict[str, list[str]]:
    """Every deployed graph's input names; ``revealed``: for weights with ``RFGConfig.revealed_input``."""
    inputs = {name: list(names) for name, names in _INPUTS.items()}
    if revealed:
        inputs["rfg_global"].append(REVEALED)
    return inputs


def cache_layout(revealed: bool = False) -> str:
    """The graphs' input names as text, part of the ONNX cache key (``onnx_cache.entry_key``): graphs
    with another input list are another entry."""
    return ";".join(f"{name}:{','.join(names)}" for name, names in graph_inputs(revealed).items())


def export_part_onnx(
    module: torch.nn.Module, name: str, example: tuple[torch.Tensor, ...], opset: int = 18, sampler: str = "gather"
) -> bytes:
    """One deployed RFG graph as ONNX bytes (static shapes, batch 1, single file) for onnxruntime's CPU:
    resampling as gathers by default (``streamer.models.sampling``: 4x faster there than GridSample).
    An ``rfg_global`` example with the revealed mask (``example_inputs`` of revealed-input weights)
    names it ``revealed``."""
    import torch

    from streamer.models.sampling import sampler as use_sampler

    buf = io.BytesIO()
    outputs = ["feats", "adain_g", "calib"] if name == "rfg_source" else ["output"]
    inputs = graph_inputs(revealed=len(example) > len(_INPUTS[name]))[name]
    if len(inputs) != len(example):
        raise ValueError(f"{name} takes {len(inputs)} inputs ({', '.join(inputs)}), got {len(example)}")
    with warnings.catch_warnings():
        # Tracing notes (instance norm "train=True" is what AdaIN means; constant shapes are intended).
        warnings.simplefilter("ignore")
        with use_sampler(sampler):
            torch.onnx.export(
                module, example, buf, input_names=inputs, output_names=outputs, opset_version=opset, dynamo=False
            )
    return buf.getvalue()


def example_inputs(nets: RFGNetworks) -> dict[str, tuple[torch.Tensor, ...]]:
    """Example inputs (batch 1) of every deployed graph, e.g. for export (``rfg_global`` with the
    revealed mask, all zeros, when the config has ``revealed_input``)."""
    import torch

    cfg = nets.config
    s, g = cfg.size, cfg.grid
    img = torch.zeros(1, 3, s, s)
    with torch.no_grad():
        feats, adain_g, calib = nets.parts()["rfg_source"](img)
    ys, xs = torch.meshgrid(torch.arange(s).float(), torch.arange(s).float(), indexing="ij")
    pm = torch.stack((xs, ys), dim=-1)[None]
    lm = torch.zeros(1, 1, g, g)
    revealed = (torch.zeros(1, 1, s, s),) if cfg.revealed_input else ()
    return {
        "rfg_source": (img,),
        "rfg_global": (feats, adain_g, img, pm, lm, lm, torch.zeros(1, 1, s, s), *revealed),
        "rfg_local": (img, lm, lm),
        "rfg_calibration": (img, img, calib),
    }


#: The onnxruntime graphs' export settings (part of their cache key).
_OPSET, _SAMPLER = 18, "gather"


class _OrtParts:
    """The graphs on onnxruntime's CPU. From ``weights`` they come from the on-disk cache when there
    (the networks then load only if asked for); from ``nets`` they are exported in memory."""

    def __init__(self, nets: RFGNetworks | None, threads: int, weights: Path | None = None):
        import onnxruntime as ort

        self._nets, self._weights = nets, weights
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        config = nets.config.to_dict() if nets is not None else rfg_header(weights)["config"]
        self.crop_size = int(config.get("size", RFGConfig.size))
        self.revealed = bool(config.get("revealed_input", RFGConfig.revealed_input))
        self.inputs = graph_inputs(self.revealed)
        #: the exported graphs, kept so the CPU kernel frame path binds the same ones (no second export)
        self.models, cached = self._graphs()
        try:
            self.sessions = {name: self._session(ort, name, model, opts) for name, model in self.models.items()}
        except Exception as exc:  # noqa: BLE001 - a cached graph onnxruntime rejects: export it again
            if not cached:
                raise
            log.warning("cached RFG graphs did not load (%s); exporting them again", exc)
            forget(weights, _OPSET, _SAMPLER, self._layout)
            self.models, _ = self._graphs()
            self.sessions = {name: self._session(ort, name, model, opts) for name, model in self.models.items()}

    def _session(self, ort, name: str, model: bytes, opts):
        session = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
        found = [i.name for i in session.get_inputs()]
        if found != self.inputs[name]:
            raise ValueError(f"{name} takes {found}, these weights need {self.inputs[name]}")
        return session

    @property
    def _layout(self) -> str:
        return cache_layout(self.revealed)

    def _graphs(self) -> tuple[dict[str, bytes], bool]:
        if self._weights is None:
            return self._export(), False
        return cached_graphs(self._weights, self.inputs, self._export, _OPSET, _SAMPLER, self._layout)

    def _export(self) -> dict[str, bytes]:
        nets = self.nets
        examples = example_inputs(nets)
        return {
            name: export_part_onnx(module, name, examples[name], _OPSET, _SAMPLER)
            for name, module in nets.parts().items()
        }

    @property
    def nets(self) -> RFGNetworks:
        """The torch networks, loaded on first use (running cached graphs does not need them)."""
        if self._nets is None:
            self._nets = load_rfg_weights(self._weights)
        return self._nets

    def run(self, name: str, *inputs: np.ndarray) -> list[np.ndarray]:
        feeds = dict(zip(self.inputs[name], (np.ascontiguousarray(x, np.float32) for x in inputs), strict=True))
        return self.sessions[name].run(None, feeds)


class _TrtParts:
    """Every deployed graph as a TensorRT engine (built from these networks and cached on disk)."""

    def __init__(self, nets: RFGNetworks, precision: str = "fp32"):
        from export.registry import rfg_network
        from export.tensorrt_build import tensorrt_status
        from streamer.backends.tensorrt import TensorRTRunner
        from streamer.framepath.build import engine_for_module

        ok, why = tensorrt_status()
        if not ok:
            raise InputError(f"the RFG cannot run on TensorRT here: {why}")
        self.nets = nets
        self.crop_size = nets.config.size
        self.revealed = nets.config.revealed_input
        self.inputs = graph_inputs(self.revealed)
        self.runners = {
            name: TensorRTRunner(engine_for_module(rfg_network(name, self.revealed), module, precision), precision)
            for name, module in nets.parts().items()
        }

    def run(self, name: str, *inputs: np.ndarray) -> list[np.ndarray]:
        runner = self.runners[name]
        out = runner.infer(dict(zip(self.inputs[name], inputs, strict=True)))
        return [np.asarray(out[s.name], np.float32) for s in runner.output_spec]


def _parts(nets: RFGNetworks, backend: str, threads: int) -> _TorchParts | _OrtParts | _TrtParts:
    if backend == "onnxruntime":
        return _OrtParts(nets, threads)
    if backend == "tensorrt":
        return _TrtParts(nets)
    return _TorchParts(nets, threads)


_RUNNERS: dict[tuple, _TorchParts | _OrtParts | _TrtParts] = {}
_RUNNERS_LOCK = threading.Lock()


def _shared_runner(path: Path, backend: str, threads: int) -> _TorchParts | _OrtParts | _TrtParts:
    """The runner per (weights file, backend, threads), built once per process (its ``nets``: the networks).

    Live paths make a reenactor per stream; loading and exporting the graphs takes seconds, and every
    runner is safe to call from several threads: onnxruntime sessions and torch inference mode are, and
    a TensorRT runner (one execution context, which TensorRT allows one running thread at a time)
    serialises its ``infer`` with a lock.
    """
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, backend, threads)
    with _RUNNERS_LOCK:
        if key not in _RUNNERS:
            if backend == "onnxruntime":  # cached graphs: no torch, no networks (onnx_cache)
                _RUNNERS[key] = _OrtParts(None, threads, weights=path)
            else:
                _RUNNERS[key] = _parts(load_rfg_weights(path), backend, threads)
        runner = _RUNNERS[key]
    return runner


def _weights_path(path: str | Path | None) -> Path:
    """``path`` (default: the shipped weights) if it is a file; else the one-line error."""
    path = Path(path) if path is not None else DEFAULT_WEIGHTS
    if not path.is_file():
        if path == DEFAULT_WEIGHTS:
            raise InputError("no trained RFG weights are installed; use --generator geometric or pass --weights")
        raise InputError(f"RFG weights not found: {path}")
    return path


def check_rfg_weights(path: str | Path | None) -> None:
    """One-line errors for missing weights or a file that is not RFG weights, from its header only (no
    torch: what the command line checks before any slow work)."""
    rfg_header(_weights_path(path))


def load_rfg_weights(path: str | Path | None) -> RFGNetworks:
    """The RFG networks from ``path`` (default: the shipped weights), with one-line errors."""
    from streamer.models.rfg import load_networks

    path = _weights_path(path)
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
        mouth_guard: bool = True,
        eye_guard: bool = EYE_GUARD,
    ):
        if integrator not in INTEGRATORS:
            raise InputError(f"--integrator must be one of {', '.join(INTEGRATORS)}, got {integrator!r}")
        if backend not in RFG_BACKENDS:
            raise InputError(f"RFG backend must be one of {', '.join(RFG_BACKENDS)}, got {backend!r}")
        if networks is not None:
            self.runner = _parts(networks, backend, threads)
        else:
            self.runner = _shared_runner(_weights_path(weights), backend, threads)
        self.geometric = geometric or GeometricReenactor()
        if self.geometric.crop_size != self.runner.crop_size:
            raise InputError(
                f"RFG weights are for {self.runner.crop_size}px crops, not {self.geometric.crop_size} "
                f"(--size {self.runner.crop_size}, or --generator geometric for other sizes)"
            )
        self.crop_size = self.runner.crop_size
        #: the weights take the mesh warp's revealed mask (``RFGConfig.revealed_input``)
        self.revealed = self.runner.revealed
        self.integrator = integrator
        self.reset_motion = reset_motion
        #: inside the target's open mouth the output is the base (``streamer.models.rfg_mouth``); off:
        #: the networks' blend alone (as before issue 17, for comparisons)
        self.mouth_guard = mouth_guard
        #: the same inside the target's eye openings (``guard_input``); needs ``mouth_guard``
        self.eye_guard = eye_guard
        self._local: weakref.WeakKeyDictionary[RFGSourceState, LocalState] = weakref.WeakKeyDictionary()

    @property
    def nets(self) -> RFGNetworks:
        """The torch networks (on onnxruntime loaded on first use: the cached graphs run without them)."""
        return self.runner.nets

    @property
    def retargeter(self):
        """The retargeter (shared with the geometric warp)."""
        return self.geometric.retargeter

    def prepare(self, source_crop: np.ndarray, source_landmarks: FaceLandmarks) -> RFGSourceState:
        """Geometric control points and the RFG's per-source part."""
        geo = self.geometric.prepare(source_crop, source_landmarks)
        if self.revealed and geo.mesh is None:
            log.warning(
                "these RFG weights were trained on the mesh warp (revealed_input) but this source is drawn "
                "with the planar warp (--warp planar, or no face mesh in its crop): they see no revealed "
                "pixels, use --warp mesh"
            )
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

    def global_inputs(self, state: RFGSourceState, target: FaceLandmarks) -> GlobalInputs:
        """The per-frame inputs of the global integrator for ``target`` (crop coordinates). Revealed-input
        weights on a mesh-warp source get the revealed mask of the same render as ``base``; on the mesh
        warp the guard map also covers the render's cracks (``add_crack_guard``)."""
        s = self.crop_size
        base, map_x, map_y, warp = self.geometric.render_warp(state.geometric, target)
        revealed = None
        if self.revealed:
            revealed = np.zeros((1, 1, s, s), np.float32)
            if warp is not None:
                revealed = revealed_input(warp.revealed, warp.covered)[None]
        if not self.mouth_guard:
            mouth = np.zeros((1, s, s), np.float32)
        else:
            mouth = (guard_input if self.eye_guard else mouth_input)(target.points, s)
            if warp is not None:
                add_crack_guard(mouth, warp.covered)
        lm_tgt = landmark_input(target.points, s)[None]
        return GlobalInputs(base, pixel_map(map_x, map_y)[None], lm_tgt, mouth[None], revealed)

    def render(self, state: RFGSourceState, target: FaceLandmarks) -> np.ndarray:
        """Draw the source with ``target`` landmarks (crop coordinates)."""
        frame = self.global_inputs(state, target)
        lm_tgt = frame.lm_tgt
        y_g = self.runner.run("rfg_global", *frame.feeds(state))[0]
        out = y_g
        local = self.local_state(state) if self.integrator == "global-local" else None
        if local is not None and local.output is not None and self._continuous(local, target):
            y_l = self.runner.run("rfg_local", local.output, local.lm, lm_tgt)[0]
            out = self.runner.run("rfg_calibration", y_g, y_l, state.calib)[0]
        if local is not None:
            local.output, local.lm, local.points = out, lm_tgt, target.points[:, :2].copy()
        return output_to_image(out[0])

    def _continuous(self, local: LocalState, target: FaceLandmarks) -> bool:
        """Whether the motion since the previous frame is small enough for the local integrator."""
        moved = np.abs(target.points[:, :2] - local.points).max()
        return bool(moved <= self.reset_motion * self.crop_size)
