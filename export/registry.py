"""The networks that ``reenact export`` writes, one :class:`ExportableNetwork` entry each.

An entry names the network, the path it runs on (``per_source``: once per source photo;
``per_frame``: every driver frame), its inputs and outputs with static per-sample shapes (crops are
256x256), whether a dynamic batch axis makes sense, how to build the module (with or without
weights), and how to make random and real example inputs. A new network (RFG, ...) is one more
entry in :data:`NETWORKS`; nothing else in ``export`` or ``streamer.backends`` changes.

A weights file can change an entry's inputs: RFG weights whose config has ``revealed_input`` give
``rfg_global`` an 8th input, ``revealed``. ``get_network(name, weights)`` (and
``ExportableNetwork.for_weights``) returns the entry that fits the file in a weights folder;
``rfg_network(name, revealed)`` the entry for networks already loaded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
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
    #: weights folder -> the entry whose inputs fit the weights file there (None: the file never changes them)
    fit: Callable[[Path], ExportableNetwork] | None = None
    #: "" for the registered entry; else what differs (e.g. "revealed"): caches shared by weights files keep
    #: a variant's files apart
    variant: str = ""

    def for_weights(self, weights: Path | None) -> ExportableNetwork:
        """This entry as the weights file in the folder ``weights`` needs it (itself without a folder)."""
        return self.fit(Path(weights)) if weights is not None and self.fit is not None else self


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
def astronaut_face_crop() -> tuple[np.ndarray, np.ndarray]:
    """The bundled photo's alignment crop (BGR, 256) and its landmarks in crop pixels (68, 3)."""
    from streamer.alignment import crop_image, crop_transform
    from streamer.detectors import create_detector

    det = create_detector("mediapipe", "image", max_faces=1)
    try:
        faces = det.detect(astronaut_bgr())
    finally:
        det.close()
    if not faces:
        raise RuntimeError("no face found in the bundled astronaut photo")
    affine = crop_transform(faces[0], CROP)
    return crop_image(astronaut_bgr(), affine, CROP), faces[0].transformed(affine).points


