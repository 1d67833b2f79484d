"""SSD and Faster R-CNN on any suite backbone, built from torchvision's detection machinery.

Wiring follows the MobileNet paper's detectors (Huang et al. 2017, arXiv:1611.10012, §3.6, and the TF Object
Detection API configs they come from):

- SSD: the last two taps of the backbone (MobileNetV1: layer11 at stride 16 and layer13 at stride 32) plus four
  extra layers of depth 512/256/256/128 (1x1 conv to half depth, then a stride-2 3x3 conv, BN + ReLU6); six anchor
  layers with scales 0.2 ... 0.95 and aspect ratios {1, 2, 1/2, 3, 1/3} (torchvision's DefaultBoxGenerator, which
  also adds the sqrt(s_k s_k+1) square box: 6 anchors per location); a 1x1 box predictor as the TF OD API
  (`head_kernel: 3` gives torchvision's SSDHead). `head: ssdlite` uses depthwise separable extra layers and
  torchvision's SSDLiteHead.
- Faster R-CNN: torchvision FasterRCNN on the stride-16 tap (layer11); 14x14 RoIAlign crops go through the
  backbone's remaining layers (MobileNetV1 layer12, stride 2, and layer13), are average pooled and classified
  (`box_head: layers`, the paper's detector), or torchvision's TwoMLPHead on 7x7 crops (`box_head: mlp`).
  `fpn: true` puts torchvision's FeaturePyramidNetwork on several taps (MLP head).

`num_classes` here is torchvision's: foreground classes + 1 (background at index 0).
"""
from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Sequence

import torch
from torch import nn
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.faster_rcnn import FasterRCNN, FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.detection.ssd import SSD, SSDHead, SSDScoringHead
from torchvision.models.detection.ssdlite import SSDLiteHead
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import Conv2dNormActivation

from backbone import Backbone

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SSD_HEADS = ("ssd", "ssdlite")
BOX_HEADS = ("layers", "mlp")
ALL_ANCHORS = 10 ** 9  # a pre-NMS top-n above any anchor count keeps them all


class TapBody(nn.Module):
    """The backbone up to the deepest of `taps` (Backbone.truncated), returning exactly those taps, with their
    channels and strides."""

    def __init__(self, backbone: Backbone, taps: Sequence[str | int]):
        super().__init__()
        infos = backbone.taps_in_order(taps)
        self.names = [f.name for f in infos]
        self.out_channels_list = [f.channels for f in infos]
        self.strides = [f.stride for f in infos]
        self.net = backbone.truncated(self.names)

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.net(images)


def _out_channels(module: nn.Module, in_channels: int) -> int:
    """Output channels of a conv stack: those of its last convolution."""
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1].out_channels if convs else in_channels


# ---------------------------------------------------------------------------------------------------------------
# SSD
# ---------------------------------------------------------------------------------------------------------------

