"""Image classification on any backbone (the paper's Stanford Dogs task, Table 10, and custom ImageFolder data).

After testing, results.json gets `per_class` (each class's accuracy and number of test images, by name) and the run
folder `confusion_matrix.png`."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import torch
import torchmetrics

from torch.nn import functional as F

from backbone import Backbone

from .core.heads import pooled_head
from .core.io import save_figure, subplots
from .core.module import TaskModule

CONFUSION_FILE = "confusion_matrix.png"
NUMBERED_CELLS_UP_TO = 20  # classes: above, the confusion matrix shows colours only (numbers would not read)


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
        self.test_confusion = torchmetrics.classification.MulticlassConfusionMatrix(num_classes)
        self.confusion: torch.Tensor | None = None  # the last test's [true, predicted] counts

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
        if stage == "test":
            self.test_confusion.update(logits, labels)
        self.log(f"{stage}/loss", F.cross_entropy(logits, labels), batch_size=len(labels), sync_dist=True)
        self.log_dict(metrics, prog_bar=stage == "val", batch_size=len(labels))

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test")

    def on_test_epoch_start(self) -> None:
        self.test_confusion.reset()

    def on_test_epoch_end(self) -> None:
        self.confusion = self.test_confusion.compute().cpu()  # summed over DDP ranks
        self.test_confusion.reset()

    def report(self, results: dict[str, Any], latency_repeats: int) -> dict[str, Any]:
        """Per-class accuracy (the share of each class's test images predicted as it; None for a class without
        test images) and support, by class name; the confusion matrix as a picture."""
        if self.confusion is None:
            return {}
        plot = plot_confusion(self.confusion, self.class_names, self.output_dir / CONFUSION_FILE)
        return {"per_class": per_class_accuracy(self.confusion, self.class_names), "plots": [str(plot)]}


def per_class_accuracy(confusion: torch.Tensor, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{class name: {"accuracy": correct / test images of the class (None without any), "support": its test
    images}} from a [true, predicted] confusion matrix."""
    support = confusion.sum(1)
    correct = confusion.diagonal()
    return {name: {"accuracy": round(float(correct[i]) / int(support[i]), 6) if support[i] else None,
                   "support": int(support[i])} for i, name in enumerate(names)}


def plot_confusion(confusion: torch.Tensor, names: Sequence[str], path: Path) -> Path:
    """The confusion matrix, each true class's row as shares of its images (so classes of any size compare);
    counts written in the cells up to NUMBERED_CELLS_UP_TO classes; the figure and labels scale with the number of
    classes (120 stay legible)."""
    count = len(names)
    shares = confusion.double() / confusion.sum(1, keepdim=True).clamp(min=1)
    side = min(max(5.0, 0.16 * count + 3.0), 24.0)
    fontsize = max(4.0, min(9.0, 0.6 * 72 * 0.75 * side / max(count, 1)))  # 60% of a row's height, in points
    fig, ax = subplots(figsize=(side + 1.2, side))
    image = ax.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(count), list(names), rotation=90, fontsize=fontsize)
    ax.set_yticks(range(count), list(names), fontsize=fontsize)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total, correct = int(confusion.sum()), int(confusion.diagonal().sum())
    ax.set_title(f"test confusion matrix: {total} images, {correct / max(total, 1):.1%} correct", fontsize=10)
    if count <= NUMBERED_CELLS_UP_TO:
        for i, j in confusion.nonzero().tolist():
            value = int(confusion[i, j])
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=fontsize,
                        color="white" if shares[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=min(0.046, 0.3 / side), pad=0.02,
                 label="share of the true class's test images")
    return save_figure(fig, path, dpi=max(100, min(150, math.ceil(3000 / (side + 1.2)))))
