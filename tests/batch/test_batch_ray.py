"""``reenact batch`` end to end on a local Ray (2 workers) with shared clips: a corrupt driver fails its own
row, a worker killed mid-job has its job redone by another, a re-run skips, Ctrl-C cancels cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from tests.conftest import shared_file

pytestmark = pytest.mark.shared_data

REENACT = [sys.executable, "-m", "streamer.cli"]
SOURCE = "raw/DECA/TestSamples/exp/5.jpg"  # smiling young woman, frontal
LONG = "raw/LivePortrait/assets/examples/driving/d9.mp4"  # 30 fps, 19.6 s, audio
SHORT = "raw/V-Express/scripts/prepare_dataset/RD_Radio10_0_clip_0.mp4"  # 29.97 fps, 2 s, audio
#: Small and fast: the geometric generator, 256 px canvases.
OPTIONS = ["--generator", "geometric", "--max-side", "256", "--quiet"]


def write_jobs(folder: Path, rows: list[tuple[str, Path, str]]) -> Path:
    """JOBS.csv with the shared photo and a ``max_seconds`` column."""
    source = shared_file(SOURCE)
    lines = ["source,driver,out,max_seconds"] + [f"{source},{driver},{out},{secs}" for out, driver, secs in rows]
    path = folder / "jobs.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def batch(jobs: Path, out_dir: Path, *extra: str) -> subprocess.Popen:
    """``reenact batch`` in its own process group, as a terminal runs it (Ctrl-C reaches the whole group)."""
    return subprocess.Popen(
        [*REENACT, "batch", str(jobs), "--out-dir", str(out_dir), *OPTIONS, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def worker_writing(out_dir: Path, row: int) -> int | None:
    """The pid of the Ray worker holding a file of job ``row``'s staging folder open, if any."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::ConvertWorker"):
                continue
            fds = os.listdir(f"/proc/{pid}/fd")
            targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in fds]
        except OSError:  # the process ended meanwhile
            continue
        if any(f"{out_dir}/.reenact-batch-{row}-" in t for t in targets):
            return int(pid)
    return None


def wait_for(what: str, proc: subprocess.Popen, check, timeout: float = 240):
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if found := check():
            return found
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the command and the Ray it started
    _, err = proc.communicate()
    pytest.fail(f"{what} never happened while the batch ran (exit {proc.returncode}): {err[-2000:]}")


def frames_of(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def rows_of(results: Path) -> dict[str, list[str]]:
    lines = results.read_text().splitlines() if results.is_file() else []
    return {line.split(",")[0]: line.split(",") for line in lines[1:]}


def leftovers(folder: Path) -> list[str]:
    """Hidden files or folders (staging, temp files) anywhere under ``folder``."""
    return [str(p) for p in folder.rglob(".*")]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """Two workers, three jobs: a long clip (whose worker is killed mid-job), a short one, a corrupt one."""
    folder = tmp_path_factory.mktemp("batch")
    (folder / "corrupt.mp4").write_bytes(os.urandom(5000))
    jobs = write_jobs(
        folder,
        [("long.mp4", shared_file(LONG), 4), ("sub/short.mp4", shared_file(SHORT), 1), ("bad.mp4", "corrupt.mp4", "")],
    )
    out_dir = folder / "out"
    proc = batch(jobs, out_dir, "--workers", "2")
    victim = wait_for("a worker converting long.mp4", proc, lambda: worker_writing(out_dir, 1))
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=600)
    return proc.returncode, out, err, folder, out_dir, victim


def test_corrupt_driver_fails_its_row_and_the_rest_are_written(first_run):
    code, out, err, _, out_dir, _ = first_run
    assert code == 1, err  # some jobs failed
    rows = rows_of(out_dir / "results.csv")
    assert list(rows) == ["long.mp4", "sub/short.mp4", "bad.mp4"]  # JOBS.csv order
    assert [rows[k][1] for k in rows] == ["ok", "ok", "failed"]
    assert "cannot open video" in rows["bad.mp4"][5] and "InvalidDataError" in rows["bad.mp4"][5]
    assert frames_of(out_dir / "long.mp4") == int(rows["long.mp4"][3]) == 120  # 4 s at 30 fps
    assert frames_of(out_dir / "sub" / "short.mp4") == int(rows["sub/short.mp4"][3]) == 30
    assert not (out_dir / "bad.mp4").exists() and leftovers(out_dir) == []
    assert "2 ok, 1 failed, 0 skipped of 3 jobs" in out
    assert "bad.mp4 failed: cannot open video" in err and "Traceback" not in err


def test_a_killed_workers_job_is_retried_on_another_worker(first_run):
    _, _, err, _, out_dir, victim = first_run
    rows = rows_of(out_dir / "results.csv")
    assert rows["long.mp4"][1] == "ok" and rows["long.mp4"][7] == "2"  # attempts: the killed one and the retry
    assert rows["sub/short.mp4"][7] == "1"
    assert "long.mp4 died (ActorDiedError); retrying on another worker" in err
    assert not is_worker(victim)


def test_rerun_skips_unchanged_jobs(first_run):
    _, _, _, folder, out_dir, _ = first_run
    before = {p: p.stat().st_mtime_ns for p in (out_dir / "long.mp4", out_dir / "sub" / "short.mp4")}
    jobs = write_jobs(folder, [("long.mp4", shared_file(LONG), 4), ("sub/short.mp4", shared_file(SHORT), 1)])
    proc = batch(jobs, out_dir, "--workers", "2")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "0 ok, 0 failed, 2 skipped of 2 jobs" in out
    assert [r[1] for r in rows_of(out_dir / "results.csv").values()] == ["skipped", "skipped"]
    assert {p: p.stat().st_mtime_ns for p in before} == before  # outputs untouched


def test_ctrl_c_cancels_cleanly(tmp_path):
    jobs = write_jobs(tmp_path, [("short.mp4", shared_file(SHORT), 1), ("long.mp4", shared_file(LONG), 15)])
    out_dir = tmp_path / "out"
    proc = batch(jobs, out_dir, "--workers", "1")
    wait_for("short.mp4 in results.csv", proc, lambda: "short.mp4" in rows_of(out_dir / "results.csv"))
    worker = wait_for("a worker converting long.mp4", proc, lambda: worker_writing(out_dir, 2))
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the command and Ray's processes
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted; 1 of 2 jobs are in" in err and "Traceback" not in err
    assert [r[1] for r in rows_of(out_dir / "results.csv").values()] == ["ok"]  # up to date
    assert sorted(p.name for p in out_dir.iterdir()) == ["results.csv", "short.mp4"]  # nothing half-written
    assert not is_worker(worker)  # Ray stopped with the command


def is_worker(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::ConvertWorker")
    except OSError:
        return False
