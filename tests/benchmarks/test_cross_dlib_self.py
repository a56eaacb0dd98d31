"""benchmarks.cross_dlib beyond the cross metrics: per-frame details, the worst-frames tiles, convert modes
given on the command line, and the self-reenactment suite (synthetic, and one shared clip end to end)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.cross_dlib import (
    LARGE_TURN_DEG,
    SHEET_KINDS,
    FrameDetails,
    aggregate_self,
    main,
    match_frame,
    mode_options,
    score_series,
    self_markdown,
    self_scores,
    self_summary,
    suite_pairs,
    turn_from,
    worst_tiles,
)
from benchmarks.dlib_judge import JudgedFace


def _face(yaw: float = 0.0, pitch: float = 0.0, points: np.ndarray | None = None) -> JudgedFace:
    return JudgedFace(np.zeros((68, 2)) if points is None else points, yaw, pitch, 0.0, 0.2, 0.3, 0.5)


class FakeJudge:
    """Reads a frame's first pixel: 0 = no face, else a face whose yaw is that value; identity = yaw / 100."""

    def judge(self, image):
        v = float(image[0, 0, 0])
        return None if v == 0 else _face(yaw=v)

    def identity(self, image, face):
        return np.array([face.yaw / 100.0, 0.0])


def _frames(values) -> list[np.ndarray]:
    return [np.full((8, 8, 3), v, np.uint8) for v in values]


class TestFrameDetails:
    def test_score_series_reports_the_frames_behind_its_figures(self):
        driver = _frames([10, 20, 30, 40, 50])
        output = _frames([10, 0, 30, 60, 50])  # frame 1 loses the face; frame 3 turns 20 deg too far
        res, details = score_series(FakeJudge(), driver, output, np.array([0.1, 0.0]), max_yaw=45.0)
        np.testing.assert_array_equal(details.output_found, [True, False, True, True, True])
        assert details.driver_found.all() and res["face_found"] == pytest.approx(0.8)
        # yaw figures: driver within 45 deg and both faces -> frames 0, 2, 3 (frame 4's driver is at 50)
        assert np.isnan(details.yaw_error[[1, 4]]).all()
        assert np.argmax(np.abs(np.nan_to_num(details.yaw_error))) == 3
        assert res["yaw_error"] == pytest.approx(np.nanmean(np.abs(details.yaw_error)))
        np.testing.assert_allclose(details.identity, [0.0, np.nan, 0.2, 0.5, 0.4])
        assert res["identity_p95"] == pytest.approx(np.percentile([0.0, 0.2, 0.5, 0.4], 95))

    def test_worst_tiles_pick_the_failing_frames(self):
        details = FrameDetails(
            driver_found=np.array([True, True, True, False]),
            output_found=np.array([True, False, True, False]),
            identity=np.array([0.3, np.nan, 0.7, np.nan]),
            yaw_error=np.array([1.0, np.nan, -9.0, np.nan]),
        )
        frames = _frames([1, 2, 3, 4])
        tiles = worst_tiles(details, frames, frames, "pair", per_pair=1, height=4)
        by_kind = {t.kind: t for t in tiles}
        assert set(by_kind) == set(SHEET_KINDS)
        assert "f1 " in by_kind["face not found"].caption  # frame 3 lost the face too, but so did its driver
        assert "f2 " in by_kind["identity distance"].caption and by_kind["identity distance"].badness == 0.7
        assert "f2 " in by_kind["yaw error"].caption and by_kind["yaw error"].badness == 9.0
        assert by_kind["face not found"].driver.shape == (4, 4, 3)


class TestModes:
    def test_named_and_ad_hoc_modes(self):
        assert mode_options("geometric") == {"generator": "geometric"}
        assert mode_options("generator=geometric+size=320+paste_back=false") == {
            "generator": "geometric",
            "size": 320,
            "paste_back": False,
        }
        assert mode_options("reference_frame=5") == {"reference_frame": 5}

    @pytest.mark.parametrize("mode", ["nope", "warpz=mesh", "out=x.mp4", "edits=1"])
    def test_bad_modes_are_refused(self, mode):
        with pytest.raises(ValueError, match=mode.split("=")[0]):
            mode_options(mode)

    def test_bad_mode_is_exit_2_before_any_work(self, tmp_path, capsys):
        (tmp_path / "MANIFEST.csv").write_text("path,kind\n")
        assert main(["--suite", "self-large-pose", "--data", str(tmp_path), "--modes", "default,warpz=mesh"]) == 2
        assert "'warpz' is not a convert option" in capsys.readouterr().err


