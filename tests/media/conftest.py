"""Generated driver clips, made once per session (``tests.media.clips``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media.clips import ClipFacts, ClipSpec, load_photo, make_clip


@pytest.fixture(scope="session")
def make_driver(tmp_path_factory):
    """``make_driver(spec) -> (path, facts)``, each spec written once."""
    folder = tmp_path_factory.mktemp("drivers")
    photo = load_photo()
    made: dict[ClipSpec, tuple[Path, ClipFacts]] = {}

    def make(spec: ClipSpec) -> tuple[Path, ClipFacts]:
        if spec not in made:
            made[spec] = make_clip(spec, folder, photo)
        return made[spec]

    return make
