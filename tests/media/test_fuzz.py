"""Damaged inputs (``tests.media.fuzz_corpus``, fixed seed): each converts, or exits 2 with one line;
never a traceback or an internal error, never a hang, never a temp file left behind.

The cases run in one worker process (``tests.media.fuzz_worker``) that prints a line per case; a case
that prints nothing within ``CASE_TIMEOUT`` seconds is a hang. The default suite runs a fixed subset;
the whole corpus (over 200 cases) is marked slow.
"""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.media.fuzz_corpus import make_corpus

REPO = Path(__file__).resolve().parents[2]
CASE_TIMEOUT = 60.0  #: seconds per case (the first also pays the imports and model loads)
FIRST_TIMEOUT = 180.0
SUBSET_STRIDE = 8  #: the default suite runs every 8th case (26 of 206)
#: Fast options: the geometric generator and a small canvas (the input handling is the same).
EXTRA = ["--generator", "geometric", "--max-side", "256", "--quiet"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("fuzz"))


def _run(cases: list[dict], workdir: Path) -> list[dict]:
    """Run the cases in a worker; fails the test on a hang (the worker is killed)."""
    listing = workdir / "cases.json"
    listing.write_text(json.dumps(cases))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.media.fuzz_worker", str(listing)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    results = []
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        for i, case in enumerate(cases):
            deadline = time.monotonic() + (FIRST_TIMEOUT if i == 0 else CASE_TIMEOUT)
            line = ""
            while not line:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(timeout=left):
                    pytest.fail(f"case {case['name']} hung (no result within its timeout)")
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    pytest.fail(f"the worker died on case {case['name']} (exit {proc.returncode}: a crash)")
            results.append(json.loads(line))
    finally:
        proc.kill()
        proc.wait()
    return results


def _check(results: list[dict], cases: list[dict], valid_bytes: dict[str, bytes]) -> None:
    bad = []
    assert len(results) == len(cases)
    for res in results:
        text = "\n".join(res["stderr"])
        errors = [line for line in res["stderr"] if not line.startswith("reenact: WARNING")]
        if "Traceback" in text or "internal error" in text:
            bad.append(f"{res['name']}: {text[-300:]}")
        elif res["rc"] == 0:
            if res["files"] != ["out.mp4"]:
                bad.append(f"{res['name']}: converted but left {res['files']}")
        elif res["rc"] == 2:
            if len(errors) != 1 or not errors[0].startswith("reenact: error: ") or res["files"]:
                bad.append(f"{res['name']}: exit 2 with {errors} and files {res['files']}")
        else:
            bad.append(f"{res['name']}: exit {res['rc']}: {text[-300:]}")
    for name, data in valid_bytes.items():
        assert Path(name).read_bytes() == data, f"an input was modified: {name}"
    assert not bad, f"{len(bad)} of {len(results)} cases misbehaved:\n" + "\n".join(bad[:20])


def _cases(corpus, workdir: Path, stride: int) -> list[dict]:
    valid, cases = corpus
    picked = cases[::stride]
    out = []
    for case in picked:
        source = str(case.path if case.role == "source" else valid["jpg"])
        driver = str(case.path if case.role == "driver" else valid["mp4"])
        out.append(
            {"name": case.name, "source": source, "driver": driver, "out_dir": str(workdir / case.name), "extra": EXTRA}
        )
    return out


def _fuzz(corpus, tmp_path, stride: int) -> None:
    valid, _ = corpus
    cases = _cases(corpus, tmp_path, stride)
    before = {str(p): p.read_bytes() for p in valid.values()}
    results = _run(cases, tmp_path)
    _check(results, cases, before)
    outcomes = {r["rc"] for r in results}
    assert 2 in outcomes  # the corpus does reach the error paths


def test_corpus_is_large_and_fixed(corpus):
    _, cases = corpus
    assert len(cases) >= 200
    assert {c.role for c in cases} == {"driver", "source"}
    assert {c.path.suffix for c in cases} == {".mp4", ".webm", ".jpg", ".png"}


def test_fuzz_subset(corpus, tmp_path):
    _fuzz(corpus, tmp_path, SUBSET_STRIDE)


@pytest.mark.slow
def test_fuzz_full_corpus(corpus, tmp_path):
    _fuzz(corpus, tmp_path, 1)
