"""backbone.complexity against the paper's Tables 2-7 and against Table 1 worked out by hand (formulas (2), (5)).

Counting rules (the paper's): mult-adds of convolutions and the FC layer for one 224x224 image (BN, ReLU, pooling
ignored); parameters are convolution and FC weights, BN and biases excluded, i.e. `params_by_layer_type(biases=False)`
without "Other". The classifier the paper counts is average pool + a 1000-class FC on the deepest map.

Tolerances: the paper prints rounded figures and does not round consistently (568.7 M -> "569", 290.7 M -> "290"),
so a printed figure p with last digit unit u matches when our value rounded *or* truncated to u equals p.
Against the precise recomputations in paper_facts (Tables 6, 7) we ask 1% (they agree far closer, see below).
The default round_to=8 changes no channel count for alpha in {1, .75, .5, .25} (all of alpha * c are multiples
of 8), so the paper's models are the defaults; test_round_to_does_not_matter_for_paper_alphas checks it.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from backbone import MobileNetV1
from backbone.complexity import (CONV_1X1, CONV_3X3, CONV_DW_3X3, FULLY_CONNECTED, OTHER, count_mult_adds,
                                 count_params, measure_latency_ms, mult_adds_by_layer_type, params_by_layer_type)
from backbone.mobilenet_v1 import ConvBNAct, DepthwiseSeparable

M = 1e6


class Classifier(nn.Module):
    """Table 1's top: average pool over the deepest tap, then a 1000-way FC (the softmax costs nothing)."""

    def __init__(self, backbone: nn.Module, num_classes: int = 1000):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(backbone.num_features, num_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(next(reversed(self.backbone(images).values())).mean((2, 3)))


def paper_params(module: nn.Module) -> int:
    counts = params_by_layer_type(module, biases=False)
    counts.pop(OTHER, None)
    return sum(counts.values())


def mobilenet(resolution: int = 224, device: str = "meta", **options) -> tuple[int, int]:
    """(mult-adds, paper params) of MobileNetV1(**options) + classifier at `resolution`.

    On the meta device by default: FlopCounterMode counts the same ops without computing them (fast tests);
    test_counts_equal_hand_computation also counts real CPU forwards.
    """
    with torch.device(device):
        model = Classifier(MobileNetV1(**options))
    return count_mult_adds(model, torch.zeros(1, 3, resolution, resolution)), paper_params(model)


def printed_as(value: float, printed: float, decimals: int) -> bool:
    """`value` shows as `printed` when rounded or truncated to `decimals` places (the paper does both)."""
    scale = 10 ** decimals
    return round(printed * scale) in (round(value * scale), math.floor(value * scale + 1e-9))


def by_hand(alpha: float = 1.0, resolution: int = 224, conv_type: str = "separable", shallow: bool = False,
            num_classes: int = 1000) -> tuple[int, int]:
    """Table 1 with formulas (2) and (5): D_K^2 M N D_F^2 (full), D_K^2 M D_F^2 + M N D_F^2 (separable)."""
    blocks = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 * (not shallow) + \
        [(1024, 2), (1024, 1)]
    size = (resolution - 1) // 2 + 1
    m = int(32 * alpha)
    mult_adds, params = 9 * 3 * m * size * size, 9 * 3 * m
    for out, stride in blocks:
        n = int(out * alpha)
        size = (size - 1) // stride + 1  # 3x3, padding 1
        if conv_type == "full":
            mult_adds += 9 * m * n * size * size
            params += 9 * m * n
        else:
            mult_adds += 9 * m * size * size + m * n * size * size
            params += 9 * m + m * n
        m = n
    return mult_adds + m * num_classes, params + m * num_classes


@pytest.mark.parametrize("alpha, resolution", [(1.0, 224), (0.75, 224), (0.5, 224), (0.25, 224), (1.0, 192),
                                               (1.0, 160), (1.0, 128), (0.5, 97)])
def test_counts_equal_hand_computation(alpha, resolution):
    assert mobilenet(resolution, width_mult=alpha) == by_hand(alpha, resolution)
    if (alpha, resolution) in ((1.0, 224), (0.5, 97)):  # a real forward counts the same
        assert mobilenet(resolution, device="cpu", width_mult=alpha) == by_hand(alpha, resolution)


# Table 6 (alpha at 224): printed (M mult-adds, M params), paper_facts' recomputation.
# paper_facts gives 0.47 M params for alpha 0.25, but conv + FC weights are 463,600 (0.46 M; by_hand agrees):
# 0.47 M is the count with BN and biases (470,072 = count_params, the TF-Slim checkpoint's figure), checked below.
TABLE6 = {1.0: ((569, 4.2), (568.7, 4.21)), 0.75: ((325, 2.6), (325.4, 2.57)), 0.5: ((149, 1.3), (149.5, 1.32)),
          0.25: ((41, 0.5), (41.0, 0.4636))}


@pytest.mark.parametrize("alpha", list(TABLE6))
def test_table6_width_multiplier(alpha):
    (printed_ma, printed_p), (precise_ma, precise_p) = TABLE6[alpha]
    mult_adds, params = mobilenet(width_mult=alpha)
    assert printed_as(mult_adds / M, printed_ma, 0) and printed_as(params / M, printed_p, 1), (mult_adds, params)
    assert mult_adds / M == pytest.approx(precise_ma, rel=0.01) and params / M == pytest.approx(precise_p, rel=0.01)
    assert abs(mult_adds / M - precise_ma) < 0.05  # in fact to the recomputation's last digit


def test_alpha_025_total_params_match_slim_figure():
    model = Classifier(MobileNetV1(width_mult=0.25))
    assert count_params(model) == 470_072 and printed_as(count_params(model) / M, 0.47, 2)
    assert count_params(Classifier(MobileNetV1())) == 4_231_976  # backbone.complexity's docstring


# Table 7 (alpha 1.0, resolution): printed, precise (paper_facts); parameters do not depend on resolution.
TABLE7 = {224: (569, 568.7), 192: (418, 418.1), 160: (290, 290.7), 128: (186, 186.4)}


@pytest.mark.parametrize("resolution", list(TABLE7))
def test_table7_resolution(resolution):
    printed, precise = TABLE7[resolution]
    mult_adds, params = mobilenet(resolution)
    assert printed_as(mult_adds / M, printed, 0), mult_adds
    assert mult_adds / M == pytest.approx(precise, rel=0.01) and abs(mult_adds / M - precise) < 0.05
    assert printed_as(params / M, 4.2, 1)


def test_table4_full_convolution():
    mult_adds, params = mobilenet(conv_type="full")
    assert (mult_adds, params) == by_hand(conv_type="full")
    # Printed 4866 / 29.3; we count 4867.3 M: 0.03% over (the paper's rounding of it is not reproducible).
    assert mult_adds / M == pytest.approx(4866, rel=0.01) and printed_as(params / M, 29.3, 1)
    separable = mobilenet()
    assert printed_as(separable[0] / M, 569, 0) and printed_as(separable[1] / M, 4.2, 1)


def test_table5_narrow_vs_shallow():
    mult_adds, params = mobilenet(shallow=True)
    assert (mult_adds, params) == by_hand(shallow=True)
    assert printed_as(mult_adds / M, 307, 0) and printed_as(params / M, 2.9, 1)
    assert mult_adds / M == pytest.approx(307, rel=0.01) and params / M == pytest.approx(2.9, rel=0.01)
    narrow = mobilenet(width_mult=0.75)
    assert printed_as(narrow[0] / M, 325, 0) and printed_as(narrow[1] / M, 2.6, 1)


# Table 3: one layer, D_K=3, M=N=512, D_F=14, cumulative modifications; (M mult-adds, M params) as printed.
@pytest.mark.parametrize("row, layer, channels, size, printed", [
    ("Convolution", lambda: ConvBNAct(512, 512, 3, 1, groups=1, act=nn.ReLU), 512, 14, (462, 2.36)),
    ("Depthwise Separable Conv", lambda: DepthwiseSeparable(512, 512, 1, act=nn.ReLU), 512, 14, (52.3, 0.27)),
    ("alpha = 0.75", lambda: DepthwiseSeparable(384, 384, 1, act=nn.ReLU), 384, 14, (29.6, 0.15)),
    ("rho = 0.714", lambda: DepthwiseSeparable(384, 384, 1, act=nn.ReLU), 384, 10, (15.1, 0.15)),  # 14 * .714
])
def test_table3_single_layer(row, layer, channels, size, printed):
    module = layer()
    mult_adds = count_mult_adds(module, torch.zeros(1, channels, size, size))
    params = paper_params(module)
    decimals = 0 if printed[0] >= 100 else 1
    assert printed_as(mult_adds / M, printed[0], decimals) and printed_as(params / M, printed[1], 2), \
        (row, mult_adds, params)


# Table 2: shares (%) per layer type of MobileNet-224. Tolerance 0.05 percentage points for every row: above the
# printed rounding (0.005) and the paper's own slack (its mult-add shares sum to 99.29%), below any real error
# (e.g. counting BN, biases or the stem as 1x1 moves a share by more). Conv 3x3's mult-adds share is printed
# "1.19" but the recomputation gives 1.91, and only 1.91 makes the four rows sum to 100%: a digit swap in the
# paper (paper_facts), so we test against 1.91 and check that 1.19 is really not what the model gives.
TABLE2_MULT_ADDS = {CONV_1X1: 94.86, CONV_DW_3X3: 3.06, CONV_3X3: 1.91, FULLY_CONNECTED: 0.18}
TABLE2_PARAMS = {CONV_1X1: 74.59, CONV_DW_3X3: 1.06, CONV_3X3: 0.02, FULLY_CONNECTED: 24.33}


def test_table2_per_layer_type():
    model = Classifier(MobileNetV1())
    image = torch.zeros(1, 3, 224, 224)
    mult_adds = mult_adds_by_layer_type(model, image)
    assert set(mult_adds) == set(TABLE2_MULT_ADDS)  # nothing outside conv/FC
    assert sum(mult_adds.values()) == count_mult_adds(model, image)
    params = params_by_layer_type(model, biases=False)
    assert params.pop(OTHER) == 21_888  # BatchNorm's gamma and beta: 2 x 10,944 channels
    total_ma, total_p = sum(mult_adds.values()), sum(params.values())
    for kind, share in TABLE2_MULT_ADDS.items():
        assert 100 * mult_adds[kind] / total_ma == pytest.approx(share, abs=0.05), kind
    for kind, share in TABLE2_PARAMS.items():
        assert 100 * params[kind] / total_p == pytest.approx(share, abs=0.05), kind
    assert abs(100 * mult_adds[CONV_3X3] / total_ma - 1.19) > 0.5  # the printed digit swap
    # with biases, the FC bias joins "Fully Connected" and the totals are count_params
    with_biases = params_by_layer_type(model)
    assert with_biases[FULLY_CONNECTED] == 1024 * 1000 + 1000
    assert sum(with_biases.values()) == count_params(model)


def test_round_to_does_not_matter_for_paper_alphas():
    for alpha in (1.0, 0.75, 0.5, 0.25):
        assert mobilenet(width_mult=alpha, round_to=1) == mobilenet(width_mult=alpha)


def test_count_mult_adds_per_batch_and_mode():
    model = Classifier(MobileNetV1(width_mult=0.25)).train()
    one = count_mult_adds(model, torch.zeros(1, 3, 64, 64))
    assert count_mult_adds(model, torch.zeros(3, 3, 64, 64)) == 3 * one
    assert model.training and model.backbone.stem.bn.training  # eval only for the count
    assert model.backbone.stem.bn.num_batches_tracked == 0  # and no BN statistics updated


def test_measure_latency_ms():
    model = Classifier(MobileNetV1(width_mult=0.25)).train()
    latency = measure_latency_ms(model, torch.zeros(4, 3, 32, 32), warmup=1, repeats=3)
    assert 0 < latency < 10_000
    assert model.training
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        measure_latency_ms(model, torch.zeros(1, 3, 32, 32), repeats=0)
