"""benchmarks.pair_frames: per-frame judgments of one pair, its summary, and its bad input."""

from __future__ import annotations

import numpy as np

from benchmarks.pair_frames import judge_pair, main, summary
from tests.benchmarks.test_cross_dlib_self import FakeJudge, _frames


def test_frames_carry_pose_identity_and_floor():
    driver = _frames([10, 20, 30])
    output = _frames([10, 0, 50])
    rows = judge_pair(FakeJudge(), driver, output, np.array([0.1, 0.0]), reference=0)
    assert rows[0]["floor"] == 0.0 and abs(rows[2]["floor"] - 0.2) < 1e-9
    assert "identity" not in rows[1] and rows[1]["driver_yaw"] == 20
    assert abs(rows[2]["identity"] - 0.4) < 1e-9 and rows[2]["out_yaw"] == 50
    text = summary("default", rows, top=1)
    assert "face found 66.7%" in text and "frame 2: identity 0.400" in text
    assert "no output face although the driver has one: [1]" in text


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--driver", "nope.mp4", "--source", "nope.jpg", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no driver" in err


def test_modes_holding_paths_become_flat_file_names():
    from benchmarks.pair_frames import file_stem

    assert file_stem("warp-mesh") == "warp-mesh"
    stem = file_stem("warp=mesh+weights=/work/runs/x y/rfg.safetensors")
    assert "/" not in stem and " " not in stem and stem.startswith("warp=mesh+weights=")