def _extra_layer(in_ch: int, out_ch: int, depthwise: bool) -> nn.Sequential:
    """TF OD API extra feature layer: 1x1 conv to half depth, then a stride-2 3x3 conv (depthwise + 1x1 if lite)."""
    act, mid = nn.ReLU6, max(1, out_ch // 2)
    layers = [Conv2dNormActivation(in_ch, mid, kernel_size=1, activation_layer=act)]
    if depthwise:
        layers += [Conv2dNormActivation(mid, mid, kernel_size=3, stride=2, groups=mid, activation_layer=act),
                   Conv2dNormActivation(mid, out_ch, kernel_size=1, activation_layer=act)]
    else:
        layers.append(Conv2dNormActivation(mid, out_ch, kernel_size=3, stride=2, activation_layer=act))
    return nn.Sequential(*layers)


class SSDFeatures(nn.Module):
    """Backbone taps followed by extra stride-2 layers: the SSD feature pyramid (`out_channels` per map)."""

    def __init__(self, body: TapBody, extra_depths: Sequence[int], depthwise: bool):
        super().__init__()
        self.body = body
        extras, in_ch = [], body.out_channels_list[-1]
        for depth in extra_depths:
            extras.append(_extra_layer(in_ch, depth, depthwise))
            in_ch = depth
        self.extra = nn.ModuleList(extras)
        self.out_channels = [*body.out_channels_list, *extra_depths]

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = self.body(images)
        x = next(reversed(features.values()))
        for i, layer in enumerate(self.extra):
            x = layer(x)
            features[f"extra{i + 1}"] = x
        return features


class ConvSSDHead(nn.Module):
    """SSD box predictor with a k x k conv per map (k=1: the TF OD API's predictor; k=3: torchvision's SSDHead)."""

    def __init__(self, in_channels: Sequence[int], num_anchors: Sequence[int], num_classes: int, kernel_size: int):
        super().__init__()
        pad = kernel_size // 2

        def convs(per_anchor: int) -> nn.ModuleList:
            layers = nn.ModuleList(nn.Conv2d(c, a * per_anchor, kernel_size, padding=pad)
                                   for c, a in zip(in_channels, num_anchors))
            for conv in layers:
                nn.init.xavier_uniform_(conv.weight)
                nn.init.zeros_(conv.bias)
            return layers

        self.classification_head = SSDScoringHead(convs(num_classes), num_classes)
        self.regression_head = SSDScoringHead(convs(4), 4)

    def forward(self, x: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"bbox_regression": self.regression_head(x), "cls_logits": self.classification_head(x)}


def build_ssd(backbone: Backbone, num_classes: int, size: int | Sequence[int] = 300,
              taps: Sequence[str | int] | None = None, extra_depths: Sequence[int] = (512, 256, 256, 128),
              depth_multiplier: float | None = None, min_depth: int = 16, head: str = "ssd", head_kernel: int = 1,
              min_scale: float = 0.2, max_scale: float = 0.95, aspect_ratios: Sequence[float] = (2.0, 3.0),
              image_mean: Sequence[float] = IMAGENET_MEAN, image_std: Sequence[float] = IMAGENET_STD,
              score_thresh: float = 0.01, nms_thresh: float = 0.6, detections_per_img: int = 100,
              topk_candidates: int = 400, iou_thresh: float = 0.5, positive_fraction: float = 0.25) -> SSD:
    """torchvision SSD on `backbone` (see the module docstring for the wiring).

    Args:
        num_classes: torchvision's count, background included (COCO: 91).
        size: input side (or (h, w)); images are resized to it by the SSD transform.
        taps: backbone taps feeding the first anchor layers (default: the last two).
        extra_depths: depths of the extra layers after the deepest tap.
        depth_multiplier: scales `extra_depths` as the TF OD API does (max(d * m, min_depth)); default: the
            backbone's width multiplier (1.0 if it has none).
        head: "ssd" (conv predictor, full 3x3 convs in the extra layers) or "ssdlite" (depthwise separable extra
            layers and torchvision's SSDLiteHead).
        head_kernel: kernel of the "ssd" predictor: 1 (TF OD API, Table 13) or 3 (torchvision's SSDHead).
        min_scale, max_scale: anchor scales of the first and last anchor layer, linear in between.
        aspect_ratios: ratios besides 1 at every anchor layer (each adds r and 1/r).
        score_thresh, nms_thresh, detections_per_img, topk_candidates: inference post-processing.
        iou_thresh, positive_fraction: anchor matching and hard negative mining (3:1 at 0.25).
    """
    if head not in SSD_HEADS:
        raise ValueError(f"model.detector.head must be one of {SSD_HEADS}, got '{head}'")
    if head_kernel not in (1, 3):
        raise ValueError(f"model.detector.head_kernel must be 1 or 3, got {head_kernel}")
    if taps is None:
        if len(backbone.feature_info) < 2:
            raise ValueError(f"SSD reads the last two backbone taps; this backbone has "
                             f"{[f.name for f in backbone.feature_info]}: configure two or more taps")
        taps = [f.name for f in backbone.feature_info[-2:]]
    multiplier = backbone.width_multiplier if depth_multiplier is None else depth_multiplier
    depths = [max(int(d * multiplier), min_depth) for d in extra_depths]
    features = SSDFeatures(TapBody(backbone, taps), depths, depthwise=head == "ssdlite")
    num_maps = len(features.out_channels)
    anchors = DefaultBoxGenerator([list(aspect_ratios)] * num_maps, min_ratio=min_scale, max_ratio=max_scale)
    num_anchors = anchors.num_anchors_per_location()
    if head == "ssdlite":
        predictor = SSDLiteHead(features.out_channels, num_anchors, num_classes,
                                partial(nn.BatchNorm2d, eps=0.001, momentum=0.03))
    elif head_kernel == 3:
        predictor = SSDHead(features.out_channels, num_anchors, num_classes)
    else:
        predictor = ConvSSDHead(features.out_channels, num_anchors, num_classes, head_kernel)
    size = (size, size) if isinstance(size, int) else tuple(size)
    return SSD(features, anchors, size, num_classes, image_mean=list(image_mean), image_std=list(image_std),
               head=predictor, score_thresh=score_thresh, nms_thresh=nms_thresh,
               detections_per_img=detections_per_img, topk_candidates=topk_candidates, iou_thresh=iou_thresh,
               positive_fraction=positive_fraction)


# ---------------------------------------------------------------------------------------------------------------
# Faster R-CNN
# ---------------------------------------------------------------------------------------------------------------

class SingleMapBody(nn.Module):
    """One backbone tap as Faster R-CNN's feature map "0" (`out_channels` as FasterRCNN wants it)."""

    def __init__(self, body: TapBody):
        super().__init__()
        self.body = body
        self.out_channels = body.out_channels_list[-1]

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return OrderedDict(zip(["0"], self.body(images).values()))


class FPNBody(nn.Module):
    """torchvision's FeaturePyramidNetwork (+ max-pooled top level) on several backbone taps."""

    def __init__(self, body: TapBody, out_channels: int):
        super().__init__()
        self.body = body
        self.fpn = FeaturePyramidNetwork(body.out_channels_list, out_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = OrderedDict((str(i), f) for i, f in enumerate(self.body(images).values()))
        return self.fpn(features)


class LayersBoxHead(nn.Sequential):
    """The backbone's remaining layers on RoI crops, then global average pooling (Huang et al.'s MobileNet head)."""

    def __init__(self, tail: nn.Sequential):
        super().__init__(OrderedDict(tail=tail, pool=nn.AdaptiveAvgPool2d(1), flatten=nn.Flatten()))


def _stride16_tap(backbone: Backbone) -> str:
    candidates = [f.name for f in backbone.feature_info if f.stride == 16]
    if not candidates:
        raise ValueError(f"Faster R-CNN reads the stride-16 tap, and this backbone has none: its taps are "
                         f"{[(f.name, f.stride) for f in backbone.feature_info]}; set model.detector.feature_tap "
                         f"or add a stride-16 tap to backbone.taps")
    return candidates[-1]


def build_faster_rcnn(backbone: Backbone, num_classes: int, min_size: int | Sequence[int] = 600,
                      max_size: int | None = None, feature_tap: str | int | None = None, box_head: str = "layers",
                      roi_size: int | None = None, roi_sampling_ratio: int = 2, representation_size: int = 1024,
                      fpn: bool = False,
                      fpn_taps: Sequence[str | int] | None = None, fpn_channels: int = 256,
                      anchor_sizes: Sequence[float] = (64, 128, 256, 512),
                      aspect_ratios: Sequence[float] = (0.5, 1.0, 2.0),
                      image_mean: Sequence[float] = IMAGENET_MEAN, image_std: Sequence[float] = IMAGENET_STD,
                      rpn_pre_nms_top_n_train: int = 2000, rpn_post_nms_top_n_train: int = 2000,
                      rpn_pre_nms_top_n_test: int | None = None, rpn_post_nms_top_n_test: int = 300,
                      rpn_nms_thresh: float = 0.7, rpn_fg_iou_thresh: float = 0.7, rpn_bg_iou_thresh: float = 0.3,
                      rpn_batch_size_per_image: int = 256,
                      box_batch_size_per_image: int = 512, box_score_thresh: float = 0.05,
                      box_nms_thresh: float = 0.5, box_detections_per_img: int = 100) -> FasterRCNN:
    """torchvision FasterRCNN on `backbone` (see the module docstring for the wiring).

    Args:
        num_classes: torchvision's count, background included (COCO: 91).
        min_size, max_size: the transform resizes the shorter side to `min_size` (a list: one picked at random per
            training batch) unless the longer one would exceed `max_size` (default: 5/3 x the largest min_size,
            torchvision's 800/1333). Table 13: 300 and 600.
        feature_tap: tap the RPN and RoI heads read without FPN (default: the deepest stride-16 tap, layer11).
        box_head: "layers" (the backbone's layers after `feature_tap` on 14x14 crops, then average pool: the
            paper's detector) or "mlp" (torchvision's TwoMLPHead on 7x7 crops).
        roi_size: RoIAlign output side (default: 14 for "layers", 7 for "mlp").
        roi_sampling_ratio: RoIAlign samples per bin side (torchvision's CPU RoIAlign backward is slow: 1 is 4x
            cheaper than 2).
        representation_size: hidden width of the MLP head.
        fpn, fpn_taps, fpn_channels: FeaturePyramidNetwork on `fpn_taps` (default: every tap of stride 8 to 32);
            needs box_head=mlp; one anchor size per pyramid level (`anchor_sizes` one per level, smallest first).
        anchor_sizes, aspect_ratios: RPN anchors in input pixels (TF OD API: 0.25 ... 2 x 256 and {1/2, 1, 2}).
        rpn_pre_nms_top_n_test: best-scoring anchors kept before the RPN's NMS at test (None: all, as the TF OD
            API; torchvision's own detectors use 1000, which with an untrained RPN can leave fewer than 300).
        rpn_post_nms_top_n_test: proposals per image at test (the paper: 300).
        rpn_fg_iou_thresh, rpn_bg_iou_thresh: RPN anchors at or above / below these IoUs are object / background
            (torchvision: 0.7 / 0.3; at small inputs few stride-16 anchors reach 0.7).
    """
    if box_head not in BOX_HEADS:
        raise ValueError(f"model.detector.box_head must be one of {BOX_HEADS}, got '{box_head}'")
    min_sizes = (min_size,) if isinstance(min_size, int) else tuple(min_size)
    max_size = max_size or int(round(max(min_sizes) * 5 / 3))
    tail = None
    if fpn:
        if box_head != "mlp":
            raise ValueError("model.detector.fpn=true needs model.detector.box_head=mlp (the backbone's remaining "
                             "layers expect the tap's channels, not the pyramid's)")
        if fpn_taps is None:
            fpn_taps = [f.name for f in backbone.feature_info if 8 <= f.stride <= 32]
        if len(fpn_taps) < 2:
            raise ValueError(f"model.detector.fpn: needs two or more taps, got {list(fpn_taps)} from backbone taps "
                             f"{[(f.name, f.stride) for f in backbone.feature_info]}; set model.detector.fpn_taps")
        body = FPNBody(TapBody(backbone, fpn_taps), fpn_channels)
        levels = [*(str(i) for i in range(len(fpn_taps))), "pool"]
        if len(anchor_sizes) != len(levels):
            raise ValueError(f"model.detector.anchor_sizes: with FPN give one size per level ({len(levels)}: "
                             f"{len(fpn_taps)} taps + the pooled top), got {list(anchor_sizes)}")
        anchor_generator = AnchorGenerator(tuple((float(s),) for s in anchor_sizes),
                                           (tuple(float(r) for r in aspect_ratios),) * len(levels))
        roi_names = levels[:-1]
    else:
        tap = backbone.tap(feature_tap).name if feature_tap is not None else _stride16_tap(backbone)
        tail = backbone.blocks_after(tap) if box_head == "layers" else None
        body = SingleMapBody(TapBody(backbone, [tap]))
        anchor_generator = AnchorGenerator((tuple(float(s) for s in anchor_sizes),),
                                           (tuple(float(r) for r in aspect_ratios),))
        roi_names = ["0"]
    roi_size = roi_size or (14 if box_head == "layers" else 7)
    roi_pool = MultiScaleRoIAlign(featmap_names=roi_names, output_size=roi_size,
                                  sampling_ratio=roi_sampling_ratio)
    if tail is not None:
        head = LayersBoxHead(tail)
        head_channels = _out_channels(tail, body.out_channels)
    else:
        head = TwoMLPHead(body.out_channels * roi_size ** 2, representation_size)
        head_channels = representation_size
    rpn_head = RPNHead(body.out_channels, anchor_generator.num_anchors_per_location()[0])
    return FasterRCNN(
        body, num_classes=None, min_size=min_sizes, max_size=max_size, image_mean=list(image_mean),
        image_std=list(image_std), rpn_anchor_generator=anchor_generator, rpn_head=rpn_head,
        rpn_pre_nms_top_n_train=rpn_pre_nms_top_n_train, rpn_post_nms_top_n_train=rpn_post_nms_top_n_train,
        rpn_pre_nms_top_n_test=rpn_pre_nms_top_n_test or ALL_ANCHORS, rpn_post_nms_top_n_test=rpn_post_nms_top_n_test,
        rpn_nms_thresh=rpn_nms_thresh, rpn_fg_iou_thresh=rpn_fg_iou_thresh, rpn_bg_iou_thresh=rpn_bg_iou_thresh,
        rpn_batch_size_per_image=rpn_batch_size_per_image,
        box_roi_pool=roi_pool, box_head=head, box_predictor=FastRCNNPredictor(head_channels, num_classes),
        box_batch_size_per_image=box_batch_size_per_image, box_score_thresh=box_score_thresh,
        box_nms_thresh=box_nms_thresh, box_detections_per_img=box_detections_per_img)


BUILDERS = {"ssd": build_ssd, "faster_rcnn": build_faster_rcnn}
