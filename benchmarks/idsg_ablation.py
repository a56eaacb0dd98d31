"""Train the IDSG loss ablation (the DG paper's four settings) under two optimiser settings.

    python -m benchmarks.idsg_ablation --data runs/shared_fps10 --out runs/idsg [--jobs 2] [--steps 3000]

Each run is ``reenact train PRESET --data DATA --out OUT/<preset>_<setting> --set ...``; finished
runs (with ``model.safetensors``) are skipped, so the script can be re-run after an interruption.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

#: Paper ablation settings -> losses switched off.
SETTINGS = {
    "adv_cls": ["losses.vls=0", "losses.action=0", "losses.loc=0"],
    "adv_cls_vls": ["losses.action=0", "losses.loc=0"],
    "adv_cls_vls_action": ["losses.loc=0"],
    "all": [],
}
PRESETS = ("idsg", "idsg-paper")


def command(preset: str, setting: str, data: Path, out: Path, steps: int) -> list[str]:
    """The ``reenact train`` command line of one run."""
    reenact = str(Path(sys.executable).parent / "reenact")
    args = [reenact, "train", preset, "--data", str(data), "--out", str(out), "--quiet", "--set", f"loop.steps={steps}"]
    for item in SETTINGS[setting]:
        args += ["--set", item]
    return args


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--jobs", type=int, default=1)
    args = p.parse_args(argv)
    runs = [(pr, st) for pr in PRESETS for st in SETTINGS]

    def run(item: tuple[str, str]) -> str:
        preset, setting = item
        out = args.out / f"{preset.replace('-', '_')}_{setting}"
        if (out / "model.safetensors").is_file():
            return f"{out.name}: done before"
        shutil.rmtree(out, ignore_errors=True)
        start = time.perf_counter()
        proc = subprocess.run(command(preset, setting, args.data, out, args.steps), capture_output=True, text=True)
        took = time.perf_counter() - start
        (args.out / f"{out.name}.log").write_text(proc.stdout + proc.stderr)
        return f"{out.name}: rc {proc.returncode}, {took:.0f} s: {proc.stdout.strip()[-200:]}"

    args.out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(args.jobs) as pool:
        for line in pool.map(run, runs):
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
