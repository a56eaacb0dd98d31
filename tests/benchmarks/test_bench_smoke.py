"""Smoke test: ``reenact bench --quick --json`` through the CLI on the bundled example (one run, several checks)."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from streamer.cli import main

STAGES = (
    "decode",
    "detect",
    "track",
    "align",
    "reenact.prepare",
    "reenact.step",
    "warp",
    "paste",
    "bgr2yuv",
    "encode",
)
RFG_PARTS = ("rfg_source", "rfg_global", "rfg_local", "rfg_calibration")
SETTINGS = ("geometric", "rfg-global", "rfg-global-local")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The quick bench's exit code, JSON result, Markdown report and terminal output."""
    tmp = tmp_path_factory.mktemp("bench")
    out, md = tmp / "bench.json", tmp / "RESULTS.md"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["bench", "--quick", "--example", "--quiet", "--json", str(out), "--markdown", str(md)])
    return rc, json.loads(out.read_text()), md.read_text(), stdout.getvalue()


def test_quick_bench_json(quick_run):
    rc, result, md, stdout = quick_run
    assert rc == 0
    rows = result["rows"]
    assert not [r for r in rows if r["status"] == "failed"]
    for stage in STAGES:
        measured = [r for r in rows if r["section"] == "stage" and r["name"] == stage and r["status"] == "ok"]
        assert measured, f"no timing for stage {stage}"
        for r in measured:
            t = r["timing"]
            assert t["n"] >= 1 and 0 < t["min_ms"] <= t["median_ms"] <= t["max_ms"], (stage, t)
    e2e = [r for r in rows if r["section"] == "end_to_end" and r["status"] == "ok"]
    assert e2e and e2e[0]["timing"]["median_ms"] > 0 and e2e[0]["metrics"]["frames"] > 0
    streams = [r for r in rows if r["section"] == "streams" and r["status"] == "ok"]
    assert [r["variant"]["streams"] for r in streams][:1] == [1]
    assert all(r["metrics"]["aggregate_fps"] > 0 for r in streams)
    model = [r for r in rows if r["section"] == "model"]
    assert model and all(r["metrics"]["gflops"] > 0 and r["metrics"]["peak_gflop_s"] > 0 for r in model)
    tensorrt = [r for r in rows if r["variant"].get("backend") == "tensorrt"]
    assert tensorrt and all(r["status"] in ("absent", "ok") and (r["note"] or r["timing"]) for r in tensorrt)
    machine = result["machine"]
    for key in ("cpu", "cores", "gpus", "cuda", "tensorrt", "libraries"):
        assert key in machine
    assert machine["cores"] >= 1 and machine["libraries"]["torch"] != "absent"
    assert "## Summary" in md
    assert "decode" in stdout


def test_quick_bench_has_the_generator_rows(quick_run):
    _, result, md, stdout = quick_run
    rows = [r for r in result["rows"] if r["status"] == "ok"]
    # Model cost of every deployed RFG graph, in torch and onnxruntime, random weights said so.
    for part in RFG_PARTS:
        got = {r["variant"]["backend"]: r for r in rows if r["section"] == "model" and r["name"] == part}
        assert set(got) >= {"torch", "onnxruntime"}, part
        for r in got.values():
            m = r["metrics"]
            # No upper bound on the share: a busy machine measures its matmul peak low (see the report's note).
            assert m["params"] > 0 and m["gflops"] > 0 and m["share_of_peak_pct"] > 0
            assert r["variant"]["weights"] == "random weights" or "weights" in r["variant"]["weights"]
        assert got["torch"]["metrics"]["per"] == ("source" if part == "rfg_source" else "frame")
    # Per frame and end to end, per generator setting.
    for section, name in (("stage", "reenact.step"), ("end_to_end", "convert")):
        settings = {r["variant"].get("generator") for r in rows if r["section"] == section and r["name"] == name}
        assert settings >= set(SETTINGS), (name, settings)
    # Each convert row ran the generator its label names (the geometric rows once ran the default RFG).
    for r in rows:
        if r["section"] == "end_to_end" and r["name"] == "convert":
            ran = r["metrics"]["generator"]
            assert ran.startswith("rfg") if r["variant"]["generator"].startswith("rfg") else ran.startswith("geometric")
    local = [r for r in rows if r["name"] == "reenact.step" and r["variant"].get("generator") == "rfg-global-local"]
    assert local and all(r["metrics"]["local_path_share"] > 0.5 for r in local)
    ratios = [r for r in rows if r["name"] == "generator-vs-geometric"]
    assert {r["variant"]["generator"] for r in ratios} == {"rfg-global", "rfg-global-local"}
    # Live latency skipped with its reason; quality shown or pointed to.
    (live,) = [r for r in result["rows"] if r["name"] == "glass_to_glass"]
    assert live["status"] == "absent" and "--quick" in live["note"]
    assert [r for r in result["rows"] if r["name"] == "quality"]
    for text in (stdout, md):
        assert "rfg-global-local" in text and ("random weights" in text or "trained weights" in text)
        assert "PSNR face dB" in text or "quality: see benchmarks/QUALITY.md (not measured in this run)" in text
    assert "ours: rfg-global-local" in md and "DG (paper)" in md
