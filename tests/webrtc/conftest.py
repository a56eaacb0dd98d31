"""Fixtures for the live server tests: a prepared source library, driver frames, a running server."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

SHARED_DATA = Path(os.environ.get("REENACT_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
SHARED_DRIVER = "raw/LivePortrait/assets/examples/driving/d0.mp4"


@pytest.fixture(scope="session")
def live_config():
    from streamer.live.config import LiveConfig

    return LiveConfig(max_side=512)


@pytest.fixture(scope="session")
def library(live_config):
    """The bundled photo as the default source."""
    from streamer.examples import example_source_path
    from streamer.live.sources import SourceLibrary, prepare_file

    return SourceLibrary(prepare_file(example_source_path(), live_config))


@pytest.fixture(scope="session")
def driver_path(example_driver) -> Path:
    """A real face clip from ../shared/data when present, else the bundled example driver."""
    shared = SHARED_DATA / SHARED_DRIVER
    return shared if shared.is_file() else example_driver


@pytest.fixture(scope="session")
def driver_frames(driver_path):
    from streamer.webrtc.client import load_clip

    return load_clip(driver_path, max_frames=75, max_side=480)


@contextlib.asynccontextmanager
async def serving(library, live_config, **overrides) -> AsyncIterator[tuple]:
    """A server on a free loopback port for the duration of the block; loopback-only ICE unless overridden
    (these unit tests run beside the machine's real interfaces: no packet may leave 127.0.0.1); ``live=`` to
    serve another live config."""
    from streamer.webrtc.server import ServerConfig, running_server

    config = ServerConfig(**{"port": 0, "live": live_config, "ice_loopback_only": True, **overrides})
    async with running_server(config, library) as (server, url):
        yield server, url


@pytest.fixture
def serve(library, live_config):
    """``async with serve(**ServerConfig overrides) as (server, url)``."""
    return functools.partial(serving, library, live_config)


@pytest.fixture
def stream_threads():
    """A function listing the live stream threads still running."""
    return lambda: [t.name for t in threading.enumerate() if t.name.startswith("stream-")]
