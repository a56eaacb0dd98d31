"""``reenact camera`` up to the device: a looped video file as the camera, a fake sink for tests."""

from __future__ import annotations

import numpy as np
import pytest

from streamer.cli import main
from streamer.errors import InputError
from streamer.examples import example_source_path
from streamer.live.camera import CameraOptions, run_camera
from streamer.live.config import LiveConfig
from streamer.live.sinks import check_display, virtual_camera_hint


class ListSink:
    """Test sink: keeps the frames it is sent."""

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.closed = False

    def send(self, image_bgr: np.ndarray) -> None:
        self.frames.append(image_bgr)

    def close(self) -> None:
        self.closed = True


def test_file_device_to_sink(example_driver):
    sink = ListSink()
    live = LiveConfig(max_side=384)
    summary = run_camera(CameraOptions(example_source_path(), str(example_driver), frames=60, live=live), [sink])
    assert summary.frames == 60 == len(sink.frames) and sink.closed
    assert summary.faces >= 55
    shapes = {f.shape for f in sink.frames}
    assert len(shapes) == 1, "a virtual camera needs one fixed frame size"
    assert not all(np.array_equal(sink.frames[0], f) for f in sink.frames[1:]), "the output never moves"


def test_file_device_loops(example_driver):
    """The 2 s clip (50 frames) keeps delivering past its end."""
    summary = run_camera(CameraOptions(example_source_path(), str(example_driver), frames=70, live=LiveConfig()))
    assert summary.frames == 70


def test_crop_only_size(example_driver):
    sink = ListSink()
    live = LiveConfig(paste_back=False, size=128, generator="geometric")  # the shipped RFG: 256 px only
    run_camera(CameraOptions(example_source_path(), str(example_driver), frames=5, live=live), [sink])
    assert {f.shape for f in sink.frames} == {(128, 128, 3)}


def test_cli_without_virtual_cam(example_driver, capsys):
    assert main(["camera", "--device", str(example_driver), "--frames", "10"]) == 0
    assert "camera: 10 frames" in capsys.readouterr().out


def test_virtual_cam_setup_hint(example_driver, capsys):
    pyvirtualcam = pytest.importorskip("pyvirtualcam")
    try:
        pyvirtualcam.Camera(64, 64, 30).close()
        pytest.skip("this machine has a virtual camera device")
    except RuntimeError:
        pass
    assert main(["camera", "--device", str(example_driver), "--virtual-cam", "--frames", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "virtual camera" in err and virtual_camera_hint().split()[0] in err


def test_bad_devices(tmp_path, capsys):
    assert main(["camera", "--device", str(tmp_path / "missing.mp4")]) == 2
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    assert main(["camera", "--device", str(tmp_path / "junk.mp4"), "--frames", "2"]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("reenact: error:") for line in errors)


def test_preview_needs_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(InputError, match="display"):
        check_display()
