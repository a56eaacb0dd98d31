"""Run configuration: frozen dataclasses per component, loaded from JSON/YAML or a named preset.

A run config is ``RunConfig(trainer, loop, optim, data, model, losses)``; ``model`` and ``losses``
are the trainer's own dataclasses (see ``training.registry``). ``--set a.b=value`` overrides are
typed partial updates: the value is parsed as JSON and the result is validated by the dataclasses.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamer.errors import InputError

PRESET_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class LoopConfig:
    """Runtime of the training loop (not architecture)."""

    steps: int = 3000  #: optimiser steps in total
    batch_size: int = 128  #: global batch (split over processes)
    log_every: int = 50  #: training metrics to CSV/TensorBoard every N steps
    val_every: int = 500  #: validation every N steps (and at the end)
    ckpt_every: int = 1000  #: checkpoint every N steps (and at the end / on Ctrl-C)
    keep_checkpoints: int = 2  #: newest checkpoints kept
    seed: int = 0  #: seeds weights, data order and torch
    steps_per_epoch: int = 500  #: the data order is drawn per (seed, epoch)
    precision: str = "auto"  #: auto (bf16 autocast on CUDA, fp32 on CPU), fp32, bf16
    device: str = "auto"  #: auto, cpu, cuda
    threads: int = 1  #: CPU threads per process
    #: a model file to start from (fine-tuning; ignored on --resume); trainers without warm_start refuse it
    init: str = ""


@dataclass(frozen=True)
class OptimConfig:
    """Adam settings (the same for every network of a trainer)."""

    lr: float = 1e-3
    beta1: float = 0.5
    beta2: float = 0.999
    weight_decay: float = 0.0


@dataclass(frozen=True)
class DataConfig:
    """Pairs and the identity split."""

    val_fraction: float = 0.25  #: share of identities held out
    split_seed: int = 0  #: seed of the identity split (kept apart from the run seed)
    #: identities held out on top of the random share (e.g. large-pose clips kept for evaluation)
    extra_val_identities: tuple[str, ...] = ()
    self_fraction: float = 0.5  #: share of self-reenactment pairs in a batch (the rest cross-identity)
    yaw_diff_min: float = 0.0  #: yaw difference range (degrees) of self-reenactment pairs
    yaw_diff_max: float = 180.0
    val_pairs_per_video: int = 200  #: fixed validation pairs per held-out video


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; saved as ``config.json`` in the run folder."""

    trainer: str
    loop: LoopConfig = field(default_factory=LoopConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: Any = None
    losses: Any = None

    def to_dict(self) -> dict:
        """JSON-safe dict."""
        return dataclasses.asdict(self)


def _build(cls: type, data: dict | None, where: str):
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise InputError(f"unknown {where} settings: {', '.join(sorted(unknown))}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            value = data[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise InputError(f"bad {where} settings: {exc}") from None


def config_from_dict(data: dict) -> RunConfig:
    """Validate a plain dict into a ``RunConfig`` (the trainer decides the model/losses types)."""
    from training.registry import get_trainer

    if "trainer" not in data:
        raise InputError("a run config needs a 'trainer' field")
    unknown = set(data) - {f.name for f in dataclasses.fields(RunConfig)}
    if unknown:
        raise InputError(f"unknown config sections: {', '.join(sorted(unknown))}")
    spec = get_trainer(data["trainer"])
    return RunConfig(
        trainer=data["trainer"],
        loop=_build(LoopConfig, data.get("loop"), "loop"),
        optim=_build(OptimConfig, data.get("optim"), "optim"),
        data=_build(DataConfig, data.get("data"), "data"),
        model=_build(spec.model_config, data.get("model"), "model"),
        losses=_build(spec.loss_config, data.get("losses"), "losses"),
    )


def read_config_file(name: str) -> dict:
    """A JSON/YAML file, or a preset name from ``training/configs`` (``idsg`` -> ``idsg.json``)."""
    path = Path(name)
    if not path.is_file():
        preset = PRESET_DIR / f"{name.replace('-', '_')}.json"
        if not preset.is_file():
            presets = ", ".join(sorted(p.stem for p in PRESET_DIR.glob("*.json")))
            raise InputError(f"config {name!r} is neither a file nor a preset ({presets})")
        path = preset
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError(
                f"{path}: YAML configs need PyYAML: pip install 'reenact[train]' (or pyyaml>=6), or use JSON"
            ) from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a mapping of config sections, got {type(data).__name__}")
        return data
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``section.field=value`` updates (value parsed as JSON, else kept as a string)."""
    out = json.loads(json.dumps(data))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InputError(f"--set needs KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InputError(f"--set {key}: {part} is not a section")
        node[parts[-1]] = value
    return out


def load_config(name: str, overrides: list[str] | None = None) -> RunConfig:
    """Read, override and validate a run config."""
    return config_from_dict(apply_overrides(read_config_file(name), overrides or []))
