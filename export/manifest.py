"""The export manifest: which models were written, their shapes, hashes, precision and check results."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from export.atomic import atomic_write_text

MANIFEST_NAME = "manifest.json"
FORMAT = "reenact-export-v1"


@dataclass(frozen=True)
class ModelEntry:
    """One exported ONNX file."""

    name: str
    path: str  #: per_source / per_frame
    file: str  #: relative to the manifest's folder
    sha256: str
    bytes: int
    precision: str
    opset: int
    dynamic_batch: bool
    inputs: dict[str, list]  #: name -> shape ("batch" for a dynamic axis)
    outputs: dict[str, list]
    ops: list[str]
    weights: str  #: weights file used, "random" (random init) or "none" (network has no weights)
    simplified: str  #: how it was simplified ("" when not)
    checks: list[dict] = field(default_factory=list)  #: export.validate.Check as dicts
    tensorrt_issues: list[dict] = field(default_factory=list)  #: export.trt_ops.OpIssue as dicts
    sampler: str = "grid_sample"  #: bilinear resampling as GridSample or gathers (streamer.models.sampling)


@dataclass(frozen=True)
class Manifest:
    """Everything one ``reenact export`` run wrote."""

    precision: str
    opset: int
    dynamic_batch: bool
    versions: dict[str, str]
    models: list[ModelEntry]
    skipped: dict[str, str]  #: network -> why it was not exported
    format: str = FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    def write(self, folder: str | Path) -> Path:
        """Atomically write ``folder/manifest.json``."""
        return atomic_write_text(Path(folder) / MANIFEST_NAME, self.to_json())

    def model(self, name: str) -> ModelEntry:
        return next(m for m in self.models if m.name == name)


def read_manifest(folder: str | Path) -> Manifest:
    """Load ``folder/manifest.json`` (``ValueError`` for another format)."""
    data = json.loads((Path(folder) / MANIFEST_NAME).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{folder}/{MANIFEST_NAME} is not a {FORMAT} manifest")
    data["models"] = [ModelEntry(**m) for m in data["models"]]
    return Manifest(**data)
