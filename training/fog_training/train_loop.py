"""One training loop for every trainable part that returns ``(loss, metrics)``.

A *part* is an ``nn.Module`` with ``compute_loss(batch) -> (loss tensor, {name: float})`` (the
global world model, the RSSM, ...). The loop owns everything else: AdamW with linear warmup,
gradient clipping, optional bf16 autocast, :mod:`accelerate` (the same code runs on one CPU or on
several GPUs/nodes via ``accelerate launch``), TensorBoard scalars and ``metrics.jsonl``, a tqdm
bar, atomic safetensors checkpoints every K steps and resume from the last one with the same step
count and the same data/noise random streams.

Run directory layout::

    RUN_DIR/checkpoint.safetensors   full training state (see fog_training.checkpoint)
    RUN_DIR/model/                   inference export of the part (config.json + model.safetensors)
    RUN_DIR/config.json              the run's config
    RUN_DIR/metrics.jsonl            one JSON line per log interval
    RUN_DIR/tb/                      TensorBoard events
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from fog_training.checkpoint import checkpoint_path, load_checkpoint, save_checkpoint
from fog_training.run_records import append_record, drop_records_after


@dataclass
class LoopConfig:
    steps: int = 1000
    """Total optimizer steps of the run (a resumed run continues towards this number)."""
    batch_size: int = 32
    """Windows per optimizer step and process."""
    lr: float = 3e-4
    """Peak AdamW learning rate."""
    weight_decay: float = 1e-2
    """AdamW weight decay."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    eps: float = 1e-8
    """AdamW epsilon."""
    warmup_steps: int = 100
    """Linear learning-rate warmup from 0."""
    grad_clip: float = 1.0
    """Max global gradient norm (0 = no clipping)."""
    precision: Literal["fp32", "bf16", "auto"] = "fp32"
    """bf16 autocast or fp32; auto = bf16 on CUDA or CPUs with native bf16 (AVX2-only CPUs: bf16 is ~50x slower)."""
    log_every: int = 10
    """Steps between TensorBoard/metrics.jsonl records."""
    checkpoint_every: int = 100
    """Steps between checkpoints (also written at the end, on SIGTERM/SIGINT and at the time limit)."""
    seed: int = 0
    """Seed of the batch sampler and of torch (per process: seed + process index)."""
    time_limit_min: float = 0.0
    """Stop (with a checkpoint) after this many minutes of training in this process; 0 = none."""
    stop_after: int = 0
    """Stop (with a checkpoint) after this many steps in this process; 0 = none (for tests and chunked jobs)."""
    threads: int = 0
    """torch CPU threads (0 = torch's default)."""
    progress: bool = True
    """Show a tqdm progress bar."""
    cpu: bool = False
    """Train on the CPU even when an accelerator is present."""


def use_bf16(precision: str, device: torch.device) -> bool:
    if precision == "bf16":
        return True
    if precision == "fp32":
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())  # noqa: SLF001  (torch has no public check)


class _LossModule(nn.Module):
    """Lets DDP wrap ``part.compute_loss`` as a forward."""

    def __init__(self, part: nn.Module) -> None:
        super().__init__()
        self.part = part

    def forward(self, batch: dict[str, torch.Tensor]):
        return self.part.compute_loss(batch)


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in batch.items():
        t = v if isinstance(v, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(v))
        out[k] = t.to(device, non_blocking=True)
    return out


def read_checkpoint_config(run_dir: str | Path) -> dict[str, Any] | None:
    """The config stored in RUN_DIR's checkpoint (None when there is no checkpoint)."""
    path = checkpoint_path(run_dir)
    if not path.exists():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as f:
        return json.loads((f.metadata() or {})["config"])


class StopSignals:
    """Records SIGTERM/SIGINT instead of dying, so a loop can stop with a checkpoint.

    ``signal`` holds the name of the last one received (None before any); the handlers are only
    installed from the main thread, and :meth:`restore` puts the previous ones back.
    """

    def __init__(self) -> None:
        self.signal: str | None = None
        self._old_handlers = {}
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass

    def _on_signal(self, signum, _frame) -> None:
        self.signal = signal.Signals(signum).name

    def restore(self) -> None:
        for sig, h in self._old_handlers.items():
            signal.signal(sig, h)


