"""What a bench run measures: one frozen config, ``BenchConfig.create`` fills the quick/default presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.machine import usable_cores

#: Warp backends the bench knows; ``tensorrt`` is reported as absent until it can run here.
WARP_BACKENDS = ("opencv", "torch", "onnxruntime", "tensorrt")
CROP_SIZES = (256, 512)
#: Input frame heights; frames are letterboxed to 16:9 (854x480, 1280x720, 1920x1080).
INPUT_HEIGHTS = (480, 720, 1080)
#: Generator settings (``benchmarks.generator.SETTINGS``; named as ``benchmarks.reenact_quality`` names methods).
GENERATOR_SETTINGS = ("geometric", "rfg-global", "rfg-global-local")
#: Runners of the RFG's networks (``RFGReenactor(backend=...)``).
GENERATOR_BACKENDS = ("torch", "onnxruntime")


def thread_counts(cores: int) -> tuple[int, ...]:
    """1, 2 and all cores, without repeats."""
    return tuple(sorted({1, min(2, cores), cores}))


@dataclass(frozen=True)
class BenchConfig:
    """Axes, repeats and inputs of one run (``create`` picks the preset)."""

    quick: bool = False
    backends: tuple[str, ...] = WARP_BACKENDS
    threads: tuple[int, ...] = (1,)
    crop_sizes: tuple[int, ...] = CROP_SIZES
    input_heights: tuple[int, ...] = INPUT_HEIGHTS
    #: Per-frame stages: untimed warm-up calls, then timed calls (each one sample), capped by a time budget.
    warmup: int = 3
    repeat: int = 40
    budget_s: float = 2.5
    #: Whole-clip measurements (decode, encode, convert): timed passes over the clip.
    passes: int = 3
    #: Real frames taken from the driver clip for the per-frame stages.
    max_frames: int = 60
    #: Concurrent streams: try 1.. ``max_streams``, stopping after real time fails (at least ``min_streams``).
    min_streams: int = 2
    max_streams: int = 4
    matmul_size: int = 2048
    driver: Path | None = None
    source: Path | None = None
    #: Force the bundled example even when ../shared/data is present.
    example: bool = False
    example_seconds: float = 6.0
    stages: tuple[str, ...] = field(default_factory=tuple)  # empty: all registered benches
    #: Generator settings measured per frame, end to end and live.
    generators: tuple[str, ...] = GENERATOR_SETTINGS
    #: RFG runners for the per-frame (``reenact.step``) rows; the model-cost rows time both always.
    generator_backends: tuple[str, ...] = GENERATOR_BACKENDS
    #: RFG weights (None: the shipped file if present, else random weights of the same shapes).
    weights: Path | None = None
    #: Glass-to-glass: seconds measured per generator setting after a warm-up (0: skipped).
    live_seconds: float = 15.0
    #: ``convert`` rows: driver seconds converted per run (None: the whole clip).
    convert_max_seconds: float | None = None

    @classmethod
    def create(cls, quick: bool = False, **overrides) -> BenchConfig:
        """The quick (under a minute, smoke test) or default (a few minutes) preset, with overrides."""
        cores = usable_cores()
        if quick:
            preset = dict(
                quick=True,
                threads=(1,),
                crop_sizes=(256,),
                input_heights=(720,),
                warmup=2,
                repeat=10,
                budget_s=0.6,
                passes=2,
                max_frames=12,
                # One stream proves the multi-process machinery; two cost ~10 s of process start-up here.
                min_streams=1,
                max_streams=1,
                matmul_size=1024,
                example_seconds=1.6,
                generator_backends=("onnxruntime",),
                live_seconds=0.0,
                convert_max_seconds=0.8,
            )
        else:
            preset = dict(threads=thread_counts(cores), max_streams=max(2, min(cores + 2, 6)))
        preset.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**preset)

    def as_dict(self) -> dict:
        """JSON-ready copy."""
        out = asdict(self)
        for key in ("driver", "source", "weights"):
            out[key] = str(out[key]) if out[key] is not None else None
        return out
