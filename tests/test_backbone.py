"""MobileNetV1 against Table 1 (shapes, channels, strides of every tap), its options, and timm backbones' taps."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from backbone import Backbone, FeatureInfo, MobileNetV1, TimmBackbone
from backbone.mobilenet_v1 import make_divisible

# Table 1 of the paper, written out independently of backbone.mobilenet_v1: (output channels, stride) of the
# pointwise output of each of the 13 separable blocks, with the last depthwise stride 1 (see paper_facts).
TABLE1 = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
          (512, 1), (1024, 2), (1024, 1)]
DEFAULT_TAPS = ["layer1", "layer3", "layer5", "layer11", "layer13"]


def conv_out(size: int, stride: int) -> int:
    """Output size of a 3x3 conv with padding 1 (every spatial layer of MobileNetV1)."""
    return (size + 2 - 3) // stride + 1


def expected_taps(alpha: float, resolution: int, round_to: int = 8) -> dict[str, tuple[int, int, int]]:
    """name -> (channels, stride, spatial size) of every block, from TABLE1."""
    size, stride, out = conv_out(resolution, 2), 2, {}
    for i, (c, s) in enumerate(TABLE1, start=1):
        size, stride = conv_out(size, s), stride * s
        out[f"layer{i}"] = (make_divisible(c * alpha, round_to) if round_to > 1 else round(c * alpha), stride, size)
    return out


def run(model: nn.Module, resolution: int, batch: int = 1) -> dict[str, torch.Tensor]:
    model.eval()
    with torch.no_grad():
        return model(torch.randn(batch, 3, resolution, resolution))


@pytest.mark.parametrize("alpha", [1.0, 0.75, 0.5, 0.25])
@pytest.mark.parametrize("resolution", [224, 192, 160, 128, 97])
def test_mobilenet_taps_shapes(alpha, resolution):
    model = MobileNetV1(width_mult=alpha, taps=[f"layer{i}" for i in range(1, 14)])
    out = run(model, resolution)
    expected = expected_taps(alpha, resolution)
    assert list(out) == list(expected)
    assert [f.name for f in model.feature_info] == list(expected)
    for info in model.feature_info:
        channels, stride, size = expected[info.name]
        assert (info.channels, info.stride) == (channels, stride)
        assert out[info.name].shape == (1, channels, size, size)
    # alpha 1: Table 1's own numbers, and the 7x7x1024 map at 224
    if alpha == 1.0 and resolution == 224:
        assert out["layer13"].shape == (1, 1024, 7, 7)
        assert out["layer11"].shape == (1, 512, 14, 14)


def test_mobilenet_default_taps_and_num_features():
    model = MobileNetV1()
    assert isinstance(model, Backbone)
    assert model.feature_info == [FeatureInfo("layer1", 64, 2), FeatureInfo("layer3", 128, 4),
                                  FeatureInfo("layer5", 256, 8), FeatureInfo("layer11", 512, 16),
                                  FeatureInfo("layer13", 1024, 32)]
    assert model.num_features == 1024
    assert MobileNetV1(width_mult=0.5).num_features == 512
    assert model.tap("layer11").stride == 16 and model.tap(-1).name == "layer13"
    out = run(model, 128)
    assert list(out) == DEFAULT_TAPS
    assert [t.shape[-1] for t in out.values()] == [64, 32, 16, 8, 4]


def test_make_divisible():
    assert [make_divisible(c * 0.25) for c in (32, 64, 128, 256, 512, 1024)] == [8, 16, 32, 64, 128, 256]
    assert make_divisible(9.6) == 16  # nearest multiple 8 is < 90% of 9.6, so one more step
    assert make_divisible(3) == 8  # never below the divisor
    assert make_divisible(100) == 104 and make_divisible(99.9, 4) == 100


@pytest.mark.parametrize("alpha", [0.3, 0.6, 1.3])
def test_round_to_one_gives_plain_product(alpha):
    plain = MobileNetV1(width_mult=alpha, round_to=1, taps=[f"layer{i}" for i in range(1, 14)])
    assert plain.stem.conv.out_channels == round(32 * alpha)
    assert [f.channels for f in plain.feature_info] == [round(c * alpha) for c, _ in TABLE1]
    rounded = MobileNetV1(width_mult=alpha, taps=[f"layer{i}" for i in range(1, 14)])
    assert all(f.channels % 8 == 0 for f in rounded.feature_info)
    assert [f.channels for f in rounded.feature_info] != [f.channels for f in plain.feature_info]
    out = run(plain, 64)
    assert [t.shape[1] for t in out.values()] == [round(c * alpha) for c, _ in TABLE1]


@pytest.mark.parametrize("act, cls", [("relu", nn.ReLU), ("relu6", nn.ReLU6)])
def test_activation(act, cls):
    model = MobileNetV1(width_mult=0.25, act=act)
    acts = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.ReLU6))]
    assert len(acts) == 27 and all(type(m) is cls for m in acts)  # stem + 13 x (dw, pw): every layer but the FC
    tops = []
    for m in acts:
        m.register_forward_hook(lambda _m, _i, out: tops.append(out.max().item()))
    with torch.no_grad():  # large inputs: ReLU6 clips at 6, ReLU does not
        model.eval()(100 * torch.randn(1, 3, 64, 64))
    assert len(tops) == 27 and min(tops) >= 0
    assert max(tops) == 6.0 if act == "relu6" else max(tops) > 6.0


def test_conv_type_full():
    model = MobileNetV1(width_mult=0.25, conv_type="full", taps=[f"layer{i}" for i in range(1, 14)])
    convs = [m for m in model.layers.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 13 and all(c.kernel_size == (3, 3) and c.groups == 1 for c in convs)
    out = run(model, 97)
    expected = expected_taps(0.25, 97)
    assert {k: tuple(v.shape[1:]) for k, v in out.items()} == {k: (c, s, s) for k, (c, _, s) in expected.items()}


def test_shallow():
    model = MobileNetV1(shallow=True)
    names = [name for name, _ in model.layers.named_children()]
    assert names == [f"layer{i}" for i in (1, 2, 3, 4, 5, 6, 12, 13)]  # the five 14x14x512 blocks 7-11 removed
    assert [(f.name, f.stride) for f in model.feature_info] == [
        ("layer1", 2), ("layer3", 4), ("layer5", 8), ("layer6", 16), ("layer13", 32)]
    out = run(model, 224)
    assert out["layer6"].shape == (1, 512, 14, 14) and out["layer13"].shape == (1, 1024, 7, 7)
    with pytest.raises(KeyError, match="layer11"):
        MobileNetV1(shallow=True, taps=["layer11"])


def test_named_taps_and_early_stop():
    model = MobileNetV1(taps=["layer13", "layer11"])  # given deep-first: returned shallow to deep
    assert [(f.name, f.channels, f.stride) for f in model.feature_info] == [("layer11", 512, 16),
                                                                            ("layer13", 1024, 32)]
    assert list(run(model, 224)) == ["layer11", "layer13"]

    early = MobileNetV1(taps="layer11")  # a single name (e.g. from the command line)
    assert early.num_features == 512
    called = []
    for name in ("layer11", "layer12", "layer13"):
        getattr(early.layers, name).register_forward_hook(lambda *_, n=name: called.append(n))
    out = run(early, 160)
    assert list(out) == ["layer11"] and out["layer11"].shape == (1, 512, 10, 10)
    assert called == ["layer11"]  # nothing deeper than the deepest tap runs


def test_bad_options():
    with pytest.raises(ValueError, match="width_mult must be > 0"):
        MobileNetV1(width_mult=0)
    with pytest.raises(ValueError, match="width_mult must be > 0"):
        MobileNetV1(width_mult=-0.5)
    with pytest.raises(ValueError, match=r"act must be one of \['relu', 'relu6'\], got 'gelu'"):
        MobileNetV1(act="gelu")
    with pytest.raises(ValueError, match="conv_type"):
        MobileNetV1(conv_type="grouped")
    with pytest.raises(ValueError, match="round_to"):
        MobileNetV1(round_to=0)
    with pytest.raises(ValueError, match="taps is empty"):
        MobileNetV1(taps=[])
    with pytest.raises(KeyError, match=r"unknown tap\(s\) \['conv5'\].*layer13"):
        MobileNetV1(taps=["layer11", "conv5"])
    with pytest.raises(KeyError, match="unknown tap 'nope'"):
        MobileNetV1().tap("nope")
    with pytest.raises(KeyError, match="out of range"):
        MobileNetV1().tap(7)


# timm backbones: every tap's channels from feature_info, and its stride from how the map grows with the input:
# adding 32 pixels (a multiple of every stride) adds exactly 32 / stride to each map's size, whatever the padding
# (inception_v3 pads "valid", so its maps are not input / stride). inception_v3 needs inputs >= 75.
TIMM_MODELS = ["mobilenetv2_100", "mobilenetv3_large_100", "resnet50", "vgg16", "inception_v3", "efficientnet_b0"]


@pytest.mark.parametrize("name", TIMM_MODELS)
def test_timm_backbone_feature_info(name):
    model = TimmBackbone(name).eval()
    assert model.pretrained_cfg.get("architecture") == name
    base = 96 if name != "inception_v3" else 128
    with torch.no_grad():
        small, big = model(torch.randn(1, 3, base, base)), model(torch.randn(1, 3, base + 32, base + 32))
    assert list(small) == [f.name for f in model.feature_info]
    strides = [f.stride for f in model.feature_info]
    assert strides == sorted(strides) and strides[-1] == 32
    for info in model.feature_info:
        a, b = small[info.name], big[info.name]
        assert a.shape[1] == info.channels, info
        assert b.shape[-1] - a.shape[-1] == 32 // info.stride, info
        if name != "inception_v3":  # "same" padding: size = ceil(input / stride)
            assert a.shape[-1] == -(-base // info.stride), info
    assert model.num_features == model.feature_info[-1].channels


def test_timm_backbone_unknown_name():
    with pytest.raises(ValueError, match=r"unknown timm model 'mobilenetv2_10'.*'mobilenetv2_100'"):
        TimmBackbone("mobilenetv2_10")


def test_fuse_bn_keeps_eval_outputs():
    """Folding BatchNorm into the convolutions (inference) changes nothing but float rounding."""
    import torch
    from backbone import MobileNetV1
    torch.manual_seed(0)
    model = MobileNetV1(width_mult=0.5, act="relu6")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
    x = torch.randn(2, 3, 96, 96)
    with pytest.raises(RuntimeError, match="eval"):
        model.fuse_bn()
    model.eval()
    with torch.no_grad():
        expected = model(x)
        fused = model.fuse_bn()
        got = fused(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-4, rtol=1e-4)
