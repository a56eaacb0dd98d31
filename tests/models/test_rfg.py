"""The RFG networks: start-from-the-warp initialisation, budget, ONNX parity, loading, the reenactor."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from streamer.errors import InputError
from streamer.models.landmark_map import landmark_map
from streamer.models.rfg import (
    GumbelBottleneck,
    LocalIntegrator,
    RFGConfig,
    build_networks,
    load_networks,
    save_networks,
)
from streamer.models.rfg_inputs import identity_pixel_map, image_to_input, output_to_image
from streamer.reenactors.rfg import _INPUTS, RFGReenactor, example_inputs, export_part_onnx, load_rfg_weights

torch.manual_seed(0)


def _smooth_images(n: int, size: int = 256, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size // 16, size // 16, generator=g) * 2 - 1
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def _wavy_map(size: int = 256) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return torch.stack((xs + 4 * torch.sin(ys / 20), ys + 3 * torch.cos(xs / 17)), dim=-1)[None]


def test_fresh_global_integrator_returns_its_base():
    nets = build_networks()
    src, base = _smooth_images(1, seed=1), _smooth_images(1, seed=2)
    lm = torch.zeros(1, 1, 64, 64)
    with torch.no_grad():
        _, adain = nets.gen.encode_style(src)
        out, dflow, mask = nets.gen.frame(nets.gen.encode_features(src), adain, base, _wavy_map(), lm, lm)
    assert torch.count_nonzero(dflow) == 0
    assert float(mask.min()) > 0.97
    assert float((out - base).abs().mean()) < 0.02  # in [-1, 1] units: under 3 grey levels


def test_fresh_local_integrator_copies_previous_output():
    local = LocalIntegrator().eval()
    prev = _smooth_images(2, seed=3)
    lm = torch.zeros(2, 1, 64, 64)
    with torch.no_grad():
        out = local(prev, lm, lm)
    torch.testing.assert_close(out, prev, atol=1e-5, rtol=0)


def test_gumbel_bottleneck_picks_one_code_at_inference():
    layer = GumbelBottleneck(8, 5).eval()
    x = torch.randn(2, 8, 4, 4)
    with torch.no_grad():
        logits = layer.logits(x)
        out = layer(x)
    expected = layer.codebook.weight[:, :, 0, 0].T[logits.argmax(dim=1)].permute(0, 3, 1, 2)
    torch.testing.assert_close(out, expected)


def _grid_sample_flops(n_out: int, channels: int) -> int:
    """Bilinear sampling by hand: 4 taps x (1 mul + 1 add) per channel, plus 10 for weights per point."""
    return n_out * (8 * channels + 10)


def test_per_frame_cost_is_within_two_gflops():
    nets = build_networks()
    ex = example_inputs(nets)
    parts = nets.parts()
    total = 0
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        for name in ("rfg_global", "rfg_local", "rfg_calibration"):
            parts[name](*ex[name])
    total = counter.get_total_flops()
    s, g, c = 256, 64, RFGConfig().feat_channels
    # grid_sample is not counted by torch: G samples flow0 (2 ch) and features (c ch) on the grid and
    # base (3 ch) at full size; L samples y_{i-1} (3 ch) at full size.
    total += _grid_sample_flops(g * g, 2) + _grid_sample_flops(g * g, c) + 2 * _grid_sample_flops(s * s, 3)
    assert total < 2.0e9, f"{total / 1e9:.2f} GFLOPs per frame"


@pytest.mark.parametrize("name", ["rfg_source", "rfg_global", "rfg_local", "rfg_calibration"])
def test_onnx_graph_matches_torch(name):
    ort = pytest.importorskip("onnxruntime")
    nets = build_networks()
    # Perturb the zero-initialised output layers so the comparison exercises every path.
    with torch.no_grad():
        for p in [*nets.gen.parameters(), *nets.local.parameters(), *nets.calib.parameters()]:
            p.add_(torch.randn_like(p) * 0.02)
    module = nets.parts()[name]
    ex = example_inputs(nets)[name]
    rng = torch.Generator().manual_seed(4)
    inputs = tuple(
        x + 0.1 * torch.randn(x.shape, generator=rng) if x.dim() == 4 and x.shape[-1] != 2 else x for x in ex
    )
    model = export_part_onnx(module, name, inputs)
    sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    got = sess.run(None, {k: v.numpy() for k, v in zip(_INPUTS[name], inputs, strict=True)})
    with torch.no_grad():
        want = module(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    for g_, w_ in zip(got, want, strict=True):
        scale = float(w_.abs().max()) + 1e-6
        assert np.abs(g_ - w_.numpy()).max() / scale < 1e-4


def test_landmark_map_draws_closed_parts_only_where_the_points_are():
    pts = np.zeros((68, 2))
    pts[:, 0] = np.linspace(40, 200, 68)
    pts[:, 1] = 128
    pts[36:42] = [[80, 100], [90, 95], [100, 95], [110, 100], [100, 105], [90, 105]]
    m = landmark_map(pts, 256, 64)
    assert m.dtype == np.float32 and set(np.unique(m)) <= {0.0, 1.0}
    assert m[32, 20:40].sum() > 10  # the jaw line at y = 128 px -> row 32
    assert m[23:27, 19:29].sum() > 6  # the eye outline
    assert m[:20].sum() == 0 and m[40:].sum() == 0


def test_image_conversions_round_trip():
    img = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    np.testing.assert_array_equal(output_to_image(image_to_input(img)), img)
    ident = identity_pixel_map(4)
    assert ident[2, 3].tolist() == [3.0, 2.0]


def test_weights_round_trip_and_bad_files(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(1)
    nets = build_networks()
    path = tmp_path / "rfg.safetensors"
    save_networks(nets, path, {"note": "kept"})
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no temp file left
    loaded = load_networks(path)
    assert loaded.metadata["note"] == "kept"
    for mine, theirs in ((nets.gen, loaded.gen), (nets.local, loaded.local), (nets.calib, loaded.calib)):
        for k, v in mine.state_dict().items():
            torch.testing.assert_close(theirs.state_dict()[k], v)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(InputError, match="cannot load RFG weights"):
        load_rfg_weights(bad)
    with pytest.raises(InputError, match="not found"):
        load_rfg_weights(tmp_path / "missing.safetensors")
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "idsg-v1"})
    with pytest.raises(InputError, match="not an RFG weights file"):
        load_rfg_weights(tmp_path / "other.safetensors")


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_fresh_reenactor_starts_from_the_geometric_output(astronaut, astronaut_face, backend):
    from streamer.alignment import crop_image, crop_transform
    from streamer.reenactors.geometric import GeometricReenactor

    affine = crop_transform(astronaut_face, 256)
    crop, lm = crop_image(astronaut, affine, 256), astronaut_face.transformed(affine)
    geo = GeometricReenactor()
    rfg = RFGReenactor(networks=build_networks(), backend=backend, integrator="global-local")
    gs, rs = geo.prepare(crop, lm), rfg.prepare(crop, lm)
    driver = astronaut_face.with_points(astronaut_face.points + np.array([3.0, -2.0, 0.0], np.float32))
    for _ in range(3):
        want = geo.step(gs, driver, astronaut_face).astype(np.float32)
        got = rfg.step(rs, driver, astronaut_face).astype(np.float32)
        assert np.abs(got - want).mean() < 3.0
    local = rfg.local_state(rs)
    assert local.output is not None
    # A jump larger than a frame-to-frame motion restarts the local integrator (global only).
    far = astronaut_face.with_points(astronaut_face.points + np.array([60.0, 0.0, 0.0], np.float32))
    assert not rfg._continuous(local, far.transformed(affine))
    # Another reenactor (another stream) on the same prepared source has its own memory.
    other = RFGReenactor(networks=rfg.nets, backend="torch")
    assert other.local_state(rs).output is None
    rfg.reset(rs)
    assert rfg.local_state(rs).output is None


def test_unknown_integrator_and_backend_are_input_errors():
    nets = build_networks()
    with pytest.raises(InputError, match="--integrator"):
        RFGReenactor(networks=nets, integrator="local")
    with pytest.raises(InputError, match="backend"):
        RFGReenactor(networks=nets, backend="cuda-magic")
