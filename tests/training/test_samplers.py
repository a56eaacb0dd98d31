"""Identity split and pair samplers: deterministic, identity-disjoint, yaw range honoured."""

from __future__ import annotations

import numpy as np
import pytest

from training.dataset import LandmarkDataset
from training.samplers import (
    CrossPairSampler,
    Pairs,
    SelfPairSampler,
    batch_rng,
    fixed_self_pairs,
    rank_slice,
    split_by_identity,
)


def test_split_is_deterministic_and_disjoint():
    ids = [f"id{i}" for i in range(10)]
    train, val = split_by_identity(ids, 0.3, seed=1)
    assert (train, val) == split_by_identity(list(reversed(ids)), 0.3, seed=1)
    assert len(val) == 3 and not set(train) & set(val) and set(train) | set(val) == set(ids)
    assert split_by_identity(["a", "b"], 0.0, 0)[1]  # at least one validation identity
    assert split_by_identity(["a"], 0.5, 0) == (["a"], [])


def test_dataset_videos_follow_the_split(synthetic_dataset):
    ds = LandmarkDataset(synthetic_dataset)
    train, val = split_by_identity(ds.identities, 0.25, 0)
    assert {ds.videos[i].identity for i in ds.videos_of(val)} == set(val)
    assert not set(ds.videos_of(train)) & set(ds.videos_of(val))


def _same(a: Pairs, b: Pairs) -> bool:
    return all(
        np.array_equal(x, y)
        for x, y in zip(
            (a.source_video, a.source_frame, a.driver_video, a.driver_frame),
            (b.source_video, b.source_frame, b.driver_video, b.driver_frame),
            strict=True,
        )
    )


def test_self_pairs_deterministic_same_video_and_yaw_range(synthetic_dataset):
    ds = LandmarkDataset(synthetic_dataset)
    sampler = SelfPairSampler(ds, list(range(len(ds))), yaw_range=(8.0, 180.0))
    a, b = sampler.sample(batch_rng(3, 1, 7), 64), sampler.sample(batch_rng(3, 1, 7), 64)
    assert _same(a, b) and not _same(a, sampler.sample(batch_rng(3, 1, 8), 64))
    assert np.array_equal(a.source_video, a.driver_video) and a.same_video.all()
    dyaw = np.array(
        [
            abs(ds.videos[v].yaw[s] - ds.videos[v].yaw[t])
            for v, s, t in zip(a.source_video, a.source_frame, a.driver_frame, strict=True)
        ]
    )
    assert (dyaw >= 8.0).all()


def test_cross_pairs_have_different_identities(synthetic_dataset):
    ds = LandmarkDataset(synthetic_dataset)
    pairs = CrossPairSampler(ds, list(range(len(ds)))).sample(batch_rng(0, 0, 0), 50)
    assert all(
        ds.videos[s].identity != ds.videos[d].identity
        for s, d in zip(pairs.source_video, pairs.driver_video, strict=True)
    )
    assert not pairs.same_video.any()


def test_rank_slices_partition_the_global_batch(synthetic_dataset):
    ds = LandmarkDataset(synthetic_dataset)
    sampler = SelfPairSampler(ds, list(range(len(ds))))
    full = sampler.sample(batch_rng(0, 0, 0), 8)
    parts = [rank_slice(full, r, 2) for r in range(2)]
    assert sorted(np.concatenate([p.source_frame for p in parts])) == sorted(full.source_frame)
    assert np.array_equal(parts[1].source_frame, full.source_frame[1::2])


def test_fixed_pairs_are_distinct_frames(synthetic_dataset):
    ds = LandmarkDataset(synthetic_dataset)
    pairs = fixed_self_pairs(ds, [0, 1], per_video=20, seed=0)
    assert len(pairs) == 40 and (pairs.source_frame != pairs.driver_frame).all()
    assert _same(pairs, fixed_self_pairs(ds, [0, 1], per_video=20, seed=0))


def test_extra_validation_identities_are_held_out_on_top():
    ids = [f"id{i}" for i in range(12)]
    train, val = split_by_identity(ids, 0.25, seed=0)
    train2, val2 = split_by_identity(ids, 0.25, seed=0, extra_val=[train[0], "absent"])
    assert set(val2) == set(val) | {train[0]} and train2 == train[1:]
    with pytest.raises(ValueError, match="every identity"):
        split_by_identity(["a", "b"], 0.5, 0, extra_val=["a", "b"])
