"""Table 13's efficiency columns: params and mult-adds of SSD300-MobileNet and Faster-RCNN-MobileNet (300, 600).

The detectors are the suite's presets of the paper's (conf/experiment/coco_ssd300.yaml, coco_faster_rcnn300.yaml,
coco_faster_rcnn600.yaml; Huang et al. 2017) built as `train.py` builds them: MobileNetV1 alpha 1.0, ReLU6, 91
classes (COCO's 90 + background, torchvision's convention), random weights.

- SSD300: layer11 + layer13 + four extra layers (512/256/256/128), six anchor layers of 6 anchors each, 1x1 box
  predictor; input 300x300.
- Faster R-CNN: RPN (3x3 conv, 512 channels, 12 anchors) on layer11; 300 proposals, each cropped to 14x14 by
  RoIAlign and run through layer12 (stride 2) and layer13, average pooled and classified. Input 300x300 or
  600x600 (the transform's min_size; a square image is not resized further).

Mult-adds are FlopCounterMode's count of one eval-mode forward of a uniform-noise image (`backbone.complexity`),
i.e. what the detector actually runs on that input, convolutions and matrix products only. For Faster R-CNN the
box head's cost is proportional to the number of proposals, so the count is taken at exactly 300: the RPN keeps
all anchors before its NMS (as the TF OD API does; torchvision's own detectors keep the best 1000, which for an
untrained RPN leaves fewer than 300 after NMS) and the script checks, with a hook on the RoI pooler, that 300
crops were made.

Params: every parameter (BatchNorm included, what `results.json` reports); the conv/FC weights alone are printed too.

    python benchmarks/detection_complexity.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing the suite

from backbone.complexity import OTHER, count_mult_adds, count_params, params_by_layer_type  # noqa: E402

COCO_CLASSES = 91  # 90 categories + background
# Table 13 of the paper: (params, mult-adds).
PAPER = {
    "SSD 300 MobileNet": (6.8e6, 1.2e9),
    "Faster-RCNN 300 MobileNet": (6.1e6, 25.2e9),
    "Faster-RCNN 600 MobileNet": (6.1e6, 30.5e9),
}
# the preset (conf/experiment) each row is built from
EXPERIMENTS = {"SSD 300 MobileNet": "coco_ssd300", "Faster-RCNN 300 MobileNet": "coco_faster_rcnn300",
               "Faster-RCNN 600 MobileNet": "coco_faster_rcnn600"}


def build(name: str) -> tuple[torch.nn.Module, int]:
    """The detector of a Table 13 row (eval mode) and its input side, from the row's preset config."""
    overrides = [f"experiment={EXPERIMENTS[name]}", "data.root=unused", "backbone.pretrained=null"]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("config", overrides=overrides)
    torch.manual_seed(0)
    backbone = instantiate(cfg.backbone, _convert_="all")
    task = instantiate(cfg.model, backbone=backbone, num_classes=COCO_CLASSES - 1, _convert_="all")
    return task.detector.eval(), cfg.data.image_size


def measure(name: str) -> dict[str, float]:
    """Params, conv/FC weights, mult-adds (and, for Faster R-CNN, the proposals actually cropped) of one row."""
    model, side = build(name)
    crops: list[int] = []
    if hasattr(model, "roi_heads"):
        model.roi_heads.box_roi_pool.register_forward_hook(lambda module, args, out: crops.append(out.shape[0]))
    image = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    row = {
        "params": count_params(model),
        "weights": sum(v for k, v in params_by_layer_type(model, biases=False).items() if k != OTHER),
        "mult_adds": count_mult_adds(model, image),
        "proposals": crops[0] if crops else None,
    }
    if name.startswith("SSD"):
        # TF OD API's reduce_boxes_in_lowest_layer: 3 anchors (not 6) at the 19x19 layer; the 1x1 predictor of
        # that layer has half our outputs there.
        convs = [model.head.classification_head.module_list[0], model.head.regression_head.module_list[0]]
        row["first_layer_half_params"] = sum(c.weight.numel() + c.bias.numel() for c in convs) // 2
        row["first_layer_half_mult_adds"] = sum(c.weight.numel() for c in convs) // 2 * 19 * 19
    return row


def gap(ours: float, paper: float) -> float:
    return 100.0 * (ours - paper) / paper


def main() -> None:
    print(f"{'model':<28}{'params (M)':>12}{'paper':>8}{'gap':>8}{'mult-adds (B)':>15}{'paper':>8}{'gap':>8}"
          f"{'conv/FC weights (M)':>21}{'proposals':>11}")
    rows = {}
    for name, (paper_params, paper_madds) in PAPER.items():
        row = rows[name] = measure(name)
        print(f"{name:<28}{row['params'] / 1e6:>12.2f}{paper_params / 1e6:>8.1f}"
              f"{gap(row['params'], paper_params):>7.1f}%{row['mult_adds'] / 1e9:>15.2f}{paper_madds / 1e9:>8.1f}"
              f"{gap(row['mult_adds'], paper_madds):>7.1f}%{row['weights'] / 1e6:>21.2f}"
              f"{row['proposals'] if row['proposals'] is not None else '-':>11}")
    ssd = rows["SSD 300 MobileNet"]
    params = ssd["params"] - ssd["first_layer_half_params"]
    madds = ssd["mult_adds"] - ssd["first_layer_half_mult_adds"]
    print(f"\nSSD with TF's 3 anchors at the first layer (reduce_boxes_in_lowest_layer) instead of torchvision's 6: "
          f"{params / 1e6:.2f} M params ({gap(params, 6.8e6):+.1f}%), {madds / 1e9:.3f} B mult-adds "
          f"({gap(madds, 1.2e9):+.1f}%).")


if __name__ == "__main__":
    main()
