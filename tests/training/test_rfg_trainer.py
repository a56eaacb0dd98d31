"""RFG trainer: SSIM against scikit-image, a few real steps, export/load, resume, the sample builder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from training.rfg.losses import masked_l1, masked_ssim, psnr, ssim_map


def test_ssim_matches_scikit_image():
    skm = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    a = rng.uniform(-1, 1, (3, 48, 48)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.3, a.shape), -1, 1).astype(np.float32)
    ours = ssim_map(torch.from_numpy(a)[None], torch.from_numpy(b)[None]).mean()  # 'valid' windows only
    ref = skm.structural_similarity(
        a, b, channel_axis=0, data_range=2.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert abs(float(ours) - ref) < 1e-4


def test_masked_losses_ignore_masked_out_pixels():
    x = torch.zeros(1, 3, 32, 32)
    y = torch.zeros(1, 3, 32, 32)
    y[..., :16] = 1.0
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 16:] = 1.0
    assert float(masked_l1(x, y, mask)) == 0.0
    mask[..., :22] = 0.0  # SSIM windows (11 px) centred here do not reach the differing half
    assert float(masked_ssim(x + 0.5, y + 0.5, mask)) > 0.99
    assert float(psnr(x, y, torch.ones_like(mask))) == pytest.approx(10 * np.log10(4.0 / 0.5), rel=1e-5)


@pytest.fixture(scope="module")
def two_identities(prepared_example, tmp_path_factory) -> Path:
    """The prepared example twice, under two identity labels (so cross pairs exist)."""
    root = tmp_path_factory.mktemp("two_ids")
    index = json.loads((prepared_example / "index.json").read_text())
    videos = []
    for k in range(2):
        entry = dict(index["videos"][0], key=f"clip{k}", identity=f"id{k}")
        shutil.copytree(prepared_example / "videos" / index["videos"][0]["key"], root / "videos" / entry["key"])
        videos.append(entry)
    (root / "index.json").write_text(json.dumps(dict(index, videos=videos, identities=["id0", "id1"])))
    return root


def test_sample_builder_puts_ground_truth_in_the_source_crop(two_identities):
    from training.dataset import LandmarkDataset
    from training.rfg.data import PairDrawer, PairRow, SampleBuilder

    ds = LandmarkDataset(two_identities)
    builder = SampleBuilder(ds)
    same = builder.build(PairRow(0, 2, 0, 2, 2), np.random.default_rng(0), max_blur=0.0)
    # Source = target: the ground truth is the source crop itself, valid nearly everywhere.
    assert np.abs(same["gt"] - same["source"]).mean() < 0.02
    assert same["mask"].mean() > 0.95 and same["is_self"] == 1.0
    drawer = PairDrawer(ds, [0, 1])
    cross = builder.build(drawer.cross_pair(np.random.default_rng(1)), np.random.default_rng(1))
    assert cross["is_self"] == 0.0 and cross["mask"].sum() == 0
    for key in ("source", "base", "gt", "prev"):
        assert same[key].shape == (3, 256, 256)
    assert same["pixel_map"].shape == (256, 256, 2) and same["lm_tgt"].shape == (1, 64, 64)


def test_rfg_trains_exports_and_resumes(two_identities, tmp_path):
    from streamer.models.rfg import load_networks
    from training.config import config_from_dict, read_config_file
    from training.loop import train

    raw = read_config_file("rfg")
    raw["loop"].update(steps=5, batch_size=2, log_every=1, val_every=100, ckpt_every=2, steps_per_epoch=3)
    raw["losses"]["cross_start"] = 1
    cfg = config_from_dict(raw)
    run = tmp_path / "run"
    first = train(cfg, two_identities, run, progress=False, stop_after=2)
    assert first.step == 2 and first.interrupted
    done = train(cfg, two_identities, run, resume=True, progress=False)
    assert done.step == 5 and not done.interrupted
    for key in ("psnr_base", "psnr_g", "psnr_glc", "ssim_base", "ssim_g", "ssim_glc"):
        assert np.isfinite(done.validation[key])
    nets = load_networks(run / "model.safetensors")
    assert nets.metadata["format"] == "rfg-v1"
    from training.loop import export_latest

    assert export_latest(run, two_identities, tmp_path / "latest.safetensors") == 5
    latest = load_networks(tmp_path / "latest.safetensors")
    for k, v in nets.gen.state_dict().items():
        torch.testing.assert_close(latest.gen.state_dict()[k], v)
    lines = (run / "metrics.csv").read_text().splitlines()
    steps = sorted({int(line.split(",")[0]) for line in lines[1:] if ",train," in line})
    assert steps == [1, 2, 3, 4, 5]


def test_rollout_training_and_warm_start(two_identities, tmp_path):
    """losses.rollout = R: each batch carries the R earlier frames of the same pairs (oldest first), L
    trains on the system's own rolled-out output; loop.init starts G/L/C from a model file."""
    from streamer.models.rfg import load_networks
    from training.config import config_from_dict, read_config_file
    from training.dataset import LandmarkDataset
    from training.distributed import DistInfo
    from training.loop import train
    from training.rfg.task import RFGTask, earlier

    raw = read_config_file("rfg")
    raw["loop"].update(steps=2, batch_size=2, log_every=1, val_every=100, ckpt_every=100, steps_per_epoch=3)
    raw["losses"]["rollout"] = 2
    first = train(config_from_dict(raw), two_identities, tmp_path / "a", progress=False)
    assert first.step == 2 and np.isfinite(first.validation["psnr_glc"])

    cfg = config_from_dict(raw)
    task = RFGTask(cfg, LandmarkDataset(two_identities), DistInfo(0, 1, 0, torch.device("cpu")))
    batch = task.batch(0, 0)
    assert len(batch["rollout"]) == 2
    rows, _ = task._rows(0, 0)
    assert [r.driver_frame for r in earlier(rows, 2)] == [max(r.driver_frame - 2, 0) for r in rows]
    rolled = task.rolled_out(batch["rollout"])
    assert rolled.shape == batch["prev"].shape and not rolled.requires_grad

    model = tmp_path / "a" / "model.safetensors"
    raw["loop"]["init"] = str(model)
    raw["loop"]["steps"] = 1
    warm = RFGTask(config_from_dict(raw), LandmarkDataset(two_identities), DistInfo(0, 1, 0, torch.device("cpu")))
    warm.warm_start(model)
    nets = load_networks(model)
    for k, v in nets.local.state_dict().items():
        torch.testing.assert_close(warm.local.state_dict()[k], v)
    assert train(config_from_dict(raw), two_identities, tmp_path / "b", progress=False).step == 1

    # A run's checkpoint folder warm-starts all six networks (the regressor and discriminators too).
    from training.checkpoint import latest_checkpoint

    ckpt = latest_checkpoint(tmp_path / "a")
    assert ckpt is not None
    warm.warm_start(ckpt)
    for name, module in first_task_modules(ckpt).items():
        for k, v in module.items():
            torch.testing.assert_close(warm.modules()[name].state_dict()[k], v)
    other = config_from_dict({**raw, "model": {"feat_channels": 16}})
    with pytest.raises(ValueError, match="different RFG configuration"):
        RFGTask(other, LandmarkDataset(two_identities), DistInfo(0, 1, 0, torch.device("cpu"))).warm_start(ckpt)


