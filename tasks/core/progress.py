"""Training progress: tqdm bars on a terminal; one line per epoch where the output goes to a file (logs, CI, SLURM),
which tqdm's redrawn bars would fill with thousands of carriage returns and cursor moves.

conf/callbacks/default.yaml builds it with `progress_bar(...)`.
"""
from __future__ import annotations

import sys
import time
from typing import Any, Mapping

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.callbacks.progress import ProgressBar


def progress_bar(refresh_rate: int = 10, monitor: str | None = None, mode: str = "max",
                 lines: bool | None = None) -> ProgressBar:
    """The progress callback of a run: `lines` None picks by where stdout goes (a terminal: tqdm bars redrawn every
    `refresh_rate` steps; anything else: EpochLines), True / False force one. `refresh_rate=0` shows no progress
    at all. `monitor`, `mode`: the validation metric the epoch lines show and whether higher is better (the run's
    monitor.metric and monitor.mode)."""
    if lines is None:
        lines = not _is_terminal(sys.stdout)
    if lines:
        return EpochLines(monitor, mode, enabled=refresh_rate > 0)
    return TQDMProgressBar(refresh_rate=refresh_rate)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


class EpochLines(ProgressBar):
    """One line per training epoch, printed when it ends (validation included):

        epoch 3/36: 40 steps, loss 2.8113, val/top1 0.2510 (best 0.2604), 4.8 s

    loss: the mean of the epoch's training-step losses; the validation metric: `monitor` (or, without one, the
    metrics the task shows in the progress bar), only on epochs that validated; best: the best value over the
    validations so far (by `mode`: "max" or "min"). Nothing during validation, testing or prediction (their
    results are printed when they end)."""

    def __init__(self, monitor: str | None = None, mode: str = "max", enabled: bool = True):
        super().__init__()
        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        self.monitor, self.mode = monitor, mode
        self._best: dict[str, float] = {}
        self._enabled = enabled
        self._started = 0.0
        self._start_step = 0
        self._loss_sum = 0.0
        self._loss_count = 0
        self._validated = False

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    @property
    def is_enabled(self) -> bool:
        return self._enabled

    @property
    def is_disabled(self) -> bool:
        return not self._enabled

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.on_train_epoch_start(trainer, pl_module)  # a run resumed mid-epoch gets no epoch start

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.perf_counter()
        self._start_step = trainer.global_step
        self._loss_sum, self._loss_count, self._validated = 0.0, 0, False

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor) and loss.numel() == 1:
            self._loss_sum += float(loss.detach())
            self._loss_count += 1

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._validated = True

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.is_enabled:
            print(self.line(trainer), flush=True)

    def line(self, trainer: pl.Trainer) -> str:
        total = f"/{trainer.max_epochs}" if trainer.max_epochs and trainer.max_epochs > 0 else ""
        parts = [f"{trainer.global_step - self._start_step} steps"]
        if self._loss_count:
            parts.append(f"loss {self._loss_sum / self._loss_count:.4f}")
        if self._validated:
            parts += [self._metric(trainer, name) for name in self._shown(trainer)]
        parts.append(f"{time.perf_counter() - self._started:.1f} s")
        return f"epoch {trainer.current_epoch + 1}{total}: " + ", ".join(parts)

    def _shown(self, trainer: pl.Trainer) -> list[str]:
        if self.monitor and self.monitor in trainer.callback_metrics:
            return [self.monitor]
        return [k for k in trainer.progress_bar_metrics if k.startswith("val/")]

    def _metric(self, trainer: pl.Trainer, name: str) -> str:
        value = float(trainer.callback_metrics.get(name, trainer.progress_bar_metrics.get(name)))
        if value == value:  # NaN never becomes the best
            best = self._best.get(name, value)
            self._best[name] = max(best, value) if self.mode == "max" else min(best, value)
        best = self._best.get(name)
        return f"{name} {value:.4f}" + (f" (best {best:.4f})" if best is not None and best != value else "")
