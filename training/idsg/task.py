"""The IDSG training task: batches of self-reenactment and cross-identity pairs, alternating
D_l/C_l and generator updates, and ACE validation on held-out identities."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from streamer.landmarks import FaceLandmarks
from streamer.models.idsg import IDSGConfig, IDSGGenerator, LandmarkCritic, identity_shape, normalise_crop_points
from streamer.retarget_idsg import motion_response
from training.config import RunConfig
from training.dataset import LandmarkDataset
from training.distributed import DistInfo
from training.idsg import losses as L
from training.loop import StepContext
from training.samplers import (
    CrossPairSampler,
    Pairs,
    SelfPairSampler,
    batch_rng,
    fixed_self_pairs,
    rank_slice,
    split_by_identity,
)

#: Yaw difference (degrees) that counts as a large-pose pair (the paper's threshold).
LARGE_POSE_DEG = 45.0
#: Held-out source faces ``validate`` measures the motion gains on.
GAIN_FACES = 40


class LandmarkTable:
    """Per-video arrays the IDSG needs, precomputed once: normalised points, pose-free shapes, visibility."""

    def __init__(self, dataset: LandmarkDataset):
        self.size = dataset.size
        self.norm = [normalise_crop_points(v.crop_points, dataset.size) for v in dataset.videos]
        self.shape = [identity_shape(n) for n in self.norm]
        self.vis = [v.visibility for v in dataset.videos]
        self.yaw = [v.yaw for v in dataset.videos]

    def gather(self, table: list[np.ndarray], videos: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Stack ``table[v][f]`` rows."""
        return np.stack([table[v][f] for v, f in zip(videos, frames, strict=True)]) if len(videos) else np.zeros((0,))

    def tensors(self, pairs: Pairs, device: torch.device) -> dict[str, torch.Tensor]:
        """Network inputs of a batch of pairs."""

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).to(device)

        sv, sf, dv, df = pairs.source_video, pairs.source_frame, pairs.driver_video, pairs.driver_frame
        return {
            "src": t(self.gather(self.norm, sv, sf)),
            "src_shape": t(self.gather(self.shape, sv, sf)),
            "src_vis": t(self.gather(self.vis, sv, sf)),
            "drv": t(self.gather(self.norm, dv, df)),
            "self": t(pairs.same_video.astype(bool)),
        }


