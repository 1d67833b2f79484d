"""Object detection (the paper's Table 13): SSD or Faster R-CNN on any backbone, scored with pycocotools.

The models are built in `tasks.detection.models`; this module trains them (the sum of torchvision's losses),
evaluates with the official COCO evaluator on the validation split (`tasks.detection.coco_eval`: metrics logged as
`val/<key>` and `test/<key>`), saves the test detections as a COCO results json (`<run dir>/detections_test.json`,
whose pycocotools evaluation gives exactly the logged `test/*` numbers), reports each category's AP
(results.json `per_class`) and draws a few validation images with their predictions (`<run dir>/predictions/*.png`,
upscaled to a readable size: tasks.detection.drawing). For deployment it exports the detector's networks and runs them
inside torchvision's transform, anchors and NMS (`tasks.detection.exported`).

The datamodule (data.coco.COCODataModule) provides the ground truth (`coco_gt("val")`), the mapping of the
contiguous labels 1..K back to COCO category ids (`to_coco_category`) and `class_names`.
"""
from __future__ import annotations

import inspect
import json
import logging
from functools import partial
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torchvision.io import write_png
from torchvision.transforms import v2

from backbone import Backbone

from ..core.io import write_text_atomic
from ..core.module import ExportedNetwork, TaskModule
from .coco_eval import gather_detections, per_category_ap, run_cocoeval, summary_metrics, to_coco_results
from .drawing import draw_detections
from .exported import (RCNNBoxHead, RCNNFeatures, RCNNWithSessions, SSDNetwork, SSDWithSession, box_head_crops,
                       transformed_batch)
from .models import BUILDERS

log = logging.getLogger(__name__)

DETECTIONS_FILE = "detections_test.json"
PREDICTIONS_DIR = "predictions"


