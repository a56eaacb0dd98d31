"""Build the CUDA sources as a CPU library (grid emulation, see kernels/cuda/cpu_emulation.h) and
call its kernels through ctypes with NumPy arrays.

``g++ -x c++ -DREENACT_CPU_EMULATION`` compiles the very .cu files the GPU runs, so these twins
test the kernel bodies themselves. The library is cached by a hash of the sources, the compiler
and the flags, in ``$REENACT_KERNEL_CACHE`` or the user cache folder (a temp folder if that is not
writable); nothing is written inside the package.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from kernels import host
from kernels.frames import BT601_LIMITED, RGB_SIGNED, Colour, Format, Frame, TensorLayout, chroma_shape

SOURCE_DIR = Path(__file__).resolve().parent / "cuda"
CPU_SOURCES = ("preprocess.cu", "postprocess.cu", "rasterize.cu")  # compiled as C++, plus cpu_api.cpp
CXX_FLAGS = (
    "-std=c++17",
    "-O2",
    "-fPIC",
    "-shared",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-ffp-contract=off",  # no fused multiply-add: the same rounding as the GPU's *_rn helpers
    "-DREENACT_CPU_EMULATION",
)
_ARG_TYPES = {"d": ctypes.c_double, "i": ctypes.c_int, "f": ctypes.c_float, "P": ctypes.c_void_p}


class BuildError(RuntimeError):
    """The C++ compiler rejected the sources (or no cache folder is writable)."""


class CompilerMissing(BuildError):
    """There is no C++ compiler to build the CPU library with."""


def cache_dir() -> Path:
    """A writable folder for built kernels (created on demand)."""
    candidates = []
    if os.environ.get("REENACT_KERNEL_CACHE"):
        candidates.append(Path(os.environ["REENACT_KERNEL_CACHE"]))
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidates.append(Path(base) / "reenact" / "kernels")
    candidates.append(Path(tempfile.gettempdir()) / f"reenact-kernels-{os.getuid()}")
    for path in candidates:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    raise BuildError("no writable cache folder for the kernel build (set REENACT_KERNEL_CACHE)")


def source_files() -> list[Path]:
    """Every file of kernels/cuda (what a build depends on)."""
    return sorted(p for p in SOURCE_DIR.iterdir() if p.suffix in (".cu", ".cuh", ".h", ".cpp"))


def sources_digest(extra: str = "") -> str:
    """sha256 of the sources (names and bytes) plus ``extra`` (compiler identity, flags)."""
    digest = hashlib.sha256(extra.encode())
    for path in source_files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _compiler() -> str:
    cxx = os.environ.get("CXX", "g++")
    path = shutil.which(cxx)
    if path is None:
        raise CompilerMissing(f"the CPU kernel build needs a C++17 compiler ({cxx!r} not found; set CXX)")
    return path


def build_cpu_library(force: bool = False) -> Path:
    """Compile (or reuse) the emulated library; returns the .so path."""
    cxx = _compiler()
    version = subprocess.run([cxx, "--version"], capture_output=True, text=True, check=False).stdout
    digest = sources_digest(version + " ".join(CXX_FLAGS))[:16]
    target = cache_dir() / f"libreenact_kernels_cpu-{digest}.so"
    if target.is_file() and not force:
        return target
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    cmd = [cxx, *CXX_FLAGS, f"-I{SOURCE_DIR}", "-x", "c++"]
    cmd += [str(SOURCE_DIR / s) for s in CPU_SOURCES]
    cmd += ["-x", "none", str(SOURCE_DIR / "cpu_api.cpp"), "-o", str(tmp)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BuildError(f"CPU kernel build failed:\n{' '.join(cmd)}\n{proc.stderr}")
    os.replace(tmp, target)
    return target


def _ptr(array: np.ndarray | None) -> int:
    return 0 if array is None else int(array.ctypes.data)


def _frame_pointers(frame: Frame) -> host.PlanePointers:
    ptrs = [_ptr(p) for p in frame.planes] + [0] * (3 - len(frame.planes))
    return host.PlanePointers(frame.format, frame.width, frame.height, tuple(ptrs), frame.pitches)  # type: ignore[arg-type]


def _chw(array: np.ndarray) -> np.ndarray:
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[0] != 3 or array.dtype not in (np.float32, np.float16):
        raise ValueError(f"expected a (3, h, w) float32 / float16 array, got {array.shape} {array.dtype}")
    return np.ascontiguousarray(array)


class CpuKernels:
    """The kernels run on the CPU through the grid emulation; arrays in, arrays out."""

    def __init__(self, library: Path | None = None):
        self.path = library or build_cpu_library()
        self._lib = ctypes.CDLL(str(self.path))
        self._lib.reenact_cpu_signature.restype = ctypes.c_char_p
        self._lib.reenact_cpu_signature.argtypes = [ctypes.c_char_p]
        self._lib.reenact_cpu_launch.restype = ctypes.c_int
        self._lib.reenact_cpu_launch.argtypes = [ctypes.c_char_p] + [ctypes.c_uint] * 6 + [ctypes.c_void_p]
        self._lib.reenact_cpu_colour_coefficients.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
        for name, codes in host.KERNEL_ARGS.items():
            found = self._lib.reenact_cpu_signature(name.encode())
            if found is None or found.decode() != codes:
                raise BuildError(f"{name}: the library's signature {found!r} differs from host.KERNEL_ARGS {codes!r}")

    # ---- plumbing ----------------------------------------------------------------------------------
    def launch(self, launch: host.Launch) -> None:
        """Run one launch (pointers are host addresses)."""
        codes = host.KERNEL_ARGS[launch.kernel]
        values = [_ARG_TYPES[c](v) for c, v in zip(codes, launch.args, strict=True)]
        params = (ctypes.c_void_p * len(values))(*[ctypes.cast(ctypes.pointer(v), ctypes.c_void_p) for v in values])
        rc = self._lib.reenact_cpu_launch(launch.kernel.encode(), *launch.grid, *launch.block, params)
        if rc != 0:
            raise RuntimeError(f"unknown kernel {launch.kernel}")

    def colour_coefficients(self, colour: Colour) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The Q16 (YUV->RGB, RGB->YUV) coefficients compiled into the kernels."""
        out = (ctypes.c_int * 16)()
        self._lib.reenact_cpu_colour_coefficients(*colour.codes(), out)
        return tuple(out[:6]), tuple(out[6:])

    # ---- pre-processing ----------------------------------------------------------------------------
    def preprocess(
        self,
        frame: Frame,
        affine: np.ndarray,
        size: int = 256,
        colour: Colour = BT601_LIMITED,
        dtype: type = np.float32,
        out: np.ndarray | None = None,
        layout: TensorLayout = RGB_SIGNED,
    ) -> np.ndarray:
        """(1, 3, size, size) normalised crop; writes into ``out`` (C-contiguous, 3 * size * size
        elements of ``dtype``) when given, e.g. a slot of a batch buffer."""
        half = np.dtype(dtype) == np.float16
        if out is None:
            out = np.empty((1, 3, size, size), np.float16 if half else np.float32)
        if not out.flags.c_contiguous or out.size != 3 * size * size or out.dtype != np.dtype(dtype):
            raise ValueError("out must be C-contiguous with 3 * size * size elements of dtype")
        self.launch(host.preprocess_launch(_frame_pointers(frame), affine, _ptr(out), size, half, colour, layout))
        return out

    def to_packed(self, frame: Frame, order: Format = "bgr", colour: Colour = BT601_LIMITED) -> np.ndarray:
        out = np.empty((frame.height, frame.width, 3), np.uint8)
        self.launch(host.to_packed_launch(_frame_pointers(frame), _ptr(out), out.strides[0], order, colour))
        return out

    # ---- post-processing ---------------------------------------------------------------------------
    def denormalize(self, chw: np.ndarray, order: Format = "bgr", layout: TensorLayout = RGB_SIGNED) -> np.ndarray:
        chw = _chw(chw)
        _, h, w = chw.shape
        out = np.empty((h, w, 3), np.uint8)
        half = chw.dtype == np.float16
        self.launch(host.denormalize_launch(_ptr(chw), _ptr(out), w, h, out.strides[0], order, half, layout))
        return out

    def _paste_inputs(
        self, frame: np.ndarray, crop: np.ndarray, mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        crop = _chw(crop)
        size = crop.shape[1]
        if crop.shape[2] != size or mask.shape != (size, size):
            raise ValueError(f"crop {crop.shape} and mask {mask.shape} must be square and of one size")
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8 or frame.strides[1] != 3:
            raise ValueError("frame must be (h, w, 3) uint8 with contiguous rows")
        return crop, np.ascontiguousarray(mask, np.float32), crop.dtype == np.float16

    def seam_stats(
        self,
        frame: np.ndarray,
        crop: np.ndarray,
        affine: np.ndarray,
        mask: np.ndarray,
        order: Format = "bgr",
        max_blocks: int = 8,
        layout: TensorLayout = RGB_SIGNED,
    ) -> np.ndarray:
        """int64 [frame sums (3), crop sums (3), count] over the feather band (see reference)."""
        crop, mask, half = self._paste_inputs(frame, crop, mask)
        stats = np.zeros(7, np.uint64)
        region = host.paste_region(affine, crop.shape[1], frame.shape[1], frame.shape[0])
        if region is not None:
            args = (region, _ptr(crop), _ptr(mask), _ptr(frame), _ptr(stats), crop.shape[1], frame.strides[0])
            self.launch(host.seam_stats_launch(*args, order, half, max_blocks, layout))
        return stats.view(np.int64)

    def paste(
        self,
        frame: np.ndarray,
        crop: np.ndarray,
        affine: np.ndarray,
        mask: np.ndarray,
        colour_match: bool = True,
        order: Format = "bgr",
        max_blocks: int = 8,
        layout: TensorLayout = RGB_SIGNED,
    ) -> np.ndarray:
        """A copy of ``frame`` with the crop ((3, S, S) tensor in ``layout``) pasted back (see reference.paste)."""
        crop, mask, half = self._paste_inputs(frame, crop, mask)
        size = crop.shape[1]
        out = frame.copy()
        region = host.paste_region(affine, size, out.shape[1], out.shape[0])
        if region is None:
            return out
        stats = np.zeros(7, np.uint64)
        args = (region, _ptr(crop), _ptr(mask), _ptr(out))
        if colour_match:
            stats_ptr = _ptr(stats)
            self.launch(host.seam_stats_launch(*args, stats_ptr, size, out.strides[0], order, half, max_blocks, layout))
        else:
            stats_ptr = 0
        self.launch(host.paste_launch(*args, stats_ptr, size, out.strides[0], order, half, layout))
        return out

    def to_yuv420(
        self,
        image: np.ndarray,
        fmt: Format = "nv12",
        order: Format = "bgr",
        colour: Colour = BT601_LIMITED,
        pad: int = 0,
    ) -> Frame:
        """Packed BGR / RGB -> NV12 / I420 planes (rows padded by ``pad`` bytes, like a GPU pitch)."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.strides[1] != 3:
            raise ValueError("image must be (h, w, 3) uint8 with contiguous rows")
        h, w = image.shape[:2]
        ch, cw = chroma_shape(h, w)
        if fmt == "nv12":
            frame = Frame.nv12(np.zeros((h, w), np.uint8), np.zeros((ch, 2 * cw), np.uint8))
        else:
            frame = Frame.i420(np.zeros((h, w), np.uint8), np.zeros((ch, cw), np.uint8), np.zeros((ch, cw), np.uint8))
        if pad:
            frame = frame.copy_with_pitch(pad)
        self.launch(host.to_yuv420_launch(_ptr(image), image.strides[0], order, _frame_pointers(frame), colour))
        return frame


@functools.lru_cache(maxsize=1)
def cpu_kernels() -> CpuKernels:
    """The process-wide CPU kernel library (built on first use)."""
    return CpuKernels()
