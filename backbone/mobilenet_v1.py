"""MobileNetV1 (Howard et al. 2017, Table 1), with the paper's width multiplier and ablation variants.

Layer names follow TF-Slim and the TF Object Detection API: `stem` is Conv2d_0 and `layer1` ... `layer13` are the
thirteen depthwise separable blocks Conv2d_1 ... Conv2d_13 (each a 3x3 depthwise conv then a 1x1 pointwise conv, both
followed by BN and ReLU/ReLU6). A tap `layerN` is the pointwise output of block N, so `layer11` (stride 16) and
`layer13` (stride 32) are the maps the paper's detectors use. The last depthwise conv has stride 1: Table 1 prints
"s2" there, but the next input is still 7x7, and TF-Slim and timm both use stride 1.

Channel rounding: every channel count c of Table 1 becomes `make_divisible(alpha * c, round_to)`, the nearest
multiple of `round_to` (default 8, as TF-Slim and timm), never below `round_to` nor below 90% of alpha * c.
For alpha in {1, 0.75, 0.5, 0.25} this changes nothing; `round_to=1` gives the plain rounded product.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .base import Backbone, FeatureInfo
from .weights import load_pretrained

# (output channels, stride) of Conv2d_1 ... Conv2d_13, stride fix on Conv2d_12's successor applied.
BLOCKS: tuple[tuple[int, int], ...] = (
    (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
    (1024, 2), (1024, 1),
)
STEM_CHANNELS = 32
SHALLOW_REMOVED = ("layer7", "layer8", "layer9", "layer10", "layer11")  # the 5 separable layers at 14x14x512
ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6}
CONV_TYPES = ("separable", "full")


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round `value` to the nearest multiple of `divisor`, keeping at least `divisor` and 90% of `value`."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


class ConvBNAct(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> activation: every layer of Table 1 but the classifier."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, groups: int, act: type[nn.Module]):
        super().__init__(OrderedDict(
            conv=nn.Conv2d(in_ch, out_ch, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
            bn=nn.BatchNorm2d(out_ch),
            act=act(inplace=True),
        ))


class DepthwiseSeparable(nn.Sequential):
    """3x3 depthwise conv (filtering) then 1x1 pointwise conv (combining): Figure 3 right of the paper."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, act: type[nn.Module]):
        super().__init__(OrderedDict(
            dw=ConvBNAct(in_ch, in_ch, 3, stride, groups=in_ch, act=act),
            pw=ConvBNAct(in_ch, out_ch, 1, 1, groups=1, act=act),
        ))


