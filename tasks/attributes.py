"""Multi-label attribute classification, trained by distillation from a teacher (the paper's Table 12) or on labels.

Distillation (`distill=true`, the default of task=face_attributes): the student emulates the teacher's per-attribute
probabilities with sigmoid cross-entropy, over every training image and the unlabelled pool, and never reads a
label; its teacher comes from tasks.distill (any kind: a stage-1 run, a checkpoint, timm, ONNX, precomputed).
`distill=false` trains the same model on the labels (unknown labels, NaN, are left out): the baseline that shows
what distillation adds, and how the stage-1 teacher itself is trained.

Metrics on labelled splits: mean AP over attributes (attributes without a known positive in the split, e.g. a
CSV column left empty there, are left out: their AP is NaN, None in results.json), mean accuracy at 0.5 (over the
attributes with a known label) and, with a teacher, agreement: the student's mean AP against the teacher's
binarised outputs.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Sequence

import torch
import torchmetrics

from torch.nn import functional as F
from torchmetrics.functional.classification import binary_average_precision

from backbone import Backbone

from .core.heads import pooled_head
from .core.io import save_figure, subplots
from .core.module import TaskModule
from .distill import DistillingTask

log = logging.getLogger(__name__)


def per_attribute_ap(probabilities: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """AP of every attribute [A] over its known labels (labels: 1, 0, NaN unknown); NaN for one without a positive
    among them (none known at all included), so means leave it out."""
    probabilities, labels = probabilities.float().cpu(), labels.float().cpu()
    ap = torch.full((labels.shape[1],), float("nan"))
    for a in range(labels.shape[1]):
        known = ~torch.isnan(labels[:, a])
        target = labels[known, a].long()
        if (target == 1).any():
            ap[a] = binary_average_precision(probabilities[known, a], target)
    return ap


def per_attribute_accuracy(probabilities: torch.Tensor, labels: torch.Tensor,
                           threshold: float = 0.5) -> torch.Tensor:
    """Accuracy of every attribute [A] over its known labels, predicting positive above `threshold` (as
    torchmetrics); NaN for one without a known label."""
    probabilities, labels = probabilities.float().cpu(), labels.float().cpu()
    known = ~torch.isnan(labels)
    correct = ((probabilities > threshold).float() == labels) & known
    return correct.sum(0) / known.sum(0)  # 0 / 0: NaN


class AttributeScores(torchmetrics.Metric):
    """A split's probabilities and labels (1, 0, NaN unknown), gathered over batches and DDP ranks; compute():
    (per-attribute AP, per-attribute accuracy), NaN where undefined (per_attribute_ap, per_attribute_accuracy)."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__()
        self.add_state("probabilities", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, probabilities: torch.Tensor, labels: torch.Tensor) -> None:
        self.probabilities.append(probabilities.detach().float())
        self.labels.append(labels.detach().float())

    def compute(self) -> tuple[torch.Tensor, torch.Tensor]:
        probabilities, labels = (torchmetrics.utilities.dim_zero_cat(x) for x in (self.probabilities, self.labels))
        return per_attribute_ap(probabilities, labels), per_attribute_accuracy(probabilities, labels)


