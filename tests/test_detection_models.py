"""Detector wiring (tasks.detection.models): taps, extra layers, anchors vs heads, box heads, FPN, and Table 13's figures."""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn
from torchvision.models.detection.faster_rcnn import TwoMLPHead
from torchvision.models.detection.ssdlite import SSDLiteHead
from torchvision.ops import box_iou

from backbone import MobileNetV1, TimmBackbone
from tasks.detection import DetectionTask
from tasks.detection.models import FPNBody, LayersBoxHead, build_faster_rcnn, build_ssd

from conftest import compose_config

SIDE = 96
K = 3  # foreground classes; torchvision gets K + 1


def batch(side: int = SIDE):
    """Two images of different sizes, one with two boxes and one empty (images without objects must train)."""
    images = [torch.rand(3, side, side - 16), torch.rand(3, side - 24, side)]
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 40.0, 50.0], [30.0, 20.0, 70.0, 64.0]]),
                "labels": torch.tensor([1, K])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]
    return images, targets


def check_train_and_eval(model: nn.Module) -> None:
    """Train mode: finite losses whose sum reaches every trainable parameter; eval: boxes inside each image."""
    images, targets = batch()
    model.train()
    losses = model(images, targets)
    assert losses and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:5]}"
    model.eval()
    with torch.no_grad():
        outputs = model(images)
    for image, out in zip(images, outputs):
        h, w = image.shape[-2:]
        assert out["boxes"].shape[1] == 4 and len(out["boxes"]) == len(out["scores"]) == len(out["labels"])
        if len(out["boxes"]):
            assert out["boxes"][:, 0].min() >= 0 and out["boxes"][:, 2].max() <= w
            assert out["boxes"][:, 1].min() >= 0 and out["boxes"][:, 3].max() <= h
            assert out["labels"].min() >= 1 and out["labels"].max() <= K


def ssd_maps(model, side: int) -> list[torch.Tensor]:
    with torch.no_grad():
        return list(model.eval().backbone(torch.rand(1, 3, side, side)).values())


