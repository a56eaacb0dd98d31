"""The networks that ``reenact export`` writes, one :class:`ExportableNetwork` entry each.

An entry names the network, the path it runs on (``per_source``: once per source photo;
``per_frame``: every driver frame), its inputs and outputs with static per-sample shapes (crops are
256x256), whether a dynamic batch axis makes sense, how to build the module (with or without
weights), and how to make random and real example inputs. A new network (RFG, ...) is one more
entry in :data:`NETWORKS`; nothing else in ``export`` or ``streamer.backends`` changes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from streamer.backends.runner import TensorSpec

Path_ = Literal["per_source", "per_frame"]
CROP = 256  #: the static crop size every image network is exported at
DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "streamer" / "models" / "weights"


class MissingWeights(FileNotFoundError):
    """A network needs trained weights that are not in the weights folder."""


@dataclass(frozen=True)
class ExportableNetwork:
    """Everything the exporter, the engine builder and the runners need to know about one network."""

    name: str  #: file stem of the ONNX / engine files
    path: Path_  #: per_source (once per source) or per_frame (every frame)
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    build: Callable[[Path | None], object]  #: weights folder (None: random init) -> torch module
    random_inputs: Callable[[np.random.Generator, int], dict[str, np.ndarray]]  #: (rng, batch) -> feeds
    real_inputs: Callable[[int], dict[str, np.ndarray]]  #: batch -> feeds from the bundled photo
    weights_file: str | None = None  #: file in the weights folder; None: the network has no weights
    dynamic_batch: bool = True  #: whether a dynamic batch axis may be exported
    max_batch: int = 8  #: largest batch of the TensorRT optimisation profile when the batch is dynamic
    cpu_backend: str = "onnxruntime"  #: fastest CPU runner, as measured in benchmarks/BACKENDS.md
    #: inputs that stay float32 in fp16 exports, with every node computing from them up to the first
    #: sampling op: sample coordinates need more than fp16's 11 bits (0.125 px steps past 128 px).
    fp32_inputs: tuple[str, ...] = ()
    doc: str = ""


# ---- inputs ----------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def astronaut_bgr() -> np.ndarray:
    """The bundled public-domain photo (BGR uint8)."""
    from streamer.examples import example_source_path
    from streamer.media.images import load_image

    return load_image(example_source_path())


def _repeat(x: np.ndarray, batch: int) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(x[None], batch, axis=0), np.float32)


def _warp_random(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    """Smooth random images (values 0..255) and maps reaching past every border (edge replication)."""
    images, maps = [], []
    ys, xs = np.mgrid[0:CROP, 0:CROP].astype(np.float32)
    for _ in range(batch):
        noise = rng.uniform(0, 255, (CROP, CROP, 3)).astype(np.float32)
        images.append(cv2.GaussianBlur(noise, (0, 0), 2.0).transpose(2, 0, 1))
        a, b, c, d = rng.uniform(-1, 1, 4)
        mx = xs * (1.0 + 0.1 * a) + 12 * b + 6 * np.sin(ys / (9 + 3 * c)) - 6
        my = ys * (1.0 + 0.1 * c) + 12 * d + 6 * np.cos(xs / (11 + 3 * a)) - 6
        maps.append(np.stack([mx, my], axis=-1))
    return {"image": np.ascontiguousarray(images, np.float32), "pixel_map": np.ascontiguousarray(maps, np.float32)}


def _warp_real(batch: int) -> dict[str, np.ndarray]:
    """The astronaut (centre square, 256x256) warped by a 6 degree rotation and 5 % zoom."""
    img = astronaut_bgr()
    side = min(img.shape[:2])
    y0, x0 = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
    crop = cv2.resize(img[y0 : y0 + side, x0 : x0 + side], (CROP, CROP), interpolation=cv2.INTER_AREA)
    m = cv2.getRotationMatrix2D(((CROP - 1) / 2, (CROP - 1) / 2), 6.0, 1.05)
    ys, xs = np.mgrid[0:CROP, 0:CROP].astype(np.float64)
    mx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    my = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    image = crop.transpose(2, 0, 1).astype(np.float32)
    return {"image": _repeat(image, batch), "pixel_map": _repeat(np.stack([mx, my], axis=-1), batch)}


@functools.lru_cache(maxsize=1)
def astronaut_idsg_points() -> np.ndarray:
    """(204,) the astronaut's landmarks in IDSG units (its alignment crop, normalised)."""
    from streamer.alignment import crop_transform
    from streamer.detectors import create_detector
    from streamer.models.idsg import normalise_crop_points

    det = create_detector("mediapipe", "image", max_faces=1)
    try:
        faces = det.detect(astronaut_bgr())
    finally:
        det.close()
    if not faces:
        raise RuntimeError("no face found in the bundled astronaut photo")
    face = faces[0]
    return normalise_crop_points(face.transformed(crop_transform(face, CROP)).points, CROP).reshape(-1)


