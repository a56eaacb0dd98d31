"""Pair samplers and the identity split. Every draw is a pure function of (seed, epoch, index), so a
resumed run sees exactly the batches it would have seen, and ranks take slices of one global batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.dataset import LandmarkDataset


def split_by_identity(
    identities: list[str], val_fraction: float, seed: int, extra_val: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Deterministic (train, val) identity lists; at least one of each when there are two or more.
    ``extra_val`` identities (those present) are held out on top of the random share."""
    ids = sorted(set(identities))
    order = np.random.default_rng([seed, 7919]).permutation(len(ids))
    n_val = int(round(val_fraction * len(ids)))
    if len(ids) >= 2:
        n_val = min(max(n_val, 1), len(ids) - 1)
    val_set = {ids[i] for i in order[:n_val]} | (set(extra_val) & set(ids))
    if len(val_set) == len(ids) and len(ids) >= 2:
        raise ValueError("extra_val_identities hold out every identity; nothing is left to train on")
    return sorted(set(ids) - val_set), sorted(val_set)


@dataclass(frozen=True)
class Pairs:
    """A batch of pairs: (video, frame) of the source and of the driver/target, and whether they share a video."""

    source_video: np.ndarray
    source_frame: np.ndarray
    driver_video: np.ndarray
    driver_frame: np.ndarray
    same_video: np.ndarray

    def __len__(self) -> int:
        return len(self.source_video)

    def slice(self, start: int, stop: int) -> Pairs:
        """Rows ``start:stop``."""
        return Pairs(
            *(
                a[start:stop]
                for a in (self.source_video, self.source_frame, self.driver_video, self.driver_frame, self.same_video)
            )
        )

    @staticmethod
    def concat(parts: list[Pairs]) -> Pairs:
        """Stack batches."""
        fields = zip(
            *((p.source_video, p.source_frame, p.driver_video, p.driver_frame, p.same_video) for p in parts),
            strict=True,
        )
        return Pairs(*(np.concatenate(f) for f in fields))


class _Base:
    def __init__(self, dataset: LandmarkDataset, videos: list[int]):
        if not videos:
            raise ValueError("a pair sampler needs at least one video")
        self.dataset = dataset
        self.videos = list(videos)
        by_id: dict[str, list[int]] = {}
        for v in self.videos:
            by_id.setdefault(dataset.videos[v].identity, []).append(v)
        self.identities = sorted(by_id)
        self.by_identity = by_id

    def _video(self, rng: np.random.Generator, exclude: str | None = None) -> int:
        ids = [i for i in self.identities if i != exclude]
        ident = ids[rng.integers(len(ids))]
        vids = self.by_identity[ident]
        return vids[rng.integers(len(vids))]


class SelfPairSampler(_Base):
    """Source and target frames of one video whose yaw differs by ``yaw_range`` degrees (lo <= |dy| <= hi).

    Identities are drawn uniformly, then a video, then a source frame; the target is drawn among
    that video's frames in the range, or is the frame whose yaw difference is closest to it when
    none is (so large-pose pairs are sampled deliberately when they exist).
    """

    def __init__(self, dataset: LandmarkDataset, videos: list[int], yaw_range: tuple[float, float] = (0.0, 180.0)):
        super().__init__(dataset, videos)
        self.yaw_range = (float(yaw_range[0]), float(yaw_range[1]))

    def sample(self, rng: np.random.Generator, n: int) -> Pairs:
        """``n`` pairs drawn with ``rng``."""
        lo, hi = self.yaw_range
        rows = []
        for _ in range(n):
            v = self._video(rng)
            yaw = self.dataset.videos[v].yaw
            s = int(rng.integers(len(yaw)))
            diff = np.abs(yaw - yaw[s])
            diff[s] = -1.0  # never the source frame itself when there is another
            ok = np.nonzero((diff >= lo) & (diff <= hi))[0]
            if len(ok):
                t = int(ok[rng.integers(len(ok))])
            else:
                gap = np.where(diff < 0, np.inf, np.maximum(lo - diff, diff - hi))
                t = int(np.argmin(gap)) if np.isfinite(gap).any() else s
            rows.append((v, s, v, t))
        return _pairs(rows, same=True)


class CrossPairSampler(_Base):
    """Source frame of one identity, driver frame of another (any frames)."""

    def sample(self, rng: np.random.Generator, n: int) -> Pairs:
        """``n`` pairs drawn with ``rng``."""
        if len(self.identities) < 2:
            raise ValueError("cross-identity pairs need at least two identities")
        rows = []
        for _ in range(n):
            v = self._video(rng)
            d = self._video(rng, exclude=self.dataset.videos[v].identity)
            rows.append(
                (v, int(rng.integers(len(self.dataset.videos[v]))), d, int(rng.integers(len(self.dataset.videos[d]))))
            )
        return _pairs(rows, same=False)


def _pairs(rows: list[tuple[int, int, int, int]], same: bool) -> Pairs:
    arr = np.asarray(rows, np.int64).reshape(-1, 4)
    return Pairs(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], np.full(len(arr), same))


def batch_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one global batch: a function of (seed, epoch, index) only."""
    return np.random.default_rng([seed, epoch, index])


def rank_slice(pairs: Pairs, rank: int, world: int) -> Pairs:
    """This rank's share of a global batch: rows ``rank::world`` (so every rank gets both pair kinds)."""
    if len(pairs) % world:
        raise ValueError(f"global batch {len(pairs)} does not split over {world} processes")
    fields = (pairs.source_video, pairs.source_frame, pairs.driver_video, pairs.driver_frame, pairs.same_video)
    return Pairs(*(a[rank::world] for a in fields))


def fixed_self_pairs(dataset: LandmarkDataset, videos: list[int], per_video: int, seed: int) -> Pairs:
    """A fixed evaluation set: up to ``per_video`` distinct (source, target) frame pairs per video."""
    rows = []
    for v in videos:
        n = len(dataset.videos[v])
        rng = np.random.default_rng([seed, v])
        all_pairs = n * (n - 1)
        picks = rng.choice(all_pairs, size=min(per_video, all_pairs), replace=False)
        for p in np.sort(picks):
            s, t = divmod(int(p), n - 1)
            rows.append((v, s, v, t + (t >= s)))
    return _pairs(rows, same=True)
