"""benchmarks.detector_dlib: correlations and the one-line errors."""

import numpy as np

from benchmarks import detector_dlib as D


def test_pearson_skips_missing_frames():
    a = np.array([0.1, 0.2, np.nan, 0.4, 0.5])
    b = np.array([1.0, 2.0, 3.0, np.nan, 5.0])
    assert abs(D.pearson(a, b) - 1.0) < 1e-9
    assert np.isnan(D.pearson(np.array([0.1, np.nan]), np.array([0.2, 0.3])))
    assert np.isnan(D.pearson(np.ones(5), np.arange(5.0)))  # a flat series has no correlation


def test_missing_data_is_a_one_line_error(tmp_path, capsys):
    from benchmarks.dlib_judge import judge_status

    code = D.main(["--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert ("MANIFEST.csv" in err) if judge_status()[0] else ("dlib" in err)


def test_axis_slope_is_the_scale_between_two_noisy_readings():
    rng = np.random.default_rng(0)
    truth = rng.uniform(0, 0.4, 400)
    mp = 1.3 * truth + rng.normal(0, 0.03, 400)
    dl = truth + rng.normal(0, 0.03 / 1.3, 400)
    slope = D.axis_slope(mp, dl)
    assert abs(slope - 1 / 1.3) < 0.04  # least squares would shrink it towards 0
    assert np.polyfit(mp, dl, 1)[0] < slope
    assert D.axis_slope(mp, -dl) < 0
    assert np.isnan(D.axis_slope(np.ones(5), np.arange(5.0)))


def test_disagreement_sheet_shows_the_frames_where_the_readers_part():
    """Synthetic: six frames whose number is written in them; the readers agree except on frames 2 and 4,
    which the sheet shows first, each tile cropped round that frame's mouth points."""
    frames = []
    for i in range(6):
        frame = np.zeros((200, 200, 3), np.uint8)
        frame[:, :, 0] = 40 * i  # each frame's own blue level
        frames.append(frame)
    pts = np.zeros((68, 2))
    pts[:, 0] = np.linspace(60, 140, 68)
    pts[:, 1] = 100
    dlib_mouth = np.array([0.1, 0.2, 0.3, 0.2, 0.1, 0.2])
    mp_mouth = dlib_mouth.copy()
    mp_mouth[2], mp_mouth[4] = 0.05, 0.35  # disagree most
    sheet = D.disagreement_sheet(frames, [pts] * 6, [pts] * 6, mp_mouth, dlib_mouth, count=2)
    assert sheet.shape == (300, 600, 3)
    left, right = sheet[150:200, :100, 0], sheet[150:200, 300:400, 0]  # away from the drawn points and label
    assert {int(np.median(left)), int(np.median(right))} == {80, 160}
