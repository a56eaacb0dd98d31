"""Shared fixtures: the bundled example, the shared real data (skipped when absent), detectors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

SHARED_DATA = Path(os.environ.get("REENACT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def shared_file(relative: str) -> Path:
    """A file of ../shared/data; skips the test with a clear message when it is absent."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"needs the shared real data ({path} is absent; set REENACT_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """The bundled public-domain source photo (BGR)."""
    from streamer.examples import example_source_path
    from streamer.media.images import load_image

    return load_image(example_source_path())


@pytest.fixture(scope="session")
def image_detector():
    from streamer.detectors import create_detector

    det = create_detector("mediapipe", "image", max_faces=5)
    yield det
    det.close()


@pytest.fixture(scope="session")
def astronaut_face(astronaut, image_detector):
    """The astronaut's landmarks (image coordinates)."""
    return image_detector.detect(astronaut)[0]


@pytest.fixture(scope="session")
def example_driver(tmp_path_factory) -> Path:
    """The bundled example driver clip (made once per test session)."""
    from streamer.examples import make_example_driver

    return make_example_driver(tmp_path_factory.mktemp("example") / "driver.mp4", seconds=2.0)


def make_dlib_judge(**settings):
    """``benchmarks.dlib_judge.DlibJudge(**settings)``; skips the test saying why when dlib or its models are
    absent (the ``quality`` extra)."""
    from benchmarks.dlib_judge import DlibJudge, judge_status

    ok, why = judge_status()
    if not ok:
        pytest.skip(f"judged with dlib (pip install -e '.[quality]'): {why}")
    return DlibJudge(**settings)


@pytest.fixture(scope="session")
def dlib_judge():
    """dlib's judge at its default settings, loaded once per session."""
    return make_dlib_judge()
