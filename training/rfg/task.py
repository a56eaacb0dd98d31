"""The RFG training task: global integrator G, local integrator L and calibration net C trained jointly
(L_G + L_L + L_C) with a face discriminator D_f, a shape discriminator D_s and a landmark regressor R.

One step: R learns the real frames' landmarks; D_f/D_s learn real vs generated; then G, L and C
take one step on the reconstruction, adversarial, feature-matching, style and landmark losses.
Batches are built by a background thread one step ahead (a pure function of (seed, epoch, index),
so resumed runs see the same data).
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from streamer.models.rfg import (
    CalibrationNet,
    LandmarkRegressor,
    LocalIntegrator,
    PatchDiscriminator,
    RFGConfig,
    RFGGenerator,
    RFGNetworks,
    ShapeDiscriminator,
    save_networks,
    soft_landmark_map,
)
from training.checkpoint import load_weights
from training.config import RunConfig
from training.dataset import LandmarkDataset
from training.distributed import DistInfo
from training.loop import StepContext
from training.rfg import losses as L
from training.rfg.data import PairDrawer, PairRow, SampleBuilder, frontal_frame
from training.samplers import batch_rng, split_by_identity

#: Frames the validation runs the system on its own outputs before the measured frame.
VAL_ROLLOUT = 8


def earlier(rows: list[PairRow], back: int) -> list[PairRow]:
    """The same pairs ``back`` driver frames earlier (clamped at frame 0)."""
    return [
        PairRow(r.source_video, r.source_frame, r.driver_video, max(r.driver_frame - back, 0), r.reference_frame)
        for r in rows
    ]


def grown_state(theirs: dict[str, torch.Tensor], mine: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``theirs`` fitted to ``mine``'s shapes where a layer gained input channels (a planar-warp file
    loaded into a ``revealed_input`` model): the new channels' weights are zero, so the grown network
    computes what the file's did until training moves them."""
    out = {}
    for key, value in theirs.items():
        target = mine[key]
        if value.shape != target.shape:
            if value.dim() < 2 or value.shape[0] != target.shape[0] or value.shape[2:] != target.shape[2:]:
                raise ValueError(f"cannot grow {key} from {tuple(value.shape)} to {tuple(target.shape)}")
            grown = torch.zeros_like(target)
            grown[:, : value.shape[1]] = value
            value = grown
        out[key] = value
    return out


