"""Throughput of ``reenact batch``: the same jobs in this process (no Ray), then on 1 and 2 Ray workers.

Eight shared driver clips (their first ``--seconds``) onto one shared photo. Per setting: wall-clock
seconds for all jobs, frames per second overall, and what starting Ray and the workers cost. Ray's
per-job overhead is read two ways: the 1-worker wall time minus the in-process time, per job, and an
empty actor call's round trip. The machine's load average is recorded next to the numbers (the
project's machine is shared; rerun on a quiet one for clean figures).

    python -m benchmarks.batch [--seconds 3] [--generator geometric] [--markdown benchmarks/BATCH.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(os.environ.get("REENACT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SOURCE = "raw/DECA/TestSamples/exp/5.jpg"
#: Eight drivers of 4 s or more at 25-30 fps, 410-590 px (MANIFEST.csv).
DRIVERS = (
    "raw/LivePortrait/assets/examples/driving/d9.mp4",
    "raw/LivePortrait/assets/examples/driving/d11.mp4",
    "raw/LivePortrait/assets/examples/driving/d14.mp4",
    "raw/LivePortrait/assets/examples/driving/d18.mp4",
    "raw/LivePortrait/assets/examples/driving/d19.mp4",
    "raw/SadTalker/examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4",
    "raw/video-retalking/examples/face/3.mp4",
    "raw/Thin-Plate-Spline-Motion-Model/assets/driving.mp4",
)


#: On paper: how the same command scales past one machine (kept in the report, which --markdown rewrites).
CLUSTER_NOTES = """## On a cluster (on paper: not run here)

Joining was checked here against a one-machine cluster only (`ray start --head --port 6399` on 127.0.0.1,
then `reenact batch jobs.csv --out-dir DIR --ray-address 127.0.0.1:6399`: 2 jobs ok on its 2 CPUs); no
multi-node run. Ray 2.60 turned token authentication on for that one-machine head, and joining it failed
("Authentication token is missing or incorrect") until both sides ran with `RAY_AUTH_MODE=disabled`; on a
real cluster, set the token up as Ray's token-authentication guide says (`RAY_AUTH_MODE=token` and the same
token on every node and for this command).

- Jobs are independent, so throughput grows with the workers until the shared storage or the head's
  scheduling runs out: each worker converts whole jobs, and only the job (a few hundred bytes of options)
  and its result row travel through Ray, so the head's cost per job is the round trip above, small next to
  seconds of conversion. On CPU nodes expect about one worker per core (a conversion at `--threads 1` is
  CPU bound: more workers than cores only share them); on GPU nodes, one to a few
  workers per GPU (`--gpus-per-worker 1` or `0.5`) with `--backend auto` picking TensorRT.
- Each node needs: the same Python and reenact version installed (`pip install -e '.[ray]'`, with `'.[gpu]'`
  on GPU nodes; the models ship inside the package), `ray start --address HEAD:6379`, and, on GPU nodes,
  room in `~/.cache/reenact/engines`: TensorRT engines are built on a node's first job and reused by every
  later job and run there (the cache is per machine, keyed by ONNX hash and GPU; workers of one node that
  start together may each build an engine once, as nothing locks the cache between processes).
- Where the data should live: on storage every node mounts at the same path (NFS, a parallel file system,
  or an object store mounted with FUSE), because workers open the photo and the driver and write the output
  and its staging folder themselves; the batch command itself only reads the inputs to hash them. Put DIR
  on that storage too (outputs are renamed into place, so DIR and each output's folder must be one file
  system). Nothing large goes through Ray's object store.
- The head node runs the `reenact batch` command and Ray's GCS; with `--backend auto` it needs no GPU (an
  explicit `--backend tensorrt` is checked where the command runs, so run it on a GPU node then). A node
  lost mid-job looks like a dead worker: its job is redone once on another worker. Not handled yet: the
  replacement worker started for a lost node waits for room in the cluster, and a job handed to it waits
  with it.
"""


@dataclass(frozen=True)
class Row:
    """One setting's run of all jobs."""

    setting: str
    start_s: float  #: Ray start + workers ready (models loaded); 0 in process
    jobs_s: float  #: first job handed out -> last result back
    frames: int
    failed: int
    load: str  #: 1-minute load average before / after

    @property
    def fps(self) -> float:
        return self.frames / self.jobs_s if self.jobs_s else 0.0


def _load() -> float:
    return os.getloadavg()[0]


def make_jobs(out_dir: Path, seconds: float, generator: str):
    """The benchmark's jobs, through ``reenact batch``'s own JOBS.csv reader."""
    from streamer.batch.jobs import read_jobs_csv, with_fingerprints
    from streamer.cli import build_parser

    missing = [p for p in (SOURCE, *DRIVERS) if not (SHARED / p).is_file()]
    if missing:
        raise SystemExit(f"needs the shared data ({SHARED / missing[0]} is absent; set REENACT_SHARED_DATA)")
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "jobs.csv"
    rows = [f"{SHARED / SOURCE},{SHARED / d},job{i}.mp4" for i, d in enumerate(DRIVERS)]
    csv.write_text("source,driver,out\n" + "\n".join(rows) + "\n")
    argv = ["batch", str(csv), "--out-dir", str(out_dir), "--generator", generator, "--max-seconds", str(seconds)]
    return with_fingerprints(read_jobs_csv(csv, out_dir, build_parser().parse_args(argv)))


