"""JOBS.csv parsing, bad CSVs (exit 2, one line), fingerprints, results.csv and staging: no Ray needed."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import pytest

from streamer.batch import staging
from streamer.batch.jobs import fingerprint, read_jobs_csv, read_jobs_folder, with_fingerprints
from streamer.batch.results import JobResult, ResultsFile, load_results
from streamer.cli import build_parser, main
from streamer.errors import InputError


@pytest.fixture()
def inputs(tmp_path) -> Path:
    """A folder with a photo and two 'driver' files (parsing never opens them)."""
    from streamer.examples import example_source_path

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "face.jpg").write_bytes(example_source_path().read_bytes())
    (folder / "d1.mp4").write_bytes(b"driver one")
    (folder / "d2.mov").write_bytes(b"driver two")
    (folder / "notes.txt").write_text("not a video")
    return folder


def batch_args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["batch", "JOBS.csv", "--out-dir", "DIR", "--generator", "geometric", *extra])


def write_csv(folder: Path, text: str) -> Path:
    path = folder / "jobs.csv"
    path.write_text(text)
    return path


def run_batch(capsys, csv: Path, out_dir: Path, *extra: str) -> tuple[int, str]:
    code = main(["batch", str(csv), "--out-dir", str(out_dir), "--generator", "geometric", *extra])
    return code, capsys.readouterr().err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("reenact: error:") and "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]


class TestReadJobs:
    def test_rows_take_convert_options_over_the_command_line(self, inputs, tmp_path):
        csv = write_csv(
            inputs,
            "source,driver,out,max-seconds,crop_only,size\n"
            "face.jpg,d1.mp4,a.mp4,0.5,true,\n"
            f"{inputs / 'face.jpg'},d2.mov,sub/b.mkv,,no,128\n",
        )
        jobs = read_jobs_csv(csv, tmp_path / "out", batch_args("--max-seconds", "2", "--tracker", "temporal"))
        a, b = (j.options for j in jobs)
        assert [j.label for j in jobs] == ["a.mp4", "sub/b.mkv"]
        assert a.source == inputs / "face.jpg" and a.driver == inputs / "d1.mp4"  # against the CSV's folder
        assert a.out == tmp_path / "out" / "a.mp4" and b.out == tmp_path / "out" / "sub" / "b.mkv"
        assert (a.max_seconds, a.paste_back, a.size) == (0.5, False, 256)
        assert (b.max_seconds, b.paste_back, b.size) == (2.0, True, 128)  # the command line's defaults
        assert a.tracker == b.tracker == "temporal" and a.generator == "geometric" and not a.progress

    def test_output_path_columns_resolve_against_the_out_dir(self, inputs, tmp_path):
        csv = write_csv(inputs, "source,driver,out,strip\nface.jpg,d1.mp4,a.mp4,strips/a.png\n")
        (job,) = read_jobs_csv(csv, tmp_path / "out", batch_args())
        assert job.options.strip == tmp_path / "out" / "strips" / "a.png"

    def test_a_folder_of_drivers_with_one_source(self, inputs, tmp_path):
        jobs = read_jobs_folder(inputs, inputs / "face.jpg", tmp_path, batch_args())
        assert [(j.label, j.options.driver.name) for j in jobs] == [("d1.mp4", "d1.mp4"), ("d2.mp4", "d2.mov")]
        with pytest.raises(InputError, match="give the photo with --source"):
            read_jobs_folder(inputs, None, tmp_path, batch_args())


class TestBadJobs:
    """Every bad JOBS.csv exits 2 with one line, before Ray starts or any output is made."""

    def test_missing_columns(self, inputs, tmp_path, capsys):
        csv = write_csv(inputs, "source,out\nface.jpg,a.mp4\n")
        assert_one_line_error(*run_batch(capsys, csv, tmp_path / "out"), "missing column(s) driver")
        assert not (tmp_path / "out").exists()

    def test_missing_files_are_listed_in_one_message(self, inputs, tmp_path, capsys):
        csv = write_csv(inputs, "source,driver,out\nface.jpg,gone1.mp4,a.mp4\nnoface.jpg,d1.mp4,b.mp4\n")
        code, err = run_batch(capsys, csv, tmp_path / "out")
        assert_one_line_error(code, err, "2 missing file(s)", str(inputs / "gone1.mp4"), str(inputs / "noface.jpg"))

    def test_unknown_column_and_bad_values(self, inputs, tmp_path, capsys):
        csv = write_csv(inputs, "source,driver,out,speed\nface.jpg,d1.mp4,a.mp4,2\n")
        assert_one_line_error(*run_batch(capsys, csv, tmp_path / "out"), "unknown column(s) speed")
        csv = write_csv(
            inputs,
            "source,driver,out,size,generator,crop_only,yaw\n"
            "face.jpg,d1.mp4,a.mp4,7,,,\nface.jpg,d1.mp4,b.mp4,,painter,,\nface.jpg,d1.mp4,c.mp4,,,maybe,\n"
            "face.jpg,d1.mp4,d.mp4,,,,400\n",
        )
        code, err = run_batch(capsys, csv, tmp_path / "out")
        needles = ("row 1: --size must be between", "row 2:", "painter", "row 3: column crop_only", "row 4:")
        assert_one_line_error(code, err, *needles)

    def test_empty_cells_duplicate_outputs_and_no_rows(self, inputs, tmp_path, capsys):
        csv = write_csv(inputs, "source,driver,out\nface.jpg,,a.mp4\nface.jpg,d1.mp4,x.mp4\nface.jpg,d2.mov,x.mp4\n")
        assert_one_line_error(*run_batch(capsys, csv, tmp_path / "out"), "row 1: source, driver", "write x.mp4")
        csv = write_csv(inputs, "source,driver,out\n")
        assert_one_line_error(*run_batch(capsys, csv, tmp_path / "out"), "no jobs")

    def test_outputs_checked_like_convert(self, inputs, tmp_path, capsys):
        csv = write_csv(inputs, "source,driver,out\nface.jpg,d1.mp4,a.gif\n")
        assert_one_line_error(*run_batch(capsys, csv, tmp_path / "out"), "row 1: output must be a video file")
        csv = write_csv(inputs, "source,driver,out\nface.jpg,d1.mp4,../d1.mp4\n")
        assert_one_line_error(*run_batch(capsys, csv, inputs / "sub"), "is the driver video")

    def test_bad_command_line(self, inputs, tmp_path, capsys):
        csv = write_csv(inputs, "source,driver,out\nface.jpg,d1.mp4,a.mp4\n")
        assert_one_line_error(*run_batch(capsys, csv, tmp_path, "--strip", "s.png"), "give it as a JOBS.csv column")
        assert_one_line_error(*run_batch(capsys, csv, tmp_path, "--workers", "0"), "--workers must be 1 or more")
        assert_one_line_error(*run_batch(capsys, inputs / "none.csv", tmp_path), "jobs not found")
        code, err = run_batch(capsys, csv, tmp_path, "--ray-address", "127.0.0.1:1")  # nothing listens on port 1
        assert_one_line_error(code, err, "cannot reach the Ray cluster at 127.0.0.1:1")


def test_fingerprint_follows_options_and_input_bytes(inputs, tmp_path):
    csv = write_csv(inputs, "source,driver,out\nface.jpg,d1.mp4,a.mp4\n")
    (job,) = read_jobs_csv(csv, tmp_path, batch_args())
    first = fingerprint(job.options, {})
    assert fingerprint(job.options, {}) == first
    assert fingerprint(replace(job.options, progress=True), {}) == first  # display only
    assert fingerprint(replace(job.options, max_seconds=1.0), {}) != first
    (inputs / "d1.mp4").write_bytes(b"driver one, edited")
    assert fingerprint(job.options, {}) != first


def test_with_fingerprints_sets_each_jobs_own(inputs, tmp_path):
    csv = write_csv(inputs, "source,driver,out\nface.jpg,d1.mp4,a.mp4\nface.jpg,d2.mov,b.mp4\n")
    jobs = with_fingerprints(read_jobs_csv(csv, tmp_path, batch_args()))
    assert [j.fingerprint for j in jobs] == [fingerprint(j.options, {}) for j in jobs]
    assert len({j.fingerprint for j in jobs}) == 2


def test_results_file_is_whole_and_in_job_order(tmp_path):
    results = ResultsFile(tmp_path / "results.csv", ["a.mp4", "b.mp4"])
    results.record(JobResult("b.mp4", "failed", 0.5, error="cannot open video b: InvalidDataError", hash="h2"))
    results.record(JobResult("a.mp4", "ok", 2.0, 50, 25.0, hash="h1", attempts=2))
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]  # no temp file left
    assert (tmp_path / "results.csv").read_text().splitlines() == [
        "out,status,seconds,frames,fps,error,hash,attempts",
        "a.mp4,ok,2.00,50,25.00,,h1,2",
        "b.mp4,failed,0.50,0,0.00,cannot open video b: InvalidDataError,h2,0",
    ]
    loaded = load_results(tmp_path / "results.csv")
    assert loaded["a.mp4"] == JobResult("a.mp4", "ok", 2.0, 50, 25.0, hash="h1", attempts=2)
    (tmp_path / "results.csv").write_text("garbage\x00,\n1,2\n")
    assert load_results(tmp_path / "results.csv") == {}


def test_staging_commits_whole_outputs_or_nothing(inputs, tmp_path):
    csv = write_csv(inputs, "source,driver,out,strip\nface.jpg,d1.mp4,a.mp4,a.png\n")
    out = tmp_path / "out"
    out.mkdir()
    (job,) = read_jobs_csv(csv, out, batch_args())
    opts, pairs = staging.staged(job.options, "1-abc")
    assert opts.out.parent == opts.strip.parent == out / ".reenact-batch-1-abc"
    staging.prepare(pairs)
    opts.out.write_bytes(b"video")
    opts.strip.write_bytes(b"strip")
    staging.commit(pairs)
    staging.discard(job.options, "1-abc")
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "a.png"]
    staging.prepare(pairs)
    opts.out.with_suffix(".part.mp4").write_bytes(b"half")  # what a killed worker leaves
    staging.discard(job.options, "1-abc")
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "a.png"]