class DetectionTask(TaskModule):
    """SSD or Faster R-CNN (torchvision) on a suite backbone, evaluated with pycocotools.

    Args:
        backbone: any suite backbone (SSD: its last two taps; Faster R-CNN: its stride-16 tap).
        num_classes: foreground categories K (from the datamodule); the detector gets K + 1 (background 0).
        class_names: the K category names (kept in checkpoints, so predictions can be named from the file alone).
        architecture: "ssd" or "faster_rcnn".
        detector: keyword arguments of `tasks.detection.models.build_ssd` / `build_faster_rcnn` (sizes, anchors, heads,
            post-processing).
        num_visualized: validation images drawn with their predictions at test end.
        visualize_score: smallest score drawn.
        optimizer, scheduler: see tasks.core.optim.
        channels_last: NHWC memory layout (see tasks.core.module.TaskModule).
    """

    def __init__(self, backbone: Backbone, num_classes: int, architecture: str = "ssd",
                 detector: dict[str, Any] | None = None, num_visualized: int = 6, visualize_score: float = 0.3,
                 optimizer: dict[str, Any] | None = None, scheduler: dict[str, Any] | None = None,
                 channels_last: bool = True, class_names: Sequence[str] | None = None):
        super().__init__(backbone, optimizer, scheduler, channels_last)
        if architecture not in BUILDERS:
            raise ValueError(f"model.architecture must be one of {sorted(BUILDERS)}, got '{architecture}'")
        if num_classes < 1:
            raise ValueError(f"num_classes (foreground categories) must be >= 1, got {num_classes}")
        self.save_hyperparameters(ignore=["backbone"])
        builder, options = BUILDERS[architecture], dict(detector or {})
        known = [p for p in inspect.signature(builder).parameters if p not in ("backbone", "num_classes")]
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ValueError(f"model.detector: unknown key(s) {unknown} for architecture '{architecture}'; "
                             f"valid keys: {known}")
        self.detector = builder(backbone, num_classes + 1, **options)
        self._freeze_unused_backbone()
        self.num_classes = num_classes
        self.class_names = list(class_names) if class_names else [str(i + 1) for i in range(num_classes)]
        self.num_visualized = num_visualized
        self.visualize_score = visualize_score
        self._detections: dict[str, dict[int, list[dict[str, Any]]]] = {"val": {}, "test": {}}
        self._examples: list[tuple[int, torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []
        self.test_per_class: dict[str, dict[str, Any]] | None = None  # the last test's per-category AP, by name

    def _freeze_unused_backbone(self) -> None:
        """Backbone layers the detector never runs (MobileNetV1's layer12-13 under an MLP box head) get no
        gradient: freeze them, so optimizers and DDP skip them (they still count in `params`)."""
        used = {id(p) for p in self.detector.parameters()}
        unused = [name for name, p in self.backbone.named_parameters() if id(p) not in used]
        if unused:
            for name, param in self.backbone.named_parameters():
                if id(param) not in used:
                    param.requires_grad_(False)
            blocks = sorted({".".join(n.split(".")[:2]) for n in unused})
            log.info("backbone parts unused by this detector, frozen: %s", blocks)

    def forward(self, images: torch.Tensor | list[torch.Tensor], targets: list[dict] | None = None):
        """Eval mode: detections per image ({boxes xyxy in input pixels, labels 1..K, scores}); train mode with
        targets: torchvision's loss dict. `images` is a batch tensor or a list of [3, H, W] tensors in [0, 1]."""
        if isinstance(images, torch.Tensor):
            images = list(images) if images.dim() == 4 else [images]
        return self.detector(images, targets)

    def describe(self, outputs: list[dict[str, torch.Tensor]], top_k: int = 5,
                 threshold: float = 0.5) -> list[dict[str, Any]]:
        """Detections scoring at least `threshold`: box (x0, y0, x1, y1 in the image's pixels), label name, score."""
        return [{"detections": [{"box": [round(v, 2) for v in box.tolist()], "label": self.class_names[int(c) - 1],
                                 "score": round(float(s), 6)}
                                for box, c, s in zip(out["boxes"], out["labels"], out["scores"]) if s >= threshold]}
                for out in outputs]

    # -- deployment hooks (tasks.core.module.TaskModule) -----------------------------------------------------------
    def inference_transform(self, data: Mapping[str, Any]) -> v2.Compose:
        """Pixels in [0, 1] at the image's own size: the detector resizes and normalises inside."""
        return v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])

    def collate(self, images: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Images of any sizes, as a list."""
        return list(images)

    def annotate(self, image: torch.Tensor, output: dict[str, torch.Tensor], record: dict[str, Any],
                 threshold: float = 0.5) -> torch.Tensor | None:
        """The detections at or above `threshold`, boxed and labelled in red; None when there are none."""
        if not record["detections"]:
            return None
        keep = output["scores"] >= threshold
        labels = [f"{d['label']} {d['score']:.2f}" for d in record["detections"]]
        return draw_detections((image.clamp(0, 1) * 255).to(torch.uint8), output["boxes"][keep], labels)

    def export_networks(self) -> list[ExportedNetwork]:
        """SSD: backbone, extra layers and heads. Faster R-CNN: backbone (+ FPN) and RPN head on images of any
        size, then the box head on RoIAlign's crops (a file of its own). Anchors, decoding and NMS stay in torch."""
        detector = self.detector.eval()
        batch = partial(transformed_batch, detector)
        if self.hparams.architecture == "ssd":
            return [ExportedNetwork("", SSDNetwork(detector).eval(), batch,
                                    output_names=("bbox_regression", "cls_logits"))]
        return [ExportedNetwork("", RCNNFeatures(detector).eval(), batch, output_names=(), dynamic_axes=(0, 2, 3)),
                ExportedNetwork("box_head", RCNNBoxHead(detector).eval(), partial(box_head_crops, detector),
                                input_name="crops", output_names=("class_logits", "box_regression"))]

    def use_exported(self, sessions) -> None:
        if self.hparams.architecture == "ssd":
            self.forward = SSDWithSession(self.detector, sessions[""])
        else:
            self.forward = RCNNWithSessions(self.detector, sessions[""], sessions["box_head"])

    # -- training -------------------------------------------------------------------------------------------------
    def training_step(self, batch, batch_idx):
        images, targets = batch
        losses = self(images, [{"boxes": t["boxes"], "labels": t["labels"]} for t in targets])
        loss = sum(losses.values())
        for name, value in losses.items():
            self.log(f"train/{name}", value, batch_size=len(images))
        self.log("train/loss", loss, prog_bar=True, batch_size=len(images))
        return loss

    # -- evaluation -----------------------------------------------------------------------------------------------
    def _datamodule(self):
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        missing = [a for a in ("coco_gt", "to_coco_category", "class_names") if not hasattr(dm, a)]
        if missing:
            raise RuntimeError(f"DetectionTask evaluates with the datamodule's COCO ground truth, but the trainer's "
                               f"datamodule ({type(dm).__name__}) lacks {missing}: use data=coco "
                               f"(data.coco.COCODataModule) or a datamodule with the same methods")
        return dm

    def _eval_step(self, batch, stage: str) -> None:
        images, targets = batch
        outputs = self(images)
        to_category = self._datamodule().to_coco_category
        for image, target, output in zip(images, targets, outputs):
            image_id = int(target["image_id"])
            self._detections[stage][image_id] = to_coco_results(image_id, output, to_category)
            if stage == "test" and len(self._examples) < self.num_visualized:
                self._examples.append((image_id, image.detach().cpu(),
                                       {k: v.detach().cpu() for k, v in output.items()},
                                       {"boxes": target["boxes"].detach().cpu()}))

    def validation_step(self, batch, batch_idx):
        self._eval_step(batch, "val")

    def test_step(self, batch, batch_idx):
        self._eval_step(batch, "test")

    def on_validation_epoch_start(self) -> None:
        self._detections["val"] = {}

    def on_test_epoch_start(self) -> None:
        self._detections["test"] = {}
        self._examples = []

    def _evaluate(self, stage: str) -> list[dict[str, Any]]:
        """COCOeval on every rank's detections (gathered, so all ranks log the same numbers); returns them."""
        per_image = gather_detections(self._detections[stage])
        self._detections[stage] = {}
        image_ids = sorted(per_image)
        results = [r for i in image_ids for r in per_image[i]]
        coco_gt = self._datamodule().coco_gt("val")
        evaluator, summary = run_cocoeval(coco_gt, results, image_ids)
        # pycocotools' printed summary holds the metrics logged below: kept for debugging only
        log.log(logging.INFO if stage == "test" else logging.DEBUG, "%s COCO bbox evaluation on %d images, %d "
                "detections", stage, len(image_ids), len(results))
        log.debug("COCOeval summary:\n%s", summary)
        for name, value in summary_metrics(evaluator).items():
            self.log(f"{stage}/{name}", value, prog_bar=name == "AP", sync_dist=False)  # identical on every rank
        if stage == "test":
            self.test_per_class = {coco_gt.cats[c]["name"]: row for c, row in per_category_ap(evaluator).items()}
        return results

    def on_validation_epoch_end(self) -> None:
        if not self.trainer.sanity_checking:
            self._evaluate("val")
        self._detections["val"] = {}

    def on_test_epoch_end(self) -> None:
        results = self._evaluate("test")
        if self.trainer.is_global_zero:
            out = self.output_dir
            out.mkdir(parents=True, exist_ok=True)
            write_text_atomic(out / DETECTIONS_FILE, json.dumps(results))
            self._draw_examples(out / PREDICTIONS_DIR)
        self._examples = []

    def _draw_examples(self, folder: Path) -> None:
        """PNGs of the first test images: predictions above `visualize_score` (red, label and score), GT (green)."""
        if not self._examples:
            return
        folder.mkdir(parents=True, exist_ok=True)
        names = list(self._datamodule().class_names)
        for image_id, image, output, target in self._examples:
            keep = output["scores"] > self.visualize_score
            labels = [f"{names[int(c) - 1] if 0 < int(c) <= len(names) else int(c)} {float(s):.2f}"
                      for c, s in zip(output["labels"][keep], output["scores"][keep])]
            canvas = draw_detections((image.clamp(0, 1) * 255).to(torch.uint8), output["boxes"][keep], labels,
                                     ground_truth=target["boxes"])
            write_png(canvas, str(folder / f"{image_id}.png"))

    # -- report ---------------------------------------------------------------------------------------------------
    def report(self, results: dict[str, Any], latency_repeats: int) -> dict[str, Any]:
        """Each category's COCO AP@[.5:.95] and AP50 on the test images, with its ground-truth boxes, by category
        name (None for a category without ground truth there)."""
        return {} if self.test_per_class is None else {"per_class": self.test_per_class}
