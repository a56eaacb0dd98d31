"""A batch worker: a long-lived process (a Ray actor) that loads the models once and converts many jobs.

The RFG's networks and their onnxruntime sessions (or TensorRT engines) are cached per process by
``streamer.reenactors.rfg``, so warming them up here makes every later ``convert`` call in this process
reuse them; TensorRT engines are also cached on disk per machine (``export``'s engine cache), so each node
of a cluster builds them once. Per job, only the per-stream parts are made anew (tracker, landmark
detector, the source's prepared state), as ``reenact convert`` does.
"""

from __future__ import annotations

import contextlib
import os
import time

from streamer.batch import staging
from streamer.batch.jobs import Job
from streamer.batch.results import JobResult
from streamer.convert import ConvertOptions, convert, create_reenactor
from streamer.errors import InputError


def job_key(job: Job) -> str:
    """The name of the job's staging folders (row and fingerprint: unique within a batch)."""
    return f"{job.row}-{job.fingerprint[:8]}"


def run_job(job: Job) -> JobResult:
    """Convert one job; a failure is a ``failed`` result with the one-line reason convert gives, never an
    exception (Ctrl-C and worker death aside), and it leaves no output and no temp file."""
    opts, pairs = staging.staged(job.options, job_key(job))
    start = time.perf_counter()
    try:
        staging.prepare(pairs)
        summary = convert(opts)
        staging.commit(pairs)
    except InputError as exc:
        return JobResult(job.label, "failed", time.perf_counter() - start, error=str(exc), hash=job.fingerprint)
    except Exception as exc:  # noqa: BLE001 - the job's row reports it as convert's CLI would; the batch goes on
        error = f"internal error: {exc.__class__.__name__}: {exc}".splitlines()[0]
        return JobResult(job.label, "failed", time.perf_counter() - start, error=error, hash=job.fingerprint)
    finally:
        staging.discard(job.options, job_key(job))
    seconds = time.perf_counter() - start
    fps = summary.frames / seconds if seconds > 0 else 0.0
    return JobResult(job.label, "ok", seconds, summary.frames, fps, hash=job.fingerprint)


def warm_up(opts: ConvertOptions) -> None:
    """Load what every job with ``opts``' model options shares (the RFG graphs: seconds), once per process."""
    from streamer.runtime import configure_threads

    configure_threads(opts.threads)
    create_reenactor(opts)


class ConvertWorker:
    """The Ray actor's class (``ray.remote`` wraps it in ``streamer.batch.scheduler``)."""

    def __init__(self, warm: ConvertOptions | None = None):
        os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ INFO lines
        if warm is not None:
            # A failing warm-up is not fatal: each job's convert then reports the same reason in its row.
            with contextlib.suppress(Exception):
                warm_up(warm)

    def pid(self) -> int:
        """This worker's process id."""
        return os.getpid()

    def run(self, job: Job) -> JobResult:
        """Convert one job (see :func:`run_job`)."""
        return run_job(job)
