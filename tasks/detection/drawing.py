"""Detections drawn at a size that reads: small images (COCO's are 640 px, the embedded default's ~100 px) are
upscaled so their shorter side is at least MIN_SIDE before boxes and labels are drawn, with a line width and a
font (matplotlib's DejaVu Sans) sized to the picture. Used for the run's `predictions/*.png` and predict.py's
annotated images."""
from __future__ import annotations

import os
from functools import lru_cache

import torch
from torch.nn import functional as F
from torchvision.utils import draw_bounding_boxes

MIN_SIDE = 512         # px: the shorter side a drawn image is upscaled to (never downscaled)
PREDICTED, TRUTH = "red", "lime"


@lru_cache(maxsize=1)
def label_font() -> str | None:
    """A TrueType font file (matplotlib's bundled DejaVu Sans), so label sizes can be chosen; None if missing."""
    try:
        import matplotlib
    except ImportError:
        return None
    path = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    return path if os.path.isfile(path) else None


def upscale(image: torch.Tensor, min_side: int = MIN_SIDE) -> tuple[torch.Tensor, float]:
    """A uint8 [3, H, W] image enlarged (bilinear) so its shorter side is at least `min_side`, and the factor."""
    side = min(image.shape[-2:])
    if side >= min_side or side == 0:
        return image, 1.0
    scale = min_side / side
    size = [round(image.shape[-2] * scale), round(image.shape[-1] * scale)]
    enlarged = F.interpolate(image[None].float(), size=size, mode="bilinear", align_corners=False)[0]
    return enlarged.round().clamp(0, 255).to(torch.uint8), scale


def draw_detections(image: torch.Tensor, boxes: torch.Tensor, labels: list[str] | None = None,
                    ground_truth: torch.Tensor | None = None, min_side: int = MIN_SIDE) -> torch.Tensor:
    """A uint8 [3, H', W'] picture: `image` (uint8 [3, H, W]) upscaled (see upscale), the ground-truth boxes in
    green, the predicted `boxes` (xyxy in the image's pixels) in red with their `labels`."""
    canvas, scale = upscale(image, min_side)
    side = min(canvas.shape[-2:])
    width = max(2, round(side / 200))
    font, font_size = label_font(), max(12, round(side / 32))
    if ground_truth is not None and len(ground_truth):
        canvas = draw_bounding_boxes(canvas, ground_truth.float() * scale, colors=TRUTH, width=max(1, width - 1))
    if len(boxes):
        canvas = draw_bounding_boxes(canvas, boxes.float() * scale, labels=labels, colors=PREDICTED, width=width,
                                     font=font, font_size=font_size if font else None, fill_labels=bool(labels),
                                     label_colors="white")
    return canvas