def test_interrupt_is_exit_130(tmp_path, monkeypatch, capsys):
    import benchmarks.cross_dlib as cd

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    (tmp_path / "MANIFEST.csv").write_text("path,kind,pose_class,group,note\n")
    monkeypatch.setattr(cd, "open_judge", lambda prog: type("J", (), {"detail": "fake"})())
    monkeypatch.setattr(cd, "run_self_suite", interrupted)
    out = tmp_path / "report.md"
    assert main(["--suite", "self-large-pose", "--data", str(tmp_path), "--markdown", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err and not out.exists()


def test_missing_judge_is_exit_2(tmp_path, monkeypatch, capsys):
    import benchmarks.dlib_judge as dj

    (tmp_path / "MANIFEST.csv").write_text("path,kind\n")
    monkeypatch.setattr(dj, "judge_status", lambda: (False, "dlib is not installed"))
    assert main(["--suite", "large-pose", "--data", str(tmp_path)]) == 2
    assert "dlib is not installed" in capsys.readouterr().err


class TestSelfScoring:
    def test_turn_is_the_larger_of_yaw_and_pitch(self):
        src = _face(yaw=10, pitch=-5)
        assert turn_from(_face(yaw=45, pitch=0), src) == pytest.approx(35)
        assert turn_from(_face(yaw=0, pitch=30), src) == pytest.approx(35)
        assert turn_from(_face(yaw=-175, pitch=-5), _face(yaw=175, pitch=-5)) == pytest.approx(10)  # wrapped

    def test_match_frame_trims_or_scales(self):
        truth = np.arange(7 * 9 * 3, dtype=np.uint8).reshape(7, 9, 3)
        pts = np.array([[4.0, 2.0]])
        same, p = match_frame(truth, pts, (6, 8, 3))  # convert trims odd sides
        assert same.shape == (6, 8, 3) and (same == truth[:6, :8]).all() and p is pts
        big = np.zeros((100, 200, 3), np.uint8)
        small, p = match_frame(big, np.array([[100.0, 50.0]]), (50, 100, 3))  # and scales to its max side
        assert small.shape == (50, 100, 3)
        np.testing.assert_allclose(p, [[50.0, 25.0]])

    def test_self_scores_see_only_the_face(self):
        rng = np.random.default_rng(0)
        truth = rng.integers(0, 255, (120, 160, 3), np.uint8)
        pts = np.array([[60.0 + 40 * np.cos(a), 60.0 + 40 * np.sin(a)] for a in np.linspace(0, 6.2, 68)])
        pts[36:42], pts[42:48] = (45, 50), (75, 50)
        out = truth.copy()
        out[:, 130:] = 0  # far from the face: the face scores stay perfect, the frame's do not
        psnr_face, ssim_face, psnr_frame = self_scores(out, truth, pts)
        assert math.isinf(psnr_face) and ssim_face == pytest.approx(1.0) and psnr_frame < 20
        out[55:65, 55:65] = 0  # inside the face
        psnr_face, ssim_face, _ = self_scores(out, truth, pts)
        assert psnr_face < 30 and ssim_face < 1.0

    def test_summary_splits_off_the_large_turns(self):
        per_frame = {
            "frame": [1, 2, 3, 4],
            "turn": [5.0, LARGE_TURN_DEG + 1, 10.0, 50.0],
            "psnr_face": [30.0, 20.0, 28.0, 18.0],
            "ssim_face": [0.9, 0.5, 0.8, 0.4],
            "psnr_frame": [25.0, 20.0, 24.0, 19.0],
        }
        res = self_summary(per_frame)
        assert res["scored"] == 4 and res["large"] == 2 and res["max_turn"] == 50
        assert res["psnr_face"] == pytest.approx(24.0) and res["psnr_face_large"] == pytest.approx(19.0)
        assert res["ssim_face_large"] == pytest.approx(0.45)
        row = {"mode": "default", "driver": "raw/a.mp4", "source_frame": 0, "source_yaw": 1.0, "source_pitch": 2.0}
        row |= {"frames": 5, "driver_found": 1.0, **res, "per_frame": per_frame}
        agg = aggregate_self([row, row | {"per_frame": {k: v[:2] for k, v in per_frame.items()}, "frames": 3}])
        assert agg["clips"] == 2 and agg["frames"] == 8 and agg["scored"] == 6 and agg["large"] == 3
        report = {"suite": "self-large-pose", "command": "c", "machine": "m", "judge": "j", "label": "l"}
        text = self_markdown(report | {"modes": {"default": agg}, "pairs": [row], "notes": ["n1"]})
        assert "SSIM face > 30 deg" in text and "| a.mp4 | 0 (+1, +2) |" in text and "- n1" in text


@pytest.mark.shared_data
def test_self_suite_pairs_each_large_clip_with_itself():
    from tests.conftest import shared_file

    data = shared_file("MANIFEST.csv").parent
    pairs = suite_pairs(data, "self-large-pose")
    assert [p.driver for p in pairs] == [p.driver for p in suite_pairs(data, "large-pose")]
    assert all(p.source == p.driver for p in pairs)


@pytest.mark.shared_data
def test_self_clip_end_to_end(tmp_path):
    """One short shared LARGE clip driving its own look-ahead frame: geometric output resembles the clip."""
    from benchmarks.cross_dlib import run_self_clip
    from benchmarks.dlib_judge import judge_status
    from tests.conftest import shared_file

    ok, why = judge_status()
    if not ok:
        pytest.skip(f"needs dlib: {why}")
    from benchmarks.dlib_judge import DlibJudge

    data = shared_file("MANIFEST.csv").parent
    pair = suite_pairs(data, "self-large-pose")[0]
    rows, notes = run_self_clip(DlibJudge(), data, pair, ["geometric"], 1.0, tmp_path)
    assert not notes and len(rows) == 1
    row = rows[0]
    assert row["scored"] >= 5 and row["source_frame"] not in row["per_frame"]["frame"]
    assert f"frame {row['source_frame']} " in row["reference"]  # the default look-ahead picks the source frame
    assert 15 < row["psnr_face"] < 45 and 0.3 < row["ssim_face"] <= 1.0
    assert not list(tmp_path.glob("*.mp4"))
