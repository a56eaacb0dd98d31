"""Compile every kernels/cuda/*.cu with nvcc for sm_75, sm_80, sm_86, sm_89 and sm_90 (plus
compute_90 PTX for newer GPUs) with warnings as errors, and report.

The cubins / PTX it writes are what kernels.gpu loads. Results are cached by a hash of the
sources, the nvcc version and the flags (so a second run is instant); ``--force`` rebuilds.

    python -m kernels.nvcc_check [--out DIR] [--force]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from kernels.cpu_build import SOURCE_DIR, cache_dir, sources_digest

ARCHS = (75, 80, 86, 89, 90)
PTX_ARCH = 90
#: Warnings as errors everywhere: the nvcc front end (all-warnings), ptxas, and the host compiler.
NVCC_FLAGS = (
    "-std=c++17",
    "-O3",
    "-Werror",
    "all-warnings",
    "-Xptxas",
    "-Werror",
    "-Xcompiler",
    "-Wall,-Wextra,-Werror",
)


@dataclass(frozen=True)
class CompileResult:
    """One nvcc run: source, target ('sm_86', 'compute_90' PTX, or 'host' for the host-side pass)."""

    source: str
    target: str
    ok: bool
    output: str  # nvcc's stdout + stderr (empty when clean)
    seconds: float
    artifact: str | None


def find_nvcc() -> str | None:
    """nvcc from $NVCC, the PATH, or /usr/local/cuda; None when there is none."""
    for candidate in (os.environ.get("NVCC"), shutil.which("nvcc"), "/usr/local/cuda/bin/nvcc"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def cu_sources() -> list[Path]:
    return sorted(SOURCE_DIR.glob("*.cu"))


def _jobs(nvcc: str, out: Path) -> list[tuple[str, str, list[str], Path]]:
    jobs = []
    for src in cu_sources():
        stem = src.stem
        for arch in ARCHS:
            target = out / f"{stem}.sm_{arch}.cubin"
            jobs.append((src.name, f"sm_{arch}", ["-cubin", f"-arch=sm_{arch}", "-o", str(target)], target))
        ptx = out / f"{stem}.compute_{PTX_ARCH}.ptx"
        jobs.append((src.name, f"compute_{PTX_ARCH}", ["-ptx", f"-arch=compute_{PTX_ARCH}", "-o", str(ptx)], ptx))
        obj = out / f"{stem}.host.o"  # exercises the host compiler on the generated launch stubs
        jobs.append((src.name, "host", ["-c", f"-arch=sm_{ARCHS[0]}", "-o", str(obj)], obj))
    base = [nvcc, *NVCC_FLAGS, f"-I{SOURCE_DIR}"]
    return [(name, target, [*base, *args, str(SOURCE_DIR / name)], artifact) for name, target, args, artifact in jobs]


def _run(job: tuple[str, str, list[str], Path]) -> CompileResult:
    name, target, cmd, artifact = job
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    output = (proc.stdout + proc.stderr).strip()
    ok = proc.returncode == 0 and not output
    return CompileResult(name, target, ok, output, time.perf_counter() - start, str(artifact) if ok else None)


def build_dir(nvcc: str) -> Path:
    """The cache folder for this nvcc, these flags and these sources."""
    version = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=False).stdout
    key = sources_digest(version + " ".join(NVCC_FLAGS) + repr(ARCHS) + str(PTX_ARCH))[:16]
    return cache_dir() / f"nvcc-{key}"


def check(out: Path | None = None, force: bool = False, jobs: int | None = None) -> list[CompileResult]:
    """Compile every .cu for every target; raises FileNotFoundError when nvcc is missing."""
    nvcc = find_nvcc()
    if nvcc is None:
        raise FileNotFoundError("nvcc not found (set NVCC or put the CUDA toolkit's bin on the PATH)")
    out = out or build_dir(nvcc)
    report = out / "report.json"
    if report.is_file() and not force:
        return [CompileResult(**r) for r in json.loads(report.read_text())]
    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 2) as pool:
        results = list(pool.map(_run, _jobs(nvcc, out)))
    if all(r.ok for r in results):  # only clean builds are cached
        report.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return results


def format_report(results: list[CompileResult]) -> str:
    lines = []
    for r in results:
        status = "ok" if r.ok else "FAILED"
        lines.append(f"{r.source:18s} {r.target:11s} {status:6s} {r.seconds:5.1f}s")
        if r.output:
            lines.extend("    " + line for line in r.output.splitlines())
    failed = sum(not r.ok for r in results)
    lines.append(f"{len(results) - failed}/{len(results)} clean" + (f", {failed} failed" if failed else ""))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="where the cubins / PTX go (default: the kernel cache)")
    parser.add_argument("--force", action="store_true", help="recompile even if a clean build is cached")
    args = parser.parse_args(argv)
    try:
        results = check(args.out, args.force)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(format_report(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