class _MetricWindow:
    """Sums of the step metrics since the last log record, and the time it started."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.n = 0
        self.t_start = time.monotonic()

    def add(self, metrics: dict[str, Any]) -> None:
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v)
        self.n += 1

    def flush(self, lr: float) -> dict[str, float]:
        """The window's means with ``lr`` and the step rate; starts a new window."""
        now = time.monotonic()
        avg = {k: v / self.n for k, v in self.sums.items()}
        avg["lr"] = lr
        avg["steps_per_s"] = self.n / max(now - self.t_start, 1e-9)
        self.sums, self.n, self.t_start = {}, 0, now
        return avg


@dataclass
class _LoopRun:
    """What one call of :func:`train` works on: the prepared module and optimizer, the run's random
    stream and step, and where it writes (only the main process writes files)."""

    loop: LoopConfig
    run_dir: Path
    config: dict[str, Any]
    accelerator: Any
    module: nn.Module
    optimizer: Any
    scheduler: Any
    rng: np.random.Generator
    bf16: bool
    step: int
    writer: Any = None

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    def optimizer_step(self, batch: dict[str, torch.Tensor]) -> dict[str, Any]:
        """One forward, backward and update on ``batch``; its metrics with the gradient norm."""
        with torch.autocast(device_type=self.accelerator.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            loss, metrics = self.module(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"non-finite loss at step {self.step}: {metrics}")
        self.optimizer.zero_grad(set_to_none=True)
        self.accelerator.backward(loss)
        grad_clip = self.loop.grad_clip if self.loop.grad_clip > 0 else float("inf")
        grad_norm = self.accelerator.clip_grad_norm_(self.module.parameters(), grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return dict(metrics, grad_norm=float(grad_norm))

    def log(self, avg: dict[str, float], bar) -> None:
        """Write one record to TensorBoard and metrics.jsonl (main process)."""
        if not self.main:
            return
        for k, v in avg.items():
            self.writer.add_scalar(k, v, self.step)
        append_record(self.run_dir / "metrics.jsonl", {"step": self.step, **avg})
        bar.set_postfix(loss=f"{avg.get('loss', float('nan')):.4g}")

    def checkpoint(self) -> None:
        """Save the full training state and the part's inference export (main process)."""
        self.accelerator.wait_for_everyone()
        if self.main:
            unwrapped = self.accelerator.unwrap_model(self.module).part
            save_checkpoint(
                checkpoint_path(self.run_dir),
                step=self.step,
                config=self.config,
                model=unwrapped,
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                numpy_rng=self.rng,
            )
            if hasattr(unwrapped, "save_pretrained"):
                unwrapped.save_pretrained(self.run_dir / "model")

    def stop_reason(self, stop: StopSignals, start_step: int, t0: float) -> str | None:
        """Why the loop stops before ``loop.steps`` (a signal, stop_after, the time limit), or None."""
        if stop.signal:
            return stop.signal
        if self.loop.stop_after and self.step - start_step >= self.loop.stop_after:
            return "stop_after"
        if self.loop.time_limit_min and (time.monotonic() - t0) > 60 * self.loop.time_limit_min:
            return "time_limit"
        return None


def _load_training_state(ckpt: Path, part: nn.Module, optimizer, scheduler, rng: np.random.Generator) -> int:
    """Restore the part, optimizer, schedule and both random streams from ``ckpt``; its step."""
    state = load_checkpoint(ckpt)
    part.load_state_dict(state.model_state)
    optimizer.load_state_dict(state.optim_state)
    scheduler.load_state_dict(state.scheduler_state)
    rng.bit_generator.state = state.numpy_rng
    torch.set_rng_state(state.torch_rng)
    return state.step


def _start_run(part: nn.Module, loop: LoopConfig, run_dir: Path, config: dict[str, Any], resume: str) -> _LoopRun:
    """Seed, build the optimizer and schedule, resume from RUN_DIR's checkpoint, prepare for accelerate."""
    from accelerate import Accelerator

    run_dir.mkdir(parents=True, exist_ok=True)
    if loop.threads > 0:
        torch.set_num_threads(loop.threads)
    accelerator = Accelerator(cpu=loop.cpu, mixed_precision="no")
    rank, main = accelerator.process_index, accelerator.is_main_process
    bf16 = use_bf16(loop.precision, accelerator.device)
    torch.manual_seed(loop.seed + rank)
    rng = np.random.default_rng(loop.seed + rank)

    optimizer = torch.optim.AdamW(
        part.parameters(), lr=loop.lr, betas=tuple(loop.betas), eps=loop.eps, weight_decay=loop.weight_decay
    )
    warm = max(1, loop.warmup_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warm))
    ckpt = checkpoint_path(run_dir)
    step = 0
    if ckpt.exists() and resume == "never":
        raise FileExistsError(f"{run_dir} already holds a checkpoint; choose another --out or resume it")
    if not ckpt.exists() and resume == "require":
        raise FileNotFoundError(f"--resume given but {ckpt} does not exist")
    if ckpt.exists():
        step = _load_training_state(ckpt, part, optimizer, scheduler, rng)
        accelerator.print(f"resuming {run_dir} from step {step}")
    if main:
        (run_dir / "config.json").write_text(json.dumps(config, indent=2))
        # Steps past the checkpoint were logged by a run that died before saving them: redone now.
        drop_records_after(run_dir / "metrics.jsonl", "step", step)

    module, optimizer = accelerator.prepare(_LossModule(part), optimizer)
    run = _LoopRun(loop, run_dir, config, accelerator, module, optimizer, scheduler, rng, bf16, step)
    if main:
        from torch.utils.tensorboard import SummaryWriter

        run.writer = SummaryWriter(str(run_dir / "tb"), purge_step=step if step else None)
    return run


def _write_summary(run: _LoopRun, part: nn.Module, start_step: int, t0: float, reason: str) -> dict[str, Any]:
    """Print the run's last line and write train_summary.json (main process); the summary."""
    seconds = time.monotonic() - t0
    summary = {
        "step": run.step,
        "start_step": start_step,
        "stopped": reason,
        "seconds": seconds,
        "steps_per_s": (run.step - start_step) / max(seconds, 1e-9),
        "bf16": run.bf16,
        "params": sum(p.numel() for p in part.parameters()),
    }
    run.accelerator.print(f"{run.run_dir}: step {run.step}/{run.loop.steps} ({reason}) in {seconds:.0f} s")
    if run.main:
        with open(run.run_dir / "train_summary.json", "w") as f:
            json.dump(summary, f, indent=2)
    return summary


def train(
    part: nn.Module,
    sample_batch: Callable[[np.random.Generator], dict[str, Any]],
    loop: LoopConfig,
    run_dir: str | Path,
    config: dict[str, Any],
    *,
    resume: Literal["auto", "require", "never"] = "auto",
) -> dict[str, Any]:
    """Train ``part`` on batches from ``sample_batch(rng)`` until ``loop.steps``; returns a summary.

    ``resume``: "auto" continues from RUN_DIR's checkpoint when there is one, "require" fails
    without one, "never" fails when there is one (never overwrite a run silently).
    """
    from tqdm.auto import tqdm

    run_dir = Path(run_dir)
    run = _start_run(part, loop, run_dir, config, resume)
    stop = StopSignals()
    start_step, t0 = run.step, time.monotonic()
    window = _MetricWindow()
    reason = "done"
    bar = tqdm(
        total=loop.steps,
        initial=run.step,
        disable=not (run.main and loop.progress),
        dynamic_ncols=True,
        desc=run_dir.name,
    )
    run.module.train()
    try:
        while run.step < loop.steps:
            batch = to_device(sample_batch(run.rng), run.accelerator.device)
            window.add(run.optimizer_step(batch))
            bar.update(1)
            if run.step % loop.log_every == 0 or run.step == loop.steps:
                run.log(window.flush(run.scheduler.get_last_lr()[0]), bar)
            if run.step % loop.checkpoint_every == 0:
                run.checkpoint()
            stopped = run.stop_reason(stop, start_step, t0)
            if stopped:
                reason = stopped
                break
        if run.step % loop.checkpoint_every != 0 or run.step == start_step:
            run.checkpoint()
    finally:
        bar.close()
        if run.writer is not None:
            run.writer.close()
        stop.restore()
    return _write_summary(run, part, start_step, t0, reason)
