"""``create_reenactor``: known names build reenactors, anything else is a one-line InputError."""

from __future__ import annotations

import pytest

from streamer.errors import InputError
from streamer.models.rfg import build_networks, save_networks
from streamer.reenactors import factory
from streamer.reenactors.factory import create_reenactor, reenactor_names, register_reenactor
from streamer.reenactors.geometric import GeometricReenactor
from streamer.reenactors.rfg import RFGReenactor


def test_geometric_by_name():
    r = create_reenactor("geometric")
    assert isinstance(r, GeometricReenactor) and r.crop_size == 256
    small = create_reenactor("geometric", crop_size=128, motion="absolute")
    assert small.crop_size == 128 and small.config.motion == "absolute"
    assert "geometric" in reenactor_names()


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(InputError, match=r"unknown reenactor 'nope'; known: geometric, rfg-global, rfg-global-local"):
        create_reenactor("nope")


@pytest.mark.parametrize(("name", "integrator"), [("rfg-global", "global"), ("rfg-global-local", "global-local")])
def test_rfg_by_name(tmp_path, name, integrator):
    path = tmp_path / "rfg.safetensors"
    save_networks(build_networks(), path)
    r = create_reenactor(name, weights=str(path), backend="torch")
    assert isinstance(r, RFGReenactor) and r.integrator == integrator and r.crop_size == 256
    with pytest.raises(InputError, match="RFG weights not found"):
        create_reenactor(name, weights=str(tmp_path / "missing.safetensors"))


def test_unknown_option_is_an_input_error():
    with pytest.raises(InputError, match="does not take option.*weights"):
        create_reenactor("geometric", weights="x.safetensors")


def test_register_once(monkeypatch):
    monkeypatch.setattr(factory, "_BUILDERS", dict(factory._BUILDERS))  # leave the real registry untouched

    def build(**_options):
        return GeometricReenactor()

    register_reenactor("test-only-geometric", build)
    register_reenactor("test-only-geometric", build)  # the same builder again is fine
    assert isinstance(create_reenactor("test-only-geometric", anything=1), GeometricReenactor)
    with pytest.raises(ValueError, match="already registered"):
        register_reenactor("test-only-geometric", lambda: None)
