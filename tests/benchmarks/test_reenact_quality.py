"""``benchmarks.reenact_quality`` end to end on a tiny dataset prepared from three shared clips (2 s each).

Skips with a message when ``../shared/data`` (``REENACT_SHARED_DATA``) is absent.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import quality_metrics as Q
from benchmarks.reenact_quality import QualityConfig, evaluate, main, plan_clips, render_markdown
from training.dataset import LandmarkDataset
from training.samplers import split_by_identity

#: With three identities, this share holds two out (so every split, cross included, has a clip).
VAL_FRACTION = 0.67


def test_unknown_method_is_exit_2(tmp_path, capsys):
    assert main(["--data", str(tmp_path), "--methods", "geometric,rfg-nope", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown reenactor 'rfg-nope'") and "geometric" in err


def test_missing_dataset_is_exit_2(tmp_path, capsys):
    assert main(["--data", str(tmp_path / "none"), "--quick", "--quiet"]) == 2
    assert "not a prepared dataset" in capsys.readouterr().err


@pytest.mark.shared_data
def test_plan_matches_training_split(tiny_dataset):
    ds = LandmarkDataset(tiny_dataset)
    cfg = QualityConfig(tiny_dataset, val_fraction=VAL_FRACTION)
    train_ids, val_ids = split_by_identity(ds.identities, VAL_FRACTION, 0)
    assert len(val_ids) == 2 and len(train_ids) == 1
    clips = plan_clips(ds, cfg)
    by_split = {s: [c for c in clips if c.split == s] for s in ("heldout-identities", "heldout-tail", "cross")}
    assert {ds.videos[c.source_video].identity for c in by_split["heldout-identities"]} == set(val_ids)
    for c in by_split["heldout-identities"]:
        assert c.frames == range(len(ds.videos[c.source_video]))
    (tail,) = by_split["heldout-tail"]
    n = len(ds.videos[tail.source_video])
    assert ds.videos[tail.source_video].identity in train_ids
    assert tail.frames == range(n)[Q.heldout_tail(n)]
    for c in by_split["heldout-identities"] + by_split["heldout-tail"]:
        window = range(c.frames.start, c.frames.start + max(1, -(-len(c.frames) // 5)))
        assert c.source_frame in window and c.reference_frame == c.source_frame
        assert c.source_frame == Q.most_frontal(ds.videos[c.source_video].pose, window)
    assert len(by_split["cross"]) == 2
    for c in by_split["cross"]:
        a, b = ds.videos[c.source_video], ds.videos[c.driver_video]
        assert a.identity != b.identity and {a.identity, b.identity} <= set(val_ids)


@pytest.mark.shared_data
def test_quick_run_reports_every_split(tiny_dataset):
    cfg = QualityConfig(tiny_dataset, val_fraction=VAL_FRACTION, max_clips=1, max_frames=12, progress=False, quick=True)
    report = evaluate(cfg, "test")
    summary = report["summary"]
    assert set(summary) == {"heldout-identities", "heldout-tail", "cross"}
    for split, entry in summary.items():
        geo = entry["methods"]["geometric"]
        assert entry["clips"] == 1 and geo["frames"] > 0
        assert geo["face_found"] > 0.5 and geo["pose_error_deg"] is not None and geo["pose_error_deg"] < 20
        if split != "cross":
            assert entry["scored_frames"] == entry["driver_frames"] - 1  # the source frame is not scored
            assert 15 < geo["psnr_valid"] < 60 and 0.3 < geo["ssim_valid"] <= 1 and 0.3 < geo["ssim_face"] <= 1
            assert geo["landmark_distance"] < 0.5
            assert geo["large_pose"]["frames"] >= 0 and geo["top_yaw_decile"]["frames"] >= 1
        if geo["identity_frames"]:
            assert 0.5 < geo["identity"] <= 1.0
    text = render_markdown(report)
    assert "Quick mode" in text and "PSNR valid crop" in text and "Cross-reenactment" in text
    json.dumps(report)  # JSON-ready


@pytest.mark.shared_data
def test_cli_writes_markdown_and_json(tiny_dataset, tmp_path):
    md, js = tmp_path / "q.md", tmp_path / "q.json"
    args = ["--data", str(tiny_dataset), "--quick", "--max-frames", "6", "--no-identity", "--quiet"]
    assert main([*args, "--markdown", str(md), "--json", str(js)]) == 0
    report = json.loads(js.read_text())
    assert report["quick"] and report["command"].startswith("python -m benchmarks.reenact_quality --data")
    assert report["identity_model"].startswith("off")
    assert report["dataset"]["tail_fraction"] == Q.TAIL_FRACTION
    assert "Reenactment quality" in md.read_text()
    again = tmp_path / "again.md"
    assert main(["--from-json", str(js), "--markdown", str(again)]) == 0
    assert again.read_text() == md.read_text()


@pytest.mark.shared_data
def test_rfg_rows_with_given_weights(tiny_dataset, tmp_path):
    """rfg-global / rfg-global-local score next to geometric; a fresh RFG draws (almost) the geometric base."""
    from streamer.models.rfg import build_networks, save_networks

    weights = tmp_path / "rfg.safetensors"
    save_networks(build_networks(), weights)
    js = tmp_path / "q.json"
    methods = "geometric,rfg-global,rfg-global-local"
    args = ["--data", str(tiny_dataset), "--quick", "--max-frames", "6", "--no-identity", "--quiet"]
    assert main([*args, "--methods", methods, "--weights", str(weights), "--json", str(js)]) == 0
    report = json.loads(js.read_text())
    assert str(weights) in report["weights"] and "sha256" in report["weights"]
    for split in ("heldout-identities", "heldout-tail"):
        rows = report["summary"][split]["methods"]
        assert set(rows) == set(methods.split(","))
        for m in ("rfg-global", "rfg-global-local"):
            assert rows[m]["frames"] == rows["geometric"]["frames"] > 0
            assert abs(rows[m]["psnr_valid"] - rows["geometric"]["psnr_valid"]) < 1.0