def _idsg_random_points(rng: np.random.Generator, batch: int) -> np.ndarray:
    return rng.normal(0.0, 0.15, (batch, 204)).astype(np.float32)


def _identity_random(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {"source_shape": _idsg_random_points(rng, batch)}


def _identity_real(batch: int) -> dict[str, np.ndarray]:
    from streamer.models.idsg import identity_shape

    shape = identity_shape(astronaut_idsg_points().reshape(68, 3)).reshape(-1)
    return {"source_shape": _repeat(shape, batch)}


def _retarget_random(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {"driver": _idsg_random_points(rng, batch), "identity": rng.normal(0, 1, (batch, 32)).astype(np.float32)}


def _retarget_real(batch: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"driver": _repeat(astronaut_idsg_points(), batch), "identity": _repeat(rng.normal(0, 1, 32), batch)}


# ---- modules ---------------------------------------------------------------------------------------
def _pixel_warp(_weights: Path | None):
    from streamer.models.pixel_warp import PixelMapWarp

    return PixelMapWarp().eval()


def _idsg_generator(weights: Path | None):
    """The trained IDSG from ``weights/idsg.safetensors``; random init (seed 0) when ``weights`` is None."""
    import torch

    from streamer.models.idsg import IDSGConfig, IDSGGenerator

    if weights is None:
        torch.manual_seed(0)
        return IDSGGenerator(IDSGConfig()).eval()
    path = weights / "idsg.safetensors"
    if not path.is_file():
        raise MissingWeights(f"IDSG weights not found: {path}")
    from streamer.retarget_idsg import load_idsg

    return load_idsg(path)[0]


def _idsg_identity(weights: Path | None):
    return _idsg_generator(weights).identity


def _idsg_retarget(weights: Path | None):
    """decoder(encoder(driver), identity): the per-frame half of the IDSG (``IDSGRetargeter``'s call)."""
    import torch

    gen = _idsg_generator(weights)

    class Retarget(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.decoder = gen.encoder, gen.decoder

        def forward(self, driver: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
            return self.decoder(self.encoder(driver), identity)

    return Retarget().eval()


NETWORKS: dict[str, ExportableNetwork] = {}


def register(net: ExportableNetwork) -> ExportableNetwork:
    """Add ``net`` to :data:`NETWORKS` (names are unique)."""
    if net.name in NETWORKS:
        raise ValueError(f"network {net.name!r} is already registered")
    NETWORKS[net.name] = net
    return net


register(
    ExportableNetwork(
        name="pixel_warp",
        path="per_frame",
        inputs=(
            TensorSpec("image", (3, CROP, CROP), "source crop, planar BGR, 0..255"),
            TensorSpec("pixel_map", (CROP, CROP, 2), "source pixel (x, y) per output pixel"),
        ),
        outputs=(TensorSpec("warped", (3, CROP, CROP), "resampled crop, planar BGR, 0..255"),),
        build=_pixel_warp,
        random_inputs=_warp_random,
        real_inputs=_warp_real,
        fp32_inputs=("pixel_map",),
        cpu_backend="opencv",  # cv2.remap beats both runners on a CPU (benchmarks/BACKENDS.md)
        doc="the geometric reenactor's per-frame resample (PixelMapWarp)",
    )
)
register(
    ExportableNetwork(
        name="idsg_identity",
        path="per_source",
        inputs=(TensorSpec("source_shape", (204,), "pose-free source shape (68 x 3, flattened)"),),
        outputs=(TensorSpec("identity", (32,), "identity code r_s"),),
        build=_idsg_identity,
        random_inputs=_identity_random,
        real_inputs=_identity_real,
        weights_file="idsg.safetensors",
        cpu_backend="onnxruntime",
        doc="IDSG identity encoder (once per source)",
    )
)
register(
    ExportableNetwork(
        name="idsg_retarget",
        path="per_frame",
        inputs=(
            TensorSpec("driver", (204,), "driver landmarks in IDSG units (68 x 3, flattened)"),
            TensorSpec("identity", (32,), "identity code from idsg_identity"),
        ),
        outputs=(TensorSpec("target", (204,), "target landmarks in IDSG units"),),
        build=_idsg_retarget,
        random_inputs=_retarget_random,
        real_inputs=_retarget_real,
        weights_file="idsg.safetensors",
        cpu_backend="onnxruntime",
        doc="IDSG action encoder + landmark decoder (every frame)",
    )
)


def get_network(name: str) -> ExportableNetwork:
    """The registered network ``name`` (``KeyError`` lists the known names)."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise KeyError(f"unknown network {name!r}; registered: {', '.join(NETWORKS)}") from None
