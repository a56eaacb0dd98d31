"""``reenact prepare`` on the example clip: layout, geometry, resume, corrupt files, identity rules."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamer.cli import main as cli_main
from training.prepare import PrepareConfig, discover_videos, prepare_dataset, read_identity_map


def test_layout_and_geometry(prepared_example):
    index = json.loads((prepared_example / "index.json").read_text())
    (video,) = index["videos"]
    assert video["identity"] == "clip" and 8 <= video["frames"] <= 10  # 1 s at 10 fps
    folder = prepared_example / "videos" / "clip"
    with np.load(folder / "landmarks.npz") as d:
        n = len(d["time"])
        assert d["crop_points"].shape == d["image_points"].shape == (n, 68, 3)
        assert d["visibility"].shape == (n, 68) and d["pose"].shape == (n, 3) and d["affine"].shape == (n, 2, 3)
        assert np.all(np.diff(np.floor(d["time"] * 10 + 1e-6)) >= 1)  # one frame per 1/10 s bin
        a = d["affine"][0].astype(np.float64)
        xy = d["image_points"][0][:, :2] @ a[:, :2].T + a[:, 2]
        np.testing.assert_allclose(xy, d["crop_points"][0][:, :2], atol=1e-3)
    crops = sorted((folder / "frames").glob("*.jpg"))
    assert len(crops) == n and cv2.imread(str(crops[0])).shape == (256, 256, 3)


def test_resume_skips_done_and_redoes_partial(example_clip, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(example_clip, videos / "a.mp4")
    shutil.copy(example_clip, videos / "b.mp4")
    (videos / "broken.mp4").write_bytes(b"\x00\x01 not a video" * 64)
    out = tmp_path / "ds"
    cfg = PrepareConfig(fps=5, max_seconds=0.6)
    first = prepare_dataset(videos, out, cfg, progress=False)
    assert (first.done, first.skipped, len(first.failed)) == (2, 0, 1)
    assert "broken.mp4" in first.failed[0][0] and not (out / "videos" / "broken").exists()
    (out / "videos" / "b" / "meta.json").unlink()  # as if interrupted while writing b
    (out / "videos" / "b" / "frames" / "stale.jpg").write_bytes(b"x")
    seen = []
    second = prepare_dataset(videos, out, cfg, progress=False, on_video=lambda e: seen.append(e.key))
    assert (second.done, second.skipped) == (1, 1) and "b" in seen and "a" not in seen
    assert not (out / "videos" / "b" / "frames" / "stale.jpg").exists()
    index = json.loads((out / "index.json").read_text())
    assert [v["key"] for v in index["videos"]] == ["a", "b"] and len(index["failed"]) == 1


def test_identity_rules(tmp_path):
    for rel in ("id001/vidA/00001.mp4", "id001/vidB/00002.mp4", "id002/vidC/00001.mp4", "flat/x.mp4", "y.mov"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "photo.jpg").write_bytes(b"")
    entries = {e.key: e.identity for e in discover_videos(tmp_path)}
    assert entries == {
        "id001__vidA__00001": "id001",
        "id001__vidB__00002": "id001",
        "id002__vidC__00001": "id002",
        "flat__x": "flat__x",
        "y": "y",
    }
    mapping = tmp_path / "map.csv"
    mapping.write_text("path,group\nraw/flat/x.mp4,alice\ny.mov,alice\n")
    entries = {e.key: e.identity for e in discover_videos(tmp_path, read_identity_map(mapping))}
    assert entries["flat__x"] == entries["y"] == "alice" and entries["id002__vidC__00001"] == "id002"


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    assert cli_main(["prepare", "--videos", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert cli_main(["train", "no-such-preset", "--data", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("reenact: error:") for line in err)


@pytest.mark.shared_data
def test_shared_videos_are_found(tmp_path):
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "raw").is_dir():
        pytest.skip(f"needs the shared real data ({SHARED_DATA} is absent; set REENACT_SHARED_DATA)")
    entries = discover_videos(SHARED_DATA / "raw", read_identity_map(SHARED_DATA / "MANIFEST.csv"))
    # The data grows between sessions: every driver video the manifest lists is found, nothing else.
    with open(SHARED_DATA / "MANIFEST.csv", newline="") as f:
        listed = {row["path"] for row in csv.DictReader(f) if row["kind"] == "driver video"}
    assert {str(Path(e.path).relative_to(SHARED_DATA)) for e in entries} == listed
    aoc = [e for e in entries if e.identity == "aoc"]
    assert len(aoc) == 3
    assert Path(aoc[0].path).suffix == ".mp4"
