"""The RFG trainer's own validation of any weights file: ``python -m training.rfg.validate``.

Builds the trainer for a config (the identity split, the warp the config trains on) and scores a model
file (or a run's checkpoint folder) exactly as a training run scores itself at ``val_every``: PSNR / SSIM
of the geometric base, G, and G+L+C after an 8-frame rollout, on the held-out identities. A planar-warp
file given to a ``revealed_input`` config is grown first (zero weights on the new channels), so this
measures a fine-tuning run's step 0.

    python -m training.rfg.validate --config rfg-mesh --data runs/shared_fps10 \\
        --weights streamer/models/weights/rfg.safetensors
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.rfg.validate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="rfg", help="config file or preset (its data split and model)")
    parser.add_argument("--data", type=Path, required=True, help="dataset folder made by 'reenact prepare'")
    parser.add_argument("--weights", type=Path, required=True, help="RFG model file or a run's checkpoint folder")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from streamer.errors import InputError
    from training.config import load_config
    from training.dataset import LandmarkDataset
    from training.distributed import DistInfo
    from training.rfg.task import RFGTask

    try:
        cfg = load_config(args.config, args.set)
        if not args.weights.exists():
            raise InputError(f"{args.weights}: no such file or folder")
        dataset = LandmarkDataset(args.data)
        torch.set_num_threads(args.threads)
        task = RFGTask(cfg, dataset, DistInfo(0, 1, 0, torch.device("cpu")))
        task.warm_start(args.weights)
    except (InputError, ValueError, OSError) as exc:
        print(f"rfg validate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: round(v, 4) for k, v in task.validate().items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
