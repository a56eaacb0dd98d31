"""The scheduler's retry policy with a stand-in for Ray whose workers always die: each job runs twice, on two
different workers, then fails its row; the pool stays full and the dead workers' staging folders are removed."""

from __future__ import annotations

import itertools

import pytest

from streamer.batch.jobs import Job
from streamer.batch.scheduler import ClusterSettings, Scheduler
from streamer.batch.worker import job_key
from streamer.convert import ConvertOptions

exceptions = pytest.importorskip("ray.exceptions")


class DyingRay:
    """Just what ``Scheduler`` calls: every task fails as if its worker had been killed."""

    def __init__(self):
        self.ids = itertools.count()
        self.killed: list[int] = []
        self.ran: list[tuple[int, int]] = []  # (worker id, job row)

    def remote(self, cls):
        ray = self

        class Actor:
            def __init__(self):
                self.id = next(ray.ids)
                self.run = self

            def remote(self, job):
                ray.ran.append((self.id, job.row))
                return object()

        class Options:
            def options(self, **_):
                return self

            def remote(self, _warm):
                return Actor()

        return Options()

    def wait(self, refs, num_returns, timeout):
        return refs[:num_returns], refs[num_returns:]

    def get(self, ref):
        raise exceptions.ActorDiedError()

    def kill(self, actor, no_restart):
        self.killed.append(actor.id)


def test_a_job_whose_worker_dies_twice_fails_its_row(tmp_path):
    jobs = [
        Job(row, f"{row}.mp4", ConvertOptions(tmp_path / "s.jpg", tmp_path / "d.mp4", tmp_path / f"{row}.mp4"), "f")
        for row in (1, 2)
    ]
    staged = tmp_path / f".reenact-batch-{job_key(jobs[0])}"
    staged.mkdir()
    (staged / ".1.part.mp4").write_bytes(b"half")  # what a killed encoder leaves
    ray = DyingRay()
    scheduler = Scheduler(ray, 2, ClusterSettings(workers=2), None)
    results = []
    scheduler.run(jobs, results.append, lambda: None)
    assert [(r.out, r.status, r.attempts) for r in results] == [("1.mp4", "failed", 2), ("2.mp4", "failed", 2)]
    assert "its worker died 2 times (ActorDiedError" in results[0].error
    for row in (1, 2):
        workers = [w for w, r in ray.ran if r == row]
        assert len(workers) == 2 and workers[0] != workers[1]  # retried on another worker
    assert len(ray.killed) == 4 and len(scheduler.idle) == 2  # every dead worker replaced
    assert not staged.exists()
