"""``reenact doctor``: what this machine can run, what each missing piece would add, how to get it.

Nothing is imported that loads CUDA besides torch (tensorrt and pycuda are only looked up), and
nothing is installed or downloaded. Always exits 0; ``--json`` prints the same as one JSON object.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import importlib.util
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

MEDIAPIPE_MODELS = (
    "modules/face_landmark/face_landmark_front_cpu.binarypb",
    "modules/face_landmark/face_landmark_with_attention.tflite",
    "modules/face_detection/face_detection_full_range_cpu.binarypb",
)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@dataclass(frozen=True)
class Item:
    """One capability: present or not, the detail found, what it adds and how to install it."""

    name: str
    ok: bool
    detail: str
    adds: str
    install: str


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _gpu_items() -> list[Item]:
    from streamer.backends.probe import find_nvcc, nvidia_smi_gpus, ort_providers, torch_cuda

    gpus = nvidia_smi_gpus()
    cuda, cuda_detail = torch_cuda()
    trt = _version("tensorrt") or (_version("tensorrt-cu12") if importlib.util.find_spec("tensorrt") else None)
    providers = ort_providers()
    gpu_eps = [p for p in providers if p in ("CUDAExecutionProvider", "TensorrtExecutionProvider")]
    nvcc = find_nvcc()
    return [
        Item(
            "nvidia gpu",
            bool(gpus),
            "; ".join(gpus) or "nvidia-smi found no GPU",
            "any GPU path at all",
            "an NVIDIA GPU with its driver (nvidia-smi)",
        ),
        Item(
            "torch cuda",
            cuda,
            cuda_detail,
            "torch-cuda backend; device buffers and CUDA graphs for TensorRT",
            "a CUDA build of torch (pip install torch from the CUDA wheel index)",
        ),
        Item(
            "tensorrt",
            trt is not None,
            f"tensorrt {trt}" if trt else "not installed",
            "TensorRT engines: the fastest per-frame path (reenact export --tensorrt)",
            "pip install 'reenact[gpu]'",
        ),
        Item(
            "torch-tensorrt",
            importlib.util.find_spec("torch_tensorrt") is not None,
            _version("torch-tensorrt") or "not installed",
            "the torch-tensorrt backend (--backend torch-tensorrt: dynamo compile, not cached on disk)",
            "pip install torch-tensorrt (matching the CUDA build of torch)",
        ),
        Item(
            "pycuda",
            importlib.util.find_spec("pycuda") is not None,
            _version("pycuda") or "not installed",
            "our CUDA pre/post kernels on the GPU (kernels/gpu.py)",
            "pip install 'reenact[gpu]'",
        ),
        Item(
            "onnxruntime gpu providers",
            bool(gpu_eps),
            ", ".join(providers) or "onnxruntime missing",
            "onnxruntime-cuda / onnxruntime-tensorrt backends",
            "pip install onnxruntime-gpu (instead of onnxruntime)",
        ),
        Item(
            "nvcc",
            nvcc is not None,
            nvcc or "not found",
            "builds the CUDA kernels ahead of time (kernels.nvcc_check)",
            "the CUDA toolkit (nvcc) or set $NVCC",
        ),
    ]


def _cpu_items() -> list[Item]:
    gxx = shutil.which("g++")
    return [
        Item(
            "g++",
            gxx is not None,
            gxx or "not found",
            "CPU build of the kernels (their tests and CPU twins)",
            "apt-get install g++",
        ),
    ]


def _detector_items() -> list[Item]:
    from streamer.detectors.fan import fan_weights_status

    spec = importlib.util.find_spec("mediapipe")
    root = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else None
    missing = [m for m in MEDIAPIPE_MODELS if root is None or not (root / m).is_file()]
    mp_detail = (
        f"mediapipe {_version('mediapipe')}, face mesh models in the wheel"
        if not missing
        else (f"missing: {', '.join(missing)}" if root else "mediapipe is not installed")
    )
    fan_ok, fan_detail = fan_weights_status()
    idsg = Path(__file__).resolve().parents[1] / "models" / "weights" / "idsg.safetensors"
    return [
        Item(
            "mediapipe landmarks",
            not missing,
            mp_detail,
            "the default landmark detector",
            "pip install mediapipe==0.10.21 (the last wheel shipping the face-mesh models)",
        ),
        Item(
            "fan landmarks",
            fan_ok,
            fan_detail,
            "--landmarks fan: the DG paper's 3D detector",
            "pip install 'reenact[fan]' and put its weights in torch hub's checkpoints folder",
        ),
        Item(
            "idsg weights",
            idsg.is_file(),
            str(idsg) if idsg.is_file() else f"{idsg} not found",
            "learned retargeting (IDSG) and its ONNX export",
            "reenact train idsg (see README)",
        ),
    ]


def _io_items() -> list[Item]:
    devices = sorted(glob.glob("/dev/video*"))
    loopback = Path("/sys/module/v4l2loopback").exists()
    vcam = importlib.util.find_spec("pyvirtualcam") is not None
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    return [
        Item(
            "pyvirtualcam",
            vcam,
            _version("pyvirtualcam") or "not installed",
            "reenact camera --virtual-cam",
            "pip install 'reenact[camera]'",
        ),
        Item(
            "virtual camera device",
            loopback and bool(devices),
            f"v4l2loopback {'loaded' if loopback else 'not loaded'}; devices: {', '.join(devices) or 'none'}",
            "a camera other apps (video calls) can open",
            "apt-get install v4l2loopback-dkms && modprobe v4l2loopback exclusive_caps=1 (Linux; OBS elsewhere)",
        ),
        Item(
            "chromium",
            browser is not None,
            browser or "not found",
            "the browser test of reenact serve",
            "bash tests/install_browser.sh (apt-get install chromium)",
        ),
    ]


def collect() -> dict[str, list[Item]]:
    """Every check, grouped."""
    return {"gpu": _gpu_items(), "cpu": _cpu_items(), "detectors": _detector_items(), "io": _io_items()}


def _backend_line() -> str:
    from streamer.backends.select import select_backend

    return "; ".join(select_backend(n).describe() for n in ("pixel_warp", "idsg_retarget"))


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact doctor``."""
    p = sub.add_parser("doctor", help="show which GPUs, runtimes, detectors and devices are available")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_run_doctor)


def _run_doctor(args: argparse.Namespace) -> int:
    groups = collect()
    auto = _backend_line()
    if args.json:
        data = {k: [asdict(i) for i in v] for k, v in groups.items()}
        print(json.dumps({"checks": data, "auto_backend": auto}, indent=2))
        return 0
    for group, items in groups.items():
        print(f"{group}:")
        for item in items:
            mark = "ok " if item.ok else "-- "
            print(f"  {mark}{item.name}: {item.detail}")
            if not item.ok:
                print(f"       would add: {item.adds}; install: {item.install}")
    print(f"auto backend: {auto}")
    return 0
