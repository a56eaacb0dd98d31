"""The RFG's exported ONNX graphs, cached on disk, so the onnxruntime path starts without torch.

Exporting the graphs from torch took seconds at every start (the torch import alone 2-5 s on the
2-core machine, issue 16). An entry is keyed by the weights file's sha256, the opset and sampler, the
graphs' input names (weights with the mesh warp's revealed mask have one more), the versions of torch
(the exporter) and onnxruntime, and a hash of the code that defines the graphs; a change to any of
them is a new entry. Files are written atomically, the manifest last, and each graph is
checked against the manifest's sha256 on reading: a damaged or partial entry is exported again, never
fatal. Folder: ``$REENACT_CACHE_DIR``, else ``$XDG_CACHE_HOME/reenact`` or ``~/.cache/reenact``; ``onnx/``
inside it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable
from functools import cache
from importlib import metadata
from pathlib import Path

from export.atomic import atomic_write_bytes, atomic_write_text, sha256_bytes, sha256_file
from streamer.errors import InputError

log = logging.getLogger(__name__)

#: ``streamer.models.rfg.RFG_FORMAT``, repeated here so the header check does not import torch
#: (a test keeps the two equal).
RFG_FORMAT = "rfg-v1"
_CODE = Path(__file__).resolve().parents[1]
#: The code whose change changes the exported graphs.
_GRAPH_CODE = ("models/rfg.py", "models/sampling.py", "reenactors/rfg.py")


def cache_root() -> Path:
    """The user cache folder of reenact (not created here)."""
    base = os.environ.get("REENACT_CACHE_DIR")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "reenact"


def rfg_header(path: Path) -> dict:
    """The RFG weights file's metadata (``config`` parsed), read from the safetensors header only
    (no tensors, no torch); ``InputError`` for a file that is not RFG weights."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = dict(f.metadata() or {})
        if meta.get("format") != RFG_FORMAT:
            raise ValueError(f"not an RFG weights file (format {meta.get('format')!r}, expected {RFG_FORMAT!r})")
        meta["config"] = json.loads(meta["config"])
        if not isinstance(meta["config"], dict):
            raise ValueError("its config is not a JSON object")
    except Exception as exc:  # safetensors raises several types for a corrupt file
        raise InputError(f"cannot load RFG weights {path}: {exc}") from None
    return meta


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


@cache
def _code_hash() -> str:
    digest = hashlib.sha256()
    for name in _GRAPH_CODE:
        digest.update((_CODE / name).read_bytes())
    return digest.hexdigest()[:12]


def entry_key(weights: Path, opset: int, sampler: str, layout: str = "") -> str:
    """The cache entry's name for these weights, export settings, graph inputs (``layout``: any text
    naming them) and library/code versions."""
    parts = [
        sha256_file(weights)[:20],
        f"opset{opset}",
        sampler,
        f"io{hashlib.sha256(layout.encode()).hexdigest()[:8]}",
        f"torch{_version('torch')}",
        f"ort{_version('onnxruntime')}",
        f"code{_code_hash()}",
    ]
    return "-".join(parts).replace("+", "_")


def _read_entry(folder: Path, names: Iterable[str]) -> dict[str, bytes] | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
        graphs = {}
        for name in names:
            data = (folder / f"{name}.onnx").read_bytes()
            if sha256_bytes(data) != manifest[name]:
                raise ValueError(f"{name}.onnx does not match its manifest")
            graphs[name] = data
        return graphs
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("the ONNX cache entry %s is damaged (%s); exporting the graphs again", folder, exc)
        return None


def _write_entry(folder: Path, graphs: dict[str, bytes]) -> None:
    for name, data in graphs.items():
        atomic_write_bytes(folder / f"{name}.onnx", data)
    manifest = {name: sha256_bytes(data) for name, data in graphs.items()}
    atomic_write_text(folder / "manifest.json", json.dumps(manifest, indent=1))  # last: marks the entry whole


def cached_graphs(
    weights: Path,
    names: Iterable[str],
    export: Callable[[], dict[str, bytes]],
    opset: int,
    sampler: str,
    layout: str = "",
) -> tuple[dict[str, bytes], bool]:
    """The graphs ``names`` for ``weights``: from the cache, else ``export()`` and stored (a cache that
    cannot be written only costs the next start its speed). Returns (graphs, whether they came from the cache)."""
    names = list(names)
    folder = cache_root() / "onnx" / entry_key(weights, opset, sampler, layout)
    graphs = _read_entry(folder, names)
    if graphs is not None:
        return graphs, True
    graphs = export()
    try:
        _write_entry(folder, graphs)
    except OSError as exc:
        log.warning("cannot write the ONNX cache %s (%s); the next start exports again", folder, exc)
    return graphs, False


def forget(weights: Path, opset: int, sampler: str, layout: str = "") -> None:
    """Remove the entry for ``weights`` (its graphs did not load: rebuilt on the next call)."""
    folder = cache_root() / "onnx" / entry_key(weights, opset, sampler, layout)
    (folder / "manifest.json").unlink(missing_ok=True)
