"""Face embeddings: metric learning on identities (a FaceNet-style teacher) or distillation from a teacher (the
paper's Table 14).

The model maps an image to an L2-normalised embedding; two faces are the same person when the squared distance
of their embeddings is below a threshold (tasks.embedding.verification).
- `distill=false` learns from identity labels with a pytorch-metric-learning loss and miner (by default FaceNet's
  triplet loss with semi-hard mining; any loss of the library by config, e.g. ArcFaceLoss).
- `distill=true` never reads a label: the student minimises the squared L2 distance between its normalised
  embedding and the teacher's (the paper), the teacher being any kind of tasks.distill (a stage-1 run, a suite
  checkpoint, timm, ONNX, precomputed embeddings, or FaceNet itself, its TensorFlow graph read into PyTorch). When
  the teacher's embedding size (`teacher_embedding_size`) differs from the student's `embedding_size`, a linear
  projection maps the student's embedding into the teacher's space, and the projected, normalised vector is the
  student's output (so its embeddings can be compared with the teacher's).

Metrics (validation: all pairs of the held-out training identities; test: the pairs file's LFW protocol and all
pairs of its people): 10-fold accuracy, VAL at FAR 1e-3 and 1e-4, ROC AUC.
"""
from __future__ import annotations

import inspect
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from hydra.utils import get_class
from torch import nn
from torch.nn import functional as F

from backbone import Backbone

from ..core.heads import pooled_head
from ..core.io import save_figure, subplots
from ..core.module import TaskModule
from ..distill import DistillingTask
from .verification import verification_metrics

log = logging.getLogger(__name__)


def build_metric_loss(spec: dict[str, Any] | None, num_classes: int, embedding_size: int):
    """A pytorch-metric-learning object from {"class_name": ..., kwargs} (not Hydra's `_target_`: the task builds
    it, so that num_classes and embedding_size reach the classes that take them, such as ArcFaceLoss)."""
    if not spec:
        return None
    spec = dict(spec)
    target = spec.pop("class_name", None)
    if not target:
        raise ValueError(f"model.loss / model.miner needs a class_name (a pytorch_metric_learning class), got {spec}")
    cls = get_class(target)
    accepted = inspect.signature(cls).parameters
    extra = {k: v for k, v in (("num_classes", num_classes), ("embedding_size", embedding_size)) if k in accepted}
    return cls(**extra, **spec)