def astronaut_idsg_points() -> np.ndarray:
    """(204,) the astronaut's landmarks in IDSG units (its alignment crop, normalised)."""
    from streamer.models.idsg import normalise_crop_points

    return normalise_crop_points(astronaut_face_crop()[1], CROP).reshape(-1)


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
    """``IDSGGenerator.retarget(driver, identity)``: the per-frame half of the IDSG (``IDSGRetargeter``'s call)."""
    import torch

    gen = _idsg_generator(weights)

    class Retarget(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gen = gen

        def forward(self, driver: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
            return self.gen.retarget(driver, identity)

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


# ---- RFG (streamer.models.rfg): one entry per deployed graph ------------------------------------------
def _rfg_networks(weights: Path | None, revealed: bool = False):
    """The trained RFG from ``weights/rfg.safetensors``; random init (seed 0; with ``revealed``: a config
    with ``revealed_input``) when ``weights`` is None."""
    import torch

    from streamer.models.rfg import build_networks, load_networks
    from streamer.models.rfg_config import RFGConfig

    if weights is None:
        torch.manual_seed(0)
        return build_networks(RFGConfig(revealed_input=revealed))
    path = weights / "rfg.safetensors"
    if not path.is_file():
        raise MissingWeights(f"RFG weights not found: {path}")
    return load_networks(path)


def _rfg_part(name: str, revealed: bool = False) -> Callable[[Path | None], object]:
    def build(weights: Path | None):
        return _rfg_networks(weights, revealed).parts()[name]

    return build


def rfg_file_revealed(weights: Path) -> bool:
    """Whether ``weights/rfg.safetensors`` takes the mesh warp's revealed mask (its header only, no
    torch); False without such a file."""
    from streamer.reenactors.onnx_cache import rfg_header

    path = Path(weights) / "rfg.safetensors"
    return path.is_file() and bool(rfg_header(path)["config"].get("revealed_input", False))


@functools.lru_cache(maxsize=1)
def _rfg_sizes() -> tuple[int, int, int, int]:
    """(feature channels, feature grid, AdaIN length of G, AdaIN length of C) of the default config, from
    the config alone: this registry is imported on every start (``select_backend``), and building the
    networks imported torch there (issue 16's fast start)."""
    from streamer.models.rfg_config import RFGConfig

    cfg = RFGConfig()
    return cfg.feat_channels, cfg.grid, cfg.decoder_adain_size, 4 * cfg.calib_channels


@functools.lru_cache(maxsize=2)
def _rfg_real_arrays(mesh: bool = False) -> dict[str, np.ndarray]:
    """The astronaut's crop, a geometric warp of it (mouth opened, head moved) and its inputs. ``mesh``:
    the 3D mesh warp with the head also turned 15 degrees, plus its ``revealed`` mask (zeros, on the
    planar warp, if MediaPipe finds no face mesh in the crop)."""
    from streamer.landmarks import FaceLandmarks
    from streamer.models.rfg_inputs import image_to_input, landmark_input, pixel_map, revealed_input
    from streamer.models.rfg_mouth import mouth_input
    from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor

    crop, pts = astronaut_face_crop()
    src = FaceLandmarks(pts.astype(np.float32))
    moved = pts.astype(np.float64)
    moved[57:60, 1] += 6.0
    moved[6:11, 1] += 6.0
    moved[:, 0] += 4.0
    if mesh:  # a turn about the vertical axis through the face centre shows what the photo hides
        from streamer.geometry import rotation_matrix

        centre = moved.mean(axis=0)
        moved = centre + (moved - centre) @ rotation_matrix(-15.0, 0.0, 0.0).T
    tgt = FaceLandmarks(moved.astype(np.float32))
    geo = GeometricReenactor(GeometricConfig(warp="mesh" if mesh else "planar"))
    state = geo.prepare(crop, src)
    base, mx, my, warp = geo.render_warp(state, tgt)
    revealed = np.zeros((1, CROP, CROP), np.float32)
    if warp is not None:
        revealed = revealed_input(warp.revealed, warp.covered)
    arrays = {
        "source": image_to_input(crop),
        "base": image_to_input(base),
        "pixel_map": pixel_map(mx, my),
        "lm_src": landmark_input(src.points, CROP),
        "lm_tgt": landmark_input(tgt.points, CROP),
        "mouth": mouth_input(tgt.points, CROP),
    }
    return {**arrays, "revealed": revealed} if mesh else arrays


def _rfg_random(name: str) -> Callable[[np.random.Generator, int], dict[str, np.ndarray]]:
    def make(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        c, g, a_g, a_c = _rfg_sizes()
        img = lambda: rng.uniform(-1, 1, (batch, 3, CROP, CROP)).astype(np.float32)  # noqa: E731
        lm = lambda: (rng.uniform(0, 1, (batch, 1, g, g)) > 0.97).astype(np.float32)  # noqa: E731
        if name == "rfg_source":
            return {"source": img()}
        if name == "rfg_global":
            warp = _warp_random(rng, batch)["pixel_map"]
            return {
                "feats": rng.normal(0, 1, (batch, c, g, g)).astype(np.float32),
                "adain": rng.normal(0, 0.1, (batch, a_g)).astype(np.float32),
                "base": img(),
                "pixel_map": warp,
                "lm_src": lm(),
                "lm_tgt": lm(),
                "mouth": rng.uniform(0, 1, (batch, 1, CROP, CROP)).astype(np.float32),
            }
        if name == "rfg_local":
            return {"prev": img(), "lm_prev": lm(), "lm_tgt": lm()}
        return {"y_g": img(), "y_l": img(), "params": rng.normal(0, 0.1, (batch, a_c)).astype(np.float32)}

    return make


def _rfg_real(name: str) -> Callable[[int], dict[str, np.ndarray]]:
    def make(batch: int) -> dict[str, np.ndarray]:
        import torch

        r = _rfg_real_arrays()
        if name == "rfg_source":
            return {"source": _repeat(r["source"], batch)}
        if name == "rfg_local":
            return {
                "prev": _repeat(r["base"], batch),
                "lm_prev": _repeat(r["lm_src"], batch),
                "lm_tgt": _repeat(r["lm_tgt"], batch),
            }
        part = _rfg_networks(None).parts()["rfg_source"]
        with torch.no_grad():
            feats, adain_g, calib = (t.numpy()[0] for t in part(torch.from_numpy(r["source"])[None]))
        if name == "rfg_global":
            return {
                "feats": _repeat(feats, batch),
                "adain": _repeat(adain_g, batch),
                "base": _repeat(r["base"], batch),
                "pixel_map": _repeat(r["pixel_map"], batch),
                "lm_src": _repeat(r["lm_src"], batch),
                "lm_tgt": _repeat(r["lm_tgt"], batch),
                "mouth": _repeat(r["mouth"], batch),
            }
        return {"y_g": _repeat(r["base"], batch), "y_l": _repeat(r["source"], batch), "params": _repeat(calib, batch)}

    return make


def _random_revealed(rng: np.random.Generator, batch: int) -> np.ndarray:
    """(batch, 1, CROP, CROP) 0/1 masks: a random band at one side of the crop, as a turn reveals."""
    out = np.zeros((batch, 1, CROP, CROP), np.float32)
    for i in range(batch):
        width = int(rng.integers(8, CROP // 4))
        if rng.uniform() < 0.5:
            out[i, 0, :, :width] = 1.0
        else:
            out[i, 0, :, CROP - width :] = 1.0
    return out


REVEALED_SPEC = TensorSpec(
    "revealed", (1, CROP, CROP), "mesh warp's revealed mask, [0, 1]: what the photo cannot show (revealed_input)"
)


@functools.cache
def rfg_network(name: str, revealed: bool = False) -> ExportableNetwork:
    """The registered RFG entry ``name``; ``revealed``: as weights with ``RFGConfig.revealed_input`` need it
    (``rfg_global`` gains the ``revealed`` input, drawn from the mesh warp in its real example)."""
    net = get_network(name)
    if not revealed or name != "rfg_global":
        return net

    def random_inputs(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
        return {**net.random_inputs(rng, batch), "revealed": _random_revealed(rng, batch)}

    def real_inputs(batch: int) -> dict[str, np.ndarray]:
        planar = net.real_inputs(batch)  # feats and adain of the same source crop
        r = _rfg_real_arrays(mesh=True)
        frame = {k: _repeat(r[k], batch) for k in ("base", "pixel_map", "lm_tgt", "mouth", "revealed")}
        return {**planar, **frame}

    return replace(
        net,
        inputs=(*net.inputs, REVEALED_SPEC),
        build=_rfg_part(name, revealed=True),
        random_inputs=random_inputs,
        real_inputs=real_inputs,
        variant="revealed",
        doc=net.doc + ", with the mesh warp's revealed mask",
    )


def _rfg_fit(name: str) -> Callable[[Path], ExportableNetwork]:
    def fit(weights: Path) -> ExportableNetwork:
        return rfg_network(name, rfg_file_revealed(weights))

    return fit


def _register_rfg() -> None:
    c, g, a_g, a_c = _rfg_sizes()
    img = lambda name, doc: TensorSpec(name, (3, CROP, CROP), doc)  # noqa: E731
    lm = lambda name, doc: TensorSpec(name, (1, g, g), doc)  # noqa: E731
    entries = {
        "rfg_source": (
            "per_source",
            (img("source", "source crop, planar BGR, [-1, 1]"),),
            (
                TensorSpec("feats", (c, g, g), "source features"),
                TensorSpec("adain_g", (a_g,), "AdaIN of G"),
                TensorSpec("calib", (a_c,), "AdaIN of C"),
            ),
            (),
            "RFG style + feature encoders (once per source)",
        ),
        "rfg_global": (
            "per_frame",
            (
                TensorSpec("feats", (c, g, g), "from rfg_source"),
                TensorSpec("adain", (a_g,), "adain_g from rfg_source"),
                img("base", "geometric warp of the source, [-1, 1]"),
                TensorSpec("pixel_map", (CROP, CROP, 2), "the warp's source pixel (x, y)"),
                lm("lm_src", "source landmark map"),
                lm("lm_tgt", "target landmark map"),
                TensorSpec("mouth", (1, CROP, CROP), "target's open mouth, [0, 1] (the mouth guard)"),
            ),
            (img("output", "y_G, [-1, 1]"),),
            ("pixel_map",),
            "RFG global integrator (every frame)",
        ),
        "rfg_local": (
            "per_frame",
            (
                img("prev", "previous output, [-1, 1]"),
                lm("lm_prev", "previous target map"),
                lm("lm_tgt", "target landmark map"),
            ),
            (img("output", "y_L, [-1, 1]"),),
            (),
            "RFG local integrator (every frame, global-local)",
        ),
        "rfg_calibration": (
            "per_frame",
            (
                img("y_g", "global output"),
                img("y_l", "local output"),
                TensorSpec("params", (a_c,), "calib from rfg_source"),
            ),
            (img("output", "calibrated output, [-1, 1]"),),
            (),
            "RFG calibration net (every frame)",
        ),
    }
    for name, (path, inputs, outputs, fp32, doc) in entries.items():
        register(
            ExportableNetwork(
                name=name,
                path=path,
                inputs=inputs,
                outputs=outputs,
                build=_rfg_part(name),
                random_inputs=_rfg_random(name),
                real_inputs=_rfg_real(name),
                weights_file="rfg.safetensors",
                cpu_backend="onnxruntime",
                fp32_inputs=fp32,
                doc=doc,
                fit=_rfg_fit(name),
            )
        )


_register_rfg()


def get_network(name: str, weights: Path | None = None) -> ExportableNetwork:
    """The registered network ``name`` (``KeyError`` lists the known names); with a ``weights`` folder,
    the entry that fits its weights file (``ExportableNetwork.for_weights``)."""
    try:
        net = NETWORKS[name]
    except KeyError:
        raise KeyError(f"unknown network {name!r}; registered: {', '.join(NETWORKS)}") from None
    return net.for_weights(weights)