class MobileNetV1(Backbone):
    """MobileNetV1 body returning the requested taps.

    Args:
        width_mult: the paper's alpha, any float > 0.
        act: "relu" (the paper) or "relu6" (TF-Slim, timm, the paper's detectors).
        conv_type: "separable" (MobileNet) or "full" (Table 4's "Conv MobileNet": each block one 3x3 conv).
        shallow: drop the five 14x14x512 blocks (Table 5's "Shallow MobileNet").
        round_to: channel divisor, see module docstring.
        taps: names of the blocks to return, shallow to deep; default: the last block of every stride
            (stem excluded), i.e. layer1, layer3, layer5, layer11 (layer6 when shallow), layer13.
        in_chans: input channels.
        pretrained: timm tag, local .pth/.safetensors file or suite checkpoint, see `backbone.weights`.
    """

    def __init__(self, width_mult: float = 1.0, act: str = "relu6", conv_type: str = "separable",
                 shallow: bool = False, round_to: int = 8, taps: list[str] | None = None, in_chans: int = 3,
                 pretrained: str | None = None):
        super().__init__()
        if not width_mult > 0:
            raise ValueError(f"backbone.width_mult must be > 0, got {width_mult}")
        if act not in ACTIVATIONS:
            raise ValueError(f"backbone.act must be one of {sorted(ACTIVATIONS)}, got '{act}'")
        if conv_type not in CONV_TYPES:
            raise ValueError(f"backbone.conv_type must be one of {CONV_TYPES}, got '{conv_type}'")
        if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
            raise ValueError(f"backbone.round_to must be an integer >= 1 (1: no rounding), got {round_to!r}")
        act_layer = ACTIVATIONS[act]
        self.width_mult = width_mult

        def ch(c: int) -> int:
            return make_divisible(c * width_mult, round_to) if round_to > 1 else max(1, round(c * width_mult))

        self.stem = ConvBNAct(in_chans, ch(STEM_CHANNELS), 3, 2, groups=1, act=act_layer)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        infos: list[FeatureInfo] = []
        in_ch, stride = ch(STEM_CHANNELS), 2
        for index, (out_c, s) in enumerate(BLOCKS, start=1):
            name = f"layer{index}"
            if shallow and name in SHALLOW_REMOVED:
                continue
            out_ch = ch(out_c)
            if conv_type == "separable":
                layers[name] = DepthwiseSeparable(in_ch, out_ch, s, act_layer)
            else:
                layers[name] = ConvBNAct(in_ch, out_ch, 3, s, groups=1, act=act_layer)
            in_ch, stride = out_ch, stride * s
            infos.append(FeatureInfo(name, out_ch, stride))
        self.layers = nn.Sequential(layers)

        if taps is None:  # last block of each stride
            taps = [info.name for i, info in enumerate(infos)
                    if i + 1 == len(infos) or infos[i + 1].stride != info.stride]
        if isinstance(taps, str):  # `backbone.taps=layer11` on the command line
            taps = [taps]
        taps = list(dict.fromkeys(taps))  # a repeated name would give two taps of one name
        if not taps:
            raise ValueError("backbone.taps is empty: name at least one block (e.g. [layer13]) or use null for "
                             "the default")
        known = {info.name: info for info in infos}
        unknown = [t for t in taps if t not in known]
        if unknown:
            raise KeyError(f"backbone.taps: unknown tap(s) {unknown}; MobileNetV1 (shallow={shallow}) has "
                           f"{list(known)}")
        self.feature_info = sorted((known[t] for t in taps), key=lambda info: list(known).index(info.name))
        self._taps = {info.name for info in self.feature_info}
        self._last = self.feature_info[-1].name
        self._init_weights()
        if pretrained:
            load_pretrained(self, pretrained)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def adapt_state_dict(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Rename timm's `mobilenetv1_*` keys (conv_stem, bn1, blocks.S.B.{conv_dw,bn1,conv_pw,bn2}) to ours."""
        if "conv_stem.weight" not in state:
            return state
        renamed: dict[str, torch.Tensor] = {}
        block_names = [name for name, _ in self.layers.named_children()]
        block_index: dict[str, int] = {}
        parts = {"conv_dw": "dw.conv", "bn1": "dw.bn", "conv_pw": "pw.conv", "bn2": "pw.bn"}
        for key, value in state.items():
            head, _, leaf = key.rpartition(".")
            if head == "conv_stem":
                renamed[f"stem.conv.{leaf}"] = value
            elif head == "bn1":
                renamed[f"stem.bn.{leaf}"] = value
            elif key.startswith("blocks."):
                _, stage, block, part = head.split(".")
                index = block_index.setdefault(f"{stage}.{block}", len(block_index))
                if index < len(block_names) and part in parts:
                    renamed[f"layers.{block_names[index]}.{parts[part]}.{leaf}"] = value
            # classifier / conv_head belong to timm's head, not to the backbone
        return renamed

    def fuse_bn(self) -> "MobileNetV1":
        """Fold every BatchNorm into its convolution (torch's fuse_conv_bn_eval), in place, for inference.

        Same outputs in eval mode (to float rounding), one kernel fewer per layer: what an exported model runs.
        Only for inference: the fused model has no BatchNorm left to train."""
        from torch.nn.utils.fusion import fuse_conv_bn_eval
        if self.training:
            raise RuntimeError("fuse_bn() folds BatchNorm's running statistics: call model.eval() first")
        for module in self.modules():
            if isinstance(module, ConvBNAct) and isinstance(module.bn, nn.BatchNorm2d):
                module.conv = fuse_conv_bn_eval(module.conv, module.bn)
                module.bn = nn.Identity()
        return self

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return run_blocks(self.stem, self.layers, images, self._taps, self._last)

    def truncated(self, taps) -> nn.Module:
        """The stem and the blocks up to the deepest of `taps` (shared), returning those taps: deeper blocks are
        not computed, so they stay free for a box head (`blocks_after`)."""
        names = [f.name for f in self.taps_in_order(taps)]
        blocks = [name for name, _ in self.layers.named_children()]
        return TruncatedMobileNet(self.stem, self.layers[: blocks.index(names[-1]) + 1], names)

    def blocks_after(self, tap) -> nn.Sequential:
        """The blocks after `tap` (after layer11: layer12, layer13), shared, not copied."""
        name = self.tap(tap).name
        blocks = [n for n, _ in self.layers.named_children()]
        tail = self.layers[blocks.index(name) + 1:]
        if len(tail) == 0:
            raise ValueError(f"model.detector.box_head=layers: the backbone has no layers after tap '{name}'; "
                             f"read an earlier tap (model.detector.feature_tap) or set model.detector.box_head=mlp")
        return tail

    @property
    def width_multiplier(self) -> float:
        return float(self.width_mult)

    @classmethod
    def config_name(cls, config) -> str:
        """mobilenet_v1[_full][_shallow]_<alpha>."""
        name = "mobilenet_v1"
        if config.get("conv_type", "separable") != "separable":
            name += f"_{config['conv_type']}"
        if config.get("shallow"):
            name += "_shallow"
        return f"{name}_{float(config.get('width_mult', 1.0)):g}"


def run_blocks(stem: nn.Module, layers: nn.Sequential, images: torch.Tensor, taps: set[str] | list[str],
               last: str) -> OrderedDict[str, torch.Tensor]:
    """The stem, then the blocks in order up to `last`, keeping the outputs of `taps`."""
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    x = stem(images)
    for name, layer in layers.named_children():
        x = layer(x)
        if name in taps:
            out[name] = x
            if name == last:  # nothing deeper is asked for
                break
    return out


class TruncatedMobileNet(nn.Module):
    """MobileNetV1 up to some taps (MobileNetV1.truncated): the shared stem and blocks, returning those taps."""

    def __init__(self, stem: nn.Module, layers: nn.Sequential, names: list[str]):
        super().__init__()
        self.stem, self.layers, self.names = stem, layers, names

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return run_blocks(self.stem, self.layers, images, self.names, self.names[-1])