def first_task_modules(ckpt) -> dict[str, dict[str, torch.Tensor]]:
    """The checkpoint's tensors grouped by network name."""
    from safetensors.torch import load_file

    grouped: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in load_file(str(ckpt / "weights.safetensors")).items():
        name, _, rest = key.partition(".")
        grouped.setdefault(name, {})[rest] = value
    return grouped


def test_init_is_refused_by_trainers_without_warm_start(prepared_example, tmp_path):
    from streamer.errors import InputError
    from training.config import config_from_dict, read_config_file
    from training.loop import train

    raw = read_config_file("idsg")
    raw["loop"].update(steps=1, init=str(tmp_path / "x.safetensors"))
    with pytest.raises(InputError, match="cannot start from a model file"):
        train(config_from_dict(raw), prepared_example, tmp_path / "run", progress=False)


def test_mesh_samples_carry_the_revealed_mask(two_identities):
    """warp="mesh": base is the 3D mesh warp; a turn reveals pixels the photo hides, the identity pose none."""
    from training.dataset import LandmarkDataset
    from training.rfg.data import PairRow, SampleBuilder

    ds = LandmarkDataset(two_identities)
    mesh = SampleBuilder(ds, warp="mesh")
    planar = SampleBuilder(ds)
    rng = np.random.default_rng(0)
    same = mesh.build(PairRow(0, 2, 0, 2, 2), rng, max_blur=0.0)
    assert same["revealed"].shape == (1, 256, 256) and same["revealed"].dtype == np.float32
    assert same["revealed"].mean() < 0.01  # the source's own pose reveals nothing
    assert np.abs(same["base"] - same["source"]).mean() < 0.03
    assert "revealed" not in planar.build(PairRow(0, 2, 0, 2, 2), rng, max_blur=0.0)
    yaw = ds.videos[0].pose[:, 0]
    far = int(np.argmax(np.abs(yaw - yaw[2])))
    turned = mesh.build(PairRow(0, 2, 0, far, 2), rng, max_blur=0.0)
    assert set(np.unique(turned["revealed"])) <= {0.0, 1.0}
    assert not np.array_equal(turned["base"], planar.build(PairRow(0, 2, 0, far, 2), rng, max_blur=0.0)["base"])


