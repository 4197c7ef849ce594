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
import os
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
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    run_dir = Path(run_dir)
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
        state = load_checkpoint(ckpt)
        part.load_state_dict(state.model_state)
        optimizer.load_state_dict(state.optim_state)
        scheduler.load_state_dict(state.scheduler_state)
        rng.bit_generator.state = state.numpy_rng
        torch.set_rng_state(state.torch_rng)
        step = state.step
        accelerator.print(f"resuming {run_dir} from step {step}")
    if main:
        (run_dir / "config.json").write_text(json.dumps(config, indent=2))
        # Steps past the checkpoint were logged by a run that died before saving them: redone now.
        drop_records_after(run_dir / "metrics.jsonl", "step", step)

    module, optimizer = accelerator.prepare(_LossModule(part), optimizer)
    writer = None
    if main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"), purge_step=step if step else None)

    stop = {"signal": None}

    def _on_signal(signum, _frame):
        stop["signal"] = signal.Signals(signum).name

    old_handlers = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            old_handlers[sig] = signal.signal(sig, _on_signal)
        except ValueError:  # not the main thread
            pass

    def _checkpoint() -> None:
        accelerator.wait_for_everyone()
        if main:
            unwrapped = accelerator.unwrap_model(module).part
            save_checkpoint(
                ckpt, step=step, config=config, model=unwrapped, optimizer=optimizer, scheduler=scheduler, numpy_rng=rng
            )
            if hasattr(unwrapped, "save_pretrained"):
                unwrapped.save_pretrained(run_dir / "model")

    start_step, t0 = step, time.monotonic()
    sums: dict[str, float] = {}
    n_sum, t_log = 0, time.monotonic()
    reason = "done"
    bar = tqdm(
        total=loop.steps, initial=step, disable=not (main and loop.progress), dynamic_ncols=True, desc=run_dir.name
    )
    module.train()
    try:
        while step < loop.steps:
            batch = to_device(sample_batch(rng), accelerator.device)
            with torch.autocast(device_type=accelerator.device.type, dtype=torch.bfloat16, enabled=bf16):
                loss, metrics = module(batch)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite loss at step {step}: {metrics}")
            optimizer.zero_grad(set_to_none=True)
            accelerator.backward(loss)
            grad_norm = accelerator.clip_grad_norm_(
                module.parameters(), loop.grad_clip if loop.grad_clip > 0 else float("inf")
            )
            optimizer.step()
            scheduler.step()
            step += 1
            metrics = dict(metrics, grad_norm=float(grad_norm))
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + float(v)
            n_sum += 1
            bar.update(1)
            if step % loop.log_every == 0 or step == loop.steps:
                now = time.monotonic()
                avg = {k: v / n_sum for k, v in sums.items()}
                avg["lr"] = scheduler.get_last_lr()[0]
                avg["steps_per_s"] = n_sum / max(now - t_log, 1e-9)
                if main:
                    for k, v in avg.items():
                        writer.add_scalar(k, v, step)
                    with open(run_dir / "metrics.jsonl", "a") as f:
                        f.write(json.dumps({"step": step, **avg}) + "\n")
                    bar.set_postfix(loss=f"{avg.get('loss', float('nan')):.4g}")
                sums, n_sum, t_log = {}, 0, now
            if step % loop.checkpoint_every == 0:
                _checkpoint()
            if stop["signal"]:
                reason = stop["signal"]
                break
            if loop.stop_after and step - start_step >= loop.stop_after:
                reason = "stop_after"
                break
            if loop.time_limit_min and (time.monotonic() - t0) > 60 * loop.time_limit_min:
                reason = "time_limit"
                break
        if step % loop.checkpoint_every != 0 or step == start_step:
            _checkpoint()
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        for sig, h in old_handlers.items():
            signal.signal(sig, h)
    seconds = time.monotonic() - t0
    summary = {
        "step": step,
        "start_step": start_step,
        "stopped": reason,
        "seconds": seconds,
        "steps_per_s": (step - start_step) / max(seconds, 1e-9),
        "bf16": bf16,
        "params": sum(p.numel() for p in part.parameters()),
    }
    accelerator.print(f"{run_dir}: step {step}/{loop.steps} ({reason}) in {seconds:.0f} s")
    if main:
        with open(run_dir / "train_summary.json", "w") as f:
            json.dump(summary, f, indent=2)
    return summary


def drop_records_after(path: str | Path, key: str, last: float) -> int:
    """Keep only the JSON-lines records of ``path`` whose ``key`` is at most ``last``; returns how
    many were dropped. A resumed run calls it with its checkpoint's step (or iteration) before it
    appends, so the records of the steps it redoes are not duplicated. Lines a kill cut off are
    dropped too; records without ``key`` are kept. The file is replaced atomically."""
    path = Path(path)
    if not path.exists():
        return 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    keep = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get(key), (int, float)) or rec[key] <= last:
            keep.append(line)
    if len(keep) < len(lines):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(line + "\n" for line in keep))
        os.replace(tmp, path)
    return len(lines) - len(keep)


def last_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of RUN_DIR/metrics.jsonl."""
    p = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.exists() else []
