"""``reenact convert`` through the real command line: outputs, summaries and every bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

REENACT = [sys.executable, "-m", "streamer.cli"]


def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*REENACT, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("reenact: error:")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    from streamer.examples import example_source_path

    return example_source_path()


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


class TestConvert:
    def test_example_with_crop_only_and_strip(self, example_driver, source, tmp_path):
        out, strip = tmp_path / "crop.mp4", tmp_path / "strip.png"
        proc = run(
            "convert",
            "--source",
            source,
            "--driver",
            example_driver,
            "--out",
            out,
            "--crop-only",
            "--generator",
            "geometric",  # the shipped RFG draws 256 px crops only
            "--size",
            "128",
            "--strip",
            strip,
            "--quiet",
        )
        assert proc.returncode == 0, proc.stderr
        assert "50 frames, face found in 50" in proc.stdout
        with av.open(str(out)) as c:
            v = c.streams.video[0]
            assert (v.codec_context.width, v.codec_context.height) == (128, 128)
            assert v.average_rate == 25
            assert c.streams.audio  # audio kept
        assert cv2.imread(str(strip)).shape[0] == 400

    def test_readme_command_one(self, tmp_path):
        """Set-up command (1) of the README, as written: the bundled example, default options."""
        proc = subprocess.run(
            [sys.executable, "-m", "streamer.cli", "convert", "--example", "--out", "example.mp4"],
            capture_output=True, text=True, timeout=300, cwd=tmp_path,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "wrote example.mp4" in proc.stdout
        assert "generator rfg (global)" in proc.stdout  # the trained generator is the default
        with av.open(str(tmp_path / "example.mp4")) as c:
            assert c.streams.video[0].codec_context.name == "h264" and c.streams.audio
            assert sum(1 for _ in c.decode(video=0)) > 25
        assert sorted(p.name for p in tmp_path.iterdir()) == ["example.mp4"]  # no temp file left behind

    def test_frames_without_face_keep_their_slot(self, source, tmp_path):
        face = cv2.resize(cv2.imread(str(source)), (256, 256))
        blank = np.full_like(face, 127)
        driver = write_clip(tmp_path / "gaps.mp4", [face, face, blank, blank, face, face])
        out = tmp_path / "o.mp4"
        # the per-frame detector: the temporal tracker would (rightly) hold the face through the gap
        proc = run("convert", "--source", source, "--driver", driver, "--out", out, "--quiet", "--tracker", "detector")
        assert proc.returncode == 0, proc.stderr
        assert "6 frames, face found in 4 (2 without)" in proc.stdout
        with av.open(str(out)) as c:
            frames = [f.to_ndarray(format="bgr24").astype(np.float32) for f in c.decode(video=0)]
        assert len(frames) == 6
        photo = cv2.imread(str(source)).astype(np.float32)
        for k in (2, 3):  # no face in the driver: the untouched photo (--paste-back), not the blank frame
            assert frames[k].shape == photo.shape
            assert np.abs(frames[k] - photo).mean() < 4.0
            assert np.abs(frames[k] - 127.0).mean() > 20.0

    def test_track_debug_and_reference_frame(self, example_driver, source, tmp_path):
        out, debug = tmp_path / "o.mp4", tmp_path / "debug.mp4"
        proc = run(
            "convert",
            "--source",
            source,
            "--driver",
            example_driver,
            "--out",
            out,
            "--quiet",
            "--tracker",
            "temporal",
            "--track-debug",
            debug,
            "--reference-frame",
            "10",
        )
        assert proc.returncode == 0, proc.stderr
        assert "tracker temporal, detector on" in proc.stdout
        assert "reference frame 10 (forced; yaw" in proc.stdout
        with av.open(str(debug)) as c, av.open(str(example_driver)) as d:
            assert c.streams.video[0].codec_context.width == d.streams.video[0].codec_context.width
            assert sum(1 for _ in c.decode(video=0)) == 50
        proc = run(
            "convert", "--source", source, "--driver", example_driver, "--out", out, "--quiet", "--max-seconds", "0.6"
        )
        assert proc.returncode == 0, proc.stderr
        assert "reference frame " in proc.stdout and "(look-ahead over " in proc.stdout
        proc = run(
            *["convert", "--source", source, "--driver", example_driver, "--out", out, "--quiet"],
            *["--max-seconds", "0.6", "--reference", "causal"],
        )
        assert proc.returncode == 0, proc.stderr
        assert "reference frame " in proc.stdout and "(causal; yaw" in proc.stdout
        proc = run("convert", "--source", source, "--driver", example_driver, "--out", out, "--reference-frame", "500")
        assert_one_line_error(proc, "fewer frames")
        proc = run("convert", "--source", source, "--driver", example_driver, "--out", out, "--track-debug", out)
        assert_one_line_error(proc, "another file")


class TestBadInput:
    def test_missing_source(self, example_driver, tmp_path):
        assert_one_line_error(
            run("convert", "--source", tmp_path / "no.jpg", "--driver", example_driver, "--out", tmp_path / "o.mp4"),
            "not found",
        )

    def test_corrupt_and_non_image_source(self, example_driver, tmp_path):
        text = tmp_path / "notes.jpg"
        text.write_text("this is not a picture")
        assert_one_line_error(
            run("convert", "--source", text, "--driver", example_driver, "--out", tmp_path / "o.mp4"),
            "cannot read image",
        )
        good = cv2.imencode(".jpg", np.zeros((64, 64, 3), np.uint8))[1].tobytes()
        truncated = tmp_path / "cut.jpg"
        truncated.write_bytes(good[:200])
        proc = run("convert", "--source", truncated, "--driver", example_driver, "--out", tmp_path / "o.mp4")
        assert_one_line_error(proc)

    def test_huge_image(self, example_driver, tmp_path):
        huge = tmp_path / "huge.png"
        Image.new("L", (8000, 7000)).save(huge)  # 56 MP of zeros: a small file
        assert_one_line_error(
            run("convert", "--source", huge, "--driver", example_driver, "--out", tmp_path / "o.mp4"), "MP limit"
        )

    def test_no_face_in_photo(self, example_driver, tmp_path):
        blank = tmp_path / "wall.png"
        cv2.imwrite(str(blank), np.full((300, 300, 3), 200, np.uint8))
        assert_one_line_error(
            run("convert", "--source", blank, "--driver", example_driver, "--out", tmp_path / "o.mp4"),
            "no face found in the source photo",
        )

    def test_several_faces_picks_the_largest_and_says_so(self, example_driver, source, tmp_path):
        head = cv2.imread(str(source))[20:320, 90:390]
        group = np.full((320, 600, 3), 128, np.uint8)
        group[10:310, :300] = head
        group[40:280, 330:570] = cv2.resize(head, (240, 240))
        path = tmp_path / "two.png"
        cv2.imwrite(str(path), group)
        proc = run(
            "convert",
            "--source",
            path,
            "--driver",
            example_driver,
            "--out",
            tmp_path / "o.mp4",
            "--quiet",
            "--max-seconds",
            "0.4",
        )
        assert proc.returncode == 0, proc.stderr
        assert "has 2 faces; using the largest" in proc.stderr
        proc = run(
            "convert", "--source", path, "--driver", example_driver, "--out", tmp_path / "o.mp4", "--face-index", "5"
        )
        assert_one_line_error(proc, "--face-index 5 is out of range")

    def test_driver_missing_corrupt_or_faceless(self, source, tmp_path):
        assert_one_line_error(
            run("convert", "--source", source, "--driver", tmp_path / "none.mp4", "--out", tmp_path / "o.mp4"),
            "video not found",
        )
        bad = tmp_path / "bad.mp4"
        bad.write_bytes(os.urandom(5000))
        assert_one_line_error(run("convert", "--source", source, "--driver", bad, "--out", tmp_path / "o.mp4"))
        empty = write_clip(tmp_path / "empty.mp4", [np.full((128, 128, 3), 90, np.uint8)] * 5)
        out = tmp_path / "o.mp4"
        assert_one_line_error(run("convert", "--source", source, "--driver", empty, "--out", out), "no face found")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4", "empty.mp4"]  # no output, no temp file

    def test_output_equal_to_input(self, example_driver, source, tmp_path):
        assert_one_line_error(
            run("convert", "--source", source, "--driver", example_driver, "--out", example_driver),
            "is the driver video",
        )

    def test_unwritable_or_missing_output_folder_and_bad_suffix(self, example_driver, source, tmp_path):
        assert_one_line_error(
            run("convert", "--source", source, "--driver", example_driver, "--out", tmp_path / "missing" / "o.mp4"),
            "does not exist",
        )
        assert_one_line_error(
            run("convert", "--source", source, "--driver", example_driver, "--out", tmp_path / "o.gif"),
            "must be a video file",
        )

    def test_bad_options(self, example_driver, source, tmp_path):
        proc = run(
            "convert",
            "--source",
            source,
            "--driver",
            example_driver,
            "--out",
            tmp_path / "o.mp4",
            "--landmarks",
            "dlib",
        )
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
        proc = run(
            "convert", "--source", source, "--driver", example_driver, "--out", tmp_path / "o.mp4", "--size", "7"
        )
        assert_one_line_error(proc, "--size")

    def test_fan_without_weights_says_where_to_put_them(self, example_driver, source, tmp_path):
        proc = run(
            "convert", "--source", source, "--driver", example_driver, "--out", tmp_path / "o.mp4", "--landmarks", "fan"
        )
        assert_one_line_error(proc)
        assert "face-alignment is not installed" in proc.stderr or "FAN weights missing" in proc.stderr


def test_ctrl_c_leaves_no_output(source, tmp_path):
    face = cv2.resize(cv2.imread(str(source)), (256, 256))
    driver = write_clip(tmp_path / "long.mp4", [face] * 1200)  # long enough to be still running when signalled
    out = tmp_path / "o.mp4"
    proc = subprocess.Popen(
        [*REENACT, "convert", "--source", str(source), "--driver", str(driver), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120  # the RFG's start-up (torch import, ONNX export) is slow on a loaded machine
    started = False
    while time.time() < deadline and proc.poll() is None and not started:
        time.sleep(0.05)  # wait until encoding has started (the temp file exists)
        started = any(p.name.startswith(".o.") for p in tmp_path.iterdir())
    assert started and proc.poll() is None, f"encoding never started while running: {proc.poll()}"
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4"]
