"""A job's outputs are written into a hidden folder beside each final path and renamed into place when
the whole job succeeded, so a worker killed mid-job (or Ctrl-C) leaves nothing the scheduler cannot
remove: it deletes the job's staging folders, whatever temp files the encoder had made inside them."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

from streamer.convert import ConvertOptions

#: In commit order: ``out`` last, as its presence marks a finished job (a re-run skips it).
_OUTPUTS = ("strip", "track_debug", "out")


def staging_dir(final: Path, key: str) -> Path:
    """The job's staging folder beside ``final`` (same file system, so the rename is atomic)."""
    return final.parent / f".reenact-batch-{key}"


def staged(opts: ConvertOptions, key: str) -> tuple[ConvertOptions, list[tuple[Path, Path]]]:
    """``opts`` writing into staging folders, and the (staged, final) pairs to commit."""
    changes, pairs = {}, []
    for name in _OUTPUTS:
        final = getattr(opts, name)
        if final is not None:
            changes[name] = staging_dir(final, key) / final.name
            pairs.append((changes[name], final))
    return replace(opts, **changes), pairs


def prepare(pairs: list[tuple[Path, Path]]) -> None:
    """Make fresh, empty staging folders."""
    for tmp, _ in pairs:
        shutil.rmtree(tmp.parent, ignore_errors=True)
        tmp.parent.mkdir(parents=True)


def commit(pairs: list[tuple[Path, Path]]) -> None:
    """Rename every staged output into place (``out`` last: its presence marks a finished job)."""
    for tmp, final in pairs:
        if tmp.exists():
            os.replace(tmp, final)


def discard(opts: ConvertOptions, key: str) -> None:
    """Remove the job's staging folders and all in them (the job failed, was cancelled or its worker died)."""
    for name in _OUTPUTS:
        final = getattr(opts, name)
        if final is not None:
            shutil.rmtree(staging_dir(final, key), ignore_errors=True)
