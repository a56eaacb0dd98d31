"""Frame layouts shared by the kernels, their CPU twins and the references.

A frame is one of: NV12 (Y plane + interleaved UV plane), I420 (Y, U, V planes), or packed 8-bit
BGR / RGB. Chroma planes of 4:2:0 frames are ceil(h/2) x ceil(w/2) samples. Planes may have padded
rows (a pitch larger than the row); columns must be contiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Format = Literal["nv12", "i420", "bgr", "rgb"]
Matrix = Literal["bt601", "bt709"]

#: Codes shared with kernels/cuda/common.cuh (kFormat*, kMatrix*).
FORMAT_CODES: dict[str, int] = {"nv12": 0, "i420": 1, "bgr": 2, "rgb": 3}
MATRIX_CODES: dict[str, int] = {"bt601": 0, "bt709": 1}


@dataclass(frozen=True)
class Colour:
    """A YUV colour space: matrix (BT.601 / BT.709) and range (full 0-255 or limited 16-235/240)."""

    matrix: Matrix = "bt601"
    full_range: bool = False

    def codes(self) -> tuple[int, int]:
        """(matrix code, full_range flag) as the kernels take them."""
        if self.matrix not in MATRIX_CODES:
            raise ValueError(f"unknown YUV matrix {self.matrix!r}; use one of {sorted(MATRIX_CODES)}")
        return MATRIX_CODES[self.matrix], int(self.full_range)


#: The default colour space: what ``cv2.cvtColor``'s YUV 4:2:0 conversions assume.
BT601_LIMITED = Colour("bt601", False)


@dataclass(frozen=True)
class TensorLayout:
    """How 8-bit pixels map to an engine's planar NCHW tensor: plane order, value = u8 * scale + bias.

    The way back (paste, denormalize) is u8 = floor((x + offset) * gain + 0.5) with offset = -bias and
    gain = 1 / scale, each step in float32.
    """

    order: Literal["rgb", "bgr"] = "rgb"
    scale: float = 2.0 / 255.0
    bias: float = -1.0

    def __post_init__(self) -> None:
        if self.order not in ("rgb", "bgr"):
            raise ValueError(f"tensor planes are rgb or bgr, not {self.order!r}")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")

    def forward(self) -> tuple[int, float, float]:
        """(order code, scale, bias): the preprocess kernel's layout arguments."""
        return FORMAT_CODES[self.order], float(np.float32(self.scale)), float(np.float32(self.bias))

    def inverse(self) -> tuple[int, float, float]:
        """(order code, offset, gain): the post-processing kernels' layout arguments."""
        offset, gain = -self.bias, 1.0 / self.scale
        return FORMAT_CODES[self.order], float(np.float32(offset)), float(np.float32(gain))


#: RGB planes in [-1, 1]: the default (and the common convention of face networks).
RGB_SIGNED = TensorLayout("rgb", 2.0 / 255.0, -1.0)
#: BGR planes in [-1, 1]: the RFG graphs (``streamer.models.rfg_inputs.image_to_input``).
BGR_SIGNED = TensorLayout("bgr", 2.0 / 255.0, -1.0)
#: BGR planes in 0..255: the pixel warp (``PixelMapWarp``).
BGR_PIXELS = TensorLayout("bgr", 1.0, 0.0)


def chroma_shape(height: int, width: int) -> tuple[int, int]:
    """(rows, columns) of a 4:2:0 chroma plane."""
    return (height + 1) // 2, (width + 1) // 2


@dataclass(frozen=True)
class Frame:
    """A frame held in NumPy arrays (host memory)."""

    format: Format
    planes: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if self.format not in FORMAT_CODES:
            raise ValueError(f"unknown frame format {self.format!r}")
        expected = {"nv12": 2, "i420": 3, "bgr": 1, "rgb": 1}[self.format]
        if len(self.planes) != expected:
            raise ValueError(f"{self.format} needs {expected} plane(s), got {len(self.planes)}")
        for p in self.planes:
            if p.dtype != np.uint8:
                raise ValueError(f"frame planes must be uint8, got {p.dtype}")
            if p.strides[-1] != 1 or (p.ndim == 3 and p.strides[1] != p.shape[2]):
                raise ValueError("frame plane rows must be contiguous (a padded pitch is fine)")
        h, w = self.height, self.width
        ch, cw = chroma_shape(h, w)
        if self.format == "nv12" and self.planes[1].shape != (ch, 2 * cw):
            raise ValueError(f"NV12 UV plane must be {(ch, 2 * cw)}, got {self.planes[1].shape}")
        if self.format == "i420" and any(p.shape != (ch, cw) for p in self.planes[1:]):
            raise ValueError(f"I420 chroma planes must be {(ch, cw)}")
        if self.format in ("bgr", "rgb") and (self.planes[0].ndim != 3 or self.planes[0].shape[2] != 3):
            raise ValueError(f"packed {self.format} must be (h, w, 3), got {self.planes[0].shape}")

    @property
    def height(self) -> int:
        return int(self.planes[0].shape[0])

    @property
    def width(self) -> int:
        return int(self.planes[0].shape[1])

    @property
    def pitches(self) -> tuple[int, int, int]:
        """Row pitch in bytes of each plane (0 for absent planes)."""
        strides = [int(p.strides[0]) for p in self.planes]
        return tuple(strides + [0] * (3 - len(strides)))  # type: ignore[return-value]

    @classmethod
    def packed(cls, image: np.ndarray, order: Literal["bgr", "rgb"] = "bgr") -> Frame:
        return cls(order, (image,))

    @classmethod
    def nv12(cls, y: np.ndarray, uv: np.ndarray) -> Frame:
        return cls("nv12", (y, uv))

    @classmethod
    def i420(cls, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> Frame:
        return cls("i420", (y, u, v))

    @classmethod
    def from_opencv_yuv420(cls, buffer: np.ndarray, width: int, height: int, fmt: Format) -> Frame:
        """Split OpenCV's single-buffer layout ((h * 3 / 2, w) uint8; even sizes) into planes."""
        if width % 2 or height % 2:
            raise ValueError("OpenCV's 4:2:0 buffers need an even width and height")
        flat = np.ascontiguousarray(buffer).reshape(-1)
        y = flat[: width * height].reshape(height, width)
        rest = flat[width * height :]
        if fmt == "nv12":
            return cls.nv12(y, rest.reshape(height // 2, width))
        if fmt == "i420":
            q = width * height // 4
            return cls.i420(y, rest[:q].reshape(height // 2, width // 2), rest[q:].reshape(height // 2, width // 2))
        raise ValueError(f"not a 4:2:0 format: {fmt}")

    def to_opencv_yuv420(self) -> np.ndarray:
        """OpenCV's single-buffer layout of a 4:2:0 frame (even sizes)."""
        if self.format not in ("nv12", "i420"):
            raise ValueError(f"not a 4:2:0 frame: {self.format}")
        parts = [np.ascontiguousarray(p).reshape(-1) for p in self.planes]
        return np.concatenate(parts).reshape(-1, self.width)

    def copy_with_pitch(self, pad: int) -> Frame:
        """The same pixels in planes whose rows are padded by ``pad`` bytes (a decoder-like pitch)."""
        planes = []
        for p in self.planes:
            row = p.shape[1] * (p.shape[2] if p.ndim == 3 else 1)
            big = np.full((p.shape[0], row + pad), 0xA5, np.uint8)
            big[:, :row] = p.reshape(p.shape[0], row)
            view = big[:, :row]
            planes.append(view.reshape(p.shape) if p.ndim == 3 else view)
        return Frame(self.format, tuple(planes))
