"""Table 13's efficiency columns for the suite's three MobileNet detector presets, with the anchor difference
explained: SSD300-MobileNet and Faster-RCNN-MobileNet at 300 and 600 px (conf/experiment/coco_*.yaml).

The rows are built and counted by `tasks.paper_tables` (which also holds the other tables; see its docstring for
the wiring and the counting rules: conv/FC weights, mult-adds of one image, Faster R-CNN at exactly 300 proposals).
This script adds every parameter (BatchNorm included, what `results.json` reports) and what SSD would count with
the TF Object Detection API's 3 anchors (reduce_boxes_in_lowest_layer) instead of torchvision's 6 at its first
anchor layer.

    python benchmarks/detection_complexity.py
"""
from __future__ import annotations

from backbone.complexity import count_params
from tasks.engine.paper_tables import ROWS, build, measure
from tasks.engine.errors import guard

DETECTORS = [row for row in ROWS if row.kind == "detector"]


def main() -> None:
    print(f"{'model':<28}{'params (M)':>12}{'all (M)':>9}{'paper':>8}{'mult-adds (B)':>15}{'paper':>8}{'proposals':>11}")
    for row in DETECTORS:
        got = measure(row)
        everything = count_params(build(row)) / 1e6
        print(f"{row.label:<28}{got['params']:>12.2f}{everything:>9.2f}{float(row.params):>8.1f}"
              f"{got['mult_adds'] / 1e3:>15.2f}{float(row.mult_adds) / 1e3:>8.1f}{got.get('proposals', '-'):>11}")
    ssd_row = DETECTORS[0]
    ssd, got = build(ssd_row), measure(ssd_row)
    # TF OD API: 3 anchors (not 6) at the 19x19 layer, so its 1x1 predictor there has half our outputs
    convs = [ssd.head.classification_head.module_list[0], ssd.head.regression_head.module_list[0]]
    half_weights = sum(c.weight.numel() for c in convs) // 2
    params = got["params"] - half_weights / 1e6
    madds = got["mult_adds"] - half_weights * 19 * 19 / 1e6
    print(f"\nSSD with TF's 3 anchors at the first layer instead of torchvision's 6: {params:.2f} M conv/FC weights "
          f"({100 * (params / 6.8 - 1):+.1f}%), {madds / 1e3:.3f} B mult-adds ({100 * (madds / 1200 - 1):+.1f}%).")


if __name__ == "__main__":
    guard("detection_complexity", main)
