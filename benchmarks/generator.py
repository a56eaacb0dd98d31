"""The trained generator (RFG) in the bench: its settings, weights, deployed parts and real inputs.

Generator settings are named as ``benchmarks.reenact_quality`` names its methods, so speed and
quality rows line up: ``geometric`` (the landmark warp alone), ``rfg-global`` (warp + global
integrator) and ``rfg-global-local`` (warp + global + local integrator + calibration net).

Weights: ``--weights FILE``, else the shipped ``streamer/models/weights/rfg.safetensors``, else fresh
networks from ``build_networks()`` (seeded) written to the bench's temp folder. Fresh networks have
the trained ones' shapes, so they cost the same; every row that uses them says "random weights".
All RFG rows go through ``RFGReenactor`` built from that file, so they share one loaded runner per
(backend, threads) with ``convert`` (``streamer.reenactors.rfg`` caches it per process).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from benchmarks.registry import BenchContext

#: Deployed graphs in the order one frame runs them (``RFGNetworks.parts()`` names).
RFG_PARTS = ("rfg_source", "rfg_global", "rfg_local", "rfg_calibration")
#: Which parts one frame of each RFG setting runs (the geometric warp runs first in both).
FRAME_PARTS = {"rfg-global": ("rfg_global",), "rfg-global-local": ("rfg_global", "rfg_local", "rfg_calibration")}
RFG_RUNNERS = ("torch", "onnxruntime")
RANDOM_WEIGHTS = "random weights"


@dataclass(frozen=True)
class GeneratorSetting:
    """One ``--generator``/``--integrator`` choice of ``convert``, ``serve`` and ``camera``."""

    name: str  #: as ``benchmarks.reenact_quality`` names the method
    generator: str  #: ``--generator``
    integrator: str | None  #: ``--integrator`` (RFG only)

    @property
    def is_rfg(self) -> bool:
        return self.generator == "rfg"

    def cli_flags(self) -> list[str]:
        """The flags that select this setting on ``convert``/``serve``."""
        flags = ["--generator", self.generator]
        return flags + (["--integrator", self.integrator] if self.integrator else [])


SETTINGS: dict[str, GeneratorSetting] = {
    s.name: s
    for s in (
        GeneratorSetting("geometric", "geometric", None),
        GeneratorSetting("rfg-global", "rfg", "global"),
        GeneratorSetting("rfg-global-local", "rfg", "global-local"),
    )
}


def settings(ctx: BenchContext) -> list[GeneratorSetting]:
    """The generator settings this run measures."""
    return [SETTINGS[name] for name in ctx.config.generators]


def rfg_settings(ctx: BenchContext) -> list[GeneratorSetting]:
    """The RFG settings this run measures."""
    return [s for s in settings(ctx) if s.is_rfg]


class RFGFixture:
    """Per bench run: the weights file, reenactors per (backend, threads, integrator), real part inputs."""

    def __init__(self, ctx: BenchContext):
        from streamer.reenactors.rfg import DEFAULT_WEIGHTS

        self.ctx = ctx
        given = ctx.config.weights
        if given is not None:
            self.path, self.label = Path(given), f"weights {Path(given).name}"
        elif DEFAULT_WEIGHTS.is_file():
            self.path, self.label = DEFAULT_WEIGHTS, f"trained weights {DEFAULT_WEIGHTS.name}"
        else:
            self.path, self.label = write_random_weights(ctx.inputs.workdir / "rfg_random.safetensors"), RANDOM_WEIGHTS
        if self.warp == "mesh":
            self.label += " on the mesh warp"
        self._reenactors: dict[tuple[str, int, str], object] = {}
        self._costs: dict[str, dict[str, int]] = {}

    @property
    def random(self) -> bool:
        return self.label == RANDOM_WEIGHTS

    @cached_property
    def warp(self) -> str:
        """The geometric warp the weights were trained on: "mesh" for weights that take its revealed mask."""
        from streamer.reenactors.onnx_cache import rfg_header

        return "mesh" if rfg_header(self.path)["config"].get("revealed_input", False) else "planar"

    @cached_property
    def networks(self):
        """The networks as loaded from the weights file (torch modules, eval mode)."""
        from streamer.reenactors.rfg import load_rfg_weights

        return load_rfg_weights(self.path)

    @property
    def crop(self) -> int:
        """The crop size the weights are for (the RFG runs at that size only)."""
        return self.networks.config.size

    def reenactor(self, backend: str, threads: int, integrator: str = "global-local"):
        """An ``RFGReenactor`` (its runner is loaded once per process per backend and threads)."""
        from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor
        from streamer.reenactors.rfg import RFGReenactor

        key = (backend, threads, integrator)
        if key not in self._reenactors:
            geometric = GeometricReenactor(GeometricConfig(crop_size=self.crop, warp=self.warp))
            self._reenactors[key] = RFGReenactor(self.path, integrator, backend, threads, geometric)
        return self._reenactors[key]

    @cached_property
    def part_inputs(self) -> dict[str, tuple[np.ndarray, ...]]:
        """Real inputs of every deployed graph: the bench's source crop and two consecutive driver frames."""
        from benchmarks.stages import _source_crop
        from streamer.models.rfg_inputs import image_to_input

        reenactor = self.reenactor("torch", 1)
        image, marks = _source_crop(self.ctx, self.crop)
        state = reenactor.prepare(image, marks)
        driver = self.ctx.inputs.landmarks
        k = min(len(driver) - 1, max(1, len(driver) // 2))
        retarget = reenactor.retargeter.retarget
        targets = [retarget(state.geometric.landmarks, driver[0], driver[i]) for i in (k - 1, k)]
        # The reenactor's own per-frame inputs (with the revealed mask for weights that take it).
        prev_inputs, inputs = (reenactor.global_inputs(state, t) for t in targets)
        lm_prev, lm_tgt = prev_inputs.lm_tgt, inputs.lm_tgt
        frame = inputs.feeds(state)
        y_g = reenactor.runner.run("rfg_global", *frame)[0]
        # The previous output: the global integrator's output for the previous frame.
        y_prev = reenactor.runner.run("rfg_global", *prev_inputs.feeds(state))[0]
        y_l = reenactor.runner.run("rfg_local", y_prev, lm_prev, lm_tgt)[0]
        return {
            "rfg_source": (image_to_input(image)[None],),
            "rfg_global": frame,
            "rfg_local": (y_prev, lm_prev, lm_tgt),
            "rfg_calibration": (y_g, y_l, state.calib),
        }

    def module(self, part: str) -> torch.nn.Module:
        """The deployed graph ``part`` as a torch module (for counting)."""
        return self.networks.parts()[part]

    def cost(self, part: str) -> dict[str, int]:
        """FLOPs (``total``, ``grid_sample``) and used parameters of one call of ``part`` on its real inputs."""
        from benchmarks.flops import count_used_params, flop_breakdown

        if part not in self._costs:
            module, inputs = self.module(part), self.torch_inputs(part)
            self._costs[part] = {**flop_breakdown(module, *inputs), "params": count_used_params(module, *inputs)}
        return self._costs[part]

    def frame_gflops(self, setting: str) -> float:
        """GFLOPs of one frame's networks for an RFG setting (the geometric warp not included)."""
        return sum(self.cost(p)["total"] for p in FRAME_PARTS[setting]) / 1e9

    def torch_inputs(self, part: str) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(np.ascontiguousarray(x, np.float32)) for x in self.part_inputs[part])

    def runner(self, part: str, backend: str, threads: int) -> Callable[[], object]:
        """One call of the deployed graph as ``RFGReenactor`` makes it (numpy in, numpy out)."""
        run = self.reenactor(backend, threads).runner.run
        inputs = self.part_inputs[part]
        return lambda: run(part, *inputs)


def fixture(ctx: BenchContext) -> RFGFixture:
    """The run's ``RFGFixture`` (made once per context)."""
    existing = getattr(ctx, "_rfg_fixture", None)
    if existing is None:
        existing = RFGFixture(ctx)
        ctx._rfg_fixture = existing  # type: ignore[attr-defined]
    return existing


def write_random_weights(path: Path, seed: int = 0) -> Path:
    """Fresh RFG networks (``build_networks()``, seeded) saved as an ``rfg-v1`` file that ``load_networks`` reads."""
    from safetensors.torch import save_file

    from streamer.models.rfg import build_networks

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        nets = build_networks()
    tensors = {}
    for prefix, module in (("global", nets.gen), ("local", nets.local), ("calibration", nets.calib)):
        for k, v in module.state_dict().items():
            tensors[f"{prefix}.{k}"] = v.detach().contiguous()
    meta = {"format": "rfg-v1", "config": json.dumps(nets.config.to_dict()), "note": "random weights (bench)"}
    save_file(tensors, str(path), metadata=meta)
    return path


class CallCounter:
    """Wraps a runner's ``run`` to count calls per graph (to report how often the local path ran)."""

    def __init__(self, run: Callable[..., list]):
        self._run = run
        self.calls: dict[str, int] = {}

    def __call__(self, name: str, *inputs) -> list:
        self.calls[name] = self.calls.get(name, 0) + 1
        return self._run(name, *inputs)
