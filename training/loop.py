"""The training loop every trainer reuses: resume, data-parallel steps, autocast, validation,
CSV/TensorBoard metrics, a tqdm bar, periodic checkpoints, and a clean stop on Ctrl-C.

A trainer is a ``Task``; the loop owns time (steps, epochs) and persistence, the task owns the
networks and what one step does. Step ``k`` always uses the batch ``task.batch(k // E, k % E)``
with ``E = loop.steps_per_epoch``, so a resumed run repeats the exact data order.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from streamer.errors import InputError
from training.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from training.config import RunConfig, config_from_dict
from training.distributed import (
    DistInfo,
    average_gradients,
    barrier,
    broadcast_modules,
    init_distributed,
    mean_metrics,
    replicas_identical,
)
from training.metrics import MetricsWriter


@dataclass(frozen=True)
class StepContext:
    """What a task's step may use: the process info, autocast and gradient averaging."""

    info: DistInfo
    dtype: torch.dtype | None  #: autocast dtype, None for plain fp32

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision where configured (bf16 autocast), else a no-op."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.info.device.type, dtype=self.dtype)

    def sync(self, module: nn.Module) -> None:
        """Average ``module``'s gradients over processes (call between backward and step)."""
        average_gradients(self.info, module)


class Task(Protocol):
    """A trainer: networks, optimisers, batches, one step, validation and export."""

    samples_per_step: int

    def modules(self) -> dict[str, nn.Module]: ...

    def optimizers(self) -> dict[str, torch.optim.Optimizer]: ...

    def batch(self, epoch: int, index: int) -> Any: ...

    def train_step(self, batch: Any, ctx: StepContext) -> dict[str, float]: ...

    def validate(self) -> dict[str, float]: ...

    def export(self, path: Path) -> None: ...


@dataclass(frozen=True)
class TrainResult:
    """How a run ended."""

    step: int
    interrupted: bool
    run_dir: Path
    validation: dict[str, float]
    seconds: float


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype: ``auto`` is bf16 on CUDA devices that have it, fp32 (None) elsewhere."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else None
    raise InputError(f"loop.precision must be auto, fp32 or bf16, got {precision!r}")


def _check_resume_config(run_dir: Path, config: RunConfig) -> None:
    saved_path = run_dir / "config.json"
    if not saved_path.is_file():
        return
    saved = config_from_dict(json.loads(saved_path.read_text())).to_dict()
    now = config.to_dict()
    runtime = {"steps", "log_every", "val_every", "ckpt_every", "keep_checkpoints", "threads", "device"}
    diffs = [k for k in now if k != "loop" and now[k] != saved[k]]
    diffs += [f"loop.{k}" for k in now["loop"] if k not in runtime and now["loop"][k] != saved["loop"][k]]
    if diffs:
        raise InputError(f"--resume with a config that differs from the run's in: {', '.join(diffs)}")