class RFGTask:
    """Builds the RFG networks and trains them on a prepared dataset (see ``training.loop.Task``)."""

    def __init__(self, config: RunConfig, dataset: LandmarkDataset, info: DistInfo):
        cv2.setNumThreads(1)
        self.config, self.dataset, self.info = config, dataset, info
        self.cfg: RFGConfig = config.model or RFGConfig()
        self.w: L.RFGLossConfig = config.losses
        if dataset.size != self.cfg.size:
            raise ValueError(f"dataset crops are {dataset.size}px but the model is {self.cfg.size}px")
        self.train_ids, self.val_ids = split_by_identity(
            dataset.identities, config.data.val_fraction, config.data.split_seed, config.data.extra_val_identities
        )
        self.train_videos = dataset.videos_of(self.train_ids)
        self.val_videos = dataset.videos_of(self.val_ids) or self.train_videos
        self.drawer = PairDrawer(dataset, self.train_videos)
        # A model that sees the revealed mask is trained on the mesh warp it comes from (issue 14 item 4).
        warp = "mesh" if self.cfg.revealed_input else "planar"
        self.builder = SampleBuilder(dataset, cache=4096 if warp == "mesh" else 256, warp=warp)
        self.val_builder = SampleBuilder(dataset, cache=16, warp=warp)
        self.val_rows = self._val_rows(per_video=8)
        dev = info.device
        self.gen = RFGGenerator(self.cfg).to(dev)
        self.local = LocalIntegrator(self.cfg).to(dev)
        self.calib = CalibrationNet(self.cfg).to(dev)
        self.disc = PatchDiscriminator().to(dev)
        self.shape_disc = ShapeDiscriminator().to(dev)
        self.regressor = LandmarkRegressor().to(dev)
        o = config.optim
        adam = dict(lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)
        gen_params = [*self.gen.parameters(), *self.local.parameters(), *self.calib.parameters()]
        self.opt_g = torch.optim.Adam(gen_params, **adam)
        self.opt_d = torch.optim.Adam([*self.disc.parameters(), *self.shape_disc.parameters()], **adam)
        self.opt_r = torch.optim.Adam(self.regressor.parameters(), lr=1e-3)
        if config.loop.batch_size % info.world:
            raise ValueError(f"batch_size {config.loop.batch_size} must divide by {info.world} processes")
        self.samples_per_step = config.loop.batch_size
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rfg-batches")
        self._next: tuple[tuple[int, int], Future] | None = None

    # ---- data ---------------------------------------------------------------------------------------
    def _val_rows(self, per_video: int) -> list[PairRow]:
        rows = []
        for v in self.val_videos:
            video = self.dataset.videos[v]
            n = len(video)
            s = frontal_frame(video.pose[:, 0], video.pose[:, 1], max(1, n // 5))
            for t in np.linspace(1, n - 1, per_video).round().astype(int):
                if t != s:
                    rows.append(PairRow(v, s, v, int(t), s))
        return rows

    def _rows(self, epoch: int, index: int) -> tuple[list[PairRow], np.random.Generator]:
        size = self.config.loop.batch_size
        rng = batch_rng(self.config.loop.seed, epoch, index)
        step = epoch * self.config.loop.steps_per_epoch + index
        crossing = step >= self.w.cross_start and len(self.drawer.identities) > 1
        n_cross = int(round(size * self.w.cross_fraction)) if crossing else 0
        rows = [self.drawer.self_pair(rng) for _ in range(size - n_cross)]
        rows += [self.drawer.cross_pair(rng) for _ in range(n_cross)]
        rank, world = self.info.rank, self.info.world
        return rows[rank::world], rng

    def _build(self, epoch: int, index: int) -> list[dict[str, np.ndarray]]:
        """The batch, preceded (rollout R > 0) by the same rows' R previous driver frames, oldest first."""
        rows, rng = self._rows(epoch, index)
        steps = [self.builder.batch(earlier(rows, back), rng, 0.0) for back in range(self.w.rollout, 0, -1)]
        return [*steps, self.builder.batch(rows, rng, self.w.max_blur)]

    def batch(self, epoch: int, index: int) -> dict[str, torch.Tensor]:
        """This process's share of global batch (epoch, index); the next one is built meanwhile.
        With a rollout, the earlier frames' batches are under ``"rollout"`` (oldest first)."""
        key = (epoch, index)
        pending = self._next
        built = pending[1].result() if pending is not None and pending[0] == key else self._build(epoch, index)
        nxt = (epoch, index + 1) if index + 1 < self.config.loop.steps_per_epoch else (epoch + 1, 0)
        self._next = (nxt, self._pool.submit(self._build, *nxt))
        tensors = [{k: torch.from_numpy(np.asarray(v)).to(self.info.device) for k, v in a.items()} for a in built]
        out: dict = tensors[-1]
        if len(tensors) > 1:
            out["rollout"] = tensors[:-1]
        return out

    def warm_start(self, path: Path) -> None:
        """Start from a model file (e.g. the shipped rfg.safetensors: G, L and C; the discriminators and
        the landmark regressor start fresh) or from a run's checkpoint folder (all six networks, so a
        fine-tuning stage does not begin with an untrained regressor driving the landmark loss)."""
        from streamer.models.rfg import RFGConfig, load_networks

        path = Path(path)
        if path.is_dir():
            state = json.loads((path / "state.json").read_text())
            if RFGConfig.from_dict(state["config"].get("model") or {}) != self.cfg:
                raise ValueError(f"{path} holds a different RFG configuration than this run's model settings")
            load_weights(path / "weights.safetensors", self.modules())
            return
        nets = load_networks(path)
        grows = nets.config == replace(self.cfg, revealed_input=False) and self.cfg.revealed_input
        if nets.config != self.cfg and not grows:
            raise ValueError(f"{path} holds a different RFG configuration than this run's model settings")
        for mine, theirs in ((self.gen, nets.gen), (self.local, nets.local), (self.calib, nets.calib)):
            mine.load_state_dict(grown_state(theirs.state_dict(), mine.state_dict()) if grows else theirs.state_dict())

    @torch.no_grad()
    def rolled_out(self, steps: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """The system's own output after ``steps`` (oldest first): G alone on the first, G+L+C after."""
        y: torch.Tensor | None = None
        for b in steps:
            out = self.forward(b, prev=y)
            y = out["y_g"] if y is None else out["y_c"]
        assert y is not None
        return y.detach()

    # ---- networks -----------------------------------------------------------------------------------
    def modules(self) -> dict[str, torch.nn.Module]:
        return {
            "global": self.gen,
            "local": self.local,
            "calibration": self.calib,
            "face_discriminator": self.disc,
            "shape_discriminator": self.shape_disc,
            "landmark_regressor": self.regressor,
        }

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generators": self.opt_g, "discriminators": self.opt_d, "regressor": self.opt_r}

    def forward(self, b: dict[str, torch.Tensor], prev: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """G, L and C on a batch; ``prev`` replaces the batch's blurred previous frame as L's input."""
        style, adain = self.gen.encode_style(b["source"])
        feats = self.gen.encode_features(b["source"])
        y_g = self.gen.frame(
            feats, adain, b["base"], b["pixel_map"], b["lm_src"], b["lm_tgt"], b.get("mouth"), b.get("revealed")
        )[0]
        y_prev = b["prev"] if prev is None else prev
        y_l = self.local(y_prev, b["lm_prev"], b["lm_tgt"])
        y_c, mask_c = self.calib(y_g, y_l, self.calib.style_params(style))
        return {"style": style, "y_g": y_g, "y_l": y_l, "y_c": y_c, "mask_c": mask_c}

    def _recon(self, y: torch.Tensor, b: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        l1 = L.masked_l1(y, b["gt"], b["mask"])
        ssim = L.masked_ssim(y, b["gt"], b["mask"])
        return self.w.attribute * l1 + self.w.ssim * (1.0 - ssim), l1

    def train_step(self, b: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, float]:
        """R step, D_f/D_s step, then one step of G, L and C."""
        w = self.w
        real = b["is_self"] > 0.5
        gt_real = b["gt"][real]
        # Landmark regressor on the real frames (its labels: the tracked landmarks).
        self.regressor.requires_grad_(True)
        loss_r = torch.zeros(())
        if real.any():
            loss_r = (self.regressor(gt_real) - b["target_points"][real]).abs().mean()
            self.opt_r.zero_grad(set_to_none=True)
            loss_r.backward()
            ctx.sync(self.regressor)
            self.opt_r.step()
        self.regressor.requires_grad_(False)

        with ctx.autocast():
            prev = self.rolled_out(b["rollout"]) if "rollout" in b else None
            out = self.forward(b, prev=prev)
        y_g, y_l, y_c = out["y_g"], out["y_l"], out["y_c"]

        # Discriminators: real frames vs G and C outputs; shape maps of real vs generated faces.
        size = self.cfg.grid
        loss_d = torch.zeros(())
        if real.any():
            with torch.no_grad():
                real_map = soft_landmark_map(self.regressor(gt_real), size)
                fake_map = soft_landmark_map(self.regressor(y_g.detach()), size)
            feats_real = self.disc(gt_real)
            d_real = [f[-1] for f in feats_real]
            d_fake_g = [f[-1] for f in self.disc(y_g.detach())]
            d_fake_c = [f[-1] for f in self.disc(y_c.detach())]
            loss_d = 0.5 * (L.d_loss(d_real, d_fake_g) + L.d_loss(d_real, d_fake_c))
            loss_d = loss_d + L.d_loss([self.shape_disc(real_map)], [self.shape_disc(fake_map)])
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            ctx.sync(self.disc)
            ctx.sync(self.shape_disc)
            self.opt_d.step()

        for p in [*self.disc.parameters(), *self.shape_disc.parameters()]:
            p.requires_grad_(False)
        rec_g, l1_g = self._recon(y_g, b)
        rec_l, l1_l = self._recon(y_l, b)
        rec_c, l1_c = self._recon(y_c, b)
        feats_g, feats_c = self.disc(y_g), self.disc(y_c)
        adv = L.g_adv_loss([f[-1] for f in feats_g]) + L.g_adv_loss([f[-1] for f in feats_c])
        pts_g, pts_c = self.regressor(y_g), self.regressor(y_c)
        adv = adv + L.g_adv_loss([self.shape_disc(soft_landmark_map(pts_g, size))])
        fm = torch.zeros(())
        if real.any():
            # The real frames' features from the discriminator step (detached there, one pass saved).
            fm = L.feature_matching(feats_real, [[f[real] for f in s] for s in feats_g]) + L.feature_matching(
                feats_real, [[f[real] for f in s] for s in feats_c]
            )
        # Style consistency trains the generators, not E_s (which could otherwise collapse to a constant).
        self.gen.style.requires_grad_(False)
        style = (self.gen.style(y_g) - out["style"].detach()).abs().mean()
        self.gen.style.requires_grad_(True)
        landmark = (pts_g - b["target_points"]).abs().mean() + (pts_c - b["target_points"]).abs().mean()
        total = (
            rec_g
            + w.local * rec_l
            + w.calibration * rec_c
            + w.adversarial * adv
            + w.feature_matching * fm
            + w.style * style
            + w.landmark * landmark
        )
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        for m in (self.gen, self.local, self.calib):
            ctx.sync(m)
        self.opt_g.step()
        for p in [*self.disc.parameters(), *self.shape_disc.parameters()]:
            p.requires_grad_(True)
        return {
            "loss": float(total.detach()),
            "l1_g": float(l1_g.detach()),
            "l1_l": float(l1_l.detach()),
            "l1_c": float(l1_c.detach()),
            "adv": float(adv.detach()),
            "fm": float(fm.detach()),
            "style": float(style.detach()),
            "landmark": float(landmark.detach()),
            "d": float(loss_d.detach()),
            "regressor": float(loss_r.detach()),
            "calib_mask": float(out["mask_c"].detach().mean()),
        }

    # ---- validation and export ------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Held-out identities: PSNR/SSIM of the geometric base, G, and G+L+C after the system ran on its
        own outputs for the ``VAL_ROLLOUT`` frames before (G alone on the first, as after a reset)."""
        mods = (self.gen, self.local, self.calib)
        for m in mods:
            m.eval()
        rng = np.random.default_rng(0)
        sums: dict[str, list[float]] = {}

        def batch(rs: list[PairRow]) -> dict[str, torch.Tensor]:
            return {k: torch.from_numpy(v) for k, v in self.val_builder.batch(rs, rng, 0.0).items()}

        for i in range(0, len(self.val_rows), 8):
            rows = self.val_rows[i : i + 8]
            b = batch(rows)
            y_prev = self.rolled_out([batch(earlier(rows, back)) for back in range(VAL_ROLLOUT, 0, -1)])
            out = self.forward(b, prev=y_prev)
            for name, y in (("base", b["base"]), ("g", out["y_g"]), ("glc", out["y_c"])):
                sums.setdefault(f"psnr_{name}", []).extend(L.psnr(y, b["gt"], b["mask"]).tolist())
                for j in range(len(rows)):
                    s = L.masked_ssim(y[j : j + 1], b["gt"][j : j + 1], b["mask"][j : j + 1])
                    sums.setdefault(f"ssim_{name}", []).append(float(s))
        for m in mods:
            m.train()
        return {k: float(np.mean(v)) for k, v in sums.items()}

    def export(self, path: Path) -> None:
        """G, L and C in one safetensors file (``streamer.reenactors.rfg`` loads it); config in the metadata."""
        nets = RFGNetworks(self.cfg, self.gen, self.local, self.calib, {})
        meta = {"train_identities": json.dumps(self.train_ids), "val_identities": json.dumps(self.val_ids)}
        save_networks(nets, path, meta)
