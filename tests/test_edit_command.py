"""``reenact edit`` and the editing flags of ``reenact convert`` through the command line.

Most cases call ``streamer.cli.main`` in process (an interpreter start with every import costs seconds a
case on the 2-core machine); one case per command goes through a real subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

REENACT = [sys.executable, "-m", "streamer.cli"]
FAST = ("--generator", "geometric", "--max-side", "320")


def run(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*REENACT, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def main(capsys, *args: str | Path) -> tuple[int, str, str]:
    """``reenact ARGS`` in process: (exit code, stdout, stderr); argparse's own exits included."""
    from streamer import cli

    try:
        code = cli.main(["--debug", *map(str, args)])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error_in_process(result: tuple[int, str, str], *needles: str) -> None:
    code, _, err = result
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert_one_line_error_in_process((proc.returncode, proc.stdout, proc.stderr), *needles)


@pytest.mark.parametrize(
    "flags, needle",
    [
        (("--yaw", "nan"), "--yaw must be between -45 and 45 degrees, got nan"),
        (("--pitch", "31"), "--pitch"),
        (("--roll", "-inf"), "--roll"),
        (("--expression-scale", "-1"), "--expression-scale"),
        (("--eyes-open", "2"), "--eyes-open"),
        (("--lips-open", "nan"), "--lips-open"),
        (("--smile", "3"), "--smile"),
        (("--motion-from", "mouth"), "--motion-from"),
        (("--yaw", "ten"), "--yaw"),
    ],
)
def test_convert_refuses_bad_edits_in_one_line(capsys, tmp_path, flags, needle):
    assert_one_line_error_in_process(main(capsys, "convert", "--example", "--out", tmp_path / "o.mp4", *flags), needle)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "args, needle",
    [
        (("--out", "{tmp}/o.mp4"), "needs --sweep"),
        (("--out", "{tmp}/o.gif"), "--out must be an image"),
        (("--out", "{tmp}/o.png", "--sweep", "gaze:0:1"), "cannot sweep 'gaze'"),
        (("--out", "{tmp}/o.png", "--sweep", "yaw:0"), "PARAM:FROM:TO"),
        (("--out", "{tmp}/o.png", "--sweep", "yaw:0:x"), "must be numbers"),
        (("--out", "{tmp}/o.png", "--sweep", "yaw:-60:0"), "--yaw must be between"),
        (("--out", "{tmp}/o.png", "--lips-open", "1.2"), "--lips-open"),
        (("--out", "{tmp}/o.mp4", "--sweep", "smile:0:1", "--seconds", "0"), "--seconds"),
        (("--out", "{tmp}/missing/o.png"), "output folder does not exist"),
        (("--out", "{tmp}/o.png", "--expression-scale", "0"), "unrecognized arguments"),
    ],
)
def test_edit_refuses_bad_input_in_one_line(capsys, tmp_path, args, needle):
    args = [a.format(tmp=tmp_path) for a in args]
    assert_one_line_error_in_process(main(capsys, "edit", "--example", *args), needle)
    assert list(tmp_path.iterdir()) == []


def test_the_real_command_line_gives_one_line_and_exit_2(tmp_path):
    assert_one_line_error(run("convert", "--example", "--out", tmp_path / "o.mp4", "--yaw", "nan"), "--yaw")
    assert_one_line_error(run("edit", "--example", "--out", tmp_path / "o.png", "--eyes-open", "inf"), "--eyes-open")
    assert list(tmp_path.iterdir()) == []


def test_edit_never_overwrites_its_source(capsys, tmp_path):
    photo = tmp_path / "photo.jpg"
    from streamer.examples import example_source_path

    photo.write_bytes(example_source_path().read_bytes())
    before = photo.read_bytes()
    result = main(capsys, "edit", "--source", photo, "--out", photo, "--yaw", "10")
    assert_one_line_error_in_process(result, "is the source photo")
    assert photo.read_bytes() == before


