"""``--retarget analytic|idsg``, ``--idsg-weights`` and ``--backend`` wired into convert, serve and camera."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

from streamer.backends.probe import Facts, probe
from streamer.convert import ConvertOptions, choose_warp_backend, convert
from streamer.errors import InputError
from streamer.examples import example_source_path
from streamer.reenactors.geometric import GeometricConfig, GeometricReenactor, create_retargeter
from streamer.retarget import AnalyticRetargeter
from streamer.retarget_idsg import DEFAULT_WEIGHTS, IDSGRetargeter

REENACT = [sys.executable, "-m", "streamer.cli"]
CPU_ONLY = Facts(torch_cuda_reason="torch 2.13.0+cpu is a CPU-only build")
FULL_GPU = Facts(torch_cuda=True, tensorrt=True, pycuda=True, ort_providers=("CUDAExecutionProvider",))


def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*REENACT, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("reenact: error:") and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def bad_weights(tmp_path_factory) -> dict[str, Path]:
    """Weights files that must not load: missing, truncated, not safetensors, another network's tensors."""
    import torch
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("weights")
    data = DEFAULT_WEIGHTS.read_bytes()
    (folder / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    (folder / "text.safetensors").write_text("not a safetensors file")
    tensors = {"w": torch.zeros(1)}
    save_file(tensors, str(folder / "foreign.safetensors"), metadata={"format": "idsg-v1", "config": "{}"})
    save_file(tensors, str(folder / "no_config.safetensors"), metadata={"format": "idsg-v1"})
    names = ("missing", "truncated", "text", "foreign", "no_config")
    return {name: folder / f"{name}.safetensors" for name in names}


class TestRetargeterParameter:
    def test_default_is_analytic_in_the_configured_mode(self):
        reenactor = GeometricReenactor(GeometricConfig(crop_size=128, motion="absolute"))
        assert isinstance(reenactor.retargeter, AnalyticRetargeter)
        assert (reenactor.retargeter.mode, reenactor.retargeter.crop_size) == ("absolute", 128)

    def test_a_passed_retargeter_is_the_one_step_uses(self, astronaut, astronaut_face):
        calls = []

        class Recording:
            def retarget(self, source, driver_ref, driver):
                calls.append((driver_ref, driver))
                return source

        reenactor = GeometricReenactor(retargeter=Recording())
        from streamer.alignment import crop_image, crop_transform

        affine = crop_transform(astronaut_face, 256)
        state = reenactor.prepare(crop_image(astronaut, affine, 256), astronaut_face.transformed(affine))
        out = reenactor.step(state, astronaut_face, astronaut_face)
        assert out.shape == (256, 256, 3) and len(calls) == 1

    def test_factory(self):
        assert isinstance(create_retargeter("analytic", "relative", 256), AnalyticRetargeter)
        assert isinstance(create_retargeter("idsg"), IDSGRetargeter)
        with pytest.raises(InputError, match="unknown retargeter"):
            create_retargeter("learned")

    @pytest.mark.parametrize("name", ["missing", "truncated", "text", "foreign", "no_config"])
    def test_bad_weights_are_one_line_input_errors(self, bad_weights, name):
        with pytest.raises(InputError) as info:
            create_retargeter("idsg", idsg_weights=bad_weights[name])
        message = str(info.value)
        assert "\n" not in message and str(bad_weights[name]) in message


class TestWarpBackendChoice:
    def test_auto_on_cpu_is_opencv(self):
        assert choose_warp_backend("auto", 256, CPU_ONLY).name == "opencv"

    def test_gpu_engine_at_256(self):
        assert choose_warp_backend("auto", 256, FULL_GPU).name == "tensorrt"

    @pytest.mark.parametrize("requested", ["auto", "tensorrt", "onnxruntime-cuda", "torch-cuda"])
    def test_gpu_engines_are_static_256_other_sizes_fall_back_to_opencv(self, requested, caplog):
        with caplog.at_level(logging.WARNING, logger="streamer.convert"):
            choice = choose_warp_backend(requested, 320, FULL_GPU)
        assert choice.name == "opencv"
        assert any("256x256" in r.getMessage() and "--size 320" in r.getMessage() for r in caplog.records)

    def test_cpu_backends_keep_any_size(self, caplog):
        with caplog.at_level(logging.WARNING, logger="streamer.convert"):
            assert choose_warp_backend("torch", 320, FULL_GPU).name == "torch"
            assert choose_warp_backend("onnxruntime", 128, CPU_ONLY).name == "onnxruntime"
        assert not caplog.records

    @pytest.mark.parametrize("requested", ["tensorrt", "torch-cuda", "onnxruntime-cuda", "onnxruntime-tensorrt"])
    def test_unavailable_backend_is_an_input_error(self, requested):
        with pytest.raises(InputError, match=f"backend {requested} cannot run here"):
            choose_warp_backend(requested, 256, CPU_ONLY)


def test_convert_with_idsg_runs_and_differs_from_analytic(example_driver, tmp_path):
    outs = {}
    for name in ("analytic", "idsg"):
        out = tmp_path / f"{name}.mp4"
        opts = ConvertOptions(
            example_source_path(), example_driver, out, paste_back=False, progress=False, retarget=name
        )
        summary = convert(opts)
        assert summary.frames == summary.faces == 50
        outs[name] = frames(out)
    assert len(outs["analytic"]) == len(outs["idsg"]) == 50
    diffs = [np.abs(a.astype(int) - b).mean() for a, b in zip(outs["analytic"], outs["idsg"], strict=True)]
    assert max(diffs) > 3.0, f"IDSG output is (nearly) the analytic one: {max(diffs):.2f} grey levels"


def test_convert_cli_idsg_and_cpu_backends(example_driver, tmp_path):
    proc = run(
        "convert",
        "--source",
        example_source_path(),
        "--driver",
        example_driver,
        "--out",
        tmp_path / "o.mp4",
        "--retarget",
        "idsg",
        "--idsg-weights",
        DEFAULT_WEIGHTS,
        "--backend",
        "torch",
        "--generator",
        "geometric",  # the shipped RFG draws 256 px crops only
        "--size",
        "192",
        "--max-seconds",
        "0.5",
    )
    assert proc.returncode == 0, proc.stderr
    assert "warp backend torch" in proc.stdout
    assert len(frames(tmp_path / "o.mp4")) == 13


class TestCliErrors:
    @pytest.mark.parametrize("name", ["missing", "truncated", "foreign"])
    def test_bad_idsg_weights_exit_2_one_line(self, bad_weights, example_driver, tmp_path, name):
        out = tmp_path / "o.mp4"
        args = ["--source", example_source_path(), "--driver", example_driver, "--out", out]
        proc = run("convert", *args, "--retarget", "idsg", "--idsg-weights", bad_weights[name])
        assert_one_line_error(proc, "IDSG weights", str(bad_weights[name]))
        assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == []

    def test_bad_weights_fail_before_the_example_is_made(self, bad_weights, tmp_path):
        weights = bad_weights["text"]
        proc = run("convert", "--example", "--out", tmp_path / "o.mp4", "--retarget", "idsg", "--idsg-weights", weights)
        assert_one_line_error(proc, "cannot load IDSG weights")

    def test_idsg_weights_need_retarget_idsg(self, tmp_path):
        proc = run("convert", "--example", "--out", tmp_path / "o.mp4", "--idsg-weights", DEFAULT_WEIGHTS)
        assert_one_line_error(proc, "--idsg-weights is for --retarget idsg")

    @pytest.mark.parametrize("backend", ["tensorrt", "torch-cuda", "onnxruntime-cuda"])
    def test_backend_not_available_here_exit_2_one_line(self, example_driver, tmp_path, backend):
        from streamer.backends.select import availability

        if availability(backend, probe())[0]:
            pytest.skip(f"{backend} can run on this machine")
        args = ["--source", example_source_path(), "--driver", example_driver, "--out", tmp_path / "o.mp4"]
        assert_one_line_error(run("convert", *args, "--backend", backend), f"backend {backend} cannot run here")

    def test_unknown_backend_is_a_usage_error(self, example_driver, tmp_path):
        args = ["--source", example_source_path(), "--driver", example_driver, "--out", tmp_path / "o.mp4"]
        proc = run("convert", *args, "--backend", "vulkan")
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "invalid choice" in proc.stderr

    @pytest.mark.parametrize("command", ["serve", "camera"])
    def test_live_commands_check_weights_first(self, bad_weights, command):
        proc = run(command, "--retarget", "idsg", "--idsg-weights", bad_weights["missing"], timeout=120)
        assert_one_line_error(proc, "IDSG weights not found")


def test_camera_path_with_idsg(example_driver):
    from streamer.live.camera import CameraOptions, run_camera
    from streamer.live.config import LiveConfig
    from streamer.live.sources import create_reenactor

    live = LiveConfig(max_side=384, retarget="idsg", idsg_weights=DEFAULT_WEIGHTS)
    retargeter = create_reenactor(live).retargeter
    assert isinstance(getattr(retargeter, "inner", retargeter), IDSGRetargeter)  # under the editing stage
    summary = run_camera(CameraOptions(example_source_path(), str(example_driver), frames=20, live=live))
    assert summary.frames == 20 and summary.faces >= 18
