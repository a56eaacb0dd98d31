"""JOBS.csv (or a folder of drivers) -> checked conversions, one per row.

Columns ``source,driver,out`` plus optional columns named like ``reenact convert``'s options
(``max_seconds`` or ``max-seconds``, ``generator``, ``crop_only`` ...). Each row is parsed by convert's
own option parser, starting from the command line's values, so a row takes exactly what convert takes.
Relative inputs resolve against the CSV's folder, outputs (``out``, ``strip``, ``track_debug``) against DIR.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from streamer.commands.convert import add_convert_options, check_convert_options, convert_options
from streamer.convert import ConvertOptions, check_paths
from streamer.errors import InputError
from streamer.runtime import thread_count

REQUIRED_COLUMNS = ("source", "driver", "out")
#: Path options that name outputs (resolved against DIR, staged like ``out``); other paths are inputs.
OUTPUT_PATH_OPTIONS = ("strip", "track_debug")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".avi", ".webm")
_TRUE, _FALSE = ("1", "true", "yes", "y"), ("0", "false", "no", "n", "")


@dataclass(frozen=True)
class Job:
    """One conversion of the batch: its row, its name in results.csv and its options (final paths)."""

    row: int  #: 1-based data row of JOBS.csv (the order of results.csv)
    label: str  #: ``out`` as results.csv names it (relative to DIR when inside it)
    options: ConvertOptions
    fingerprint: str = ""  #: hash of the inputs' bytes and the options (re-runs skip unchanged jobs)


class _RowParser(argparse.ArgumentParser):
    """convert's option parser whose errors are exceptions (they are collected per row)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(message)


def option_parser() -> argparse.ArgumentParser:
    """A parser of convert's per-conversion options only (``add_convert_options``)."""
    parser = _RowParser(prog="JOBS.csv", add_help=False)
    add_convert_options(parser)
    return parser


def option_columns(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.Action]]:
    """Column name (an option without dashes, ``-`` as ``_``) -> (option string, its action)."""
    columns = {}
    for action in parser._actions:  # argparse keeps no public list of its actions
        for option in action.option_strings:
            columns[option.lstrip("-").replace("-", "_")] = (option, action)
    return columns


def option_dests(parser: argparse.ArgumentParser) -> tuple[str, ...]:
    """The namespace attributes the per-conversion options set."""
    return tuple(dict.fromkeys(a.dest for a in parser._actions if a.option_strings))


def _cell_argv(column: str, value: str, option: str, action: argparse.Action) -> list[str]:
    value = value.strip()
    if action.nargs == 0:  # a flag (--crop-only, --absolute): a yes/no cell
        if value.lower() in _TRUE:
            return [option]
        if value.lower() in _FALSE:
            return []
        raise InputError(f"column {column} takes true or false, got {value!r}")
    return [] if value == "" else [f"{option}={value}"]


