"""A tiny prepared dataset (three shared clips, 2 s each) for the quality benchmarks' end-to-end tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: Three identities, so that with ``VAL_FRACTION`` 0.67 every split (cross included) has a clip.
TINY_CLIPS = (
    "raw/HelloMeme/data/drive_videos/jgz.mp4",
    "raw/SadTalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4",
    "raw/LivePortrait/assets/examples/driving/d0.mp4",
)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """The prepared dataset (skips with a message when ``../shared/data`` is absent)."""
    from tests.conftest import shared_file
    from training.prepare import PrepareConfig, prepare_dataset

    sources = [shared_file(c) for c in TINY_CLIPS]
    videos = tmp_path_factory.mktemp("quality_videos")
    for i, src in enumerate(sources):
        os.symlink(src, videos / f"clip{i}{src.suffix}")
    out = tmp_path_factory.mktemp("quality_prepared")
    summary = prepare_dataset(videos, out, PrepareConfig(max_seconds=2.0), progress=False)
    assert not summary.failed
    return out
