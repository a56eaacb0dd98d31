"""``--warp planar|mesh`` on the live commands (serve, camera): parsed, carried by ``LiveConfig`` to the
reenactor a stream builds, and a live stream on the mesh warp puts frames out."""

from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from streamer.cli import build_parser, main
from streamer.examples import example_source_path
from streamer.live.camera import CameraSummary
from streamer.live.config import LiveConfig
from streamer.live.sources import create_reenactor, prepare_file
from streamer.live.stream import LiveStream

LIVE_COMMANDS = ("serve", "camera")


def warp_of(live: LiveConfig) -> str:
    """The warp of the reenactor a live stream builds from ``live`` (the RFG's geometric base, or the
    geometric reenactor itself)."""
    reenactor = create_reenactor(live)
    return getattr(reenactor, "geometric", reenactor).config.warp


@pytest.mark.parametrize("command", LIVE_COMMANDS)
@pytest.mark.parametrize(
    ("argv", "expected"), [([], "mesh"), (["--warp", "mesh"], "mesh"), (["--warp=planar"], "planar")]
)
def test_warp_flag_parses(command, argv, expected):
    assert build_parser().parse_args([command, *argv]).warp == expected


@pytest.mark.parametrize("command", LIVE_COMMANDS)
def test_bad_warp_is_a_one_line_usage_error(command):
    proc = subprocess.run(
        [sys.executable, "-m", "streamer.cli", command, "--warp", "cube"], capture_output=True, text=True, timeout=120
    )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("reenact") and "Traceback" not in proc.stderr
    assert "--warp" in lines[0] and "invalid choice" in lines[0] and "'cube'" in lines[0]


@pytest.fixture
def no_thread_setup(monkeypatch):
    """The commands' ``configure_threads(None)`` would pin this test process's thread pools."""
    monkeypatch.setattr("streamer.runtime.configure_threads", lambda threads=None: 1)


@pytest.mark.parametrize("flag", [None, "mesh", "planar"])
def test_serve_passes_warp_to_the_reenactor(monkeypatch, no_thread_setup, flag):
    served = []

    async def fake_serve_forever(config, source):  # what 'reenact serve' would start, without the server
        served.append(config)

    monkeypatch.setattr("streamer.webrtc.run.serve_forever", fake_serve_forever)
    assert main(["serve", "--generator", "geometric", *(["--warp", flag] if flag else [])]) == 0
    (config,) = served
    assert config.live.warp == (flag or "mesh") == warp_of(config.live)


@pytest.mark.parametrize("generator", ["geometric", "rfg"])
def test_camera_passes_warp_to_the_reenactor(monkeypatch, no_thread_setup, capsys, generator):
    ran = []

    def fake_run_camera(opts):  # what 'reenact camera' would run, without a camera
        ran.append(opts)
        return CameraSummary(frames=1, faces=1, dropped=0, seconds=1.0)

    monkeypatch.setattr("streamer.live.camera.run_camera", fake_run_camera)
    assert main(["camera", "--warp", "mesh", "--generator", generator]) == 0
    assert "camera: 1 frames" in capsys.readouterr().out
    (opts,) = ran
    assert opts.live.warp == "mesh" == warp_of(opts.live)
    assert opts.live.generator == generator


def _driver_frames(path, count: int) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="bgr24"))
            if len(frames) == count:
                return frames
    return frames


def _stream_outputs(live: LiveConfig, frames: list[np.ndarray]) -> tuple[object, list]:
    source = prepare_file(example_source_path(), live)
    stream = LiveStream(source, live)
    stream.open()
    try:
        return source, [stream.process(frame) for frame in frames]
    finally:
        stream.close()


def test_live_stream_on_the_mesh_warp_puts_frames_out(example_driver):
    """The stream serve's sessions and camera's loop both run (``LiveStream``), with the default generator:
    the mesh source is prepared, every driver frame gives a pasted-back frame with its face, and the frames
    are not the planar warp's."""
    frames = _driver_frames(example_driver, 25)[::6]  # 5 frames across 1 s of head motion
    mesh_source, mesh = _stream_outputs(LiveConfig(max_side=320, warp="mesh"), frames)
    _, planar = _stream_outputs(LiveConfig(max_side=320, warp="planar"), frames)
    state = getattr(mesh_source.state, "geometric", mesh_source.state)
    assert state.mesh is not None, "the source was prepared for the planar warp"
    assert len(mesh) == len(frames) and all(r.face_found for r in mesh)
    assert {r.image.shape for r in mesh} == {mesh_source.canvas.shape}
    moved = [np.abs(m.image.astype(np.int16) - mesh[0].image).mean() for m in mesh[1:]]
    assert max(moved) > 0.8, "the mesh output never moves"
    differ = [np.abs(m.image.astype(np.int16) - p.image).mean() for m, p in zip(mesh, planar, strict=True)]
    print(f"moved {moved}, mesh vs planar {differ}")
    assert max(differ) > 0.3, f"the mesh warp's frames are the planar warp's (mean abs diff {differ})"