def _resolve(base: Path, value: str | Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _label(out: Path, out_dir: Path) -> str:
    try:
        return out.resolve().relative_to(out_dir.resolve()).as_posix()
    except ValueError:
        return str(out)


class JobReader:
    """Builds jobs from rows; collects every problem so one message can list them all (a bad command line
    fails at once: its options are checked when the reader is made)."""

    def __init__(self, defaults: argparse.Namespace, out_dir: Path):
        self.parser = option_parser()
        self.columns = option_columns(self.parser)
        self.dests = option_dests(self.parser)
        self.defaults = defaults
        self.out_dir = out_dir
        self.problems: list[str] = []
        self.missing: list[str] = []
        self._checked: set[tuple] = set()
        self._check(defaults)  # the command line's values: a bad one fails here, once, before any row

    def _check(self, ns: argparse.Namespace) -> None:
        """``check_convert_options`` once per distinct option set (loading RFG/IDSG weights takes seconds)."""
        key = tuple(sorted((d, str(getattr(ns, d))) for d in self.dests))
        if key not in self._checked:
            check_convert_options(ns)
            self._checked.add(key)

    def job(self, row: int, source: Path, driver: Path, out: str, cells: dict[str, str], base: Path) -> Job | None:
        """The job of one row (None, with the problem noted, when the row is bad)."""
        ns = argparse.Namespace(**{d: getattr(self.defaults, d) for d in self.dests})
        try:
            argv = [a for column, value in cells.items() for a in _cell_argv(column, value, *self.columns[column])]
            self.parser.parse_args(argv, namespace=ns)
            for column in cells:
                dest = self.columns[column][1].dest
                if isinstance(getattr(ns, dest), Path) and cells[column].strip():
                    setattr(ns, dest, _resolve(self.out_dir if dest in OUTPUT_PATH_OPTIONS else base, cells[column]))
            self._check(ns)
            out_path = _resolve(self.out_dir, out)
            opts = convert_options(ns, source, driver, out_path, progress=False, threads=thread_count(ns.threads))
        except InputError as exc:  # convert_options checks the editing controls
            self.problems.append(f"row {row}: {exc}")
            return None
        for path in (source, driver, ns.weights, ns.idsg_weights):
            if path is not None and not path.is_file():
                self.missing.append(str(path))
        return Job(row, _label(out_path, self.out_dir), opts)

    def finish(self, jobs: list[Job], what: str) -> list[Job]:
        """The jobs, or one ``InputError`` naming every problem and every missing file."""
        if self.missing:
            missing = list(dict.fromkeys(self.missing))
            self.problems.insert(0, f"{len(missing)} missing file(s): {', '.join(missing)}")
        labels = [j.label for j in jobs]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            self.problems.append(f"several rows write {', '.join(repeated)}")
        if not jobs and not self.problems:
            self.problems.append("no jobs")
        if self.problems:
            raise InputError(f"{what}: " + "; ".join(self.problems))
        return jobs


def read_jobs_csv(path: Path, out_dir: Path, defaults: argparse.Namespace, source: Path | None = None) -> list[Job]:
    """The jobs of JOBS.csv (``source`` fills a missing or empty source column); ``InputError`` lists all problems."""
    reader = JobReader(defaults, out_dir)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            table = csv.DictReader(f)
            fields = [k for k in (table.fieldnames or []) if k is not None]
            rows = list(table)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    names = {k: k.strip().lower().replace("-", "_") for k in fields}
    if not rows:
        raise InputError(f"{path}: no jobs (a header source,driver,out and one row per job)")
    need = [c for c in REQUIRED_COLUMNS if c not in names.values() and not (c == "source" and source)]
    unknown = [k for k, n in names.items() if n not in REQUIRED_COLUMNS and n not in reader.columns]
    if need or unknown:
        why = [f"missing column(s) {', '.join(need)}"] if need else []
        why += [f"unknown column(s) {', '.join(str(u) for u in unknown)} (not a convert option)"] if unknown else []
        raise InputError(f"{path}: " + "; ".join(why) + " (columns: source,driver,out and convert options)")
    base = path.resolve().parent
    jobs = []
    for i, raw in enumerate(rows, start=1):
        row = {names[k]: (v or "").strip() for k, v in raw.items() if k in names}
        if None in raw:
            reader.problems.append(f"row {i}: more cells than columns")
            continue
        if not row.get("driver") or not row.get("out") or not (row.get("source") or source):
            reader.problems.append(f"row {i}: source, driver and out must not be empty")
            continue
        src = _resolve(base, row["source"]) if row.get("source") else source
        cells = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS}
        job = reader.job(i, src, _resolve(base, row["driver"]), row["out"], cells, base)
        if job is not None:
            jobs.append(job)
    return reader.finish(jobs, str(path))


def read_jobs_folder(folder: Path, source: Path | None, out_dir: Path, defaults: argparse.Namespace) -> list[Job]:
    """One job per video in ``folder`` (sorted by name), all with ``source``; outputs ``DIR/<name>.mp4``."""
    reader = JobReader(defaults, out_dir)
    if source is None:
        raise InputError(f"{folder} is a folder of drivers: give the photo with --source")
    drivers = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    jobs = [j for i, d in enumerate(drivers, 1) if (j := reader.job(i, source, d, f"{d.stem}.mp4", {}, folder))]
    return reader.finish(jobs, str(folder))


def check_outputs(jobs: list[Job]) -> None:
    """Make the output folders and run convert's output checks (not an input, writable, a video suffix)."""
    problems = []
    for job in jobs:
        for path in (job.options.out, job.options.strip, job.options.track_debug):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        try:
            check_paths(job.options)
        except InputError as exc:
            problems.append(f"row {job.row}: {exc}")
    if problems:
        raise InputError("; ".join(problems))


def fingerprint(opts: ConvertOptions, file_hashes: dict[Path, str]) -> str:
    """A hash of everything that decides the output: the options and the bytes of every input file
    (``file_hashes`` caches file hashes, a source is often shared by many jobs)."""
    from export.atomic import sha256_file
    from streamer import __version__

    fields = asdict(opts)
    fields.pop("progress")
    record = {"version": __version__, "options": {k: str(v) for k, v in sorted(fields.items())}}
    for name in ("source", "driver", "weights", "idsg_weights"):
        path = getattr(opts, name)
        if path is not None:
            key = path.resolve()
            if key not in file_hashes:
                file_hashes[key] = sha256_file(key)
            record[f"{name}_sha256"] = file_hashes[key]
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def with_fingerprints(jobs: list[Job]) -> list[Job]:
    """``jobs`` with their :func:`fingerprint` set (each input file hashed once for all of them)."""
    file_hashes: dict[Path, str] = {}
    return [replace(job, fingerprint=fingerprint(job.options, file_hashes)) for job in jobs]