# --------------------------------------------------------------------------------------------------------- SSD
@pytest.mark.parametrize("alpha", [1.0, 0.25])
def test_ssd_mobilenet_taps_extra_layers_and_anchors(alpha):
    model = build_ssd(MobileNetV1(width_mult=alpha), K + 1, size=SIDE)
    feats = model.backbone
    # the paper's taps (conv_11 at stride 16, conv_13 at stride 32) and the four extra depths, scaled like TF
    assert feats.body.names == ["layer11", "layer13"]
    expected_depths = [max(int(d * alpha), 16) for d in (512, 256, 256, 128)]
    assert feats.out_channels == [round(512 * alpha), round(1024 * alpha), *expected_depths]
    maps = ssd_maps(model, SIDE)
    assert [m.shape[1] for m in maps] == feats.out_channels
    sides = [math.ceil(SIDE / 16), math.ceil(SIDE / 32)]
    for _ in range(4):  # stride-2 3x3 convs with padding 1
        sides.append(math.ceil(sides[-1] / 2))
    assert [tuple(m.shape[-2:]) for m in maps] == [(s, s) for s in sides]
    # six anchor layers, scales 0.2 ... 0.95, ratios {1, 2, 1/2, 3, 1/3} plus the extra square box: 6 per place
    anchors = model.anchor_generator
    assert anchors.scales[:6] == pytest.approx([0.2, 0.35, 0.5, 0.65, 0.8, 0.95])
    assert anchors.num_anchors_per_location() == [6] * 6
    wh = anchors._wh_pairs[0]
    ratios = sorted((wh[:, 0] / wh[:, 1]).tolist())
    assert ratios == pytest.approx(sorted([1, 1, 2, 0.5, 3, 1 / 3]), rel=1e-5)
    # the 1x1 predictor's outputs agree with the anchor count: 6 x (K+1) class and 6 x 4 box channels per map
    cls_convs = model.head.classification_head.module_list
    box_convs = model.head.regression_head.module_list
    assert [c.kernel_size for c in cls_convs] == [(1, 1)] * 6
    assert [c.out_channels for c in cls_convs] == [6 * (K + 1)] * 6
    assert [c.out_channels for c in box_convs] == [6 * 4] * 6
    with torch.no_grad():
        head = model.head(maps)
    assert head["cls_logits"].shape == (1, sum(6 * s * s for s in sides), K + 1)
    # the extra layers: 1x1 to half depth, then a full 3x3 stride-2 conv, BN + ReLU6
    first = feats.extra[0]
    convs = [m for m in first.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride, c.out_channels, c.groups) for c in convs] == [
        ((1, 1), (1, 1), expected_depths[0] // 2, 1), ((3, 3), (2, 2), expected_depths[0], 1)]
    assert any(isinstance(m, nn.ReLU6) for m in first.modules())
    check_train_and_eval(model)


def test_ssd_on_a_timm_backbone_uses_its_last_two_taps():
    backbone = TimmBackbone("mobilenetv2_100")
    model = build_ssd(backbone, K + 1, size=SIDE)
    last_two = backbone.feature_info[-2:]
    assert model.backbone.body.names == [f.name for f in last_two]
    maps = ssd_maps(model, SIDE)
    for info, fmap in zip(last_two, maps):
        assert fmap.shape[1] == info.channels and fmap.shape[-1] == math.ceil(SIDE / info.stride)
    assert len(maps) == 6 and model.anchor_generator.num_anchors_per_location() == [6] * 6
    check_train_and_eval(model)


def test_ssdlite_uses_depthwise_extra_layers_and_torchvision_ssdlite_head():
    model = build_ssd(MobileNetV1(width_mult=0.25), K + 1, size=SIDE, head="ssdlite")
    assert isinstance(model.head, SSDLiteHead)
    for layer in model.backbone.extra:
        convs = [m for m in layer.modules() if isinstance(m, nn.Conv2d)]
        assert len(convs) == 3 and convs[1].groups == convs[1].in_channels and convs[1].stride == (2, 2)
    check_train_and_eval(model)


def test_ssd_with_3x3_head_and_bad_options():
    model = build_ssd(MobileNetV1(width_mult=0.25), K + 1, size=SIDE, head_kernel=3)
    assert {c.kernel_size for c in model.head.classification_head.module_list} == {(3, 3)}
    with pytest.raises(ValueError, match="head must be one of"):
        build_ssd(MobileNetV1(width_mult=0.25), K + 1, head="yolo")
    with pytest.raises(ValueError, match="last two backbone taps"):
        build_ssd(MobileNetV1(width_mult=0.25, taps=["layer13"]), K + 1)


# -------------------------------------------------------------------------------------------------- Faster R-CNN
def test_faster_rcnn_layers_head_is_the_backbones_remaining_layers():
    backbone = MobileNetV1(width_mult=0.25)
    model = build_faster_rcnn(backbone, K + 1, min_size=SIDE, anchor_sizes=(16, 32, 64),
                              rpn_post_nms_top_n_train=64, box_batch_size_per_image=32)
    # RPN and RoI pooling read layer11 (stride 16); the box head runs layer12 (stride 2) and layer13 on 14x14 crops
    assert model.backbone.body.names == ["layer11"] and model.backbone.out_channels == 128
    assert isinstance(model.roi_heads.box_head, LayersBoxHead)
    tail = model.roi_heads.box_head.tail
    assert [name for name, _ in tail.named_children()] == ["layer12", "layer13"]
    assert tail.layer12 is backbone.layers.layer12 and tail.layer13 is backbone.layers.layer13  # shared weights
    assert model.roi_heads.box_roi_pool.output_size == (14, 14)
    with torch.no_grad():
        pooled = model.roi_heads.box_head(torch.rand(5, 128, 14, 14))
    assert pooled.shape == (5, 256)
    assert model.roi_heads.box_predictor.cls_score.out_features == K + 1
    assert model.rpn.head.cls_logits.out_channels == 3 * 3  # 3 sizes x 3 ratios
    check_train_and_eval(model)


def test_faster_rcnn_mlp_head_and_fpn():
    model = build_faster_rcnn(MobileNetV1(width_mult=0.25), K + 1, min_size=SIDE, box_head="mlp",
                              representation_size=64, box_batch_size_per_image=32)
    assert isinstance(model.roi_heads.box_head, TwoMLPHead)
    assert model.roi_heads.box_head.fc6.in_features == 128 * 7 * 7
    fpn = build_faster_rcnn(MobileNetV1(width_mult=0.25), K + 1, min_size=SIDE, box_head="mlp", fpn=True,
                            fpn_channels=32, anchor_sizes=(16, 32, 64, 128), representation_size=64,
                            box_batch_size_per_image=32)
    assert isinstance(fpn.backbone, FPNBody)
    assert fpn.backbone.body.names == ["layer5", "layer11", "layer13"]  # taps of stride 8, 16, 32
    with torch.no_grad():
        levels = fpn.backbone.eval()(torch.rand(1, 3, SIDE, SIDE))
    assert list(levels) == ["0", "1", "2", "pool"] and {v.shape[1] for v in levels.values()} == {32}
    assert fpn.rpn.anchor_generator.num_anchors_per_location() == [3] * 4
    check_train_and_eval(fpn)


def test_faster_rcnn_configuration_errors():
    with pytest.raises(ValueError, match="box_head=mlp"):
        build_faster_rcnn(TimmBackbone("mobilenetv2_100"), K + 1, box_head="layers")
    with pytest.raises(ValueError, match="fpn=true needs"):
        build_faster_rcnn(MobileNetV1(width_mult=0.25), K + 1, fpn=True)
    with pytest.raises(ValueError, match="stride-16 tap, and this backbone has none"):
        build_faster_rcnn(MobileNetV1(width_mult=0.25, taps=["layer5", "layer13"]), K + 1)
    with pytest.raises(ValueError, match="one size per level"):
        build_faster_rcnn(MobileNetV1(width_mult=0.25), K + 1, box_head="mlp", fpn=True, anchor_sizes=(32, 64))


def test_task_freezes_backbone_layers_the_detector_never_runs_and_rejects_unknown_keys():
    task = DetectionTask(MobileNetV1(width_mult=0.25), K, "faster_rcnn", {"min_size": SIDE, "box_head": "mlp"})
    frozen = {n.split(".")[1] for n, p in task.backbone.named_parameters() if not p.requires_grad}
    assert frozen == {"layer12", "layer13"}
    with pytest.raises(ValueError, match="unknown key.*'sizes'.*valid keys"):
        DetectionTask(MobileNetV1(width_mult=0.25), K, "ssd", {"sizes": 300})
    with pytest.raises(ValueError, match="architecture must be one of"):
        DetectionTask(MobileNetV1(width_mult=0.25), K, "yolo")


def test_task_forward_takes_a_batch_tensor_as_runner_profile_does():
    task = DetectionTask(MobileNetV1(width_mult=0.25), K, "ssd", {"size": 64}).eval()
    with torch.no_grad():
        out = task(torch.zeros(2, 3, 64, 64))
    assert len(out) == 2 and set(out[0]) == {"boxes", "scores", "labels"}


def test_default_configs_wire_the_stride8_tap_and_rpn_thresholds():
    """task=ssd reads layer5/11/13 (strides 8-32) + 3 extra layers; task=faster_rcnn's RPN threshold is 0.6, its
    crops 7x7 and its RPN keeps 600 anchors before NMS in training (the CPU defaults of conf/task/faster_rcnn.yaml).
    The anchor coverage this buys is checked against the paper's layout on the generated boxes' sizes."""
    cfg = compose_config(["task=ssd"])
    task = instantiate(cfg.model, backbone=MobileNetV1(width_mult=cfg.backbone.width_mult), num_classes=K,
                       _convert_="all")
    ssd = task.detector
    assert ssd.backbone.body.names == ["layer5", "layer11", "layer13"] and ssd.backbone.body.strides == [8, 16, 32]
    maps = ssd_maps(ssd, cfg.data.image_size)
    assert [m.shape[-1] for m in maps] == [20, 10, 5, 3, 2, 1]
    paper = build_ssd(MobileNetV1(width_mult=0.5), K + 1, size=160, min_scale=0.1, max_scale=0.9)
    side = 160
    # squares of 12-60 % of the side on a grid of positions: positives (IoU >= 0.5) per object, both layouts
    boxes = torch.tensor([[x, y, x + f * side, y + f * side] for f in (0.12, 0.2, 0.35, 0.6)
                          for x in range(0, side - int(f * side), 7) for y in range(0, side - int(f * side), 7)],
                         dtype=torch.float32)

    model_anchors = _benchmark("ssd_anchor_coverage").model_anchors

    def positives(model):
        return (box_iou(boxes, model_anchors(model, side)) >= 0.5).sum(1).float()
    ours, theirs = positives(ssd), positives(paper)
    assert (ours == 0).float().mean() < 0.05 < (theirs == 0).float().mean()
    assert ours.mean() > 2 * theirs.mean()

    cfg = compose_config(["task=faster_rcnn"])
    rcnn = instantiate(cfg.model, backbone=MobileNetV1(width_mult=0.25), num_classes=K, _convert_="all").detector
    assert rcnn.rpn.proposal_matcher.high_threshold == 0.6 and rcnn.rpn.proposal_matcher.low_threshold == 0.3
    assert rcnn.rpn.anchor_generator.num_anchors_per_location() == [7 * 3]
    assert rcnn.roi_heads.box_roi_pool.output_size == (7, 7) and isinstance(rcnn.roi_heads.box_head, LayersBoxHead)
    assert rcnn.rpn._pre_nms_top_n == {"training": 600, "testing": 1000}
    assert rcnn.rpn._post_nms_top_n["testing"] == 300  # the paper's 300 proposals




def _benchmark(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
