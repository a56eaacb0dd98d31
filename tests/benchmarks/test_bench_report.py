"""Table rendering and the report built from a result dict."""

from __future__ import annotations

import pytest

from benchmarks.registry import BenchContext, Row, register, run_benches
from benchmarks.report import markdown_report, pick, summary_table
from benchmarks.stats import summarize
from benchmarks.tables import fmt_num, render_table


class TestRenderTable:
    def test_text_aligns_numbers_right(self):
        out = render_table(["stage", "ms"], [["decode", "1.5"], ["encode", "12.25"]])
        lines = out.splitlines()
        assert lines[0] == "stage      ms"
        assert set(lines[1]) == {"-", " "}
        assert lines[2] == "decode    1.5"
        assert lines[3] == "encode  12.25"

    def test_markdown(self):
        out = render_table(["a", "b"], [["x|y", "1–2"]], markdown=True)
        assert out.splitlines() == ["| a | b |", "|---|---:|", "| x\\|y | 1–2 |"]

    def test_wrong_row_length(self):
        with pytest.raises(ValueError):
            render_table(["a", "b"], [["only one"]])

    def test_fmt_num(self):
        assert fmt_num(0.123456) == "0.123"
        assert fmt_num(12.3456) == "12.3"
        assert fmt_num(1234.5) == "1234"
        assert fmt_num(7) == "7"
        assert fmt_num(None) == "-"
        assert fmt_num(True) == "yes"


def _row(section, name, variant, ms, metrics=None, status="ok", note=""):
    timing = summarize(ms) if ms else None
    return Row(section, name, variant, timing, status=status, metrics=metrics or {}, note=note).as_dict()


def _result() -> dict:
    rows = [
        _row("stage", "decode", {"input": "480p"}, [2.0, 3.0]),
        _row("stage", "decode", {"input": "720p"}, [4.0, 5.0, 6.0]),
        _row("stage", "track", {"input": "720p", "impl": "detector"}, [9.0]),
        _row("stage", "track", {"input": "720p", "impl": "temporal"}, [3.0]),
        _row("stage", "warp", {"crop": 256, "backend": "opencv", "threads": 1}, [0.5]),
        _row("stage", "warp", {"crop": 256, "backend": "torch", "threads": 1}, [1.5]),
        _row("stage", "warp", {"crop": 256, "backend": "tensorrt"}, [], status="absent", note="no trt"),
        _row("end_to_end", "convert", {"threads": 1}, [40.0]),
        _row(
            "streams",
            "convert",
            {"streams": 1},
            [40.0],
            {"aggregate_fps": 25.0, "per_stream_fps_min": 25.0, "target_fps": 25.0, "real_time": True},
        ),
    ]
    machine = {
        "cpu": "Test CPU",
        "cores": 2,
        "logical_cpus": 2,
        "memory_gib": 4.0,
        "os": "Linux",
        "gpus": ["none"],
        "cuda": {"available": False, "reason": "no CUDA"},
        "tensorrt": {"available": False, "reason": "not installed"},
        "libraries": {"torch": "x"},
    }
    config = {"input_heights": [480, 720], "crop_sizes": [256], "quick": True, "matmul_size": 512}
    inputs = {
        "origin": "test",
        "driver": "d.mp4",
        "source": "s.jpg",
        "driver_size": "8x8",
        "driver_fps": 25.0,
        "frames_used": 3,
        "source_size": "8x8",
    }
    return {
        "command": "reenact bench --quick",
        "created": "now",
        "elapsed_s": 1.0,
        "machine": machine,
        "config": config,
        "inputs": inputs,
        "peak_gflop_s": {"1": 100.0},
        "rows": rows,
    }


class TestReport:
    def test_pick_prefers_matching_variant(self):
        rows = _result()["rows"]
        decodes = [r for r in rows if r["name"] == "decode"]
        assert pick(decodes, {"input": "720p"})["variant"]["input"] == "720p"
        assert pick(decodes, {"input": "1080p"})["variant"]["input"] == "480p"  # nothing matches: first

    def test_summary_lists_stages_trackers_backends_and_streams(self):
        text = summary_table(_result())
        assert "720p" in text and "480p" not in text
        assert "detector" in text and "temporal" in text
        assert "torch" in text and "tensorrt" not in text  # absent rows are not in the summary
        assert "real time up to 1 at 25.0 fps" in text

    def test_markdown_has_sections_and_absent_reasons(self):
        md = markdown_report(_result(), ["bench.png"])
        for heading in ("## Machine", "## Summary", "## Every stage", "## Model cost", "## Not measured here"):
            assert heading in md
        assert "not installed" in md and "Test CPU" in md
        assert "DG (paper)" in md and "RTX 3090" in md
        assert "![bench](bench.png)" in md


class TestRegistry:
    def test_failure_becomes_a_failed_row(self):
        from benchmarks.registry import BENCHES, Bench

        def broken(ctx):
            raise RuntimeError("boom")
            yield  # pragma: no cover

        ctx = BenchContext(config=None, inputs=None)  # type: ignore[arg-type]
        rows = run_benches(ctx, [Bench("broken", "stage", "t", broken)])
        assert rows[0].status == "failed" and "boom" in rows[0].note
        assert "broken" not in BENCHES

    def test_duplicate_name_rejected(self):
        from benchmarks.registry import load_benches

        load_benches()
        with pytest.raises(ValueError):
            register("decode", "stage", "again")(lambda ctx: [])


class TestAxes:
    def test_thread_counts(self):
        from benchmarks.config import thread_counts

        assert thread_counts(1) == (1,)
        assert thread_counts(2) == (1, 2)
        assert thread_counts(16) == (1, 2, 16)

    def test_letterbox_keeps_the_face_undistorted(self):
        import numpy as np

        from benchmarks.inputs import letterbox_affine

        affine, size = letterbox_affine(512, 512, 720)
        assert size == (1280, 720)
        assert affine[0, 0] == affine[1, 1] == 720 / 512
        assert np.allclose(affine @ [256, 256, 1], [640, 360])

    def test_absent_lines_group_by_reason(self):
        from benchmarks.report import absent_lines

        lines = absent_lines(_result())
        assert lines == ["warp/tensorrt: absent: no trt"]