class EmbeddingTask(DistillingTask, TaskModule):
    """Backbone -> global average pool -> dropout -> linear (embedding_size) [-> linear (teacher_embedding_size)]
    -> L2 normalisation.

    Args:
        backbone: any suite backbone.
        num_classes: training identities (from the datamodule; classification-style losses need it).
        embedding_size: the student's embedding size.
        distill: train on the teacher's embeddings (module docstring) instead of the identities.
        teacher: the teacher spec, prepared by the runner from the `teacher` config (tasks.distill).
        teacher_embedding_size: the teacher's embedding size (null: embedding_size); a teacher giving another size
            is an error.
        loss, miner: pytorch-metric-learning classes and arguments for `distill=false` (miner null: none).
        fars: the false accept rates VAL is reported at.
        dropout, optimizer, scheduler, channels_last: see tasks.core.module.TaskModule.
    """

    def __init__(self, backbone: Backbone, num_classes: int, embedding_size: int = 128, distill: bool = False,
                 teacher: dict[str, Any] | None = None, teacher_embedding_size: int | None = None,
                 loss: dict[str, Any] | None = None, miner: dict[str, Any] | None = None,
                 fars: Sequence[float] = (1e-3, 1e-4), dropout: float = 0.0,
                 optimizer: dict[str, Any] | None = None, scheduler: dict[str, Any] | None = None,
                 channels_last: bool = True):
        super().__init__(backbone, optimizer, scheduler, channels_last)
        if embedding_size < 1:
            raise ValueError(f"model.embedding_size must be >= 1, got {embedding_size}")
        if distill and not teacher:
            raise ValueError("model.distill=true needs a teacher (teacher=train, checkpoint, timm, onnx, outputs or "
                             "facenet)")
        if not distill and not loss:
            raise ValueError("model.loss is required without distillation (e.g. pytorch_metric_learning.losses."
                             "TripletMarginLoss)")
        self.save_hyperparameters(ignore=["backbone"])
        self.distill, self.fars = distill, tuple(float(f) for f in fars)
        self.init_teacher(teacher)
        self.output_size = teacher_embedding_size or embedding_size
        layers = [*pooled_head(backbone.num_features, embedding_size, dropout)]
        if self.output_size != embedding_size:
            layers.append(nn.Linear(embedding_size, self.output_size))  # into the teacher's space
        self.head = nn.Sequential(*layers)
        self.loss_fn = None if distill else build_metric_loss(loss, num_classes, embedding_size)
        self.mine = None if distill else build_metric_loss(miner, num_classes, embedding_size)
        self.found: dict[str, dict[str, Any]] = {}        # the last validation / test metrics, in full
        self._collected: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """L2-normalised embeddings (B, D)."""
        return F.normalize(self.head(next(reversed(self.backbone(images).values()))).float(), dim=1)

    def describe(self, outputs: torch.Tensor, top_k: int = 5, threshold: float = 0.5) -> list[dict[str, Any]]:
        """The embedding of every image (compare two with the squared L2 distance)."""
        return [{"embedding": [round(v, 6) for v in row.tolist()]} for row in outputs.float()]

    # ---------------------------------------------------------------------------------------------- teacher
    def teacher_size(self) -> int:
        return self.output_size

    def teacher_need(self) -> str:
        return f"model.teacher_embedding_size={self.output_size}"

    def targets_from(self, outputs: torch.Tensor) -> torch.Tensor:
        return F.normalize(outputs.float(), dim=1)

    # --------------------------------------------------------------------------------------------- training
    def training_step(self, batch, batch_idx):
        images, targets = batch
        embeddings = self(images)
        if self.distill:  # targets are indices into the teacher's embeddings: no label is read
            wanted = self.batch_targets(images, targets)
            loss = (embeddings - wanted).pow(2).sum(1).mean()
        else:
            mined = self.mine(embeddings, targets) if self.mine is not None else None
            loss = self.loss_fn(embeddings, targets, mined)
            if mined is not None and len(mined) == 3:
                self.log("train/mined_triplets", float(len(mined[0])), batch_size=len(images))
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        return loss

    # --------------------------------------------------------------------------------------- evaluation
    def _collect(self, batch) -> None:
        images, index = batch  # evaluation samples carry their index in the split
        self._collected.append((index.detach(), self(images).detach()))

    def _embeddings(self, size: int) -> torch.Tensor:
        """The split's embeddings [size, D] in dataset order, from every device."""
        index = torch.cat([i for i, _ in self._collected])
        embeddings = torch.cat([e for _, e in self._collected])
        self._collected = []
        if self.trainer.world_size > 1:
            index, embeddings = self.all_gather(index).flatten(0, 1), self.all_gather(embeddings).flatten(0, 1)
        found = torch.zeros(size, embeddings.shape[1])
        found[index.cpu()] = embeddings.float().cpu()
        return found

    def _evaluate(self, stage: str) -> None:
        dm = self.trainer.datamodule
        identities = dm.identities(stage)
        found = verification_metrics(self._embeddings(len(identities)), identities, dm.pairs(stage), self.fars)
        self.found[stage] = found
        for far in self.fars:
            val = found["all_pairs"][f"{far:g}"]["val"]
            if val is None and stage == "test":  # not resolvable: reported as such, never as a number
                continue
            self.log(f"{stage}/val_at_far_{far:g}", math.nan if val is None else val, prog_bar=far == self.fars[0])
        self.log(f"{stage}/roc_auc", found["all_pairs"]["roc_auc"])
        if "lfw" in found:
            self.log(f"{stage}/accuracy", found["lfw"]["accuracy"], prog_bar=True)
            self.log(f"{stage}/accuracy_se", found["lfw"]["accuracy_se"])
            if found["lfw"]["val"] is not None:
                self.log(f"{stage}/lfw_val_at_far_{self.fars[0]:g}", found["lfw"]["val"])

    def on_validation_epoch_start(self) -> None:
        self._collected = []

    def validation_step(self, batch, batch_idx):
        self._collect(batch)

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._evaluate("val")
        self._collected = []

    def on_test_epoch_start(self) -> None:
        self._collected = []

    def test_step(self, batch, batch_idx):
        self._collect(batch)

    def on_test_epoch_end(self) -> None:
        self._evaluate("test")

    # ----------------------------------------------------------------------------------------------- report
    def report(self, results: dict[str, Any], latency_repeats: int) -> dict[str, Any]:
        """Teacher and student side by side (Table 14's columns with the LFW protocol's), and the ROC curves."""
        dm = self.trainer.datamodule
        student = self.found["test"]
        rows = {"student": summary(student)}
        curves = {f"student {results['backbone']} @ {results['image_size']}": student["roc"]}
        extra: dict[str, Any] = {}
        if self.teacher_spec:
            embeddings = self.teacher_targets_for("test", required=False)
            theirs = None if embeddings is None else verification_metrics(
                embeddings, dm.identities("test"), dm.pairs("test"), self.fars)
            teacher_row = self.teacher_row(None if theirs is None else summary(theirs), latency_repeats)
            if theirs is not None:
                rows["teacher"] = teacher_row["metrics"]
                name = f"teacher {teacher_row.get('backbone') or teacher_row['kind']} @ {teacher_row['image_size']}"
                curves[name] = theirs["roc"]
            extra["teacher"] = teacher_row
        extra["verification"] = rows
        plot = self.output_dir / "roc.png"
        plot_roc(curves, self.fars, plot)
        extra["plots"] = [str(plot)]
        print_tables(results, extra, self.fars)
        return extra


