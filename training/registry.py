"""Trainers by name: each gives its model/loss config types and a task factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streamer.errors import InputError


@dataclass(frozen=True)
class TrainerSpec:
    """How to build one trainer."""

    model_config: type
    loss_config: type
    build: Callable  # (RunConfig, LandmarkDataset, device) -> Task


def get_trainer(name: str) -> TrainerSpec:
    """The trainer called ``name``."""
    if name == "idsg":
        from streamer.models.idsg import IDSGConfig
        from training.idsg.losses import IDSGLossConfig
        from training.idsg.task import IDSGTask

        return TrainerSpec(IDSGConfig, IDSGLossConfig, IDSGTask)
    if name == "rfg":
        from streamer.models.rfg import RFGConfig
        from training.rfg.losses import RFGLossConfig
        from training.rfg.task import RFGTask

        return TrainerSpec(RFGConfig, RFGLossConfig, RFGTask)
    raise InputError(f"unknown trainer {name!r}; known: idsg, rfg")
