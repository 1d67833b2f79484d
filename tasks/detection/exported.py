"""A torchvision detector as exported networks: what goes into the exported files, and the detector's own
transform, anchors, decoding and NMS run in torch around the sessions that run them (DetectionTask's deployment
hooks).

- SSD: one network, backbone + extra layers + heads on the transformed batch -> (box regression [B, A, 4], class
  logits [B, A, K+1]).
- Faster R-CNN: two networks, backbone (+ FPN) + RPN head -> (feature maps..., objectness per level..., box
  deltas per level...), and the box head + predictor on RoIAlign's crops -> (class logits, box regression);
  proposals, RoIAlign and the detection post-processing stay in torch between them.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import torch
from torchvision.models.detection.rpn import concat_box_prediction_layers

Session = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]


class SSDNetwork(torch.nn.Module):
    """The exported part of a torchvision SSD, on images already resized and normalised by its transform."""

    def __init__(self, ssd: torch.nn.Module):
        super().__init__()
        self.backbone, self.head = ssd.backbone, ssd.head

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.backbone(images)
        features = list(features.values()) if isinstance(features, dict) else [features]
        out = self.head(features)
        return out["bbox_regression"], out["cls_logits"]


class SSDWithSession:
    """Stands in for an SSD DetectionTask's forward: torchvision's SSD transform, anchors and post-processing
    (box decoding, score threshold, NMS) around the exported network."""

    def __init__(self, ssd: torch.nn.Module, network: Session):
        self.ssd, self.network = ssd.eval(), network
        self.feature_shapes: list[torch.Size] | None = None

    def __call__(self, images, targets=None):
        images = list(images) if isinstance(images, torch.Tensor) else images
        original = [tuple(img.shape[-2:]) for img in images]
        with torch.inference_mode():
            batch, _ = self.ssd.transform(images)
            if self.feature_shapes is None:  # the maps' sizes, which the anchors depend on, from one torch pass
                self.feature_shapes = [f.shape for f in self.ssd.backbone(batch.tensors[:1]).values()]
            regression, logits = self.network(batch.tensors)[:2]
            features = [torch.empty(shape[1:]).expand(len(images), *shape[1:]) for shape in self.feature_shapes]
            anchors = self.ssd.anchor_generator(batch, features)
            detections = self.ssd.postprocess_detections({"bbox_regression": regression, "cls_logits": logits},
                                                         anchors, batch.image_sizes)
            return self.ssd.transform.postprocess(detections, batch.image_sizes, original)


class RCNNFeatures(torch.nn.Module):
    """Faster R-CNN's first exported network: backbone (+ FPN) and RPN head on the transformed batch."""

    def __init__(self, rcnn: torch.nn.Module):
        super().__init__()
        self.backbone, self.rpn_head = rcnn.backbone, rcnn.rpn.head

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps = list(self.backbone(images).values())
        objectness, deltas = self.rpn_head(maps)
        return (*maps, *objectness, *deltas)


class RCNNBoxHead(torch.nn.Module):
    """Faster R-CNN's second exported network: box head and predictor on RoIAlign's crops."""

    def __init__(self, rcnn: torch.nn.Module):
        super().__init__()
        self.box_head, self.predictor = rcnn.roi_heads.box_head, rcnn.roi_heads.box_predictor

    def forward(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.predictor(self.box_head(crops))


class RCNNWithSessions:
    """Stands in for a Faster R-CNN DetectionTask's forward: torchvision's transform, anchors, proposal decoding
    and NMS, RoIAlign and detection post-processing around the two exported networks."""

    def __init__(self, rcnn: torch.nn.Module, features: Session, box_head: Session):
        self.rcnn, self.features, self.head = rcnn.eval(), features, box_head
        with torch.inference_mode():
            self.names = list(rcnn.backbone(torch.zeros(1, 3, 64, 64)).keys())

    def __call__(self, images, targets=None):
        images = list(images) if isinstance(images, torch.Tensor) else images
        original = [tuple(img.shape[-2:]) for img in images]
        rpn, roi_heads, levels = self.rcnn.rpn, self.rcnn.roi_heads, len(self.names)
        with torch.inference_mode():
            batch, _ = self.rcnn.transform(images)
            outputs = self.features(batch.tensors)
            maps, objectness, deltas = outputs[:levels], list(outputs[levels:2 * levels]), list(outputs[2 * levels:])
            features = OrderedDict(zip(self.names, maps))
            anchors = rpn.anchor_generator(batch, list(maps))
            per_level = [o[0].numel() for o in objectness]
            objectness, deltas = concat_box_prediction_layers(objectness, deltas)
            proposals = rpn.box_coder.decode(deltas, anchors).view(len(anchors), -1, 4)
            boxes, _ = rpn.filter_proposals(proposals, objectness, batch.image_sizes, per_level)
            crops = roi_heads.box_roi_pool(features, boxes, batch.image_sizes)
            if len(crops):
                logits, regression = self.head(crops)[:2]
            else:
                logits = crops.new_zeros(0, roi_heads.box_predictor.cls_score.out_features)
                regression = crops.new_zeros(0, roi_heads.box_predictor.bbox_pred.out_features)
            found = roi_heads.postprocess_detections(logits, regression, boxes, batch.image_sizes)
            detections = [{"boxes": b, "scores": s, "labels": c} for b, s, c in zip(*found)]
            return self.rcnn.transform.postprocess(detections, batch.image_sizes, original)


def transformed_batch(detector: torch.nn.Module, images: list[torch.Tensor]) -> torch.Tensor:
    """Images in [0, 1] as the detector's first network takes them: resized and normalised by its transform, padded
    into one batch (under no_grad, not inference_mode: an exporter traces these tensors)."""
    with torch.no_grad():
        return detector.eval().transform(list(images))[0].tensors


def box_head_crops(rcnn: torch.nn.Module, images: list[torch.Tensor], per_image: int = 64) -> torch.Tensor:
    """RoIAlign's crops of Faster R-CNN's own proposals on `images` (`per_image` of each, evenly spaced over the
    score order): the box head's real input, to check and calibrate it."""
    crops = []
    hook = rcnn.roi_heads.box_roi_pool.register_forward_hook(lambda module, args, out: crops.append(out))
    try:
        with torch.no_grad():
            for image in images:
                rcnn.eval()([image])
    finally:
        hook.remove()
    picked = [c[torch.linspace(0, len(c) - 1, min(per_image, len(c))).long()] for c in crops if len(c)]
    return torch.cat(picked)
