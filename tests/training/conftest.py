"""Fixtures: the example clip prepared once, and a small multi-identity landmark dataset made from it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from streamer.alignment import crop_transform
from streamer.landmarks import JAW, LEFT_EYE, MOUTH, RIGHT_EYE, FaceLandmarks


@pytest.fixture(scope="session")
def example_clip(tmp_path_factory) -> Path:
    """A 1 s example driver clip (shippable: made from the bundled public-domain photo)."""
    from streamer.examples import make_example_driver

    return make_example_driver(tmp_path_factory.mktemp("clip") / "clip.mp4", seconds=1)


@pytest.fixture(scope="session")
def prepared_example(example_clip, tmp_path_factory) -> Path:
    """The example clip prepared at 10 fps."""
    from training.prepare import PrepareConfig, prepare_dataset

    videos = tmp_path_factory.mktemp("videos")
    shutil.copy(example_clip, videos / "clip.mp4")
    out = tmp_path_factory.mktemp("prepared")
    prepare_dataset(videos, out, PrepareConfig(fps=10), progress=False)
    return out


def _deform(points: np.ndarray, k: int) -> np.ndarray:
    """An identity's face shape: wider/narrower jaw, bigger/smaller eyes and mouth."""
    p = points.copy()
    centre = p[:, :2].mean(axis=0)
    for idx, gain in ((JAW, 0.06), (RIGHT_EYE, -0.08), (LEFT_EYE, -0.08), (MOUTH, 0.05)):
        c = p[idx, :2].mean(axis=0) if idx is not JAW else centre
        p[idx, :2] = c + (p[idx, :2] - c) * (1 + gain * (k - 1.5))
    return p


@pytest.fixture(scope="session")
def synthetic_dataset(prepared_example, tmp_path_factory) -> Path:
    """Four identities x 1 video: the example's landmarks with per-identity shapes (no crops)."""
    root = tmp_path_factory.mktemp("synthetic")
    with np.load(prepared_example / "videos" / "clip" / "landmarks.npz") as src:
        base = {k: src[k] for k in src.files}
    videos = []
    for k in range(4):
        key = f"id{k}__v"
        folder = root / "videos" / key
        folder.mkdir(parents=True)
        image = np.stack([_deform(p, k) for p in base["image_points"]])
        faces = [FaceLandmarks(p, v) for p, v in zip(image, base["visibility"], strict=True)]
        affine = np.stack([crop_transform(f) for f in faces])
        crop = np.stack([f.transformed(a).points for f, a in zip(faces, affine, strict=True)])
        arrays = {
            **base,
            "image_points": image.astype(np.float32),
            "crop_points": crop.astype(np.float32),
            "affine": affine.astype(np.float32),
        }
        np.savez_compressed(folder / "landmarks.npz", **arrays)
        videos.append(
            {
                "key": key,
                "identity": f"id{k}",
                "source": "synthetic",
                "fps": 25.0,
                "frames": len(image),
                "decoded_frames": len(image),
            }
        )
    index = {"version": 1, "size": 256, "videos": videos, "identities": [v["identity"] for v in videos], "failed": []}
    (root / "index.json").write_text(json.dumps(index))
    return root
