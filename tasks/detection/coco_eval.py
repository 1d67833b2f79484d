"""COCO evaluation with pycocotools: torchvision detections as COCO results, and COCOeval's bbox metrics (also
used by the tests to re-score a saved results json).

Metrics, with the same keys every time: AP (mAP@[.5:.95]), AP50, AP75, AP_small, AP_medium, AP_large, AR1, AR10,
AR100: COCOeval's `stats[0:9]`. Like pycocotools, a size class with no ground-truth box in the evaluated images
scores -1, not 0.
"""
from __future__ import annotations

import contextlib
import io
from typing import Any, Iterable

import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

METRICS = ("AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large", "AR1", "AR10", "AR100")



def to_coco_results(image_id: int, detection: dict[str, torch.Tensor], to_category) -> list[dict[str, Any]]:
    """One image's torchvision detections (xyxy pixels, labels 1..K) as COCO result entries (xywh, category id)."""
    boxes = detection["boxes"].detach().cpu().double()
    if len(boxes) == 0:
        return []
    xywh = torch.cat([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], dim=1).tolist()
    categories = list(to_category(detection["labels"].detach().cpu().tolist()))
    scores = detection["scores"].detach().cpu().tolist()
    return [{"image_id": int(image_id), "category_id": int(c), "bbox": [round(v, 2) for v in box],
             "score": round(float(s), 5)} for box, c, s in zip(xywh, categories, scores)]


def load_results(coco_gt: COCO, results: list[dict[str, Any]]) -> COCO:
    """`coco_gt.loadRes(results)`, also for an empty list (which pycocotools cannot load): no detections at all."""
    if results:
        with contextlib.redirect_stdout(io.StringIO()):  # loadRes prints progress
            return coco_gt.loadRes([dict(r) for r in results])  # it adds keys to the dicts it is given
    empty = COCO()
    empty.dataset = {"images": list(coco_gt.dataset["images"]), "categories": list(coco_gt.dataset["categories"]),
                     "annotations": []}
    with contextlib.redirect_stdout(io.StringIO()):
        empty.createIndex()
    return empty


def run_cocoeval(coco_gt: COCO, results: list[dict[str, Any]],
                 image_ids: Iterable[int] | None = None) -> tuple[COCOeval, str]:
    """pycocotools' bbox evaluation of `results` on `image_ids` (default: every GT image), evaluated, accumulated
    and summarized without printing: (the COCOeval, the summary it would have printed)."""
    evaluator = COCOeval(coco_gt, load_results(coco_gt, results), "bbox")
    if image_ids is not None:
        evaluator.params.imgIds = sorted(int(i) for i in image_ids)
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator, printed.getvalue()


def coco_evaluate(coco_gt: COCO, results: list[dict[str, Any]],
                  image_ids: Iterable[int] | None = None) -> tuple[dict[str, float], str]:
    """pycocotools' bbox evaluation of `results` on `image_ids` (default: every GT image).

    Returns the METRICS (COCOeval.stats[0:9]) and COCOeval's summary (not printed).
    """
    evaluator, summary = run_cocoeval(coco_gt, results, image_ids)
    return summary_metrics(evaluator), summary


def summary_metrics(evaluator: COCOeval) -> dict[str, float]:
    """The METRICS of a summarized COCOeval (its stats[0:9])."""
    return dict(zip(METRICS, (float(v) for v in evaluator.stats[:len(METRICS)])))


def per_category_ap(evaluator: COCOeval) -> dict[int, dict[str, Any]]:
    """{category id: {"AP": AP@[.5:.95] over all areas at 100 detections per image (None for a category without
    a ground-truth box in the evaluated images), "AP50": the same at IoU 0.5, "instances": its ground-truth boxes
    (crowd boxes, which COCO ignores, not counted)}} from an accumulated COCOeval's precision array [IoU, recall,
    category, area, max detections], as COCOeval's own summary averages it over all categories (-1 cells, where
    a category has no ground truth, are left out)."""
    params = evaluator.params
    precision = evaluator.eval["precision"]
    area = list(params.areaRngLbl).index("all")
    max_dets = len(params.maxDets) - 1  # the largest, 100
    iou50 = [i for i, t in enumerate(params.iouThrs) if abs(t - 0.5) < 1e-9]
    image_ids = set(params.imgIds)
    found = {}
    for k, category in enumerate(params.catIds):
        cells = precision[:, :, k, area, max_dets]
        at50 = cells[iou50[0]] if iou50 else cells[:0]
        annotations = evaluator.cocoGt.loadAnns(evaluator.cocoGt.getAnnIds(imgIds=list(image_ids), catIds=[category]))
        found[int(category)] = {
            "AP": _mean_valid(cells), "AP50": _mean_valid(at50),
            "instances": sum(1 for a in annotations if not a.get("iscrowd", 0))}
    return found


def _mean_valid(cells) -> float | None:
    valid = cells[cells > -1]
    return float(valid.mean()) if valid.size else None


def gather_detections(per_image: dict[int, list[dict[str, Any]]]) -> dict[int, list[dict[str, Any]]]:
    """Every rank's {image id: detections}, merged (a DistributedSampler's padded repeats count once)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()
            and torch.distributed.get_world_size() > 1):
        return per_image
    parts: list[dict | None] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(parts, per_image)
    merged: dict[int, list[dict[str, Any]]] = {}
    for part in parts:
        merged.update(part or {})
    return merged
