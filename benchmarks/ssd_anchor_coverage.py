"""How well an SSD's anchors cover a COCO-format dataset's boxes: anchors per object with IoU >= 0.5 (SSD's positive
threshold), the share of objects with none (they only get their single best, low-quality anchor), and the median
best IoU. Why it matters: at small inputs the paper's layout (layers 11 + 13, strides 16 and 32) leaves most
objects without a positive anchor, and SSD then learns very slowly; `conf/task/ssd.yaml` adds the stride-8 tap.

    python benchmarks/ssd_anchor_coverage.py                       # embedded default, several layouts and sizes
    python benchmarks/ssd_anchor_coverage.py --root /data/coco --images 2000
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from pycocotools.coco import COCO
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import box_iou

from backbone import MobileNetV1
from data.coco import load_coco
from tasks.detection.models import build_ssd
from tasks.engine.cli import ArgumentParser
from tasks.engine.errors import guard

LAYOUTS = {  # name: build_ssd keyword arguments
    "paper (layer11+13, 4 extras, scales .2-.95)": dict(taps=None, extra_depths=(512, 256, 256, 128),
                                                       min_scale=0.2, max_scale=0.95),
    "paper anchors, scales .1-.9": dict(taps=None, extra_depths=(512, 256, 256, 128), min_scale=0.1, max_scale=0.9),
    "default (layer5+11+13, 3 extras, scales .1-.9, ratios 1, 2, 1/2)": dict(
        taps=(-3, -2, -1), extra_depths=(512, 256, 128), min_scale=0.1, max_scale=0.9, aspect_ratios=(2.0,)),
}


def model_anchors(model, size: int) -> torch.Tensor:
    """The anchors (xyxy pixels of a size x size input) of a torchvision SSD."""
    images = torch.zeros(1, 3, size, size)
    with torch.no_grad():
        features = list(model.eval().backbone(images).values())
    return model.anchor_generator(ImageList(images, [(size, size)]), features)[0]


def ssd_anchors(size: int, **options) -> torch.Tensor:
    """The anchors of build_ssd(MobileNetV1, **options)."""
    return model_anchors(build_ssd(MobileNetV1(width_mult=0.25), num_classes=2, size=size, **options), size)


def coverage(coco: COCO, size: int, anchors: torch.Tensor, max_images: int) -> dict[str, float]:
    """Boxes resized as the SSD transform resizes images (to size x size), matched against `anchors`."""
    positives, best = [], []
    for image_id in sorted(coco.imgs)[:max_images]:
        info = coco.imgs[image_id]
        anns = [a for a in coco.imgToAnns.get(image_id, []) if not a["iscrowd"]]
        if not anns:
            continue
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32)
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, 0::2] *= size / info["width"]
        boxes[:, 1::2] *= size / info["height"]
        iou = box_iou(boxes, anchors)
        positives += (iou >= 0.5).sum(1).tolist()
        best += iou.max(1).values.tolist()
    positives_t = torch.tensor(positives, dtype=torch.float32)
    return {"objects": len(positives), "anchors": len(anchors), "positives_per_object": positives_t.mean().item(),
            "share_without_positive": (positives_t == 0).float().mean().item(),
            "median_best_iou": torch.tensor(best).median().item()}


def main() -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="COCO-format dataset root (default: the embedded generated dataset)")
    parser.add_argument("--annotations", default="annotations/instances_train2017.json")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 160, 300])
    parser.add_argument("--images", type=int, default=400, help="images read (the first N by id)")
    args = parser.parse_args()
    if args.root is None:
        from data.generate.coco_shapes import ensure_coco_shapes
        root = ensure_coco_shapes()
    else:
        root = Path(args.root)
    coco = load_coco(root / args.annotations)
    print(f"{root / args.annotations}, first {args.images} images\n")
    print("| layout | input | anchors | positives / object | objects without a positive | median best IoU |")
    print("|---|---|---|---|---|---|")
    for name, options in LAYOUTS.items():
        for size in args.sizes:
            c = coverage(coco, size, ssd_anchors(size, **options), args.images)
            print(f"| {name} | {size} | {c['anchors']} | {c['positives_per_object']:.2f} | "
                  f"{100 * c['share_without_positive']:.0f} % | {c['median_best_iou']:.2f} |")
    print(f"\ncommand: python benchmarks/ssd_anchor_coverage.py {' '.join(sys.argv[1:])}".rstrip())


if __name__ == "__main__":
    guard("ssd_anchor_coverage", main)
