"""The editing controls live: ``camera``'s hotkeys and flags, and ``SetEdits`` on a stream (next frame)."""

from __future__ import annotations

import av
import numpy as np
import pytest

from streamer.cli import main
from streamer.edit_controls import EditControls
from streamer.examples import example_source_path
from streamer.live import camera as camera_module
from streamer.live.camera import CameraOptions, run_camera
from streamer.live.config import LiveConfig
from streamer.live.edit_keys import HELP, STEPS, apply_key
from streamer.live.sources import prepare_file
from streamer.live.stream import LiveStream, SetEdits

FAST = LiveConfig(max_side=320, generator="geometric")


class TestHotkeys:
    def test_steps_move_the_named_control_and_stop_at_its_range(self):
        c = EditControls()
        for _ in range(12):
            c = apply_key("d", c)
        assert c.yaw == 45.0  # 12 x 5 clamped to the range
        assert apply_key("s", EditControls()).pitch == -5.0
        assert apply_key("]", EditControls()).expression_scale == 1.25
        assert apply_key("-", EditControls()).smile == -0.25
        assert set(STEPS) | {"b", "o", "m", "0"} >= {k for k in "adwszc[]-=bom0"}
        for key in STEPS:
            assert f"{key}/" in HELP or f"/{key}" in HELP

    def test_toggles_cycle_and_reset(self):
        closed = apply_key("b", EditControls())
        assert closed.eyes_open == 0.0 and apply_key("b", closed).eyes_open is None
        opened = apply_key("o", EditControls())
        assert opened.lips_open == 0.5 and apply_key("o", opened).lips_open is None
        seen = [EditControls().motion_from]
        for _ in range(3):
            seen.append(apply_key("m", EditControls(motion_from=seen[-1])).motion_from)
        assert seen == ["both", "pose", "expression", "both"]
        assert apply_key("0", EditControls(yaw=10, eyes_open=0)) == EditControls()

    def test_other_keys_are_not_edits(self):
        for key in ("r", "q", "x", " "):
            assert apply_key(key, EditControls(yaw=5)) is None


@pytest.fixture(scope="module")
def driver_frame(example_driver) -> np.ndarray:
    with av.open(str(example_driver)) as clip:
        return next(clip.decode(video=0)).to_ndarray(format="bgr24")


def test_set_edits_applies_from_the_next_frame_without_a_rebuild(driver_frame):
    stream = LiveStream(prepare_file(example_source_path(), FAST), FAST)
    stream.open()
    try:
        pipeline = stream.pipeline
        before = stream.process(driver_frame).image
        stream.apply(SetEdits(EditControls(yaw=20)))
        assert stream.pipeline is pipeline  # no rebuild: the tracker and reference stay
        turned = stream.process(driver_frame).image
        stream.apply(SetEdits(EditControls()))
        back = stream.process(driver_frame).image
    finally:
        stream.close()
    # the live tracker smooths over frames, so the same frame again is close to, not exactly, the first output
    turned_by, back_by = (np.abs(x.astype(np.float32) - before).mean() for x in (turned, back))
    assert turned_by > 1.0 and turned_by > 3 * back_by, (turned_by, back_by)


def test_config_edits_start_the_stream(driver_frame):
    plain, edited = FAST, LiveConfig(max_side=320, generator="geometric", edits=EditControls(lips_open=0.6))
    images = []
    for config in (plain, edited):
        stream = LiveStream(prepare_file(example_source_path(), config), config)
        stream.open()
        try:
            assert stream.edits == config.edits
            images.append(stream.process(driver_frame).image.astype(np.float32))
        finally:
            stream.close()
    assert np.abs(images[0] - images[1]).max() > 40


def test_preview_hotkeys_reach_the_stream(example_driver, monkeypatch):
    keys = iter(["d", "d", "d", "d", "b", None, "0"])
    applied: list = []
    shown: list = []

    class FakePreview:
        def show(self, image):
            shown.append(image)
            return next(keys, None)

        def close(self):
            pass

    original = LiveStream.apply

    def spy(self, control):
        applied.append(control)
        original(self, control)

    monkeypatch.setattr(camera_module, "PreviewWindow", FakePreview)
    monkeypatch.setattr(LiveStream, "apply", spy)
    opts = CameraOptions(example_source_path(), str(example_driver), preview=True, frames=8, live=FAST)
    run_camera(opts)
    edits = [c.controls for c in applied if isinstance(c, SetEdits)]
    assert [e.yaw for e in edits[:4]] == [5.0, 10.0, 15.0, 20.0]
    assert edits[4] == EditControls(yaw=20, eyes_open=0.0)
    assert edits[5] == EditControls()
    assert len(shown) == 8


def test_camera_flags(example_driver, capsys):
    assert main(["camera", "--device", str(example_driver), "--frames", "2", "--yaw", "nan"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--yaw" in err
    args = ["camera", "--device", str(example_driver), "--frames", "3", "--generator", "geometric"]
    assert main([*args, "--yaw", "10", "--eyes-open", "0", "--motion-from", "pose", "--max-side", "320"]) == 0
    assert "camera: 3 frames" in capsys.readouterr().out


def test_the_preview_shows_the_edits_in_force():
    from streamer.live.camera import captioned

    image = np.full((120, 200, 3), 90, np.uint8)
    assert captioned(image, "") is image
    shown = captioned(image, EditControls(yaw=10).describe())
    assert np.abs(shown.astype(int) - image).max() > 100 and (image == 90).all()
