"""The ``reenact`` command line."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys

#: Each subcommand lives in its own module with a ``register(subparsers)`` function.
COMMAND_MODULES = (
    "streamer.commands.convert",
    "streamer.commands.edit",
    "streamer.commands.batch",
    "streamer.commands.bench",
    "streamer.commands.serve",
    "streamer.commands.camera",
    "streamer.commands.prepare",
    "streamer.commands.train",
    "streamer.commands.export",
    "streamer.commands.doctor",
)

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


class OneLineParser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (and exit 2, as argparse does)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)


def _quiet_native_logs() -> None:
    # MediaPipe's C++ logging (glog/absl) writes INFO lines to stderr unless told otherwise.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser() -> argparse.ArgumentParser:
    """The ``reenact`` parser with all subcommands."""
    from streamer import __version__

    parser = OneLineParser(prog="reenact", description="Real-time face reenactment.")
    parser.add_argument("--version", action="version", version=f"reenact {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: runs a subcommand; bad input exits 2 with one line, Ctrl-C exits 130 cleanly."""
    _quiet_native_logs()
    logging.basicConfig(format="reenact: %(levelname)s: %(message)s", level=logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    from streamer.errors import InputError
    from streamer.interrupt import sigint_guard
    from streamer.native_logs import filtered_stderr

    args.stderr_is_tty = sys.stderr.isatty()  # asked before fd 2 becomes the filter's pipe
    try:
        with sigint_guard(), contextlib.nullcontext() if args.debug else filtered_stderr():
            return int(args.func(args) or 0)
    except InputError as exc:
        sys.stderr.write(f"reenact: error: {exc}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write("reenact: interrupted; no output was written\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            raise
        sys.stderr.write(f"reenact: internal error: {exc.__class__.__name__}: {exc} (rerun with --debug)\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
