"""Smoke test: ``reenact bench --quick --json`` through the CLI on the bundled example."""

from __future__ import annotations

import json

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


def test_quick_bench_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    md = tmp_path / "RESULTS.md"
    rc = main(["bench", "--quick", "--example", "--quiet", "--json", str(out), "--markdown", str(md)])
    assert rc == 0
    result = json.loads(out.read_text())
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
    assert "## Summary" in md.read_text()
    assert "decode" in capsys.readouterr().out
