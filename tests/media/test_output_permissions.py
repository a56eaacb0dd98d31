"""Outputs get the permissions a plain ``open`` would give (mkstemp's 0600 must not leak into them)."""

from __future__ import annotations

import os
import stat
from fractions import Fraction

import numpy as np

from export.atomic import atomic_write_text, temp_beside
from streamer.media.video_file import VideoFileSink


def _usual() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def test_video_output_and_atomic_text(tmp_path):
    sink = VideoFileSink(tmp_path / "o.mp4", 64, 64, Fraction(25))
    for i in range(3):
        sink.write(np.full((64, 64, 3), 40 * i, np.uint8), i)
    sink.finish()
    assert stat.S_IMODE((tmp_path / "o.mp4").stat().st_mode) == _usual()
    atomic_write_text(tmp_path / "r.md", "x")
    assert stat.S_IMODE((tmp_path / "r.md").stat().st_mode) == _usual()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_temp_beside_is_hidden_and_unique(tmp_path):
    a, b = temp_beside(tmp_path / "v.mp4", ".part.mp4"), temp_beside(tmp_path / "v.mp4", ".part.mp4")
    assert a != b and a.name.startswith(".v.") and a.parent == tmp_path and a.stat().st_size == 0
