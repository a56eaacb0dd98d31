"""benchmarks.identity_floor: a driver's frames against its own reference frame, and its bad input."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.identity_floor import floor_of, main, markdown
from tests.benchmarks.test_cross_dlib_self import FakeJudge, _frames


def test_floor_is_the_distance_to_the_reference_frame_without_it():
    # FakeJudge: first pixel 0 = no face, else yaw = value and identity = (yaw / 100, 0)
    row = floor_of(FakeJudge(), _frames([10, 30, 0, 50, 20]), reference=0)
    assert row["scored"] == 3 and row["reference"] == 0 and row["frames"] == 5
    assert row["floor_mean"] == pytest.approx(np.mean([0.2, 0.4, 0.1]))
    assert row["floor_max"] == pytest.approx(0.4)
    assert row["floor_p95"] == pytest.approx(np.percentile([0.2, 0.4, 0.1], 95))
    assert row["turn_p95"] == pytest.approx(np.percentile([20, 40, 10], 95))


def test_no_reference_face_gives_no_floor():
    assert np.isnan(floor_of(FakeJudge(), _frames([0, 30]), reference=0)["floor_p95"])
    assert floor_of(FakeJudge(), _frames([10, 30]), reference=-1)["scored"] == 0


def test_markdown_has_a_row_per_clip():
    row = {"driver": "raw/a/clip.mp4", "source": "raw/b/photo.jpg", **floor_of(FakeJudge(), _frames([10, 30]), 0)}
    text = markdown({"command": "c", "machine": "m", "judge": "j", "clips": [row]})
    assert "| clip.mp4 | photo.jpg | 2 | 0 | 1 | 0.200 | 0.200 | 0.200 | 20 |" in text


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--data", str(tmp_path)]) == 2
    assert "no shared data" in capsys.readouterr().err
    (tmp_path / "MANIFEST.csv").write_text("path,kind,group,pose_class,note\n")
    assert main(["--data", str(tmp_path), "--max-seconds", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--max-seconds" in err