@contextlib.contextmanager
def stop_signals_interrupt():
    """SIGTERM (and a SIGINT that a background launch left ignored) stop training like Ctrl-C.

    Shells start background jobs with SIGINT ignored, and schedulers stop jobs with SIGTERM; both
    must end in the same clean checkpoint as Ctrl-C in a terminal.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, interrupt)
    if previous[signal.SIGINT] == signal.SIG_IGN:
        signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def train(
    config: RunConfig,
    data_dir: Path,
    run_dir: Path,
    resume: bool = False,
    progress: bool = True,
    stop_after: int | None = None,
) -> TrainResult:
    """Run (or resume) training; ``stop_after`` ends early at that step as Ctrl-C would (for tests)."""
    from tqdm import tqdm

    from training.dataset import LandmarkDataset
    from training.registry import get_trainer

    loop = config.loop
    torch.set_num_threads(max(1, loop.threads))
    info = init_distributed(loop.device)
    run_dir = Path(run_dir)
    if resume:
        _check_resume_config(run_dir, config)
    elif latest_checkpoint(run_dir) is not None:
        raise InputError(f"{run_dir} already holds checkpoints; pass --resume or pick a new --out")
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
    torch.manual_seed(loop.seed)
    dataset = LandmarkDataset(data_dir)
    task: Task = get_trainer(config.trainer).build(config, dataset, info)
    modules, optimizers = task.modules(), task.optimizers()
    step = 0
    ckpt = latest_checkpoint(run_dir) if resume else None
    if ckpt is not None:
        step = int(load_checkpoint(ckpt, modules, optimizers)["step"])
    elif loop.init:
        warm_start = getattr(task, "warm_start", None)
        if warm_start is None:
            raise InputError(f"the {config.trainer} trainer cannot start from a model file (loop.init)")
        warm_start(Path(loop.init))
    broadcast_modules(info, modules)
    ctx = StepContext(info, resolve_dtype(loop.precision, info.device))
    writer = MetricsWriter(run_dir, truncate_after=step, enabled=info.is_main)
    end = loop.steps if stop_after is None else min(loop.steps, stop_after)
    bar = tqdm(
        total=loop.steps, initial=step, desc=config.trainer, unit="step", disable=not (progress and info.is_main)
    )
    started, interrupted, validation = time.perf_counter(), False, {}

    def checkpoint() -> None:
        same = replicas_identical(info, modules)
        if info.is_main:
            epoch = step // loop.steps_per_epoch
            state = {
                "epoch": epoch,
                "seed": loop.seed,
                "config": config.to_dict(),
                "trainer": config.trainer,
                "world_size": info.world,
                "replicas_identical": same,
            }
            save_checkpoint(run_dir, step, modules, optimizers, state, keep=loop.keep_checkpoints)
        barrier(info)

    try:
        with stop_signals_interrupt():
            tick, tick_step = time.perf_counter(), step
            while step < end:
                epoch, index = divmod(step, loop.steps_per_epoch)
                metrics = task.train_step(task.batch(epoch, index), ctx)
                step += 1
                bar.update(1)
                if step % loop.log_every == 0 or step == end:
                    metrics = mean_metrics(info, metrics)
                    rate = (step - tick_step) * task.samples_per_step / max(time.perf_counter() - tick, 1e-9)
                    tick, tick_step = time.perf_counter(), step
                    writer.write(step, "train", {**metrics, "samples_per_s": rate})
                    bar.set_postfix(loss=f"{metrics.get('loss', float('nan')):.4f}", sps=f"{rate:.0f}")
                if step % loop.val_every == 0 and step < end:
                    validation = _validate(task, info, writer, step)
                if step % loop.ckpt_every == 0 and step < end:
                    checkpoint()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    checkpoint()
    if step == loop.steps and not interrupted:
        validation = _validate(task, info, writer, step)
        if info.is_main:
            task.export(run_dir / "model.safetensors")
    writer.close()
    return TrainResult(step, interrupted or step < loop.steps, run_dir, validation, time.perf_counter() - started)


def _validate(task: Task, info: DistInfo, writer: MetricsWriter, step: int) -> dict[str, float]:
    result: dict[str, float] = {}
    if info.is_main:
        result = task.validate()
        writer.write(step, "val", result)
    barrier(info)
    return result


def export_latest(run_dir: Path, data_dir: Path, out: Path) -> int:
    """Write the model of ``run_dir``'s newest checkpoint to ``out`` (atomically); returns its step.

    For runs that span sessions: a usable model before the run has finished.
    """
    from training.checkpoint import load_weights
    from training.dataset import LandmarkDataset
    from training.registry import get_trainer

    run_dir, out = Path(run_dir), Path(out)
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise InputError(f"{run_dir} has no checkpoint to export")
    config = config_from_dict(json.loads((run_dir / "config.json").read_text()))
    info = init_distributed("cpu")
    task: Task = get_trainer(config.trainer).build(config, LandmarkDataset(data_dir), info)
    try:
        load_weights(ckpt / "weights.safetensors", task.modules())
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise InputError(f"{ckpt} does not match the current {config.trainer} networks ({first})") from None
    step = int(json.loads((ckpt / "state.json").read_text())["step"]) if (ckpt / "state.json").is_file() else -1
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    task.export(tmp)
    tmp.replace(out)
    return step
