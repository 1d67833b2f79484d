"""The one interface between backbones and tasks.

A backbone maps images to an ordered dict of feature maps ("taps"). Tasks never look inside a backbone: they read
`feature_info` (name, channels, stride of every tap, shallow to deep), pick taps by name or position, and ask the
backbone itself for the network up to some taps (`truncated`) and for the blocks after a tap (`blocks_after`). A
backbone names itself for tables (`config_name`) and says its width multiplier (`width_multiplier`).
"""
from __future__ import annotations

from dataclasses import dataclass
import logging
from typing import Any, Mapping, OrderedDict, Sequence

import torch
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeatureInfo:
    name: str
    channels: int
    stride: int


class Backbone(nn.Module):
    """Base class: subclasses fill `feature_info` and return `{tap name: tensor}` from `forward`, in that order."""

    feature_info: list[FeatureInfo]

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def num_features(self) -> int:
        """Channels of the deepest tap: the input size of a classifier on globally pooled features."""
        return self.feature_info[-1].channels

    def tap(self, key: str | int) -> FeatureInfo:
        """Look a tap up by name or by position (negative counts from the deepest)."""
        if isinstance(key, int):
            try:
                return self.feature_info[key]
            except IndexError:
                raise KeyError(f"tap index {key} out of range: this backbone has {len(self.feature_info)} taps "
                               f"{[f.name for f in self.feature_info]}") from None
        for info in self.feature_info:
            if info.name == key:
                return info
        raise KeyError(f"unknown tap '{key}': this backbone's taps are {[f.name for f in self.feature_info]}")

    def taps_in_order(self, keys: Sequence[str | int]) -> list[FeatureInfo]:
        """The taps named (or indexed) by `keys`, each once, shallow to deep."""
        order = [f.name for f in self.feature_info]
        infos = {info.name: info for info in (self.tap(k) for k in keys)}
        return sorted(infos.values(), key=lambda f: order.index(f.name))

    def truncated(self, taps: Sequence[str | int]) -> nn.Module:
        """The network up to the deepest of `taps`, returning exactly those taps (OrderedDict, shallow to deep); it
        shares this backbone's modules. This generic version runs the whole backbone and picks the taps; backbones
        that can stop early override it (MobileNetV1), so deeper blocks are neither computed nor left without
        gradient."""
        return TapPicker(self, [f.name for f in self.taps_in_order(taps)])

    def blocks_after(self, tap: str | int) -> nn.Module:
        """The backbone's blocks after `tap`, shared, not copied: a feature map at that tap in, the deepest map out
        (Faster R-CNN's box head runs them on RoI crops). Backbones made of sequential blocks override it; others
        cannot split and raise ValueError."""
        raise ValueError(f"{type(self).__name__} cannot hand out its blocks after tap '{self.tap(tap).name}' (only "
                         f"backbones made of sequential blocks, as MobileNetV1, can): set model.detector.box_head=mlp")

    @property
    def width_multiplier(self) -> float:
        """The paper's alpha for backbones that have one, else 1.0 (detectors scale their extra layers by it)."""
        return 1.0

    @classmethod
    def config_name(cls, config: Mapping[str, Any]) -> str:
        """A readable id of the backbone a config describes, for tables (e.g. mobilenet_v1_0.25, resnet50); works
        from the config alone, so a run that failed to build its backbone is still named."""
        return str(config.get("model_name") or cls.__name__)


class TapPicker(nn.Module):
    """Any backbone run whole, its output narrowed to `names` (Backbone.truncated's generic version)."""

    def __init__(self, backbone: Backbone, names: list[str]):
        super().__init__()
        self.backbone, self.names = backbone, names
        order = [f.name for f in backbone.feature_info]
        deeper = order[order.index(names[-1]) + 1:]
        if deeper:
            log.warning("the task reads backbone taps %s, but the backbone also computes %s, which are unused "
                        "(wasted compute, and parameters without gradient: DDP needs find_unused_parameters). "
                        "Configure the backbone to stop at %s (timm: backbone.out_indices).", names, deeper,
                        names[-1])

    def forward(self, images: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        features = self.backbone(images)
        return OrderedDict((name, features[name]) for name in self.names)
