"""Detection transforms (torchvision.transforms.v2): boxes are `tv_tensors.BoundingBoxes`, so they follow every flip,
zoom-out, crop and resize of their image.

Output of every pipeline: a float32 image tensor [3, H, W] in [0, 1], not normalised (the torchvision detectors
normalise and resize inside the model, and map their predictions back to the size of the image they were given),
and the target dict with plain tensors ("boxes" float32 [N, 4] XYXY pixels, "labels" int64 [N]) plus whatever
else it held (image_id, orig_size), untouched.

Modes (`augment`):
    ssd   photometric distortion, zoom-out (canvas up to `zoom_out_max` x the image, filled with the ImageNet mean
          colour), SSD's IoU-constrained random crop, horizontal flip: torchvision's SSD reference recipe.
    flip  horizontal flip only (the Faster R-CNN recipe).
    none  no augmentation.
Boxes a crop cuts away (or leaves thinner than `min_box_size` px) are removed with their labels
(SanitizeBoundingBoxes). `train_size`, when given, resizes training images to train_size x train_size at the end
(the detectors resize anyway; doing it here only makes batches smaller). Evaluation never resizes.
"""
from __future__ import annotations

from typing import Any

import PIL.Image
import torch
from torchvision import tv_tensors
from torchvision.ops import box_iou
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

AUGMENTS = ("ssd", "flip", "none")
MEAN_FILL = (123, 117, 104)  # ImageNet mean in 0..255: zoom-out canvas, as torchvision's SSD reference


class IoUCropWithBoxes(v2.RandomIoUCrop):
    """torchvision's RandomIoUCrop with its crop search vectorised, and images without boxes left as they are.

    Why: the stock `make_params` tries up to `trials` candidate crops one at a time in Python (~12 ms per image,
    the largest share of CPU data loading here). This draws the `trials` candidates for the sampled IoU option at
    once and takes the first valid one: the same distribution (the first success of i.i.d. trials). The stock
    version only gives up on a box-less image after retrying every option (it needs a box centre in the crop)."""

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        boxes = next(x for x in flat_inputs if isinstance(x, tv_tensors.BoundingBoxes))  # check_inputs: present
        height, width = boxes.canvas_size  # that of the image (the transforms keep them in step)
        if boxes.numel() == 0:
            return {}
        xyxy = F.convert_bounding_box_format(boxes.as_subclass(torch.Tensor), boxes.format,
                                             tv_tensors.BoundingBoxFormat.XYXY).reshape(-1, 4).float()
        cx, cy = (xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2
        while True:
            min_iou = self.options[int(torch.randint(low=0, high=len(self.options), size=(1,)))]
            if min_iou >= 1.0:  # the "leave as is" option
                return {}
            scale = self.min_scale + (self.max_scale - self.min_scale) * torch.rand(self.trials, 2)
            new_w, new_h = (width * scale[:, 0]).long(), (height * scale[:, 1]).long()
            aspect = new_w / new_h.clamp(min=1)
            offset = torch.rand(self.trials, 2)
            left, top = ((width - new_w) * offset[:, 0]).long(), ((height - new_h) * offset[:, 1]).long()
            right, bottom = left + new_w, top + new_h
            within = ((left[:, None] < cx) & (cx < right[:, None]) & (top[:, None] < cy) & (cy < bottom[:, None]))
            ious = box_iou(xyxy, torch.stack([left, top, right, bottom], 1).float()).T.masked_fill(~within, -1.0)
            ok = ((self.min_aspect_ratio <= aspect) & (aspect <= self.max_aspect_ratio) & (new_w > 0) & (new_h > 0)
                  & within.any(1) & (ious.max(1).values >= min_iou))
            if ok.any():
                i = int(ok.nonzero()[0])
                return dict(top=int(top[i]), left=int(left[i]), height=int(new_h[i]), width=int(new_w[i]),
                            is_within_crop_area=within[i])


def detection_transforms(train: bool, augment: str = "ssd", zoom_out_max: float = 2.0,
                         train_size: int | None = None, min_box_size: float = 1.0) -> v2.Compose:
    """The pipeline for (PIL image, target with BoundingBoxes) pairs; see the module docstring."""
    if augment not in AUGMENTS:
        raise ValueError(f"data.augment must be one of {list(AUGMENTS)}, got {augment!r}")
    steps: list[v2.Transform] = []  # PIL until ToImage: PIL's single-threaded kernels are the fastest on CPU
    if train and augment == "ssd":
        steps += [v2.RandomPhotometricDistort(p=0.5),
                  v2.RandomZoomOut(fill={PIL.Image.Image: MEAN_FILL, tv_tensors.Image: MEAN_FILL, "others": 0},
                                   side_range=(1.0, zoom_out_max), p=0.5),
                  IoUCropWithBoxes()]
    if train and augment in ("ssd", "flip"):
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    if train and train_size:
        steps.append(v2.Resize((train_size, train_size), antialias=True))
    return v2.Compose([*steps, v2.ToImage(), v2.ToDtype(torch.float32, scale=True), *box_cleanup(min_box_size)])


def box_cleanup(min_box_size: float = 1.0) -> list[v2.Transform]:
    """The end of every pipeline: boxes clamped to the canvas, those thinner than `min_box_size` dropped with their
    labels, plain tensors out."""
    return [v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes(min_size=min_box_size), v2.ToPureTensor()]


def to_tv_target(target: dict, canvas_size: tuple[int, int]) -> dict:
    """A target whose "boxes" (XYXY pixels) are wrapped as BoundingBoxes of an image of `canvas_size` (h, w)."""
    return {**target, "boxes": tv_tensors.BoundingBoxes(target["boxes"], format="XYXY", canvas_size=canvas_size)}


def sanitize_target(target: dict, canvas_size: tuple[int, int], min_box_size: float = 1.0) -> dict:
    """`box_cleanup` of a target alone, on a (h, w) canvas (the decoded cache precomputes its targets so)."""
    return v2.Compose(box_cleanup(min_box_size))(to_tv_target(target, canvas_size))
