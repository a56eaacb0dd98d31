"""``reenact batch``: convert many files (JOBS.csv, or a folder of drivers) on Ray workers."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact batch``."""
    from streamer.commands.convert import add_convert_options

    p = sub.add_parser(
        "batch",
        help="convert many files (JOBS.csv or a folder of drivers) on Ray workers, here or on a cluster",
        description="Run many conversions on Ray workers that load the models once. JOBS.csv has the columns "
        "source,driver,out and optionally any convert option (max_seconds, generator, crop_only=true ...); "
        "relative inputs resolve against the CSV's folder, outputs against --out-dir. Every convert option "
        "below is the default of the rows that do not set it. DIR/results.csv says how each job ended; a "
        "re-run skips the jobs whose output exists and whose inputs and options did not change.",
    )
    p.add_argument("jobs", type=Path, metavar="JOBS", help="JOBS.csv, or a folder of driver videos (with --source)")
    p.add_argument("--out-dir", type=Path, required=True, metavar="DIR", help="outputs and results.csv go here")
    p.add_argument("--source", type=Path, help="the source photo for a folder of drivers (or rows with no source)")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU)")
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="auto|ADDRESS",
        help="join a running Ray cluster (auto: the one started here with 'ray start'); default: a local Ray "
        "that starts and stops with this command",
    )
    p.add_argument("--gpus-per-worker", type=float, default=0.0, metavar="G", help="GPUs each worker reserves")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_convert_options(p)
    p.set_defaults(func=_run_batch)


def _check_arguments(args: argparse.Namespace) -> None:
    from streamer.errors import InputError

    if args.workers is not None and args.workers < 1:
        raise InputError(f"--workers must be 1 or more, got {args.workers}")
    if args.gpus_per_worker < 0:
        raise InputError(f"--gpus-per-worker must be 0 or more, got {args.gpus_per_worker}")
    for option, value in (("--strip", args.strip), ("--track-debug", args.track_debug)):
        if value is not None:
            raise InputError(f"{option} names one file per job: give it as a JOBS.csv column")
    if not args.jobs.exists():
        raise InputError(f"jobs not found: {args.jobs}")


def _read_jobs(args: argparse.Namespace):
    from streamer.batch.jobs import check_outputs, read_jobs_csv, read_jobs_folder, with_fingerprints

    if args.jobs.is_dir():
        jobs = read_jobs_folder(args.jobs, args.source, args.out_dir, args)
    else:
        jobs = read_jobs_csv(args.jobs, args.out_dir, args, args.source)
    check_outputs(jobs)
    return with_fingerprints(jobs)


def _run_batch(args: argparse.Namespace) -> int:
    from streamer.batch import staging
    from streamer.batch.progress import BatchProgress
    from streamer.batch.results import DONE, JobResult, ResultsFile, load_results
    from streamer.batch.scheduler import ClusterSettings, RaySession, Scheduler
    from streamer.batch.worker import job_key
    from streamer.runtime import thread_count

    _check_arguments(args)
    jobs = _read_jobs(args)
    results = ResultsFile(args.out_dir / "results.csv", [job.label for job in jobs])
    previous = load_results(results.path)
    to_run = []
    for job in jobs:
        before = previous.get(job.label)
        if before and before.status in DONE and before.hash == job.fingerprint and job.options.out.is_file():
            skipped = JobResult(job.label, "skipped", 0.0, before.frames, before.fps, hash=job.fingerprint)
            results.results[job.label] = skipped
        else:
            to_run.append(job)
    results.write()
    progress = BatchProgress(len(to_run), not args.quiet and getattr(args, "stderr_is_tty", True))
    scheduler = None
    cpus = float(thread_count(args.threads))  # each worker reserves the CPUs its jobs compute on
    settings = ClusterSettings(args.workers, args.ray_address, args.gpus_per_worker, cpus)

    def finished(result: JobResult) -> None:
        results.record(result)
        progress.finished(result)
        if result.status == "failed":
            progress.bar.write(f"reenact: {result.out} failed: {result.error}", file=sys.stderr)

    try:
        if to_run:
            session = RaySession(settings, len(to_run))
            with session as workers:
                scheduler = Scheduler(session.ray, workers, settings, to_run[0].options)
                scheduler.run(to_run, finished, lambda: progress.tick(len(scheduler.inflight)))
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish the clean-up whatever the user presses
        for job in scheduler.running if scheduler is not None else []:
            staging.discard(job.options, job_key(job))
        results.write()
        progress.close()
        sys.stderr.write(
            f"reenact: interrupted; {len(results.results)} of {len(jobs)} jobs are in {results.path} "
            "(outputs of unfinished jobs were not written)\n"
        )
        return 130
    progress.close()
    ok, failed, skipped = results.count("ok"), results.count("failed"), results.count("skipped")
    print(
        f"batch: {ok} ok, {failed} failed, {skipped} skipped of {len(jobs)} jobs; {progress.frames} frames in "
        f"{progress.seconds:.1f} s ({progress.fps:.1f} fps overall); results in {results.path}"
    )
    return 1 if failed else 0
