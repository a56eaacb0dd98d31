"""End to end on real data: a shared driver clip (first 2 s) and a shared source photo.

Checks the frame count, frame rate and audio of the output, and that the output face follows the
driver: head yaw and mouth opening measured on the output frames correlate with the driver's.
"""

from __future__ import annotations

import subprocess
import sys

import av
import numpy as np
import pytest

from streamer.detectors import create_detector
from streamer.pose import expression_vector, head_pose
from tests.conftest import shared_file

pytestmark = pytest.mark.shared_data

DRIVER = "raw/SadTalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4"  # 25 fps, yaw -9..+13, speech
SOURCE = "raw/DECA/TestSamples/exp/5.jpg"  # smiling young woman, frontal


def yaw_and_mouth(path, frames: int) -> np.ndarray:
    det = create_detector("mediapipe", "video")
    rows = []
    with av.open(str(path)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i >= frames:
                break
            faces = det.detect(frame.to_ndarray(format="bgr24"))
            p = faces[0].points if faces else None
            rows.append((head_pose(p).yaw, expression_vector(p)[0]) if p is not None else (np.nan, np.nan))
    det.close()
    return np.array(rows)


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    driver, source = shared_file(DRIVER), shared_file(SOURCE)
    out = tmp_path_factory.mktemp("e2e") / "out.mp4"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamer.cli",
            "convert",
            "--source",
            str(source),
            "--driver",
            str(driver),
            "--out",
            str(out),
            "--max-seconds",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return driver, out, proc.stdout


def test_frames_rate_and_audio(converted):
    driver, out, stdout = converted
    assert "50 frames, face found in 50" in stdout
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert v.average_rate == 25
        assert sum(1 for _ in c.decode(video=0)) == 50
    with av.open(str(out)) as c, av.open(str(driver)) as d:
        a, da = c.streams.audio[0], d.streams.audio[0]
        assert a.codec_context.name == da.codec_context.name == "aac"
        seconds = sum(float(p.duration * p.time_base) for p in c.demux(audio=0) if p.duration)
        assert seconds == pytest.approx(2.0, abs=0.15)  # cut at whole AAC packets (1024 samples)
    # The summary's A/V offset (issue 16), within a frame, and what the output measures.
    from streamer.media.probe import av_offset

    assert "audio: aac (copied), A/V offset vs driver" in stdout
    assert abs(av_offset(driver, out)) <= 0.04


def test_output_follows_driver_yaw_and_mouth(converted):
    driver, out, _ = converted
    d = yaw_and_mouth(driver, 50)
    o = yaw_and_mouth(out, 50)
    ok = ~np.isnan(d).any(axis=1) & ~np.isnan(o).any(axis=1)
    assert ok.sum() >= 45
    r_yaw = np.corrcoef(d[ok, 0], o[ok, 0])[0, 1]
    r_mouth = np.corrcoef(d[ok, 1], o[ok, 1])[0, 1]
    assert np.ptp(d[ok, 0]) > 10  # the clip really turns
    assert r_yaw > 0.8, f"yaw correlation {r_yaw:.3f}"
    assert r_mouth > 0.8, f"mouth-opening correlation {r_mouth:.3f}"


def test_compose_thread_error_aborts_cleanly(example_driver, tmp_path, monkeypatch):
    """A failure on the compose thread surfaces in convert() and leaves no output and no temp file."""
    from streamer.compositor import BoundPaste
    from streamer.convert import ConvertOptions, convert
    from streamer.examples import example_source_path

    calls = []

    def broken(self, crop):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("paste failed")
        return self._frame.copy()

    monkeypatch.setattr(BoundPaste, "paste", broken)
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="paste failed"):
        convert(ConvertOptions(example_source_path(), example_driver, out, progress=False))
    assert not out.exists() and list(tmp_path.iterdir()) == []
