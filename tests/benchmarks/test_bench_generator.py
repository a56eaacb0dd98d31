"""The generator's bench pieces: FLOP and parameter counts, random weights, quality lookup, report tables."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.flops import count_flops, count_used_params, flop_breakdown, grid_sample_flops


class _TinyWarp(nn.Module):
    """A 1x1 conv (2 -> 3 channels) on a 5x5 image, then a bilinear grid_sample at 3x4 points."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1, bias=False)

    def forward(self, image: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        return F.grid_sample(self.conv(image), grid, mode="bilinear", padding_mode="border", align_corners=True)


class _UsesHalf(nn.Module):
    """Holds two layers, calls one: only that one's parameters count."""

    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(4, 3)  # 15 parameters
        self.unused = nn.Linear(100, 100)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


class TestGridSampleCount:
    def test_tiny_module_against_a_hand_count(self):
        image, grid = torch.zeros(1, 2, 5, 5), torch.zeros(1, 3, 4, 2)
        # By hand: the 1x1 conv: 2 FLOPs x 2 in x 3 out per pixel, 25 pixels = 300.
        conv = 2 * 2 * 3 * 25
        # grid_sample: 12 output points x (4 taps x 3 channels x (1 mul + 1 add) + 10 for the weights) = 12 x 34.
        grid_part = 12 * (4 * 3 * 2 + 10)
        assert grid_part == 408 == grid_sample_flops(1, 3, 3, 4)
        assert flop_breakdown(_TinyWarp(), image, grid) == {"total": conv + grid_part, "grid_sample": grid_part}
        assert count_flops(_TinyWarp(), image, grid) == 708

    def test_rfg_global_grid_samples_by_hand(self):
        """The global integrator's four grid_samples, counted from its architecture (config widths)."""
        from streamer.models.rfg import build_networks
        from streamer.reenactors.rfg import example_inputs

        nets = build_networks()
        cfg = nets.config
        g, s = cfg.grid, cfg.size
        by_hand = (
            g * g * (8 * 2 + 10)  # the analytic flow (2 channels) resampled at the refined grid
            + g * g * (8 * cfg.feat_channels + 10)  # source features warped
            + s * s * (8 * 3 + 10)  # base refined at full size
            + g * g * (8 * 3 + 10)  # base at the grid size, for the decoder
        )
        counted = flop_breakdown(nets.parts()["rfg_global"], *example_inputs(nets)["rfg_global"])
        assert counted["grid_sample"] == by_hand
        assert counted["total"] > 100 * by_hand  # the convolutions dominate

    def test_used_params_skip_what_the_forward_does_not_call(self):
        assert count_used_params(_UsesHalf(), torch.zeros(1, 4)) == 15
        assert count_used_params(_TinyWarp(), torch.zeros(1, 2, 5, 5), torch.zeros(1, 3, 4, 2)) == 6

    def test_used_params_leave_the_inputs_alone(self):
        """A forward pre-hook that returns something replaces the inputs: ours must not."""
        out = _UsesHalf()(torch.ones(1, 4))
        count_used_params(_UsesHalf(), torch.ones(1, 4))
        assert out.shape == (1, 3)


class TestRandomWeights:
    def test_written_file_loads_and_is_seeded(self, tmp_path):
        from benchmarks.generator import write_random_weights
        from streamer.models.rfg import build_networks, load_networks

        a = load_networks(write_random_weights(tmp_path / "a.safetensors", seed=3))
        b = load_networks(write_random_weights(tmp_path / "b.safetensors", seed=3))
        fresh = build_networks()
        for name in ("gen", "local", "calib"):
            pa, pb, pf = (dict(getattr(n, name).named_parameters()) for n in (a, b, fresh))
            assert pa.keys() == pf.keys()
            assert all(torch.equal(pa[k], pb[k]) for k in pa)
            assert sum(p.numel() for p in pa.values()) == sum(p.numel() for p in pf.values())

    def test_settings_match_the_quality_method_names(self):
        from benchmarks.config import GENERATOR_SETTINGS
        from benchmarks.generator import SETTINGS

        assert tuple(SETTINGS) == GENERATOR_SETTINGS == ("geometric", "rfg-global", "rfg-global-local")
        assert SETTINGS["rfg-global-local"].cli_flags() == ["--generator", "rfg", "--integrator", "global-local"]
        assert SETTINGS["geometric"].cli_flags() == ["--generator", "geometric"]


def _quality_file(tmp_path, methods: dict) -> object:
    path = tmp_path / "quality.json"
    path.write_text(
        json.dumps({"date": "today", "quick": False, "summary": {"heldout-identities": {"methods": methods}}})
    )
    return path


class TestQuality:
    def test_reads_the_columns_per_method(self, tmp_path):
        from benchmarks.hooks import read_quality

        values = {"psnr_face": 24.0, "ssim_face": 0.79, "pose_error_deg": 0.74, "identity": 0.987, "other": 1}
        table, source = read_quality(_quality_file(tmp_path, {"geometric": values}))
        assert table == {
            "geometric": {"psnr_face_db": 24.0, "ssim_face": 0.79, "pose_error_deg": 0.74, "identity_cos": 0.987}
        }
        assert "today" in source and "heldout-identities" in source

    @pytest.mark.parametrize("content", [None, "not json", json.dumps({"summary": {}})])
    def test_missing_or_foreign_file_is_none(self, tmp_path, content):
        from benchmarks.hooks import read_quality

        path = tmp_path / "quality.json"
        if content is not None:
            path.write_text(content)
        assert read_quality(path) is None

    def test_bench_says_not_measured_without_a_file(self, tmp_path, monkeypatch):
        from benchmarks import hooks
        from benchmarks.config import BenchConfig
        from benchmarks.registry import BenchContext

        monkeypatch.setattr(hooks, "QUALITY_JSON", tmp_path / "absent.json")
        rows = list(hooks.bench_quality(BenchContext(BenchConfig(), inputs=None)))  # type: ignore[arg-type]
        assert [(r.status, r.note) for r in rows] == [
            ("absent", "quality: see benchmarks/QUALITY.md (not measured in this run)")
        ]

    def test_glass_to_glass_is_skipped_in_quick(self):
        from benchmarks.config import BenchConfig
        from benchmarks.hooks import bench_glass_to_glass
        from benchmarks.registry import BenchContext

        ctx = BenchContext(BenchConfig.create(quick=True), inputs=None)  # type: ignore[arg-type]
        (row,) = bench_glass_to_glass(ctx)
        assert row.status == "absent" and "skipped in --quick" in row.note


def _row(section, name, variant, ms=None, metrics=None, status="ok", note=""):
    from benchmarks.registry import Row
    from benchmarks.stats import summarize

    return Row(
        section, name, variant, summarize(ms) if ms else None, status, metrics=metrics or {}, note=note
    ).as_dict()


def _result(quality: bool) -> dict:
    step = {"crop": 256, "threads": 1}
    rfg = {"warp": "opencv", "weights": "random weights"}
    rows = [
        _row("stage", "reenact.step", {**step, "generator": "geometric", "backend": "opencv"}, [5.0]),
        _row("stage", "reenact.step", {**step, "generator": "rfg-global", "backend": "onnxruntime", **rfg}, [30.0]),
        _row(
            "stage", "reenact.step", {**step, "generator": "rfg-global-local", "backend": "onnxruntime", **rfg}, [50.0]
        ),
        _row("end_to_end", "convert", {"threads": 1, "generator": "geometric"}, [20.0], {"frames": 9}),
        _row("end_to_end", "convert", {"threads": 1, "generator": "rfg-global", "weights": "random weights"}, [40.0]),
    ]
    for name, gf in (("pixel_warp", 0.002), ("rfg_global", 0.7), ("rfg_local", 0.25), ("rfg_calibration", 0.15)):
        metrics = {"gflops": gf, "params": 10, "per": "frame", "achieved_gflop_s": 1.0, "peak_gflop_s": 100.0}
        variant = {"network": name, "crop": 256, "backend": "onnxruntime", "threads": 1}
        rows.append(_row("model", name, variant, [1.0], {**metrics, "share_of_peak_pct": 1.0}))
    live = {"p99_ms": 170.0, "dropped": 0, "sent": 100, "drop_pct": 0.0, "server_stale_drops": 0}
    live |= {"fps_back": 25.0, "fps_sent": 25.0}
    rows.append(_row("hook", "glass_to_glass", {"transport": "webrtc", "generator": "geometric"}, [100.0, 150.0], live))
    if quality:
        q = {"psnr_face_db": 24.0, "ssim_face": 0.79, "pose_error_deg": 0.74, "identity_cos": 0.99}
        rows.append(_row("hook", "quality", {"generator": "geometric"}, metrics=q, note="from quality.json"))
    else:
        rows.append(
            _row(
                "hook",
                "quality",
                {},
                status="absent",
                note="quality: see benchmarks/QUALITY.md (not measured in this run)",
            )
        )
    machine = {"cpu": "Test CPU"}
    config = {
        "input_heights": [720],
        "crop_sizes": [256],
        "generators": ["geometric", "rfg-global", "rfg-global-local"],
    }
    return {"rows": rows, "machine": machine, "config": config}


class TestGeneratorReport:
    def test_generator_table_speed_and_quality(self):
        from benchmarks.report import generator_table

        text = generator_table(_result(quality=True))
        lines = text.splitlines()
        geometric = next(line for line in lines if line.startswith("geometric"))
        assert "5.00" in geometric and "50.0" in geometric and "125/" in geometric and "24.0" in geometric
        rfg = next(line for line in lines if line.startswith("rfg-global-local"))
        assert "1.10" in rfg and "50.0" in rfg  # GFLOPs: warp + global + local + calibration
        assert "PSNR face dB" in text and "random weights" in text

    def test_generator_table_without_quality_says_where_it_is(self):
        from benchmarks.report import generator_table

        text = generator_table(_result(quality=False))
        assert "quality: see benchmarks/QUALITY.md (not measured in this run)" in text
        assert "PSNR" not in text

    def test_research_table_ratios_of_gflops_only(self):
        from benchmarks.report import research_table

        text = research_table(_result(quality=False))
        row = next(line for line in text.splitlines() if "ours: rfg-global-local" in line)
        assert "85.5" not in row and "77.6x" in row and "88.3x" in row  # 85.5 / 1.102, 97.3 / 1.102
        assert "RTX 3090" in text and "measured here" in row

    def test_summary_shows_each_generator_and_convert_setting(self):
        from benchmarks.report import summary_table

        result = _result(quality=False)
        result["config"]["input_heights"] = [720]
        text = summary_table(result)
        assert "rfg-global-local" in text and "random weights" in text and "opencv warp" not in text
        assert "1 thr, rfg-global, random weights" in text


@pytest.mark.parametrize("revealed", [False, True])
def test_rfg_fixture_builds_the_per_frame_inputs_the_weights_take(astronaut, astronaut_face, tmp_path, revealed):
    """The bench's real part inputs come from the reenactor's own ``global_inputs``: weights with the
    revealed mask run on the mesh warp they were trained on and get the mask as an 8th input."""
    from types import SimpleNamespace

    from benchmarks.generator import RFGFixture
    from tests.models.rfg_files import turned, write_rfg_file

    weights = write_rfg_file(tmp_path / "w.safetensors", revealed=revealed)
    drivers = [astronaut_face.with_points(turned(astronaut_face.points, d)) for d in (0.0, 6.0, 12.0)]
    inputs = SimpleNamespace(workdir=tmp_path, source_face=astronaut_face, source_image=astronaut, landmarks=drivers)

    class Context:  # hashable: the stages cache by context
        def __init__(self) -> None:
            self.config, self.inputs = SimpleNamespace(weights=weights), inputs

    fx = RFGFixture(Context())
    assert fx.warp == ("mesh" if revealed else "planar") and ("mesh warp" in fx.label) == revealed
    frame = fx.part_inputs["rfg_global"]
    assert len(frame) == 7 + revealed
    if revealed:
        assert frame[-1].shape == (1, 1, 256, 256) and frame[-1].any()
    assert fx.cost("rfg_global")["total"] > 0
    assert fx.runner("rfg_global", "torch", 1)()[0].shape == (1, 3, 256, 256)