def in_process(jobs) -> Row:
    """All jobs one after another in this process: convert's own cost, no Ray."""
    from streamer.batch.worker import run_job, warm_up

    before = _load()
    warm_up(jobs[0].options)
    start = time.perf_counter()
    results = [run_job(job) for job in jobs]
    return Row(
        "in process (no Ray), 1 at a time",
        0.0,
        time.perf_counter() - start,
        sum(r.frames for r in results),
        sum(r.status != "ok" for r in results),
        f"{before:.1f} / {_load():.1f}",
    )


def on_ray(jobs, workers: int) -> tuple[Row, float]:
    """All jobs on a local Ray with ``workers`` actors; also an empty actor call's median round trip (ms)."""
    from streamer.batch.scheduler import ClusterSettings, RaySession, Scheduler

    before = _load()
    settings = ClusterSettings(workers=workers)
    t0 = time.perf_counter()
    session = RaySession(settings, len(jobs))
    with session as n:
        scheduler = Scheduler(session.ray, n, settings, jobs[0].options)
        actors = list(scheduler.idle)
        session.ray.get([a.pid.remote() for a in actors])  # every worker up, models loaded
        start = time.perf_counter()
        results = []
        scheduler.run(jobs, results.append, lambda: None)
        jobs_s = time.perf_counter() - start
        trips = []
        for _ in range(50):
            t = time.perf_counter()
            session.ray.get(actors[0].pid.remote())
            trips.append((time.perf_counter() - t) * 1000)
    row = Row(
        f"Ray, {n} worker{'s' if n > 1 else ''}",
        start - t0,
        jobs_s,
        sum(r.frames for r in results),
        sum(r.status != "ok" for r in results),
        f"{before:.1f} / {_load():.1f}",
    )
    return row, statistics.median(trips)


def table(rows: list[Row], trip_ms: float, args: argparse.Namespace) -> str:
    """The markdown report."""
    import streamer
    from benchmarks.machine import cpu_model

    base = rows[0]
    lines = [
        "| setting | start s (Ray + workers ready) | jobs s | frames | fps overall | speed-up vs in process | failed "
        "| load avg before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.setting} | {r.start_s:.1f} | {r.jobs_s:.1f} | {r.frames} | {r.fps:.1f} | "
            f"{base.jobs_s / r.jobs_s:.2f}x | {r.failed} | {r.load} |"
        )
    one = next((r for r in rows if r.setting == "Ray, 1 worker"), None)
    per_job = f"{(one.jobs_s - base.jobs_s) / len(DRIVERS) * 1000:+.0f} ms" if one else "not measured"
    return "\n".join(
        [
            f"Command: `python -m benchmarks.batch --seconds {args.seconds:g} --generator {args.generator}`, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, reenact {streamer.__version__}.",
            "",
            f"Machine: {cpu_model()}, {os.cpu_count()} cores, no GPU "
            f"({platform.platform()}). Jobs: {len(DRIVERS)} shared driver clips, first {args.seconds:g} s each, "
            f"onto `{SOURCE}` (450x450), generator {args.generator}, 1 compute thread per worker.",
            "",
            *lines,
            "",
            f"- Ray's per-job overhead: {per_job} a job (1-worker jobs s minus in-process jobs s, over "
            f"{len(DRIVERS)} jobs; within the noise of a shared machine when near 0); an empty actor call's "
            f"round trip: {trip_ms:.2f} ms (median of 50).",
            "- start s is paid once per command (a local Ray's processes, then each worker importing the models).",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of each driver to convert")
    parser.add_argument("--generator", default="geometric", choices=("geometric", "rfg"))
    parser.add_argument("--workers", default="1,2", help="worker counts to run, comma separated")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    args = parser.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ INFO/WARNING lines
    from streamer.runtime import configure_threads

    configure_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="reenact-batch-bench-"))
    try:
        rows = [in_process(make_jobs(tmp / "inproc", args.seconds, args.generator))]
        trip = 0.0
        for w in (int(x) for x in args.workers.split(",")):
            row, t = on_ray(make_jobs(tmp / f"ray{w}", args.seconds, args.generator), w)
            rows.append(row)
            trip = trip or t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = table(rows, trip, args)
    print(report)
    if args.markdown:
        from export.atomic import atomic_write_text

        atomic_write_text(args.markdown, "# reenact batch: throughput on Ray\n\n" + report + "\n\n" + CLUSTER_NOTES)


if __name__ == "__main__":
    main()
