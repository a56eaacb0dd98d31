"""``reenact train``: train a network from a config (file or preset) on a prepared dataset."""

from __future__ import annotations

import argparse
from pathlib import Path

EXIT_INTERRUPTED = 130


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``reenact train``."""
    p = sub.add_parser(
        "train",
        help="train a network (e.g. the IDSG) on a prepared dataset",
        description="Train from CONFIG (a JSON/YAML file or a preset name such as 'idsg' or 'idsg-paper'). "
        "Multi-process: torchrun --nproc_per_node N -m streamer.cli train ...",
    )
    p.add_argument("config", help="config file or preset name (see training/configs)")
    p.add_argument("--data", type=Path, required=True, help="dataset folder made by 'reenact prepare'")
    p.add_argument("--out", type=Path, required=True, help="run folder: config, checkpoints, metrics, model")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's newest checkpoint")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set loop.steps=500 --set losses.vls=0 (repeatable)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--export-latest",
        type=Path,
        metavar="MODEL",
        help="do not train: write the run's newest checkpoint as a model file (e.g. rfg.safetensors) and exit",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.loop import export_latest, train

    if args.export_latest is not None:
        step = export_latest(args.out, args.data, args.export_latest)
        print(f"wrote {args.export_latest} from step {step} of {args.out}")
        return 0

    config = load_config(args.config, args.overrides)
    progress = not args.quiet and getattr(args, "stderr_is_tty", True)
    result = train(config, args.data, args.out, resume=args.resume, progress=progress)
    val = ", ".join(f"{k} {v:.3f}" for k, v in result.validation.items())
    state = "stopped (resume with --resume)" if result.interrupted else "finished"
    print(f"{state} at step {result.step} in {result.seconds:.1f} s; {result.run_dir}{'; ' + val if val else ''}")
    return EXIT_INTERRUPTED if result.interrupted else 0
