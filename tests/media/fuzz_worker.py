"""Runs ``reenact convert`` in this one process on each case of a JSON list, as a user would type it
(``streamer.cli.main``), and prints one JSON line per case: exit code, stderr lines, files left behind.

In-process so the imports and model loads are paid once, not 200 times; the parent test reads the lines
with a timeout per case and kills this process if one hangs (``tests/media/test_fuzz.py``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path


def run_case(argv: list[str]) -> tuple[int, list[str]]:
    """``reenact`` with ``argv``: (exit code, stderr lines); native and Python stderr both captured."""
    from streamer.cli import main

    with tempfile.TemporaryFile() as err:
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    rc = main(argv)
                except SystemExit as exc:  # argparse's own errors
                    rc = int(exc.code or 0)
                finally:
                    sys.stderr.flush()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
    return rc, [line for line in text.splitlines() if line.strip()]


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    for case in cases:
        out_dir = Path(case["out_dir"])
        out_dir.mkdir(parents=True, exist_ok=True)
        argv = ["convert", "--source", case["source"], "--driver", case["driver"], "--out", str(out_dir / "out.mp4")]
        rc, lines = run_case([*argv, *case["extra"]])
        left = sorted(p.name for p in out_dir.iterdir())
        print(json.dumps({"name": case["name"], "rc": rc, "stderr": lines, "files": left}), flush=True)


if __name__ == "__main__":
    main()
