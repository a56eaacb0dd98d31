"""``reenact prepare``: videos -> aligned 256x256 crops (JPEG) + per-frame landmarks, pose and crop transforms.

Layout of a prepared dataset::

    DATASET/index.json                    videos, identities, failures (rebuilt after every run)
    DATASET/videos/<key>/frames/NNNNNN.jpg aligned crops (``streamer.alignment``, the inference alignment)
    DATASET/videos/<key>/landmarks.npz    arrays below, one row per kept frame
    DATASET/videos/<key>/meta.json        written last: a video with it is done and skipped next time

``landmarks.npz``: ``frame_index`` (N,) decoder frame numbers, ``time`` (N,) seconds, ``image_points``
and ``crop_points`` (N, 68, 3) pixels, ``visibility`` (N, 68), ``pose`` (N, 3) yaw/pitch/roll degrees,
``affine`` (N, 2, 3) image -> crop, ``expression`` (N, 5).
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from streamer.alignment import crop_image, crop_transform
from streamer.errors import InputError
from streamer.landmarks import FaceLandmarks
from streamer.pose import expression_vector, head_pose

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")
INDEX_VERSION = 1


@dataclass(frozen=True)
class PrepareConfig:
    """Settings of ``prepare``."""

    fps: float | None = None  #: keep at most this many frames per second (None: every frame)
    size: int = 256  #: crop size (the inference alignment's size)
    jpeg_quality: int = 92  #: JPEG quality of the stored crops
    tracker: str = "temporal"  #: ``streamer.tracking.create_tracker`` name
    max_seconds: float | None = None  #: only the first seconds of each video


@dataclass(frozen=True)
class VideoEntry:
    """One input video: its dataset key, file and identity label."""

    key: str
    path: Path
    identity: str


def discover_videos(root: Path, identities: dict[str, str] | None = None) -> list[VideoEntry]:
    """Every video under ``root`` (recursive), with identities.

    Identity: the mapping's label if it names the video (path relative to ``root``, matched on whole
    path components from the end, so a manifest with longer paths works); else a VoxCeleb-style tree
    ``id*/video*/clip.mp4`` gives the ``id*`` folder; else each video is its own identity.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"--videos must be a folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    entries = []
    for path in files:
        rel = path.relative_to(root)
        key = "__".join(rel.with_suffix("").parts)
        label = _lookup(identities or {}, rel)
        if label is None and len(rel.parts) >= 3 and rel.parts[0].startswith("id"):
            label = rel.parts[0]
        entries.append(VideoEntry(key, path, label or key))
    return entries


def _lookup(identities: dict[str, str], rel: Path) -> str | None:
    parts = rel.parts
    for name, label in identities.items():
        other = Path(name).parts
        n = min(len(parts), len(other))
        if n and parts[-n:] == other[-n:]:
            return label
    return None


