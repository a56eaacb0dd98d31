"""What can run here: CUDA through torch, onnxruntime's providers, TensorRT, pycuda, nvcc, GPUs.

Cheap and side-effect free: packages are looked up with ``importlib.util.find_spec`` (tensorrt and
pycuda are never imported), CUDA is asked through torch, GPUs through ``nvidia-smi``.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Facts:
    """The runtime facts backend selection depends on (inject them in tests)."""

    torch_cuda: bool = False  #: torch is a CUDA build and sees a device
    torch_cuda_reason: str = ""
    ort_providers: tuple[str, ...] = ("CPUExecutionProvider",)
    tensorrt: bool = False  #: the tensorrt package is installed
    torch_tensorrt: bool = False  #: the torch-tensorrt package is installed
    pycuda: bool = False
    nvcc: str | None = None  #: path of nvcc
    gpus: tuple[str, ...] = field(default_factory=tuple)  #: nvidia-smi names

    @property
    def tensorrt_usable(self) -> bool:
        """TensorRT engines need the package and a CUDA device (our runner uses torch.cuda buffers)."""
        return self.tensorrt and self.torch_cuda


def torch_cuda() -> tuple[bool, str]:
    """(available, device name or reason)."""
    if importlib.util.find_spec("torch") is None:
        return False, "torch is not installed"
    import torch

    if torch.version.cuda is None:
        return False, f"torch {torch.__version__} is a CPU-only build"
    if not torch.cuda.is_available():
        return False, "torch sees no CUDA device"
    return True, torch.cuda.get_device_name(0)


def ort_providers() -> tuple[str, ...]:
    """onnxruntime's available execution providers (empty when onnxruntime is missing)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return ()
    import onnxruntime

    return tuple(onnxruntime.get_available_providers())


def nvidia_smi_gpus() -> tuple[str, ...]:
    """GPU names from ``nvidia-smi`` (no CUDA library is loaded)."""
    if shutil.which("nvidia-smi") is None:
        return ()
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(line.strip() for line in out.stdout.splitlines() if line.strip())


def find_nvcc() -> str | None:
    """nvcc on PATH or in the usual CUDA folders."""
    from kernels.nvcc_check import find_nvcc as kernels_find_nvcc

    found = kernels_find_nvcc()
    return str(found) if found else None


def _nvidia_driver_loaded() -> bool:
    return Path("/proc/driver/nvidia/version").exists() or any(Path("/dev").glob("nvidia[0-9]*"))


def probe() -> Facts:
    """The facts of this machine."""
    gpus = nvidia_smi_gpus()
    if gpus or _nvidia_driver_loaded():
        cuda, reason = torch_cuda()
    else:  # no NVIDIA driver: torch cannot see CUDA, and asking imports it (2-5 s of every CPU start, issue 16)
        cuda, reason = False, "no NVIDIA driver or GPU here"
    return Facts(
        torch_cuda=cuda,
        torch_cuda_reason=reason,
        ort_providers=ort_providers(),
        tensorrt=importlib.util.find_spec("tensorrt") is not None,
        torch_tensorrt=importlib.util.find_spec("torch_tensorrt") is not None,
        pycuda=importlib.util.find_spec("pycuda") is not None,
        nvcc=find_nvcc(),
        gpus=gpus,
    )