def test_revealed_model_grows_from_a_planar_file_and_trains(two_identities, tmp_path):
    """model.revealed_input: warm-started from a planar-warp file, the new input channels start at zero
    (same output as the file whatever the mask), then a training step moves them."""
    from streamer.models.rfg import build_networks, save_networks
    from training.config import config_from_dict, read_config_file
    from training.dataset import LandmarkDataset
    from training.distributed import DistInfo
    from training.loop import train
    from training.rfg.task import RFGTask

    planar = build_networks()
    torch.manual_seed(0)
    with torch.no_grad():
        for p in planar.gen.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_networks(planar, tmp_path / "planar.safetensors")
    raw = read_config_file("rfg")
    raw["loop"].update(steps=1, batch_size=2, log_every=1, val_every=100, ckpt_every=100, steps_per_epoch=3)
    raw["loop"]["init"] = str(tmp_path / "planar.safetensors")
    raw["model"] = {"revealed_input": True}
    cfg = config_from_dict(raw)
    task = RFGTask(cfg, LandmarkDataset(two_identities), DistInfo(0, 1, 0, torch.device("cpu")))
    assert task.builder.warp == "mesh"
    task.warm_start(tmp_path / "planar.safetensors")
    b = task.batch(0, 0)
    assert b["revealed"].shape == (2, 1, 256, 256)
    task.gen.eval()
    planar.gen.eval()
    args = (b["source"], b["base"], b["pixel_map"], b["lm_src"], b["lm_tgt"], b["mouth"])
    with torch.no_grad():
        ones = task.gen(*args, torch.ones_like(b["revealed"]))
        torch.testing.assert_close(ones, planar.gen(*args))
    new_in = task.gen.motion.e1[0].weight[:, -1].detach()
    assert float(new_in.abs().max()) == 0.0
    done = train(cfg, two_identities, tmp_path / "run", progress=False)
    assert done.step == 1
    from streamer.models.rfg import load_networks

    trained = load_networks(tmp_path / "run" / "model.safetensors")
    assert trained.config.revealed_input
    assert float(trained.gen.motion.e1[0].weight[:, -1].abs().max()) > 0.0
    wrong = config_from_dict({**raw, "model": {"revealed_input": True, "feat_channels": 16}})
    with pytest.raises(ValueError, match="different RFG configuration"):
        RFGTask(wrong, LandmarkDataset(two_identities), DistInfo(0, 1, 0, torch.device("cpu"))).warm_start(
            tmp_path / "planar.safetensors"
        )


def test_validate_command_scores_a_file_like_the_trainer(two_identities, tmp_path, capsys):
    """``python -m training.rfg.validate``: the trainer's validation of a model file (a planar file grown
    for a revealed config), one JSON line; bad paths are one-line errors with exit 2."""
    from streamer.models.rfg import build_networks, save_networks
    from training.rfg.validate import main

    save_networks(build_networks(), tmp_path / "planar.safetensors")
    args = ["--data", str(two_identities), "--weights", str(tmp_path / "planar.safetensors")]
    assert main([*args, "--set", "model.revealed_input=true"]) == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) == {f"{m}_{n}" for m in ("psnr", "ssim") for n in ("base", "g", "glc")}
    assert abs(scores["psnr_g"] - scores["psnr_base"]) < 0.5  # a fresh network nearly returns its base
    assert main(["--data", str(two_identities), "--weights", str(tmp_path / "missing.safetensors")]) == 2
    assert "no such file" in capsys.readouterr().err
