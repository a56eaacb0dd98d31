"""DIR/results.csv: one row per job (in JOBS.csv order), rewritten atomically as each job finishes."""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from export.atomic import atomic_write_text

COLUMNS = ("out", "status", "seconds", "frames", "fps", "error", "hash", "attempts")
DONE = ("ok", "skipped")  #: statuses whose output a re-run may keep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    """How one job ended: ``status`` ok, failed or skipped; ``error`` is convert's one-line reason."""

    out: str
    status: str
    seconds: float = 0.0
    frames: int = 0
    fps: float = 0.0
    error: str = ""
    hash: str = ""
    attempts: int = 0  #: worker runs it took (2: the first worker died and another one redid it)


def load_results(path: Path) -> dict[str, JobResult]:
    """The previous run's rows by ``out`` (empty when there is none or it cannot be read)."""
    if not path.is_file():
        return {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return {r["out"]: _parse_row(r) for r in rows}
    except (OSError, ValueError, KeyError, TypeError, csv.Error) as exc:
        log.warning("ignoring unreadable %s (%s): every job runs again", path, exc)
        return {}


def _parse_row(row: dict[str, str]) -> JobResult:
    def number(name: str, cast):
        return cast(row.get(name) or 0)

    return JobResult(
        row["out"],
        row["status"],
        number("seconds", float),
        number("frames", int),
        number("fps", float),
        row.get("error") or "",
        row.get("hash") or "",
        number("attempts", int),
    )


class ResultsFile:
    """The results of this run in job order; :meth:`record` rewrites the file atomically."""

    def __init__(self, path: Path, order: list[str]):
        self.path = path
        self.order = order
        self.results: dict[str, JobResult] = {}

    def record(self, result: JobResult) -> None:
        """Add (or replace) a job's row and write the file."""
        self.results[result.out] = result
        self.write()

    def write(self) -> None:
        """Write every recorded row (temp file, then rename: readers never see half a file)."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
        writer.writeheader()
        for out in self.order:
            if out in self.results:
                row = asdict(self.results[out])
                row["seconds"], row["fps"] = f"{row['seconds']:.2f}", f"{row['fps']:.2f}"
                writer.writerow(row)
        atomic_write_text(self.path, buf.getvalue())

    def count(self, status: str) -> int:
        """How many recorded jobs ended with ``status``."""
        return sum(r.status == status for r in self.results.values())
