"""What the benchmark ran on: CPU, cores, GPU, library versions, and this machine's matmul peak."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import platform
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass

#: Where the bench expects the TensorRT warp runner: ``make_remap_backend(threads) -> RemapBackend``
#: (building the engine on first use when it is not cached).
TENSORRT_MODULE = "export.tensorrt"
TENSORRT_FACTORY = "make_remap_backend"
_LIBRARIES = ("reenact", "torch", "onnxruntime", "onnx", "opencv-contrib-python", "mediapipe", "av", "numpy")


@dataclass(frozen=True)
class Availability:
    """Whether an optional runtime can be used here, and if not, why."""

    available: bool
    reason: str


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, ``platform`` elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def memory_gib() -> float | None:
    """Total RAM in GiB (Linux), or None."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def cuda_availability() -> Availability:
    """CUDA through torch; imports torch lazily."""
    if importlib.util.find_spec("torch") is None:
        return Availability(False, "torch is not installed")
    import torch

    if torch.version.cuda is None:
        return Availability(False, f"torch {torch.__version__} is a CPU-only build")
    if not torch.cuda.is_available():
        return Availability(False, "no CUDA device visible (torch.cuda.is_available() is False)")
    return Availability(True, torch.cuda.get_device_name(0))


def tensorrt_availability() -> Availability:
    """TensorRT needs its Python package, a CUDA device and our engine builder (``export``); says which is missing."""
    missing = []
    if importlib.util.find_spec("tensorrt") is None:
        missing.append("the tensorrt package is not installed")
    cuda = cuda_availability()
    if not cuda.available:
        missing.append(cuda.reason)
    if _find_spec_safe(TENSORRT_MODULE) is None:
        missing.append(f"no engine builder yet ({TENSORRT_MODULE} does not exist)")
    if missing:
        return Availability(False, "; ".join(missing))
    module = importlib.import_module(TENSORRT_MODULE)
    if not hasattr(module, TENSORRT_FACTORY):
        return Availability(False, f"{TENSORRT_MODULE} has no {TENSORRT_FACTORY}(threads) yet")
    return Availability(True, "tensorrt " + importlib.metadata.version("tensorrt"))


def _find_spec_safe(name: str):
    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None


def gpu_names() -> list[str]:
    """GPU names from ``nvidia-smi`` (no import of CUDA libraries), empty when there is none."""
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries whose speed we measure."""
    versions = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def describe_machine() -> dict[str, object]:
    """The machine block of a result file."""
    return {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "logical_cpus": os.cpu_count(),
        "memory_gib": memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "gpus": gpu_names() or ["none"],
        "cuda": asdict(cuda_availability()),
        "tensorrt": asdict(tensorrt_availability()),
        "libraries": library_versions(),
    }


def matmul_peak_gflops(threads: int, size: int = 2048, repeat: int = 5, device: str = "cpu") -> float:
    """Best-of-``repeat`` GFLOP/s of a ``size``-square fp32 matmul with torch at ``threads`` threads.

    The best (not the median) run estimates the peak: other load on the machine only slows it down.
    ``device="cuda"`` measures the GPU instead (TF32 off, so it is a true fp32 peak).
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(0)
        a = torch.randn(size, size, generator=gen).to(device)
        b = torch.randn(size, size, generator=gen).to(device)
        sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
        if device.startswith("cuda"):
            torch.backends.cuda.matmul.allow_tf32 = False
        torch.matmul(a, b)  # warm-up
        sync()
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            torch.matmul(a, b)
            sync()
            best = min(best, time.perf_counter() - t0)
    finally:
        torch.set_num_threads(previous)
    return 2.0 * size**3 / best / 1e9
