"""``python -m benchmarks.rasterize`` runs end to end (tiny size, one repeat) and rejects bad arguments."""

from __future__ import annotations

import json

from benchmarks import rasterize as bench


def test_benchmark_writes_a_row_per_mesh_and_mode(cpu, tmp_path, capsys):
    out = tmp_path / "raster.json"
    assert bench.main(["--size", "64", "--repeats", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["mesh"], r["source_zbuffer"]) for r in rows] == [
        (m, z) for m in ("facemesh", "sphere", "grid") for z in (False, True)
    ]
    assert all(r["median_ms"] > 0 and r["covered"] > 0.1 for r in rows)
    assert rows[2]["triangles"] == 870 and rows[0]["triangles"] == 852
    assert "median ms" in capsys.readouterr().out


def test_benchmark_rejects_bad_sizes(capsys):
    assert bench.main(["--size", "4"]) == 2
    assert "error" in capsys.readouterr().err
