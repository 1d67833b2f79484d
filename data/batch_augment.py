"""Augmentation of whole uint8 batches with per-sample random parameters, on whatever device the batch is on.

The decoded cache (data.decoded) hands the training step uint8 batches; the data modules run these in
`on_after_batch_transfer`, so the work happens in the main process on the CPU (a few ms per batch, no worker
processes competing with the step for the cores) and on the GPU when training there.

Classification reproduces data.transforms' training pipeline (torchvision's RandomResizedCrop, horizontal flip,
ColorJitter, Normalize) with the same parameter distributions, drawn per sample on the CPU from the data module's
generator (`augment_generator`: seeded by `seed` and the DDP rank, so ranks draw differently, as the streaming
pipeline's workers do). Two differences, both small:
- the crop is resampled bilinearly with `grid_sample` (no antialiasing); the cache keeps training images with their
  shorter side at most 8/7 of the model's input (data.classification), so a crop is shrunk by at most 8/7 along
  the shorter side (more along the longer side of a wide image, as the crop squeezes it to a square);
- the colour jitter is applied as one per-sample 3x3 colour matrix (brightness, contrast and saturation are linear
  maps that commute), clamped once at the end, where torchvision clamps after each of the three in a random
  order: results differ only where an intermediate value left [0, 1].

Detection flips images and their boxes together (torchvision's RandomHorizontalFlip on BoundingBoxes).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
from torch.nn import functional as F
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

GRAY = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights


class UInt8Batch(NamedTuple):
    """A training batch as the decoded cache serves it, before augmentation: `images` uint8 [B, 3, H, W] (padded
    to the batch's largest image), `sizes` [B, 2] each image's true height and width, `targets` the labels
    (classification) or target dicts (detection). The data module's `on_after_batch_transfer` augments it."""
    images: torch.Tensor
    sizes: torch.Tensor
    targets: Any
    ids: torch.Tensor | None = None  # [B] the samples' ids (sharded data): its random draws derive from them


def counter_seed(*counters: int) -> int:
    """A seed derived from counters alone (seed, epoch, rank, sample ids, ...): the same in any process and after
    any resume, and unrelated for neighbouring counters."""
    return int(np.random.SeedSequence([int(c) for c in counters]).generate_state(1)[0])


def batch_generator(seed: int, epoch: int, ids: torch.Tensor) -> torch.Generator:
    """The generator of one batch's augmentation, derived from counters alone (seed, epoch, the batch's sample ids):
    the same batch gets the same draws in any process, after any resume, with any number of workers."""
    return torch.Generator().manual_seed(counter_seed(seed, epoch, *ids.tolist()))


def augment_generator(seed: int, rank: int = 0) -> torch.Generator:
    """The CPU generator a data module draws its batch augmentation from: its own stream per (seed, DDP rank)."""
    return torch.Generator().manual_seed(counter_seed(seed, rank))


def random_resized_crop_boxes(sizes: torch.Tensor, scale: tuple[float, float] = (0.08, 1.0),
                              ratio: tuple[float, float] = (3 / 4, 4 / 3), trials: int = 10,
                              generator: torch.Generator | None = None) -> torch.Tensor:
    """torchvision's RandomResizedCrop.get_params for a batch: [B, 4] crops (left, top, width, height) in pixels
    of images of [B, 2] (height, width) sizes: the first of `trials` area/aspect draws that fits, else the
    central crop clamped to `ratio`."""
    heights, widths = sizes[:, :1].double(), sizes[:, 1:].double()
    count = len(sizes)
    area = heights * widths
    target = area * torch.empty(count, trials, dtype=torch.float64).uniform_(*scale, generator=generator)
    log_ratio = torch.empty(count, trials, dtype=torch.float64).uniform_(math.log(ratio[0]), math.log(ratio[1]),
                                                                        generator=generator)
    aspect = torch.exp(log_ratio)
    w = torch.round(torch.sqrt(target * aspect))
    h = torch.round(torch.sqrt(target / aspect))
    fits = (w > 0) & (h > 0) & (w <= widths) & (h <= heights)
    first = torch.where(fits.any(1), fits.int().argmax(1), 0)
    w, h = w.gather(1, first[:, None]), h.gather(1, first[:, None])
    found = fits.any(1, keepdim=True)
    top = torch.floor(torch.rand(count, 1, dtype=torch.float64, generator=generator) * (heights - h + 1))
    left = torch.floor(torch.rand(count, 1, dtype=torch.float64, generator=generator) * (widths - w + 1))
    # fallback: whole image, cut to the nearest allowed aspect ratio
    in_ratio = widths / heights
    fw = torch.where(in_ratio < ratio[0], widths, torch.where(in_ratio > ratio[1], torch.round(heights * ratio[1]),
                                                              widths))
    fh = torch.where(in_ratio < ratio[0], torch.round(widths / ratio[0]), heights)
    w, h = torch.where(found, w, fw), torch.where(found, h, fh)
    top = torch.where(found, top, torch.div(heights - h, 2, rounding_mode="floor"))
    left = torch.where(found, left, torch.div(widths - w, 2, rounding_mode="floor"))
    return torch.cat([left, top, w, h], dim=1).float()


def crop_resize(images: torch.Tensor, crops: torch.Tensor, size: int, flip: torch.Tensor | None = None
                ) -> torch.Tensor:
    """Bilinear crop-and-resize of every image to size x size: `crops` [B, 4] (left, top, width, height) in
    pixels of the [B, C, H, W] float batch; `flip` [B] bool mirrors those outputs left-right (free: it is the
    sign of the sampling grid)."""
    count, _, height, width = images.shape
    left, top, w, h = crops.to(images.device, images.dtype).unbind(1)
    sign = 1 - 2 * flip.to(images.device, images.dtype) if flip is not None else torch.ones_like(w)
    # output pixel centres in [-1, 1] (align_corners=False), mapped onto the crop in the image's [-1, 1] frame:
    # the crop is axis-aligned, so the grid is an outer sum (affine_grid's batched matmul costs 2x the sampling)
    steps = (torch.arange(size, device=images.device, dtype=images.dtype) * 2 + 1) / size - 1
    grid_x = (sign * w / width)[:, None] * steps + ((2 * left + w) / width - 1)[:, None]
    grid_y = (h / height)[:, None] * steps + ((2 * top + h) / height - 1)[:, None]
    grid = torch.stack(torch.broadcast_tensors(grid_x[:, None, :], grid_y[:, :, None]), dim=-1)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


def jitter_factors(count: int, brightness: float, contrast: float, saturation: float,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    """torchvision ColorJitter's factors for `count` images: each uniform in [max(0, 1 - j), 1 + j]."""
    return tuple(torch.empty(count).uniform_(max(0.0, 1 - j), 1 + j, generator=generator)
                 for j in (brightness, contrast, saturation))


def color_jitter(images: torch.Tensor, brightness: float, contrast: float, saturation: float,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """torchvision ColorJitter(brightness, contrast, saturation) with per-image factors, applied by `adjust_colors`;
    `images` are [B, 3, H, W] floats in [0, 1]."""
    factors = jitter_factors(len(images), brightness, contrast, saturation, generator)
    return adjust_colors(images, *(f.to(images.device, images.dtype) for f in factors))


def adjust_colors(images: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor,
                  saturation: torch.Tensor) -> torch.Tensor:
    """torchvision's adjust_brightness, adjust_contrast and adjust_saturation with [B] per-image factors, as one
    colour matrix per image (see the module docstring), not clamped."""
    b, c, s = brightness, contrast, saturation
    gray = torch.tensor(GRAY, device=images.device, dtype=images.dtype)
    eye = torch.eye(3, device=images.device, dtype=images.dtype)
    # saturation(contrast(brightness(x))) = c b (s I + (1 - s) 1 g^T) x + (1 - c) b mean(g^T x)
    matrix = (c * b)[:, None, None] * (s[:, None, None] * eye + (1 - s)[:, None, None] * gray.expand(3, 3))
    mean_gray = images.mean(dim=(2, 3)) @ gray
    offset = ((1 - c) * b * mean_gray)[:, None, None].expand(len(images), 3, 1)
    return torch.baddbmm(offset, matrix, images.flatten(2)).view_as(images)


class ClassificationAugment:
    """uint8 [B, 3, H, W] batch (+ [B, 2] true sizes) -> normalised float [B, 3, size, size]: random resized crop,
    horizontal flip, colour jitter, normalisation (data.transforms' training pipeline, batched)."""

    def __init__(self, image_size: int, min_crop_scale: float = 0.35, color_jitter: float = 0.2,
                 mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225)):
        self.image_size, self.min_crop_scale, self.jitter = image_size, min_crop_scale, color_jitter
        self.mean, self.std = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)

    def skip(self, count: int, generator: torch.Generator) -> None:
        """Make the random draws of a batch of `count` images and nothing else: a resumed run fast-forwards its
        generator to where the uninterrupted run's stood."""
        random_resized_crop_boxes(torch.ones(count, 2), scale=(self.min_crop_scale, 1.0), generator=generator)
        torch.rand(count, generator=generator)
        if self.jitter > 0:
            jitter_factors(count, self.jitter, self.jitter, self.jitter, generator)

    def __call__(self, images: torch.Tensor, sizes: torch.Tensor,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        crops = random_resized_crop_boxes(sizes.cpu(), scale=(self.min_crop_scale, 1.0), generator=generator)
        flip = torch.rand(len(images), generator=generator) < 0.5
        out = crop_resize(images.float(), crops, self.image_size, flip).div_(255)
        if self.jitter > 0:
            out = color_jitter(out, self.jitter, self.jitter, self.jitter, generator)
        return out.clamp_(0, 1).sub_(self.mean.to(out.device)).div_(self.std.to(out.device))


def flip_detection_batch(images: torch.Tensor, targets: list[dict], p: float = 0.5,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, list]:
    """Mirror a random share `p` of a [B, C, H, W] batch left-right, with their XYXY pixel boxes."""
    flip = torch.rand(len(images), generator=generator) < p
    if not flip.any():
        return images, targets
    mask = flip.to(images.device)
    images = torch.where(mask[:, None, None, None], images.flip(-1), images)
    canvas = tuple(images.shape[-2:])
    flipped = [{**target, "boxes": TF.horizontal_flip_bounding_boxes(
        target["boxes"], format=tv_tensors.BoundingBoxFormat.XYXY, canvas_size=canvas)} if f else target
        for target, f in zip(targets, flip.tolist())]
    return images, flipped
