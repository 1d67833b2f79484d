"""Image classification on any backbone (the paper's Stanford Dogs task, Table 10, and custom ImageFolder data)."""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torchmetrics

from torch.nn import functional as F

from backbone import Backbone

from .core.heads import pooled_head
from .core.module import TaskModule


class ClassificationTask(TaskModule):
    """Backbone -> global average pool -> dropout -> linear, trained with cross-entropy; top-1/top-5 accuracy.

    Args:
        backbone: any suite backbone; its deepest tap is pooled.
        num_classes: number of classes (from the datamodule); class_names: their names (kept in checkpoints, so
            predictions can be named from the checkpoint alone).
        dropout: dropout before the classifier.
        label_smoothing: cross-entropy label smoothing (the paper uses none).
        optimizer, scheduler: see tasks.core.optim.
        channels_last: NHWC memory layout (see tasks.core.module.TaskModule).
    """

    def __init__(self, backbone: Backbone, num_classes: int, dropout: float = 0.0, label_smoothing: float = 0.0,
                 optimizer: dict[str, Any] | None = None, scheduler: dict[str, Any] | None = None,
                 channels_last: bool = True, class_names: Sequence[str] | None = None):
        super().__init__(backbone, optimizer, scheduler, channels_last)
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.save_hyperparameters(ignore=["backbone"])
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        self.label_smoothing = label_smoothing
        self.head = pooled_head(backbone.num_features, num_classes, dropout)
        top5 = min(5, num_classes)
        for stage in ("val", "test"):
            setattr(self, f"{stage}_metrics", torchmetrics.MetricCollection({
                "top1": torchmetrics.Accuracy("multiclass", num_classes=num_classes, top_k=1),
                "top5": torchmetrics.Accuracy("multiclass", num_classes=num_classes, top_k=top5),
            }, prefix=f"{stage}/"))
        self.train_top1 = torchmetrics.Accuracy("multiclass", num_classes=num_classes, top_k=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(next(reversed(self.backbone(images).values())))

    def describe(self, outputs: torch.Tensor, top_k: int = 5, threshold: float = 0.5) -> list[dict[str, Any]]:
        """The top-k classes with names and softmax scores."""
        scores, indices = outputs.float().softmax(-1).topk(min(top_k, self.num_classes), dim=-1)
        return [{"top_k": [{"class": self.class_names[i], "index": i, "score": round(s, 6)}
                           for i, s in zip(row_i.tolist(), row_s.tolist())]} for row_s, row_i in zip(scores, indices)]

    def training_step(self, batch, batch_idx):
        images, labels = batch
        logits = self(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)
        self.train_top1(logits, labels)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(labels))
        self.log("train/top1", self.train_top1, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def _evaluate(self, batch, stage: str) -> None:
        images, labels = batch
        logits = self(images)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits, labels)
        self.log(f"{stage}/loss", F.cross_entropy(logits, labels), batch_size=len(labels), sync_dist=True)
        self.log_dict(metrics, prog_bar=stage == "val", batch_size=len(labels))

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test")
