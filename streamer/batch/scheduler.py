"""Ray for ``reenact batch``: start (or join) it, keep one actor per worker busy, retry a dead worker's job.

Without an address, a local Ray starts inside the command (``address="local"``: never an unrelated
cluster found on the machine) on 127.0.0.1, with no dashboard and no usage statistics, and stops with
it. With an address (``auto`` or ``HOST:PORT``), the command joins that cluster and leaves it running.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from streamer.batch.jobs import Job
from streamer.batch.results import JobResult
from streamer.batch.worker import ConvertWorker
from streamer.convert import ConvertOptions
from streamer.errors import InputError

#: The object store holds only jobs and results (a few KiB each); Ray's default (30% of the RAM) would
#: reserve GiBs of /dev/shm on a shared machine.
LOCAL_OBJECT_STORE_BYTES = 128 * 2**20
#: How often the loop wakes up without a finished job (progress bar, Ctrl-C).
_POLL_SECONDS = 0.5

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterSettings:
    """Where the workers run and what each one reserves."""

    workers: int | None = None  #: None: as many as the CPUs (this machine's, or the cluster's) hold
    address: str | None = None  #: None: a local Ray for this command; "auto" or "HOST:PORT": join a cluster
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0  #: the jobs' compute threads (--threads)


def _host_port(address: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (or ``ray://HOST:PORT``) split, None for ``auto`` or anything else Ray resolves itself."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    return (host.strip("[]"), int(port)) if host and port.isdigit() else None


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """``InputError`` when nothing listens at ``address``: ray.init retries an unreachable cluster for
    minutes, in native code that Ctrl-C does not stop (measured with ray 2.60), so a plain TCP connect
    is tried first."""
    host_port = _host_port(address)
    if host_port is None:
        return
    try:
        socket.create_connection(host_port, timeout=timeout).close()
    except OSError as exc:
        raise InputError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _is_loopback(address: str | None) -> bool:
    host_port = _host_port(address or "")
    return host_port is not None and host_port[0] in ("127.0.0.1", "localhost", "::1")


def _import_ray(local: bool):
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # nothing leaves the machine (read by ray and its processes)
    if local:
        # Ray's own switch for a machine that is no cluster node: its node address becomes 127.0.0.1 and every
        # server it starts (GCS, raylet, workers, runtime-env agent) listens there only; without it, they
        # listen on all interfaces (measured with ss on ray 2.60). Read when ray is imported.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    try:
        import ray
    except ImportError:
        raise InputError("reenact batch runs on Ray, which is not installed: pip install 'reenact[ray]'") from None
    return ray


class RaySession:
    """``with RaySession(settings) as workers:`` Ray started (or joined) and the number of workers to use."""

    def __init__(self, settings: ClusterSettings, jobs: int):
        self.settings = settings
        self.jobs = jobs
        if settings.address is not None:
            check_reachable(settings.address)  # before importing Ray: seconds saved on a typo
        # A cluster on this machine's loopback (``ray start --head`` with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) is
        # joined as a local one, or Ray would look for it at the machine's network address.
        self.ray = _import_ray(settings.address is None or _is_loopback(settings.address))

    def __enter__(self) -> int:
        try:
            return self._start()
        except BaseException:  # Ctrl-C or a failure half-way through ray.init: stop what it started
            self.__exit__()
            raise

    def _start(self) -> int:
        ray, s = self.ray, self.settings
        quiet = {"log_to_driver": False, "configure_logging": True, "logging_level": logging.ERROR}
        if s.address is None:
            workers = s.workers or max(1, int((os.cpu_count() or 1) // s.cpus_per_worker))
            ray.init(
                address="local",
                num_cpus=max(1, int(workers * s.cpus_per_worker + 0.999)),
                num_gpus=None if s.gpus_per_worker else 0,
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                **quiet,
            )
        else:
            try:
                ray.init(address=s.address, **quiet)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise InputError(f"cannot join the Ray cluster at {s.address}: {str(exc).splitlines()[0]}") from None
            workers = s.workers or self._cluster_workers()
        return max(1, min(workers, self.jobs))

    def _cluster_workers(self) -> int:
        resources = self.ray.cluster_resources()
        counts = [int(resources.get("CPU", 1) // self.settings.cpus_per_worker)]
        if self.settings.gpus_per_worker:
            counts.append(int(resources.get("GPU", 0) // self.settings.gpus_per_worker))
        return max(1, min(counts))

    def __exit__(self, *exc) -> None:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the clean-up
        try:
            self.ray.shutdown()  # a local Ray stops with its processes; a cluster is only left
        finally:
            signal.signal(signal.SIGINT, previous)


class Scheduler:
    """Hands jobs to idle workers; a job whose worker died runs once more on another worker."""

    MAX_ATTEMPTS = 2

    def __init__(self, ray, workers: int, settings: ClusterSettings, warm: ConvertOptions | None):
        self.ray = ray
        self.actor_class = ray.remote(ConvertWorker).options(
            num_cpus=settings.cpus_per_worker, num_gpus=settings.gpus_per_worker, max_restarts=0, max_task_retries=0
        )
        self.warm = warm
        self.idle: deque = deque(self.actor_class.remote(warm) for _ in range(workers))
        self.inflight: dict = {}  # ObjectRef -> (actor, job)
        self.attempts: dict[int, int] = {}

    @property
    def running(self) -> list[Job]:
        """The jobs being converted now."""
        return [job for _, job in self.inflight.values()]

    def run(self, jobs: list[Job], on_result: Callable[[JobResult], None], on_tick: Callable[[], None]) -> None:
        """Convert every job, calling ``on_result`` as each ends; ``KeyboardInterrupt`` passes through
        (after :meth:`stop`) with the jobs still running in :attr:`running`."""
        pending = deque(jobs)
        try:
            while pending or self.inflight:
                while pending and self.idle:
                    actor, job = self.idle.popleft(), pending.popleft()
                    self.attempts[job.row] = self.attempts.get(job.row, 0) + 1
                    self.inflight[actor.run.remote(job)] = (actor, job)
                on_tick()
                done, _ = self.ray.wait(list(self.inflight), num_returns=1, timeout=_POLL_SECONDS)
                for ref in done:
                    result = self._collect(ref, pending)
                    if result is not None:
                        on_result(result)
        except KeyboardInterrupt:
            self.stop()
            raise

    def _collect(self, ref, pending: deque) -> JobResult | None:
        from ray.exceptions import RayError, RayTaskError

        actor, job = self.inflight.pop(ref)
        attempts = self.attempts[job.row]
        try:
            result = self.ray.get(ref)
        except RayTaskError as exc:  # run_job raised (it should not): the job fails, the worker stays
            self.idle.append(actor)
            return JobResult(job.label, "failed", error=_first_line(exc), hash=job.fingerprint, attempts=attempts)
        except RayError as exc:  # the worker died (killed, out of memory, its node lost)
            from streamer.batch import staging
            from streamer.batch.worker import job_key

            staging.discard(job.options, job_key(job))  # what the dead worker left half-written
            self.ray.kill(actor, no_restart=True)
            self.idle.append(self.actor_class.remote(self.warm))  # keep the pool at full size
            if attempts < self.MAX_ATTEMPTS:
                log.warning("the worker converting %s died (%s); retrying on another worker", job.label, _kind(exc))
                pending.appendleft(job)
                return None
            error = f"its worker died {attempts} times ({_kind(exc)}: killed or out of memory?)"
            return JobResult(job.label, "failed", error=error, hash=job.fingerprint, attempts=attempts)
        self.idle.append(actor)
        return JobResult(**{**result.__dict__, "attempts": attempts})

    def stop(self) -> None:
        """Kill every worker (jobs in flight are abandoned; their staging folders are the caller's to remove)."""
        for actor, _ in self.inflight.values():
            self.ray.kill(actor, no_restart=True)
        for actor in self.idle:
            self.ray.kill(actor, no_restart=True)
        deadline = time.monotonic() + 5  # until the killed workers are gone, so nothing writes after clean-up
        while self.inflight and time.monotonic() < deadline:
            done, _ = self.ray.wait(list(self.inflight), num_returns=len(self.inflight), timeout=0.2)
            if len(done) == len(self.inflight):
                break


def _kind(exc: BaseException) -> str:
    return exc.__class__.__name__


def _first_line(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc
    return f"internal error: {cause.__class__.__name__}: {str(cause).strip().splitlines()[-1] if str(cause) else ''}"