def summary(found: dict[str, Any]) -> dict[str, Any]:
    """results.json's form of verification_metrics: numbers and per-fold rows, no curves."""
    row: dict[str, Any] = {}
    if "lfw" in found:
        lfw = found["lfw"]
        row.update({"accuracy": lfw["accuracy"], "accuracy_se": lfw["accuracy_se"],
                    f"lfw_val_at_far_{lfw['far_target']:g}": lfw["val"], "lfw_val_se": lfw["val_se"],
                    "lfw_folds": lfw["folds"]})
    pairs = found["all_pairs"]
    for key, value in pairs.items():
        if isinstance(value, dict):
            row[f"val_at_far_{key}"] = value["val"]
            row[f"val_at_far_{key}_detail"] = value
    row.update({"roc_auc": pairs["roc_auc"], "all_pairs": {k: pairs[k] for k in ("pairs", "same", "different")}})
    return row


def print_tables(results: dict[str, Any], extra: dict[str, Any], fars: Sequence[float]) -> None:
    """Table 14's shape (model, VAL at each FAR over all pairs, mult-adds, params) with the LFW protocol's
    10-fold accuracy and CPU latency; a FAR below the pairs' resolution prints as "not resolvable"."""
    def cell(value, scale=100, digits=1, unit="%"):
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
            else f"{value * scale:.{digits}f}{unit}"
    student = extra["verification"]["student"]
    teacher = extra.get("teacher")
    model = f"{'student ' if teacher else ''}{results['backbone']} @ {results['image_size']}"
    rows = [(model, student, results["mult_adds"], results["params"], results["latency_ms"])]
    if teacher:
        rows.append((f"teacher {teacher.get('backbone') or teacher['kind']} @ {teacher.get('image_size') or '-'}",
                     teacher.get("metrics", {}), teacher.get("mult_adds"), teacher.get("params"),
                     teacher.get("latency_ms")))
    width = max(len(r[0]) for r in rows)
    far_heads = " | ".join(f"VAL@{f:g}" for f in fars)
    lines = [f"| {'Model':<{width}} | 10-fold accuracy | {far_heads} | M Mult-Adds | M Params | CPU ms (batch 1) |",
             f"|{'-' * (width + 2)}|---|" + "---|" * len(fars) + "---|---|---|"]
    for name, metrics, mult_adds, params, latency in rows:
        accuracy = "n/a" if metrics.get("accuracy") is None else \
            f"{100 * metrics['accuracy']:.1f}% ± {100 * metrics['accuracy_se']:.1f}"
        vals = []
        for far in fars:
            detail = metrics.get(f"val_at_far_{far:g}_detail")
            vals.append("n/a" if detail is None else "not resolvable" if detail["val"] is None else cell(detail["val"]))
        lines.append(f"| {name:<{width}} | {accuracy} | {' | '.join(vals)} | {cell(mult_adds, 1e-6, 1, '')} | "
                     f"{cell(params, 1e-6, 2, '')} | {cell(latency, 1, 2, '')} |")
    pairs = student["all_pairs"]
    lines.append(f"VAL@FAR over all {pairs['pairs']} pairs of the test people ({pairs['different']} different: "
                 f"resolution {1 / max(pairs['different'], 1):.1e}); 10-fold accuracy on the pairs file (mean ± "
                 f"standard error).")
    folds = student.get("lfw_folds")
    if folds:
        far = fars[0]
        resolvable = [f for f in folds if f["val"] is not None]
        lines.append(f"LFW protocol VAL@{far:g} (threshold from the other folds, resolution "
                     f"{folds[0]['val_threshold_resolution']:.1e}; applied to a fold of resolution "
                     f"{folds[0]['test_far_resolution']:.1e}): " +
                     (f"{cell(student[f'lfw_val_at_far_{far:g}'])} ± {cell(student['lfw_val_se'])}"
                      if len(resolvable) == len(folds) else "not resolvable"))
    print("\n".join(lines), flush=True)


def plot_roc(curves: dict[str, tuple[np.ndarray, np.ndarray]], fars: Sequence[float], path: Path) -> None:
    """VAL against FAR (log x) for each model, the reported FARs marked."""
    fig, ax = subplots(figsize=(5.5, 4.0))
    for name, (far, val) in curves.items():
        keep = far > 0
        ax.plot(far[keep], val[keep], label=name)
    for far in fars:
        ax.axvline(far, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("false accept rate (all pairs of the test people)")
    ax.set_ylabel("validation rate (true accepts)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=120)
