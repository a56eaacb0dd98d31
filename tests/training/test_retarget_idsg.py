"""The IDSG inference wrapper: the shipped weights load (safetensors only) and give valid landmarks."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors import safe_open

from streamer.errors import InputError
from streamer.geometry import rotation_matrix
from streamer.retarget import AnalyticRetargeter
from streamer.retarget_idsg import DEFAULT_WEIGHTS, IDSGRetargeter, load_idsg


def test_shipped_weights_are_safetensors_with_config():
    assert DEFAULT_WEIGHTS.is_file(), "streamer/models/weights/idsg.safetensors is missing"
    with safe_open(str(DEFAULT_WEIGHTS), framework="pt") as f:
        assert f.metadata()["format"] == "idsg-v1"
    gen, size = load_idsg()
    assert size == 256 and not gen.training


def test_same_interface_as_analytic_and_valid_output(astronaut_face):
    idsg, analytic = IDSGRetargeter(), AnalyticRetargeter("relative")
    pts = astronaut_face.points.astype(np.float64)
    centre = pts.mean(axis=0)
    turned = astronaut_face.with_points((pts - centre) @ rotation_matrix(15, 5, 0).T + centre)
    out = idsg.retarget(astronaut_face, astronaut_face, turned)
    ref = analytic.retarget(astronaut_face, astronaut_face, turned)
    assert out.points.shape == (68, 3) and np.isfinite(out.points).all()
    assert ((out.visibility >= 0) & (out.visibility <= 1)).all()
    # the same face in the same place: mean point distance a small fraction of the face size
    assert np.linalg.norm(out.xy - ref.xy, axis=1).mean() < 0.1 * astronaut_face.size
    again = idsg.retarget(astronaut_face, astronaut_face, turned)
    np.testing.assert_array_equal(out.points, again.points)


def test_driver_motion_moves_the_output(astronaut_face):
    idsg = IDSGRetargeter()
    pts = astronaut_face.points.astype(np.float64)
    shifted = astronaut_face.with_points(pts + (20.0, -10.0, 0.0))
    base = idsg.retarget(astronaut_face, astronaut_face, astronaut_face)
    moved = idsg.retarget(astronaut_face, astronaut_face, shifted)
    np.testing.assert_allclose((moved.xy - base.xy).mean(axis=0), (20.0, -10.0), atol=1.0)


def test_missing_or_foreign_weights_are_input_errors(tmp_path):
    with pytest.raises(InputError):
        load_idsg(tmp_path / "nope.safetensors")
    import torch
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(InputError, match="not an IDSG"):
        load_idsg(tmp_path / "other.safetensors")
