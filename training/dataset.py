"""A prepared dataset (``training.prepare``) loaded for training: landmark arrays in memory, crops on demand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from streamer.errors import InputError


@dataclass(frozen=True)
class VideoLandmarks:
    """The landmark arrays of one prepared video (see ``training.prepare`` for the fields)."""

    key: str
    identity: str
    folder: Path
    crop_points: np.ndarray
    image_points: np.ndarray
    visibility: np.ndarray
    pose: np.ndarray
    affine: np.ndarray

    def __len__(self) -> int:
        return len(self.crop_points)

    @property
    def yaw(self) -> np.ndarray:
        """(N,) yaw in degrees."""
        return self.pose[:, 0]

    def crop(self, frame: int) -> np.ndarray:
        """The aligned BGR crop of a kept frame."""
        image = cv2.imread(str(self.folder / "frames" / f"{frame:06d}.jpg"))
        if image is None:
            raise InputError(f"missing crop {frame} of {self.key}")
        return image


class LandmarkDataset:
    """All prepared videos with at least ``min_frames`` frames, sorted by key."""

    def __init__(self, root: str | Path, min_frames: int = 2):
        self.root = Path(root)
        index_path = self.root / "index.json"
        if not index_path.is_file():
            raise InputError(f"not a prepared dataset (no index.json): {self.root}")
        index = json.loads(index_path.read_text())
        self.size = int(index.get("size", 256))
        self.videos: list[VideoLandmarks] = []
        for entry in sorted(index["videos"], key=lambda v: v["key"]):
            if entry["frames"] < min_frames:
                continue
            folder = self.root / "videos" / entry["key"]
            with np.load(folder / "landmarks.npz") as data:
                self.videos.append(
                    VideoLandmarks(
                        entry["key"],
                        entry["identity"],
                        folder,
                        data["crop_points"].astype(np.float32),
                        data["image_points"].astype(np.float32),
                        data["visibility"].astype(np.float32),
                        data["pose"].astype(np.float32),
                        data["affine"].astype(np.float64),
                    )
                )
        if not self.videos:
            raise InputError(f"{self.root}: no video with at least {min_frames} tracked frames")

    @property
    def identities(self) -> list[str]:
        """Sorted identity labels."""
        return sorted({v.identity for v in self.videos})

    def videos_of(self, identities: set[str] | list[str]) -> list[int]:
        """Indices of the videos whose identity is in ``identities``."""
        wanted = set(identities)
        return [i for i, v in enumerate(self.videos) if v.identity in wanted]

    def __len__(self) -> int:
        return len(self.videos)
