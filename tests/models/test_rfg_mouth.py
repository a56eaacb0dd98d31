"""The RFG's mouth guard (issue 17): inside the target's open mouth the output is the base, whatever the
decoder's blend mask says; elsewhere the guard changes nothing."""

from __future__ import annotations

import numpy as np
import torch

from streamer.landmarks import INNER_LIPS
from streamer.models.rfg import build_networks
from streamer.models.rfg_mouth import mouth_input
from streamer.reenactors.rfg import RFGReenactor


def _mouth_points(gap: float, centre=(128.0, 170.0), width: float = 40.0) -> np.ndarray:
    """68 points far from the mouth except the inner lips: an ellipse-like ring ``gap`` px tall."""
    pts = np.full((68, 2), 20.0)
    t = np.linspace(0, 2 * np.pi, len(INNER_LIPS), endpoint=False)
    pts[INNER_LIPS, 0] = centre[0] + width / 2 * np.cos(t)
    pts[INNER_LIPS, 1] = centre[1] + gap / 2 * np.sin(t)
    return pts


def test_mouth_input_covers_the_opening_only():
    m = mouth_input(_mouth_points(20.0), 256)
    assert m.shape == (1, 256, 256) and m.dtype == np.float32
    assert m.min() >= 0.0 and m.max() <= 1.0
    assert m[0, 170, 128] > 0.99  # the middle of the opening
    assert m[0, 170, 100] == 0.0 and m[0, 150, 128] == 0.0  # beside and above the lips
    assert m[0, :140].sum() == 0.0 and m[0, 190:].sum() == 0.0
    area = float(m.sum())
    assert abs(area - np.pi * 20 * 10) < 0.15 * np.pi * 20 * 10  # about the ring's area
    assert mouth_input(_mouth_points(0.0), 256).sum() == 0.0  # a closed mouth: nothing
    assert mouth_input(_mouth_points(3.0), 256).sum() > 0.0  # a slightly open one: its sliver
    assert mouth_input(_mouth_points(20.0) + 1000.0, 256).sum() == 0.0  # off the crop
    nan = _mouth_points(20.0)
    nan[62] = np.nan
    assert mouth_input(nan, 256).sum() == 0.0


def _decoder_owns_everything():
    """Fresh networks whose blend mask is ~0: without the guard the output is the decoder's."""
    nets = build_networks()
    with torch.no_grad():
        nets.gen.decoder.out.bias[12:16] = -12.0  # the mask channel after the pixel shuffle
    return nets


def test_guard_puts_the_base_inside_the_mouth_and_nothing_else():
    nets = _decoder_owns_everything()
    g = torch.Generator().manual_seed(0)
    src = torch.rand(1, 3, 256, 256, generator=g) * 2 - 1
    base = torch.rand(1, 3, 256, 256, generator=g) * 2 - 1
    ys, xs = torch.meshgrid(torch.arange(256).float(), torch.arange(256).float(), indexing="ij")
    pm = torch.stack((xs, ys), dim=-1)[None]
    lm = torch.zeros(1, 1, 64, 64)
    mouth = torch.from_numpy(mouth_input(_mouth_points(20.0), 256))[None]
    with torch.no_grad():
        _, adain = nets.gen.encode_style(src)
        feats = nets.gen.encode_features(src)
        plain, _, mask = nets.gen.frame(feats, adain, base, pm, lm, lm)
        guarded, _, guarded_mask = nets.gen.frame(feats, adain, base, pm, lm, lm, mouth)
    assert float(mask.max()) < 1e-3
    inside = mouth[0, 0] > 0.999
    outside = mouth[0, 0] == 0
    # Fresh networks predict no residual flow, so the refined base is the base itself.
    torch.testing.assert_close(guarded[0][:, inside], base[0][:, inside], atol=2e-3, rtol=0)  # < 1 grey level
    assert float((plain[0][:, inside] - base[0][:, inside]).abs().mean()) > 0.1  # the decoder's, unguarded
    torch.testing.assert_close(guarded[0][:, outside], plain[0][:, outside], atol=0, rtol=0)
    assert float(guarded_mask[0, 0][inside].min()) > 0.999


