"""Reenactment quality: does a reenactor draw the real frames? Self- and cross-reenactment on held-out data.

    python -m benchmarks.reenact_quality --data runs/shared_full --methods geometric[,rfg-global,rfg-global-local] \
        [--quick] [--max-clips N] [--max-frames N] [--no-identity] --markdown OUT.md --json OUT.json

Data: a prepared dataset (``reenact prepare``). Splits, as in training (``training.config.DataConfig``):
held-out identities are ``split_by_identity(identities, 0.25, 0)[1]``, scored on whole videos; the
training identities are scored on the last ``TAIL_FRACTION`` of each video (``heldout_tail``), which
the trainer leaves out.

Self-reenactment: source = the most frontal frame among the first 20% of the scored range, driver =
the range's frames in order (``image_points``), reference = the source frame. The ground truth of frame
t is its crop warped into the source crop (``A_s . A_t^-1``); pixels from outside crop t or outside
the video frame are invalid. The source frame is stepped but not scored. Cross-reenactment: the source
of held-out identity A driven by the video of held-out identity B (reference: B's most frontal early
frame); no pixel ground truth, so identity, relative head-pose error and flicker only.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from benchmarks import quality_metrics as Q
from benchmarks.quality_identity import DlibFaceEmbedder, embedder_status
from export.atomic import atomic_write_text
from streamer.errors import InputError
from streamer.geometry import apply_affine
from streamer.landmarks import FaceLandmarks
from streamer.pose import head_pose
from training.config import DataConfig
from training.dataset import LandmarkDataset, VideoLandmarks
from training.samplers import split_by_identity

SPLITS = ("heldout-identities", "heldout-tail", "cross")
SPLIT_TITLES = {
    "heldout-identities": "Self-reenactment, held-out identities (whole videos)",
    "heldout-tail": "Self-reenactment, training identities' held-out tails (last 20% of each video)",
    "cross": "Cross-reenactment, held-out identities (source A, driver B)",
}
#: Per-frame columns of one method on one clip (NaN where a metric does not apply or failed).
FRAME_COLUMNS = (
    "frame",
    "yaw_diff",
    "psnr_valid",
    "psnr_face",
    "ssim_valid",
    "ssim_face",
    "identity",
    "yaw_error",
    "pitch_error",
    "roll_error",
    "landmark_distance",
    "face_found",
)
PIXEL_METRICS = ("psnr_valid", "psnr_face", "ssim_valid", "ssim_face")


@dataclass(frozen=True)
class QualityConfig:
    """What to score and how (defaults: the full protocol)."""

    data: Path
    methods: tuple[str, ...] = ("geometric",)
    weights: Path | None = None  #: RFG weights for the ``rfg-*`` methods (None: the shipped file)
    max_clips: int | None = None  #: clips per split (None: all)
    max_frames: int | None = None  #: driver frames per clip, from the start of its range (None: all)
    identity: bool = True  #: dlib face embeddings (skipped with a note when not installed)
    val_fraction: float = DataConfig.val_fraction
    split_seed: int = DataConfig.split_seed
    source_window: float = 0.2  #: the source is the most frontal frame among this first share of the range
    large_pose_deg: float = 30.0  #: large-pose subset: |yaw_t - yaw_s| above this
    top_fraction: float = 0.1  #: the other large-pose subset: this top share of |yaw_t - yaw_s|
    still_threshold: float = 0.01  #: stationary: driver landmarks move < this many interocular distances per frame
    still_min_frames: int = 5
    face_dilation: float = 0.1  #: face mask: landmark hull dilated by this many interocular distances
    threads: int = 1
    progress: bool = True
    quick: bool = False  #: a smoke run (``QUICK`` limits); the report says so


QUICK = {"max_clips": 1, "max_frames": 12, "quick": True}


@dataclass(frozen=True)
class Clip:
    """One scored sequence: a source frame, and driver frames stepped in order."""

    split: str
    name: str
    source_video: int
    source_frame: int
    driver_video: int
    frames: range
    reference_frame: int

    @property
    def is_self(self) -> bool:
        return self.split != "cross"


@dataclass
class ClipResult:
    """Per-frame columns per method, ground-truth-side columns and the flicker samples of one clip."""

    clip: Clip
    columns: dict[str, dict[str, list[float]]]
    reference_identity: list[float] = field(default_factory=list)
    gt_face_found: list[float] = field(default_factory=list)
    still_stretches: list[tuple[int, int]] = field(default_factory=list)
    flicker_output: dict[str, list[float]] = field(default_factory=dict)
    flicker_driver: list[float] = field(default_factory=list)
    frame_size_known: bool = True
    notes: list[str] = field(default_factory=list)


# --- the plan -------------------------------------------------------------------------------------------


def split_identities(dataset: LandmarkDataset, cfg: QualityConfig) -> tuple[list[str], list[str]]:
    """(training, held-out) identities, exactly as the trainer splits them."""
    return split_by_identity(dataset.identities, cfg.val_fraction, cfg.split_seed)


def _window(frames: range, share: float) -> range:
    return range(frames.start, frames.start + max(1, int(np.ceil(share * len(frames)))))


def _limit(frames: range, max_frames: int | None) -> range:
    return frames if max_frames is None else range(frames.start, min(frames.stop, frames.start + max_frames))


def plan_clips(dataset: LandmarkDataset, cfg: QualityConfig) -> list[Clip]:
    """Every clip of the three splits (see the module docstring), ``max_clips`` per split."""
    train_ids, val_ids = split_identities(dataset, cfg)
    clips: list[Clip] = []
    for split, ids in (("heldout-identities", val_ids), ("heldout-tail", train_ids)):
        chosen = []
        for v in dataset.videos_of(ids):
            video = dataset.videos[v]
            whole = range(len(video))
            cut = Q.heldout_tail(len(video)) if split == "heldout-tail" else slice(0, len(video))
            frames = _limit(whole[cut], cfg.max_frames)
            if len(frames) < 2:
                continue
            s = Q.most_frontal(video.pose, _window(frames, cfg.source_window))
            chosen.append(Clip(split, video.key, v, s, v, frames, s))
        clips += chosen[: cfg.max_clips]
    cross = []
    if len(val_ids) >= 2:
        first = {ident: dataset.videos_of([ident])[0] for ident in val_ids}
        for i, driver_id in enumerate(val_ids):
            source_id = val_ids[(i + 1) % len(val_ids)]
            a, b = first[source_id], first[driver_id]
            va, vb = dataset.videos[a], dataset.videos[b]
            frames = _limit(range(len(vb)), cfg.max_frames)
            s = Q.most_frontal(va.pose, _window(range(len(va)), cfg.source_window))
            r = Q.most_frontal(vb.pose, _window(frames, cfg.source_window))
            cross.append(Clip("cross", f"{source_id} <- {driver_id}", a, s, b, frames, r))
    return clips + cross[: cfg.max_clips]


# --- running ----------------------------------------------------------------------------------------------


def _options(method: str, cfg: QualityConfig) -> dict:
    """Builder options of ``method``: the ``--weights`` file for the trained generators."""
    return {"weights": str(cfg.weights)} if method.startswith("rfg") and cfg.weights is not None else {}


class Scorer:
    """Detector, embedder and the reenactors under test, shared by every clip."""

    def __init__(self, dataset: LandmarkDataset, cfg: QualityConfig, reenactors: dict | None = None):
        """``reenactors``: prebuilt ones by method name (a sweep's variants); default: ``cfg.methods`` by name."""
        from streamer.detectors import create_detector
        from streamer.reenactors.factory import create_reenactor

        self.dataset, self.cfg, self.size = dataset, cfg, dataset.size
        if reenactors is None:
            reenactors = {m: create_reenactor(m, **_options(m, cfg)) for m in cfg.methods}
        elif tuple(reenactors) != cfg.methods:
            raise ValueError(f"reenactors {tuple(reenactors)} do not match cfg.methods {cfg.methods}")
        self.reenactors = reenactors
        for m, r in self.reenactors.items():
            if r.crop_size != dataset.size:
                raise InputError(
                    f"reenactor {m!r} draws {r.crop_size} px crops; {cfg.data} has {dataset.size} px crops"
                )
        self.identity_status = embedder_status() if cfg.identity else None
        self.embedder = DlibFaceEmbedder() if self.identity_status and self.identity_status.available else None
        self.detector = create_detector("mediapipe", "image")
        self._frame_sizes: dict[str, tuple[int, int] | None] = {}

    def close(self) -> None:
        self.detector.close()

    def frame_size(self, video: VideoLandmarks) -> tuple[int, int] | None:
        """(w, h) of the video the crops were cut from, or None when it cannot be opened here."""
        if video.key not in self._frame_sizes:
            size = None
            try:
                meta = json.loads((video.folder / "meta.json").read_text())
                from streamer.media.video_file import VideoFileSource

                src = VideoFileSource(meta["source"])
                size = (src.info.width, src.info.height)
                src.close()
            except (OSError, KeyError, ValueError, InputError):
                size = None
            self._frame_sizes[video.key] = size
        return self._frame_sizes[video.key]

    def image_valid(self, video: VideoLandmarks, frame: int) -> tuple[np.ndarray, bool]:
        """Pixels of this frame's crop that lie inside the video frame (all, when its size is unknown)."""
        size = self.frame_size(video)
        if size is None:
            return np.ones((self.size, self.size), bool), False
        return Q.valid_mask(video.affine[frame], (self.size, self.size), size), True

    def detect(self, image: np.ndarray) -> np.ndarray | None:
        faces = self.detector.detect(image)
        return None if not faces else faces[0].points.astype(np.float64)

    def embed(self, image: np.ndarray, points: np.ndarray) -> np.ndarray | None:
        return None if self.embedder is None else self.embedder.embed(image, points)

    def run(self, clip: Clip, tick=lambda: None) -> ClipResult:
        """Step every method through the clip and score each frame."""
        return self._run_self(clip, tick) if clip.is_self else self._run_cross(clip, tick)

    def _prepare(self, video: VideoLandmarks, s: int) -> tuple[np.ndarray, dict]:
        crop = video.crop(s)
        marks = FaceLandmarks(video.crop_points[s], video.visibility[s])
        return crop, {m: r.prepare(crop, marks) for m, r in self.reenactors.items()}

    def _steps(self, states: dict, driver: FaceLandmarks, reference: FaceLandmarks) -> Iterator[tuple[str, np.ndarray]]:
        for m, r in self.reenactors.items():
            out = r.step(states[m], driver, reference)
            if out.shape != (self.size, self.size, 3):
                raise ValueError(f"{m}: step returned {out.shape}, expected {(self.size, self.size, 3)}")
            yield m, out

    def _still(self, video: VideoLandmarks, frames: range) -> tuple[list[tuple[int, int]], set[int]]:
        motion = Q.landmark_motion(video.image_points[frames.start : frames.stop])
        stretches = Q.stationary_stretches(motion, self.cfg.still_threshold, self.cfg.still_min_frames)
        steps = {i for a, b in stretches for i in range(a + 1, b)}
        return stretches, steps

    def _run_self(self, clip: Clip, tick) -> ClipResult:
        cfg, size = self.cfg, self.size
        video = self.dataset.videos[clip.source_video]
        s = clip.source_frame
        a_s = video.affine[s]
        src_crop, states = self._prepare(video, s)
        src_emb = self.embed(src_crop, video.crop_points[s])
        reference = FaceLandmarks(video.image_points[s], video.visibility[s])
        inside, known = self.image_valid(video, s)
        stretches, still_steps = self._still(video, clip.frames)
        res = ClipResult(clip, {m: {c: [] for c in FRAME_COLUMNS} for m in self.reenactors}, frame_size_known=known)
        res.still_stretches = [(clip.frames.start + a, clip.frames.start + b) for a, b in stretches]
        res.flicker_output = {m: [] for m in self.reenactors}
        prev: dict[str, np.ndarray] = {}
        prev_gt = prev_valid = None
        for i, t in enumerate(clip.frames):
            crop_t = video.crop(t)
            gt, valid = Q.warp_target(crop_t, Q.target_to_source(a_s, video.affine[t]), size)
            valid &= inside
            target = apply_affine(a_s, video.image_points[t][:, :2])
            face = Q.face_mask(target, size, cfg.face_dilation) & valid
            scored = t != s
            gt_points = self.detect(gt) if scored else None
            if scored:
                gt_emb = self.embed(crop_t, video.crop_points[t])
                res.reference_identity.append(_cos(gt_emb, src_emb))
                res.gt_face_found.append(float(gt_points is not None))
            step_still = i in still_steps and prev_gt is not None
            both = valid & prev_valid if step_still else None
            if step_still:
                res.flicker_driver.append(Q.mean_abs_difference(gt, prev_gt, both))
            driver = FaceLandmarks(video.image_points[t], video.visibility[t])
            for m, out in self._steps(states, driver, reference):
                if step_still:
                    res.flicker_output[m].append(Q.mean_abs_difference(out, prev[m], both))
                prev[m] = out
                if not scored:
                    continue
                col = res.columns[m]
                points = self.detect(out)
                col["frame"].append(t)
                col["yaw_diff"].append(float(abs(video.yaw[t] - video.yaw[s])))
                col["psnr_valid"].append(Q.psnr(out, gt, valid))
                col["psnr_face"].append(Q.psnr(out, gt, face))
                col["ssim_valid"].append(Q.ssim(out, gt, valid))
                col["ssim_face"].append(Q.ssim(out, gt, face))
                col["identity"].append(_cos(self.embed(out, target if points is None else points), src_emb))
                _pose_columns(col, points, gt_points)
                col["landmark_distance"].append(
                    Q.landmark_distance(points, gt_points) if points is not None and gt_points is not None else np.nan
                )
                col["face_found"].append(float(points is not None))
            prev_gt, prev_valid = gt, valid
            tick()
        if not known:
            res.notes.append(f"{video.key}: source video not readable here, edge validity from the crop only")
        return res

    def _run_cross(self, clip: Clip, tick) -> ClipResult:
        size = self.size
        src_video = self.dataset.videos[clip.source_video]
        drv = self.dataset.videos[clip.driver_video]
        s, r = clip.source_frame, clip.reference_frame
        src_crop, states = self._prepare(src_video, s)
        src_emb = self.embed(src_crop, src_video.crop_points[s])
        src_points = self.detect(src_crop)
        ref_points = self.detect(drv.crop(r))
        base_out = None if src_points is None else _angles(src_points)
        base_drv = None if ref_points is None else _angles(ref_points)
        reference = FaceLandmarks(drv.image_points[r], drv.visibility[r])
        a_r = drv.affine[r]
        src_inside, known_src = self.image_valid(src_video, s)
        drv_inside, known_drv = self.image_valid(drv, r)
        stretches, still_steps = self._still(drv, clip.frames)
        res = ClipResult(
            clip, {m: {c: [] for c in FRAME_COLUMNS} for m in self.reenactors}, frame_size_known=known_src and known_drv
        )
        res.still_stretches = [(clip.frames.start + a, clip.frames.start + b) for a, b in stretches]
        res.flicker_output = {m: [] for m in self.reenactors}
        if base_out is None or base_drv is None:
            res.notes.append(f"{clip.name}: no face detected on the source or the driver's reference: no pose error")
        prev: dict[str, np.ndarray] = {}
        prev_gt = prev_valid = None
        for i, t in enumerate(clip.frames):
            crop_t = drv.crop(t)
            drv_gt, valid = Q.warp_target(crop_t, Q.target_to_source(a_r, drv.affine[t]), size)
            valid &= drv_inside
            drv_points = self.detect(drv_gt)
            res.reference_identity.append(_cos(self.embed(crop_t, drv.crop_points[t]), src_emb))
            res.gt_face_found.append(float(drv_points is not None))
            step_still = i in still_steps and prev_gt is not None
            if step_still:
                res.flicker_driver.append(Q.mean_abs_difference(drv_gt, prev_gt, valid & prev_valid))
            driver = FaceLandmarks(drv.image_points[t], drv.visibility[t])
            for m, out in self._steps(states, driver, reference):
                if step_still:
                    res.flicker_output[m].append(Q.mean_abs_difference(out, prev[m], src_inside))
                prev[m] = out
                col = res.columns[m]
                points = self.detect(out)
                col["frame"].append(t)
                col["yaw_diff"].append(float(abs(drv.yaw[t] - drv.yaw[r])))
                for name in PIXEL_METRICS + ("landmark_distance",):
                    col[name].append(np.nan)
                fallback = src_video.crop_points[s]
                col["identity"].append(_cos(self.embed(out, fallback if points is None else points), src_emb))
                if points is None or drv_points is None or base_out is None or base_drv is None:
                    _pose_columns(col, None, None)
                else:
                    moved_out = _angles(points) - base_out
                    moved_drv = _angles(drv_points) - base_drv
                    err = Q.angle_difference(moved_out, moved_drv)
                    for k, name in enumerate(("yaw_error", "pitch_error", "roll_error")):
                        col[name].append(float(err[k]))
                col["face_found"].append(float(points is not None))
            prev_gt, prev_valid = drv_gt, valid
            tick()
        return res


def _cos(a: np.ndarray | None, b: np.ndarray | None) -> float:
    return np.nan if a is None or b is None else Q.cosine_similarity(a, b)


def _angles(points: np.ndarray) -> np.ndarray:
    p = head_pose(points)
    return np.array([p.yaw, p.pitch, p.roll])


def _pose_columns(col: dict[str, list[float]], points: np.ndarray | None, reference: np.ndarray | None) -> None:
    if points is None or reference is None:
        err = np.full(3, np.nan)
    else:
        err = Q.angle_difference(_angles(points), _angles(reference))
    for k, name in enumerate(("yaw_error", "pitch_error", "roll_error")):
        col[name].append(float(err[k]))


# --- aggregation -------------------------------------------------------------------------------------------


def _mean(values) -> float | None:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def _count(values) -> int:
    return int(np.isfinite(np.asarray(values, np.float64)).sum())


def _pixels(cols: dict[str, np.ndarray], sel: np.ndarray) -> dict[str, float | int | None]:
    out: dict[str, float | int | None] = {"frames": int(sel.sum())}
    for name in PIXEL_METRICS:
        out[name] = _mean(cols[name][sel])
    return out


def summarise(results: list[ClipResult], cfg: QualityConfig) -> dict:
    """Per split and method: frame-pooled means and every count behind them."""
    summary: dict[str, dict] = {}
    for split in SPLITS:
        mine = [r for r in results if r.clip.split == split]
        if not mine:
            continue
        entry: dict = {
            "clips": len(mine),
            "driver_frames": sum(len(r.clip.frames) for r in mine),
            "scored_frames": sum(len(r.reference_identity) for r in mine),
            "reference_identity": _mean(np.concatenate([r.reference_identity for r in mine])),
            "reference_identity_frames": _count(np.concatenate([r.reference_identity for r in mine])),
            "gt_face_found": _mean(np.concatenate([r.gt_face_found for r in mine])),
            "still_stretches": sum(len(r.still_stretches) for r in mine),
            "still_steps": sum(len(r.flicker_driver) for r in mine),
            "flicker_driver": _mean(np.concatenate([r.flicker_driver for r in mine])),
            "methods": {},
        }
        for m in cfg.methods:
            cols = {c: np.concatenate([np.asarray(r.columns[m][c], np.float64) for r in mine]) for c in FRAME_COLUMNS}
            pose = np.stack([cols["yaw_error"], cols["pitch_error"], cols["roll_error"]], axis=1)
            pose_mean = pose.mean(axis=1)
            flick_out = np.concatenate([r.flicker_output[m] for r in mine])
            out_mean, drv_mean = _mean(flick_out), entry["flicker_driver"]
            everything = np.ones(len(cols["frame"]), bool)
            top = Q.top_fraction_mask(cols["yaw_diff"], cfg.top_fraction)
            method = {
                "frames": int(len(cols["frame"])),
                **{k: v for k, v in _pixels(cols, everything).items() if k != "frames"},
                "large_pose": {
                    "min_yaw_diff_deg": cfg.large_pose_deg,
                    **_pixels(cols, cols["yaw_diff"] > cfg.large_pose_deg),
                },
                "top_yaw_decile": {
                    "min_yaw_diff_deg": float(cols["yaw_diff"][top].min()) if top.any() else None,
                    "max_yaw_diff_deg": float(cols["yaw_diff"].max()) if len(cols["yaw_diff"]) else None,
                    **_pixels(cols, top),
                },
                "identity": _mean(cols["identity"]),
                "identity_frames": _count(cols["identity"]),
                "pose_error_deg": _mean(pose_mean),
                "yaw_error_deg": _mean(cols["yaw_error"]),
                "pitch_error_deg": _mean(cols["pitch_error"]),
                "roll_error_deg": _mean(cols["roll_error"]),
                "pose_frames": _count(pose_mean),
                "landmark_distance": _mean(cols["landmark_distance"]),
                "landmark_frames": _count(cols["landmark_distance"]),
                "face_found": _mean(cols["face_found"]),
                "flicker_output": out_mean,
                "flicker": None if out_mean is None or drv_mean is None else out_mean - drv_mean,
                "flicker_steps": int(len(flick_out)),
            }
            entry["methods"][m] = method
        summary[split] = entry
    return summary


def clip_table(results: list[ClipResult], cfg: QualityConfig) -> list[dict]:
    """Per clip and method means (for the JSON)."""
    rows = []
    for r in results:
        c = r.clip
        row = {
            "split": c.split,
            "name": c.name,
            "source_video": c.source_video,
            "source_frame": c.source_frame,
            "driver_video": c.driver_video,
            "frames": [c.frames.start, c.frames.stop],
            "reference_frame": c.reference_frame,
            "still_stretches": r.still_stretches,
            "frame_size_known": r.frame_size_known,
            "reference_identity": _mean(r.reference_identity),
            "methods": {},
        }
        for m in cfg.methods:
            cols = r.columns[m]
            pose = np.array([cols["yaw_error"], cols["pitch_error"], cols["roll_error"]], np.float64).reshape(3, -1)
            row["methods"][m] = {k: _mean(cols[k]) for k in FRAME_COLUMNS if k not in ("frame", "yaw_diff")} | {
                "pose_error_deg": _mean(pose.mean(axis=0)),
                "scored_frames": len(cols["frame"]),
                "flicker_output": _mean(r.flicker_output[m]),
            }
        rows.append(row)
    return rows


# --- report ---------------------------------------------------------------------------------------------------


def fmt(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def machine_line(m: dict) -> str:
    """The machine and the libraries that decide these numbers, in one line."""
    lib = m["libraries"]
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, GPU: {', '.join(m['gpus'])}; "
        f"Python {lib['python']}, numpy {lib['numpy']}, mediapipe {lib['mediapipe']}, torch {lib['torch']}"
    )


def render_markdown(report: dict) -> str:
    """The tables, the counts behind them, what each column means, the machine and the command."""
    lines = ["# Reenactment quality", ""]
    lines += [f"Command: `{report['command']}`", ""]
    lines += [f"Machine: {machine_line(report['machine'])}. Run {report['date']}, {report['seconds']:.0f} s.", ""]
    d = report["dataset"]
    lines += [
        f"Data: `{d['root']}`: {d['videos']} videos, {len(d['identities'])} identities; held-out identities "
        f"({len(d['heldout_identities'])}): {', '.join(d['heldout_identities'])}; training identities scored on the "
        f"last {int(Q.TAIL_FRACTION * 100)}% of each video.",
        "",
    ]
    ident = report["identity_model"]
    lines += [f"Identity model: {ident}", ""]
    if report.get("weights"):
        lines += [f"RFG weights: `{report['weights']}`", ""]
    if report["quick"]:
        lines += ["**Quick mode** (few clips, few frames): a smoke run, not a measurement.", ""]
    summary = report["summary"]
    for split in ("heldout-identities", "heldout-tail"):
        if split not in summary:
            continue
        e = summary[split]
        lines += [f"## {SPLIT_TITLES[split]}", ""]
        lines += [
            f"{e['clips']} clips, {e['driver_frames']} driver frames, {e['scored_frames']} scored (the source frame of "
            f"each clip is stepped, not scored). Ground truth has a face (MediaPipe) in "
            f"{_pct(e['gt_face_found'])} of scored frames; identity of the real frame vs the source (the ceiling): "
            f"{fmt(e['reference_identity'], 3)} over {e['reference_identity_frames']} frames. Stationary stretches: "
            f"{e['still_stretches']} ({e['still_steps']} frame steps); the real frames' own flicker there: "
            f"{fmt(e['flicker_driver'])} grey levels.",
            "",
            "| method | frames | PSNR valid crop (dB) | PSNR face (dB) | SSIM valid crop | SSIM face | identity (cos) "
            "[frames] | pose error (deg) [frames] | landmark dist (IOD) | face found | flicker (+grey lvl) [steps] |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, r in e["methods"].items():
            lines.append(
                f"| {name} | {r['frames']} | {fmt(r['psnr_valid'])} | {fmt(r['psnr_face'])} | "
                f"{fmt(r['ssim_valid'], 4)} | "
                f"{fmt(r['ssim_face'], 4)} | {fmt(r['identity'], 3)} [{r['identity_frames']}] | "
                f"{fmt(r['pose_error_deg'])} [{r['pose_frames']}] | {fmt(r['landmark_distance'], 3)} | "
                f"{_pct(r['face_found'])} | {fmt(r['flicker'])} [{r['flicker_steps']}] |"
            )
        lines += ["", "Large-pose subsets (|yaw_t - yaw_s|, from the dataset's tracked landmarks):", ""]
        lines += [
            "| method | > 30 deg: frames | PSNR valid | PSNR face | SSIM valid | SSIM face | "
            "top decile: yaw diff (deg) | frames | PSNR valid | PSNR face | SSIM valid | SSIM face |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, r in e["methods"].items():
            lp, td = r["large_pose"], r["top_yaw_decile"]
            lines.append(
                f"| {name} | {lp['frames']} | {fmt(lp['psnr_valid'])} | {fmt(lp['psnr_face'])} | "
                f"{fmt(lp['ssim_valid'], 4)} | {fmt(lp['ssim_face'], 4)} | "
                f"{fmt(td['min_yaw_diff_deg'], 1)}-{fmt(td['max_yaw_diff_deg'], 1)} | {td['frames']} | "
                f"{fmt(td['psnr_valid'])} | {fmt(td['psnr_face'])} | {fmt(td['ssim_valid'], 4)} | "
                f"{fmt(td['ssim_face'], 4)} |"
            )
        if any(r["large_pose"]["frames"] == 0 for r in e["methods"].values()):
            lines += ["", "No frame here turns more than 30 degrees from its source: the top-decile columns stand in."]
        lines.append("")
    if "cross" in summary:
        e = summary["cross"]
        lines += [f"## {SPLIT_TITLES['cross']}", ""]
        lines += [
            f"{e['clips']} pairs, {e['driver_frames']} driver frames, all scored. Driver frame vs source identity "
            f"(a different person, the floor): {fmt(e['reference_identity'], 3)}. Stationary stretches: "
            f"{e['still_stretches']} ({e['still_steps']} steps); the driver's own flicker there: "
            f"{fmt(e['flicker_driver'])} grey levels.",
            "",
            "| method | frames | identity (cos) [frames] | relative pose error (deg) [frames] | face found | "
            "flicker (+grey lvl) [steps] |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in e["methods"].items():
            lines.append(
                f"| {name} | {r['frames']} | {fmt(r['identity'], 3)} [{r['identity_frames']}] | "
                f"{fmt(r['pose_error_deg'])} [{r['pose_frames']}] | {_pct(r['face_found'])} | "
                f"{fmt(r['flicker'])} [{r['flicker_steps']}] |"
            )
        lines.append("")
    elif report["cross_note"]:
        lines += [f"## {SPLIT_TITLES['cross']}", "", report["cross_note"], ""]
    lines += _per_clip(report)
    lines += _definitions(report)
    if report["notes"]:
        lines += ["## Notes", ""] + [f"- {n}" for n in report["notes"]] + [""]
    return "\n".join(lines)


def _per_clip(report: dict) -> list[str]:
    lines = [
        "## Per clip",
        "",
        "| split | clip | source frame | frames | method | scored | PSNR valid | SSIM face | identity | pose error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in report["clips"]:
        for name, r in c["methods"].items():
            lines.append(
                f"| {c['split']} | {c['name']} | {c['source_frame']} | {c['frames'][0]}-{c['frames'][1] - 1} | "
                f"{name} | {r['scored_frames']} | {fmt(r['psnr_valid'])} | {fmt(r['ssim_face'], 4)} | "
                f"{fmt(r['identity'], 3)} | {fmt(r['pose_error_deg'])} |"
            )
    return [*lines, ""]


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _definitions(report: dict) -> list[str]:
    c = report["config"]
    return [
        "## What the columns mean",
        "",
        "- Ground truth of frame t: its aligned crop warped into the source crop (`A_s . A_t^-1`, bilinear). "
        "*Valid crop*: pixels that come from inside crop t and inside the video frame; *face*: the convex hull of "
        f"frame t's landmarks dilated by {c['face_dilation']} interocular distances, within the valid pixels.",
        "- PSNR: over the masked pixels and 3 channels, per frame, then the mean over frames. SSIM: Gaussian window "
        f"(sigma {Q.SSIM_SIGMA}, 11x11), K1 {Q.SSIM_K1}, K2 {Q.SSIM_K2}, channel mean, averaged over pixels whose "
        "whole window lies in the mask (scikit-image's `structural_similarity` when the mask is the whole crop).",
        "- Identity: cosine similarity of dlib face descriptors (`face-recognition-models` ResNet, aligned by its "
        "5-point predictor inside the box of the landmarks MediaPipe finds on the output, else the target's) between "
        "output and source crop. dlib descriptors are not centred, so unrelated faces still score about 0.8.",
        "- Pose error: mean of |yaw|, |pitch|, |roll| differences (`streamer.pose.head_pose`) between MediaPipe "
        "landmarks detected on the output and on the ground truth, over frames with a face on both. Cross: the "
        "output's pose change from the source vs the driver's change from its reference frame. Landmark distance: "
        "mean point distance between the two detections / the ground truth's interocular distance.",
        f"- Flicker: on stationary stretches (driver landmarks moving < {c['still_threshold']} interocular distances "
        f"per frame for >= {c['still_min_frames']} frames), mean |y_t - y_t-1| of the output minus the same for the "
        "real frames (grey levels, valid pixels of both frames); lower is better, 0 is as steady as the real video, "
        "below 0 steadier than it (the real frames carry sensor and JPEG noise that a warp of one still photo does "
        "not).",
        "- Face found: share of outputs on which MediaPipe finds a face. All means pool frames over clips.",
        "- Identity needs `pip install -e '.[quality]'`; without it those columns read n/a. "
        "`--from-json OUT.json --markdown OUT.md` re-renders this page from a saved run.",
        "",
    ]


# --- entry point ------------------------------------------------------------------------------------------------


def weights_info(cfg: QualityConfig) -> str:
    """Which RFG weights the rfg-* rows ran (path and content digest), or '' when none did."""
    if not any(m.startswith("rfg") for m in cfg.methods):
        return ""
    from export.atomic import sha256_file
    from streamer.reenactors.rfg import DEFAULT_WEIGHTS

    path = cfg.weights or DEFAULT_WEIGHTS
    digest = sha256_file(path)[:12]
    return f"{path} (sha256 {digest}, {path.stat().st_size / 1e6:.1f} MB)"


def set_threads(threads: int) -> None:
    """OpenCV's and torch's compute threads for a scoring run."""
    cv2.setNumThreads(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def evaluate(cfg: QualityConfig, command: str = "") -> dict:
    """Run the benchmark; returns the report dict (JSON-ready)."""
    from tqdm import tqdm

    from benchmarks.machine import describe_machine

    set_threads(cfg.threads)
    started = time.time()
    dataset = LandmarkDataset(cfg.data)
    train_ids, val_ids = split_identities(dataset, cfg)
    clips = plan_clips(dataset, cfg)
    if not clips:
        raise InputError(f"{cfg.data}: nothing to score (no video with two frames in any split)")
    scorer = Scorer(dataset, cfg)
    results = []
    try:
        total = sum(len(c.frames) for c in clips)
        with tqdm(total=total, unit="frame", desc="quality", disable=not cfg.progress) as bar:
            for clip in clips:
                bar.set_postfix_str(f"{clip.split}: {clip.name[-30:]}")
                results.append(scorer.run(clip, lambda: bar.update(1)))
    finally:
        scorer.close()
    notes = [n for r in results for n in r.notes]
    status = scorer.identity_status
    if status is None:
        identity_model = "off (--no-identity): identity columns are n/a."
    elif status.available:
        identity_model = status.detail
    else:
        identity_model = f"not available ({status.detail}): identity columns are n/a."
    cross_note = (
        "" if len(val_ids) >= 2 else f"Skipped: cross-reenactment needs two held-out identities, have {len(val_ids)}."
    )
    cfg_dict = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    return {
        "command": command,
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "seconds": time.time() - started,
        "machine": describe_machine(),
        "quick": cfg.quick,
        "config": cfg_dict,
        "dataset": {
            "root": str(cfg.data),
            "videos": len(dataset),
            "identities": dataset.identities,
            "heldout_identities": val_ids,
            "training_identities": train_ids,
            "tail_fraction": Q.TAIL_FRACTION,
        },
        "identity_model": identity_model,
        "weights": weights_info(cfg),
        "cross_note": cross_note,
        "summary": summarise(results, cfg),
        "clips": clip_table(results, cfg),
        "notes": notes,
    }


def parse_args(argv: list[str] | None) -> tuple[QualityConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reenact_quality", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a prepared dataset (reenact prepare)")
    parser.add_argument("--from-json", type=Path, help="re-render the markdown of a saved --json report; runs nothing")
    parser.add_argument("--methods", default="geometric", help="comma-separated reenactor names (default: geometric)")
    parser.add_argument("--weights", type=Path, help="RFG weights for the rfg-* methods (default: the shipped file)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: {QUICK['max_clips']} clip per split, {QUICK['max_frames']} frames per clip",
    )
    parser.add_argument("--max-clips", type=int, help="clips per split")
    parser.add_argument("--max-frames", type=int, help="driver frames per clip")
    parser.add_argument("--no-identity", action="store_true", help="skip the dlib identity metric")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV/torch threads (default 1)")
    parser.add_argument("--markdown", type=Path, help="write the report here")
    parser.add_argument("--json", type=Path, help="write every number here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.data is None and args.from_json is None:
        parser.error("--data is required (or --from-json to re-render a saved report)")
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if not methods:
        raise InputError("--methods names no reenactor")
    cfg = QualityConfig(
        args.data,
        methods,
        weights=args.weights,
        identity=not args.no_identity,
        threads=args.threads,
        progress=not args.quiet,
    )
    if args.quick:
        cfg = replace(cfg, **QUICK)
    if args.max_clips is not None:
        cfg = replace(cfg, max_clips=args.max_clips)
    if args.max_frames is not None:
        cfg = replace(cfg, max_frames=args.max_frames)
    return cfg, args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        cfg, args = parse_args(argv)
        if args.from_json is not None:
            return _rerender(args.from_json, args.markdown)
        from streamer.reenactors.factory import reenactor_names

        unknown = [m for m in cfg.methods if m not in reenactor_names()]
        if unknown:  # fail before any work (the reenactors are built once the dataset is open)
            raise InputError(f"unknown reenactor {unknown[0]!r}; known: {', '.join(reenactor_names())}")
        command = "python -m benchmarks.reenact_quality " + shlex.join(argv)
        report = evaluate(cfg, command)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1, default=json_default) + "\n")
    text = render_markdown(report)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    else:
        print(text)
    return 0


def _rerender(path: Path, markdown: Path | None) -> int:
    try:
        report = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read report {path}: {exc}") from None
    text = render_markdown(report)
    if markdown:
        atomic_write_text(markdown, text)
    else:
        print(text)
    return 0


def json_default(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, range):
        return [x.start, x.stop]
    raise TypeError(f"not JSON-serialisable: {type(x).__name__}")


if __name__ == "__main__":
    sys.exit(main())