def test_edit_writes_a_still_a_strip_and_a_clip(capsys, tmp_path):
    still = tmp_path / "still.png"
    code, out, err = main(capsys, "edit", "--example", "--out", still, "--yaw", "15", "--smile", "0.5", *FAST)
    assert code == 0, err
    assert f"wrote {still}: 1 frame(s)" in out and "--yaw 15 --smile 0.5" in out
    image = cv2.imread(str(still))
    assert image is not None and max(image.shape[:2]) == 320

    strip = tmp_path / "strip.jpg"
    code, _, err = main(capsys, "edit", "--example", "--out", strip, "--sweep", "yaw:-20:20", "--tiles", "3", *FAST)
    assert code == 0, err
    tiles = np.split(cv2.imread(str(strip)).astype(np.float32), 3, axis=1)
    assert np.abs(tiles[0] - tiles[2]).mean() > 3  # turned one way, then the other

    clip = tmp_path / "clip.mp4"
    sweep = ("--sweep", "lips-open:0:0.5", "--seconds", "0.4", "--fps", "10")
    code, _, err = main(capsys, "edit", "--example", "--out", clip, *sweep, *FAST)
    assert code == 0, err
    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(frames) == 4
    assert np.abs(frames[0].astype(np.float32) - frames[-1]).max() > 40  # the mouth opened
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "still.png", "strip.jpg"]


def test_ctrl_c_leaves_no_output(tmp_path, monkeypatch):
    from streamer import cli
    from streamer.photo_edit import PhotoEditor

    drawn = []
    original = PhotoEditor.render

    def interrupted(self, controls, driver=None):
        drawn.append(controls)
        if len(drawn) == 3:
            raise KeyboardInterrupt
        return original(self, controls, driver)

    monkeypatch.setattr(PhotoEditor, "render", interrupted)
    out = tmp_path / "o.mp4"
    code = cli.main(["--debug", "edit", "--example", "--out", str(out), "--sweep", "yaw:0:10", "--seconds", "1", *FAST])
    assert code == 130 and len(drawn) == 3
    assert list(tmp_path.iterdir()) == []


def test_batch_takes_the_edits_as_flags_and_columns(tmp_path, capsys):
    from streamer.batch.jobs import fingerprint, read_jobs_csv
    from streamer.cli import build_parser
    from streamer.edit_controls import EditControls
    from streamer.errors import InputError
    from streamer.examples import example_source_path

    (tmp_path / "face.jpg").write_bytes(example_source_path().read_bytes())
    (tmp_path / "d.mp4").write_bytes(b"parsing never opens it")
    csv = tmp_path / "jobs.csv"
    csv.write_text(
        "source,driver,out,yaw,lips-open,motion_from\nface.jpg,d.mp4,a.mp4,10,0.4,pose\nface.jpg,d.mp4,b.mp4,,,\n"
    )
    args = build_parser().parse_args(["batch", str(csv), "--out-dir", str(tmp_path), "--smile", "0.5"])
    a, b = (job.options for job in read_jobs_csv(csv, tmp_path / "out", args))
    assert a.edits == EditControls(yaw=10, lips_open=0.4, smile=0.5, motion_from="pose")
    assert b.edits == EditControls(smile=0.5)
    assert fingerprint(a, {}) != fingerprint(b, {})  # edits decide the output: a changed edit re-runs the job
    csv.write_text("source,driver,out,pitch\nface.jpg,d.mp4,a.mp4,40\n")
    with pytest.raises(InputError, match="--pitch must be between"):
        read_jobs_csv(csv, tmp_path / "out", args)


def test_convert_applies_the_edits(example_driver, tmp_path, capsys):
    """A guard on the wiring: the same driver frames with and without --lips-open differ in the mouth."""
    outputs = {}
    for name, flags in (("plain", ()), ("edited", ("--lips-open", "0.7"))):
        out = tmp_path / f"{name}.mp4"
        args = ("convert", "--driver", example_driver, "--example", "--out", out, "--max-seconds", "0.2", *flags)
        code, printed, err = main(capsys, *args, "--crop-only", "--generator", "geometric", "--reference", "causal")
        assert code == 0, err
        assert ("edits --lips-open 0.7" in printed) == bool(flags), printed
        with av.open(str(out)) as clip:
            outputs[name] = [f.to_ndarray(format="bgr24").astype(np.float32) for f in clip.decode(video=0)]
    assert len(outputs["plain"]) == len(outputs["edited"]) > 0
    assert all(np.abs(a - b).max() > 40 for a, b in zip(outputs["plain"], outputs["edited"], strict=True))


@pytest.mark.parametrize("command", ["serve", "camera"])
def test_live_commands_refuse_bad_edits_before_starting(capsys, command, tmp_path):
    extra = ("--device", str(tmp_path / "never-opened.mp4")) if command == "camera" else ()
    result = main(capsys, command, *extra, "--roll", "90")
    assert_one_line_error_in_process(result, "--roll must be between -45 and 45 degrees, got 90")