def _three_steps(astronaut, face, driver, **other_options):
    """One driver frame through the geometric reenactor, the guarded RFG and an RFG built with
    ``other_options`` (decoder-owned networks): their float32 crops, the guarded reenactor, the crop affine
    and the photo's crop landmarks."""
    from streamer.alignment import crop_image, crop_transform
    from streamer.reenactors.geometric import GeometricReenactor

    affine = crop_transform(face, 256)
    crop, lm = crop_image(astronaut, affine, 256), face.transformed(affine)
    nets = _decoder_owns_everything()
    guarded = RFGReenactor(networks=nets, backend="onnxruntime", integrator="global")
    other = RFGReenactor(networks=nets, backend="onnxruntime", integrator="global", **other_options)

    def step(reenactor) -> np.ndarray:
        return reenactor.step(reenactor.prepare(crop, lm), driver, face).astype(np.float32)

    return step(GeometricReenactor()), step(guarded), step(other), guarded, affine, lm


def test_reenactor_keeps_the_geometric_mouth_interior(astronaut, astronaut_face):
    pts = astronaut_face.points.copy()
    pts[[65, 66, 67, 56, 57, 58], 1] += 14.0  # the lower lip (and jaw) down: a wide-open mouth
    pts[5:12, 1] += 10.0
    driver = astronaut_face.with_points(pts)
    want, got, off, guarded, affine, lm = _three_steps(astronaut, astronaut_face, driver, mouth_guard=False)
    target = guarded.retargeter.retarget(lm, astronaut_face.transformed(affine), driver.transformed(affine))
    inside = mouth_input(target.points, 256)[0] > 0.999
    assert inside.sum() > 100  # the opening is there
    assert np.abs(got[inside] - want[inside]).max() <= 1.0  # rounding only
    assert np.abs(off[inside] - want[inside]).mean() > 10.0  # without the guard: the decoder's paint


def test_guard_input_adds_the_eye_openings():
    from streamer.landmarks import LEFT_EYE, RIGHT_EYE
    from streamer.models.rfg_mouth import guard_input

    pts = _mouth_points(0.0)  # a closed mouth: the mouth adds nothing
    for eye, cx in ((RIGHT_EYE, 90.0), (LEFT_EYE, 166.0)):
        t = np.linspace(0, 2 * np.pi, len(eye), endpoint=False)
        pts[eye, 0] = cx + 15 * np.cos(t)
        pts[eye, 1] = 100 + 5 * np.sin(t)
    g = guard_input(pts, 256)
    assert g.shape == (1, 256, 256) and g.dtype == np.float32 and g.max() <= 1.0
    assert g[0, 100, 90] > 0.99 and g[0, 100, 166] > 0.99  # inside both eyes
    assert g[0, 100, 128] == 0.0 and g[0, 170, 128] == 0.0  # between the eyes, the closed mouth
    opened = _mouth_points(20.0)
    opened[RIGHT_EYE] = pts[RIGHT_EYE]
    opened[LEFT_EYE] = pts[LEFT_EYE]
    both = guard_input(opened, 256)
    np.testing.assert_array_equal(np.maximum(both, mouth_input(opened, 256)), both)  # the mouth stays in
    assert both[0, 170, 128] > 0.99


def test_reenactor_keeps_the_geometric_eyes(astronaut, astronaut_face):
    from streamer.models.rfg_mouth import guard_input

    want, got, off, _, _, lm = _three_steps(astronaut, astronaut_face, astronaut_face, eye_guard=False)
    inside = guard_input(lm.points, 256)[0] > 0.999
    assert inside.sum() > 50  # the eye openings
    assert np.abs(got[inside] - want[inside]).max() <= 1.0  # rounding only
    assert np.abs(off[inside] - want[inside]).mean() > 10.0  # without the eye guard: the decoder's paint


def test_crack_guard_raises_the_map_over_uncovered_pixels_only():
    from streamer.models.rfg_mouth import add_crack_guard

    guard = np.zeros((1, 64, 64), np.float32)
    guard[0, 5:10, 5:10] = 0.5
    covered = np.ones((64, 64), bool)
    assert add_crack_guard(guard.copy(), covered).tolist() == guard.tolist()
    covered[30:34, 40:44] = False
    out = add_crack_guard(guard.copy(), covered)
    assert out[0, 30:34, 40:44].min() > 0.99
    assert out[0, 5:10, 5:10].min() == 0.5  # the mouth/eye part kept
    assert out[0, :20, :20].max() == 0.5 and out[0, 50:, :].max() == 0.0  # nothing far from the crack
