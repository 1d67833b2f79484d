"""What every task module shares: a backbone, the optimizer/schedule from config, and the run's output folder."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from backbone import Backbone

from .optim import build_optimizer, build_scheduler


class TaskModule(pl.LightningModule):
    """Base LightningModule. Subclasses build their heads around `self.backbone` and implement `forward(images)`
    (batched inference, used also to count mult-adds and time latency) and the step methods. Test metrics are
    logged as `test/<name>`; train.py writes them to results.json.

    `channels_last`: keep weights (and so activations) in NHWC memory layout from setup on: training steps 1.1-1.5x
    faster on a 2-core CPU (dogs 1.5x, SSD 1.3x, Faster R-CNN 1.1x; README), and the layout GPU tensor cores
    prefer under mixed precision."""

    def __init__(self, backbone: Backbone, optimizer: dict[str, Any] | None = None,
                 scheduler: dict[str, Any] | None = None, channels_last: bool = True):
        super().__init__()
        if not isinstance(backbone, nn.Module) or not hasattr(backbone, "feature_info"):
            raise TypeError(f"model.backbone must be a backbone.Backbone, got {type(backbone).__name__}")
        self.backbone = backbone
        self.optimizer_cfg = dict(optimizer or {})
        self.scheduler_cfg = dict(scheduler or {})
        self.channels_last = channels_last
        self.run_config: dict[str, Any] | None = None  # the run's resolved config (set by the runner)

    def setup(self, stage: str) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Every checkpoint carries the run's config, so the model can be rebuilt from the file alone
        (tasks.checkpoint)."""
        if self.run_config is not None:
            from .checkpoint import CONFIG_KEY
            checkpoint[CONFIG_KEY] = self.run_config

    def report(self, results: dict[str, Any], latency_repeats: int) -> dict[str, Any]:
        """After testing, on rank 0: extra results.json entries (and files or tables) beyond the test metrics;
        `results` holds what the runner has so far (metrics, params, mult-adds, latency); `latency_repeats`: how
        many timed passes a latency measurement takes."""
        return {}

    def describe(self, outputs, top_k: int = 5, threshold: float = 0.5) -> list[dict[str, Any]]:
        """One JSON-able record per image of a batch's `forward` outputs, for predict.py."""
        raise NotImplementedError(f"{type(self).__name__} does not describe its predictions")

    @property
    def output_dir(self) -> Path:
        """The run directory (Hydra's, set as the trainer's default_root_dir by train.py)."""
        return Path(self.trainer.default_root_dir if self._trainer is not None else ".")

    def configure_optimizers(self):
        optimizer = build_optimizer(self, **self.optimizer_cfg)
        scheduler = build_scheduler(optimizer, int(self.trainer.estimated_stepping_batches), **self.scheduler_cfg)
        return optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}
