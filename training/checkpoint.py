"""Checkpoints: weights in safetensors, optimiser and RNG state in a torch file read with
``weights_only=True``, and a small JSON (step, epoch, seeds, config) written last as the completion mark.

Layout: ``RUN/checkpoints/step_NNNNNNNN/{weights.safetensors, optim.pt, state.json}``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def _weights(modules: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    return {
        f"{name}.{k}": v.detach().cpu().contiguous() for name, m in modules.items() for k, v in m.state_dict().items()
    }


def save_checkpoint(
    run_dir: Path,
    step: int,
    modules: dict[str, nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    state: dict,
    keep: int = 2,
) -> Path:
    """Write a checkpoint atomically (temp folder, then rename) and prune old ones."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step_{step:08d}"
    tmp = root / f".tmp_step_{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file(_weights(modules), str(tmp / "weights.safetensors"))
    torch.save(
        {"optimizers": {k: o.state_dict() for k, o in optimizers.items()}, "torch_rng": torch.get_rng_state()},
        tmp / "optim.pt",
    )
    (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=1))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(p for p in root.glob("step_*") if p.is_dir())[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder, or None."""
    root = Path(run_dir) / "checkpoints"
    done = sorted(p for p in root.glob("step_*") if (p / "state.json").is_file()) if root.is_dir() else []
    return done[-1] if done else None


def load_weights(path: Path, modules: dict[str, nn.Module]) -> None:
    """Load ``weights.safetensors`` (or any safetensors file in the same layout) into ``modules``."""
    tensors = load_file(str(path))
    for name, module in modules.items():
        prefix = f"{name}."
        part = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        module.load_state_dict(part, strict=True)


def load_checkpoint(folder: Path, modules: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    """Restore weights, optimisers and the torch RNG; returns the JSON state."""
    folder = Path(folder)
    load_weights(folder / "weights.safetensors", modules)
    extra = torch.load(folder / "optim.pt", map_location="cpu", weights_only=True)
    for name, opt in optimizers.items():
        opt.load_state_dict(extra["optimizers"][name])
    torch.set_rng_state(extra["torch_rng"])
    return json.loads((folder / "state.json").read_text())
