"""Classification augmentation with torchvision.transforms.v2.

The paper trains small models with fewer distortions than Inception training: here a RandomResizedCrop whose
smallest crop is limited by `min_crop_scale`, a horizontal flip and a mild colour jitter. Evaluation resizes and
centre-crops a fraction `eval_crop_fraction` of the image.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torchvision.transforms import v2


def classification_transforms(train: bool, image_size: int, min_crop_scale: float = 0.35,
                              eval_crop_fraction: float = 0.875, color_jitter: float = 0.2,
                              mean: Sequence[float] = (0.485, 0.456, 0.406),
                              std: Sequence[float] = (0.229, 0.224, 0.225)) -> v2.Compose:
    """PIL image -> normalised float tensor (3, image_size, image_size)."""
    if not 0 < min_crop_scale <= 1:
        raise ValueError(f"data.min_crop_scale must be in (0, 1], got {min_crop_scale}")
    if not 0 < eval_crop_fraction <= 1:
        raise ValueError(f"data.eval_crop_fraction must be in (0, 1], got {eval_crop_fraction}")
    if train:
        steps = [v2.RandomResizedCrop(image_size, scale=(min_crop_scale, 1.0), antialias=True),
                 v2.RandomHorizontalFlip()]
        if color_jitter > 0:
            steps.append(v2.ColorJitter(color_jitter, color_jitter, color_jitter))
    else:
        steps = eval_resize(image_size, eval_crop_fraction)
    return v2.Compose([v2.ToImage(), *steps, v2.ToDtype(torch.float32, scale=True),
                       v2.Normalize(mean=list(mean), std=list(std))])


def eval_resize(image_size: int, eval_crop_fraction: float = 0.875) -> list[v2.Transform]:
    """Evaluation's deterministic geometry: resize the shorter side to image_size / eval_crop_fraction, then
    centre-crop image_size (the decoded cache stores evaluation images after exactly these steps)."""
    return [v2.Resize(round(image_size / eval_crop_fraction), antialias=True), v2.CenterCrop(image_size)]