def masked_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sigmoid cross-entropy over the known labels (NaN: unknown, left out); 0 for a batch with none known."""
    known = ~torch.isnan(labels)
    losses = F.binary_cross_entropy_with_logits(logits, torch.where(known, labels, 0.0), reduction="none")
    return (losses * known).sum() / known.sum().clamp(min=1)


def mean_over_known(values: torch.Tensor) -> float:
    finite = values[torch.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


class AttributeTask(DistillingTask, TaskModule):
    """Backbone -> global average pool -> dropout -> linear: one logit per attribute.

    Args:
        backbone: any suite backbone.
        num_classes: number of attributes (from the datamodule); class_names: their names.
        distill: train on the teacher's outputs (see module docstring) instead of the labels.
        teacher: the teacher spec, prepared by the runner from the `teacher` config (tasks.distill).
        temperature: distillation temperature T: targets sigmoid(z_t / T), loss on s / T, scaled by T^2.
        dropout: dropout before the classifier (the paper: the student needs no regularisation).
        optimizer, scheduler, channels_last: see tasks.core.module.TaskModule.
    """

    def __init__(self, backbone: Backbone, num_classes: int, class_names: Sequence[str] | None = None,
                 distill: bool = False, teacher: dict[str, Any] | None = None, temperature: float = 1.0,
                 dropout: float = 0.0, optimizer: dict[str, Any] | None = None,
                 scheduler: dict[str, Any] | None = None, channels_last: bool = True):
        super().__init__(backbone, optimizer, scheduler, channels_last)
        if num_classes < 1:
            raise ValueError(f"num_classes (attributes) must be >= 1, got {num_classes}")
        if distill and not teacher:
            raise ValueError("model.distill=true needs a teacher (teacher=train, checkpoint, timm, onnx or outputs)")
        if temperature <= 0:
            raise ValueError(f"model.temperature must be > 0, got {temperature}")
        self.save_hyperparameters(ignore=["backbone"])
        self.num_classes, self.distill, self.temperature = num_classes, distill, temperature
        self.class_names = list(class_names) if class_names else [f"attribute_{i}" for i in range(num_classes)]
        self.init_teacher(teacher)
        self.head = pooled_head(backbone.num_features, num_classes, dropout)
        self.val_scores, self.test_scores = AttributeScores(), AttributeScores()
        self.test_agreement = AttributeScores()  # the student's probabilities against the teacher's binarised ones
        self.teacher_test: torch.Tensor | None = None     # [N, A] probabilities for images("test")
        self.test_per_attribute: torch.Tensor | None = None
        self._test_seen = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Attribute logits (B, A)."""
        return self.head(next(reversed(self.backbone(images).values())))

    def describe(self, outputs: torch.Tensor, top_k: int = 5, threshold: float = 0.5) -> list[dict[str, Any]]:
        """Every attribute's probability, and the attributes at or above `threshold`."""
        return [{"attributes": {n: round(p, 6) for n, p in zip(self.class_names, row.tolist())},
                 "positive": [n for n, p in zip(self.class_names, row.tolist()) if p >= threshold]}
                for row in torch.sigmoid(outputs.float())]

    # ---------------------------------------------------------------------------------------------- teacher
    def teacher_size(self) -> int:
        return self.num_classes

    def teacher_names(self) -> Sequence[str]:
        return self.class_names

    def teacher_need(self) -> str:
        return f"data with {self.num_classes} attributes"

    def targets_from(self, outputs: torch.Tensor) -> torch.Tensor:
        """Soft targets at the temperature from the teacher's logits (or probabilities, `teacher.outputs`)."""
        if self.teacher_spec.get("outputs", "logits") == "probabilities":
            if outputs.min() < 0 or outputs.max() > 1:
                raise ValueError(f"teacher {self.teacher_spec.get('path')}: teacher.outputs=probabilities but the "
                                 f"values span [{float(outputs.min()):.3g}, {float(outputs.max()):.3g}]")
            outputs = torch.logit(outputs.clamp(1e-6, 1 - 1e-6))
        return torch.sigmoid(outputs / self.temperature)

    # --------------------------------------------------------------------------------------------- training
    def training_step(self, batch, batch_idx):
        images, targets = batch
        logits = self(images)
        if self.distill:  # targets are indices into the teacher's outputs: no label is read
            soft = self.batch_targets(images, targets)
            t = self.temperature
            loss = F.binary_cross_entropy_with_logits(logits / t, soft) * t * t
        else:
            loss = masked_bce(logits, targets)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        return loss

    def _evaluate(self, batch, stage: str) -> torch.Tensor:
        images, labels = batch
        logits = self(images)
        probabilities = torch.sigmoid(logits)
        getattr(self, f"{stage}_scores").update(probabilities, labels)
        self.log(f"{stage}/loss", masked_bce(logits, labels), batch_size=len(images), sync_dist=True)
        return probabilities

    def _log_epoch(self, stage: str) -> torch.Tensor:
        scores = getattr(self, f"{stage}_scores")
        ap, accuracy = scores.compute()  # synced across DDP ranks; NaN: an attribute left out (no known positive)
        scores.reset()
        self.log(f"{stage}/mean_ap", mean_over_known(ap), prog_bar=stage == "val")
        self.log(f"{stage}/mean_accuracy", mean_over_known(accuracy))
        return ap

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    # ------------------------------------------------------------------------------------------------- test
    def on_test_epoch_start(self) -> None:
        self._test_seen = 0
        if self.teacher_spec and self.teacher_test is None:
            if self.trainer.world_size == 1:
                self.teacher_test = self.teacher_targets_for("test", required=False)
            else:
                log.warning("agreement with the teacher is measured on one device only: skipped")

    def test_step(self, batch, batch_idx):
        probabilities = self._evaluate(batch, "test")
        if self.teacher_test is not None:  # one device, sequential order: this batch's rows of images("test")
            start, self._test_seen = self._test_seen, self._test_seen + len(probabilities)
            teacher = self.teacher_test[start:self._test_seen].to(probabilities.device)
            self.test_agreement.update(probabilities, (teacher > 0.5).float())

    def on_test_epoch_end(self) -> None:
        self.test_per_attribute = self._log_epoch("test").cpu()
        if self.teacher_test is not None:
            agreement, _ = self.test_agreement.compute()  # NaN: an attribute the teacher never calls positive
            self.log("test/agreement_ap", mean_over_known(agreement))
            self.test_agreement.reset()

    # ----------------------------------------------------------------------------------------------- report
    def report(self, results: dict[str, Any], latency_repeats: int) -> dict[str, Any]:
        """Teacher vs student (Table 12's columns), per-attribute AP with prevalence, and a bar plot."""
        dm = self.trainer.datamodule
        labels = torch.from_numpy(dm.labels("test"))
        prevalence = torch.nanmean(labels, 0)
        student_ap = self.test_per_attribute
        extra: dict[str, Any] = {"prevalence_baseline_mean_ap": mean_over_known(
            torch.where(torch.isfinite(student_ap), prevalence, float("nan")))}
        teacher_ap = None
        if self.teacher_spec:
            metrics = None
            if self.teacher_test is not None:
                teacher_ap = per_attribute_ap(self.teacher_test, labels)
                accuracy = per_attribute_accuracy(self.teacher_test, labels)
                metrics = {"mean_ap": mean_over_known(teacher_ap), "mean_accuracy": mean_over_known(accuracy)}
            teacher_row = self.teacher_row(metrics, latency_repeats)
            extra["teacher"] = teacher_row
        extra["per_attribute"] = {
            name: {"prevalence": _number(prevalence[i]), "ap": _number(student_ap[i]),
                   **({"teacher_ap": _number(teacher_ap[i])} if teacher_ap is not None else {})}
            for i, name in enumerate(self.class_names)}
        plot = self.output_dir / "per_attribute_ap.png"
        plot_per_attribute(self.class_names, prevalence, student_ap, teacher_ap, plot)
        extra["plots"] = [str(plot)]
        print_tables(results, extra)
        return extra


