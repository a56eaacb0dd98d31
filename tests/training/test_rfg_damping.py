"""``training.rfg.damping``: the residual flow of G scales by alpha, nothing else changes, files stay safe."""

from __future__ import annotations

import pytest
import torch

from streamer.errors import InputError
from streamer.models.rfg import RFGConfig, build_networks, load_networks, save_networks
from training.rfg.damping import DAMPING_KEY, applied_damping, damp_residual_flow, main, write_damped

SIZE = 128


def _trained_like(seed: int = 0):
    """Small networks whose flow head is not zero (a fresh one predicts no residual flow at all)."""
    torch.manual_seed(seed)
    nets = build_networks(RFGConfig(size=SIZE))
    with torch.no_grad():
        nets.gen.motion.head.weight.normal_(std=0.05)
        nets.gen.motion.head.bias.normal_(std=0.5)
    return nets


def _frame_inputs(nets, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    src = torch.rand(1, 3, SIZE, SIZE, generator=g) * 2 - 1
    base = torch.rand(1, 3, SIZE, SIZE, generator=g) * 2 - 1
    ys, xs = torch.meshgrid(
        torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32), indexing="ij"
    )
    pmap = torch.stack([xs + 1.5, ys - 0.5], -1)[None]
    lm = (torch.rand(1, 1, SIZE // 4, SIZE // 4, generator=g) > 0.9).float()
    _, adain = nets.gen.encode_style(src)
    return nets.gen.encode_features(src), adain, base, pmap, lm, lm.flip(-1)


@torch.no_grad()
def test_flow_scales_and_occlusion_stays():
    ref = _trained_like()
    inputs = _frame_inputs(ref)
    out1, flow1, _ = ref.gen.frame(*inputs)
    m1 = ref.gen.motion(torch.zeros(1, 7, SIZE // 4, SIZE // 4))
    for alpha in (0.0, 0.5):
        nets = damp_residual_flow(_trained_like(), alpha)
        _, flow, _ = nets.gen.frame(*inputs)
        torch.testing.assert_close(flow, flow1 * alpha, atol=1e-6, rtol=1e-5)
        m = nets.gen.motion(torch.zeros(1, 7, SIZE // 4, SIZE // 4))
        torch.testing.assert_close(m[:, 2:], m1[:, 2:])  # the occlusion logit is untouched
        assert applied_damping(nets) == alpha
    assert flow1.abs().max() > 1e-3  # the check above compares real flows
    # The local integrator and the calibration net are not touched.
    damped = damp_residual_flow(_trained_like(), 0.5)
    for a, b in ((ref.local, damped.local), (ref.calib, damped.calib)):
        for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
            assert torch.equal(va, vb), ka


def test_dampings_multiply_and_alpha_is_checked():
    nets = damp_residual_flow(damp_residual_flow(_trained_like(), 0.5), 0.5)
    assert applied_damping(nets) == 0.25
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        damp_residual_flow(nets, 1.5)


def test_write_damped_round_trip_and_refusals(tmp_path):
    src, dst = tmp_path / "trained.safetensors", tmp_path / "damped.safetensors"
    save_networks(_trained_like(), src, {"train_identities": "[]"})
    before = src.read_bytes()
    write_damped(src, dst, 0.5)
    assert src.read_bytes() == before
    loaded = load_networks(dst)
    assert loaded.metadata[DAMPING_KEY] == "0.5" and loaded.metadata["train_identities"] == "[]"
    assert len(loaded.metadata["damped_from_sha256"]) == 12
    torch.testing.assert_close(loaded.gen.motion.head.bias[:2], _trained_like().gen.motion.head.bias[:2] * 0.5)
    with pytest.raises(InputError, match="overwrite"):
        write_damped(src, src, 0.5)
    with pytest.raises(InputError, match="not found"):
        write_damped(tmp_path / "none.safetensors", dst, 0.5)


def test_cli_exit_codes(tmp_path, capsys):
    src = tmp_path / "trained.safetensors"
    save_networks(_trained_like(), src)
    assert main([str(src), str(tmp_path / "out.safetensors"), "--alpha", "0.5"]) == 0
    assert "x0.5" in capsys.readouterr().out
    bogus = tmp_path / "bogus.safetensors"
    bogus.write_bytes(b"not a safetensors file")
    assert main([str(bogus), str(tmp_path / "o2.safetensors"), "--alpha", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1


def test_unwritable_output_is_one_line_error(tmp_path):
    src = tmp_path / "trained.safetensors"
    save_networks(_trained_like(), src)
    with pytest.raises(InputError, match="cannot write"):
        write_damped(src, src / "out.safetensors", 0.5)  # a folder that is a file