def read_identity_map(path: Path) -> dict[str, str]:
    """CSV with a ``path`` column and an ``identity`` (or ``group``) column -> {path: identity}."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"identity map not found: {path}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "path" not in rows[0]:
        raise InputError(f"{path}: needs a 'path' column and an 'identity' (or 'group') column")
    col = "identity" if "identity" in rows[0] else "group" if "group" in rows[0] else None
    if col is None:
        raise InputError(f"{path}: needs an 'identity' (or 'group') column")
    return {r["path"]: r[col] for r in rows if r.get("path") and r.get(col)}


def _done(video_dir: Path, entry: VideoEntry) -> bool:
    meta = video_dir / "meta.json"
    if not meta.is_file():
        return False
    try:
        data = json.loads(meta.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return data.get("source_bytes") == entry.path.stat().st_size and data.get("identity") == entry.identity


def _keep_frame(time: float, fps: float | None, last_bin: int) -> tuple[bool, int]:
    if fps is None:
        return True, last_bin
    bin_ = int(np.floor(time * fps + 1e-6))
    return bin_ > last_bin, max(bin_, last_bin)


def prepare_video(entry: VideoEntry, video_dir: Path, cfg: PrepareConfig) -> dict:
    """Track, align and write one video into ``video_dir`` (replaced); returns its meta dict."""
    from streamer.media.video_file import VideoFileSource, VideoFrame
    from streamer.tracking import create_tracker

    if video_dir.exists():
        shutil.rmtree(video_dir)
    frames_dir = video_dir / "frames"
    frames_dir.mkdir(parents=True)
    source = VideoFileSource(entry.path)
    fps = float(source.info.rate)
    tracker = create_tracker(cfg.tracker, fps=fps) if cfg.tracker == "temporal" else create_tracker(cfg.tracker)
    rows: dict[str, list] = {k: [] for k in ("frame_index", "time", "image_points", "crop_points", "visibility")}
    rows.update(pose=[], affine=[], expression=[])
    decoded, last_bin = 0, -1
    try:
        for item in source.items(cfg.max_seconds):
            if not isinstance(item, VideoFrame):
                continue
            decoded += 1
            face = tracker.update(item.image)
            time = float(item.pts * item.time_base) if item.pts is not None else item.index / fps
            keep, last_bin_new = _keep_frame(time, cfg.fps, last_bin)
            if face is None or not keep:
                continue
            last_bin = last_bin_new
            _write_frame(frames_dir, len(rows["time"]), item.image, face, cfg, rows, item.index, time)
    finally:
        tracker.close()
        source.close()
    if decoded == 0:
        raise InputError(f"{entry.path}: no frames decoded")
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    arrays["frame_index"] = arrays["frame_index"].astype(np.int64)
    np.savez_compressed(
        video_dir / "landmarks.npz",
        **{k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in arrays.items()},
    )
    meta = {
        "key": entry.key,
        "identity": entry.identity,
        "source": str(entry.path),
        "source_bytes": entry.path.stat().st_size,
        "fps": fps,
        "decoded_frames": decoded,
        "frames": len(rows["time"]),
        "config": asdict(cfg),
    }
    (video_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def _write_frame(frames_dir, n, image, face: FaceLandmarks, cfg, rows, index, time) -> None:
    affine = crop_transform(face, cfg.size)
    crop = crop_image(image, affine, cfg.size)
    cv2.imwrite(str(frames_dir / f"{n:06d}.jpg"), crop, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
    pose = head_pose(face.points)
    rows["frame_index"].append(index)
    rows["time"].append(time)
    rows["image_points"].append(face.points)
    rows["crop_points"].append(face.transformed(affine).points)
    rows["visibility"].append(face.visibility)
    rows["pose"].append((pose.yaw, pose.pitch, pose.roll))
    rows["affine"].append(affine)
    rows["expression"].append(expression_vector(face.points))


@dataclass(frozen=True)
class PrepareSummary:
    """What a ``prepare`` run did."""

    done: int
    skipped: int
    failed: list[tuple[str, str]]
    frames: int


def prepare_dataset(
    videos: Path,
    out: Path,
    cfg: PrepareConfig,
    identities: dict[str, str] | None = None,
    progress: bool = True,
    on_video: Callable[[VideoEntry], None] | None = None,
) -> PrepareSummary:
    """Prepare every video under ``videos`` into ``out``; corrupt videos are reported and skipped."""
    from tqdm import tqdm

    entries = discover_videos(videos, identities)
    if not entries:
        raise InputError(f"no videos ({', '.join(VIDEO_SUFFIXES)}) under {videos}")
    keys = [e.key for e in entries]
    if len(set(keys)) != len(keys):
        raise InputError("two videos map to the same dataset key")
    out = Path(out)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    done = skipped = 0
    failed: list[tuple[str, str]] = []
    bar = tqdm(entries, desc="prepare", unit="video", disable=not progress)
    for entry in bar:
        bar.set_postfix_str(entry.key[-40:])
        video_dir = out / "videos" / entry.key
        if _done(video_dir, entry):
            skipped += 1
            continue
        if on_video is not None:
            on_video(entry)
        try:
            prepare_video(entry, video_dir, cfg)
            done += 1
        except (InputError, ValueError, OSError, av.error.FFmpegError) as exc:
            failed.append((str(entry.path), str(exc)))
            log.warning("skipped %s: %s", entry.path, exc)
            shutil.rmtree(video_dir, ignore_errors=True)
    index = write_index(out, failed)
    return PrepareSummary(done, skipped, failed, sum(v["frames"] for v in index["videos"]))


def write_index(out: Path, failed: list[tuple[str, str]]) -> dict:
    """Rebuild ``index.json`` from the finished videos' ``meta.json`` files."""
    videos = []
    for meta_path in sorted((Path(out) / "videos").glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        videos.append({k: meta[k] for k in ("key", "identity", "source", "fps", "frames", "decoded_frames")})
    size = json.loads(meta_path.read_text())["config"]["size"] if videos else 256
    index = {
        "version": INDEX_VERSION,
        "size": size,
        "videos": videos,
        "identities": sorted({v["identity"] for v in videos}),
        "failed": [{"path": p, "error": e} for p, e in failed],
    }
    tmp = Path(out) / "index.json.tmp"
    tmp.write_text(json.dumps(index, indent=1))
    tmp.replace(Path(out) / "index.json")
    return index