class IDSGTask:
    """Builds the IDSG networks and trains them on a prepared dataset (see ``training.loop.Task``)."""

    def __init__(self, config: RunConfig, dataset: LandmarkDataset, info: DistInfo):
        self.config, self.dataset, self.info = config, dataset, info
        self.model_cfg: IDSGConfig = config.model
        self.loss_cfg: L.IDSGLossConfig = config.losses
        data = config.data
        self.train_ids, self.val_ids = split_by_identity(dataset.identities, data.val_fraction, data.split_seed)
        self.label = {ident: i for i, ident in enumerate(self.train_ids)}
        self.train_videos = dataset.videos_of(self.train_ids)
        self.val_videos = dataset.videos_of(self.val_ids)
        self.table = LandmarkTable(dataset)
        self.self_sampler = SelfPairSampler(dataset, self.train_videos, (data.yaw_diff_min, data.yaw_diff_max))
        self.cross_sampler = CrossPairSampler(dataset, self.train_videos) if len(self.train_ids) > 1 else None
        self.val_pairs = fixed_self_pairs(
            dataset, self.val_videos or self.train_videos, data.val_pairs_per_video, data.split_seed
        )
        dev = info.device
        self.gen = IDSGGenerator(self.model_cfg).to(dev)
        self.disc = LandmarkCritic(self.model_cfg, 1).to(dev)
        self.cls = LandmarkCritic(self.model_cfg, max(1, len(self.train_ids))).to(dev)
        o = config.optim
        adam = dict(lr=o.lr, betas=(o.beta1, o.beta2), weight_decay=o.weight_decay)
        self.opt_g = torch.optim.Adam(self.gen.parameters(), **adam)
        self.opt_d = torch.optim.Adam(list(self.disc.parameters()) + list(self.cls.parameters()), **adam)
        if config.loop.batch_size % info.world:
            raise ValueError(f"batch_size {config.loop.batch_size} must divide by {info.world} processes")
        self.samples_per_step = config.loop.batch_size

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"generator": self.gen, "discriminator": self.disc, "classifier": self.cls}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"generator": self.opt_g, "critics": self.opt_d}

    def batch(self, epoch: int, index: int) -> dict[str, torch.Tensor]:
        """This process's share of global batch (epoch, index)."""
        size = self.config.loop.batch_size
        rng = batch_rng(self.config.loop.seed, epoch, index)
        n_self = size if self.cross_sampler is None else int(round(size * self.config.data.self_fraction))
        parts = [self.self_sampler.sample(rng, n_self)]
        if size - n_self:
            parts.append(self.cross_sampler.sample(rng, size - n_self))
        pairs = rank_slice(Pairs.concat(parts), self.info.rank, self.info.world)
        out = self.table.tensors(pairs, self.info.device)
        ids = [self.dataset.videos[v].identity for v in pairs.source_video]
        out["src_id"] = torch.tensor([self.label[i] for i in ids], device=self.info.device)
        ids = [self.dataset.videos[v].identity for v in pairs.driver_video]
        out["drv_id"] = torch.tensor([self.label[i] for i in ids], device=self.info.device)
        return out

    def train_step(self, b: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, float]:
        """One D_l/C_l update, then one generator update."""
        w = self.loss_cfg
        n = b["drv"].shape[0]
        drv, src_shape = b["drv"].reshape(n, -1), b["src_shape"].reshape(n, -1)
        with ctx.autocast():
            fake = self.gen(drv, src_shape).float()
            loss_d = L.discriminator_loss(self.disc(drv).float(), self.disc(fake.detach()).float())
            loss_cr = L.class_loss(self._classify(drv), b["drv_id"])
        self.opt_d.zero_grad(set_to_none=True)
        (w.adv * loss_d + w.cls * loss_cr).backward()
        ctx.sync(self.disc)
        ctx.sync(self.cls)
        self.opt_d.step()

        with ctx.autocast():
            fake3 = fake.reshape(n, 68, 3)
            terms = {
                "adv": L.generator_adv_loss(self.disc(fake).float()),
                "cls": L.class_loss(self._classify(fake), b["src_id"]),
                "vls": L.visible_local_shape_loss(fake3, b["src"], b["src_vis"], w.margins, w.visible),
                "action": L.action_loss(self._action_code(fake), self.gen.encoder(drv).float()),
                "loc": L.localization_loss(fake3, b["drv"], b["self"]),
            }
            total = sum(getattr(w, k) * v for k, v in terms.items())
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()
        ctx.sync(self.gen)
        self.opt_g.step()
        out = {f"g_{k}": float(v.detach()) for k, v in terms.items()}
        out.update(loss=float(total.detach()), d_adv=float(loss_d.detach()), d_cls=float(loss_cr.detach()))
        return out

    def _classify(self, points: torch.Tensor) -> torch.Tensor:
        """C_l's logits for (B, 204) landmarks, on their pose-free shape with ``cls_pose_free``."""
        if self.loss_cfg.cls_pose_free:
            points = L.pose_free_shape(points.reshape(len(points), 68, 3)).reshape(len(points), -1)
        return self.cls(points).float()

    def _action_code(self, fake: torch.Tensor) -> torch.Tensor:
        """E_l(fake) for the action loss; with ``action_trains_encoder`` off, E_l's weights get no gradient
        from it (gradient still reaches the generated landmarks), so E_l cannot satisfy it by collapsing."""
        if self.loss_cfg.action_trains_encoder:
            return self.gen.encoder(fake).float()
        frozen = {k: v.detach() for k, v in self.gen.encoder.named_parameters()}
        return torch.func.functional_call(self.gen.encoder, frozen, (fake,)).float()

    @torch.no_grad()
    def generate(self, pairs: Pairs) -> tuple[np.ndarray, np.ndarray]:
        """(generated, true target) normalised landmarks for self-reenactment ``pairs``."""
        b = self.table.tensors(pairs, self.info.device)
        n = len(pairs)
        gen = self.gen(b["drv"].reshape(n, -1), b["src_shape"].reshape(n, -1)).reshape(n, 68, 3)
        return gen.float().cpu().numpy(), b["drv"].cpu().numpy()

    def validate(self) -> dict[str, float]:
        """ACE (crop px, x and y) on the fixed held-out self-reenactment pairs, overall and large-pose."""
        self.gen.eval()
        gen, tgt = self.generate(self.val_pairs)
        self.gen.train()
        err = np.abs(gen[..., :2] - tgt[..., :2]).mean(axis=(1, 2)) * self.table.size
        p = self.val_pairs
        dyaw = np.abs(
            self.table.gather(self.table.yaw, p.source_video, p.source_frame)
            - self.table.gather(self.table.yaw, p.driver_video, p.driver_frame)
        )
        top = dyaw >= np.quantile(dyaw, 0.9)
        gains = self.motion_gains()
        return {
            "ace": float(err.mean()),
            "ace_top_decile_yaw": float(err[top].mean()),
            "large_pose_pairs": float((dyaw > LARGE_POSE_DEG).sum()),
            "yaw_gain": float(np.median(gains[:, 0])),
            "mouth_gain": float(np.median(gains[:, 1])),
            "shape_error": float(np.median(gains[:, 2])),
            "passes_check": float(np.mean(gains[:, 3])),
        }

    def motion_gains(self) -> np.ndarray:
        """(F, 4) yaw gain, mouth gain, shape error and 1/0 for passing the runtime check
        (``streamer.retarget_idsg.motion_response``) on up to ``GAIN_FACES`` held-out source frames: ACE
        alone does not show a generator that ignores the driver (one that draws the source video's mean
        face scores about 1.5-2 px in the crop), nor one that tears the eyes and lips."""
        p = self.val_pairs
        step = max(1, len(p) // GAIN_FACES)
        self.gen.eval()
        out = []
        for v, f in zip(p.source_video[::step], p.source_frame[::step], strict=True):
            video = self.dataset.videos[v]
            r = motion_response(self.gen, FaceLandmarks(video.image_points[f], video.visibility[f]), self.table.size)
            out.append((r.yaw_gain, r.mouth_gain, r.shape_error, float(r.follows)))
        self.gen.train()
        return np.asarray(out)

    def export(self, path: Path) -> None:
        """The generator alone, for ``streamer.retarget_idsg`` (safetensors, config in the metadata)."""
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.gen.state_dict().items()}
        meta = {
            "format": "idsg-v1",
            "config": json.dumps(self.model_cfg.to_dict()),
            "size": str(self.table.size),
            "train_identities": json.dumps(self.train_ids),
            "val_identities": json.dumps(self.val_ids),
        }
        save_file(tensors, str(path), metadata=meta)
