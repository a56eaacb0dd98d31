"""The IDSG inference wrapper: the shipped weights load (safetensors only), give valid landmarks, follow
the driver's head turn and mouth, and weights that do not are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from streamer.errors import InputError
from streamer.geometry import rotation_matrix
from streamer.models.idsg import FLAT, IDSGConfig, IDSGGenerator
from streamer.retarget import AnalyticRetargeter
from streamer.retarget_idsg import (
    CHECK_TURN_DEG,
    DEFAULT_WEIGHTS,
    IDSGRetargeter,
    load_idsg,
    mouth_opened,
    mouth_opening,
    turned,
    yaw_offset,
)


def _save(gen: IDSGGenerator, path) -> None:
    meta = {"format": "idsg-v1", "config": json.dumps(gen.cfg.to_dict()), "size": "256"}
    save_file({k: v.contiguous() for k, v in gen.state_dict().items()}, str(path), metadata=meta)


def _pass_through(path) -> None:
    """IDSG weights whose output is the driver's landmarks exactly: each 2-layer MLP computes
    ``(leaky(x) - leaky(-x)) / 1.2 = x`` (leaky ReLU slope 0.2), the identity code is ignored."""
    cfg = IDSGConfig(hidden=2 * FLAT, layers=2, action_dim=FLAT, identity_dim=4, identity_hidden=8, identity_layers=2)
    gen = IDSGGenerator(cfg)
    eye = torch.eye(FLAT)
    with torch.no_grad():
        for mlp, extra in ((gen.encoder.net, 0), (gen.decoder.net, cfg.identity_dim)):
            mlp[0].weight.copy_(torch.cat([torch.cat([eye, -eye]), torch.zeros(2 * FLAT, extra)], dim=1))
            mlp[2].weight.copy_(torch.cat([eye, -eye], dim=1) / (1 + cfg.slope))
            mlp[0].bias.zero_()
            mlp[2].bias.zero_()
    _save(gen, path)


def _frozen(path) -> None:
    """IDSG weights whose action code is constant: the output ignores the driver (the shipped weights' fault)."""
    gen = IDSGGenerator(IDSGConfig())
    with torch.no_grad():
        gen.encoder.net[-1].weight.zero_()
    _save(gen, path)


def test_synthetic_turn_and_mouth_move_the_driver_as_meant(astronaut_face):
    pts = astronaut_face.points
    assert yaw_offset(turned(pts, CHECK_TURN_DEG)) > yaw_offset(pts) + 0.1 > yaw_offset(turned(pts, -CHECK_TURN_DEG))
    assert mouth_opening(mouth_opened(pts)) > mouth_opening(pts) + 0.1


def test_shipped_idsg_follows_the_driver_turn_and_mouth(astronaut_face):
    # The weights shipped until 2026-12-07 drew the source's own pose whatever the driver did: yaw gain
    # 0.03 and mouth gain 0.01 on this face (their action code had collapsed to a constant); on real
    # cross pairs dlib measured the output's yaw anti-correlated with the driver's.
    response = IDSGRetargeter(check=False).motion_response(astronaut_face)
    assert response.follows, response.describe()


def test_weights_that_ignore_the_driver_are_refused(tmp_path, astronaut_face):
    _frozen(tmp_path / "frozen.safetensors")
    idsg = IDSGRetargeter(tmp_path / "frozen.safetensors")
    with pytest.raises(InputError, match="do not follow the driver"):
        idsg.retarget(astronaut_face, astronaut_face, astronaut_face)
    unchecked = IDSGRetargeter(tmp_path / "frozen.safetensors", check=False)
    assert unchecked.retarget(astronaut_face, astronaut_face, astronaut_face).points.shape == (68, 3)


def test_weights_that_follow_pass_the_check_and_place_the_driver_shape(tmp_path, astronaut_face):
    _pass_through(tmp_path / "pass.safetensors")
    idsg = IDSGRetargeter(tmp_path / "pass.safetensors")
    response = idsg.motion_response(astronaut_face)
    assert response.follows and abs(response.yaw_gain - 1) < 0.01 and abs(response.mouth_gain - 1) < 0.01
    assert response.shape_error < 0.01
    # Output = the driver's own landmarks placed like the analytic absolute mode: with the source as
    # its own reference, a turned driver comes back turned the same way, in the source's image.
    drv = astronaut_face.with_points(turned(astronaut_face.points, 12.0))
    out = idsg.retarget(astronaut_face, astronaut_face, drv)
    np.testing.assert_allclose(out.xy, drv.xy, atol=0.05)


def test_shipped_weights_are_safetensors_with_config():
    assert DEFAULT_WEIGHTS.is_file(), "streamer/models/weights/idsg.safetensors is missing"
    with safe_open(str(DEFAULT_WEIGHTS), framework="pt") as f:
        assert f.metadata()["format"] == "idsg-v1"
    gen, size = load_idsg()
    assert size == 256 and not gen.training


def test_same_interface_as_analytic_and_valid_output(astronaut_face):
    idsg, analytic = IDSGRetargeter(check=False), AnalyticRetargeter("relative")
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
    idsg = IDSGRetargeter(check=False)
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


def test_runtime_feeds_the_network_what_training_fed_it(prepared_example):
    # The first suspect for a mirrored IDSG was a convention drift between training and inference
    # (axis order, z sign, normalisation, crop frame). The same tracked frame must give the same
    # encoder input and the same identity-encoder input on both sides.
    from streamer.landmarks import FaceLandmarks
    from training.dataset import LandmarkDataset
    from training.idsg.task import LandmarkTable

    ds = LandmarkDataset(prepared_example)
    table = LandmarkTable(ds)
    idsg = IDSGRetargeter(check=False)
    seen: dict[str, torch.Tensor] = {}
    idsg.generator.encoder.register_forward_hook(lambda m, args, out: seen.__setitem__("driver", args[0]))
    idsg.generator.identity.register_forward_hook(lambda m, args, out: seen.__setitem__("shape", args[0]))
    video = ds.videos[0]
    for f in (0, len(video) - 1):
        face = FaceLandmarks(video.image_points[f], video.visibility[f])
        idsg._identity = None  # recompute the identity code for this source
        idsg.generate_crop(face, face)
        np.testing.assert_allclose(seen["driver"].numpy().reshape(68, 3), table.norm[0][f], atol=1e-5)
        np.testing.assert_allclose(seen["shape"].numpy().reshape(68, 3), table.shape[0][f], atol=1e-5)


def test_convert_refuses_weights_that_ignore_the_driver_in_one_line(tmp_path):
    from tests.test_retarget_backend_options import assert_one_line_error, run

    weights, out = tmp_path / "frozen.safetensors", tmp_path / "o.mp4"
    _frozen(weights)
    proc = run("convert", "--example", "--out", out, "--retarget", "idsg", "--idsg-weights", weights)
    assert_one_line_error(proc, "do not follow the driver", "--retarget analytic")
    assert not out.exists() and list(tmp_path.iterdir()) == [weights]