def _number(value: torch.Tensor) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(value, 6)


def print_tables(results: dict[str, Any], extra: dict[str, Any]) -> None:
    """Table 12's shape (model, mean AP, mult-adds, params; with CPU latency) and the per-attribute APs."""
    def cell(value, scale, digits, unit=""):
        return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
            else f"{value * scale:.{digits}f}{unit}"
    teacher = extra.get("teacher")
    model = f"{'student ' if teacher else ''}{results['backbone']} @ {results['image_size']}"
    rows = [(model, results.get("metrics", {}).get("mean_ap"), results["mult_adds"], results["params"],
             results["latency_ms"])]
    if teacher:
        name = f"teacher {teacher.get('backbone') or teacher['kind']} @ {teacher.get('image_size') or '-'}"
        rows.append((name, teacher.get("metrics", {}).get("mean_ap"), teacher.get("mult_adds"),
                     teacher.get("params"), teacher.get("latency_ms")))
    rows.append(("constant score (prevalence)", extra["prevalence_baseline_mean_ap"], None, None, None))
    width = max(len(r[0]) for r in rows)
    lines = [f"| {'Model':<{width}} | Mean AP | M Mult-Adds | M Params | CPU ms (batch 1) |",
             f"|{'-' * (width + 2)}|---|---|---|---|"]
    for name, ap, mult_adds, params, latency in rows:
        lines.append(f"| {name:<{width}} | {cell(ap, 100, 1, '%')} | {cell(mult_adds, 1e-6, 1)} | "
                     f"{cell(params, 1e-6, 2)} | {cell(latency, 1, 2)} |")
    per = extra["per_attribute"]
    name_width = max(len(n) for n in per)
    lines += ["", f"| {'Attribute':<{name_width}} | prevalence | student AP | teacher AP |",
              f"|{'-' * (name_width + 2)}|---|---|---|"]
    for name, row in per.items():
        cells = [row["prevalence"], row["ap"], row.get("teacher_ap")]
        lines.append(f"| {name:<{name_width}} | " + " | ".join(cell(c, 1, 3) for c in cells) + " |")
    print("\n".join(lines), flush=True)


def plot_per_attribute(names: Sequence[str], prevalence: torch.Tensor, student: torch.Tensor,
                       teacher: torch.Tensor | None, path: Path) -> None:
    """Grouped bars of per-attribute AP (student, teacher) with the prevalence (a constant score's AP) marked."""
    x = torch.arange(len(names)).float()
    width = 0.4 if teacher is not None else 0.7
    fig, ax = subplots(figsize=(max(6.0, 0.45 * len(names)), 4.0))
    ax.bar(x - (width / 2 if teacher is not None else 0), student.nan_to_num(0), width, label="student")
    if teacher is not None:
        ax.bar(x + width / 2, teacher.nan_to_num(0), width, label="teacher")
    ax.scatter(x, prevalence, color="black", marker="_", s=200, zorder=3, label="prevalence (constant score)")
    ax.set_xticks(x.tolist(), list(names), rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("average precision")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=120)
